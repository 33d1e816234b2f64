//! `vpcflow query`: filters, group-by, top talkers, time buckets and percentiles.
//!
//! A [`Query`] says which records to keep (filters) and how to group them (keys). Each
//! batch is filtered with one boolean mask built column by column (a dictionary
//! column is tested once per distinct value, then the mask is read off its keys), and
//! the surviving rows are folded into a [`QueryState`]: one mergeable aggregate per
//! group with counts, sums, first/last seen and, with `--stats`, an HDR histogram of
//! bytes per record. States of files read in parallel are merged; the result is sorted
//! by bytes (descending) and then keys, so it is the same for any thread count.

use std::collections::HashSet;

use arrow::array::{Array, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::batch::Projection;
use crate::columns::{addr, col, int32, int64, TextCol};
use crate::intern::{DictIds, Strings, NONE};
use crate::net::Cidr;

pub mod conversations;

/// A group key of `--group-by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Eni,
    Task,
    Service,
    Cluster,
    Srcaddr,
    Dstaddr,
    Peer,
    PeerKind,
    PeerService,
    Srcport,
    Dstport,
    Protocol,
    Action,
    Status,
    Direction,
    Minute,
    Hour,
    Day,
}

impl Key {
    pub const ALL: [Key; 18] = [
        Key::Eni,
        Key::Task,
        Key::Service,
        Key::Cluster,
        Key::Srcaddr,
        Key::Dstaddr,
        Key::Peer,
        Key::PeerKind,
        Key::PeerService,
        Key::Srcport,
        Key::Dstport,
        Key::Protocol,
        Key::Action,
        Key::Status,
        Key::Direction,
        Key::Minute,
        Key::Hour,
        Key::Day,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Key::Eni => "eni",
            Key::Task => "task",
            Key::Service => "service",
            Key::Cluster => "cluster",
            Key::Srcaddr => "srcaddr",
            Key::Dstaddr => "dstaddr",
            Key::Peer => "peer",
            Key::PeerKind => "peer_kind",
            Key::PeerService => "peer_service",
            Key::Srcport => "srcport",
            Key::Dstport => "dstport",
            Key::Protocol => "protocol",
            Key::Action => "action",
            Key::Status => "status",
            Key::Direction => "direction",
            Key::Minute => "minute",
            Key::Hour => "hour",
            Key::Day => "day",
        }
    }

    /// Parses `--group-by eni,hour`.
    pub fn parse_list(s: &str) -> Result<Vec<Key>, String> {
        let mut keys = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let k = Key::ALL
                .into_iter()
                .find(|k| k.name() == part)
                .ok_or_else(|| {
                    format!(
                        "{part:?} is not a group key (one of {})",
                        Key::ALL.map(Key::name).join(", ")
                    )
                })?;
            if keys.contains(&k) {
                return Err(format!("{part:?} is given twice"));
            }
            keys.push(k);
        }
        Ok(keys)
    }

    /// Whether the key needs the attribution columns.
    fn needs_enrichment(self) -> bool {
        matches!(
            self,
            Key::Task
                | Key::Service
                | Key::Cluster
                | Key::Peer
                | Key::PeerKind
                | Key::PeerService
                | Key::Direction
        )
    }

    /// The flow-log columns the key reads.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Key::Eni => &["interface_id"],
            Key::Srcaddr => &["srcaddr"],
            Key::Dstaddr => &["dstaddr"],
            Key::Srcport => &["srcport"],
            Key::Dstport => &["dstport"],
            Key::Protocol => &["protocol"],
            Key::Action => &["action"],
            Key::Status => &["log_status"],
            _ => &[],
        }
    }
}

/// Protocol numbers from names users type.
pub fn parse_protocol(s: &str) -> Result<i32, String> {
    match s.to_ascii_lowercase().as_str() {
        "icmp" => Ok(1),
        "tcp" => Ok(6),
        "udp" => Ok(17),
        "icmpv6" => Ok(58),
        n => n
            .parse::<u8>()
            .map(i32::from)
            .map_err(|_| format!("{s:?} is not a protocol (tcp, udp, icmp, icmpv6 or 0-255)")),
    }
}

