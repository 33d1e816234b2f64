//! The audit: which peers opened (or tried to open) connections to tasks that the
//! policy does not allow.
//!
//! It reads what the join decided (see `enrich::orient`): each record's own ENI and
//! its owner, its peer and the peer's owner, and whether it came in (`inbound`).
//! Records of audited tasks are folded into connections, one per task ENI, owner,
//! protocol, own port, peer address, peer port and peer owner (an address that moved to
//! another task is another peer). Who opened each connection is decided once, from all
//! of its records over every file and window, by [`crate::initiator`]; a connection the
//! peer opened and the policy does not allow is a finding. A response to the task's own
//! connection is therefore never a finding, in any format.
//!
//! Records whose peer the policy admits are only counted: no connection state is kept
//! for them, so memory follows the suspicious traffic, not all of it. State is
//! mergeable ([`AuditState::merge`]), so inputs are folded in parallel and reduced,
//! with identical results for any thread count.

use std::collections::BTreeSet;

use arrow::array::{Array, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::Policy;
use crate::columns::{addr, col, int32, int64};
use crate::enrich::EniMap;
use crate::initiator::{self, Connection, Sent};
use crate::intern::{DictIds, Strings, NONE};

/// The rule name of the findings made here.
pub const UNEXPECTED_INGRESS: &str = "unexpected-ingress";

/// The fixed setting of an audit: the policy and the map.
pub struct Auditor<'a> {
    pub policy: &'a Policy,
    pub map: &'a EniMap,
}

/// The flow-log columns the audit reads besides the join's (projection pushdown).
const COLUMNS: [&str; 7] = [
    "protocol",
    "srcport",
    "dstport",
    "tcp_flags",
    "action",
    "packets",
    "bytes",
];

/// The flow-log columns the audit and its attribution read (projection pushdown).
pub fn projection() -> crate::batch::Projection {
    crate::enrich::join::INPUT_COLUMNS
        .iter()
        .chain(&COLUMNS)
        .map(|c| c.to_string())
        .collect()
}

impl crate::pipeline::Fold for Auditor<'_> {
    type State = AuditState;
    fn state(&self) -> AuditState {
        AuditState::default()
    }
    fn add(&self, state: &mut AuditState, batch: &RecordBatch) {
        state.add(batch, self);
    }
    fn merge(&self, into: &mut AuditState, from: AuditState) {
        into.merge(from);
    }
}

/// A protocol number that was not logged.
const NO_PROTOCOL: u16 = u16::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ConnKey {
    /// The task's ENI id and its owner (task, service, cluster), interned.
    eni: u32,
    owner: u32,
    peer_addr: [u8; 16],
    protocol: u16,
    own_port: u16,
    peer_port: u16,
    /// The peer's ENI, kind, task, service and cluster, interned.
    peer: u32,
}

/// Traffic of one direction and action: counts and time span.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Traffic {
    records: u64,
    packets: u64,
    bytes: u64,
    first: i64,
    last: i64,
}

impl Traffic {
    fn add(&mut self, packets: u64, bytes: u64, start: i64, end: i64) {
        if self.records == 0 {
            self.first = start;
            self.last = end;
        } else {
            self.first = self.first.min(start);
            self.last = self.last.max(end);
        }
        self.records += 1;
        self.packets = self.packets.saturating_add(packets);
        self.bytes = self.bytes.saturating_add(bytes);
    }

