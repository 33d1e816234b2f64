//! The aggregates a report draws, folded in the audit's own pass over the records:
//! per service, bytes per time bucket by kind of peer; the peers of each service,
//! grouped (a service, a load balancer, a NAT gateway, an endpoint, an internet /24 or
//! /48); and the rejected traffic of the tasks by port. Everything but the NAT gateways
//! comes from the records of task ENIs; a NAT gateway from its own ENI's records of
//! a task's traffic (the task's records name the internet host, not the NAT).
//!
//! Memory follows the distinct keys, never the records: time buckets are coarsened
//! (see [`WIDTHS`]) whenever more than [`HELD_BUCKETS`] distinct ones are held, and
//! the peers of a service are its distinct groups. States merge in any order to the
//! same result, so any thread count gives the same page.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::columns::{addr, col, int32, int64, Times};
use crate::enrich::{EniMap, PeerKind};
use crate::intern::{Attribution, DictIds, Strings, NONE};

/// Widths of time buckets, in seconds: each a multiple of the one before, so that a
/// coarser bucket is a whole number of finer ones.
pub const WIDTHS: [i64; 11] = [
    60, 300, 900, 3_600, 10_800, 21_600, 86_400, 604_800, 2_419_200, 9_676_800, 38_707_200,
];

/// Distinct time buckets held before they are coarsened to the next width.
pub const HELD_BUCKETS: usize = 2_048;

/// The kinds of peer a service's traffic over time is split by.
pub use crate::enrich::PeerClass;

/// The index of a `peer_kind` value in [`PeerKind::ALL`], as [`Group::kind`] holds it.
pub fn kind_index(kind: &str) -> Option<u8> {
    PeerKind::parse(kind).map(|k| k as u8)
}

/// The `peer_kind` value of a [`Group::kind`].
pub fn kind_of(index: u8) -> PeerKind {
    PeerKind::ALL[index as usize]
}

/// One node of a service's peer graph: the peers of one kind that are drawn as one.
///
/// - `task`: the peer's service and cluster (`label` is "service\u{1f}cluster"), or its
///   task ARN when it has no service;
/// - load balancers: the load balancer's name (`app/web-alb`), else its first security
///   group (every ENI of one load balancer shares it), else its ENI: every ENI of one
///   load balancer is one node, linked to the services behind it;
/// - the other ENI kinds: the ENI (a NAT gateway is a peer of the services whose tasks'
///   records the NAT gateway's own ENI logged);
/// - `vpc`, `internet`: the /24 (IPv4) or /48 (IPv6) of the address, in `prefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    /// Index into [`PeerKind::ALL`].
    pub kind: u8,
    /// Interned label (`NONE` for address groups).
    pub label: u32,
    /// The network of an address group, in the 16-byte form; zeros otherwise.
    pub prefix: [u8; 16],
}

/// Separates a service from its cluster in a task group's label.
pub const CLUSTER_SEP: char = '\u{1f}';

/// The network (/24 or /48) an address is grouped in.
pub fn prefix_of(a: &[u8; 16]) -> [u8; 16] {
    let mut p = *a;
    let keep = if crate::net::is_v4(a) { 15 } else { 6 };
    p[keep..].fill(0);
    p
}

/// The label of a peer's group for kinds grouped by name (see [`Group`]): `None` for
/// the address groups, and where nothing names it.
pub fn group_label(
    map: &EniMap,
    kind: &str,
    eni: Option<&str>,
    task_arn: Option<&str>,
    service: Option<&str>,
    t: Option<i64>,
) -> Option<String> {
    let holder = || eni.and_then(|e| map.eni_at(e, t));
    let Some(kind) = PeerKind::parse(kind) else {
        return eni.map(str::to_string);
    };
    match kind {
        k if k.is_address_group() => None,
        PeerKind::Task => {
            let cluster = holder().and_then(|h| h.cluster.as_deref());
            match (service, cluster) {
                (Some(s), Some(c)) => {
                    Some(format!("{s}{CLUSTER_SEP}{}", crate::enrich::arn_name(c)))
                }
                (Some(s), None) => Some(s.to_string()),
                (None, _) => task_arn.or(eni).map(str::to_string),
            }
        }
        k if k.is_load_balancer() => holder()
            .and_then(|h| {
                h.load_balancer
                    .clone()
                    .or_else(|| h.security_groups.iter().min().cloned())
            })
            .or_else(|| eni.map(str::to_string)),
        _ => eni.map(str::to_string),
    }
}

