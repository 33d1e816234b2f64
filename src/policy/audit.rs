//! The audit: the traffic of each task checked against its service's rule.
//!
//! Five checks ([`Check`]), each one recommendation of Amazon's ECS network-security
//! guidance: who may open connections to a task (`unexpected-ingress`), whom a task may
//! open connections to (`unexpected-egress`), encryption in transit (`cleartext`), strict
//! isolation (`isolation`) and AWS APIs through VPC endpoints only (`privatelink-bypass`).
//!
//! It reads what the join decided (see `enrich::orient`): each record's own ENI and
//! its owner, its peer and the peer's owner, and whether it came in (`inbound`).
//! Records of audited tasks are folded into connections, one per task ENI, owner,
//! protocol, own port, peer address, peer port and peer owner (an address that moved to
//! another task is another peer). Who opened each connection is decided once, from all
//! of its records over every file and window, by [`crate::initiator`], for every check
//! alike: a response to the task's own connection is never an ingress finding, and a
//! response to the peer's never an egress one.
//!
//! Records that no enabled check could make a finding of (the peer is on every list
//! that matters, nothing cleartext, no AWS address) are only counted: no connection
//! state is kept for them, so memory follows the suspicious traffic, not all of it.
//! State is mergeable ([`AuditState::merge`]), so inputs are folded in parallel and
//! reduced, with identical results for any thread count.

use std::collections::BTreeSet;

use arrow::array::{Array, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{Policy, Rule, RuleId};
use crate::aws_ranges::AwsRanges;
use crate::columns::{addr, col, int32, int64, Times};
use crate::enrich::{EniMap, PeerKind};
use crate::initiator::{self, Connection, Sent};
use crate::intern::{Attribution, DictIds, Strings, NONE};

/// The rule name of unexpected-ingress findings.
pub const UNEXPECTED_INGRESS: &str = "unexpected-ingress";

/// One check of the audit (a `rule` of the findings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// A peer the policy does not admit opened, or tried to open, a connection to a task.
    UnexpectedIngress,
    /// A task opened, or tried to open, a connection its egress lists do not allow.
    UnexpectedEgress,
    /// A task of a `require_encryption` service took part in a cleartext connection.
    Cleartext,
    /// A task of an `isolated` service exchanged traffic with a peer outside its cluster,
    /// its VPC endpoints and its lists.
    Isolation,
    /// A task of a `private_aws_access` service reached an AWS service over the internet.
    PrivatelinkBypass,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::UnexpectedIngress,
        Check::UnexpectedEgress,
        Check::Cleartext,
        Check::Isolation,
        Check::PrivatelinkBypass,
    ];

    /// The rule's name in findings and in `--rule`.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::UnexpectedIngress => UNEXPECTED_INGRESS,
            Check::UnexpectedEgress => "unexpected-egress",
            Check::Cleartext => "cleartext",
            Check::Isolation => "isolation",
            Check::PrivatelinkBypass => "privatelink-bypass",
        }
    }

    /// Parses a rule name (`--rule`).
    pub fn parse(s: &str) -> Result<Check, String> {
        Check::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a rule (one of {})",
                    Check::ALL.map(Check::as_str).join(", ")
                )
            })
    }

    /// Whether some rule of the policy asks for this check; `None` when it does, else
    /// the key that would (for messages).
    pub fn unconfigured(self, policy: &Policy) -> Option<&'static str> {
        let (configured, key) = match self {
            Check::UnexpectedIngress => (true, ""),
            Check::UnexpectedEgress => (
                policy.any_rule(|r| r.egress.is_some()),
                "an egress_to_* list",
            ),
            Check::Cleartext => (
                policy.any_rule(|r| r.require_encryption),
                "require_encryption = true",
            ),
            Check::Isolation => (policy.any_rule(|r| r.isolated), "isolated = true"),
            Check::PrivatelinkBypass => (
                policy.any_rule(|r| r.private_aws_access),
                "private_aws_access = true",
            ),
        };
        (!configured).then_some(key)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checks(u8);

impl Checks {
    /// Every check.
    pub const ALL: Checks = Checks(0b1_1111);

    pub fn of(checks: &[Check]) -> Checks {
        Checks(checks.iter().fold(0, |m, c| m | c.bit()))
    }

    pub fn has(self, c: Check) -> bool {
        self.0 & c.bit() != 0
    }
}

/// The fixed setting of an audit: the policy, the map, the checks to run and AWS's
/// address ranges, if given.
pub struct Auditor<'a> {
    pub policy: &'a Policy,
    pub map: &'a EniMap,
    pub checks: Checks,
    pub aws_ranges: Option<&'a AwsRanges>,
}

impl<'a> Auditor<'a> {
    /// Every check, without AWS's address ranges.
    pub fn new(policy: &'a Policy, map: &'a EniMap) -> Auditor<'a> {
        Auditor {
            policy,
            map,
            checks: Checks::ALL,
            aws_ranges: None,
        }
    }
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

impl Auditor<'_> {
    /// The flow-log columns the audit and its attribution read (projection pushdown):
    /// `encryption_status` only when a rule requires encryption, `traffic_path` and the
    /// `pkt_*_aws_service` fields only when one asks for private AWS access, so that
    /// audits without those rules do not decode them.
    pub fn projection(&self) -> crate::batch::Projection {
        let mut p: crate::batch::Projection = crate::enrich::join::INPUT_COLUMNS
            .iter()
            .chain(&COLUMNS)
            .map(|c| c.to_string())
            .collect();
        let wants = |c: Check, test: fn(&super::Rule) -> bool| {
            self.checks.has(c) && self.policy.any_rule(test)
        };
        if wants(Check::Cleartext, |r| r.require_encryption) {
            p.insert("encryption_status".to_string());
        }
        if wants(Check::PrivatelinkBypass, |r| r.private_aws_access) {
            p.extend(
                ["traffic_path", "pkt_src_aws_service", "pkt_dst_aws_service"].map(String::from),
            );
        }
        p
    }
}

