//! The audit: which peers opened (or tried to open) connections to tasks that the
//! policy does not allow.
//!
//! Records of enriched batches are folded into conversations, one per task ENI,
//! protocol, local port, peer address, peer port and peer holder (an address that moved
//! to another task is another peer). A conversation's records of both directions, over
//! every file and window, decide who initiated it, strongest evidence first:
//!
//! 1. TCP flags (v3+): the initiator sends SYN without ACK, the responder SYN-ACK. AWS
//!    reports ACK only together with SYN, so `2`/`3` mark the initiator and `18`/`19`
//!    the responder. Because the decision is taken over the whole conversation, a
//!    long-lived connection seen again in later windows with no SYN keeps the
//!    direction of its first window.
//! 2. An inbound record the security group REJECTed is unsolicited by definition.
//! 3. The service's listener `ports` from the policy (and, for a peer task, its own
//!    service's listener ports).
//! 4. Otherwise ports: a well-known (< 1024) or registered (< 32768) port against an
//!    ephemeral one marks the server; for protocols without ports, inbound records
//!    with no outbound ones mark the peer as initiator. Anything still ambiguous is
//!    not a finding.
//!
//! A response to the task's own connection is therefore never a finding, in any
//! format. Records whose peer the policy admits are only counted: no conversation
//! state is kept for them, so memory follows the suspicious traffic, not all of it.
//! State is mergeable ([`AuditState::merge`]), so files are folded in
//! parallel and reduced, with identical results for any thread count.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::Policy;
use crate::enrich::EniMap;

use crate::columns::{col, int32, int64};
use crate::intern::{DictIds, Strings, NONE};

/// The fixed setting of an audit: the policy and the map.
pub struct Auditor<'a> {
    pub policy: &'a Policy,
    pub map: &'a EniMap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ConvKey {
    eni: u32,
    protocol: i32,
    own_port: i32,
    peer_addr: [u8; 16],
    peer_port: i32,
    peer_eni: u32,
    peer_kind: u32,
}

/// What an ENI belongs to: (task, service, cluster) of an audited task ENI, or (task,
/// service, unused) of a peer ENI. Constant per ENI, so kept beside the conversations
/// rather than in every key.
type Owner = [u32; 3];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Inbound {
    records: u64,
    packets: u64,
    bytes: u64,
    first: i64,
    last: i64,
}

impl Inbound {
    fn add(&mut self, packets: u64, bytes: u64, start: i64, end: i64) {
        if self.records == 0 {
            self.first = start;
            self.last = end;
        } else {
            self.first = self.first.min(start);
            self.last = self.last.max(end);
        }
        self.records += 1;
        self.packets += packets;
        self.bytes += bytes;
    }

