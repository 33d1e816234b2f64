//! Merging what the map sources say into one time-versioned map.
//!
//! Sources say two kinds of things:
//! - about a **task** ([`TaskFact`]: `describe-tasks`, ECS task state change events): its
//!   ARN, service or family, cluster, its ENI or the ENI's attachment id, addresses, and
//!   when it was created and stopped. Every snapshot and event of one task is merged
//!   into one task by ARN: RUNNING, later STOPPED, is one task that stopped.
//! - about an **ENI** ([`EniFact`]: `describe-network-interfaces`, CloudTrail, Config):
//!   its kind, load balancer, addresses, security groups, subnet and VPC, and when it was
//!   created and deleted. `describe-network-interfaces` is undated: it says nothing of
//!   when the ENI existed.
//!
//! A canonical CSV row is taken as written.
//!
//! Each ENI then gives rows: a task ENI one window per task (from the task's creation,
//! or the ENI's if earlier, to its stop, or the ENI's deletion if later), with the ENI's
//! security groups; a task ENI no source names the task of keeps kind `task` with no
//! ARN, for the ENI's window; any other ENI its kind for its window. An ENI known only
//! from an undated snapshot holds its addresses without bounds, except where a dated
//! window of another ENI holds the same address: the undated fact yields to it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::FxHashMap;

use super::{MapRow, PeerKind};

/// Which kind of source said something.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    #[default]
    Csv,
    DescribeTasks,
    Events,
    CloudTrail,
    Config,
    DescribeEnis,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Csv => "csv",
            SourceKind::DescribeTasks => "describe-tasks",
            SourceKind::Events => "events",
            SourceKind::CloudTrail => "cloudtrail",
            SourceKind::Config => "config",
            SourceKind::DescribeEnis => "describe-network-interfaces",
        }
    }
}

/// What one source says about one task.
#[derive(Clone, Debug, Default)]
pub struct TaskFact {
    pub task_arn: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task_family: Option<String>,
    pub eni_id: Option<String>,
    /// The ENI attachment's id (`attachments[].id`), which a task ENI's description names.
    pub attachment_id: Option<String>,
    pub addrs: Vec<[u8; 16]>,
    pub subnet_id: Option<String>,
    /// `createdAt`, else `startedAt`.
    pub from: Option<i64>,
    /// `stoppedAt`.
    pub to: Option<i64>,
    pub source: SourceKind,
    pub origin: String,
}

/// What one source says about one ENI.
#[derive(Clone, Debug, Default)]
pub struct EniFact {
    pub eni_id: String,
    pub kind: Option<PeerKind>,
    pub load_balancer: Option<String>,
    pub attachment_id: Option<String>,
    pub addrs: Vec<[u8; 16]>,
    pub security_groups: Option<Vec<String>>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    /// When the ENI was created and deleted, where the source says.
    pub created: Option<i64>,
    pub deleted: Option<i64>,
    /// Whether `created` is a Config capture time (which may lag the creation).
    pub created_lags: bool,
    /// Whether `deleted` is a Config capture time (which may lag the deletion).
    pub deleted_lags: bool,
    /// Whether it was attached to an EC2 instance (CloudTrail `AttachNetworkInterface`).
    pub on_instance: bool,
    pub source: SourceKind,
    pub origin: String,
}

fn fill<T>(mine: &mut Option<T>, theirs: Option<T>) {
    if mine.is_none() {
        *mine = theirs;
    }
}

impl TaskFact {
    /// Takes in what another fact says of the same task: the earliest start, the
    /// latest stop, every address, and what this one leaves out.
    pub fn absorb(&mut self, f: TaskFact) {
        fill(&mut self.cluster, f.cluster);
        fill(&mut self.service, f.service);
        fill(&mut self.task_family, f.task_family);
        fill(&mut self.eni_id, f.eni_id);
        fill(&mut self.attachment_id, f.attachment_id);
        fill(&mut self.subnet_id, f.subnet_id);
        add_addrs(&mut self.addrs, &f.addrs);
        self.from = min_opt(self.from, f.from);
        self.to = max_opt(self.to, f.to);
    }
}

