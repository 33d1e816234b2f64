//! What a map covers of the flow logs, per ENI of the logs (`vpcflow map --coverage`):
//! its records and bytes, how many of its records the map knows the ENI at their time,
//! what the map says it is, and, for an ENI the map does not know, what its records
//! suggest it is.

use std::sync::Arc;

use arrow::array::{Array, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::{EniMap, PeerKind};
use crate::columns::{addr, col, int32, int64, TextCol, Times};
use crate::fold::Fold;

/// The columns of a coverage row, in order.
pub const COLUMNS: [&str; 9] = [
    "eni_id",
    "records",
    "bytes",
    "known_records",
    "unknown_records",
    "kind",
    "task_arn",
    "service",
    "looks_like",
];

/// Well-known server ports and what listens on them.
const PORTS: [(u16, &str); 12] = [
    (5432, "a PostgreSQL database"),
    (3306, "a MySQL database"),
    (1433, "an SQL Server database"),
    (1521, "an Oracle database"),
    (6379, "a Redis cache"),
    (11211, "a Memcached cache"),
    (27017, "a MongoDB database"),
    (9092, "a Kafka broker"),
    (2049, "an NFS/EFS mount target"),
    (22, "an SSH server"),
    (443, "an HTTPS server"),
    (80, "an HTTP server"),
];

/// What the records of one ENI show.
#[derive(Clone, Debug, Default)]
pub struct EniCoverage {
    pub records: u64,
    pub bytes: u64,
    /// Records whose ENI the map (or the record's ECS fields) knows at their time.
    pub known: u64,
    pub last_time: Option<i64>,
    /// The task the v7 ECS fields name, if any.
    pub ecs_task: Option<String>,
    pub ecs_service: Option<String>,
    /// Records whose packet addresses differ from the addresses (a NAT gateway's).
    pub translated: u64,
    /// Bytes of records into a low port of the ENI (below 32768), by port.
    pub served: FxHashMap<u16, u64>,
    /// Records with an internet peer.
    pub internet: u64,
}

/// Coverage per ENI id.
pub type Coverage = FxHashMap<String, EniCoverage>;

/// The fold over enriched batches.
pub struct CoverageFold {
    pub map: Arc<EniMap>,
}

impl Fold for CoverageFold {
    type State = Coverage;

    fn state(&self) -> Coverage {
        Coverage::default()
    }

    fn add(&self, state: &mut Coverage, batch: &RecordBatch) {
        let n = batch.num_rows();
        let Some(eni) = TextCol::of(batch, "interface_id") else {
            return;
        };
        let peer_kind = TextCol::of(batch, "peer_kind");
        let ecs_task = TextCol::of(batch, "ecs_task_arn");
        let ecs_service = TextCol::of(batch, "ecs_service_name");
        let bytes = col::<Int64Array>(batch, "bytes");
        let times = Times::of(batch);
        let inbound = col::<arrow::array::BooleanArray>(batch, "inbound");
        let dstport = col::<Int32Array>(batch, "dstport");
        let srcport = col::<Int32Array>(batch, "srcport");
        let src = col::<FixedSizeBinaryArray>(batch, "srcaddr");
        let dst = col::<FixedSizeBinaryArray>(batch, "dstaddr");
        let psrc = col::<FixedSizeBinaryArray>(batch, "pkt_srcaddr");
        let pdst = col::<FixedSizeBinaryArray>(batch, "pkt_dstaddr");
        for row in 0..n {
            let Some(id) = eni.get(row) else {
                continue;
            };
            let c = match state.get_mut(id) {
                Some(c) => c,
                None => state.entry(id.to_string()).or_default(),
            };
            let t = times.at(row);
            let b = int64(bytes, row).unwrap_or(0).max(0) as u64;
            c.records += 1;
            c.bytes = c.bytes.saturating_add(b);
            c.last_time = c.last_time.max(t);
            let mapped = self.map.eni_ref(id);
            if mapped.is_some_and(|r| r.within(t)) {
                c.known += 1;
            }
            if mapped.is_some() {
                continue;
            }
            if c.ecs_task.is_none() {
                c.ecs_task = ecs_task.as_ref().and_then(|x| x.get(row)).map(String::from);
                c.ecs_service = ecs_service
                    .as_ref()
                    .and_then(|x| x.get(row))
                    .map(String::from);
            }
            let differs = |a: Option<[u8; 16]>, p: Option<[u8; 16]>| matches!((a, p), (Some(a), Some(p)) if a != p);
            if differs(addr(src, row), addr(psrc, row)) || differs(addr(dst, row), addr(pdst, row))
            {
                c.translated += 1;
            }
            if peer_kind.as_ref().and_then(|k| k.get(row)) == Some(PeerKind::Internet.as_str()) {
                c.internet += 1;
            }
            let into = inbound.filter(|a| a.is_valid(row)).map(|a| a.value(row));
            let port = match into {
                Some(true) => int32(dstport, row),
                Some(false) => int32(srcport, row),
                None => None,
            };
            if let Some(p) = port.filter(|p| (1..32768).contains(p)) {
                if c.served.len() < 64 || c.served.contains_key(&(p as u16)) {
                    *c.served.entry(p as u16).or_default() += b;
                }
            }
        }
    }

    fn merge(&self, into: &mut Coverage, from: Coverage) {
        for (id, c) in from {
            let e = into.entry(id).or_default();
            e.records += c.records;
            e.bytes = e.bytes.saturating_add(c.bytes);
            e.known += c.known;
            e.last_time = e.last_time.max(c.last_time);
            if e.ecs_task.is_none() {
                e.ecs_task = c.ecs_task;
                e.ecs_service = c.ecs_service;
            }
            e.translated += c.translated;
            e.internet += c.internet;
            for (p, b) in c.served {
                *e.served.entry(p).or_default() += b;
            }
        }
    }
}

/// What the records of an ENI the map does not know suggest it is.
pub fn looks_like(c: &EniCoverage) -> String {
    if let Some(task) = &c.ecs_task {
        return match &c.ecs_service {
            Some(s) => format!("task {task} of service {s} (its records' ECS fields)"),
            None => format!("task {task} (its records' ECS fields)"),
        };
    }
    if c.translated * 2 > c.records {
        return "a NAT gateway (packet addresses differ from the addresses)".to_string();
    }
    let top = c
        .served
        .iter()
        .max_by_key(|(p, b)| (**b, std::cmp::Reverse(**p)))
        .map(|(p, _)| *p);
    match top {
        Some(p) => {
            let what = PORTS
                .iter()
                .find(|(q, _)| *q == p)
                .map_or_else(|| format!("a server on port {p}"), |(_, w)| w.to_string());
            if c.internet > 0 && matches!(p, 80 | 443) {
                format!("{what} reached from the internet (a load balancer or a public task?)")
            } else {
                what
            }
        }
        None if c.internet > 0 => "a client of internet addresses".to_string(),
        None => "a client inside the VPC".to_string(),
    }
}

/// The rows of `vpcflow map --coverage`: a total line, then one row per ENI by bytes.
pub fn rows(map: &EniMap, cov: &Coverage) -> Vec<Vec<(&'static str, Value)>> {
    let mut enis: Vec<(&String, &EniCoverage)> = cov.iter().collect();
    enis.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
    let text = |s: Option<&str>| s.map_or(Value::Null, Value::from);
    let mut out = Vec::with_capacity(enis.len() + 1);
    let (records, bytes, known) = cov.values().fold((0u64, 0u64, 0u64), |a, c| {
        (a.0 + c.records, a.1.saturating_add(c.bytes), a.2 + c.known)
    });
    let unknown_enis = cov.keys().filter(|e| map.eni_ref(e).is_none()).count();
    out.push(vec![
        ("eni_id", Value::from("total")),
        ("records", Value::from(records)),
        ("bytes", Value::from(bytes)),
        ("known_records", Value::from(known)),
        ("unknown_records", Value::from(records - known)),
        ("kind", Value::Null),
        ("task_arn", Value::Null),
        ("service", Value::Null),
        (
            "looks_like",
            Value::from(format!(
                "{} ENIs in the logs, {} of them never in the map",
                cov.len(),
                unknown_enis
            )),
        ),
    ]);
    for (id, c) in enis {
        let holder = map.eni_at(id, c.last_time);
        out.push(vec![
            ("eni_id", Value::from(id.as_str())),
            ("records", Value::from(c.records)),
            ("bytes", Value::from(c.bytes)),
            ("known_records", Value::from(c.known)),
            ("unknown_records", Value::from(c.records - c.known)),
            ("kind", text(holder.map(|h| h.kind.as_str()))),
            ("task_arn", text(holder.and_then(|h| h.task_arn.as_deref()))),
            ("service", text(holder.and_then(|h| h.service.as_deref()))),
            (
                "looks_like",
                match holder {
                    Some(_) => Value::Null,
                    None => Value::from(looks_like(c)),
                },
            ),
        ]);
    }
    out
}