    fn merge(&mut self, o: &Traffic) {
        if o.records == 0 {
            return;
        }
        if self.records == 0 {
            *self = *o;
            return;
        }
        self.records += o.records;
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Conn {
    /// What the task (0) and the peer (1) sent.
    sent: [Sent; 2],
    /// Peer -> task records, by action (ACCEPT, REJECT).
    inbound: [Traffic; 2],
}

impl Conn {
    fn merge(&mut self, o: &Conn) {
        for i in 0..2 {
            self.sent[i].merge(&o.sent[i]);
            self.inbound[i].merge(&o.inbound[i]);
        }
    }
}

/// Interned tuples of interned strings: owners of task ENIs, and peers.
#[derive(Clone, Debug, Default)]
struct Tuples<const N: usize> {
    ids: FxHashMap<[u32; N], u32>,
    values: Vec<[u32; N]>,
}

impl<const N: usize> Tuples<N> {
    fn id(&mut self, t: [u32; N]) -> u32 {
        let next = self.values.len() as u32;
        *self.ids.entry(t).or_insert_with(|| {
            self.values.push(t);
            next
        })
    }

    /// Ids here of another table's tuples, whose strings `m` maps to ids here.
    fn absorb(&mut self, other: &Tuples<N>, m: impl Fn(u32) -> u32) -> Vec<u32> {
        other.values.iter().map(|t| self.id(t.map(&m))).collect()
    }
}

/// The audit's mergeable state.
#[derive(Default, Clone)]
pub struct AuditState {
    strings: Strings,
    owners: Tuples<3>,
    peers: Tuples<5>,
    conns: FxHashMap<ConnKey, Conn>,
    /// Task id -> how far it could be audited.
    tasks: FxHashMap<u32, Audited>,
    /// Services of tasks that are not audited.
    unaudited_services: BTreeSet<u32>,
    counts: Counts,
}

/// How far a task could be audited; a task seen in several records takes the most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Audited {
    /// Its service has no rule (and there is no `[defaults]`).
    NoRule,
    /// It has a rule, but the direction of none of its records could be decided.
    Undirected,
    Yes,
}

/// Record counts of an audit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records seen.
    pub records: u64,
    /// Records without an `interface_id` (a layout without it): nobody's records.
    pub without_interface: u64,
    /// Records logged on task ENIs.
    pub on_tasks: u64,
    /// Records of audited tasks whose direction could not be decided.
    pub undirected: u64,
    /// Records of audited tasks whose peer the policy admits.
    pub admitted: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.records += o.records;
        self.without_interface += o.without_interface;
        self.on_tasks += o.on_tasks;
        self.undirected += o.undirected;
        self.admitted += o.admitted;
    }
}

/// Who a peer is: ENI, kind, task, service, cluster (interned; `NONE` when unknown).
const PEER_ENI: usize = 0;
const PEER_KIND: usize = 1;
const PEER_TASK: usize = 2;
const PEER_SERVICE: usize = 3;
const PEER_CLUSTER: usize = 4;

