//! Who held an address when: the ENI map and its time-aware index.
//!
//! Fargate tasks come and go with every deploy and their private addresses are reused
//! within minutes, so attribution by address alone, or by today's state, blames the
//! wrong task. Every address here is held for a window `[valid_from, valid_to)`, and
//! every lookup is "who held this address at this second".
//!
//! Map files (`--map`, repeatable) are facts from different sources ([`load`] reads
//! them, one file per kind of source: [`load::csv`] for the canonical CSV,
//! [`load::events`] for ECS tasks, [`load::ec2`] for `describe-network-interfaces`,
//! [`load::cloudtrail`], [`load::config`]), merged by [`merge`]: one
//! window per task from the sources that name it, ENI lifetimes from those that saw the
//! ENI made and deleted, and the canonical CSV taken as written. What an ENI is comes
//! from one vocabulary, [`kind`]; what a map covers of some logs, from [`coverage`].
//!
//! The index answers `(address, time) -> holder` with one hash lookup and a binary
//! search over that address's windows; [`join`] applies it to whole Arrow batches.
//! [`mod@write`] writes the merged map back as the canonical CSV or an Arrow batch.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use rustc_hash::FxHashMap;

use crate::intern::Strings;
use crate::net::Cidr;

pub mod coverage;
pub mod join;
pub mod kind;
pub mod load;
pub mod merge;
pub mod orient;
pub mod place;
pub mod write;

pub use join::{EnrichStats, Enricher};
pub use kind::{PeerClass, PeerKind};
pub use load::{load_map_file, Loaded, MapError};
pub use merge::{EniFact, Facts, SourceKind, TaskFact};
pub use write::{map_batch, write_map_csv};

/// One row of the canonical map: one address of one ENI for one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRow {
    pub eni_id: String,
    pub kind: PeerKind,
    pub private_ip: [u8; 16],
    pub task_arn: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task_family: Option<String>,
    pub security_groups: Vec<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    /// Unix seconds; `None` is unbounded.
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    /// The load balancer of a load balancer's ENI (`app/web-alb`).
    pub load_balancer: Option<String>,
    /// The kinds of source that said it (`events;cloudtrail`), as the CSV's `source`.
    pub source: String,
    /// Where the row came from (`map.csv:3`, `tasks.json: $.tasks[2]`), for messages.
    pub origin: String,
}

impl MapRow {
    /// Whether the row's window contains `t`.
    pub fn holds_at(&self, t: i64) -> bool {
        self.valid_from.is_none_or(|f| f <= t) && self.valid_to.is_none_or(|e| t < e)
    }
}

/// What makes two rows of one ENI the same holder: ENI, kind, task, service, cluster
/// and security groups.
type Identity<'a> = (
    &'a str,
    PeerKind,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a [String],
    Option<&'a str>,
);

/// The merged ENI map and its index.
#[derive(Debug)]
pub struct EniMap {
    rows: Vec<MapRow>,
    holders: Vec<Holder>,
    by_eni: FxHashMap<String, EniEntry>,
    by_addr: FxHashMap<[u8; 16], Vec<Window>>,
    /// Every distinct string the join can output, shared by all batches.
    strings: Arc<StringArray>,
    warnings: Vec<String>,
}

/// One owner of an ENI: what the ENI belonged to over the windows of one or more map
/// rows. An ENI normally has one; rows that disagree about it (a map assembled from
/// several sources) give it several, each used for the windows of its own rows.
#[derive(Debug, Clone)]
pub struct Holder {
    pub eni_id: String,
    pub kind: PeerKind,
    pub task_arn: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub task_family: Option<String>,
    pub security_groups: Vec<String>,
    /// The load balancer it is an ENI of (`app/web-alb`).
    pub load_balancer: Option<String>,
    /// Where its first row came from, for messages.
    pub origin: String,
    pub(crate) keys: HolderKeys,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HolderKeys {
    pub eni: i32,
    pub kind: i32,
    pub task: Option<i32>,
    pub service: Option<i32>,
    pub cluster: Option<i32>,
    pub lb: Option<i32>,
}

/// Everything the map says about one ENI id.
#[derive(Debug, Default)]
struct EniEntry {
    /// The windows of its rows, by start; `holder` may differ between them.
    windows: Vec<Window>,
    /// Every address any row gives it: the ENI's own addresses.
    addrs: Vec<[u8; 16]>,
    /// Whether all its rows name one holder.
    single: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    from: i64,
    to: i64,
    holder: u32,
    row: u32,
}

/// What a record's own ENI id resolves to, before its time is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EniRef<'a> {
    /// The one holder whatever the time, when all its rows name one.
    single: Option<u32>,
    /// Its windows, by start.
    windows: &'a [Window],
}

