//! The verdicts: every connection decided (who opened it, which rules it breaks), its
//! traffic gathered into drafts of findings, then the findings with their rule's words
//! and the totals ([`AuditState::finish`]), in their output order ([`order`]).

use rustc_hash::FxHashMap;

use super::conn::{
    first_service, Conn, ConnKey, Traffic, AWS_BY, AWS_VIA_GATEWAY, ENCRYPTED, NO_PROTOCOL,
    PEER_CLUSTER, PEER_ENI, PEER_KIND, PEER_LB, PEER_SERVICE, PEER_TASK,
};
use super::state::{rule_of, AuditState, Audited, Rules};
use super::summary::AuditSummary;
use super::Auditor;
use crate::initiator::{self, Connection};
use crate::intern::NONE;
use crate::policy::finding::{Direction, Finding, Severity, Text};
use crate::policy::rules::cleartext::{BY_PORT, BY_STATUS};
use crate::policy::rules::{Check, Facts, Opened};
use crate::policy::{Rule, Subject};

/// What [`AuditState::finish`] gathers while it decides the connections: findings in
/// a compact form first, one per (check, ENI, peer, protocol, action), while the
/// connections are freed.
struct Gathered {
    summary: AuditSummary,
    /// The rule of each (service, cluster), as [`AuditState`] keeps them.
    rules: Rules,
    drafts: Drafts,
}

