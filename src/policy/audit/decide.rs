//! Every connection as the audit decides it, for a caller that turns traffic into rules
//! (`vpcflow learn`): who opened it, as [`AuditState::finish`] decides under the same
//! policy, and its traffic each way by action.

use super::conn::{
    Conn, ConnKey, Traffic, NO_PROTOCOL, PEER_CLUSTER, PEER_ENI, PEER_KIND, PEER_LB, PEER_SERVICE,
    PEER_TASK,
};
use super::finish::opener;
use super::state::{rule_of, AuditState, Rules};
use super::Auditor;
use crate::initiator;
use crate::intern::NONE;
use crate::policy::rules::Opened;

/// What one side sent over a connection, by action: records, packets, bytes, and the
/// first start and last end of them.
pub type Seen = Traffic;

/// A connection of an audited task's ENI as the audit decided it.
#[derive(Debug)]
pub struct Decision<'a> {
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

impl AuditState {
    /// Calls `f` with every connection the state holds, decided as
    /// [`AuditState::finish`] decides it under `auditor`'s policy (its listener ports
    /// included), in an order that does not depend on hashing or threads.
    pub fn each_decision(&self, auditor: &Auditor, mut f: impl FnMut(&Decision)) {
        let mut conns: Vec<(&ConnKey, &Conn)> = self.conns.iter().collect();
        conns.sort_by_cached_key(|(k, _)| self.sort_key(k));
        let stable = initiator::stability_by_group(
            &conns,
            |(k, _)| (k.eni, k.owner, k.peer_addr, k.protocol, k.peer),
            |(k, _)| [k.own_port, k.peer_port],
        );
        let mut rules = Rules::default();
        let s = &self.strings;
        for ((k, c), stable) in conns.into_iter().zip(stable) {
            let own = self.owners.values[k.owner as usize];
            let peer = self.peers.values[k.peer as usize];
            let Some(rule) = rule_of(&mut rules, s, auditor.policy, [own[1], own[3], own[2]])
            else {
                continue;
            };
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
            let opened = opener(k, c, rule, peer_listens, stable);
            f(&Decision {
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
