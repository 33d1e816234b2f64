//! Who held an address when: the ENI map and its time-aware index.
//!
//! Fargate tasks come and go with every deploy and their private addresses are reused
//! within minutes, so attribution by address alone, or by today's state, blames the
//! wrong task. Every address here is held for a window `[valid_from, valid_to)`, and
//! every lookup is "who held this address at this second".
//!
//! Map files (`--map`, repeatable) are facts from different sources, merged per ENI:
//! - the canonical CSV: one row per ENI address and window, taken as written;
//! - `aws ecs describe-tasks`: a task's ENI, addresses, service (`group`), cluster and
//!   task definition, held from `createdAt` until `stoppedAt` (running and stopped tasks);
//! - `aws ec2 describe-network-interfaces`: every ENI that exists now, its kind, all its
//!   addresses (secondary and IPv6 too) and security groups, with no window of its own.
//!
//! A task ENI takes its window from describe-tasks and its security groups from
//! describe-network-interfaces when the ENI still exists; a stopped task's ENI is gone
//! from describe-network-interfaces and is known from describe-tasks alone.
//!
//! The index answers `(address, time) -> holder` with one hash lookup and a binary
//! search over that address's windows; [`join`] applies it to whole Arrow batches.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use rustc_hash::FxHashMap;

use crate::intern::Strings;
use crate::net::Cidr;

pub mod join;
pub mod load;

pub use join::{EnrichStats, Enricher};
pub use load::{load_map_file, write_map_csv, MapError};

/// What kind of ENI an address belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EniKind {
    Task,
    Alb,
    Nlb,
    Natgw,
    Vpce,
    Instance,
    Other,
}

impl EniKind {
    pub const ALL: [EniKind; 7] = [
        EniKind::Task,
        EniKind::Alb,
        EniKind::Nlb,
        EniKind::Natgw,
        EniKind::Vpce,
        EniKind::Instance,
        EniKind::Other,
    ];

    /// The name used in the map CSV and in the `eni_kind`/`peer_kind` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            EniKind::Task => "task",
            EniKind::Alb => "alb",
            EniKind::Nlb => "nlb",
            EniKind::Natgw => "natgw",
            EniKind::Vpce => "vpce",
            EniKind::Instance => "instance",
            EniKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<EniKind> {
        EniKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// `peer_kind` of an address that no map file knows, inside the VPC CIDRs.
pub const PEER_VPC: &str = "vpc";
/// `peer_kind` of an address outside the VPC CIDRs.
pub const PEER_INTERNET: &str = "internet";

/// One row of the canonical map: one address of one ENI for one window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRow {
    pub eni_id: String,
    pub kind: EniKind,
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
    /// Where the row came from (`map.csv:3`, `tasks.json: $.tasks[2]`), for messages.
    pub origin: String,
}

impl MapRow {
    /// Whether the row's window contains `t`.
    pub fn holds_at(&self, t: i64) -> bool {
        self.valid_from.is_none_or(|f| f <= t) && self.valid_to.is_none_or(|e| t < e)
    }
}

/// An address held from `valid_from` until `valid_to` (unix seconds, `None` unbounded).
pub type AddrWindow = ([u8; 16], Option<i64>, Option<i64>);

/// A fact about one ENI from one map file, before merging.
#[derive(Clone, Debug, Default)]
pub struct EniFact {
    pub eni_id: String,
    pub source: Source,
    pub kind: Option<EniKind>,
    /// Addresses with their window (describe-tasks, CSV) or unbounded (ENI snapshot).
    pub addrs: Vec<AddrWindow>,
    pub task_arn: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task_family: Option<String>,
    pub security_groups: Option<Vec<String>>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub origin: String,
}

/// Which kind of map file a fact came from; it decides whose word counts per field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    #[default]
    Csv,
    DescribeTasks,
    DescribeEnis,
}

/// The merged ENI map and its index.
#[derive(Debug)]
pub struct EniMap {
    rows: Vec<MapRow>,
    holders: Vec<Holder>,
    by_eni: FxHashMap<String, u32>,
    by_addr: FxHashMap<[u8; 16], Vec<Window>>,
    /// Every distinct string the join can output, shared by all batches.
    strings: Arc<StringArray>,
    warnings: Vec<String>,
}