impl AuditState {
    /// Folds one enriched batch (see `enrich::join`) into the state.
    pub fn add(&mut self, batch: &RecordBatch, auditor: &Auditor) {
        let n = batch.num_rows();
        self.counts.records += n as u64;
        let Some(mut eni) = DictIds::of(batch, "interface_id") else {
            self.counts.without_interface += n as u64;
            return;
        };
        let (Some(kind), Some(mut task), Some(mut service), Some(mut cluster)) = (
            DictIds::of(batch, "eni_kind"),
            DictIds::of(batch, "task_arn"),
            DictIds::of(batch, "service"),
            DictIds::of(batch, "cluster"),
        ) else {
            return;
        };
        let (Some(mut peer_eni), Some(mut peer_kind), Some(mut peer_task), Some(mut peer_service)) = (
            DictIds::of(batch, "peer_eni_id"),
            DictIds::of(batch, "peer_kind"),
            DictIds::of(batch, "peer_task_arn"),
            DictIds::of(batch, "peer_service"),
        ) else {
            return;
        };
        let (Some(peer_addr), Some(inbound)) = (
            col::<FixedSizeBinaryArray>(batch, "peer_addr"),
            col::<BooleanArray>(batch, "inbound"),
        ) else {
            return;
        };
        let srcaddr = col::<FixedSizeBinaryArray>(batch, "srcaddr");
        let dstaddr = col::<FixedSizeBinaryArray>(batch, "dstaddr");
        let protocol = col::<Int32Array>(batch, "protocol");
        let srcport = col::<Int32Array>(batch, "srcport");
        let dstport = col::<Int32Array>(batch, "dstport");
        let flags = col::<Int32Array>(batch, "tcp_flags");
        let action = DictIds::of(batch, "action");
        let packets = col::<Int64Array>(batch, "packets");
        let bytes = col::<Int64Array>(batch, "bytes");
        let start = col::<Int64Array>(batch, "start");
        let end = col::<Int64Array>(batch, "end");
        for row in 0..n {
            if eni.str(row).is_none() {
                self.counts.without_interface += 1;
                continue;
            }
            if kind.str(row) != Some("task") {
                continue;
            }
            let task_id = task.id(row, &mut self.strings);
            if task_id == NONE {
                continue;
            }
            self.counts.on_tasks += 1;
            let service_id = service.id(row, &mut self.strings);
            let cluster_id = cluster.id(row, &mut self.strings);
            let rule = auditor.policy.rule_for(service.str(row), cluster.str(row));
            let directed = peer_addr.is_valid(row) && inbound.is_valid(row);
            // NODATA/SKIPDATA records carry no addresses: nothing to judge, and no
            // reason not to call the task audited.
            let addressed = addr(srcaddr, row).is_some() && addr(dstaddr, row).is_some();
            let audited = match (rule, directed || !addressed) {
                (None, _) => Audited::NoRule,
                (Some(_), false) => Audited::Undirected,
                (Some(_), true) => Audited::Yes,
            };
            let seen = self.tasks.entry(task_id).or_insert(audited);
            *seen = (*seen).max(audited);
            let Some(rule) = rule else {
                if service_id != NONE {
                    self.unaudited_services.insert(service_id);
                }
                continue;
            };
            if !directed {
                if addressed {
                    self.counts.undirected += 1;
                }
                continue;
            }
            let peer: [u8; 16] = peer_addr.value(row).try_into().expect("16 bytes");
            let t = int64(start, row).or(int64(end, row));
            let peer_holder = peer_eni.str(row).and_then(|e| auditor.map.eni_at(e, t));
            let groups = peer_holder
                .map(|h| h.security_groups.as_slice())
                .unwrap_or(&[]);
            // A peer the rule admits can never make a finding, whoever opened the
            // connection: count its record and keep no state for it.
            if rule.admits(&peer, groups, peer_service.str(row)) {
                self.counts.admitted += 1;
                continue;
            }
            let inbound = inbound.value(row);
            let (sp, dp) = (port(srcport, row), port(dstport, row));
            let (own_port, peer_port) = if inbound { (dp, sp) } else { (sp, dp) };
            let owner = self.owners.id([task_id, service_id, cluster_id]);
            let peer_cluster = peer_holder
                .and_then(|h| h.cluster.as_deref())
                .map_or(NONE, |c| self.strings.id(c));
            let peer_id = self.peers.id([
                peer_eni.id(row, &mut self.strings),
                peer_kind.id(row, &mut self.strings),
                peer_task.id(row, &mut self.strings),
                peer_service.id(row, &mut self.strings),
                peer_cluster,
            ]);
            let key = ConnKey {
                eni: eni.id(row, &mut self.strings),
                owner,
                peer_addr: peer,
                protocol: int32(protocol, row).map_or(NO_PROTOCOL, |p| p as u16),
                own_port,
                peer_port,
                peer: peer_id,
            };
            let conn = self.conns.entry(key).or_default();
            let act = action.as_ref().and_then(|a| a.str(row));
            let (accepted, rejected) = (act == Some("ACCEPT"), act == Some("REJECT"));
            let s = int64(start, row).or(int64(end, row));
            conn.sent[inbound as usize].add(int32(flags, row), s, accepted, rejected);
            if inbound {
                let s = s.unwrap_or(0);
                let e = int64(end, row).unwrap_or(s);
                conn.inbound[rejected as usize].add(
                    int64(packets, row).unwrap_or(0).max(0) as u64,
                    int64(bytes, row).unwrap_or(0).max(0) as u64,
                    s,
                    e,
                );
            }
        }
    }