    fn merge(&mut self, o: &Inbound) {
        if o.records == 0 {
            return;
        }
        if self.records == 0 {
            *self = *o;
            return;
        }
        self.records += o.records;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Conv {
    /// Peer -> task records, by action (ACCEPT, REJECT).
    inbound: [Inbound; 2],
    outbound: u64,
    peer_syn: bool,
    peer_synack: bool,
    own_syn: bool,
    own_synack: bool,
}

impl Conv {
    fn merge(&mut self, o: &Conv) {
        self.inbound[0].merge(&o.inbound[0]);
        self.inbound[1].merge(&o.inbound[1]);
        self.outbound += o.outbound;
        self.peer_syn |= o.peer_syn;
        self.peer_synack |= o.peer_synack;
        self.own_syn |= o.own_syn;
        self.own_synack |= o.own_synack;
    }
}

/// Who opened a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    Peer,
    Task,
    Unknown,
}

/// The audit's mergeable state.
#[derive(Default, Clone)]
pub struct AuditState {
    strings: Strings,
    convs: FxHashMap<ConvKey, Conv>,
    /// Task id -> audited?
    tasks: FxHashMap<u32, bool>,
    /// Services of tasks that are not audited.
    unaudited_services: BTreeSet<u32>,
    /// Records of audited tasks whose peer the policy admits.
    allowed_records: u64,
    /// Who each audited ENI of a conversation key belongs to.
    owners: FxHashMap<u32, Owner>,
    /// Who each peer ENI of a conversation key belongs to.
    peer_owners: FxHashMap<u32, Owner>,
}

impl AuditState {
    /// Folds one enriched batch (see `enrich::join`) into the state.
    pub fn add(&mut self, batch: &RecordBatch, auditor: &Auditor) {
        let n = batch.num_rows();
        let (Some(mut eni), Some(kind), Some(mut task), Some(mut service), Some(mut cluster)) = (
            DictIds::of(batch, "interface_id"),
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
        let Some(peer_addr) = col::<FixedSizeBinaryArray>(batch, "peer_addr") else {
            return;
        };
        let src = col::<FixedSizeBinaryArray>(batch, "pkt_srcaddr");
        let src_plain = col::<FixedSizeBinaryArray>(batch, "srcaddr");
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
            if kind.str(row) != Some("task") || !peer_addr.is_valid(row) {
                continue;
            }
            let task_id = task.id(row, &mut self.strings);
            if task_id == NONE {
                continue;
            }
            let service_id = service.id(row, &mut self.strings);
            let cluster_id = cluster.id(row, &mut self.strings);
            let rule = auditor.policy.rule_for(service.str(row), cluster.str(row));
            self.tasks.insert(task_id, rule.is_some());
            let Some(rule) = rule else {
                if service_id != NONE {
                    self.unaudited_services.insert(service_id);
                }
                continue;
            };
            let peer: [u8; 16] = peer_addr.value(row).try_into().expect("16 bytes");
            // A peer the rule admits can never make a finding, whoever opened the
            // connection: count its record and keep no state for it. This keeps memory
            // proportional to the suspicious conversations, not to all of them.
            let groups = peer_eni
                .str(row)
                .and_then(|e| auditor.map.eni(e))
                .map(|h| h.security_groups.as_slice())
                .unwrap_or(&[]);
            if rule.admits(&peer, groups, peer_service.str(row)) {
                self.allowed_records += 1;
                continue;
            }
            let sender = src
                .filter(|a| a.is_valid(row))
                .or(src_plain.filter(|a| a.is_valid(row)))
                .map(|a| a.value(row));
            let inbound = sender == Some(&peer[..]);
            let (sp, dp) = (
                int32(srcport, row).unwrap_or(0),
                int32(dstport, row).unwrap_or(0),
            );
            let (own_port, peer_port) = if inbound { (dp, sp) } else { (sp, dp) };
            let key = ConvKey {
                eni: eni.id(row, &mut self.strings),
                protocol: int32(protocol, row).unwrap_or(-1),
                own_port,
                peer_addr: peer,
                peer_port,
                peer_eni: peer_eni.id(row, &mut self.strings),
                peer_kind: peer_kind.id(row, &mut self.strings),
            };
            self.owners
                .entry(key.eni)
                .or_insert([task_id, service_id, cluster_id]);
            if key.peer_eni != NONE {
                let (t, s) = (
                    peer_task.id(row, &mut self.strings),
                    peer_service.id(row, &mut self.strings),
                );
                self.peer_owners.entry(key.peer_eni).or_insert([t, s, NONE]);
            }
            let conv = self.convs.entry(key).or_default();
            if let Some(f) = int32(flags, row) {
                let (syn, synack) = (f & 0x12 == 0x02, f & 0x12 == 0x12);
                if inbound {
                    conv.peer_syn |= syn;
                    conv.peer_synack |= synack;
                } else {
                    conv.own_syn |= syn;
                    conv.own_synack |= synack;
                }
            }
            if inbound {
                let rejected = action.as_ref().and_then(|a| a.str(row)) == Some("REJECT");
                let s = int64(start, row).or(int64(end, row)).unwrap_or(0);
                let e = int64(end, row).unwrap_or(s);
                conv.inbound[rejected as usize].add(
                    int64(packets, row).unwrap_or(0).max(0) as u64,
                    int64(bytes, row).unwrap_or(0).max(0) as u64,
                    s,
                    e,
                );
            } else {
                conv.outbound += 1;
            }
        }
    }