/// One ENI and what it belongs to, with its strings as keys into [`EniMap`]'s shared
/// string array.
#[derive(Debug, Clone)]
pub struct Holder {
    pub eni_id: String,
    pub kind: EniKind,
    pub task_arn: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub security_groups: Vec<String>,
    /// Every address the ENI ever held.
    pub addrs: Vec<[u8; 16]>,
    pub(crate) keys: HolderKeys,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HolderKeys {
    pub eni: i32,
    pub kind: i32,
    pub task: Option<i32>,
    pub service: Option<i32>,
    pub cluster: Option<i32>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    from: i64,
    to: i64,
    holder: u32,
    row: u32,
}

impl Default for EniMap {
    fn default() -> Self {
        EniMap::from_rows(Vec::new())
    }
}

impl EniMap {
    /// Merges facts from any number of map files (see the module documentation).
    pub fn from_facts(facts: Vec<EniFact>) -> EniMap {
        let mut per_eni: BTreeMap<String, Vec<EniFact>> = BTreeMap::new();
        for f in facts {
            per_eni.entry(f.eni_id.clone()).or_default().push(f);
        }
        let mut rows = Vec::new();
        for (eni_id, facts) in per_eni {
            rows.extend(merge_eni(eni_id, facts));
        }
        // A subnet lies in exactly one VPC: a stopped task's ENI, known only from
        // describe-tasks, takes its VPC from another ENI of the same subnet.
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
        EniMap::from_rows(rows)
    }