/// Counts of records with one peer group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edge {
    pub records: u64,
    /// Bytes the peer sent the task, and the task the peer.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Rejected records, either direction.
    pub rejected: u64,
}

impl Edge {
    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.bytes_in.saturating_add(self.bytes_out)
    }

    /// Counts one record of `bytes`, sent by the peer when `came_in`.
    #[inline]
    fn add(&mut self, bytes: u64, came_in: bool, rejected: bool) {
        self.records += 1;
        if came_in {
            self.bytes_in = self.bytes_in.saturating_add(bytes);
        } else {
            self.bytes_out = self.bytes_out.saturating_add(bytes);
        }
        self.rejected += rejected as u64;
    }

    fn merge(&mut self, o: &Edge) {
        self.records += o.records;
        self.bytes_in = self.bytes_in.saturating_add(o.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(o.bytes_out);
        self.rejected += o.rejected;
    }
}

/// The sum of byte or packet counts, saturating (a flow log's counts are as large as an
/// `i64`, so a few of them overflow a `u64`).
pub fn total(counts: impl IntoIterator<Item = u64>) -> u64 {
    counts.into_iter().fold(0, u64::saturating_add)
}

/// Adds one bucket's bytes by [`PeerClass`] to another's, saturating.
pub fn add_counts(into: &mut [u64; 5], from: &[u64; 5]) {
    for (c, x) in into.iter_mut().zip(from) {
        *c = c.saturating_add(*x);
    }
}

/// Counts of rejected records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl Counted {
    pub fn merge(&mut self, o: &Counted) {
        self.records += o.records;
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
    }
}

/// Totals of one service's task ENIs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceTotals {
    pub records: u64,
    pub bytes: u64,
    /// Rejected records, either direction.
    pub rejected: u64,
    /// Bytes of records whose direction could not be decided (no peer).
    pub undirected_bytes: u64,
}

impl ServiceTotals {
    fn merge(&mut self, o: &ServiceTotals) {
        self.records += o.records;
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.rejected += o.rejected;
        self.undirected_bytes = self.undirected_bytes.saturating_add(o.undirected_bytes);
    }
}

/// A service and its cluster (interned; `NONE` when unknown).
pub type ServiceKey = (u32, u32);

/// A rejected record's protocol (`u16::MAX` when not logged), destination port, and
/// whether the peer sent it.
pub type PortKey = (u16, u16, bool);

/// Folds the report's aggregates (see the module documentation).
pub struct Observer {
    pub map: Arc<EniMap>,
}

impl crate::fold::Fold for Observer {
    type State = TrafficState;
    fn state(&self) -> TrafficState {
        TrafficState::default()
    }
    fn add(&self, state: &mut TrafficState, batch: &RecordBatch) {
        state.add(batch, &self.map);
    }
    fn merge(&self, into: &mut TrafficState, from: TrafficState) {
        into.merge(from);
    }
}

/// The mergeable aggregates of a report.
#[derive(Clone, Debug, Default)]
pub struct TrafficState {
    pub strings: Strings,
    /// The earliest start and the latest end of any record.
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Index into [`WIDTHS`] of the buckets held.
    pub width: usize,
    buckets: FxHashSet<i64>,
    /// Bytes by service, bucket start and [`PeerClass`].
    pub series: FxHashMap<(ServiceKey, i64), [u64; 5]>,
    pub services: FxHashMap<ServiceKey, ServiceTotals>,
    /// Distinct tasks of each service.
    pub tasks: FxHashSet<(ServiceKey, u32)>,
    pub edges: FxHashMap<(ServiceKey, Group), Edge>,
    /// The tasks' rejected records, by port.
    pub rejected: FxHashMap<PortKey, Counted>,
    /// Group labels by peer kind, ENI, task and service (interned): a cache, not merged.
    /// A load balancer's security group and a task's cluster are taken as of the first
    /// record that names its ENI (they do not change over an ENI's life).
    labels: FxHashMap<(u8, u32, u32, u32), u32>,
    /// The bucket last noted as held.
    last_bucket: Option<i64>,
    /// The ids of clusters' names by the ids of their spellings: a cache, not merged.
    cluster_names: FxHashMap<u32, u32>,
}