    /// Adds another state (from another worker).
    pub fn merge(&mut self, other: AuditState) {
        if self.strings.values.is_empty() && self.conns.is_empty() && self.tasks.is_empty() {
            let counts = self.counts;
            *self = other;
            self.counts += counts;
            return;
        }
        let remap = self.strings.remap(&other.strings);
        let m = |id: u32| if id == NONE { NONE } else { remap[id as usize] };
        let owners = self.owners.absorb(&other.owners, m);
        let peers = self.peers.absorb(&other.peers, m);
        for (k, c) in other.conns {
            let key = ConnKey {
                eni: m(k.eni),
                owner: owners[k.owner as usize],
                peer: peers[k.peer as usize],
                ..k
            };
            self.conns.entry(key).or_default().merge(&c);
        }
        for (t, a) in other.tasks {
            let seen = self.tasks.entry(m(t)).or_insert(a);
            *seen = (*seen).max(a);
        }
        for s in other.unaudited_services {
            self.unaudited_services.insert(m(s));
        }
        self.counts += other.counts;
    }

    /// About how many bytes of memory the state holds (its tables at their capacity).
    pub fn state_bytes(&self) -> u64 {
        let table = |cap: usize, entry: usize| (cap * (entry + 1)) as u64;
        table(
            self.conns.capacity(),
            std::mem::size_of::<(ConnKey, Conn)>(),
        ) + table(self.tasks.capacity(), 8)
            + self.strings.bytes()
            + (self.owners.values.capacity() * 12 * 2 + self.peers.values.capacity() * 20 * 2)
                as u64
    }