    /// Builds the index over canonical rows.
    pub fn from_rows(mut rows: Vec<MapRow>) -> EniMap {
        rows.sort_by(|a, b| {
            (&a.eni_id, a.private_ip, a.valid_from).cmp(&(&b.eni_id, b.private_ip, b.valid_from))
        });
        // Keys into the shared string array; Arrow dictionary keys are i32.
        let mut interned = Strings::default();
        let mut key = |s: &str| interned.id(s) as i32;
        for k in EniKind::ALL {
            key(k.as_str());
        }
        key(PEER_VPC);
        key(PEER_INTERNET);
        let mut holders: Vec<Holder> = Vec::new();
        let mut by_eni: FxHashMap<String, u32> = FxHashMap::default();
        let mut by_addr: FxHashMap<[u8; 16], Vec<Window>> = FxHashMap::default();
        for (i, row) in rows.iter().enumerate() {
            let h = *by_eni.entry(row.eni_id.clone()).or_insert_with(|| {
                let keys = HolderKeys {
                    eni: key(&row.eni_id),
                    kind: key(row.kind.as_str()),
                    task: row.task_arn.as_deref().map(&mut key),
                    service: row.service.as_deref().map(&mut key),
                    cluster: row.cluster.as_deref().map(&mut key),
                };
                holders.push(Holder {
                    eni_id: row.eni_id.clone(),
                    kind: row.kind,
                    task_arn: row.task_arn.clone(),
                    service: row.service.clone(),
                    cluster: row.cluster.clone(),
                    security_groups: row.security_groups.clone(),
                    addrs: Vec::new(),
                    keys,
                });
                (holders.len() - 1) as u32
            });
            let holder = &mut holders[h as usize];
            if !holder.addrs.contains(&row.private_ip) {
                holder.addrs.push(row.private_ip);
            }
            by_addr.entry(row.private_ip).or_default().push(Window {
                from: row.valid_from.unwrap_or(i64::MIN),
                to: row.valid_to.unwrap_or(i64::MAX),
                holder: h,
                row: i as u32,
            });
        }
        let mut warnings = Vec::new();
        for (addr, windows) in by_addr.iter_mut() {
            windows.sort_by_key(|w| (w.from, w.to, w.holder));
            // Overlaps between different ENIs: report each pair once.
            for i in 0..windows.len() {
                for j in i + 1..windows.len() {
                    let (a, b) = (windows[i], windows[j]);
                    if b.from >= a.to {
                        break;
                    }
                    if a.holder != b.holder {
                        let (ra, rb) = (&rows[a.row as usize], &rows[b.row as usize]);
                        warnings.push(format!(
                            "{} is held by {} ({}) and {} ({}) at the same time from {}; \
                             the later-starting holder wins",
                            crate::output::addr_string(addr),
                            ra.eni_id,
                            ra.origin,
                            rb.eni_id,
                            rb.origin,
                            time_text(b.from.max(a.from)),
                        ));
                    }
                }
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

    /// Problems found while merging (overlapping windows of different ENIs).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }

    /// The ENI with this id.
    pub fn eni(&self, eni_id: &str) -> Option<&Holder> {
        self.by_eni.get(eni_id).map(|&h| &self.holders[h as usize])
    }

    pub(crate) fn eni_index(&self, eni_id: &str) -> Option<u32> {
        self.by_eni.get(eni_id).copied()
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

    /// Every security group of every ENI of `kinds` (for policy validation).
    pub fn known_security_groups(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .holders
            .iter()
            .flat_map(|h| h.security_groups.iter().map(String::as_str))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Every service name the map knows.
    pub fn known_services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .holders
            .iter()
            .filter_map(|h| h.service.as_deref())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Merges the facts about one ENI into canonical rows: task facts from describe-tasks
/// win for task fields and windows, the ENI snapshot for kind, security groups, subnet
/// and VPC, the CSV fills what neither says.
fn merge_eni(eni_id: String, mut facts: Vec<EniFact>) -> Vec<MapRow> {
    facts.sort_by_key(|f| f.source);
    let by = |src: Source| facts.iter().filter(move |f| f.source == src);
    let pick = |order: [Source; 3], get: &dyn Fn(&EniFact) -> Option<String>| {
        order.iter().flat_map(|&s| by(s)).find_map(get)
    };
    use Source::*;
    let task_order = [DescribeTasks, Csv, DescribeEnis];
    let eni_order = [DescribeEnis, Csv, DescribeTasks];
    let has_task = by(DescribeTasks).next().is_some();
    let kind = if has_task {
        EniKind::Task
    } else {
        eni_order
            .iter()
            .flat_map(|&s| by(s))
            .find_map(|f| f.kind)
            .unwrap_or(EniKind::Other)
    };
    let security_groups = eni_order
        .iter()
        .flat_map(|&s| by(s))
        .find_map(|f| f.security_groups.clone())
        .unwrap_or_default();
    let task_arn = pick(task_order, &|f| f.task_arn.clone());
    let cluster = pick(task_order, &|f| f.cluster.clone());
    let service = pick(task_order, &|f| f.service.clone());
    let task_family = pick(task_order, &|f| f.task_family.clone());
    let subnet_id = pick(eni_order, &|f| f.subnet_id.clone());
    let vpc_id = pick(eni_order, &|f| f.vpc_id.clone());

    // Windows: timed ones (describe-tasks, CSV) as given; an address known only from
    // the ENI snapshot takes the task's window if the ENI is a task's, else unbounded.
    let mut windows: Vec<(AddrWindow, String)> = Vec::new();
    let task_window = by(DescribeTasks)
        .flat_map(|f| f.addrs.iter().map(|a| (a.1, a.2)))
        .next();
    for f in by(DescribeTasks).chain(by(Csv)) {
        for &(a, from, to) in &f.addrs {
            windows.push(((a, from, to), f.origin.clone()));
        }
    }
    for f in by(DescribeEnis) {
        for &(a, _, _) in &f.addrs {
            if windows.iter().any(|w| w.0 .0 == a) {
                continue;
            }
            let (from, to) = task_window.unwrap_or((None, None));
            windows.push(((a, from, to), f.origin.clone()));
        }
    }
    windows.sort_by_key(|w| w.0);
    windows.dedup_by_key(|w| w.0);
    windows
        .into_iter()
        .map(|((private_ip, valid_from, valid_to), origin)| MapRow {
            eni_id: eni_id.clone(),
            kind,
            private_ip,
            task_arn: task_arn.clone(),
            cluster: cluster.clone(),
            service: service.clone(),
            task_family: task_family.clone(),
            security_groups: security_groups.clone(),
            subnet_id: subnet_id.clone(),
            vpc_id: vpc_id.clone(),
            valid_from,
            valid_to,
            origin,
        })
        .collect()
}

fn time_text(t: i64) -> String {
    if t == i64::MIN {
        "the beginning".to_string()
    } else {
        crate::time::rfc3339(t)
    }
}

/// The VPC CIDRs in force: those given, else the private ranges.
pub fn vpc_cidrs_or_private(given: &[Cidr]) -> Vec<Cidr> {
    if given.is_empty() {
        crate::net::private_ranges()
    } else {
        given.to_vec()
    }
}