impl EniRef<'_> {
    /// The holder at `t`: the row window that contains it (the latest-starting one if
    /// windows overlap), else the nearest one before it, else the first. An ENI id is
    /// never reused, so a record outside every window is still the ENI's.
    pub(crate) fn at(&self, t: Option<i64>) -> u32 {
        if let Some(h) = self.single {
            return h;
        }
        let w = self.windows;
        let Some(t) = t else {
            return w[w.len() - 1].holder;
        };
        let after = w.partition_point(|x| x.from <= t);
        w[..after]
            .iter()
            .rev()
            .find(|x| t < x.to)
            .or(w[..after].last())
            .unwrap_or(&w[0])
            .holder
    }

    /// Whether a window of the ENI holds `t` (a record without a time: yes).
    pub(crate) fn within(&self, t: Option<i64>) -> bool {
        t.is_none_or(|t| self.windows.iter().any(|w| w.from <= t && t < w.to))
    }
}

/// One warning for an address held by different ENIs at overlapping times, if it is:
/// which ENIs, and from when. `windows` are sorted by start; a sweep keeps the two
/// latest ends of different ENIs seen so far, so thousands of rows for one address
/// cost linear time and one line.
fn overlaps(addr: &[u8; 16], windows: &[Window], rows: &[MapRow]) -> Option<String> {
    let eni = |w: &Window| rows[w.row as usize].eni_id.as_str();
    // (end, window) of the latest-ending window, and of the latest-ending one of
    // another ENI than that.
    let mut best: Option<(i64, Window)> = None;
    let mut second: Option<(i64, Window)> = None;
    let mut since: Option<i64> = None;
    let mut overlapping = 0;
    let mut names: Vec<String> = Vec::new();
    for w in windows {
        let other = match (best, second) {
            (Some((_, b)), s) if eni(&b) == eni(w) => s,
            (b, _) => b,
        };
        if let Some((to, o)) = other {
            if w.from < to {
                since.get_or_insert(w.from);
                for x in [o, *w] {
                    let name = format!("{} ({})", eni(&x), rows[x.row as usize].origin);
                    if !names.contains(&name) && names.len() < 3 {
                        names.push(name);
                    }
                }
                overlapping += 1;
            }
        }
        let entry = (w.to, *w);
        match best {
            Some((to, b)) if to >= w.to => {
                if eni(&b) != eni(w) && second.is_none_or(|(t, _)| w.to > t) {
                    second = Some(entry);
                }
            }
            Some((_, b)) => {
                if eni(&b) != eni(w) {
                    second = best;
                }
                best = Some(entry);
            }
            None => best = Some(entry),
        }
    }
    let since = since?;
    let addr_text = crate::net::addr_string(addr);
    if let (1, [a, b]) = (overlapping, names.as_slice()) {
        return Some(format!(
            "{addr_text} is held by {a} and {b} at the same time from {}; the \
             later-starting holder wins",
            time_text(since)
        ));
    }
    let mut enis: Vec<&str> = windows.iter().map(eni).collect();
    enis.sort_unstable();
    enis.dedup();
    Some(format!(
        "{addr_text} is held by {} ENIs at overlapping times ({}) from {}, in {} rows that \
         overlap an earlier one; the later-starting holder wins",
        enis.len(),
        names.join(", ")
            + if enis.len() > names.len() {
                ", ..."
            } else {
                ""
            },
        time_text(since),
        overlapping,
    ))
}