    /// Decides every connection and returns the findings, worst first, and totals.
    /// Consumes the state: its connection table is freed as the findings are built.
    pub fn finish(mut self, auditor: &Auditor) -> (Vec<Finding>, AuditSummary) {
        let state_bytes = self.state_bytes();
        let s = &self.strings;
        let count = |a: Audited| self.tasks.values().filter(|x| **x == a).count() as u64;
        let mut summary = AuditSummary {
            tasks_audited: count(Audited::Yes),
            tasks_not_audited: count(Audited::NoRule),
            tasks_undirected: count(Audited::Undirected),
            counts: self.counts,
            services_not_audited: {
                let mut v: Vec<String> = self
                    .unaudited_services
                    .iter()
                    .filter_map(|&i| s.get(i).map(String::from))
                    .collect();
                v.sort();
                v
            },
            state_bytes,
            ..AuditSummary::default()
        };
        // Deterministic order, whatever the hash maps and the interning did.
        let text = |id: u32| s.get(id);
        let sort_key = |k: &ConnKey| {
            let p = self.peers.values[k.peer as usize];
            (
                text(k.eni),
                text(self.owners.values[k.owner as usize][0]),
                k.peer_addr,
                k.protocol,
                text(p[PEER_ENI]),
                text(p[PEER_TASK]),
                k.own_port,
                k.peer_port,
            )
        };
        let mut conns: Vec<(ConnKey, Conn)> = std::mem::take(&mut self.conns).into_iter().collect();
        conns.sort_by_cached_key(|(k, _)| sort_key(k));
        // Port stability: over the connections of one task ENI with one peer.
        let stable = initiator::stability_by_group(
            &conns,
            |(k, _)| (k.eni, k.owner, k.peer_addr, k.protocol, k.peer),
            |(k, _)| [k.own_port, k.peer_port],
        );
        // Findings are gathered in a compact form first, one per (ENI, peer,
        // protocol, action), while the connections are freed.
        let mut drafts: Vec<Draft> = Vec::new();
        let mut draft_of: FxHashMap<(u32, [u8; 16], u16, u8), u32> = FxHashMap::default();
        for ((k, c), stable) in conns.into_iter().zip(stable) {
            summary.connections += 1;
            let own = self.owners.values[k.owner as usize];
            let peer = self.peers.values[k.peer as usize];
            let Some(rule) = auditor.policy.rule_for(s.get(own[1]), s.get(own[2])) else {
                continue;
            };
            let peer_listens = s
                .get(peer[PEER_SERVICE])
                .and_then(|ps| auditor.policy.rule_for(Some(ps), s.get(peer[PEER_CLUSTER])))
                .is_some_and(|r| r.ports.contains(&k.peer_port));
            let connection = Connection {
                sent: c.sent,
                ports: [k.own_port, k.peer_port],
                logged_by: [true, false],
                listens: [rule.ports.contains(&k.own_port), peer_listens],
                stable,
            };
            match initiator::opener(&connection) {
                None => {
                    summary.undecided += 1;
                    continue;
                }
                Some(o) if o.side == 0 => {
                    summary.opened_by_tasks += 1;
                    continue;
                }
                Some(_) => summary.opened_by_peers += 1,
            }
            for (a, inb) in c.inbound.iter().enumerate() {
                if inb.records == 0 {
                    continue;
                }
                let at = *draft_of
                    .entry((k.eni, k.peer_addr, k.protocol, a as u8))
                    .or_insert_with(|| {
                        drafts.push(Draft {
                            key: k,
                            action: a as u8,
                            flows: 0,
                            traffic: Traffic::default(),
                            ports: Vec::new(),
                        });
                        (drafts.len() - 1) as u32
                    });
                let d = &mut drafts[at as usize];
                d.flows += 1;
                d.traffic.merge(inb);
                if k.own_port > 0 && !d.ports.contains(&k.own_port) {
                    d.ports.push(k.own_port);
                }
            }
        }
        drop(draft_of);
        // The strings of findings, shared among them.
        let mut shared: FxHashMap<u32, Text> = FxHashMap::default();
        let mut t = |id: u32| -> Option<Text> {
            let v = s.get(id)?;
            Some(shared.entry(id).or_insert_with(|| Text::from(v)).clone())
        };
        let mut findings: Vec<Finding> = Vec::with_capacity(drafts.len());
        for d in drafts {
            let (k, inb) = (d.key, d.traffic);
            let own = self.owners.values[k.owner as usize];
            let peer = self.peers.values[k.peer as usize];
            let mut ports = d.ports;
            ports.sort_unstable();
            let action = if d.action == 0 { "ACCEPT" } else { "REJECT" };
            let peer_kind = t(peer[PEER_KIND]);
            let mut f = Finding {
                rule: UNEXPECTED_INGRESS,
                severity: match (action, peer_kind.as_deref()) {
                    ("REJECT", _) => Severity::Low,
                    (_, Some("internet")) => Severity::High,
                    _ => Severity::Medium,
                },
                eni_id: t(k.eni).unwrap_or_default(),
                task_arn: t(own[0]),
                service: t(own[1]),
                cluster: t(own[2]),
                peer_addr: crate::output::addr_string(&k.peer_addr),
                peer_kind,
                peer_service: t(peer[PEER_SERVICE]),
                peer_eni_id: t(peer[PEER_ENI]),
                peer_task_arn: t(peer[PEER_TASK]),
                ports,
                protocol: if k.protocol == NO_PROTOCOL {
                    -1
                } else {
                    k.protocol as i32
                },
                action,
                flows: d.flows,
                records: inb.records,
                packets: inb.packets,
                bytes: inb.bytes,
                first_seen: inb.first,
                last_seen: inb.last,
                reason: String::new(),
            };
            f.reason = reason(&f, auditor);
            findings.push(f);
        }
        findings.sort_by(|a, b| {
            (
                a.severity,
                &a.service,
                &a.eni_id,
                &a.peer_addr,
                a.protocol,
                a.action,
            )
                .cmp(&(
                    b.severity,
                    &b.service,
                    &b.eni_id,
                    &b.peer_addr,
                    b.protocol,
                    b.action,
                ))
        });
        for f in &findings {
            match f.severity {
                Severity::High => summary.high += 1,
                Severity::Medium => summary.medium += 1,
                Severity::Low => summary.low += 1,
            }
        }
        (findings, summary)
    }
}

/// A finding while they are gathered: the connection key of its first connection and
/// the totals (see [`AuditState::finish`]).
struct Draft {
    key: ConnKey,
    action: u8,
    flows: u64,
    traffic: Traffic,
    ports: Vec<u16>,
}

