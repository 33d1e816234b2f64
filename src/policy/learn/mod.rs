//! Learning a policy from traffic (`vpcflow learn`): the tightest policy, in the format
//! the audit reads, that admits every accepted connection of the window.
//!
//! The traffic is folded by the audit itself, under a policy that admits no one
//! ([`learning_policy`]), so that every connection of every task is kept and decided as
//! the audit decides it. Each accepted connection then admits its peer, in the direction
//! of whoever opened it, by the most durable name the map gives ([`name`]): its load
//! balancer, its service, its task family, its most specific security group, and its
//! address only where nothing names it. Addresses are collapsed no wider than observed
//! (see [`crate::net::Cidr::collapse`]); a service that talks to more than `max_hosts`
//! internet addresses on one port gets `0.0.0.0/0` (`::/0`), said in a comment.
//!
//! Listener ports change who opened a connection (the audit's step 4), so the ports are
//! learned to a fixed point: the connections are decided again under the policy learned
//! so far until its ports stop growing; the policy written is decided under the ports it
//! declares, so that the audit of the same window with it finds nothing that it admitted.
//! REJECTed attempts and connections whose opener stays undecided are listed in
//! comments, never admitted.

mod write;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use super::audit::{AuditState, Auditor, Check, Checks, Decision, Opened, Seen};
use super::{CommandLineRules, Of, Policy, PolicyError};
use crate::enrich::{arn_name, EniMap, PeerKind};
use crate::net::Cidr;

/// How `learn` names and widens peers.
#[derive(Clone, Debug)]
pub struct LearnOptions {
    /// A service talking to more than this many distinct internet addresses on one port
    /// gets `0.0.0.0/0` (`::/0`) instead of the hosts.
    pub max_hosts: usize,
    /// The VPC's blocks as given (`--vpc-cidr`), written to `[network]`.
    pub vpc_cidrs: Vec<Cidr>,
}

impl Default for LearnOptions {
    fn default() -> LearnOptions {
        LearnOptions {
            max_hosts: 16,
            vpc_cidrs: Vec::new(),
        }
    }
}

/// The checks a learning fold runs: ingress and egress, whose connections are all kept
/// under [`learning_policy`].
pub const LEARNING_CHECKS: Checks =
    Checks::of(&[Check::UnexpectedIngress, Check::UnexpectedEgress]);

/// The policy a learning fold runs under: `[defaults]` admitting no one either way, so
/// that the audit keeps every connection of every task.
pub fn learning_policy(vpc_cidrs: &[Cidr]) -> Policy {
    Policy::parse(
        "learning",
        "[defaults]\negress_to_cidrs = []\n",
        vpc_cidrs,
        &CommandLineRules::default(),
    )
    .expect("the learning policy parses")
}

/// Whose rule a learned entry is: a service or a task family, in a cluster when the
/// name is met in several.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Whose {
    pub of: Of,
    pub name: String,
    /// The cluster's name (an ARN's last part); kept in the rule only where the name is
    /// met in several clusters.
    pub cluster: Option<String>,
}

/// What a learned entry rests on: connections, bytes, first and last seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub connections: u64,
    pub bytes: u64,
    pub first: i64,
    pub last: i64,
}

impl Evidence {
    fn of(t: &Seen) -> Evidence {
        Evidence {
            connections: 1,
            bytes: t.bytes,
            first: t.first,
            last: t.last,
        }
    }

