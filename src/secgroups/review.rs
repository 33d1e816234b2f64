//! Each rule of the task security groups judged against the observed connections, and
//! the change that would admit what was seen and no more.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::{Direction, Observed, Ports, SecurityGroups, SgRule, Source};
use crate::net::Cidr;

/// What matched a rule (or a proposed rule): connections, bytes, first and last seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub connections: u64,
    pub bytes: u64,
    /// Unix seconds; `None` when nothing matched.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
}

impl Usage {
    fn add(&mut self, o: &Observed) {
        self.connections = self.connections.saturating_add(o.connections);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first_seen = Some(
            self.first_seen
                .map_or(o.first_seen, |t| t.min(o.first_seen)),
        );
        self.last_seen = Some(self.last_seen.map_or(o.last_seen, |t| t.max(o.last_seen)));
    }
}

/// What the observed traffic says of a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleStatus {
    /// Some accepted connection matched it.
    Used,
    /// No accepted connection matched it: removing it would have blocked nothing seen.
    Unused,
    /// A prefix-list rule whose entries were not given: neither used nor unused.
    NotJudged,
}

/// Connections that only one rule admits, per (protocol, server port, learned source):
/// what removing the rule would block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blocked {
    pub protocol: i32,
    pub server_port: u16,
    pub source: Source,
    pub connections: u64,
    pub bytes: u64,
}

/// A learned source of a rule's connections and how many of them it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LearnedUse {
    pub source: Source,
    pub connections: u64,
    pub bytes: u64,
}

/// One rule of a task security group, judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleReview {
    pub rule: SgRule,
    pub status: RuleStatus,
    /// The connections that matched it.
    pub usage: Usage,
    /// The connections no other rule of the ENI's groups admits, which removing this
    /// rule would block (empty for an unused rule: nothing seen in the window).
    pub would_block: Vec<Blocked>,
    /// The learned sources of the connections that matched it, with their counts.
    pub learned: Vec<LearnedUse>,
    /// Used, and every connection it matched is named by the learned policy with a
    /// source narrower than the rule's (`0.0.0.0/0` where `sg-alb` would do).
    pub drifting: bool,
}

impl RuleReview {
    /// Whether the proposal revokes it: unused or drifting.
    pub fn revoked(&self) -> bool {
        self.status == RuleStatus::Unused || self.drifting
    }
}

/// A rule the proposal adds: one (direction, protocol, server port, learned source).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewRule {
    /// The rule as it would read; its description says where it came from.
    pub rule: SgRule,
    /// The observed connections it admits that no kept rule does.
    pub usage: Usage,
    /// Who made them.
    pub owners: Vec<String>,
}

/// The change to one group: revoke every unused and every drifting rule, authorize one
/// rule per (direction, protocol, server port, learned source) that no kept rule covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub revoke: Vec<SgRule>,
    pub authorize: Vec<NewRule>,
}

impl Proposal {
    /// Whether it changes anything.
    pub fn is_empty(&self) -> bool {
        self.revoke.is_empty() && self.authorize.is_empty()
    }
}

/// One task security group, judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupReview {
    pub group_id: String,
    pub group_name: Option<String>,
    pub vpc_id: Option<String>,
    /// Who the tasks whose ENIs have the group are, sorted.
    pub owners: Vec<String>,
    /// Those ENIs, sorted.
    pub enis: Vec<String>,
    /// All the connections of those ENIs: the window the judgement covers.
    pub seen: Usage,
    /// Its rules, in input order.
    pub rules: Vec<RuleReview>,
    pub proposal: Proposal,
}

/// The task security groups judged against the observed connections.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Review {
    /// One per task security group found in the input, by group id.
    pub groups: Vec<GroupReview>,
    /// Task security groups the input does not describe: their traffic is not judged.
    pub missing_groups: Vec<String>,
}