impl EniFact {
    /// Takes in what another fact of the same source kind says of the same ENI (a
    /// CloudTrail creation and deletion, Config's items).
    pub fn absorb(&mut self, f: EniFact) {
        if self.kind == Some(PeerKind::Other) {
            self.kind = None;
        }
        fill(&mut self.kind, f.kind);
        fill(&mut self.load_balancer, f.load_balancer);
        fill(&mut self.attachment_id, f.attachment_id);
        fill(&mut self.security_groups, f.security_groups);
        fill(&mut self.subnet_id, f.subnet_id);
        fill(&mut self.vpc_id, f.vpc_id);
        add_addrs(&mut self.addrs, &f.addrs);
        if f.created.is_some() && (self.created.is_none() || f.created < self.created) {
            self.created = f.created;
            self.created_lags = f.created_lags;
        }
        // The earliest report of a deletion is the closest to it (Config's lag).
        if f.deleted.is_some() && (self.deleted.is_none() || f.deleted < self.deleted) {
            self.deleted = f.deleted;
            self.deleted_lags = f.deleted_lags;
        }
        self.on_instance |= f.on_instance;
        if self.origin.is_empty() {
            self.origin = f.origin;
        }
    }
}

/// Everything the map files say, before merging.
#[derive(Debug, Default)]
pub struct Facts {
    pub rows: Vec<MapRow>,
    pub tasks: Vec<TaskFact>,
    pub enis: Vec<EniFact>,
    /// Tasks with no ENI attachment (bridge or host network mode), by ARN.
    pub tasks_without_eni: BTreeSet<String>,
    /// `describe-tasks` failures: (ARN, reason, where).
    pub failures: Vec<(String, String, String)>,
}

impl Facts {
    pub fn extend(&mut self, o: Facts) {
        self.rows.extend(o.rows);
        self.tasks.extend(o.tasks);
        self.enis.extend(o.enis);
        self.tasks_without_eni.extend(o.tasks_without_eni);
        self.failures.extend(o.failures);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.tasks.is_empty() && self.enis.is_empty()
    }
}

impl From<Vec<MapRow>> for Facts {
    fn from(rows: Vec<MapRow>) -> Facts {
        Facts {
            rows,
            ..Facts::default()
        }
    }
}

/// One task after merging all that was said of it.
#[derive(Debug, Default)]
struct Task {
    fact: TaskFact,
    sources: BTreeSet<SourceKind>,
}

/// One ENI after merging all that was said of it.
#[derive(Debug, Default)]
struct Life {
    fact: Option<EniFact>,
    groups_from: SourceKind,
    sources: BTreeSet<SourceKind>,
}