    pub fn add(&mut self, o: &Evidence) {
        if o.connections == 0 {
            return;
        }
        if self.connections == 0 {
            *self = *o;
            return;
        }
        self.connections += o.connections;
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

/// A peer by the most durable name the map gives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Name {
    LoadBalancer(String),
    Service(String),
    Family(String),
    /// A security group, with what holds it (`VPC endpoint`, `RDS`, ...), for comments.
    SecurityGroup(String, String),
    /// An address; collapsed with the others when the policy is written.
    Addr([u8; 16]),
}

/// One direction of a rule as learned: peers and ports with their evidence.
#[derive(Clone, Debug, Default)]
pub struct Side {
    pub peers: BTreeMap<Name, Evidence>,
    /// Server ports: the task's own (ingress, `ports`) or the peer's (egress,
    /// `egress_ports`).
    pub ports: BTreeMap<u16, Evidence>,
    /// Distinct internet addresses per (server port, IPv4?), for `max_hosts`.
    internet: BTreeMap<(u16, bool), BTreeSet<[u8; 16]>>,
    /// REJECTed attempts, never admitted: (peer address, server port, protocol).
    pub rejected: BTreeMap<([u8; 16], u16, Option<u16>), Evidence>,
}

/// The connections with one peer whose opener stayed undecided, and their (task, peer)
/// ports.
pub type Undecided = (Evidence, BTreeSet<(u16, u16)>);

impl Side {
    /// Per family (IPv4?), where more than `max_hosts` internet addresses were seen on
    /// one port, the port with the most and how many: the policy admits the whole
    /// internet of that family.
    pub fn whole_internet(&self, max_hosts: usize) -> BTreeMap<bool, (u16, usize)> {
        let mut world: BTreeMap<bool, (u16, usize)> = BTreeMap::new();
        for ((port, v4), hosts) in &self.internet {
            if hosts.len() > max_hosts {
                let w = world.entry(*v4).or_insert((*port, hosts.len()));
                if hosts.len() > w.1 {
                    *w = (*port, hosts.len());
                }
            }
        }
        world
    }
}

/// What was learned of one service's (or family's) tasks.
#[derive(Clone, Debug, Default)]
pub struct Learning {
    /// Its tasks (ARNs, or ENIs whose task is unnamed).
    pub tasks: BTreeSet<String>,
    /// Its connections' span.
    pub seen: Evidence,
    /// Peers that opened connections to its tasks.
    pub ingress: Side,
    /// Peers its tasks opened connections to.
    pub egress: Side,
    /// Connections whose opener stayed undecided: (peer address, protocol) with the
    /// ports seen.
    pub undecided: BTreeMap<([u8; 16], Option<u16>), Undecided>,
    /// The listener ports the rule declares (`ports`): those seen in the rounds that
    /// decided the connections (see [`learn`]).
    pub declared: BTreeSet<u16>,
}

/// One accepted, decided connection as learned, for a review of security groups.
#[derive(Clone, Debug)]
pub struct Observation {
    pub eni: String,
    pub whose: Whose,
    pub opened_by_task: bool,
    pub protocol: Option<u16>,
    pub server_port: u16,
    pub peer_addr: [u8; 16],
    /// The peer's ENI, for its security groups at `evidence.first`.
    pub peer_eni: Option<String>,
    pub name: Name,
    pub evidence: Evidence,
}

/// A learned policy: one rule per service and task family seen.
#[derive(Clone, Debug, Default)]
pub struct Learned {
    pub rules: BTreeMap<Whose, Learning>,
    /// The span of every connection.
    pub window: Evidence,
    /// Connections of task ENIs whose task no source names (no service, no family):
    /// not learned.
    pub unnamed: u64,
    pub observations: Vec<Observation>,
    pub options: LearnOptions,
}

/// Why nothing could be learned.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NothingLearned(pub String);

/// How many times the connections are decided again at most while the listener ports
/// grow (each round can only add ports; real traffic settles in two or three).
const ROUNDS: usize = 8;

/// Learns the policy from the connections of a learning fold (see [`learning_policy`]);
/// returns it with the policy it parses to.
pub fn learn(
    state: &AuditState,
    map: &EniMap,
    options: &LearnOptions,
) -> Result<(Learned, Policy), NothingLearned> {
    let groups = group_sizes(map);
    let decider = state.decider();
    let mut policy = learning_policy(&options.vpc_cidrs);
    let auditor = Auditor {
        checks: LEARNING_CHECKS,
        ..Auditor::new(&policy, map)
    };
    // Connections whose opener no listener port changes are added up once; the others
    // again in each round.
    let mut first = Gathered::default();
    decider.each(&auditor, |d| first.add(d));
    let (fixed, mut variable): (Vec<Agg>, Vec<Agg>) =
        first.aggs.into_iter().partition(|a| !a.by_ports);
    let unnamed = first.unnamed;
    // The listener ports each rule declares: those of the rounds so far.
    let mut declared: BTreeMap<Whose, BTreeSet<u16>> = BTreeMap::new();
    for round in 1..=ROUNDS {
        if round > 1 {
            let auditor = Auditor {
                checks: LEARNING_CHECKS,
                ..Auditor::new(&policy, map)
            };
            let mut again = Gathered::default();
            decider.each_by_ports(&auditor, |d| again.add(d));
            variable = again.aggs;
        }
        let mut learned = assemble(&fixed, &variable, unnamed, map, &groups, options);
        if learned.rules.values().all(Learning::admits_nothing) {
            return Err(NothingLearned(learned.nothing_words()));
        }
        // Decided under the ports declared so far: when none is new, what it admits is
        // what the audit will judge under the policy that declares them.
        let mut grown = false;
        for (whose, l) in learned.rules.iter_mut() {
            let d = declared.entry(whose.clone()).or_default();
            l.declared = d.clone();
            if round < ROUNDS {
                for p in l.ingress.ports.keys().filter(|p| **p != 0) {
                    grown |= d.insert(*p);
                }
            }
        }
        let parse = |text: &str| {
            Policy::parse(
                "learned policy",
                text,
                &options.vpc_cidrs,
                &Default::default(),
            )
            .map_err(|e: PolicyError| {
                NothingLearned(format!("the learned policy does not parse: {e}"))
            })
        };
        if !grown {
            let policy = parse(&learned.toml())?;
            return Ok((learned, policy));
        }
        for (whose, l) in learned.rules.iter_mut() {
            l.declared = declared[whose].clone();
        }
        policy = parse(&learned.toml())?;
    }
    unreachable!("the last round adds no port")
}

/// How many ENIs of the map hold each security group (the fewest is the most specific).
fn group_sizes(map: &EniMap) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut sizes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for h in map.holders() {
        for g in &h.security_groups {
            sizes.entry(g).or_default().insert(&h.eni_id);
        }
    }
    sizes
}

