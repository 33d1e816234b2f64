//! `vpcflow query`: filters, group-by, top talkers, time buckets and percentiles.
//!
//! A [`Query`] says which records to keep (filters) and how to group them (keys). Each
//! batch is filtered with one boolean mask built column by column (a dictionary
//! column is tested once per distinct value, then the mask is read off its keys), and
//! the surviving rows are folded into a [`QueryState`]: one mergeable aggregate per
//! group with counts, sums, first/last seen and, with `--stats`, an HDR histogram of
//! bytes per record. States of files read in parallel are merged; the result is sorted
//! by bytes (descending) and then keys, so it is the same for any thread count.
//!
//! Besides the named keys and filters, any flow-log column is a group key
//! ([`Key::Column`]) and a filter ([`Where`]), by its Arrow name (`vpc_id`). What a
//! column holds is read off the batch's own column type, so one query serves every
//! layout: a column that a record's layout lacks is null for that record. A column that
//! no input has at all is not an answer of nulls but a mistake, which [`Watched`] lets
//! the caller notice.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::compute::filter_record_batch;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::aws_ranges::AwsRanges;
use crate::batch::Projection;
use crate::columns::{addr, col, int32, int64, TextCol, Times};
use crate::fold::Fold;
use crate::format::{column_name, is_field_name, lookup, Kind};
use crate::intern::{DictIds, Strings, NONE};
use crate::net::{Cidr, NetError};

pub mod conversations;

/// A group key of `--group-by`: a named key, or any flow-log column.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    PeerLb,
    Srcport,
    Dstport,
    Protocol,
    Action,
    Status,
    Direction,
    Minute,
    Hour,
    Day,
    /// The AWS service of the peer's address: the record's `pkt-src-aws-service` (the
    /// peer sent it) or `pkt-dst-aws-service` (the task did), or, where the layout has
    /// neither field (before v5), AWS's published ranges (`--aws-ip-ranges`).
    PeerAwsService,
    /// `--bucket DURATION`: the start of the record's time bucket of that many seconds.
    Bucket(i64),
    /// A flow-log column by its Arrow name (`vpc_id`), its values as they are: numbers,
    /// text, addresses; null where the record's layout lacks the column. A name that is
    /// also a named key (`srcaddr`, `protocol`, `action`) is that key instead.
    Column(Arc<str>),
}

impl Key {
    /// The named keys.
    pub const ALL: [Key; 20] = [
        Key::Eni,
        Key::Task,
        Key::Service,
        Key::Cluster,
        Key::Srcaddr,
        Key::Dstaddr,
        Key::Peer,
        Key::PeerKind,
        Key::PeerService,
        Key::PeerLb,
        Key::Srcport,
        Key::Dstport,
        Key::Protocol,
        Key::Action,
        Key::Status,
        Key::Direction,
        Key::Minute,
        Key::Hour,
        Key::Day,
        Key::PeerAwsService,
    ];

    /// The key's name, which is also its output column's.
    pub fn name(&self) -> &str {
        match self {
            Key::Column(c) => c,
            k => k.named().unwrap_or_default(),
        }
    }