fn add_addrs(to: &mut Vec<[u8; 16]>, from: &[[u8; 16]]) {
    for a in from {
        if !to.contains(a) {
            to.push(*a);
        }
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Warnings of one kind, said once with a count and the first few examples.
#[derive(Default)]
struct Said {
    items: Vec<String>,
}

impl Said {
    fn say(&self, out: &mut Vec<String>, what: &str) {
        if self.items.is_empty() {
            return;
        }
        let n = self.items.len();
        let mut items: Vec<&str> = self.items.iter().map(String::as_str).collect();
        items.sort_unstable();
        let few = &items[..n.min(3)];
        let more = if n > 3 {
            format!(" and {} more", n - 3)
        } else {
            String::new()
        };
        out.push(format!("{what}: {}{more}", few.join("; ")));
    }
}

/// The merged rows, and what did not fit together, in words.
pub fn merge(facts: Facts) -> (Vec<MapRow>, Vec<String>) {
    let mut warnings = Vec::new();
    let tasks = merge_tasks(facts.tasks, &mut warnings);
    let lives = merge_enis(facts.enis, &mut warnings);
    let tasks_of = tasks_by_eni(&tasks, &lives, &mut warnings);
    warn_tasks_left_out(
        &tasks,
        &facts.tasks_without_eni,
        &facts.failures,
        &mut warnings,
    );

    let mut made = Rows::default();
    let mut csv_by_eni: BTreeMap<String, Vec<MapRow>> = BTreeMap::new();
    for r in facts.rows {
        csv_by_eni.entry(r.eni_id.clone()).or_default().push(r);
    }
    let mut enis: BTreeSet<String> = lives.keys().cloned().collect();
    enis.extend(tasks_of.keys().cloned());
    enis.extend(csv_by_eni.keys().cloned());
    let no_life = EniFact::default();
    let no_sources = BTreeSet::new();
    for id in enis {
        let (life, sources) = match lives.get(&id) {
            Some(l) => (l.fact.as_ref().unwrap_or(&no_life), &l.sources),
            None => (&no_life, &no_sources),
        };
        let eni = Eni {
            id: &id,
            life,
            sources,
        };
        let csv = csv_by_eni.remove(&id).unwrap_or_default();
        let tasks = tasks_of.get(&id).map_or(&[][..], Vec::as_slice);
        made.eni(&eni, csv, tasks);
    }
    let Rows {
        mut rows,
        undated,
        lagging_ends,
    } = made;
    yield_undated(&mut rows, &undated);
    clip_lagging_ends(&mut rows, &lagging_ends);
    drop_inverted(&mut rows, &mut warnings);
    warn_lagging_starts(&lives, &mut warnings);
    // The same row from two files (a CSV and the describe-tasks it was made from).
    let mut rows = super::sorted_rows(rows, |a, b| row_key(a).cmp(&row_key(b)));
    rows.dedup_by(|a, b| row_key(a) == row_key(b));
    fill_vpcs(&mut rows);
    (rows, warnings)
}

/// Every snapshot and event of one task merged into one task, by ARN; a task named
/// with two ENIs is warned of (the first is used).
fn merge_tasks(facts: Vec<TaskFact>, warnings: &mut Vec<String>) -> FxHashMap<String, Task> {
    // Hash maps: a B-tree would move each task's many fields at every insertion.
    let mut tasks: FxHashMap<String, Task> = FxHashMap::default();
    let mut conflicts = Said::default();
    for f in facts {
        let t = tasks.entry(f.task_arn.clone()).or_default();
        t.sources.insert(f.source);
        if t.fact.task_arn.is_empty() {
            t.fact = f;
            continue;
        }
        let m = &mut t.fact;
        if let (Some(a), Some(b)) = (&m.eni_id, &f.eni_id) {
            if a != b {
                conflicts.items.push(format!(
                    "{} has ENI {a} at {} and {b} at {}",
                    m.task_arn, m.origin, f.origin
                ));
            }
        }
        m.absorb(f);
    }
    conflicts.say(warnings, "tasks named with two ENIs (the first is used)");
    tasks
}

/// What every source says of one ENI merged into one life, by id; an ENI said to be of
/// two kinds is warned of (the first is used).
fn merge_enis(facts: Vec<EniFact>, warnings: &mut Vec<String>) -> FxHashMap<String, Life> {
    let mut lives: FxHashMap<String, Life> = FxHashMap::default();
    let mut kind_conflicts = Said::default();
    for f in facts {
        let l = lives.entry(f.eni_id.clone()).or_default();
        l.sources.insert(f.source);
        let Some(m) = &mut l.fact else {
            l.groups_from = f.source;
            l.fact = Some(f);
            continue;
        };
        // `other` is what a source says when it cannot tell (an ENI created before its
        // attachment): any other kind is more precise, not a conflict.
        if m.kind == Some(PeerKind::Other) && f.kind.is_some() {
            m.kind = None;
        }
        if let (Some(a), Some(b)) = (m.kind, f.kind) {
            if a != b && b != PeerKind::Other {
                kind_conflicts.items.push(format!(
                    "{} is {a} at {} and {b} at {}",
                    f.eni_id, m.origin, f.origin
                ));
            }
        }
        // Security groups: the snapshot's, else CloudTrail's, else Config's.
        let rank = |s: SourceKind| match s {
            SourceKind::DescribeEnis => 0,
            SourceKind::CloudTrail => 1,
            _ => 2,
        };
        let better = f.security_groups.is_some()
            && (m.security_groups.is_none() || rank(f.source) < rank(l.groups_from));
        let groups = if better {
            l.groups_from = f.source;
            f.security_groups.clone()
        } else {
            None
        };
        m.absorb(f);
        if groups.is_some() {
            m.security_groups = groups;
        }
    }
    kind_conflicts.say(warnings, "ENIs of two kinds (the first is used)");
    lives
}

/// The tasks of each ENI, directly or through the attachment id of a task ENI; the
/// tasks of no ENI are counted in a warning.
fn tasks_by_eni<'t>(
    tasks: &'t FxHashMap<String, Task>,
    lives: &FxHashMap<String, Life>,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Vec<&'t Task>> {
    // Two ENIs naming one attachment (which AWS never does): the first by id wins.
    let mut by_attachment: HashMap<&str, &str> = HashMap::new();
    let mut ids: Vec<&String> = lives.keys().collect();
    ids.sort_unstable();
    for id in ids {
        if let Some(a) = lives[id]
            .fact
            .as_ref()
            .and_then(|f| f.attachment_id.as_deref())
        {
            by_attachment.entry(a).or_insert(id.as_str());
        }
    }
    let mut tasks_of: BTreeMap<String, Vec<&Task>> = BTreeMap::new();
    let mut unplaced = 0usize;
    for t in tasks.values() {
        let eni = t.fact.eni_id.as_deref().or_else(|| {
            t.fact
                .attachment_id
                .as_deref()
                .and_then(|a| by_attachment.get(a).copied())
        });
        match eni {
            Some(e) => tasks_of.entry(e.to_string()).or_default().push(t),
            None => unplaced += 1,
        }
    }
    if unplaced > 0 {
        warnings.push(format!(
            "{unplaced} task{} never had an ENI id in any source (still provisioning, or \
             stopped before its ENI was attached): not in the map",
            if unplaced == 1 { "" } else { "s" }
        ));
    }
    tasks_of
}

/// Tasks the map cannot hold: bridge and host-mode tasks (no ENI of their own), and
/// `describe-tasks` failures for tasks no other source names.
fn warn_tasks_left_out(
    tasks: &FxHashMap<String, Task>,
    tasks_without_eni: &BTreeSet<String>,
    failures: &[(String, String, String)],
    warnings: &mut Vec<String>,
) {
    let with_eni: BTreeSet<&str> = tasks.keys().map(String::as_str).collect();
    let bridge = tasks_without_eni
        .iter()
        .filter(|a| !with_eni.contains(a.as_str()))
        .count();
    if bridge > 0 {
        warnings.push(format!(
            "{bridge} bridge/host-mode task{}: {} traffic is on the instance's ENI",
            if bridge == 1 { "" } else { "s" },
            if bridge == 1 { "its" } else { "their" }
        ));
    }
    // A failure for a task that another source names is no loss; one per task.
    let mut failed: BTreeSet<&str> = BTreeSet::new();
    for (arn, reason, at) in failures
        .iter()
        .filter(|f| !tasks.contains_key(&f.0) && failed.insert(f.0.as_str()))
    {
        warnings.push(format!(
            "{at}: describe-tasks failed for {arn}: {reason}{}",
            if reason == "MISSING" {
                " (ECS forgets a task about an hour after it stops; ECS task state change \
                 events and CloudTrail name it for longer)"
            } else {
                ""
            }
        ));
    }
}

/// The rows being made, and which of them later steps adjust.
#[derive(Default)]
struct Rows {
    rows: Vec<MapRow>,
    /// Rows of ENIs known only from an undated snapshot ([`yield_undated`]).
    undated: Vec<usize>,
    /// Rows that end at a Config capture time ([`clip_lagging_ends`]).
    lagging_ends: Vec<usize>,
}

/// One ENI while its rows are made: what its own facts say, and which sources said it.
struct Eni<'a> {
    id: &'a str,
    life: &'a EniFact,
    sources: &'a BTreeSet<SourceKind>,
}