/// The columns of an enriched batch that the report reads, looked up once a batch.
struct Columns<'a> {
    times: Times<'a>,
    /// Who the record's own ENI and its peer are.
    at: Attribution<'a>,
    own_eni: Option<DictIds<'a>>,
    peer_addr: Option<&'a FixedSizeBinaryArray>,
    inbound: Option<&'a BooleanArray>,
    action: Option<DictIds<'a>>,
    protocol: Option<&'a Int32Array>,
    dstport: Option<&'a Int32Array>,
    packets: Option<&'a Int64Array>,
    bytes: Option<&'a Int64Array>,
}

impl<'a> Columns<'a> {
    /// `None` when the batch was not attributed.
    fn of(batch: &'a RecordBatch, times: Times<'a>) -> Option<Columns<'a>> {
        Some(Columns {
            times,
            at: Attribution::of(batch)?,
            own_eni: DictIds::of(batch, "interface_id"),
            peer_addr: col::<FixedSizeBinaryArray>(batch, "peer_addr"),
            inbound: col::<BooleanArray>(batch, "inbound"),
            action: DictIds::of(batch, "action"),
            protocol: col::<Int32Array>(batch, "protocol"),
            dstport: col::<Int32Array>(batch, "dstport"),
            packets: col::<Int64Array>(batch, "packets"),
            bytes: col::<Int64Array>(batch, "bytes"),
        })
    }

    /// A record's bytes (0 when not logged).
    #[inline]
    fn bytes(&self, row: usize) -> u64 {
        int64(self.bytes, row).unwrap_or(0).max(0) as u64
    }

    /// Whether the record's own ENI received it.
    #[inline]
    fn inbound(&self, row: usize) -> bool {
        self.inbound
            .is_some_and(|a| a.is_valid(row) && a.value(row))
    }

    #[inline]
    fn rejected(&self, row: usize) -> bool {
        self.action.as_ref().and_then(|a| a.str(row)) == Some("REJECT")
    }
}

impl TrafficState {
    /// Folds one enriched batch: every record logged on a task ENI.
    pub fn add(&mut self, batch: &RecordBatch, map: &EniMap) {
        let times = Times::of(batch);
        for row in 0..batch.num_rows() {
            if let Some(s) = times.start(row) {
                self.first = Some(self.first.map_or(s, |f| f.min(s)));
            }
            if let Some(e) = times.last(row) {
                self.last = Some(self.last.map_or(e, |l| l.max(e)));
            }
        }
        let Some(mut c) = Columns::of(batch, times) else {
            return;
        };
        for row in 0..batch.num_rows() {
            match c.at.kind.str(row) {
                Some(k) if k == PeerKind::Task.as_str() => self.add_task_record(&mut c, row, map),
                // A NAT gateway's records of a task's traffic: the task's service used
                // that NAT gateway (the task's own records show the internet peer).
                Some(k)
                    if k == PeerKind::Natgw.as_str()
                        && c.at.peer_kind.str(row) == Some(PeerKind::Task.as_str()) =>
                {
                    self.add_nat_record(&mut c, row, map)
                }
                _ => {}
            }
        }
        self.coarsen();
    }