/// Connections added up by what they teach (one ENI, owner and peer, one address,
/// protocol, opener, server port and outcome), by the state's ids, so that names,
/// strings and map lookups are made once per peer, not once per connection.
#[derive(Default)]
struct Gathered {
    index: FxHashMap<AggKey, usize>,
    aggs: Vec<Agg>,
    /// Connections of task ENIs whose task no source names (no service, no family).
    unnamed: u64,
}

impl Gathered {
    fn add(&mut self, d: &Decision) {
        if d.service.is_none() && d.family.is_none() {
            self.unnamed += 1;
            return;
        }
        let (outcome, server_port, evidence) = outcome(d);
        let mut any = d.sent[0][0];
        for t in [d.sent[1][0], d.sent[0][1], d.sent[1][1]] {
            any.merge(&t);
        }
        let key = (
            d.ids,
            d.peer_addr,
            d.protocol,
            (d.opened as u8, d.by_ports),
            server_port,
            outcome,
        );
        let aggs = &mut self.aggs;
        let at = *self.index.entry(key).or_insert_with(|| {
            aggs.push(Agg::new(d, outcome, server_port));
            aggs.len() - 1
        });
        let agg = &mut aggs[at];
        if let Some(e) = evidence {
            agg.evidence.add(&e);
        }
        if any.records > 0 {
            agg.any.add(&Evidence::of(&any));
        }
        if outcome == Outcome::Undecided {
            // The smallest few, whatever the order of the connections.
            agg.ports.insert((d.own_port, d.peer_port));
            if agg.ports.len() > 8 {
                agg.ports.pop_last();
            }
        }
    }
}

/// The learned policy of the added-up connections: each peer named as of its first
/// record, rules keeping their cluster only where a name is met in several.
fn assemble(
    fixed: &[Agg],
    variable: &[Agg],
    unnamed: u64,
    map: &EniMap,
    groups: &BTreeMap<&str, BTreeSet<&str>>,
    options: &LearnOptions,
) -> Learned {
    let mut learned = Learned {
        options: options.clone(),
        unnamed,
        ..Learned::default()
    };
    let all = || fixed.iter().chain(variable);
    let mut clusters: BTreeMap<(Of, &str), BTreeSet<Option<&str>>> = BTreeMap::new();
    for a in all() {
        clusters
            .entry((a.whose.of, &a.whose.name))
            .or_default()
            .insert(a.whose.cluster.as_deref());
    }
    for a in all() {
        let mut whose = a.whose.clone();
        if clusters[&(whose.of, whose.name.as_str())].len() < 2 {
            whose.cluster = None;
        }
        let name = name(&a.peer, a.peer_addr, map, groups, Some(a.any.first));
        learned.add(a, whose, name);
    }
    learned.observations.sort_by(|a, b| {
        (
            &a.eni,
            &a.whose,
            a.opened_by_task,
            a.protocol,
            a.server_port,
            a.peer_addr,
            &a.name,
        )
            .cmp(&(
                &b.eni,
                &b.whose,
                b.opened_by_task,
                b.protocol,
                b.server_port,
                b.peer_addr,
                &b.name,
            ))
    });
    learned
}