    /// The name of a named key; `None` for a column.
    fn named(&self) -> Option<&'static str> {
        Some(match self {
            Key::Eni => "eni",
            Key::Task => "task",
            Key::Service => "service",
            Key::Cluster => "cluster",
            Key::Srcaddr => "srcaddr",
            Key::Dstaddr => "dstaddr",
            Key::Peer => "peer",
            Key::PeerKind => "peer_kind",
            Key::PeerService => "peer_service",
            Key::PeerLb => "peer_lb",
            Key::Srcport => "srcport",
            Key::Dstport => "dstport",
            Key::Protocol => "protocol",
            Key::Action => "action",
            Key::Status => "status",
            Key::Direction => "direction",
            Key::Minute => "minute",
            Key::Hour => "hour",
            Key::Day => "day",
            Key::PeerAwsService => "peer_aws_service",
            Key::Bucket(_) => "bucket",
            Key::Column(_) => return None,
        })
    }

    /// The names of the named keys, comma-separated.
    pub fn named_list() -> String {
        Key::ALL
            .iter()
            .filter_map(Key::named)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The key of one name: a named key, else a flow-log column by its Arrow or AWS name
    /// in any case (`vpc_id`, `vpc-id`).
    pub fn parse(name: &str) -> Result<Key, QueryError> {
        if let Some(k) = Key::ALL.iter().find(|k| k.named() == Some(name)) {
            return Ok(k.clone());
        }
        if name == "bucket" {
            return Err(QueryError::KeyNotColumn {
                column: name.to_string(),
                flag: "--bucket DURATION",
            });
        }
        let (column, _) = flow_column(name).ok_or_else(|| QueryError::NotAKey {
            name: name.to_string(),
        })?;
        Ok(Key::ALL
            .iter()
            .find(|k| k.named() == Some(column.as_str()))
            .cloned()
            .unwrap_or_else(|| Key::Column(column.into())))
    }

    /// Parses `--group-by eni,hour,vpc_id`.
    pub fn parse_list(s: &str) -> Result<Vec<Key>, QueryError> {
        let mut keys = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let k = Key::parse(part)?;
            if keys.contains(&k) {
                return Err(QueryError::Twice {
                    name: part.to_string(),
                });
            }
            keys.push(k);
        }
        Ok(keys)
    }

    /// Whether the key needs the attribution columns.
    fn needs_enrichment(&self) -> bool {
        matches!(
            self,
            Key::Task
                | Key::Service
                | Key::Cluster
                | Key::Peer
                | Key::PeerKind
                | Key::PeerService
                | Key::PeerLb
                | Key::Direction
                | Key::PeerAwsService
        )
    }

    /// The flow-log columns the key reads.
    fn columns(&self) -> &[&str] {
        match self {
            Key::Eni => &["interface_id"],
            Key::Srcaddr => &["srcaddr"],
            Key::Dstaddr => &["dstaddr"],
            Key::Srcport => &["srcport"],
            Key::Dstport => &["dstport"],
            Key::Protocol => &["protocol"],
            Key::Action => &["action"],
            Key::Status => &["log_status"],
            Key::PeerAwsService => &PEER_AWS_COLUMNS,
            _ => &[],
        }
    }
}

/// What is wrong with a group key or a `--where` filter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error(
        "{name:?} is not a group key (one of {}) nor a flow-log column ({ANY_COLUMN})",
        Key::named_list()
    )]
    NotAKey { name: String },
    #[error("{name:?} is given twice")]
    Twice { name: String },
    #[error("{column:?} is not a flow-log column; use {flag}")]
    KeyNotColumn { column: String, flag: &'static str },
    #[error("{column:?} is not a flow-log column ({ANY_COLUMN})")]
    NotAColumn { column: String },
    /// A value the column cannot hold; `why` says what it should be.
    #[error("{column}={value}: {why}")]
    BadValue {
        column: String,
        value: String,
        why: String,
    },
}

/// How messages describe the flow-log columns that keys and filters accept.
const ANY_COLUMN: &str = "any field name of a header, by its Parquet name: vpc_id, \
                          subnet_id, instance_id, az_id, traffic_path, pkt_dst_aws_service, \
                          ecs_cluster_name, instance_tag, ...";

/// A flow-log column, as its Arrow name and kind: a known field by its Arrow or AWS
/// name in any case, or any other field name, which a header line may use and which is
/// then a text column (the contract keeps unknown fields as strings). A name that no
/// input has is reported after the scan, with the columns the inputs do have.
fn flow_column(name: &str) -> Option<(String, Kind)> {
    match lookup(name) {
        Some(def) => Some((column_name(def.name), def.kind)),
        None => {
            let lower = name.to_ascii_lowercase();
            is_field_name(&lower).then(|| (column_name(&lower), Kind::Str))
        }
    }
}

/// The values a `--where` filter accepts for one column, typed as the column is.
#[derive(Clone, Debug, PartialEq)]
pub enum WhereValues {
    /// Integer columns (ports, protocol, packets, `start`, `traffic_path`, ...).
    Int(Vec<i64>),
    /// Address columns: CIDR blocks (a bare address is a /32 or /128).
    Addr(Vec<Cidr>),
    /// Text columns, compared exactly, or ignoring ASCII case.
    Text {
        values: Vec<String>,
        ignore_case: bool,
    },
}