    /// A record of a task's ENI: its service's totals, tasks, rejected ports, series
    /// and the edge to its peer's group.
    #[inline]
    fn add_task_record(&mut self, c: &mut Columns, row: usize, map: &EniMap) {
        let task_id = c.at.task.id(row, &mut self.strings);
        if task_id == NONE {
            return;
        }
        let raw = c.at.cluster.id(row, &mut self.strings);
        let key = (
            c.at.service.id(row, &mut self.strings),
            self.cluster_name(raw),
        );
        self.tasks.insert((key, task_id));
        let b = c.bytes(row);
        let rejected = c.rejected(row);
        let totals = self.services.entry(key).or_default();
        totals.records += 1;
        totals.bytes = totals.bytes.saturating_add(b);
        totals.rejected += rejected as u64;
        let t = c.times.at(row);
        let (Some(p_kind), Some(p_addr)) = (c.at.peer_kind.str(row), addr(c.peer_addr, row)) else {
            totals.undirected_bytes = totals.undirected_bytes.saturating_add(b);
            return;
        };
        let came_in = c.inbound(row);
        if rejected {
            let port = (
                int32(c.protocol, row).map_or(u16::MAX, |p| p as u16),
                int32(c.dstport, row).map_or(0, |p| p as u16),
                came_in,
            );
            self.rejected.entry(port).or_default().merge(&Counted {
                records: 1,
                packets: int64(c.packets, row).unwrap_or(0).max(0) as u64,
                bytes: b,
            });
        }
        if let Some(t) = t {
            let bucket = self.bucket(t);
            let cell =
                &mut self.series.entry((key, bucket)).or_default()[PeerClass::of(p_kind) as usize];
            *cell = cell.saturating_add(b);
        }
        let Some(k) = kind_index(p_kind) else {
            return;
        };
        let group = if kind_of(k).is_address_group() {
            Group {
                kind: k,
                label: NONE,
                prefix: prefix_of(&p_addr),
            }
        } else {
            Group {
                kind: k,
                label: self.peer_label(c, row, k, p_kind, t, map),
                prefix: [0; 16],
            }
        };
        self.edges
            .entry((key, group))
            .or_default()
            .add(b, came_in, rejected);
    }

    /// The interned label of a record's peer group of kind `k` (see [`group_label`]),
    /// cached by the peer's kind, ENI, task and service.
    #[inline]
    fn peer_label(
        &mut self,
        c: &mut Columns,
        row: usize,
        k: u8,
        p_kind: &str,
        t: Option<i64>,
        map: &EniMap,
    ) -> u32 {
        let ids = (
            k,
            c.at.peer_eni.id(row, &mut self.strings),
            c.at.peer_task.id(row, &mut self.strings),
            c.at.peer_service.id(row, &mut self.strings),
        );
        if let Some(&l) = self.labels.get(&ids) {
            return l;
        }
        let l = group_label(
            map,
            p_kind,
            c.at.peer_eni.str(row),
            c.at.peer_task.str(row),
            c.at.peer_service.str(row),
            t,
        )
        .map_or(NONE, |l| self.strings.id(&l));
        self.labels.insert(ids, l);
        l
    }

    /// A record of a NAT gateway's ENI whose peer is a task: an edge from the task's
    /// service to the NAT gateway.
    #[inline]
    fn add_nat_record(&mut self, c: &mut Columns, row: usize, map: &EniMap) {
        let Some(nat) = c.own_eni.as_mut().map(|e| e.id(row, &mut self.strings)) else {
            return;
        };
        let t = c.times.at(row);
        let holder = c.at.peer_eni.str(row).and_then(|e| map.eni_at(e, t));
        let key = (
            c.at.peer_service.id(row, &mut self.strings),
            holder
                .and_then(|h| h.cluster.as_deref())
                .map_or(NONE, |c| self.strings.id(crate::enrich::arn_name(c))),
        );
        let group = Group {
            kind: PeerKind::Natgw as u8,
            label: nat,
            prefix: [0; 16],
        };
        // Into the NAT gateway: the task sent it.
        let to_nat = c.inbound(row);
        self.edges
            .entry((key, group))
            .or_default()
            .add(c.bytes(row), !to_nat, c.rejected(row));
    }

    /// The id of a cluster's name, from the id of the cluster as the map writes it (a
    /// name or an ARN), so that both spellings are one cluster.
    fn cluster_name(&mut self, raw: u32) -> u32 {
        if raw == NONE {
            return NONE;
        }
        if let Some(&id) = self.cluster_names.get(&raw) {
            return id;
        }
        let name = crate::enrich::arn_name(&self.strings.values[raw as usize]).to_string();
        let id = self.strings.id(&name);
        self.cluster_names.insert(raw, id);
        id
    }

    /// The start of the bucket holding unix second `t`, noting it as held.
    fn bucket(&mut self, t: i64) -> i64 {
        let b = t.div_euclid(WIDTHS[self.width]) * WIDTHS[self.width];
        if self.last_bucket != Some(b) {
            self.buckets.insert(b);
            self.last_bucket = Some(b);
        }
        b
    }