    /// Adds another state (from another file or thread).
    pub fn merge(&mut self, other: AuditState) {
        let remap = self.strings.remap(&other.strings);
        let m = |id: u32| if id == NONE { NONE } else { remap[id as usize] };
        for (k, c) in other.convs {
            let key = ConvKey {
                eni: m(k.eni),
                peer_eni: m(k.peer_eni),
                peer_kind: m(k.peer_kind),
                ..k
            };
            self.convs.entry(key).or_default().merge(&c);
        }
        for (t, a) in other.tasks {
            let t = m(t);
            let e = self.tasks.entry(t).or_insert(a);
            *e |= a;
        }
        for s in other.unaudited_services {
            self.unaudited_services.insert(m(s));
        }
        self.allowed_records += other.allowed_records;
        for (e, o) in other.owners {
            self.owners.entry(m(e)).or_insert(o.map(m));
        }
        for (e, o) in other.peer_owners {
            self.peer_owners.entry(m(e)).or_insert(o.map(m));
        }
    }

    /// Decides every conversation and returns the findings, worst first, and totals.
    pub fn finish(&self, auditor: &Auditor) -> (Vec<Finding>, AuditSummary) {
        let s = &self.strings;
        let mut summary = AuditSummary {
            tasks_audited: self.tasks.values().filter(|a| **a).count() as u64,
            tasks_not_audited: self.tasks.values().filter(|a| !**a).count() as u64,
            allowed_records: self.allowed_records,
            services_not_audited: {
                let mut v: Vec<String> = self
                    .unaudited_services
                    .iter()
                    .filter_map(|&i| s.get(i).map(String::from))
                    .collect();
                v.sort();
                v
            },
            ..AuditSummary::default()
        };
        let mut groups: BTreeMap<(String, [u8; 16], usize), Finding> = BTreeMap::new();
        // Deterministic order, whatever the hash maps did.
        let mut convs: Vec<(&ConvKey, &Conv)> = self.convs.iter().collect();
        convs.sort_by(|a, b| {
            let key = |k: &ConvKey| {
                (
                    s.get(k.eni),
                    k.peer_addr,
                    k.protocol,
                    k.own_port,
                    k.peer_port,
                    s.get(k.peer_eni),
                )
            };
            key(a.0).cmp(&key(b.0))
        });
        for (k, c) in convs {
            summary.conversations += 1;
            let own = self.owners.get(&k.eni).copied().unwrap_or([NONE; 3]);
            let peer = self
                .peer_owners
                .get(&k.peer_eni)
                .copied()
                .unwrap_or([NONE; 3]);
            let service = s.get(own[1]);
            let cluster = s.get(own[2]);
            let Some(rule) = auditor.policy.rule_for(service, cluster) else {
                continue;
            };
            let peer_service = s.get(peer[1]);
            if initiator(k, c, rule, auditor, peer_service) != Initiator::Peer {
                continue;
            }
            summary.opened_by_peers += 1;
            let peer_groups = s
                .get(k.peer_eni)
                .and_then(|e| auditor.map.eni(e))
                .map(|h| h.security_groups.as_slice())
                .unwrap_or(&[]);
            if rule.admits(&k.peer_addr, peer_groups, peer_service) {
                continue;
            }
            for (a, inb) in c.inbound.iter().enumerate() {
                if inb.records == 0 {
                    continue;
                }
                let eni = s.get(k.eni).unwrap_or_default().to_string();
                let f = groups
                    .entry((eni.clone(), k.peer_addr, a))
                    .or_insert_with(|| Finding {
                        rule: "unexpected-ingress",
                        severity: Severity::Low,
                        eni_id: eni,
                        task_arn: s.get(own[0]).map(String::from),
                        service: service.map(String::from),
                        cluster: cluster.map(String::from),
                        peer_addr: crate::output::addr_string(&k.peer_addr),
                        peer_kind: s.get(k.peer_kind).map(String::from),
                        peer_service: peer_service.map(String::from),
                        peer_eni_id: s.get(k.peer_eni).map(String::from),
                        peer_task_arn: s.get(peer[0]).map(String::from),
                        ports: Vec::new(),
                        protocol: k.protocol,
                        action: if a == 0 { "ACCEPT" } else { "REJECT" },
                        flows: 0,
                        records: 0,
                        packets: 0,
                        bytes: 0,
                        first_seen: inb.first,
                        last_seen: inb.last,
                        reason: String::new(),
                    });
                f.flows += 1;
                f.records += inb.records;
                f.packets += inb.packets;
                f.bytes += inb.bytes;
                f.first_seen = f.first_seen.min(inb.first);
                f.last_seen = f.last_seen.max(inb.last);
                if k.own_port > 0 && !f.ports.contains(&(k.own_port as u16)) {
                    f.ports.push(k.own_port as u16);
                }
            }
        }
        let mut findings: Vec<Finding> = groups
            .into_values()
            .map(|mut f| {
                f.ports.sort_unstable();
                f.severity = match (f.action, f.peer_kind.as_deref()) {
                    ("REJECT", _) => Severity::Low,
                    (_, Some("internet")) => Severity::High,
                    _ => Severity::Medium,
                };
                f.reason = reason(&f, auditor);
                f
            })
            .collect();
        findings.sort_by(|a, b| {
            (a.severity, &a.service, &a.eni_id, &a.peer_addr, a.action).cmp(&(
                b.severity,
                &b.service,
                &b.eni_id,
                &b.peer_addr,
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

/// Decides who opened a conversation (see the module documentation).
fn initiator(
    k: &ConvKey,
    c: &Conv,
    rule: &super::Rule,
    auditor: &Auditor,
    peer_service: Option<&str>,
) -> Initiator {
    if c.peer_syn || c.own_synack {
        return Initiator::Peer;
    }
    if c.own_syn || c.peer_synack {
        return Initiator::Task;
    }
    if c.inbound[1].records > 0 {
        return Initiator::Peer;
    }
    let has_ports = k.own_port > 0 && k.peer_port > 0;
    if has_ports {
        if rule.ports.contains(&(k.own_port as u16)) {
            return Initiator::Peer;
        }
        let peer_listens = peer_service
            .and_then(|ps| auditor.policy.rule_for(Some(ps), None))
            .is_some_and(|r| r.ports.contains(&(k.peer_port as u16)));
        if peer_listens {
            return Initiator::Task;
        }
        let class = |p: i32| match p {
            0..=1023 => 0,
            1024..=32767 => 1,
            _ => 2,
        };
        let (own, peer) = (class(k.own_port), class(k.peer_port));
        return match own.cmp(&peer) {
            std::cmp::Ordering::Less => Initiator::Peer,
            std::cmp::Ordering::Greater => Initiator::Task,
            std::cmp::Ordering::Equal => match k.own_port.cmp(&k.peer_port) {
                std::cmp::Ordering::Less => Initiator::Peer,
                std::cmp::Ordering::Greater => Initiator::Task,
                std::cmp::Ordering::Equal => Initiator::Unknown,
            },
        };
    }
    let inbound = c.inbound[0].records + c.inbound[1].records;
    if inbound > 0 && c.outbound == 0 {
        Initiator::Peer
    } else {
        Initiator::Unknown
    }
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
    pub eni_id: String,
    pub task_arn: Option<String>,
    pub service: Option<String>,
    pub cluster: Option<String>,
    pub peer_addr: String,
    pub peer_kind: Option<String>,
    pub peer_service: Option<String>,
    pub peer_eni_id: Option<String>,
    pub peer_task_arn: Option<String>,
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
    pub tasks_audited: u64,
    pub tasks_not_audited: u64,
    pub services_not_audited: Vec<String>,
    /// Records of audited tasks whose peer the policy admits.
    pub allowed_records: u64,
    /// Conversations with peers the policy does not admit.
    pub conversations: u64,
    pub opened_by_peers: u64,
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