/// A `--where COLUMN=VALUE` filter on one flow-log column: a record matches when its
/// value is any of the values given for the column.
#[derive(Clone, Debug, PartialEq)]
pub struct Where {
    /// The Arrow name (`vpc_id`).
    pub column: String,
    /// `-` was given: a null value matches (a `-` in the log, or a record whose layout
    /// lacks the column), as it is grouped by `--group-by COLUMN`.
    pub null: bool,
    pub values: WhereValues,
}

/// Text columns whose values `--where` compares in any case, like `--action` and
/// `--status` do.
const CASELESS: [&str; 3] = ["action", "log_status", "flow_direction"];

/// Where the named keys that are not flow-log columns are filtered instead.
fn flag_of_key(name: &str) -> Option<&'static str> {
    Some(match name {
        "eni" => "--eni",
        "task" => "--task",
        "service" => "--service",
        "cluster" => "--cluster",
        "peer" => "--peer",
        "peer_kind" => "--peer-kind",
        "peer_service" => "--peer-service",
        "peer_lb" => "--peer-lb",
        "status" => "--status",
        "direction" => "--direction",
        "peer_aws_service" => "--peer-aws-service",
        "bucket" => "--bucket",
        "minute" | "hour" | "day" => "--since/--until",
        _ => return None,
    })
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
    /// Load balancers of the peer (`app/web-alb`).
    pub peer_lb: Vec<String>,
    /// Either side's port.
    pub port: Vec<u16>,
    pub protocol: Vec<i32>,
    /// Upper-case `ACCEPT`/`REJECT`.
    pub action: Vec<String>,
    /// Upper-case `OK`/`NODATA`/`SKIPDATA`.
    pub status: Vec<String>,
    /// `ingress`/`egress`.
    pub direction: Vec<String>,
    /// `--where`: one entry per column (values ORed), the columns ANDed.
    pub columns: Vec<Where>,
    /// AWS services of the peer's address (`S3`, `EC2`, any case); see
    /// [`Key::PeerAwsService`].
    pub peer_aws_service: Vec<String>,
    /// AWS's published ranges, for the peer's AWS service where the layout has no
    /// `pkt-*-aws-service` field.
    pub aws_ranges: Option<Ranges>,
}

/// AWS's published ranges, shared by the workers.
#[derive(Clone)]
pub struct Ranges(pub Arc<AwsRanges>);

impl std::fmt::Debug for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ranges(ip-ranges.json)")
    }
}

/// The flow-log columns the peer's AWS service is read from.
const PEER_AWS_COLUMNS: [&str; 2] = ["pkt_src_aws_service", "pkt_dst_aws_service"];

/// The columns that say the AWS service of a record's peer (see
/// [`Key::PeerAwsService`]), looked up once per batch.
struct PeerAws<'a> {
    inbound: Option<&'a BooleanArray>,
    src: Option<TextCol<'a>>,
    dst: Option<TextCol<'a>>,
    peer: Option<&'a FixedSizeBinaryArray>,
    ranges: Option<&'a AwsRanges>,
}

impl<'a> PeerAws<'a> {
    fn of(batch: &'a RecordBatch, ranges: Option<&'a Ranges>) -> PeerAws<'a> {
        PeerAws {
            inbound: col(batch, "inbound"),
            src: TextCol::of(batch, "pkt_src_aws_service"),
            dst: TextCol::of(batch, "pkt_dst_aws_service"),
            peer: col(batch, "peer_addr"),
            ranges: ranges.map(|r| r.0.as_ref()),
        }
    }

    /// The AWS service of the record's peer: the peer's side of the record's fields
    /// where its layout has them (a `-` there: none), else AWS's ranges.
    fn get(&self, row: usize) -> Option<&'a str> {
        let inbound = self
            .inbound
            .filter(|a| a.is_valid(row))
            .map(|a| a.value(row))?;
        let field = if inbound { &self.src } else { &self.dst };
        match field {
            Some(c) => c.get(row),
            None => {
                let a = addr(self.peer, row)?;
                self.ranges?.lookup(&a).map(|s| s.service)
            }
        }
    }
}

