//! Every connection as the audit decides it, for a caller that turns traffic into rules
//! (`vpcflow learn`): who opened it, as [`AuditState::finish`] decides under the same
//! policy, and its traffic each way by action. Decisions that no policy changes are made
//! once ([`Decider`]), so that deciding again under other listener ports costs only the
//! connections the ports may decide.

use rayon::prelude::*;

use super::conn::{
    Conn, ConnKey, Traffic, NO_PROTOCOL, PEER_CLUSTER, PEER_ENI, PEER_KIND, PEER_LB, PEER_SERVICE,
    PEER_TASK,
};
use super::finish::opener;
use super::state::{rule_of, AuditState, Rules};
use super::Auditor;
use crate::initiator::{self, Connection, Evidence};
use crate::intern::NONE;
use crate::policy::rules::Opened;

/// What one side sent over a connection, by action: records, packets, bytes, and the
/// first start and last end of them.
pub type Seen = Traffic;

/// A connection of an audited task's ENI as the audit decided it.
#[derive(Debug)]
pub struct Decision<'a> {
    /// The state's ids of the ENI, the owner (task, service, cluster, family) and the
    /// peer (ENI, kind, task, service, cluster, load balancer): equal ids, equal values,
    /// within one state.
    pub ids: [u32; 3],
    /// Whether the listener ports may change who opened it (no TCP flags, earlier
    /// outbound record or REJECT decided it).
    pub by_ports: bool,
    pub eni: &'a str,
    pub task: Option<&'a str>,
    pub service: Option<&'a str>,
    pub cluster: Option<&'a str>,
    /// The task definition family of a task outside any service.
    pub family: Option<&'a str>,
    pub peer_addr: [u8; 16],
    /// The protocol number; `None` when not logged.
    pub protocol: Option<u16>,
    pub own_port: u16,
    pub peer_port: u16,
    pub peer_eni: Option<&'a str>,
    pub peer_kind: Option<&'a str>,
    pub peer_task: Option<&'a str>,
    pub peer_service: Option<&'a str>,
    pub peer_cluster: Option<&'a str>,
    pub peer_lb: Option<&'a str>,
    pub opened: Opened,
    /// What the task sent (`[0]`) and the peer sent (`[1]`), each by action (ACCEPT,
    /// REJECT). Counted for every record only under a policy that admits no one, as
    /// `learn` runs it (the audit keeps no state for records every rule admits).
    pub sent: [[Seen; 2]; 2],
}

/// The connections of a state with their port stability, and the decisions that no
/// policy changes (TCP flags, an earlier outbound record, a REJECT: evidence before the
/// listener ports): made once, then decided under as many policies as a caller asks
/// ([`Decider::each`], [`Decider::each_by_ports`]).
pub struct Decider<'s> {
    state: &'s AuditState,
    conns: Vec<(&'s ConnKey, &'s Conn)>,
    stable: Vec<[bool; 2]>,
    /// The opener where the listener ports cannot change it.
    fixed: Vec<Option<Opened>>,
}

/// Which connections [`Decider::visit`] hands on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    All,
    ByPorts,
}

impl AuditState {
    /// The connections, grouped by task ENI and peer (in the order of the state's ids:
    /// it may differ between runs, so a caller that needs an order sorts what it
    /// makes), with their port stability, ready to be decided.
    pub fn decider(&self) -> Decider<'_> {
        let mut conns: Vec<(&ConnKey, &Conn)> = self.conns.iter().collect();
        conns.sort_unstable_by_key(|(k, _)| {
            (
                k.eni,
                k.owner,
                k.peer_addr,
                k.protocol,
                k.peer,
                k.own_port,
                k.peer_port,
            )
        });
        let stable = initiator::stability_by_group(
            &conns,
            |(k, _)| (k.eni, k.owner, k.peer_addr, k.protocol, k.peer),
            |(k, _)| [k.own_port, k.peer_port],
        );
        let fixed = conns
            .par_iter()
            .zip(&stable)
            .map(|((k, c), &stable)| {
                let o = initiator::opener(&Connection {
                    sent: c.sent,
                    ports: [k.own_port, k.peer_port],
                    logged_by: [true, false],
                    listens: [false, false],
                    stable,
                })?;
                match o.by {
                    Evidence::TcpFlags | Evidence::EarlierOutbound | Evidence::Reject => {
                        Some(if o.side == 0 {
                            Opened::ByTask
                        } else {
                            Opened::ByPeer
                        })
                    }
                    _ => None,
                }
            })
            .collect();
        Decider {
            state: self,
            conns,
            stable,
            fixed,
        }
    }
}

impl Decider<'_> {
    /// Calls `f` with every connection, decided under `auditor`'s policy (its listener
    /// ports included) as [`AuditState::finish`] decides it.
    pub fn each(&self, auditor: &Auditor, f: impl FnMut(&Decision)) {
        self.visit(auditor, Which::All, f);
    }

    /// Calls `f` with the connections whose opener the listener ports may decide
    /// (those [`Decision::by_ports`] marks), decided under `auditor`'s policy: a caller
    /// that decides again under other ports keeps what the others made once.
    pub fn each_by_ports(&self, auditor: &Auditor, f: impl FnMut(&Decision)) {
        self.visit(auditor, Which::ByPorts, f);
    }

    fn visit(&self, auditor: &Auditor, which: Which, mut f: impl FnMut(&Decision)) {
        let state = self.state;
        let mut rules = Rules::default();
        let s = &state.strings;
        for ((&(k, c), &stable), &fixed) in self.conns.iter().zip(&self.stable).zip(&self.fixed) {
            if which == Which::ByPorts && fixed.is_some() {
                continue;
            }
            let own = state.owners.values[k.owner as usize];
            let peer = state.peers.values[k.peer as usize];
            let Some(rule) = rule_of(&mut rules, s, auditor.policy, [own[1], own[3], own[2]])
            else {
                continue;
            };
            let opened = fixed.unwrap_or_else(|| {
                let peer_listens = (peer[PEER_SERVICE] != NONE)
                    .then(|| {
                        rule_of(
                            &mut rules,
                            s,
                            auditor.policy,
                            [peer[PEER_SERVICE], NONE, peer[PEER_CLUSTER]],
                        )
                    })
                    .flatten()
                    .is_some_and(|r| r.ports.contains(&k.peer_port));
                opener(k, c, rule, peer_listens, stable)
            });
            f(&Decision {
                ids: [k.eni, k.owner, k.peer],
                by_ports: fixed.is_none(),
                eni: s.get(k.eni).unwrap_or_default(),
                task: s.get(own[0]),
                service: s.get(own[1]),
                cluster: s.get(own[2]),
                family: s.get(own[3]),
                peer_addr: k.peer_addr,
                protocol: (k.protocol != NO_PROTOCOL).then_some(k.protocol),
                own_port: k.own_port,
                peer_port: k.peer_port,
                peer_eni: s.get(peer[PEER_ENI]),
                peer_kind: s.get(peer[PEER_KIND]),
                peer_task: s.get(peer[PEER_TASK]),
                peer_service: s.get(peer[PEER_SERVICE]),
                peer_cluster: s.get(peer[PEER_CLUSTER]),
                peer_lb: s.get(peer[PEER_LB]),
                opened,
                sent: [c.traffic(0), c.traffic(1)],
            });
        }
    }
}