/// The first three items joined, and how many more there are.
fn first_few(items: &[String], sep: &str) -> String {
    match items.len() {
        0..=3 => items.join(sep),
        n => format!("{}{sep}and {} more", items[..3].join(sep), n - 3),
    }
}

impl Default for EniMap {
    fn default() -> Self {
        EniMap::from_rows(Vec::new())
    }
}

impl EniMap {
    /// Merges facts from any number of map files (see [`merge`]).
    pub fn from_facts(facts: Facts) -> EniMap {
        let (rows, warnings) = merge::merge(facts);
        let mut map = EniMap::from_rows(rows);
        map.warnings.extend(warnings);
        map.warnings.sort();
        map
    }

    /// Builds the index over canonical rows, each attributed as written.
    pub fn from_rows(rows: Vec<MapRow>) -> EniMap {
        let rows = sorted_rows(rows, |a, b| {
            (&a.eni_id, a.valid_from, a.private_ip).cmp(&(&b.eni_id, b.valid_from, b.private_ip))
        });
        // Keys into the shared string array; Arrow dictionary keys are i32.
        let mut interned = Strings::default();
        for k in PeerKind::ALL {
            interned.id(k.as_str());
        }
        for b in orient::DirectionBy::ALL {
            interned.id(b.as_str());
        }
        let (holders, mut by_eni, mut by_addr) = index_rows(&rows, &mut interned);
        let mut warnings = settle_enis(&mut by_eni, &holders);
        for (addr, windows) in by_addr.iter_mut() {
            windows.sort_by_key(|w| (w.from, w.to, w.holder));
            if let Some(w) = overlaps(addr, windows, &rows) {
                warnings.push(w);
            }
        }
        warnings.sort();
        EniMap {
            rows,
            holders,
            by_eni,
            by_addr,
            strings: Arc::new(StringArray::from_iter_values(interned.values)),
            warnings,
        }
    }

    /// Every row, sorted by ENI, address and start of window.
    pub fn rows(&self) -> &[MapRow] {
        &self.rows
    }