/// Judges the rules of every security group that some observed task ENI has (the task
/// security groups) against the observed connections.
///
/// - A rule is **unused** when no connection matched it (rules of the
///   [module](super) documentation); a prefix-list rule without entries is **not
///   judged** instead. Removing an unused rule would have blocked nothing seen in the
///   window of its group's connections.
/// - For a used rule, [`RuleReview::would_block`] lists the connections that no other
///   rule of the ENI's groups admits.
/// - A used rule **drifts** when every connection it matched is named by the learned
///   policy with a source strictly narrower than the rule's: a block inside the rule's
///   block; a referenced group against any block wider than one address or a prefix
///   list; a prefix list whose entries all lie in the rule's block (or any prefix list
///   against a `/0`); a block inside one of the rule's prefix list's entries. A rule
///   whose source is a referenced group never drifts.
/// - The **proposal** revokes every unused and every drifting rule and authorizes, for
///   each observed connection that no kept rule of its ENI's groups covers, one rule
///   per distinct (direction, protocol, server port, learned source): one port per
///   rule (contiguous ports are not merged), every ICMP type (flow logs carry none).
///   It goes to the group of the revoked rule that admitted the connection (the most
///   specific, as [`admitting_rule`](super::admitting_rule) orders them), so one
///   connection is authorized once; a connection no rule admitted goes to the first of
///   the ENI's groups that the input describes. A group of several owners gets the
///   union. A connection of unknown protocol (`-1`) is authorized as every protocol
///   to its learned source (only an all-protocols rule can have admitted it).
pub fn review(groups: &SecurityGroups, observed: &[Observed]) -> Review {
    // Which rules each connection matched, and whether an unjudged rule could have.
    let matched: Vec<(Vec<usize>, bool)> = observed
        .iter()
        .map(|o| {
            groups.matching(
                &o.own_groups,
                Direction::of(o.opened_by_task),
                o.protocol,
                o.server_port,
                &o.peer_addr,
                &o.peer_groups,
            )
        })
        .collect();

    let task_groups: BTreeSet<&str> = observed
        .iter()
        .flat_map(|o| o.own_groups.iter().map(String::as_str))
        .collect();

    // Per rule: its usage, what only it admits, its learned sources.
    #[derive(Default)]
    struct Acc {
        usage: Usage,
        sole: BTreeMap<(i32, u16, Source), (u64, u64)>,
        learned: BTreeMap<Source, (u64, u64)>,
        narrower_only: bool,
    }
    let mut acc: BTreeMap<usize, Acc> = BTreeMap::new();
    for (o, (m, unknown)) in observed.iter().zip(&matched) {
        for &i in m {
            let a = acc.entry(i).or_insert_with(|| Acc {
                narrower_only: true,
                ..Acc::default()
            });
            a.usage.add(o);
            let l = a.learned.entry(o.learned.clone()).or_default();
            l.0 = l.0.saturating_add(o.connections);
            l.1 = l.1.saturating_add(o.bytes);
            a.narrower_only &= narrower(groups, &o.learned, &groups.rules[i].source);
            if m.len() == 1 && !unknown {
                let s = a
                    .sole
                    .entry((o.protocol, o.server_port, o.learned.clone()))
                    .or_default();
                s.0 = s.0.saturating_add(o.connections);
                s.1 = s.1.saturating_add(o.bytes);
            }
        }
    }
    let judged = |i: usize| -> RuleReview {
        let rule = groups.rules[i].clone();
        let not_judged =
            matches!(&rule.source, Source::PrefixList(p) if groups.prefix_list(p).is_none());
        match acc.get(&i) {
            None => RuleReview {
                rule,
                status: if not_judged {
                    RuleStatus::NotJudged
                } else {
                    RuleStatus::Unused
                },
                usage: Usage::default(),
                would_block: Vec::new(),
                learned: Vec::new(),
                drifting: false,
            },
            Some(a) => RuleReview {
                rule,
                status: RuleStatus::Used,
                usage: a.usage.clone(),
                would_block: a
                    .sole
                    .iter()
                    .map(|((protocol, port, source), (c, b))| Blocked {
                        protocol: *protocol,
                        server_port: *port,
                        source: source.clone(),
                        connections: *c,
                        bytes: *b,
                    })
                    .collect(),
                learned: a
                    .learned
                    .iter()
                    .map(|(s, (c, b))| LearnedUse {
                        source: s.clone(),
                        connections: *c,
                        bytes: *b,
                    })
                    .collect(),
                drifting: a.narrower_only,
            },
        }
    };
    let mut reviews: BTreeMap<&str, Vec<RuleReview>> = BTreeMap::new();
    let mut revoked: BTreeSet<usize> = BTreeSet::new();
    for &g in &task_groups {
        if groups.group(g).is_none() {
            continue;
        }
        let rules: Vec<RuleReview> = groups.rule_indices(g).iter().map(|&i| judged(i)).collect();
        for (&i, r) in groups.rule_indices(g).iter().zip(&rules) {
            if r.revoked() {
                revoked.insert(i);
            }
        }
        reviews.insert(g, rules);
    }

    // Connections no kept rule covers, to the groups that will admit them.
    type Key = (Direction, i32, Option<u16>, Source);
    let mut adds: BTreeMap<&str, BTreeMap<Key, (Usage, BTreeSet<&str>)>> = BTreeMap::new();
    for (o, (m, unknown)) in observed.iter().zip(&matched) {
        // Covered by a kept rule; or admitted by no known rule while a prefix list of
        // unknown entries could have (then it is that list's, not a new rule's).
        if (m.is_empty() && *unknown) || m.iter().any(|i| !revoked.contains(i)) {
            continue;
        }
        // The group of the revoked rule that admitted it (the most specific, as
        // `admitting_rule` picks), else the first of the ENI's groups described.
        let to = m
            .iter()
            .copied()
            .min_by_key(|&i| groups.specificity(i, &o.peer_addr))
            .map(|i| groups.rules[i].group_id.as_str())
            .or_else(|| {
                o.own_groups
                    .iter()
                    .find(|g| groups.group(g).is_some())
                    .map(String::as_str)
            });
        let port = matches!(o.protocol, 6 | 17).then_some(o.server_port);
        let key = (
            Direction::of(o.opened_by_task),
            o.protocol,
            port,
            o.learned.clone(),
        );
        if let Some(g) = to {
            let e = adds.entry(g).or_default().entry(key.clone()).or_default();
            e.0.add(o);
            e.1.insert(&o.owner);
        }
    }

    let mut out = Review::default();
    for &g in &task_groups {
        let Some(info) = groups.group(g) else {
            out.missing_groups.push(g.to_string());
            continue;
        };
        let mine = || {
            observed
                .iter()
                .filter(|o| o.own_groups.iter().any(|x| x == g))
        };
        let owners: BTreeSet<&str> = mine().map(|o| o.owner.as_str()).collect();
        let enis: BTreeSet<&str> = mine().map(|o| o.eni_id.as_str()).collect();
        let mut seen = Usage::default();
        mine().for_each(|o| seen.add(o));
        let rules = reviews.remove(g).unwrap_or_default();
        let revoke = rules
            .iter()
            .filter(|r| r.revoked())
            .map(|r| r.rule.clone())
            .collect();
        let authorize = adds
            .remove(g)
            .unwrap_or_default()
            .into_iter()
            .map(|((direction, protocol, port, source), (usage, owners))| {
                let ports = match (protocol, port) {
                    (_, Some(p)) => Ports::Range(p, p),
                    (1 | 58, None) => Ports::Icmp { kind: -1, code: -1 },
                    _ => Ports::All,
                };
                let owners: Vec<String> = owners.into_iter().map(String::from).collect();
                let description = aws_description(&format!(
                    "vpcflow learn: {} connections of {} seen {} to {}",
                    usage.connections,
                    owners.join(", "),
                    crate::time::rfc3339(usage.first_seen.unwrap_or_default()),
                    crate::time::rfc3339(usage.last_seen.unwrap_or_default()),
                ));
                NewRule {
                    rule: SgRule {
                        group_id: g.to_string(),
                        rule_id: None,
                        direction,
                        protocol,
                        ports,
                        source,
                        description: Some(description),
                    },
                    usage,
                    owners,
                }
            })
            .collect();
        out.groups.push(GroupReview {
            group_id: g.to_string(),
            group_name: info.name.clone(),
            vpc_id: info.vpc_id.clone(),
            owners: owners.into_iter().map(String::from).collect(),
            enis: enis.into_iter().map(String::from).collect(),
            seen,
            rules,
            proposal: Proposal { revoke, authorize },
        });
    }
    out
}