/// Which records to keep. Within one filter, any value matches; all filters must match.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub eni: Vec<String>,
    /// Task ARNs or task ids (the ARN's last part).
    pub task: Vec<String>,
    pub service: Vec<String>,
    pub cluster: Vec<String>,
    /// Either side's address.
    pub addr: Vec<Cidr>,
    pub peer: Vec<Cidr>,
    /// `peer_kind` values (`task`, ..., `vpc`, `internet`).
    pub peer_kind: Vec<String>,
    pub peer_service: Vec<String>,
    /// Either side's port.
    pub port: Vec<u16>,
    pub protocol: Vec<i32>,
    /// Upper-case `ACCEPT`/`REJECT`.
    pub action: Vec<String>,
    /// Upper-case `OK`/`NODATA`/`SKIPDATA`.
    pub status: Vec<String>,
    /// `ingress`/`egress`.
    pub direction: Vec<String>,
}

impl Filters {
    fn needs_enrichment(&self) -> bool {
        !(self.task.is_empty()
            && self.service.is_empty()
            && self.cluster.is_empty()
            && self.peer.is_empty()
            && self.peer_kind.is_empty()
            && self.peer_service.is_empty()
            && self.direction.is_empty())
    }
}

/// A query: filters, group keys, and whether to compute percentiles.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub filters: Filters,
    pub keys: Vec<Key>,
    pub stats: bool,
}

impl Query {
    /// Whether the query needs the attribution columns of the join.
    pub fn needs_enrichment(&self) -> bool {
        self.filters.needs_enrichment() || self.keys.iter().any(|k| k.needs_enrichment())
    }

    /// The flow-log columns the query (and the join, if needed) reads.
    pub fn projection(&self) -> Projection {
        let mut p: HashSet<String> = ["start", "end", "packets", "bytes"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = &self.filters;
        let mut add = |cols: &[&str]| p.extend(cols.iter().map(|c| c.to_string()));
        for k in &self.keys {
            add(k.columns());
        }
        if !f.eni.is_empty() {
            add(&["interface_id"]);
        }
        if !f.addr.is_empty() {
            add(&["srcaddr", "dstaddr"]);
        }
        if !f.port.is_empty() {
            add(&["srcport", "dstport"]);
        }
        if !f.protocol.is_empty() {
            add(&["protocol"]);
        }
        if !f.action.is_empty() {
            add(&["action"]);
        }
        if !f.status.is_empty() {
            add(&["log_status"]);
        }
        if self.needs_enrichment() {
            add(&crate::enrich::join::INPUT_COLUMNS);
        }
        p
    }
}

impl crate::pipeline::Fold for Query {
    type State = QueryState;
    fn state(&self) -> QueryState {
        QueryState::default()
    }
    fn add(&self, state: &mut QueryState, batch: &RecordBatch) {
        state.add(batch, self);
    }
    fn merge(&self, into: &mut QueryState, from: QueryState) {
        into.merge(from);
    }
}

/// One group key value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum KeyValue {
    Null,
    Int(i64),
    Str(u32),
    Addr([u8; 16]),
}

/// One group's aggregate.
#[derive(Clone, Debug)]
struct Agg {
    records: u64,
    packets: u64,
    bytes: u64,
    first: Option<i64>,
    last: Option<i64>,
    max_bytes: Option<u64>,
    hist: Option<Histogram<u64>>,
}

impl Agg {
    fn new(stats: bool) -> Agg {
        Agg {
            records: 0,
            packets: 0,
            bytes: 0,
            first: None,
            last: None,
            max_bytes: None,
            hist: stats.then(|| Histogram::new(3).expect("3 significant digits is valid")),
        }
    }

    fn merge(&mut self, o: &Agg) {
        self.records += o.records;
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first = min_opt(self.first, o.first);
        self.last = max_opt(self.last, o.last);
        self.max_bytes = max_opt(self.max_bytes, o.max_bytes);
        if let (Some(h), Some(oh)) = (&mut self.hist, &o.hist) {
            h.add(oh).expect("auto-resizing histograms merge");
        }
    }
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The mergeable state of a query.
#[derive(Clone, Default)]
pub struct QueryState {
    strings: Strings,
    groups: FxHashMap<Box<[KeyValue]>, Agg>,
    /// Records read (after the time window) and kept by the filters.
    pub records_in: u64,
    pub records_kept: u64,
}

/// The direction of a record relative to its ENI, as the orientation decided it (see
/// `enrich::orient`): `ingress` when it came in.
pub(crate) fn direction(inbound: Option<&BooleanArray>, row: usize) -> Option<&'static str> {
    inbound
        .filter(|a| a.is_valid(row))
        .map(|a| if a.value(row) { "ingress" } else { "egress" })
}