impl Filters {
    /// Adds `--where COLUMN=VALUE`: ORed with the column's other values, ANDed with
    /// every other filter. `VALUE` is read as the column's type: an integer, an address
    /// or CIDR block, or text; `-` matches null.
    pub fn add_where(&mut self, column: &str, value: &str) -> Result<(), QueryError> {
        if let Some(flag) = flag_of_key(column) {
            return Err(QueryError::KeyNotColumn {
                column: column.to_string(),
                flag,
            });
        }
        let (name, kind) = flow_column(column).ok_or_else(|| QueryError::NotAColumn {
            column: column.to_string(),
        })?;
        let bad = |why: String| QueryError::BadValue {
            column: name.clone(),
            value: value.to_string(),
            why,
        };
        // The value as the column's type, before anything is added.
        enum One {
            Null,
            Int(i64),
            Addr(Cidr),
            Text(String),
        }
        let one = match (value, kind) {
            ("-", _) => One::Null,
            ("", _) => return Err(bad("an empty value matches nothing (- matches null)".into())),
            (_, Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp) => {
                let max = match kind {
                    Kind::Int32 { max } => max,
                    _ => i64::MAX,
                };
                One::Int(match name.as_str() {
                    "protocol" => crate::net::parse_protocol(value)
                        .map(i64::from)
                        .map_err(|e| bad(e.to_string()))?,
                    _ => value
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| i64::try_from(n).ok())
                        .filter(|&n| n <= max)
                        .ok_or_else(|| bad(format!("not an integer from 0 to {max}")))?,
                })
            }
            (_, Kind::Addr) => One::Addr(value.parse().map_err(|e: NetError| bad(e.to_string()))?),
            (_, Kind::Dict | Kind::Str) => One::Text(value.to_string()),
        };
        let w = match self.columns.iter().position(|w| w.column == name) {
            Some(i) => &mut self.columns[i],
            None => {
                let values = match kind {
                    Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp => WhereValues::Int(vec![]),
                    Kind::Addr => WhereValues::Addr(vec![]),
                    Kind::Dict | Kind::Str => WhereValues::Text {
                        values: vec![],
                        ignore_case: CASELESS.contains(&name.as_str()),
                    },
                };
                self.columns.push(Where {
                    column: name,
                    null: false,
                    values,
                });
                self.columns.last_mut().expect("just pushed")
            }
        };
        // Both follow the column's kind, so they agree.
        match (one, &mut w.values) {
            (One::Null, _) => w.null = true,
            (One::Int(n), WhereValues::Int(v)) => v.push(n),
            (One::Addr(c), WhereValues::Addr(v)) => v.push(c),
            (One::Text(t), WhereValues::Text { values, .. }) => values.push(t),
            _ => {}
        }
        Ok(())
    }

    fn needs_enrichment(&self) -> bool {
        !(self.task.is_empty()
            && self.peer_aws_service.is_empty()
            && self.service.is_empty()
            && self.cluster.is_empty()
            && self.peer.is_empty()
            && self.peer_kind.is_empty()
            && self.peer_service.is_empty()
            && self.peer_lb.is_empty()
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
            match k {
                Key::Column(c) => add(&[c]),
                k => add(k.columns()),
            }
        }
        for w in &f.columns {
            add(&[&w.column]);
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
        if !f.peer_aws_service.is_empty() {
            add(&PEER_AWS_COLUMNS);
        }
        if self.needs_enrichment() {
            add(&crate::enrich::join::INPUT_COLUMNS);
        }
        p
    }

    /// The flow-log columns named by column keys and `--where`, each once: the ones
    /// that at least one input must have for the answer to mean anything.
    pub fn named_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let keys = self.keys.iter().filter_map(|k| match k {
            Key::Column(c) => Some(c.to_string()),
            _ => None,
        });
        for c in keys.chain(self.filters.columns.iter().map(|w| w.column.clone())) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

/// A fold that also notes which of some columns its batches had (each batch's schema
/// lists the columns of its layout that the projection kept), so that a query naming a
/// column that no input has can say so instead of answering with nulls.
pub struct Watched<'a, F> {
    pub job: &'a F,
    /// Arrow names.
    pub columns: &'a [String],
}