impl Eni<'_> {
    /// The kinds of source that said the ENI, with `extra`, as a row's `source`.
    fn sources(&self, extra: &BTreeSet<SourceKind>) -> String {
        let all: BTreeSet<&str> = self
            .sources
            .iter()
            .chain(extra)
            .map(|s| s.as_str())
            .collect();
        all.into_iter().collect::<Vec<_>>().join(";")
    }

    /// A row of the ENI with what its own facts say, of no task, without bounds.
    fn row(&self, kind: PeerKind, origin: &str) -> MapRow {
        let life = self.life;
        MapRow {
            eni_id: self.id.to_string(),
            kind,
            private_ip: [0; 16],
            task_arn: None,
            cluster: None,
            service: None,
            task_family: None,
            security_groups: life.security_groups.clone().unwrap_or_default(),
            subnet_id: life.subnet_id.clone(),
            vpc_id: life.vpc_id.clone(),
            valid_from: None,
            valid_to: None,
            load_balancer: life.load_balancer.clone(),
            source: String::new(),
            origin: origin.to_string(),
        }
    }

    /// A CSV row as written, the ENI's own facts filling what it leaves out.
    fn filled(&self, mut r: MapRow) -> MapRow {
        let life = self.life;
        if r.security_groups.is_empty() {
            r.security_groups = life.security_groups.clone().unwrap_or_default();
        }
        r.subnet_id = r.subnet_id.or_else(|| life.subnet_id.clone());
        r.vpc_id = r.vpc_id.or_else(|| life.vpc_id.clone());
        r.load_balancer = r.load_balancer.or_else(|| life.load_balancer.clone());
        if r.source.is_empty() {
            r.source = self.sources(&BTreeSet::from([SourceKind::Csv]));
        }
        r
    }
}