/// A per-row mask of `pred` over a text column, testing each distinct dictionary
/// value once.
fn mask(c: &TextCol, len: usize, pred: impl Fn(&str) -> bool) -> Vec<bool> {
    match c {
        // The enrichment columns share one array of every string of the map: test
        // only the values this batch uses when they are many more than its rows.
        TextCol::Dict(k, v) if v.len() > len.max(1024) => {
            let mut hit: rustc_hash::FxHashMap<i32, bool> = Default::default();
            (0..len)
                .map(|r| {
                    k.is_valid(r)
                        && *hit
                            .entry(k.value(r))
                            .or_insert_with(|| pred(v.value(k.value(r) as usize)))
                })
                .collect()
        }
        TextCol::Dict(k, v) => {
            let hit: Vec<bool> = (0..v.len()).map(|i| pred(v.value(i))).collect();
            (0..len)
                .map(|r| k.is_valid(r) && hit[k.value(r) as usize])
                .collect()
        }
        TextCol::Plain(a) => (0..len)
            .map(|r| a.is_valid(r) && pred(a.value(r)))
            .collect(),
    }
}

/// The rows of `batch` that pass every filter.
pub fn filter(batch: &RecordBatch, f: &Filters) -> RecordBatch {
    let n = batch.num_rows();
    let mut keep = vec![true; n];
    let mut and = |m: Vec<bool>| {
        for (k, m) in keep.iter_mut().zip(m) {
            *k &= m;
        }
    };
    let text =
        |name: &str, values: &[String], pred: &dyn Fn(&str, &String) -> bool| match TextCol::of(
            batch, name,
        ) {
            Some(c) => mask(&c, n, |s| values.iter().any(|v| pred(s, v))),
            None => vec![false; n],
        };
    if !f.eni.is_empty() {
        and(text("interface_id", &f.eni, &|s, v| s == v));
    }
    if !f.task.is_empty() {
        and(text("task_arn", &f.task, &|s, v| {
            s == v || s.rsplit('/').next() == Some(v.as_str())
        }));
    }
    if !f.service.is_empty() {
        and(text("service", &f.service, &|s, v| s == v));
    }
    if !f.cluster.is_empty() {
        and(text("cluster", &f.cluster, &|s, v| {
            s == v || s.rsplit('/').next() == Some(v.as_str())
        }));
    }
    if !f.peer_kind.is_empty() {
        and(text("peer_kind", &f.peer_kind, &|s, v| s == v));
    }
    if !f.peer_service.is_empty() {
        and(text("peer_service", &f.peer_service, &|s, v| s == v));
    }
    if !f.action.is_empty() {
        and(text("action", &f.action, &|s, v| s.eq_ignore_ascii_case(v)));
    }
    if !f.status.is_empty() {
        and(text("log_status", &f.status, &|s, v| {
            s.eq_ignore_ascii_case(v)
        }));
    }
    let cidr = |name: &str, blocks: &[Cidr]| -> Vec<bool> {
        let a: Option<&FixedSizeBinaryArray> = col(batch, name);
        (0..n)
            .map(|r| addr(a, r).is_some_and(|x| blocks.iter().any(|c| c.contains(&x))))
            .collect()
    };
    if !f.addr.is_empty() {
        let (s, d) = (cidr("srcaddr", &f.addr), cidr("dstaddr", &f.addr));
        and(s.into_iter().zip(d).map(|(a, b)| a || b).collect());
    }
    if !f.peer.is_empty() {
        and(cidr("peer_addr", &f.peer));
    }
    let int = |name: &str, values: &[i32]| -> Vec<bool> {
        let a: Option<&Int32Array> = col(batch, name);
        (0..n)
            .map(|r| int32(a, r).is_some_and(|x| values.contains(&x)))
            .collect()
    };
    if !f.port.is_empty() {
        let ports: Vec<i32> = f.port.iter().map(|&p| p as i32).collect();
        let (s, d) = (int("srcport", &ports), int("dstport", &ports));
        and(s.into_iter().zip(d).map(|(a, b)| a || b).collect());
    }
    if !f.protocol.is_empty() {
        and(int("protocol", &f.protocol));
    }
    if !f.direction.is_empty() {
        let inbound: Option<&BooleanArray> = col(batch, "inbound");
        and((0..n)
            .map(|r| direction(inbound, r).is_some_and(|d| f.direction.iter().any(|x| x == d)))
            .collect());
    }
    if keep.iter().all(|k| *k) {
        return batch.clone();
    }
    filter_record_batch(batch, &BooleanArray::from(keep)).expect("mask has the batch's length")
}

/// Time bucket sizes of the time keys.
fn bucket(k: Key) -> Option<i64> {
    match k {
        Key::Minute => Some(60),
        Key::Hour => Some(3600),
        Key::Day => Some(86_400),
        _ => None,
    }
}