impl<F: Fold> Fold for Watched<'_, F> {
    /// The job's state, and per column whether a batch had it.
    type State = (F::State, Vec<bool>);
    fn state(&self) -> Self::State {
        (self.job.state(), vec![false; self.columns.len()])
    }
    fn add(&self, (state, seen): &mut Self::State, batch: &RecordBatch) {
        let schema = batch.schema_ref();
        for (seen, c) in seen.iter_mut().zip(self.columns) {
            *seen |= schema.column_with_name(c).is_some();
        }
        self.job.add(state, batch);
    }
    fn merge(&self, (into, seen): &mut Self::State, (from, also): Self::State) {
        self.job.merge(into, from);
        for (a, b) in seen.iter_mut().zip(also) {
            *a |= b;
        }
    }
}

impl Fold for Query {
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
            s == v || crate::enrich::arn_name(s) == v
        }));
    }
    if !f.service.is_empty() {
        and(text("service", &f.service, &|s, v| s == v));
    }
    if !f.cluster.is_empty() {
        and(text("cluster", &f.cluster, &|s, v| {
            s == v || crate::enrich::arn_name(s) == v
        }));
    }
    if !f.peer_kind.is_empty() {
        and(text("peer_kind", &f.peer_kind, &|s, v| s == v));
    }
    if !f.peer_service.is_empty() {
        and(text("peer_service", &f.peer_service, &|s, v| s == v));
    }
    if !f.peer_lb.is_empty() {
        and(text("peer_lb", &f.peer_lb, &|s, v| s == v));
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
    if !f.peer_aws_service.is_empty() {
        let aws = PeerAws::of(batch, f.aws_ranges.as_ref());
        and((0..n)
            .map(|r| {
                aws.get(r)
                    .is_some_and(|s| f.peer_aws_service.iter().any(|v| v.eq_ignore_ascii_case(s)))
            })
            .collect());
    }
    if !f.direction.is_empty() {
        let inbound: Option<&BooleanArray> = col(batch, "inbound");
        and((0..n)
            .map(|r| direction(inbound, r).is_some_and(|d| f.direction.iter().any(|x| x == d)))
            .collect());
    }
    for w in &f.columns {
        and(where_mask(batch, w));
    }
    if keep.iter().all(|k| *k) {
        return batch.clone();
    }
    filter_record_batch(batch, &BooleanArray::from(keep)).expect("mask has the batch's length")
}

/// The rows of `batch` that one `--where` column filter keeps. The test follows the
/// batch's column type; a batch without the column (its layout lacks it) has nulls
/// there.
fn where_mask(batch: &RecordBatch, w: &Where) -> Vec<bool> {
    let n = batch.num_rows();
    let Some(c) = batch.column_by_name(&w.column) else {
        return vec![w.null; n];
    };
    let mut m = match &w.values {
        WhereValues::Int(v) if !v.is_empty() => {
            if let Some(a) = c.as_any().downcast_ref::<Int32Array>() {
                (0..n)
                    .map(|r| int32(Some(a), r).is_some_and(|x| v.contains(&(x as i64))))
                    .collect()
            } else if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
                (0..n)
                    .map(|r| int64(Some(a), r).is_some_and(|x| v.contains(&x)))
                    .collect()
            } else {
                vec![false; n]
            }
        }
        WhereValues::Addr(blocks) if !blocks.is_empty() => {
            let a = c.as_any().downcast_ref::<FixedSizeBinaryArray>();
            (0..n)
                .map(|r| addr(a, r).is_some_and(|x| blocks.iter().any(|b| b.contains(&x))))
                .collect()
        }
        WhereValues::Text {
            values,
            ignore_case,
        } if !values.is_empty() => match TextCol::of(batch, &w.column) {
            Some(t) if *ignore_case => {
                mask(&t, n, |s| values.iter().any(|v| s.eq_ignore_ascii_case(v)))
            }
            Some(t) => mask(&t, n, |s| values.iter().any(|v| s == v)),
            None => vec![false; n],
        },
        _ => vec![false; n],
    };
    if w.null {
        for (r, m) in m.iter_mut().enumerate() {
            *m |= c.is_null(r);
        }
    }
    m
}

/// Time bucket sizes of the time keys.
fn bucket(k: &Key) -> Option<i64> {
    match k {
        Key::Minute => Some(60),
        Key::Hour => Some(3600),
        Key::Day => Some(86_400),
        Key::Bucket(s) => Some(*s),
        _ => None,
    }
}