impl AuditState {
    /// Decides every connection and returns the findings, grouped by service and rule
    /// (see [`order`]), and totals. Consumes the state: its connection table is freed as
    /// the findings are built.
    pub fn finish(mut self, auditor: &Auditor) -> (Vec<Finding>, AuditSummary) {
        let mut out = Gathered {
            summary: self.summary(auditor),
            rules: std::mem::take(&mut self.rules),
            drafts: Drafts::default(),
        };
        let conns = self.sorted_connections();
        // Port stability: over the connections of one task ENI with one peer.
        let stable = initiator::stability_by_group(
            &conns,
            |(k, _)| (k.eni, k.owner, k.peer_addr, k.protocol, k.peer),
            |(k, _)| [k.own_port, k.peer_port],
        );
        for ((k, c), stable) in conns.into_iter().zip(stable) {
            out.summary.connections += 1;
            self.judge(&k, &c, stable, auditor, &mut out);
        }
        let Gathered {
            mut summary,
            drafts,
            ..
        } = out;
        let mut findings = self.findings(drafts, auditor);
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

    /// The totals that the state knows before any connection is decided.
    fn summary(&self, auditor: &Auditor) -> AuditSummary {
        let s = &self.strings;
        let count = |a: Audited| self.tasks.values().filter(|x| **x == a).count() as u64;
        let mut services_not_audited: Vec<String> = self
            .unaudited_services
            .iter()
            .filter_map(|&i| s.get(i).map(String::from))
            .collect();
        services_not_audited.sort();
        AuditSummary {
            tasks_audited: count(Audited::Yes),
            tasks_not_audited: count(Audited::NoRule),
            unnamed_not_audited: self
                .tasks
                .iter()
                .filter(|((_, named), a)| !named && **a == Audited::NoRule)
                .count() as u64,
            tasks_undirected: count(Audited::Undirected),
            counts: self.counts,
            services_not_audited,
            state_bytes: self.state_bytes(),
            checks: auditor.checks,
            ..AuditSummary::default()
        }
    }

    /// The connections, taken out of the state, in an order that does not depend on
    /// what the hash maps and the interning did.
    fn sorted_connections(&mut self) -> Vec<(ConnKey, Conn)> {
        let mut conns: Vec<(ConnKey, Conn)> = std::mem::take(&mut self.conns).into_iter().collect();
        conns.sort_by_cached_key(|(k, _)| self.sort_key(k));
        conns
    }

    /// A connection's place in that order: its ENI, task, peer, protocol and ports.
    #[allow(clippy::type_complexity)]
    pub(super) fn sort_key(
        &self,
        k: &ConnKey,
    ) -> (
        Option<&str>,
        Option<&str>,
        [u8; 16],
        u16,
        Option<&str>,
        Option<&str>,
        u16,
        u16,
    ) {
        let text = |id: u32| self.strings.get(id);
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
    }

    /// One connection: who opened it, and its traffic into the draft of each rule it
    /// breaks. Kept whole: the rules' verdicts read one decision of who opened it and
    /// one server port, and the draft of each is a few lines.
    fn judge(
        &self,
        k: &ConnKey,
        c: &Conn,
        stable: [bool; 2],
        auditor: &Auditor,
        out: &mut Gathered,
    ) {
        let Gathered {
            summary,
            rules,
            drafts,
        } = out;
        let s = &self.strings;
        let own = self.owners.values[k.owner as usize];
        let peer = self.peers.values[k.peer as usize];
        let Some(rule) = rule_of(rules, s, auditor.policy, [own[1], own[3], own[2]]) else {
            return;
        };
        // A peer without a service listens where no rule says (not `[defaults]`).
        let peer_listens = (peer[PEER_SERVICE] != NONE)
            .then(|| {
                rule_of(
                    rules,
                    s,
                    auditor.policy,
                    [peer[PEER_SERVICE], NONE, peer[PEER_CLUSTER]],
                )
            })
            .flatten()
            .is_some_and(|r| r.ports.contains(&k.peer_port));
        let opened = opener(k, c, rule, peer_listens, stable);
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
        let ingress = !c.allowed.has(Check::UnexpectedIngress);
        // Egress: a peer the lists do not name, or a server port egress_ports does
        // not allow (when the task opened it, the server's port is the peer's).
        let egress = rule.egress.is_some()
            && auditor.checks.has(Check::UnexpectedEgress)
            && (!c.allowed.has(Check::UnexpectedEgress) || !rule.egress_port_allowed(k.peer_port));
        let more = c.more.as_deref().copied().unwrap_or_default();
        let clear_by_port = more.unknown_encryption.records > 0 && more.marks & ENCRYPTED == 0;
        let aws = more.aws.records > 0 && more.marks & AWS_VIA_GATEWAY == 0;
        match opened {
            Opened::Unknown if ingress || egress || clear_by_port || aws => summary.undecided += 1,
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
                    let d = drafts.get(check, k, a, opened);
                    d.traffic.merge(t);
                    add_port(d);
                }
            }
        }
        // Isolation: every record, either direction, by action.
        if !c.allowed.has(Check::Isolation) {
            for a in 0..2 {
                let mut t = c.traffic(0)[a];
                t.merge(&c.traffic(1)[a]);
                if t.records > 0 {
                    let d = drafts.get(Check::Isolation, k, a, opened);
                    d.traffic.merge(&t);
                    add_port(d);
                }
            }
        }
        // New peers: the accepted records, either direction.
        if !c.allowed.has(Check::NewPeer) {
            let mut t = c.traffic(0)[0];
            t.merge(&c.traffic(1)[0]);
            if t.records > 0 {
                let d = drafts.get(Check::NewPeer, k, 0, opened);
                d.traffic.merge(&t);
                add_port(d);
            }
        }
        // Cleartext: records marked not encrypted, and records without the mark
        // when the server's port is a cleartext one.
        let mut clear = more.unencrypted;
        let mut evidence = if clear.records > 0 { BY_STATUS } else { 0 };
        if clear_by_port && server_port.is_some_and(|p| auditor.policy.cleartext_ports.contains(&p))
        {
            clear.merge(&more.unknown_encryption);
            if more.unknown_encryption.records > 0 {
                evidence |= BY_PORT;
            }
        }
        if clear.records > 0 {
            let d = drafts.get(Check::Cleartext, k, 0, opened);
            d.traffic.merge(&clear);
            d.evidence |= evidence;
            add_port(d);
        }
        // Reached: only connections the task opened (an AWS health check of the
        // task's listener reaches the task, not the other way).
        if aws && opened == Opened::ByTask {
            let d = drafts.get(Check::PrivatelinkBypass, k, 0, opened);
            d.traffic.merge(&more.aws);
            d.evidence |= more.marks & AWS_BY;
            d.aws_service = first_service(s, d.aws_service, more.aws_service);
            add_port(d);
        }
    }

    /// The findings of the drafts, each with its rule's severity and reason.
    fn findings(&self, drafts: Drafts, auditor: &Auditor) -> Vec<Finding> {
        let s = &self.strings;
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
                severity: d.check.severity(action, peer_kind.as_deref()),
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
                sg_rule: None,
                direction: match d.opened {
                    o if o == Opened::ByPeer as u8 => Some(Direction::In),
                    o if o == Opened::ByTask as u8 => Some(Direction::Out),
                    _ => None,
                },
            };
            let facts = Facts {
                opened: d.opened,
                evidence: d.evidence,
                aws_service: s.get(d.aws_service),
                peer_cluster: s.get(peer[PEER_CLUSTER]),
                peer_lb: s.get(peer[PEER_LB]),
                rule: auditor.policy.rule_of(
                    Subject::of(f.service.as_deref(), s.get(own[3])),
                    f.cluster.as_deref(),
                ),
                map: auditor.map,
            };
            f.reason = d.check.reason(&f, &facts);
            findings.push(f);
        }
        findings
    }
}

/// Who opened a connection, as [`initiator::opener`] decides from its records.
pub(super) fn opener(
    k: &ConnKey,
    c: &Conn,
    rule: &Rule,
    peer_listens: bool,
    stable: [bool; 2],
) -> Opened {
    let connection = Connection {
        sent: c.sent,
        ports: [k.own_port, k.peer_port],
        logged_by: [true, false],
        listens: [rule.ports.contains(&k.own_port), peer_listens],
        stable,
    };
    match initiator::opener(&connection) {
        None => Opened::Unknown,
        Some(o) if o.side == 0 => Opened::ByTask,
        Some(_) => Opened::ByPeer,
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
    /// The rule's evidence: `BY_STATUS | BY_PORT` (cleartext) or `BY_FIELD | BY_RANGES`
    /// (PrivateLink).
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