impl QueryState {
    /// Filters one (enriched, if needed) batch and folds it in.
    pub fn add(&mut self, batch: &RecordBatch, q: &Query) {
        self.records_in += batch.num_rows() as u64;
        let batch = filter(batch, &q.filters);
        let n = batch.num_rows();
        self.records_kept += n as u64;
        let packets: Option<&Int64Array> = col(&batch, "packets");
        let bytes: Option<&Int64Array> = col(&batch, "bytes");
        let start: Option<&Int64Array> = col(&batch, "start");
        let end: Option<&Int64Array> = col(&batch, "end");
        // One reader per key.
        enum Reader<'a> {
            Dict(DictIds<'a>),
            Text(Option<TextCol<'a>>),
            Addr(Option<&'a FixedSizeBinaryArray>),
            Int(Option<&'a Int32Array>),
            Time(i64),
            Dir(Option<&'a BooleanArray>),
        }
        let text = |name: &str| match DictIds::of(&batch, name) {
            Some(d) => Reader::Dict(d),
            None => Reader::Text(TextCol::of(&batch, name)),
        };
        let mut readers: Vec<Reader> = q
            .keys
            .iter()
            .map(|&k| match k {
                Key::Eni => text("interface_id"),
                Key::Task => text("task_arn"),
                Key::Service => text("service"),
                Key::Cluster => text("cluster"),
                Key::Action => text("action"),
                Key::Status => text("log_status"),
                Key::Srcaddr => Reader::Addr(col(&batch, "srcaddr")),
                Key::Dstaddr => Reader::Addr(col(&batch, "dstaddr")),
                Key::Peer => Reader::Addr(col(&batch, "peer_addr")),
                Key::PeerKind => text("peer_kind"),
                Key::PeerService => text("peer_service"),
                Key::Srcport => Reader::Int(col(&batch, "srcport")),
                Key::Dstport => Reader::Int(col(&batch, "dstport")),
                Key::Protocol => Reader::Int(col(&batch, "protocol")),
                Key::Direction => Reader::Dir(col(&batch, "inbound")),
                Key::Minute | Key::Hour | Key::Day => Reader::Time(bucket(k).unwrap_or(60)),
            })
            .collect();
        let mut key: Vec<KeyValue> = Vec::with_capacity(q.keys.len());
        for row in 0..n {
            key.clear();
            let t = int64(start, row).or(int64(end, row));
            for r in readers.iter_mut() {
                key.push(match r {
                    Reader::Dict(d) => match d.id(row, &mut self.strings) {
                        NONE => KeyValue::Null,
                        id => KeyValue::Str(id),
                    },
                    Reader::Text(Some(c)) => match c.get(row) {
                        Some(s) => KeyValue::Str(self.strings.id(s)),
                        None => KeyValue::Null,
                    },
                    Reader::Text(None) => KeyValue::Null,
                    Reader::Addr(a) => addr(*a, row).map_or(KeyValue::Null, KeyValue::Addr),
                    Reader::Int(a) => {
                        int32(*a, row).map_or(KeyValue::Null, |v| KeyValue::Int(v as i64))
                    }
                    Reader::Time(size) => t.map_or(KeyValue::Null, |t| {
                        KeyValue::Int(t.div_euclid(*size) * *size)
                    }),
                    Reader::Dir(d) => match direction(*d, row) {
                        Some(s) => KeyValue::Str(self.strings.id(s)),
                        None => KeyValue::Null,
                    },
                });
            }
            let agg = match self.groups.get_mut(key.as_slice()) {
                Some(a) => a,
                None => self
                    .groups
                    .entry(key.clone().into_boxed_slice())
                    .or_insert_with(|| Agg::new(q.stats)),
            };
            agg.records += 1;
            agg.packets = agg
                .packets
                .saturating_add(int64(packets, row).unwrap_or(0).max(0) as u64);
            let b = int64(bytes, row).map(|b| b.max(0) as u64);
            if let Some(b) = b {
                agg.bytes = agg.bytes.saturating_add(b);
                agg.max_bytes = max_opt(agg.max_bytes, Some(b));
                if let Some(h) = &mut agg.hist {
                    h.record(b).expect("auto-resizing histogram");
                }
            }
            agg.first = min_opt(agg.first, t);
            agg.last = max_opt(agg.last, int64(end, row).or(t));
        }
    }

    /// Adds another state (another file or thread).
    pub fn merge(&mut self, other: QueryState) {
        if self.groups.is_empty() && self.strings.values.is_empty() {
            let (records_in, records_kept) = (self.records_in, self.records_kept);
            *self = other;
            self.records_in += records_in;
            self.records_kept += records_kept;
            return;
        }
        let remap = self.strings.remap(&other.strings);
        self.records_in += other.records_in;
        self.records_kept += other.records_kept;
        for (k, a) in other.groups {
            let key: Box<[KeyValue]> = k
                .iter()
                .map(|v| match *v {
                    KeyValue::Str(i) if i != NONE => KeyValue::Str(remap[i as usize]),
                    v => v,
                })
                .collect();
            match self.groups.get_mut(&key) {
                Some(mine) => mine.merge(&a),
                None => {
                    self.groups.insert(key, a);
                }
            }
        }
    }

    /// The result rows, sorted by bytes descending, then keys; at most `top`.
    pub fn finish(&self, q: &Query, top: Option<usize>) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .groups
            .iter()
            .map(|(k, a)| Row {
                keys: q
                    .keys
                    .iter()
                    .zip(k.iter())
                    .map(|(key, v)| (*key, self.value(*key, v)))
                    .collect(),
                records: a.records,
                packets: a.packets,
                bytes: a.bytes,
                first_seen: a.first,
                last_seen: a.last,
                stats: a.hist.as_ref().map(|h| {
                    // HDR reports a bucket's highest equivalent value, which can pass the
                    // exact maximum: never report a percentile above it.
                    let q = |q: f64| {
                        (!h.is_empty()).then(|| {
                            let v = h.value_at_quantile(q);
                            a.max_bytes.map_or(v, |m| v.min(m))
                        })
                    };
                    Stats {
                        p50: q(0.5),
                        p90: q(0.9),
                        p99: q(0.99),
                        max: a.max_bytes,
                    }
                }),
            })
            .collect();
        if q.keys.is_empty() && rows.is_empty() {
            rows.push(Row {
                keys: Vec::new(),
                records: 0,
                packets: 0,
                bytes: 0,
                first_seen: None,
                last_seen: None,
                stats: q.stats.then_some(Stats::default()),
            });
        }
        rows.sort_by(|a, b| {
            b.bytes.cmp(&a.bytes).then_with(|| {
                a.keys
                    .iter()
                    .zip(&b.keys)
                    .map(|((_, x), (_, y))| compare(x, y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        });
        if let Some(n) = top {
            rows.truncate(n);
        }
        rows
    }

    fn value(&self, key: Key, v: &KeyValue) -> Value {
        match *v {
            KeyValue::Null => Value::Null,
            KeyValue::Int(t) if bucket(key).is_some() => Value::from(crate::time::rfc3339(t)),
            KeyValue::Int(i) => Value::from(i),
            KeyValue::Str(i) => self.strings.get(i).map_or(Value::Null, Value::from),
            KeyValue::Addr(a) => Value::from(crate::output::addr_string(&a)),
        }
    }
}

/// Key order: nulls last, numbers numerically, text (addresses included) as text.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Value::Null, Value::Null) => Equal,
        (Value::Null, _) => Greater,
        (_, Value::Null) => Less,
        (Value::Number(x), Value::Number(y)) => x.as_i64().cmp(&y.as_i64()),
        (x, y) => x.as_str().cmp(&y.as_str()),
    }
}

/// Percentiles of bytes per record (HDR histogram, 3 significant digits) and the exact
/// maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

/// One result row.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub keys: Vec<(Key, Value)>,
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub stats: Option<Stats>,
}

impl Row {
    /// The row as (column, value) pairs, in output order.
    pub fn columns(&self) -> Vec<(&'static str, Value)> {
        let t = |x: Option<i64>| x.map_or(Value::Null, |t| Value::from(crate::time::rfc3339(t)));
        let mut out: Vec<(&'static str, Value)> = self
            .keys
            .iter()
            .map(|(k, v)| (k.name(), v.clone()))
            .collect();
        out.push(("records", self.records.into()));
        out.push(("packets", self.packets.into()));
        out.push(("bytes", self.bytes.into()));
        out.push(("first_seen", t(self.first_seen)));
        out.push(("last_seen", t(self.last_seen)));
        if let Some(s) = &self.stats {
            let o = |x: Option<u64>| x.map_or(Value::Null, Value::from);
            out.push(("p50", o(s.p50)));
            out.push(("p90", o(s.p90)));
            out.push(("p99", o(s.p99)));
            out.push(("max", o(s.max)));
        }
        out
    }
}