impl Rows {
    /// The rows of one ENI: its CSV rows, then a window per task of it, else its own
    /// addresses for its own window.
    fn eni(&mut self, eni: &Eni, csv: Vec<MapRow>, tasks: &[&Task]) {
        // CSV rows, as written; the ENI's own facts fill what they leave out. A row of
        // a task that a dated source also names (a map saved yesterday, today's events
        // with the task's stop) gives way to the task's merged window, keeping its
        // addresses.
        let arns: Vec<&str> = tasks.iter().map(|t| t.fact.task_arn.as_str()).collect();
        let (csv, superseded): (Vec<MapRow>, Vec<MapRow>) = csv.into_iter().partition(|r| {
            tasks.is_empty() || r.task_arn.as_deref().is_some_and(|a| !arns.contains(&a))
        });
        let latest_csv = csv.iter().max_by_key(|r| r.valid_from).cloned();
        let csv_addrs: Vec<[u8; 16]> = csv.iter().map(|r| r.private_ip).collect();
        for r in csv {
            self.rows.push(eni.filled(r));
        }
        if tasks.is_empty() {
            self.own_addresses(eni, latest_csv.as_ref(), &csv_addrs);
        } else {
            self.tasks(eni, tasks, &superseded, &csv_addrs);
        }
    }