/// What a connection teaches: its peer admitted (the opener's accepted records), a
/// REJECTed attempt, a connection of undecided opener, or nothing but its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Outcome {
    Admitted,
    Rejected,
    Undecided,
    Seen,
}

/// The outcome of a connection, its server port (0 where none is decided) and the
/// evidence of it.
fn outcome(d: &Decision) -> (Outcome, u16, Option<Evidence>) {
    let accepted = {
        let mut a = d.sent[0][0];
        a.merge(&d.sent[1][0]);
        a
    };
    let (opener, server_port) = match d.opened {
        Opened::ByTask => (0, d.peer_port),
        Opened::ByPeer => (1, d.own_port),
        Opened::Unknown if accepted.records > 0 => {
            return (Outcome::Undecided, 0, Some(Evidence::of(&accepted)))
        }
        Opened::Unknown => return (Outcome::Seen, 0, None),
    };
    if d.sent[opener][0].records > 0 {
        (
            Outcome::Admitted,
            server_port,
            Some(Evidence::of(&accepted)),
        )
    } else if d.sent[opener][1].records > 0 {
        let rejected = d.sent[opener][1];
        (
            Outcome::Rejected,
            server_port,
            Some(Evidence::of(&rejected)),
        )
    } else {
        (Outcome::Seen, server_port, None)
    }
}

/// The key of connections that teach the same thing: the state's ids of ENI, owner and
/// peer, the peer's address, the protocol, the opener (and whether ports may change it),
/// the server port, the outcome.
type AggKey = ([u32; 3], [u8; 16], Option<u16>, (u8, bool), u16, Outcome);

/// Connections that teach the same thing, added up.
#[derive(Clone)]
struct Agg {
    whose: Whose,
    task: String,
    eni: String,
    peer: PeerFacts,
    internet: bool,
    peer_addr: [u8; 16],
    protocol: Option<u16>,
    opened: Opened,
    /// Whether the listener ports may change who opened them.
    by_ports: bool,
    outcome: Outcome,
    server_port: u16,
    /// Of the outcome: accepted traffic either way (admitted, undecided) or the
    /// opener's rejected records.
    evidence: Evidence,
    /// Every record, for the span of the rule and of the window.
    any: Evidence,
    /// (task, peer) ports of undecided connections, the smallest few.
    ports: BTreeSet<(u16, u16)>,
}

/// What the map and the records say of a peer, for its name.
#[derive(Clone, Debug, Default)]
pub struct PeerFacts {
    pub eni: Option<String>,
    pub service: Option<String>,
    pub load_balancer: Option<String>,
}

impl Agg {
    fn new(d: &Decision, outcome: Outcome, server_port: u16) -> Agg {
        let (of, name) = match (d.service, d.family) {
            (Some(s), _) => (Of::Service, s),
            (None, f) => (Of::Family, f.unwrap_or_default()),
        };
        Agg {
            whose: Whose {
                of,
                name: name.to_string(),
                cluster: d.cluster.map(|c| arn_name(c).to_string()),
            },
            task: d.task.unwrap_or(d.eni).to_string(),
            eni: d.eni.to_string(),
            peer: PeerFacts {
                eni: d.peer_eni.map(str::to_string),
                service: d.peer_service.map(str::to_string),
                load_balancer: d.peer_lb.map(str::to_string),
            },
            internet: d.peer_kind == Some(PeerKind::Internet.as_str()),
            peer_addr: d.peer_addr,
            protocol: d.protocol,
            opened: d.opened,
            by_ports: d.by_ports,
            outcome,
            server_port,
            evidence: Evidence::default(),
            any: Evidence::default(),
            ports: BTreeSet::new(),
        }
    }
}