impl crate::fold::Fold for Auditor<'_> {
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

/// `traffic-path` 7: through a gateway VPC endpoint (S3, DynamoDB).
const GATEWAY_ENDPOINT: i32 = 7;

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
        self.merge(&Traffic {
            records: 1,
            packets,
            bytes,
            first: start,
            last: end,
        });
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

/// What made a record's peer allowed, per list (bits of [`Conn::allowed`]).
const INGRESS_OK: u8 = 1;
/// The egress lists name the peer and its port is an allowed one (or egress is not
/// audited).
const EGRESS_OK: u8 = 2;
/// An isolated service may talk to the peer (or the service is not isolated).
const ISOLATION_OK: u8 = 4;

/// How an address was known to be an AWS service's, whether the connection went
/// through a gateway endpoint, and whether it was marked encrypted (bits of
/// [`More::marks`]).
const AWS_BY_FIELD: u8 = 1;
const AWS_BY_RANGES: u8 = 2;
/// A record of the connection went through a gateway VPC endpoint (`traffic-path` 7).
const AWS_VIA_GATEWAY: u8 = 4;
/// A record of the connection has `encryption_status` 1, 2 or 3.
const ENCRYPTED: u8 = 8;

#[derive(Clone, Debug)]
struct Conn {
    /// What the task (0) and the peer (1) sent.
    sent: [Sent; 2],
    /// Peer -> task records, by action (ACCEPT, REJECT).
    inbound: [Traffic; 2],
    /// `INGRESS_OK | EGRESS_OK | ISOLATION_OK`, for every record of the connection.
    allowed: u8,
    /// What only the egress, isolation, cleartext and PrivateLink checks need: kept
    /// apart so that an audit of ingress alone holds no more per connection.
    more: Option<Box<More>>,
}

#[derive(Clone, Copy, Debug)]
struct More {
    /// Task -> peer records, by action.
    outbound: [Traffic; 2],
    /// Accepted records the flow log marks not encrypted (`encryption_status` 0).
    unencrypted: Traffic,
    /// Accepted records without `encryption_status` (absent or null).
    unknown_encryption: Traffic,
    /// Accepted records to or from an AWS service's address.
    aws: Traffic,
    /// The AWS service (interned); how it was known, a gateway endpoint, an
    /// encrypted record (`AWS_BY_FIELD`, `AWS_BY_RANGES`, `AWS_VIA_GATEWAY`, `ENCRYPTED`).
    aws_service: u32,
    marks: u8,
}

impl Default for Conn {
    fn default() -> Conn {
        Conn {
            sent: Default::default(),
            inbound: Default::default(),
            allowed: INGRESS_OK | EGRESS_OK | ISOLATION_OK,
            more: None,
        }
    }
}

impl Default for More {
    fn default() -> More {
        More {
            outbound: Default::default(),
            unencrypted: Traffic::default(),
            unknown_encryption: Traffic::default(),
            aws: Traffic::default(),
            aws_service: NONE,
            marks: 0,
        }
    }
}

impl Conn {
    /// Merges another worker's connection (all but `aws_service`, whose string ids
    /// differ).
    fn merge(&mut self, o: &Conn) {
        for i in 0..2 {
            self.sent[i].merge(&o.sent[i]);
            self.inbound[i].merge(&o.inbound[i]);
        }
        self.allowed &= o.allowed;
        if let Some(om) = &o.more {
            let m = self.more.get_or_insert_with(Default::default);
            for i in 0..2 {
                m.outbound[i].merge(&om.outbound[i]);
            }
            m.unencrypted.merge(&om.unencrypted);
            m.unknown_encryption.merge(&om.unknown_encryption);
            m.aws.merge(&om.aws);
            m.marks |= om.marks;
        }
    }

    /// The task -> peer (`dir` 0) or peer -> task (1) records, by action.
    fn traffic(&self, dir: usize) -> [Traffic; 2] {
        match (dir, &self.more) {
            (1, _) => self.inbound,
            (_, Some(m)) => m.outbound,
            (_, None) => Default::default(),
        }
    }
}

/// Of two interned AWS service names (either `NONE`), the first in text order: the same
/// whatever order records and workers' states come in.
fn first_service(strings: &Strings, a: u32, b: u32) -> u32 {
    match (strings.get(a), strings.get(b)) {
        (Some(x), Some(y)) if y < x => b,
        (Some(_), _) => a,
        (None, _) => b,
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
    peers: Tuples<6>,
    conns: FxHashMap<ConnKey, Conn>,
    /// Task (its ARN's id, or its ENI's when no source names it, and whether it is
    /// named) -> how far it could be audited.
    tasks: FxHashMap<(u32, bool), Audited>,
    /// Services of tasks that are not audited.
    unaudited_services: BTreeSet<u32>,
    /// The rule of each (service, cluster) met, by their interned ids: the policy is
    /// asked once per pair, not once per record. Valid for this state's strings (a
    /// merge keeps its own and drops the other's).
    rules: FxHashMap<(u32, u32), Option<RuleId>>,
    counts: Counts,
}

/// The rule of a task of the interned `service` in `cluster`, asked of the policy the
/// first time the pair is met.
fn rule_of<'p>(
    rules: &mut FxHashMap<(u32, u32), Option<RuleId>>,
    strings: &Strings,
    policy: &'p Policy,
    service: u32,
    cluster: u32,
) -> Option<&'p Rule> {
    let id = *rules
        .entry((service, cluster))
        .or_insert_with(|| policy.rule_id(strings.get(service), strings.get(cluster)));
    id.map(|id| policy.rule(id))
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
    /// Records of a layout without `srcaddr` or `dstaddr`: nothing says who talked, and
    /// no rule can judge them.
    pub without_addresses: u64,
    /// Records logged on task ENIs.
    pub on_tasks: u64,
    /// Records of audited tasks whose direction could not be decided.
    pub undirected: u64,
    /// Records of audited tasks that no enabled check could make a finding of: the
    /// policy admits their peer, and nothing else applies.
    pub admitted: u64,
    /// Records between a `private_aws_access` task and an internet address that
    /// nothing could say was AWS's or not: the layout has no `pkt-*-aws-service`
    /// field and no `--aws-ip-ranges` was given.
    pub aws_unknown: u64,
    /// Records on task ENIs whose task no map source names (CloudTrail or a snapshot
    /// of the ENI alone): judged by `[defaults]`, which needs no service.
    pub unnamed: u64,
    /// Of those, records no rule could judge: the policy's rules are by service, and
    /// nothing names the task's service (there is no `[defaults]`).
    pub unnamed_unjudged: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.records += o.records;
        self.without_interface += o.without_interface;
        self.without_addresses += o.without_addresses;
        self.on_tasks += o.on_tasks;
        self.undirected += o.undirected;
        self.admitted += o.admitted;
        self.aws_unknown += o.aws_unknown;
        self.unnamed += o.unnamed;
        self.unnamed_unjudged += o.unnamed_unjudged;
    }
}