    /// One window per task of a task ENI, for every address of the task, of the ENI and
    /// of the CSV rows it supersedes, but those the CSV gives as written.
    fn tasks(&mut self, eni: &Eni, tasks: &[&Task], superseded: &[MapRow], csv_addrs: &[[u8; 16]]) {
        let life = eni.life;
        let mut tasks: Vec<&&Task> = tasks.iter().collect();
        tasks.sort_by(|a, b| (a.fact.from, &a.fact.task_arn).cmp(&(b.fact.from, &b.fact.task_arn)));
        let n = tasks.len();
        for (i, t) in tasks.into_iter().enumerate() {
            let f = &t.fact;
            let mut from = f.from;
            let mut to = f.to;
            if i == 0 {
                from = min_opt(from, life.created);
            }
            // The ENI's deletion ends the last task's window if later, unless only
            // Config's capture time (which may lag by hours) says when.
            if i + 1 == n && (to.is_none() || (life.deleted > to && !life.deleted_lags)) {
                to = life.deleted.or(to);
            }
            let mut addrs = f.addrs.clone();
            add_addrs(&mut addrs, &life.addrs);
            for r in superseded.iter().filter(|r| {
                r.task_arn.is_none() || r.task_arn.as_deref() == Some(f.task_arn.as_str())
            }) {
                add_addrs(&mut addrs, &[r.private_ip]);
            }
            for a in addrs {
                if csv_addrs.contains(&a) {
                    continue;
                }
                let mut r = eni.row(PeerKind::Task, &f.origin);
                r.private_ip = a;
                r.task_arn = Some(f.task_arn.clone());
                r.cluster = f.cluster.clone();
                r.service = f.service.clone();
                r.task_family = f.task_family.clone();
                r.subnet_id = r.subnet_id.or_else(|| f.subnet_id.clone());
                r.valid_from = from;
                r.valid_to = to;
                r.source = eni.sources(&t.sources);
                if life.deleted_lags && to == life.deleted {
                    self.lagging_ends.push(self.rows.len());
                }
                self.rows.push(r);
            }
        }
    }

    /// An ENI of no task: its own addresses that no CSV row gives, with its latest CSV
    /// row (of the CSV's kind), else of its own kind for its own window.
    fn own_addresses(&mut self, eni: &Eni, latest_csv: Option<&MapRow>, csv_addrs: &[[u8; 16]]) {
        let life = eni.life;
        let dated = life.created.is_some() || life.deleted.is_some();
        let kind = match life.kind {
            None | Some(PeerKind::Other) if life.on_instance => PeerKind::Instance,
            k => k.unwrap_or(PeerKind::Other),
        };
        for &a in &life.addrs {
            if csv_addrs.contains(&a) {
                continue;
            }
            let mut r = match latest_csv {
                Some(c) => {
                    let mut r = c.clone();
                    r.origin = life.origin.clone();
                    r
                }
                None => {
                    let mut r = eni.row(kind, &life.origin);
                    r.valid_from = life.created;
                    r.valid_to = life.deleted;
                    r
                }
            };
            r.private_ip = a;
            r.source = eni.sources(&BTreeSet::new());
            if latest_csv.is_none() && !dated {
                self.undated.push(self.rows.len());
            }
            if latest_csv.is_none() && life.deleted_lags {
                self.lagging_ends.push(self.rows.len());
            }
            self.rows.push(r);
        }
    }
}

/// A window that ends before it begins: capture times that lag (AWS Config), or
/// snapshots that disagree. Said, not kept: the map could not be read back.
fn drop_inverted(rows: &mut Vec<MapRow>, warnings: &mut Vec<String>) {
    let before = rows.len();
    rows.retain(|r| !matches!((r.valid_from, r.valid_to), (Some(f), Some(t)) if f >= t));
    let inverted = before - rows.len();
    if inverted > 0 {
        warnings.push(format!(
            "{inverted} map row{} whose window ends before it begins (AWS Config's capture \
             times, or sources that disagree) left out",
            if inverted == 1 { "" } else { "s" }
        ));
    }
}

/// ENI windows that start at a Config capture time, which may lag the creation: one
/// warning with the first of them.
fn warn_lagging_starts(lives: &FxHashMap<String, Life>, warnings: &mut Vec<String>) {
    let mut lagging_enis: Vec<&str> = lives
        .iter()
        .filter(|(_, l)| l.fact.as_ref().is_some_and(|f| f.created_lags))
        .map(|(id, _)| id.as_str())
        .collect();
    lagging_enis.sort_unstable();
    let lagging = lagging_enis.len();
    if lagging > 0 {
        warnings.push(format!(
            "{lagging} ENI window{} start{} at AWS Config's capture time, which may lag the \
             ENI's creation by minutes (e.g. {}): records just before it are not attributed \
             to the ENI; CloudTrail gives the exact time",
            if lagging == 1 { "" } else { "s" },
            if lagging == 1 { "s" } else { "" },
            lagging_enis[0]
        ));
    }
}