    /// Coarsens the buckets while more than [`HELD_BUCKETS`] are held.
    fn coarsen(&mut self) {
        while self.buckets.len() > HELD_BUCKETS && self.width + 1 < WIDTHS.len() {
            self.regroup(self.width + 1);
        }
    }

    /// Regroups the series into buckets of `WIDTHS[width]` (a coarser width).
    fn regroup(&mut self, width: usize) {
        let w = WIDTHS[width];
        self.width = width;
        self.last_bucket = None;
        self.buckets = self.buckets.iter().map(|b| b.div_euclid(w) * w).collect();
        let series = std::mem::take(&mut self.series);
        for ((k, b), v) in series {
            add_counts(self.series.entry((k, b.div_euclid(w) * w)).or_default(), &v);
        }
    }

    /// Adds another worker's state.
    pub fn merge(&mut self, mut other: TrafficState) {
        if other.width > self.width {
            self.regroup(other.width);
        } else if self.width > other.width {
            other.regroup(self.width);
        }
        let remap = self.strings.remap(&other.strings);
        let m = |id: u32| if id == NONE { NONE } else { remap[id as usize] };
        let mk = |(s, c): ServiceKey| (m(s), m(c));
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.buckets.extend(other.buckets);
        for ((k, b), v) in other.series {
            add_counts(self.series.entry((mk(k), b)).or_default(), &v);
        }
        for (k, t) in other.services {
            self.services.entry(mk(k)).or_default().merge(&t);
        }
        for (k, t) in other.tasks {
            self.tasks.insert((mk(k), m(t)));
        }
        for ((k, g), e) in other.edges {
            let g = Group {
                label: m(g.label),
                ..g
            };
            self.edges.entry((mk(k), g)).or_default().merge(&e);
        }
        for (p, c) in other.rejected {
            self.rejected.entry(p).or_default().merge(&c);
        }
        self.coarsen();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_divide_each_other() {
        for w in WIDTHS.windows(2) {
            assert_eq!(w[1] % w[0], 0, "{} is not a multiple of {}", w[1], w[0]);
        }
    }

    #[test]
    fn prefixes_are_slash_24_and_slash_48() {
        let a = crate::net::addr("203.0.113.77").unwrap();
        assert_eq!(prefix_of(&a), crate::net::addr("203.0.113.0").unwrap());
        let b = crate::net::addr("2001:db8:5:1::23").unwrap();
        assert_eq!(prefix_of(&b), crate::net::addr("2001:db8:5::").unwrap());
    }

    #[test]
    fn coarsening_keeps_every_byte_in_its_coarser_bucket() {
        let mut s = TrafficState::default();
        let key = (0, NONE);
        // One byte a minute for three days: 4320 buckets of a minute.
        for i in 0..4320i64 {
            let b = s.bucket(i * 60);
            s.series.entry((key, b)).or_default()[0] += 1;
        }
        s.coarsen();
        // 4320 minutes > 2048: five-minute buckets (864) are few enough.
        assert_eq!(WIDTHS[s.width], 300);
        assert_eq!(s.series.len(), 864);
        assert!(s.series.values().all(|v| v[0] == 5));
    }

    /// States of different widths merge to the same series in either order, every byte
    /// in the bucket of the coarser width.
    #[test]
    fn states_of_different_widths_merge_alike_in_either_order() {
        let fill = |minutes: std::ops::Range<i64>| {
            let mut s = TrafficState::default();
            let key = (s.strings.id("web"), NONE);
            for m in minutes {
                let b = s.bucket(m * 60);
                s.series.entry((key, b)).or_default()[1] += 2;
            }
            s.coarsen();
            s
        };
        // 100 minutes stay minutes; 3,000 minutes become five-minute buckets.
        let (a, b) = (fill(0..100), fill(5_000..8_000));
        assert_eq!((a.width, b.width), (0, 1));
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab.width, 1);
        assert_eq!(ab.series, ba.series);
        assert_eq!(ab.series.len(), 20 + 600);
        assert!(ab.series.values().all(|v| v[1] == 10));
    }
}