/// Who a peer is: ENI, kind, task, service, cluster (interned; `NONE` when unknown).
const PEER_ENI: usize = 0;
const PEER_KIND: usize = 1;
const PEER_TASK: usize = 2;
const PEER_SERVICE: usize = 3;
const PEER_CLUSTER: usize = 4;
const PEER_LB: usize = 5;

/// What a record's peer is allowed, by the rule of its task (`INGRESS_OK | ...`), and
/// whether the cleartext and PrivateLink checks apply to the task's traffic with it.
///
/// Every part depends on the peer and the rule only, never on the record's ports or
/// other fields: the records skipped as having nothing to judge are then all the
/// records of the peer, so the connections kept with a peer are all of them, as port
/// stability (who opened which connection) needs.
struct Verdict {
    allowed: u8,
    cleartext: bool,
    aws: bool,
}

impl AuditState {
    /// Folds one enriched batch (see `enrich::join`) into the state.
    pub fn add(&mut self, batch: &RecordBatch, auditor: &Auditor) {
        let n = batch.num_rows();
        self.counts.records += n as u64;
        let Some(mut eni) = DictIds::of(batch, "interface_id") else {
            self.counts.without_interface += n as u64;
            return;
        };
        let (Some(srcaddr), Some(dstaddr)) = (
            col::<FixedSizeBinaryArray>(batch, "srcaddr"),
            col::<FixedSizeBinaryArray>(batch, "dstaddr"),
        ) else {
            self.counts.without_addresses += n as u64;
            return;
        };
        let (srcaddr, dstaddr) = (Some(srcaddr), Some(dstaddr));
        let Some(Attribution {
            kind,
            mut task,
            mut service,
            mut cluster,
            mut peer_eni,
            mut peer_kind,
            mut peer_task,
            mut peer_service,
        }) = Attribution::of(batch)
        else {
            return;
        };
        let (Some(peer_addr), Some(inbound)) = (
            col::<FixedSizeBinaryArray>(batch, "peer_addr"),
            col::<BooleanArray>(batch, "inbound"),
        ) else {
            return;
        };
        let checks = auditor.checks;
        let protocol = col::<Int32Array>(batch, "protocol");
        let srcport = col::<Int32Array>(batch, "srcport");
        let dstport = col::<Int32Array>(batch, "dstport");
        let flags = col::<Int32Array>(batch, "tcp_flags");
        let action = DictIds::of(batch, "action");
        let packets = col::<Int64Array>(batch, "packets");
        let bytes = col::<Int64Array>(batch, "bytes");
        let times = Times::of(batch);
        let encryption = col::<Int32Array>(batch, "encryption_status");
        let path = col::<Int32Array>(batch, "traffic_path");
        let mut aws_src = DictIds::of(batch, "pkt_src_aws_service");
        let mut aws_dst = DictIds::of(batch, "pkt_dst_aws_service");
        for row in 0..n {
            if eni.str(row).is_none() {
                self.counts.without_interface += 1;
                continue;
            }
            if kind.str(row) != Some(PeerKind::Task.as_str()) {
                continue;
            }
            let task_id = task.id(row, &mut self.strings);
            // A task ENI whose task no source names is still a task's: its ENI stands
            // for the task, and rules that need no service judge it.
            let named = task_id != NONE;
            let task_key = if named {
                task_id
            } else {
                self.counts.unnamed += 1;
                eni.id(row, &mut self.strings)
            };
            self.counts.on_tasks += 1;
            let service_id = service.id(row, &mut self.strings);
            let cluster_id = cluster.id(row, &mut self.strings);
            let rule = rule_of(
                &mut self.rules,
                &self.strings,
                auditor.policy,
                service_id,
                cluster_id,
            );
            let directed = peer_addr.is_valid(row) && inbound.is_valid(row);
            // NODATA/SKIPDATA records carry no addresses: nothing to judge, and no
            // reason not to call the task audited.
            let addressed = addr(srcaddr, row).is_some() && addr(dstaddr, row).is_some();
            let audited = match (rule, directed || !addressed) {
                (None, _) => Audited::NoRule,
                (Some(_), false) => Audited::Undirected,
                (Some(_), true) => Audited::Yes,
            };
            let seen = self.tasks.entry((task_key, named)).or_insert(audited);
            *seen = (*seen).max(audited);
            let Some(rule) = rule else {
                if service_id != NONE {
                    self.unaudited_services.insert(service_id);
                } else if !named {
                    self.counts.unnamed_unjudged += 1;
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
            let t = times.at(row);
            let peer_holder = peer_eni.str(row).and_then(|e| auditor.map.eni_at(e, t));
            let groups = peer_holder
                .map(|h| h.security_groups.as_slice())
                .unwrap_or(&[]);
            let inbound = inbound.value(row);
            let (sp, dp) = (port(srcport, row), port(dstport, row));
            let (own_port, peer_port) = if inbound { (dp, sp) } else { (sp, dp) };
            let act = action.as_ref().and_then(|a| a.str(row));
            let (accepted, rejected) = (act == Some("ACCEPT"), act == Some("REJECT"));
            let internet = peer_kind.str(row) == Some(PeerKind::Internet.as_str());
            let p_service = peer_service.str(row);
            let who = super::PeerRef {
                addr: peer,
                groups,
                service: p_service,
                load_balancer: peer_holder.and_then(|h| h.load_balancer.as_deref()),
            };
            let verdict = {
                let mut allowed = 0;
                if !checks.has(Check::UnexpectedIngress) || rule.admits(&who) {
                    allowed |= INGRESS_OK;
                }
                if !checks.has(Check::UnexpectedEgress) || rule.egress_admits(&who) {
                    allowed |= EGRESS_OK;
                }
                let own_cluster = peer_kind.str(row) == Some(PeerKind::Task.as_str())
                    && peer_holder
                        .and_then(|h| h.cluster.as_deref())
                        .zip(cluster.str(row))
                        .is_some_and(|(a, b)| super::same_cluster(a, b));
                if !checks.has(Check::Isolation)
                    || !rule.isolated
                    || own_cluster
                    || peer_kind.str(row) == Some(PeerKind::Vpce.as_str())
                    || rule.lists_admit(&who)
                {
                    allowed |= ISOLATION_OK;
                }
                Verdict {
                    allowed,
                    cleartext: checks.has(Check::Cleartext) && rule.require_encryption,
                    aws: checks.has(Check::PrivatelinkBypass)
                        && rule.private_aws_access
                        && internet,
                }
            };
            let all = INGRESS_OK | EGRESS_OK | ISOLATION_OK;
            // With egress_ports, an admitted peer's connections are judged by port.
            let egress_ports = checks.has(Check::UnexpectedEgress)
                && rule.egress.is_some()
                && rule.egress_ports.is_some();
            if verdict.allowed == all && !egress_ports && !verdict.cleartext && !verdict.aws {
                self.counts.admitted += 1;
                continue;
            }
            // The AWS service of the peer's address, from the record (the peer's side of
            // it) or from AWS's ranges.
            let mut aws_service = None;
            // A layout without `action` is judged as if every record was accepted.
            let not_rejected = !rejected;
            if verdict.aws && not_rejected {
                let field = if inbound { &mut aws_src } else { &mut aws_dst };
                let named = field
                    .as_ref()
                    .and_then(|f| f.str(row))
                    .filter(|s| !crate::aws_ranges::is_shared(s));
                if let Some(s) = named {
                    aws_service = Some((self.strings.id(s), AWS_BY_FIELD));
                } else if let Some(r) = auditor.aws_ranges {
                    aws_service = r
                        .lookup(&peer)
                        .map(|a| (self.strings.id(a.service), AWS_BY_RANGES));
                } else if field.is_none() {
                    self.counts.aws_unknown += 1;
                }
            }
            let owner = self.owners.id([task_id, service_id, cluster_id]);
            let peer_cluster = peer_holder
                .and_then(|h| h.cluster.as_deref())
                .map_or(NONE, |c| self.strings.id(c));
            let peer_lb = peer_holder
                .and_then(|h| h.load_balancer.as_deref())
                .map_or(NONE, |c| self.strings.id(c));
            let peer_id = self.peers.id([
                peer_eni.id(row, &mut self.strings),
                peer_kind.id(row, &mut self.strings),
                peer_task.id(row, &mut self.strings),
                peer_service.id(row, &mut self.strings),
                peer_cluster,
                peer_lb,
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
            conn.allowed &= verdict.allowed;
            let s = times.at(row);
            conn.sent[inbound as usize].add(int32(flags, row), s, accepted, rejected);
            let s = s.unwrap_or(0);
            let e = times.last(row).unwrap_or(s);
            let mut traffic = Traffic::default();
            traffic.add(
                int64(packets, row).unwrap_or(0).max(0) as u64,
                int64(bytes, row).unwrap_or(0).max(0) as u64,
                s,
                e,
            );
            if inbound {
                conn.inbound[rejected as usize].merge(&traffic);
            }
            // Outbound records matter to egress and isolation only.
            let keep_outbound = !inbound
                && (checks.has(Check::UnexpectedEgress) && rule.egress.is_some()
                    || checks.has(Check::Isolation) && rule.isolated);
            let gateway = verdict.aws && int32(path, row) == Some(GATEWAY_ENDPOINT);
            let status = int32(encryption, row);
            let clear_ports = &auditor.policy.cleartext_ports;
            let cleartext = verdict.cleartext
                && not_rejected
                && match status {
                    Some(s) => s == 0,
                    None => clear_ports.contains(&own_port) || clear_ports.contains(&peer_port),
                };
            let encrypted = verdict.cleartext && status.is_some_and(|s| s != 0);
            if !(keep_outbound || cleartext || encrypted || aws_service.is_some() || gateway) {
                continue;
            }
            let more = conn.more.get_or_insert_with(Default::default);
            if keep_outbound {
                more.outbound[rejected as usize].merge(&traffic);
            }
            if cleartext {
                match status {
                    Some(_) => more.unencrypted.merge(&traffic),
                    None => more.unknown_encryption.merge(&traffic),
                }
            }
            // A connection the flow log marks encrypted in one record is not judged
            // by its port in the others.
            if encrypted {
                more.marks |= ENCRYPTED;
            }
            // AWS logs traffic-path on egress records only: one record through a
            // gateway endpoint puts the whole connection there, its responses too.
            if gateway {
                more.marks |= AWS_VIA_GATEWAY;
            }
            if let Some((service, by)) = aws_service {
                more.aws.merge(&traffic);
                more.marks |= by;
                more.aws_service = first_service(&self.strings, more.aws_service, service);
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
            let mine = self.conns.entry(key).or_default();
            mine.merge(&c);
            if let (Some(mm), Some(cm)) = (&mut mine.more, &c.more) {
                mm.aws_service = first_service(&self.strings, mm.aws_service, m(cm.aws_service));
            }
        }
        for ((t, named), a) in other.tasks {
            let seen = self.tasks.entry((m(t), named)).or_insert(a);
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

    /// Decides every connection and returns the findings, grouped by service and rule
    /// (see [`order`]), and totals. Consumes the state: its connection table is freed as
    /// the findings are built.
    pub fn finish(mut self, auditor: &Auditor) -> (Vec<Finding>, AuditSummary) {
        let state_bytes = self.state_bytes();
        let mut rules = std::mem::take(&mut self.rules);
        let s = &self.strings;
        let count = |a: Audited| self.tasks.values().filter(|x| **x == a).count() as u64;
        let mut summary = AuditSummary {
            tasks_audited: count(Audited::Yes),
            tasks_not_audited: count(Audited::NoRule),
            unnamed_not_audited: self
                .tasks
                .iter()
                .filter(|((_, named), a)| !named && **a == Audited::NoRule)
                .count() as u64,
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
            checks: auditor.checks,
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
        // Findings are gathered in a compact form first, one per (check, ENI, peer,
        // protocol, action), while the connections are freed.
        let mut drafts = Drafts::default();
        for ((k, c), stable) in conns.into_iter().zip(stable) {
            summary.connections += 1;
            let own = self.owners.values[k.owner as usize];
            let peer = self.peers.values[k.peer as usize];
            let Some(rule) = rule_of(&mut rules, s, auditor.policy, own[1], own[2]) else {
                continue;
            };
            // A peer without a service listens where no rule says (not `[defaults]`).
            let peer_listens = (peer[PEER_SERVICE] != NONE)
                .then(|| {
                    rule_of(
                        &mut rules,
                        s,
                        auditor.policy,
                        peer[PEER_SERVICE],
                        peer[PEER_CLUSTER],
                    )
                })
                .flatten()
                .is_some_and(|r| r.ports.contains(&k.peer_port));
            let connection = Connection {
                sent: c.sent,
                ports: [k.own_port, k.peer_port],
                logged_by: [true, false],
                listens: [rule.ports.contains(&k.own_port), peer_listens],
                stable,
            };
            let opened = match initiator::opener(&connection) {
                None => Opened::Unknown,
                Some(o) if o.side == 0 => Opened::ByTask,
                Some(_) => Opened::ByPeer,
            };
            let server_port = match opened {
                Opened::ByTask => Some(k.peer_port),
                Opened::ByPeer => Some(k.own_port),
                Opened::Unknown => None,
            }
            .filter(|p| *p > 0);
            let add_port = |d: &mut Draft| {
                if let Some(p) = server_port {
                    if !d.ports.contains(&p) {
                        d.ports.push(p);
                    }
                }
            };
            // Whether the decision of who opened it mattered to a check.
            let ingress = c.allowed & INGRESS_OK == 0;
            // Egress: a peer the lists do not name, or a server port egress_ports does
            // not allow (when the task opened it, the server's port is the peer's).
            let egress = rule.egress.is_some()
                && auditor.checks.has(Check::UnexpectedEgress)
                && (c.allowed & EGRESS_OK == 0 || !rule.egress_port_allowed(k.peer_port));
            let more = c.more.as_deref().copied().unwrap_or_default();
            let clear_by_port = more.unknown_encryption.records > 0 && more.marks & ENCRYPTED == 0;
            let aws = more.aws.records > 0 && more.marks & AWS_VIA_GATEWAY == 0;
            match opened {
                Opened::Unknown if ingress || egress || clear_by_port || aws => {
                    summary.undecided += 1
                }
                Opened::Unknown => {}
                Opened::ByTask => summary.opened_by_tasks += 1,
                Opened::ByPeer => summary.opened_by_peers += 1,
            }
            // Ingress and egress: the opener's records, by action.
            for (check, flagged, dir, by) in [
                (Check::UnexpectedIngress, ingress, 1, Opened::ByPeer),
                (Check::UnexpectedEgress, egress, 0, Opened::ByTask),
            ] {
                if !flagged || opened != by {
                    continue;
                }
                for (a, t) in c.traffic(dir).iter().enumerate() {
                    if t.records > 0 {
                        let d = drafts.get(check, &k, a, opened);
                        d.traffic.merge(t);
                        add_port(d);
                    }
                }
            }
            // Isolation: every record, either direction, by action.
            if c.allowed & ISOLATION_OK == 0 {
                for a in 0..2 {
                    let mut t = c.traffic(0)[a];
                    t.merge(&c.traffic(1)[a]);
                    if t.records > 0 {
                        let d = drafts.get(Check::Isolation, &k, a, opened);
                        d.traffic.merge(&t);
                        add_port(d);
                    }
                }
            }
            // Cleartext: records marked not encrypted, and records without the mark
            // when the server's port is a cleartext one.
            let mut clear = more.unencrypted;
            let mut evidence = if clear.records > 0 { BY_STATUS } else { 0 };
            if clear_by_port
                && server_port.is_some_and(|p| auditor.policy.cleartext_ports.contains(&p))
            {
                clear.merge(&more.unknown_encryption);
                if more.unknown_encryption.records > 0 {
                    evidence |= BY_PORT;
                }
            }
            if clear.records > 0 {
                let d = drafts.get(Check::Cleartext, &k, 0, opened);
                d.traffic.merge(&clear);
                d.evidence |= evidence;
                add_port(d);
            }
            // Reached: only connections the task opened (an AWS health check of the
            // task's listener reaches the task, not the other way).
            if aws && opened == Opened::ByTask {
                let d = drafts.get(Check::PrivatelinkBypass, &k, 0, opened);
                d.traffic.merge(&more.aws);
                d.evidence |= more.marks & (AWS_BY_FIELD | AWS_BY_RANGES);
                d.aws_service = first_service(s, d.aws_service, more.aws_service);
                add_port(d);
            }
        }
        // The strings of findings, shared among them.
        let mut shared: FxHashMap<u32, Text> = FxHashMap::default();
        let mut t = |id: u32| -> Option<Text> {
            let v = s.get(id)?;
            Some(shared.entry(id).or_insert_with(|| Text::from(v)).clone())
        };
        let mut findings: Vec<Finding> = Vec::with_capacity(drafts.list.len());
        for d in drafts.list {
            let (k, traffic) = (d.key, d.traffic);
            let own = self.owners.values[k.owner as usize];
            let peer = self.peers.values[k.peer as usize];
            let mut ports = d.ports;
            ports.sort_unstable();
            let action = if d.action == 0 { "ACCEPT" } else { "REJECT" };
            let peer_kind = t(peer[PEER_KIND]);
            let mut f = Finding {
                rule: d.check.as_str(),
                severity: severity(d.check, action, peer_kind.as_deref()),
                eni_id: t(k.eni).unwrap_or_default(),
                task_arn: t(own[0]),
                service: t(own[1]),
                cluster: t(own[2]),
                peer_addr: crate::net::addr_string(&k.peer_addr),
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
                records: traffic.records,
                packets: traffic.packets,
                bytes: traffic.bytes,
                first_seen: traffic.first,
                last_seen: traffic.last,
                reason: String::new(),
            };
            let facts = Facts {
                check: d.check,
                opened: d.opened,
                evidence: d.evidence,
                aws_service: s.get(d.aws_service),
                peer_cluster: s.get(peer[PEER_CLUSTER]),
                peer_lb: s.get(peer[PEER_LB]),
            };
            f.reason = reason(&f, &facts, auditor);
            findings.push(f);
        }
        order(&mut findings);
        for f in &findings {
            match f.severity {
                Severity::High => summary.high += 1,
                Severity::Medium => summary.medium += 1,
                Severity::Low => summary.low += 1,
            }
            let i = Check::ALL.iter().position(|c| c.as_str() == f.rule);
            summary.by_rule[i.unwrap_or(0)] += 1;
        }
        (findings, summary)
    }
}

/// Puts findings in their output order, grouped by service and rule: services with the
/// worst finding first (then by name), within a service the rules in the order of
/// [`Check::ALL`], within a rule the worst first, then by ENI, peer, protocol and action.
pub fn order(findings: &mut [Finding]) {
    let mut worst: FxHashMap<Option<Text>, Severity> = FxHashMap::default();
    for f in findings.iter() {
        let w = worst.entry(f.service.clone()).or_insert(f.severity);
        *w = (*w).min(f.severity);
    }
    let rank = |r: &str| Check::ALL.iter().position(|c| c.as_str() == r);
    findings.sort_by(|a, b| {
        (
            worst[&a.service],
            &a.service,
            rank(a.rule),
            a.severity,
            &a.eni_id,
            &a.peer_addr,
            a.protocol,
            a.action,
        )
            .cmp(&(
                worst[&b.service],
                &b.service,
                rank(b.rule),
                b.severity,
                &b.eni_id,
                &b.peer_addr,
                b.protocol,
                b.action,
            ))
    });
}

/// Who opened the connections of a finding (bits of [`Draft::opened`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opened {
    Unknown = 1,
    ByTask = 2,
    ByPeer = 4,
}

/// Cleartext evidence (bits of [`Draft::evidence`]): `encryption_status` 0, or a
/// cleartext server port where the status is absent.
const BY_STATUS: u8 = 1;
const BY_PORT: u8 = 2;

/// A finding while they are gathered: the connection key of its first connection and
/// the totals (see [`AuditState::finish`]).
struct Draft {
    check: Check,
    key: ConnKey,
    action: u8,
    flows: u64,
    traffic: Traffic,
    ports: Vec<u16>,
    /// `Opened` bits of its connections.
    opened: u8,
    /// `BY_STATUS | BY_PORT` (cleartext) or `AWS_BY_FIELD | AWS_BY_RANGES`.
    evidence: u8,
    aws_service: u32,
}

/// The findings being gathered, one per (check, ENI, peer, protocol, action).
#[derive(Default)]
struct Drafts {
    list: Vec<Draft>,
    index: FxHashMap<(Check, u32, [u8; 16], u16, u8), u32>,
}

impl Drafts {
    /// The draft of a connection's finding under `check`, counting the connection.
    fn get(&mut self, check: Check, k: &ConnKey, action: usize, opened: Opened) -> &mut Draft {
        let list = &mut self.list;
        let at = *self
            .index
            .entry((check, k.eni, k.peer_addr, k.protocol, action as u8))
            .or_insert_with(|| {
                list.push(Draft {
                    check,
                    key: *k,
                    action: action as u8,
                    flows: 0,
                    traffic: Traffic::default(),
                    ports: Vec::new(),
                    opened: 0,
                    evidence: 0,
                    aws_service: NONE,
                });
                (list.len() - 1) as u32
            });
        let d = &mut list[at as usize];
        d.flows += 1;
        d.opened |= opened as u8;
        d
    }
}

/// What a finding's reason says besides the finding's fields.
struct Facts<'a> {
    check: Check,
    opened: u8,
    evidence: u8,
    aws_service: Option<&'a str>,
    peer_cluster: Option<&'a str>,
    /// The load balancer of a load balancer peer's ENI.
    peer_lb: Option<&'a str>,
}

/// A string of findings, shared by the findings that name it.
pub type Text = std::sync::Arc<str>;

/// A port as logged (0 when absent).
fn port(a: Option<&Int32Array>, row: usize) -> u16 {
    int32(a, row).map_or(0, |p| p as u16)
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Accepted traffic with the internet that the policy forbids.
    High,
    /// Accepted traffic inside the VPC that the policy forbids, and AWS API traffic
    /// that bypasses the VPC endpoints.
    Medium,
    /// Rejected attempts.
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

/// Rejected attempts are low; accepted traffic with the internet is high, except a
/// PrivateLink bypass (AWS's own addresses: cost and exposure, not a stranger);
/// everything else medium.
fn severity(check: Check, action: &str, peer_kind: Option<&str>) -> Severity {
    match (action, peer_kind) {
        ("REJECT", _) => Severity::Low,
        _ if check == Check::PrivatelinkBypass => Severity::Medium,
        (_, Some(k)) if k == PeerKind::Internet.as_str() => Severity::High,
        _ => Severity::Medium,
    }
}

/// One finding: a task ENI's traffic with one peer, of one protocol and action, that
/// breaks one rule of the policy.
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
    /// The server ports of its connections, sorted (the task's for connections the
    /// peer opened, the peer's for the task's own).
    pub ports: Vec<u16>,
    pub protocol: i32,
    pub action: &'static str,
    /// Distinct connections (5-tuples).
    pub flows: u64,
    /// The records counted: for unexpected-ingress and unexpected-egress the opener's
    /// (peer -> task, task -> peer); for the other rules every record that qualifies,
    /// either direction.
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
    /// Of those, task ENIs whose task no source names.
    pub unnamed_not_audited: u64,
    /// Tasks with a rule none of whose records could be oriented.
    pub tasks_undirected: u64,
    pub services_not_audited: Vec<String>,
    pub counts: Counts,
    /// Connections of audited tasks that some check had to judge.
    pub connections: u64,
    pub opened_by_peers: u64,
    pub opened_by_tasks: u64,
    /// Connections for which no evidence said who opened them, where it mattered: no
    /// ingress, egress or port-evidence cleartext finding is made of them.
    pub undecided: u64,
    /// About how many bytes the state of the audit's connections took (after merging
    /// the workers').
    pub state_bytes: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// Findings per rule, in the order of [`Check::ALL`].
    pub by_rule: [u64; 5],
    /// The checks that ran.
    pub checks: Checks,
}

impl AuditSummary {
    pub fn findings(&self) -> u64 {
        self.high + self.medium + self.low
    }

    /// The findings of each rule that ran: "unexpected-ingress 4, cleartext 0".
    pub fn per_rule(&self) -> String {
        Check::ALL
            .iter()
            .zip(self.by_rule)
            .filter(|(c, _)| self.checks.has(**c))
            .map(|(c, n)| format!("{} {n}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why records of `private_aws_access` tasks could not be judged, in words (for the
/// summary and the error of an audit that found nothing else).
pub fn aws_unknown_words(records: u64) -> String {
    format!(
        "{records} record{} between tasks of private_aws_access services and internet \
         addresses, and nothing says whether those addresses are AWS's: the flow log has no \
         pkt-src-aws-service/pkt-dst-aws-service fields (v5 and later); give AWS's \
         ip-ranges.json with --aws-ip-ranges",
        if records == 1 { "" } else { "s" }
    )
}

/// What a peer is, in words (the kind's words of [`PeerKind::words`]).
fn peer_words(f: &Finding, facts: &Facts) -> String {
    let eni = f.peer_eni_id.as_deref().unwrap_or("?");
    let Some(kind) = f.peer_kind.as_deref().and_then(PeerKind::parse) else {
        return format!("ENI {eni}");
    };
    match kind {
        PeerKind::Task => {
            let of_cluster = match (facts.peer_cluster, f.cluster.as_deref()) {
                (Some(c), Some(own)) if !super::same_cluster(c, own) => {
                    format!(" in cluster {}", crate::enrich::arn_name(c))
                }
                _ => String::new(),
            };
            match &f.peer_service {
                Some(s) => format!("a task of service {s}{of_cluster}"),
                None => format!("a task that belongs to no service ({eni}){of_cluster}"),
            }
        }
        PeerKind::Other => format!("ENI {eni}"),
        k if k.is_address_group() => k.words().a.to_string(),
        k => match facts.peer_lb {
            Some(lb) if k.is_load_balancer() => format!("load balancer {lb} ({eni})"),
            _ => format!("{} ({eni})", k.words().a),
        },
    }
}

/// " port 80", " ports 80, 443", or nothing.
fn port_text(ports: &[u16]) -> String {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    match list.len() {
        0 => String::new(),
        1 => format!(" port {}", list[0]),
        _ => format!(" ports {}", list.join(", ")),
    }
}

/// What happened, from the side that opened the connections: "10.0.2.31 (a task of
/// service worker) connected to port 80", "its task tried to connect to 203.0.113.9 (an
/// internet address) on port 443, rejected", "its task exchanged traffic with ...".
fn what_happened(f: &Finding, facts: &Facts) -> String {
    let peer = format!("{} ({})", f.peer_addr, peer_words(f, facts));
    let ports = port_text(&f.ports);
    let rejected = if f.action == "REJECT" {
        ", rejected"
    } else {
        ""
    };
    let tried = if f.action == "REJECT" {
        "tried to connect"
    } else {
        "connected"
    };
    let on = if ports.is_empty() {
        String::new()
    } else {
        format!(" on{ports}")
    };
    match facts.opened {
        x if x == Opened::ByPeer as u8 => format!("{peer} {tried} to{ports}{rejected}"),
        x if x == Opened::ByTask as u8 => format!("its task {tried} to {peer}{on}{rejected}"),
        _ => format!("its task exchanged traffic with {peer}{on}{rejected}"),
    }
}

/// The finding's reason: one sentence saying what happened and which rule of the
/// policy it breaks.
fn reason(f: &Finding, facts: &Facts, auditor: &Auditor) -> String {
    let service = f.service.as_deref().unwrap_or("this task");
    let rule = auditor
        .policy
        .rule_for(f.service.as_deref(), f.cluster.as_deref());
    let happened = what_happened(f, facts);
    match facts.check {
        Check::UnexpectedIngress => {
            let rule = rule.map(|r| r.describe(auditor.map)).unwrap_or_default();
            let who = format!("{} is {}", f.peer_addr, peer_words(f, facts));
            let ports = port_text(&f.ports);
            if f.action == "REJECT" {
                format!("{who} and tried to connect to{ports}, rejected; {service} {rule}")
            } else {
                format!("{who} and connected to{ports}; {service} {rule}")
            }
        }
        Check::UnexpectedEgress => {
            let rule = rule
                .map(|r| r.describe_egress(auditor.map))
                .unwrap_or_default();
            format!("{service} {rule}; {happened}")
        }
        Check::Cleartext => {
            let how = match (
                facts.evidence & BY_STATUS != 0,
                facts.evidence & BY_PORT != 0,
            ) {
                (true, false) => {
                    " and the flow log marks it not encrypted (encryption-status 0)".to_string()
                }
                (false, _) => ", a cleartext port, and the flow log does not say whether it \
                               was encrypted (no encryption-status)"
                    .to_string(),
                (true, true) => " and the flow log marks it not encrypted (encryption-status \
                                 0; where the status is missing, the cleartext port decides)"
                    .to_string(),
            };
            format!("{service} requires encryption in transit; {happened}{how}")
        }
        Check::Isolation => {
            let cluster = f
                .cluster
                .as_deref()
                .map(|c| crate::enrich::arn_name(c).to_string());
            let lists = match rule {
                Some(r)
                    if !r.ingress.is_empty()
                        || r.egress.as_ref().is_some_and(|e| !e.is_empty()) =>
                {
                    ", VPC endpoints and the peers its lists allow"
                }
                _ => " and VPC endpoints",
            };
            let own = match cluster {
                Some(c) => format!("tasks of its cluster {c}"),
                None => "tasks of its own cluster".to_string(),
            };
            format!("{service} is isolated and may talk only to {own}{lists}; {happened}")
        }
        Check::PrivatelinkBypass => {
            let aws = facts.aws_service.unwrap_or("AWS");
            let by = if facts.evidence & AWS_BY_FIELD != 0 {
                "by the flow log's pkt-*-aws-service field"
            } else {
                "by AWS's ip-ranges.json"
            };
            let on = match port_text(&f.ports) {
                p if p.is_empty() => p,
                p => format!(" on{p}"),
            };
            format!(
                "{service} must reach AWS services only through VPC endpoints (PrivateLink); \
                 its task reached {} ({aws}, {by}){on} over the internet instead",
                f.peer_addr
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::enrich::load::parse_map;
    use crate::enrich::Enricher;
    use crate::parse::{decode_slice, DecoderOptions};
    use crate::policy::{CommandLineRules, RULE_LOOKUPS};

    const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
";

    #[test]
    fn rule_lookup_is_once_per_service_not_per_record() {
        // Regression: the audit asked the policy for a task's rule on every record, by
        // a scan of every [[service]]: 5,000 rules made 200k records 20 times slower.
        let mut policy = String::from("[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n");
        for i in 0..5_000 {
            policy.push_str(&format!("[[service]]\nname = \"svc-{i}\"\n"));
        }
        policy.push_str(
            "[[service]]\nname = \"web\"\nports = [8080]\ningress_from_cidrs = [\"vpc\"]\n\
             [[service]]\nname = \"api\"\ncluster = \"prod\"\nports = [9090]\n\
             ingress_from_services = [\"web\"]\n",
        );
        let policy = Policy::parse("p.toml", &policy, &[], &CommandLineRules::default()).unwrap();
        let map = Arc::new(EniMap::from_facts(
            parse_map("map.csv", MAP.as_bytes()).unwrap().facts,
        ));
        let enricher = Enricher::new(map.clone(), &policy.vpc_cidrs);
        let auditor = Auditor::new(&policy, &map);
        // 500 connections from web to api (allowed) and 500 from the internet to web
        // (one finding), each logged by both ENIs or by web.
        let mut text = String::from(
            "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes \
             start end action log-status tcp-flags\n",
        );
        for i in 0..500 {
            let t = 1_793_491_200 + i;
            let port = 40_000 + i;
            for eni in ["eni-web", "eni-api"] {
                text.push_str(&format!(
                    "5 {eni} 10.0.1.10 10.0.2.20 {port} 9090 6 3 300 {t} {t} ACCEPT OK 2\n"
                ));
            }
            text.push_str(&format!(
                "5 eni-web 198.51.100.7 10.0.1.10 {port} 8080 6 3 300 {t} {t} ACCEPT OK 2\n"
            ));
        }
        let decoded = decode_slice(
            text.as_bytes(),
            DecoderOptions {
                batch_size: 7,
                ..DecoderOptions::default()
            },
        );
        assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
        let mut state = AuditState::default();
        let before = RULE_LOOKUPS.with(|n| n.get());
        for b in &decoded.batches {
            state.add(&enricher.enrich(b).0, &auditor);
        }
        // Two services met, (web, prod) and (api, prod): two lookups for 1,500 records.
        assert_eq!(state.counts.on_tasks, 1_500);
        assert_eq!(RULE_LOOKUPS.with(|n| n.get()) - before, 2);
        let (findings, summary) = state.finish(&auditor);
        assert_eq!(summary.tasks_audited, 2);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, UNEXPECTED_INGRESS);
        assert_eq!(findings[0].peer_addr, "198.51.100.7");
        assert_eq!(findings[0].flows, 500);
    }
}