/// A subnet lies in exactly one VPC: an ENI known only from task facts takes its VPC
/// from another ENI of the same subnet.
fn fill_vpcs(rows: &mut [MapRow]) {
    let vpc_of_subnet: HashMap<String, String> = rows
        .iter()
        .filter_map(|r| Some((r.subnet_id.clone()?, r.vpc_id.clone()?)))
        .collect();
    for r in rows.iter_mut().filter(|r| r.vpc_id.is_none()) {
        r.vpc_id = r
            .subnet_id
            .as_ref()
            .and_then(|s| vpc_of_subnet.get(s).cloned());
    }
}

/// An undated row (an ENI known only from a snapshot that says nothing of when it was
/// taken) yields to the dated windows of other ENIs on its address: it holds the
/// address after the last of them that ended, and before the first that has not.
fn yield_undated(rows: &mut [MapRow], undated: &[usize]) {
    if undated.is_empty() {
        return;
    }
    /// An ENI's window on an address.
    type Held = (String, Option<i64>, Option<i64>);
    let mut dated: HashMap<[u8; 16], Vec<Held>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if undated.binary_search(&i).is_err() {
            dated.entry(r.private_ip).or_default().push((
                r.eni_id.clone(),
                r.valid_from,
                r.valid_to,
            ));
        }
    }
    for &i in undated {
        let r = &rows[i];
        let Some(others) = dated.get(&r.private_ip) else {
            continue;
        };
        let others: Vec<_> = others.iter().filter(|o| o.0 != r.eni_id).collect();
        let after = others.iter().filter_map(|o| o.2).max();
        let before = others
            .iter()
            .filter(|o| o.2.is_none())
            .filter_map(|o| o.1)
            .filter(|f| after.is_none_or(|a| *f >= a))
            .min();
        let r = &mut rows[i];
        r.valid_from = after;
        r.valid_to = before;
    }
}

/// A window that ends at Config's capture of the ENI's deletion, which may lag it by
/// minutes, ends where another ENI's window on the same address starts inside it: that
/// address was free by then.
fn clip_lagging_ends(rows: &mut [MapRow], lagging: &[usize]) {
    if lagging.is_empty() {
        return;
    }
    let mut starts: HashMap<[u8; 16], Vec<(String, i64)>> = HashMap::new();
    for r in rows.iter() {
        if let Some(f) = r.valid_from {
            starts
                .entry(r.private_ip)
                .or_default()
                .push((r.eni_id.clone(), f));
        }
    }
    for &i in lagging {
        let r = &rows[i];
        let (Some(from), Some(to)) = (r.valid_from.or(Some(i64::MIN)), r.valid_to) else {
            continue;
        };
        let next = starts.get(&r.private_ip).and_then(|v| {
            v.iter()
                .filter(|(e, f)| *e != r.eni_id && from < *f && *f < to)
                .map(|(_, f)| *f)
                .min()
        });
        if let Some(n) = next {
            rows[i].valid_to = Some(n);
        }
    }
}

/// Everything of a row but where it came from.
#[allow(clippy::type_complexity)]
fn row_key(
    r: &MapRow,
) -> (
    &str,
    [u8; 16],
    Option<i64>,
    Option<i64>,
    PeerKind,
    &Option<String>,
    &Option<String>,
    &Option<String>,
    &Option<String>,
    &[String],
) {
    (
        &r.eni_id,
        r.private_ip,
        r.valid_from,
        r.valid_to,
        r.kind,
        &r.task_arn,
        &r.service,
        &r.cluster,
        &r.task_family,
        &r.security_groups,
    )
}