/// A string of findings, shared by the findings that name it.
pub type Text = std::sync::Arc<str>;

/// A port as logged (0 when absent).
fn port(a: Option<&Int32Array>, row: usize) -> u16 {
    int32(a, row).map_or(0, |p| p as u16)
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// ACCEPTed from the internet.
    High,
    /// ACCEPTed from inside the VPC.
    Medium,
    /// REJECTed attempts.
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// One `unexpected-ingress` finding: a peer not allowed by the policy that opened
/// (ACCEPT) or tried to open (REJECT) connections to one task ENI.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub eni_id: Text,
    pub task_arn: Option<Text>,
    pub service: Option<Text>,
    pub cluster: Option<Text>,
    pub peer_addr: String,
    pub peer_kind: Option<Text>,
    pub peer_service: Option<Text>,
    pub peer_eni_id: Option<Text>,
    pub peer_task_arn: Option<Text>,
    /// Local ports of the task that the peer connected to, sorted.
    pub ports: Vec<u16>,
    pub protocol: i32,
    pub action: &'static str,
    /// Distinct connections (5-tuples) the peer opened or tried to open.
    pub flows: u64,
    /// Records in the peer-to-task direction.
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
    #[serde(serialize_with = "as_rfc3339")]
    pub first_seen: i64,
    #[serde(serialize_with = "as_rfc3339")]
    pub last_seen: i64,
    pub reason: String,
}

fn as_rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::rfc3339(*t))
}

/// Totals of an audit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditSummary {
    /// Tasks whose traffic was audited.
    pub tasks_audited: u64,
    /// Tasks of services without a rule.
    pub tasks_not_audited: u64,
    /// Tasks with a rule none of whose records could be oriented.
    pub tasks_undirected: u64,
    pub services_not_audited: Vec<String>,
    pub counts: Counts,
    /// Connections of audited tasks with peers the policy does not admit.
    pub connections: u64,
    pub opened_by_peers: u64,
    pub opened_by_tasks: u64,
    /// Connections for which no evidence said who opened them: no finding is made.
    pub undecided: u64,
    /// About how many bytes the state of the audit's connections took (after merging
    /// the workers').
    pub state_bytes: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl AuditSummary {
    pub fn findings(&self) -> u64 {
        self.high + self.medium + self.low
    }
}

/// What a peer is, in words.
fn peer_words(f: &Finding) -> String {
    let eni = f.peer_eni_id.as_deref().unwrap_or("?");
    match f.peer_kind.as_deref() {
        Some("internet") => "an internet address".into(),
        Some("vpc") => "an address in the VPC that no map file knows".into(),
        Some("task") => match &f.peer_service {
            Some(s) => format!("a task of service {s}"),
            None => format!("a task that belongs to no service ({eni})"),
        },
        Some("alb") => format!("a load balancer (ALB) address ({eni})"),
        Some("nlb") => format!("a load balancer (NLB) address ({eni})"),
        Some("natgw") => format!("a NAT gateway ({eni})"),
        Some("vpce") => format!("a VPC endpoint ({eni})"),
        Some("instance") => format!("an EC2 instance ({eni})"),
        _ => format!("ENI {eni}"),
    }
}

fn reason(f: &Finding, auditor: &Auditor) -> String {
    let service = f.service.as_deref().unwrap_or("this task");
    let rule = auditor
        .policy
        .rule_for(f.service.as_deref(), f.cluster.as_deref())
        .map(|r| r.describe(auditor.map))
        .unwrap_or_default();
    let who = format!("{} is {}", f.peer_addr, peer_words(f));
    let ports = f
        .ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let port_text = match f.ports.len() {
        0 => String::new(),
        1 => format!(" port {ports}"),
        _ => format!(" ports {ports}"),
    };
    if f.action == "REJECT" {
        format!("{who} and tried to connect to{port_text}, rejected; {service} {rule}")
    } else {
        format!("{who} and connected to{port_text}; {service} {rule}")
    }
}
