//! The fold: each enriched record of an audited task, judged by the rules against its
//! peer, into the connection it belongs to ([`AuditState::add`]), and the merge of two
//! workers' states ([`AuditState::merge`]).

use std::collections::BTreeSet;

use arrow::array::{Array, BooleanArray, FixedSizeBinaryArray, Int32Array, Int64Array};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use super::conn::{
    first_service, Conn, ConnKey, Traffic, Tuples, AWS_VIA_GATEWAY, ENCRYPTED, GATEWAY_ENDPOINT,
    NO_PROTOCOL,
};
use super::summary::Counts;
use super::Auditor;
use crate::columns::{addr, col, int32, int64, Times};
use crate::enrich::PeerKind;
use crate::intern::{Attribution, DictIds, Strings, NONE};
use crate::policy::rules::egress::Egress;
use crate::policy::rules::private_aws::{BY_FIELD, BY_RANGES};
use crate::policy::rules::{self, Check, Checks, PeerView};
use crate::policy::{PeerRef, Policy, Rule, RuleId, Subject};

/// The audit's mergeable state.
#[derive(Default, Clone)]
pub struct AuditState {
    pub(super) strings: Strings,
    /// Task, service, cluster and (for a task outside any service) task family.
    pub(super) owners: Tuples<4>,
    pub(super) peers: Tuples<6>,
    pub(super) conns: FxHashMap<ConnKey, Conn>,
    /// Task (its ARN's id, or its ENI's when no source names it, and whether it is
    /// named) -> how far it could be audited.
    pub(super) tasks: FxHashMap<(u32, bool), Audited>,
    /// Services of tasks that are not audited.
    pub(super) unaudited_services: BTreeSet<u32>,
    /// The rule of each (service, family, cluster) met, by their interned ids (the
    /// family `NONE` when there is a service): the policy is asked once per triple, not
    /// once per record. Valid for this state's strings (a merge keeps its own and drops
    /// the other's).
    pub(super) rules: Rules,
    pub(super) counts: Counts,
}

/// The rule of each (service, family, cluster) met (see [`AuditState::rules`]).
pub(super) type Rules = FxHashMap<(u32, u32, u32), Option<RuleId>>;

/// The rule of a task of the interned `service` (else `family`) in `cluster`, asked of
/// the policy the first time the triple is met.
pub(super) fn rule_of<'p>(
    rules: &mut Rules,
    strings: &Strings,
    policy: &'p Policy,
    [service, family, cluster]: [u32; 3],
) -> Option<&'p Rule> {
    let id = *rules.entry((service, family, cluster)).or_insert_with(|| {
        let subject = Subject::of(strings.get(service), strings.get(family));
        policy.rule_id_of(subject, strings.get(cluster))
    });
    id.map(|id| policy.rule(id))
}

/// How far a task could be audited; a task seen in several records takes the most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Audited {
    /// Its service has no rule (and there is no `[defaults]`).
    NoRule,
    /// It has a rule, but the direction of none of its records could be decided.
    Undirected,
    Yes,
}

/// The columns [`AuditState::add`] reads, looked up once per batch.
struct Columns<'a> {
    eni: DictIds<'a>,
    srcaddr: Option<&'a FixedSizeBinaryArray>,
    dstaddr: Option<&'a FixedSizeBinaryArray>,
    who: Attribution<'a>,
    peer_addr: &'a FixedSizeBinaryArray,
    inbound: &'a BooleanArray,
    protocol: Option<&'a Int32Array>,
    srcport: Option<&'a Int32Array>,
    dstport: Option<&'a Int32Array>,
    flags: Option<&'a Int32Array>,
    action: Option<DictIds<'a>>,
    packets: Option<&'a Int64Array>,
    bytes: Option<&'a Int64Array>,
    times: Times<'a>,
    encryption: Option<&'a Int32Array>,
    path: Option<&'a Int32Array>,
    aws_src: Option<DictIds<'a>>,
    aws_dst: Option<DictIds<'a>>,
}

/// A record of an audited task whose direction is known: its task's ids and rule.
struct Judged<'p> {
    rule: &'p Rule,
    task: u32,
    service: u32,
    cluster: u32,
    family: u32,
}

/// A port as logged (0 when absent).
fn port(a: Option<&Int32Array>, row: usize) -> u16 {
    int32(a, row).map_or(0, |p| p as u16)
}

impl AuditState {
    /// Folds one enriched batch (see `enrich::join`) into the state.
    pub fn add(&mut self, batch: &RecordBatch, auditor: &Auditor) {
        let n = batch.num_rows();
        self.counts.records += n as u64;
        let Some(mut c) = self.columns(batch) else {
            return;
        };
        for row in 0..n {
            self.add_row(&mut c, row, auditor);
        }
    }