    /// Problems found while merging: overlapping windows of different ENIs, rows that
    /// name different owners for one ENI.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every holder (one per distinct owner of each ENI).
    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }

    /// What the ENI `eni_id` belonged to at unix second `t`: its one owner, or, when its
    /// rows name several, the one whose window holds `t` (else the nearest before it).
    pub fn eni_at(&self, eni_id: &str, t: Option<i64>) -> Option<&Holder> {
        self.eni_ref(eni_id)
            .map(|r| &self.holders[r.at(t) as usize])
    }

    pub(crate) fn eni_ref(&self, eni_id: &str) -> Option<EniRef<'_>> {
        let e = self.by_eni.get(eni_id)?;
        Some(EniRef {
            single: e.single,
            windows: &e.windows,
        })
    }

    /// Every address the map gives the ENI `eni_id` (its own addresses); empty for an
    /// ENI it does not know.
    pub fn eni_addrs(&self, eni_id: &str) -> &[[u8; 16]] {
        self.by_eni.get(eni_id).map_or(&[], |e| e.addrs.as_slice())
    }

    /// Who held `addr` at unix second `t`: the row whose window contains `t` (the
    /// latest-starting one if windows overlap).
    pub fn holder_at(&self, addr: &[u8; 16], t: i64) -> Option<&Holder> {
        self.holder_index_at(addr, t)
            .map(|h| &self.holders[h as usize])
    }

    /// The map row in force for `addr` at `t`.
    pub fn row_at(&self, addr: &[u8; 16], t: i64) -> Option<&MapRow> {
        self.window_at(addr, t).map(|w| &self.rows[w.row as usize])
    }

    pub(crate) fn holder_index_at(&self, addr: &[u8; 16], t: i64) -> Option<u32> {
        self.window_at(addr, t).map(|w| w.holder)
    }

    fn window_at(&self, addr: &[u8; 16], t: i64) -> Option<&Window> {
        let windows = self.by_addr.get(addr)?;
        let after = windows.partition_point(|w| w.from <= t);
        windows[..after].iter().rev().find(|w| t < w.to)
    }

    pub(crate) fn holder_by_index(&self, h: u32) -> &Holder {
        &self.holders[h as usize]
    }

    pub(crate) fn strings(&self) -> &Arc<StringArray> {
        &self.strings
    }

    /// The key of a constant string (kinds, `vpc`, `internet`) in the shared strings.
    pub(crate) fn constant_key(&self, s: &str) -> i32 {
        (0..self.strings.len())
            .find(|&i| self.strings.value(i) == s)
            .expect("constants are interned first") as i32
    }

    /// Every security group of every ENI (for policy validation).
    pub fn known_security_groups(&self) -> Vec<&str> {
        sorted_unique(
            self.holders
                .iter()
                .flat_map(|h| h.security_groups.iter().map(String::as_str)),
        )
    }

    /// Every load balancer the map knows an ENI of, sorted, without repeats.
    pub fn known_load_balancers(&self) -> Vec<&str> {
        sorted_unique(
            self.holders
                .iter()
                .filter_map(|h| h.load_balancer.as_deref()),
        )
    }

    /// Every service name the map knows, sorted, without repeats.
    /// The task definition families of tasks outside any service, sorted.
    pub fn known_families(&self) -> Vec<&str> {
        sorted_unique(
            self.holders
                .iter()
                .filter(|h| h.service.is_none())
                .filter_map(|h| h.task_family.as_deref()),
        )
    }

    pub fn known_services(&self) -> Vec<&str> {
        sorted_unique(self.holders.iter().filter_map(|h| h.service.as_deref()))
    }
}

/// What the rows index: one holder per distinct owner of each ENI, the windows of each
/// ENI and those of each address (unsorted).
type Index = (
    Vec<Holder>,
    FxHashMap<String, EniEntry>,
    FxHashMap<[u8; 16], Vec<Window>>,
);

/// The holders and windows of the rows, each string a holder names interned.
fn index_rows(rows: &[MapRow], interned: &mut Strings) -> Index {
    let mut holders: Vec<Holder> = Vec::new();
    let mut holder_of: HashMap<Identity, u32> = HashMap::new();
    let mut by_eni: FxHashMap<String, EniEntry> = FxHashMap::default();
    let mut by_addr: FxHashMap<[u8; 16], Vec<Window>> = FxHashMap::default();
    for (i, row) in rows.iter().enumerate() {
        let identity = (
            row.eni_id.as_str(),
            row.kind,
            row.task_arn.as_deref(),
            row.service.as_deref(),
            row.cluster.as_deref(),
            row.security_groups.as_slice(),
            row.load_balancer.as_deref(),
        );
        let h = *holder_of.entry(identity).or_insert_with(|| {
            holders.push(Holder::of(row, interned));
            (holders.len() - 1) as u32
        });
        let window = Window {
            from: row.valid_from.unwrap_or(i64::MIN),
            to: row.valid_to.unwrap_or(i64::MAX),
            holder: h,
            row: i as u32,
        };
        let entry = by_eni.entry(row.eni_id.clone()).or_default();
        entry.windows.push(window);
        if !entry.addrs.contains(&row.private_ip) {
            entry.addrs.push(row.private_ip);
        }
        by_addr.entry(row.private_ip).or_default().push(window);
    }
    (holders, by_eni, by_addr)
}