/// The most durable name the map gives a peer, as of `t`: its load balancer, its
/// service, its task family (outside any service), its most specific security group (the
/// one the fewest ENIs hold), else its address.
pub fn name(
    p: &PeerFacts,
    addr: [u8; 16],
    map: &EniMap,
    groups: &BTreeMap<&str, BTreeSet<&str>>,
    t: Option<i64>,
) -> Name {
    if let Some(lb) = &p.load_balancer {
        return Name::LoadBalancer(lb.clone());
    }
    if let Some(s) = &p.service {
        return Name::Service(s.clone());
    }
    let holder = p.eni.as_deref().and_then(|e| map.eni_at(e, t));
    if let Some(f) = holder
        .filter(|h| h.kind == PeerKind::Task && h.service.is_none())
        .and_then(|h| h.task_family.as_deref())
    {
        return Name::Family(f.to_string());
    }
    let specific = holder.and_then(|h| {
        h.security_groups
            .iter()
            .min_by_key(|g| (groups.get(g.as_str()).map_or(0, |s| s.len()), g.as_str()))
    });
    match (specific, holder) {
        (Some(g), Some(h)) => Name::SecurityGroup(g.clone(), h.kind.words().owners.to_string()),
        _ => Name::Addr(addr),
    }
}

impl Learning {
    /// Whether the rule admits no one either way.
    fn admits_nothing(&self) -> bool {
        self.ingress.peers.is_empty() && self.egress.peers.is_empty()
    }
}

impl Learned {
    fn add(&mut self, a: &Agg, whose: Whose, name: Name) {
        let rule = self.rules.entry(whose.clone()).or_default();
        rule.tasks.insert(a.task.clone());
        if a.any.connections > 0 {
            rule.seen.add(&a.any);
            self.window.add(&a.any);
        }
        let side = match a.opened {
            Opened::ByPeer => &mut rule.ingress,
            Opened::ByTask => &mut rule.egress,
            Opened::Unknown => {
                if a.outcome == Outcome::Undecided {
                    let (e, ports) = rule.undecided.entry((a.peer_addr, a.protocol)).or_default();
                    e.add(&a.evidence);
                    ports.extend(a.ports.iter().copied());
                }
                return;
            }
        };
        match a.outcome {
            Outcome::Rejected => {
                side.rejected
                    .entry((a.peer_addr, a.server_port, a.protocol))
                    .or_default()
                    .add(&a.evidence);
                return;
            }
            Outcome::Admitted => {}
            Outcome::Undecided | Outcome::Seen => return,
        }
        let e = a.evidence;
        side.peers.entry(name.clone()).or_default().add(&e);
        side.ports.entry(a.server_port).or_default().add(&e);
        if a.internet && matches!(name, Name::Addr(_)) {
            side.internet
                .entry((a.server_port, crate::net::is_v4(&a.peer_addr)))
                .or_default()
                .insert(a.peer_addr);
        }
        self.observations.push(Observation {
            eni: a.eni.clone(),
            whose,
            opened_by_task: a.opened == Opened::ByTask,
            protocol: a.protocol,
            server_port: a.server_port,
            peer_addr: a.peer_addr,
            peer_eni: a.peer.eni.clone(),
            name,
            evidence: e,
        });
    }

    /// Why nothing could be learned, in words.
    fn nothing_words(&self) -> String {
        let mut why = Vec::new();
        let rejected: usize = self
            .rules
            .values()
            .map(|l| l.ingress.rejected.len() + l.egress.rejected.len())
            .sum();
        let undecided: usize = self.rules.values().map(|l| l.undecided.len()).sum();
        if self.rules.is_empty() {
            why.push("no connection of a task of a service or task family was seen".to_string());
        } else {
            why.push(format!(
                "no accepted connection of the {} task group{} seen had a known opener",
                self.rules.len(),
                if self.rules.len() == 1 { "" } else { "s" }
            ));
        }
        if rejected > 0 {
            why.push(format!("{rejected} rejected attempts (never admitted)"));
        }
        if undecided > 0 {
            why.push(format!(
                "{undecided} peers with connections of undecided opener"
            ));
        }
        if self.unnamed > 0 {
            why.push(format!(
                "{} connections of task ENIs whose task no map source names",
                self.unnamed
            ));
        }
        format!("nothing to learn from: {}", why.join("; "))
    }

    /// The learned policy as a policy file, every entry commented with its evidence.
    pub fn toml(&self) -> String {
        write::policy(self)
    }

    /// Rules whose tasks were seen for less than a quarter of the window.
    pub fn brief(&self, l: &Learning) -> bool {
        let window = self.window.last - self.window.first;
        window > 0 && (l.seen.last - l.seen.first) * 4 < window
    }
}