/// Text an EC2 rule description may hold: at most 255 characters of `a-zA-Z0-9`,
/// spaces and `._-:/()#,@[]+=&;{}!$*`; any other character becomes `_`.
pub(super) fn aws_description(text: &str) -> String {
    const ALLOWED: &str = " ._-:/()#,@[]+=&;{}!$*";
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ALLOWED.contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

/// Whether block `a` lies inside block `b` (same family).
fn within(a: &Cidr, b: &Cidr) -> bool {
    a.is_v4() == b.is_v4() && a.prefix_len() >= b.prefix_len() && b.contains(&a.bounds().0)
}

/// Whether the learned source names strictly less than the rule's source (see
/// [`review`]).
fn narrower(groups: &SecurityGroups, learned: &Source, rule: &Source) -> bool {
    let host = |c: &Cidr| c.prefix_len() == if c.is_v4() { 32 } else { 128 };
    match (learned, rule) {
        (a, b) if a == b => false,
        (_, Source::Group(_)) => false,
        (Source::Group(_), Source::Cidr(c)) => !host(c),
        (Source::Group(_), Source::PrefixList(_)) => true,
        (Source::Cidr(a), Source::Cidr(b)) => within(a, b),
        (Source::Cidr(a), Source::PrefixList(p)) => groups
            .prefix_list(p)
            .is_some_and(|e| e.iter().any(|x| within(a, x) && (x != a || e.len() > 1))),
        (Source::PrefixList(p), Source::Cidr(b)) => {
            b.prefix_len() == 0
                || groups
                    .prefix_list(p)
                    .is_some_and(|e| !e.is_empty() && e.iter().all(|x| within(x, b)) && e != [*b])
        }
        (Source::PrefixList(_), Source::PrefixList(_)) => false,
    }
}

impl fmt::Display for NewRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rule)
    }
}