impl Holder {
    /// The holder a row names, its strings interned.
    fn of(row: &MapRow, interned: &mut Strings) -> Holder {
        let mut key = |s: &str| interned.id(s) as i32;
        let keys = HolderKeys {
            eni: key(&row.eni_id),
            kind: key(row.kind.as_str()),
            task: row.task_arn.as_deref().map(&mut key),
            service: row.service.as_deref().map(&mut key),
            cluster: row.cluster.as_deref().map(&mut key),
            lb: row.load_balancer.as_deref().map(&mut key),
        };
        Holder {
            eni_id: row.eni_id.clone(),
            kind: row.kind,
            task_arn: row.task_arn.clone(),
            service: row.service.clone(),
            cluster: row.cluster.clone(),
            task_family: row.task_family.clone(),
            security_groups: row.security_groups.clone(),
            load_balancer: row.load_balancer.clone(),
            origin: row.origin.clone(),
            keys,
        }
    }
}

/// Sorts each ENI's windows and notes whether one holder has them all; an ENI whose
/// rows name different owners gets a warning.
fn settle_enis(by_eni: &mut FxHashMap<String, EniEntry>, holders: &[Holder]) -> Vec<String> {
    let mut warnings = Vec::new();
    for (eni, entry) in by_eni.iter_mut() {
        entry.windows.sort_by_key(|w| (w.from, w.to, w.holder));
        let mut owners: Vec<u32> = Vec::new();
        for w in &entry.windows {
            let same = |o: &u32| same_owner(&holders[*o as usize], &holders[w.holder as usize]);
            if !owners.iter().any(same) {
                owners.push(w.holder);
            }
        }
        let first = entry.windows[0].holder;
        entry.single = entry
            .windows
            .iter()
            .all(|w| w.holder == first)
            .then_some(first);
        if owners.len() > 1 {
            owners.sort_by(|a, b| {
                holders[*a as usize]
                    .origin
                    .cmp(&holders[*b as usize].origin)
            });
            let named: Vec<String> = owners
                .iter()
                .map(|&o| {
                    let h = &holders[o as usize];
                    format!("{} at {}", owner_words(h), h.origin)
                })
                .collect();
            warnings.push(format!(
                "{eni}: the map's rows name different owners ({}); each row is used for its own window",
                first_few(&named, "; ")
            ));
        }
    }
    warnings
}

/// The strings sorted, without repeats.
fn sorted_unique<'a>(strings: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = strings.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether two holders name the same owner (they may differ in security groups).
fn same_owner(a: &Holder, b: &Holder) -> bool {
    (a.kind, &a.task_arn, &a.service, &a.cluster) == (b.kind, &b.task_arn, &b.service, &b.cluster)
}

/// "task arn:a of web", "alb ENI".
fn owner_words(h: &Holder) -> String {
    match (&h.task_arn, &h.service) {
        (Some(t), Some(s)) => format!("task {t} of {s}"),
        (Some(t), None) => format!("task {t}"),
        (None, _) => format!("{} ENI", h.kind),
    }
}

/// The rows in the order `cmp` gives (stable), each moved once: sorting the rows
/// themselves would move their many fields at every step.
pub(crate) fn sorted_rows(
    rows: Vec<MapRow>,
    cmp: impl Fn(&MapRow, &MapRow) -> std::cmp::Ordering,
) -> Vec<MapRow> {
    let mut order: Vec<u32> = (0..rows.len() as u32).collect();
    order.sort_by(|&a, &b| cmp(&rows[a as usize], &rows[b as usize]));
    let mut slots: Vec<Option<MapRow>> = rows.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|i| slots[i as usize].take())
        .collect()
}

fn time_text(t: i64) -> String {
    if t == i64::MIN {
        "the beginning".to_string()
    } else {
        crate::time::rfc3339(t)
    }
}

/// The name in an ECS ARN: its last `/`-separated part (a cluster ARN's cluster name,
/// a task ARN's task id); a plain name is its own name.
pub fn arn_name(arn_or_name: &str) -> &str {
    arn_or_name.rsplit('/').next().unwrap_or(arn_or_name)
}

/// The VPC CIDRs in force: those given, else the private ranges.
pub fn vpc_cidrs_or_private(given: &[Cidr]) -> Vec<Cidr> {
    if given.is_empty() {
        crate::net::private_ranges()
    } else {
        given.to_vec()
    }
}