    /// The batch's columns; `None` (and the records counted) when it has none to judge.
    fn columns<'a>(&mut self, batch: &'a RecordBatch) -> Option<Columns<'a>> {
        let n = batch.num_rows() as u64;
        let Some(eni) = DictIds::of(batch, "interface_id") else {
            self.counts.without_interface += n;
            return None;
        };
        let (Some(srcaddr), Some(dstaddr)) = (
            col::<FixedSizeBinaryArray>(batch, "srcaddr"),
            col::<FixedSizeBinaryArray>(batch, "dstaddr"),
        ) else {
            self.counts.without_addresses += n;
            return None;
        };
        let who = Attribution::of(batch)?;
        Some(Columns {
            eni,
            srcaddr: Some(srcaddr),
            dstaddr: Some(dstaddr),
            who,
            peer_addr: col::<FixedSizeBinaryArray>(batch, "peer_addr")?,
            inbound: col::<BooleanArray>(batch, "inbound")?,
            protocol: col::<Int32Array>(batch, "protocol"),
            srcport: col::<Int32Array>(batch, "srcport"),
            dstport: col::<Int32Array>(batch, "dstport"),
            flags: col::<Int32Array>(batch, "tcp_flags"),
            action: DictIds::of(batch, "action"),
            packets: col::<Int64Array>(batch, "packets"),
            bytes: col::<Int64Array>(batch, "bytes"),
            times: Times::of(batch),
            encryption: col::<Int32Array>(batch, "encryption_status"),
            path: col::<Int32Array>(batch, "traffic_path"),
            aws_src: DictIds::of(batch, "pkt_src_aws_service"),
            aws_dst: DictIds::of(batch, "pkt_dst_aws_service"),
        })
    }

    /// The record's task, if it is an audited task's and its direction is known;
    /// counts it, and how far its task could be audited, either way.
    #[inline]
    fn judged<'p>(
        &mut self,
        c: &mut Columns,
        row: usize,
        auditor: &Auditor<'p>,
    ) -> Option<Judged<'p>> {
        let Some(eni) = c.eni.str(row) else {
            self.counts.without_interface += 1;
            return None;
        };
        if c.who.kind.str(row) != Some(PeerKind::Task.as_str()) {
            return None;
        }
        let task = c.who.task.id(row, &mut self.strings);
        // A task ENI whose task no source names is still a task's: its ENI stands
        // for the task, and rules that need no service judge it.
        let named = task != NONE;
        let task_key = if named {
            task
        } else {
            self.counts.unnamed += 1;
            c.eni.id(row, &mut self.strings)
        };
        self.counts.on_tasks += 1;
        let service = c.who.service.id(row, &mut self.strings);
        let cluster = c.who.cluster.id(row, &mut self.strings);
        // A task outside any service takes its task definition family's rule.
        let family = if service == NONE {
            auditor
                .map
                .eni_at(eni, c.times.at(row))
                .and_then(|h| h.task_family.as_deref())
                .map_or(NONE, |f| self.strings.id(f))
        } else {
            NONE
        };
        let rule = rule_of(
            &mut self.rules,
            &self.strings,
            auditor.policy,
            [service, family, cluster],
        );
        let directed = c.peer_addr.is_valid(row) && c.inbound.is_valid(row);
        // NODATA/SKIPDATA records carry no addresses: nothing to judge, and no
        // reason not to call the task audited.
        let addressed = addr(c.srcaddr, row).is_some() && addr(c.dstaddr, row).is_some();
        let audited = match (rule, directed || !addressed) {
            (None, _) => Audited::NoRule,
            (Some(_), false) => Audited::Undirected,
            (Some(_), true) => Audited::Yes,
        };
        let seen = self.tasks.entry((task_key, named)).or_insert(audited);
        *seen = (*seen).max(audited);
        let Some(rule) = rule else {
            if service != NONE {
                self.unaudited_services.insert(service);
            } else if !named {
                self.counts.unnamed_unjudged += 1;
            }
            return None;
        };
        if !directed {
            if addressed {
                self.counts.undirected += 1;
            }
            return None;
        }
        Some(Judged {
            rule,
            task,
            service,
            cluster,
            family,
        })
    }

    /// One record: judged by the rules against its peer, and folded into its connection
    /// unless every rule admits the peer. Kept whole: it is the per-record path, and its
    /// parts share a dozen values of the record.
    #[inline]
    fn add_row(&mut self, c: &mut Columns, row: usize, auditor: &Auditor) {
        let Some(Judged {
            rule,
            task,
            service,
            cluster,
            family,
        }) = self.judged(c, row, auditor)
        else {
            return;
        };
        let checks = auditor.checks;
        let peer: [u8; 16] = c.peer_addr.value(row).try_into().expect("16 bytes");
        let t = c.times.at(row);
        let peer_holder = c
            .who
            .peer_eni
            .str(row)
            .and_then(|e| auditor.map.eni_at(e, t));
        let view = PeerView {
            who: PeerRef {
                addr: peer,
                groups: peer_holder
                    .map(|h| h.security_groups.as_slice())
                    .unwrap_or(&[]),
                service: c.who.peer_service.str(row),
                load_balancer: peer_holder.and_then(|h| h.load_balancer.as_deref()),
                family: peer_holder
                    .filter(|h| h.service.is_none())
                    .and_then(|h| h.task_family.as_deref()),
            },
            kind: c.who.peer_kind.str(row),
            cluster: peer_holder.and_then(|h| h.cluster.as_deref()),
            own_cluster: c.who.cluster.str(row),
        };
        let allowed = rules::admitted(checks, rule, &view);
        // With egress_ports, an admitted peer's connections are judged by port.
        let by_port = checks.has(Check::UnexpectedEgress) && Egress::judges_ports(rule);
        if allowed == Checks::ALL && !by_port {
            self.counts.admitted += 1;
            return;
        }
        let cleartext_applies = !allowed.has(Check::Cleartext);
        let aws_applies = !allowed.has(Check::PrivatelinkBypass);
        let inbound = c.inbound.value(row);
        let (sp, dp) = (port(c.srcport, row), port(c.dstport, row));
        let (own_port, peer_port) = if inbound { (dp, sp) } else { (sp, dp) };
        let act = c.action.as_ref().and_then(|a| a.str(row));
        let (accepted, rejected) = (act == Some("ACCEPT"), act == Some("REJECT"));
        // A layout without `action` is judged as if every record was accepted.
        let not_rejected = !rejected;
        let aws_service = if aws_applies && not_rejected {
            self.aws_service(c, row, inbound, &peer, auditor)
        } else {
            None
        };
        let owner = self.owners.id([task, service, cluster, family]);
        let peer_cluster = view.cluster.map_or(NONE, |c| self.strings.id(c));
        let peer_lb = view.who.load_balancer.map_or(NONE, |c| self.strings.id(c));
        let peer_id = self.peers.id([
            c.who.peer_eni.id(row, &mut self.strings),
            c.who.peer_kind.id(row, &mut self.strings),
            c.who.peer_task.id(row, &mut self.strings),
            c.who.peer_service.id(row, &mut self.strings),
            peer_cluster,
            peer_lb,
        ]);
        let key = ConnKey {
            eni: c.eni.id(row, &mut self.strings),
            owner,
            peer_addr: peer,
            protocol: int32(c.protocol, row).map_or(NO_PROTOCOL, |p| p as u16),
            own_port,
            peer_port,
            peer: peer_id,
        };
        let conn = self.conns.entry(key).or_default();
        conn.allowed = conn.allowed.and(allowed);
        let s = c.times.at(row);
        conn.sent[inbound as usize].add(int32(c.flags, row), s, accepted, rejected);
        let s = s.unwrap_or(0);
        let e = c.times.last(row).unwrap_or(s);
        let mut traffic = Traffic::default();
        traffic.add(
            int64(c.packets, row).unwrap_or(0).max(0) as u64,
            int64(c.bytes, row).unwrap_or(0).max(0) as u64,
            s,
            e,
        );
        if inbound {
            conn.inbound[rejected as usize].merge(&traffic);
        }
        // Outbound records matter to egress, isolation and new peers only.
        let keep_outbound = !inbound
            && (checks.has(Check::UnexpectedEgress) && rule.egress.is_some()
                || checks.has(Check::Isolation) && rule.isolated
                || !allowed.has(Check::NewPeer));
        let gateway = aws_applies && int32(c.path, row) == Some(GATEWAY_ENDPOINT);
        let status = int32(c.encryption, row);
        let clear_ports = &auditor.policy.cleartext_ports;
        let cleartext = cleartext_applies
            && not_rejected
            && match status {
                Some(s) => s == 0,
                None => clear_ports.contains(&own_port) || clear_ports.contains(&peer_port),
            };
        let encrypted = cleartext_applies && status.is_some_and(|s| s != 0);
        if !(keep_outbound || cleartext || encrypted || aws_service.is_some() || gateway) {
            return;
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

    /// The AWS service of the peer's address (interned) and how it was known: from the
    /// record (the peer's side of it) or from AWS's ranges.
    #[inline]
    fn aws_service(
        &mut self,
        c: &Columns,
        row: usize,
        inbound: bool,
        peer: &[u8; 16],
        auditor: &Auditor,
    ) -> Option<(u32, u8)> {
        let field = if inbound { &c.aws_src } else { &c.aws_dst };
        let named = field
            .as_ref()
            .and_then(|f| f.str(row))
            .filter(|s| !crate::aws_ranges::is_shared(s));
        if let Some(s) = named {
            Some((self.strings.id(s), BY_FIELD))
        } else if let Some(r) = auditor.aws_ranges {
            r.lookup(peer)
                .map(|a| (self.strings.id(a.service), BY_RANGES))
        } else {
            if field.is_none() {
                self.counts.aws_unknown += 1;
            }
            None
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
}