/// How one group key is read from a batch.
enum Reader<'a> {
    Dict(DictIds<'a>),
    Text(Option<TextCol<'a>>),
    Addr(Option<&'a FixedSizeBinaryArray>),
    Int(Option<&'a Int32Array>),
    Long(Option<&'a Int64Array>),
    Time(i64),
    Dir(Option<&'a BooleanArray>),
    Aws(PeerAws<'a>),
}

impl<'a> Reader<'a> {
    fn of(batch: &'a RecordBatch, k: &Key, ranges: Option<&'a Ranges>) -> Reader<'a> {
        let text = |name: &str| match DictIds::of(batch, name) {
            Some(d) => Reader::Dict(d),
            None => Reader::Text(TextCol::of(batch, name)),
        };
        match k {
            Key::Eni => text("interface_id"),
            Key::Task => text("task_arn"),
            Key::Service => text("service"),
            Key::Cluster => text("cluster"),
            Key::Action => text("action"),
            Key::Status => text("log_status"),
            Key::Srcaddr => Reader::Addr(col(batch, "srcaddr")),
            Key::Dstaddr => Reader::Addr(col(batch, "dstaddr")),
            Key::Peer => Reader::Addr(col(batch, "peer_addr")),
            Key::PeerKind => text("peer_kind"),
            Key::PeerService => text("peer_service"),
            Key::PeerLb => text("peer_lb"),
            Key::Srcport => Reader::Int(col(batch, "srcport")),
            Key::Dstport => Reader::Int(col(batch, "dstport")),
            Key::Protocol => Reader::Int(col(batch, "protocol")),
            Key::Direction => Reader::Dir(col(batch, "inbound")),
            Key::Minute | Key::Hour | Key::Day | Key::Bucket(_) => {
                Reader::Time(bucket(k).unwrap_or(60))
            }
            Key::PeerAwsService => Reader::Aws(PeerAws::of(batch, ranges)),
            // As the decoder typed the column; absent from this layout: null.
            Key::Column(c) => match batch.column_by_name(c).map(|a| a.data_type()) {
                Some(DataType::Int32) => Reader::Int(col(batch, c)),
                Some(DataType::Int64) => Reader::Long(col(batch, c)),
                Some(DataType::FixedSizeBinary(_)) => Reader::Addr(col(batch, c)),
                _ => text(c),
            },
        }
    }

    /// The key's value in `row`, whose time is `t`.
    #[inline]
    fn value(&mut self, row: usize, t: Option<i64>, strings: &mut Strings) -> KeyValue {
        match self {
            Reader::Dict(d) => match d.id(row, strings) {
                NONE => KeyValue::Null,
                id => KeyValue::Str(id),
            },
            Reader::Text(Some(c)) => match c.get(row) {
                Some(s) => KeyValue::Str(strings.id(s)),
                None => KeyValue::Null,
            },
            Reader::Text(None) => KeyValue::Null,
            Reader::Addr(a) => addr(*a, row).map_or(KeyValue::Null, KeyValue::Addr),
            Reader::Int(a) => int32(*a, row).map_or(KeyValue::Null, |v| KeyValue::Int(v as i64)),
            Reader::Long(a) => int64(*a, row).map_or(KeyValue::Null, KeyValue::Int),
            Reader::Time(size) => t.map_or(KeyValue::Null, |t| {
                KeyValue::Int(t.div_euclid(*size) * *size)
            }),
            Reader::Dir(d) => match direction(*d, row) {
                Some(s) => KeyValue::Str(strings.id(s)),
                None => KeyValue::Null,
            },
            Reader::Aws(a) => match a.get(row) {
                Some(s) => KeyValue::Str(strings.id(s)),
                None => KeyValue::Null,
            },
        }
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
        let times = Times::of(&batch);
        let ranges = q.filters.aws_ranges.as_ref();
        let mut readers: Vec<Reader> = q
            .keys
            .iter()
            .map(|k| Reader::of(&batch, k, ranges))
            .collect();
        let mut key: Vec<KeyValue> = Vec::with_capacity(q.keys.len());
        for row in 0..n {
            key.clear();
            let t = times.at(row);
            for r in readers.iter_mut() {
                key.push(r.value(row, t, &mut self.strings));
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
            agg.last = max_opt(agg.last, times.last(row));
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
                    .map(|(key, v)| (key.clone(), self.value(key, v)))
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

    fn value(&self, key: &Key, v: &KeyValue) -> Value {
        match *v {
            KeyValue::Null => Value::Null,
            KeyValue::Int(t) if bucket(key).is_some() => Value::from(crate::time::rfc3339(t)),
            KeyValue::Int(i) => Value::from(i),
            KeyValue::Str(i) => self.strings.get(i).map_or(Value::Null, Value::from),
            KeyValue::Addr(a) => Value::from(crate::net::addr_string(&a)),
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
    pub fn columns(&self) -> Vec<(&str, Value)> {
        let t = |x: Option<i64>| x.map_or(Value::Null, |t| Value::from(crate::time::rfc3339(t)));
        let mut out: Vec<(&str, Value)> = self
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

/// A `--bucket` duration in seconds: a positive whole number and its unit, `s`, `m`,
/// `h` or `d` (`30s`, `5m`, `1h`, `1d`).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let unit = s.chars().last().unwrap_or(' ');
    let size = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => {
            return Err(format!(
                "{s:?} is not a duration (a number and s, m, h or d: 30s, 5m, 1h, 1d)"
            ))
        }
    };
    let n: i64 = s[..s.len() - 1]
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= 366 * 86_400)
        .ok_or_else(|| {
            format!("{s:?} is not a duration (a number from 1 and s, m, h or d: 30s, 5m, 1h, 1d)")
        })?;
    Ok(n * size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{decode_slice, DecoderOptions};

    /// Two layouts in one input: v2 (no vpc-id), then a v5-like custom order.
    const TWO_LAYOUTS: &str = "\
version interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 eni-a 10.0.1.5 10.0.2.9 40000 443 6 2 100 1793491200 1793491260 ACCEPT OK
version vpc-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status traffic-path
5 vpc-1 eni-b 10.0.1.6 10.0.2.9 40001 443 6 3 200 1793491200 1793491260 ACCEPT OK 1
5 vpc-2 eni-b 192.0.2.1 10.0.2.9 40002 22 6 4 400 1793491200 1793491260 REJECT OK 8
5 - eni-c - - - - - - - 1793491200 1793491260 - NODATA -
";

    fn decoded(projection: &[&str]) -> Vec<RecordBatch> {
        let p: Projection = projection.iter().map(|s| s.to_string()).collect();
        decode_slice(
            TWO_LAYOUTS.as_bytes(),
            DecoderOptions {
                projection: Some(Arc::new(p)),
                ..Default::default()
            },
        )
        .batches
    }

    /// The `bytes` of the rows the filters keep, over every batch.
    fn kept(f: &Filters, q: &Query) -> Vec<Option<i64>> {
        let mut out = Vec::new();
        for b in decoded(
            &q.projection()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        ) {
            let b = filter(&b, f);
            let bytes: Option<&Int64Array> = col(&b, "bytes");
            out.extend((0..b.num_rows()).map(|r| int64(bytes, r)));
        }
        out
    }

    fn wheres(specs: &[(&str, &str)]) -> Query {
        let mut q = Query::default();
        for (c, v) in specs {
            q.filters.add_where(c, v).unwrap();
        }
        q
    }

    #[test]
    fn named_keys_win_over_columns_of_the_same_name() {
        assert_eq!(Key::parse("srcaddr"), Ok(Key::Srcaddr));
        assert_eq!(Key::parse("SrcAddr"), Ok(Key::Srcaddr));
        assert_eq!(Key::parse("action"), Ok(Key::Action));
        assert_eq!(Key::parse("vpc-id"), Ok(Key::Column("vpc_id".into())));
        assert_eq!(
            Key::parse("LOG_STATUS"),
            Ok(Key::Column("log_status".into()))
        );
        assert_eq!(Key::parse("start"), Ok(Key::Column("start".into())));
        // Any other field name (a custom header's) is a text column; other text is not.
        assert_eq!(Key::parse("Team"), Ok(Key::Column("team".into())));
        assert!(Key::parse("two words")
            .unwrap_err()
            .to_string()
            .contains("nor a flow-log column"));
        assert_eq!(
            Key::parse_list("vpc_id, vpc-id").map_err(|e| e.to_string()),
            Err("\"vpc-id\" is given twice".into())
        );
    }

    #[test]
    fn where_values_are_typed_by_the_column() {
        let q = wheres(&[
            ("dstport", "443"),
            ("dstport", "22"),
            ("protocol", "udp"),
            ("srcaddr", "10.0.0.0/8"),
            ("ACTION", "reject"),
            ("vpc-id", "-"),
            ("vpc_id", "vpc-1"),
        ]);
        let w = &q.filters.columns;
        assert_eq!(w.len(), 5);
        assert_eq!(w[0].values, WhereValues::Int(vec![443, 22]));
        assert_eq!(w[1].values, WhereValues::Int(vec![17]));
        assert_eq!(
            w[2].values,
            WhereValues::Addr(vec!["10.0.0.0/8".parse().unwrap()])
        );
        assert_eq!(
            w[3].values,
            WhereValues::Text {
                values: vec!["reject".into()],
                ignore_case: true
            }
        );
        assert_eq!((w[4].column.as_str(), w[4].null), ("vpc_id", true));
        assert_eq!(
            w[4].values,
            WhereValues::Text {
                values: vec!["vpc-1".into()],
                ignore_case: false
            }
        );
        let mut f = Filters::default();
        assert_eq!(
            f.add_where("dstport", "65536").map_err(|e| e.to_string()),
            Err("dstport=65536: not an integer from 0 to 65535".into())
        );
        assert_eq!(
            f.add_where("peer_kind", "task").map_err(|e| e.to_string()),
            Err("\"peer_kind\" is not a flow-log column; use --peer-kind".into())
        );
    }

    #[test]
    fn where_filters_every_layout_and_nulls_match_dash() {
        // A layout without the column has nulls there: not matched by a value...
        let q = wheres(&[("vpc_id", "vpc-1"), ("vpc_id", "vpc-2")]);
        assert_eq!(kept(&q.filters, &q), [Some(200), Some(400)]);
        // ...matched by `-`, like a `-` in the log.
        let q = wheres(&[("vpc_id", "-")]);
        assert_eq!(kept(&q.filters, &q), [Some(100), None]);
        // Same column ORed, columns ANDed, integers and CIDR blocks.
        let q = wheres(&[
            ("dstport", "443"),
            ("dstport", "22"),
            ("srcaddr", "10.0.0.0/16"),
        ]);
        assert_eq!(kept(&q.filters, &q), [Some(100), Some(200)]);
        let q = wheres(&[("traffic_path", "8"), ("action", "reject")]);
        assert_eq!(kept(&q.filters, &q), [Some(400)]);
    }

    #[test]
    fn column_keys_group_as_typed_and_note_the_columns_seen() {
        let q = Query {
            keys: Key::parse_list("vpc_id,traffic_path,srcaddr").unwrap(),
            ..Default::default()
        };
        let named = q.named_columns();
        assert_eq!(named, ["vpc_id", "traffic_path"]);
        let job = Watched {
            job: &q,
            columns: &named,
        };
        let mut state = job.state();
        let projection = q.projection();
        for b in decoded(&projection.iter().map(String::as_str).collect::<Vec<_>>()) {
            job.add(&mut state, &b);
        }
        assert_eq!(state.1, [true, true]);
        let rows = state.0.finish(&q, None);
        let rows: Vec<Vec<(&str, Value)>> =
            rows.iter().map(|r| r.columns()[..4].to_vec()).collect();
        let v = |s: &str| Value::from(s);
        assert_eq!(
            rows,
            [
                vec![
                    ("vpc_id", v("vpc-2")),
                    ("traffic_path", 8.into()),
                    ("srcaddr", v("192.0.2.1")),
                    ("records", 1.into())
                ],
                vec![
                    ("vpc_id", v("vpc-1")),
                    ("traffic_path", 1.into()),
                    ("srcaddr", v("10.0.1.6")),
                    ("records", 1.into())
                ],
                vec![
                    ("vpc_id", Value::Null),
                    ("traffic_path", Value::Null),
                    ("srcaddr", v("10.0.1.5")),
                    ("records", 1.into())
                ],
                vec![
                    ("vpc_id", Value::Null),
                    ("traffic_path", Value::Null),
                    ("srcaddr", Value::Null),
                    ("records", 1.into())
                ],
            ]
        );
    }
}
