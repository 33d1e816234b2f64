//! Security groups as they are, judged against the traffic that was observed.
//!
//! `vpcflow learn` writes the policy that the observed connections need. This module
//! reads the security groups that actually admit that traffic (`aws ec2
//! describe-security-groups` or `describe-security-group-rules` output), says which
//! rule admitted each connection ([`admitting_rule`], the audit's `sg_rule` column) and,
//! per security group of the observed tasks, which rules no connection used, which
//! admit more than the learned policy needs, and the change that would make the group
//! admit what was seen and no more ([`review`]); [`Review::emit`] writes that change as
//! EC2 CLI `--cli-input-json` documents and Terraform blocks.
//!
//! # Inputs
//!
//! - [`SecurityGroups::parse`] takes `aws ec2 describe-security-groups` output
//!   (`{"SecurityGroups": [{"GroupId", "GroupName", "VpcId", "IpPermissions",
//!   "IpPermissionsEgress"}]}`, each permission AWS's `IpPermission`) or `aws ec2
//!   describe-security-group-rules` output (`{"SecurityGroupRules": [...]}`, whose
//!   `sgr-` ids are kept). A document of another shape is an error saying what it looks
//!   like, never an empty set of groups. Errors name the file, the JSON path
//!   (`SecurityGroups[3].IpPermissions[0].FromPort`) and the problem.
//! - [`SecurityGroups::add_prefix_lists`] takes the entries of managed prefix lists.
//!   `aws ec2 get-managed-prefix-list-entries --prefix-list-id pl-0abc` prints
//!   `{"Entries": [{"Cidr", "Description"}]}` without the list's id, so a file is
//!   accepted in two forms:
//!   1. that output as it is, in a file whose name holds the id (`pl-0abc.json`,
//!      `entries-pl-0abc.json`: the first `pl-` followed by hex digits);
//!   2. a JSON object mapping ids to such outputs: `{"pl-0abc": {"Entries": [...]},
//!      "pl-0def": {"Entries": [...]}}`.
//!
//!   Anything else is an error that says how to name the file.
//!
//! # Rules
//!
//! One [`SgRule`] is one (group, direction, protocol, port range or ICMP type and code,
//! source): an `IpPermission` with three `IpRanges` is three rules. As AWS documents
//! `IpPermission`, protocol `-1` is every protocol and every port, and a protocol other
//! than TCP, UDP, ICMP and ICMPv6 admits every port whatever range is written.
//!
//! A rule *matches* an observed connection when it belongs to one of the task ENI's
//! groups, its direction is egress for a connection the task opened and ingress for one
//! the peer opened, its protocol is `-1` or the connection's, the server's port is in
//! its range, and its source holds the peer: a CIDR block holds the address (a block
//! matches its own family only, [`Cidr::contains`]), a referenced group is among the
//! peer's groups, a prefix list holds the address in one of its entries.
//!
//! Flow logs carry no ICMP type or code, so a type-specific ICMP rule (`icmp type 8`)
//! matches every ICMP connection of its family's protocol: it can be shown used by
//! traffic it would not have admitted, never unused when ICMP was seen.
//!
//! A prefix-list rule whose entries were not given is *not judged*: it matches
//! nothing, is never called unused, and is kept by every proposal; a connection that no
//! known rule admits but such a rule could (direction, protocol and port fit) is taken
//! to be that rule's, and no rule is proposed for it.
//!
//! # Judging
//!
//! See [`review`] for what is unused, what drifts and what is proposed, and
//! [`admitting_rule`] for the order among several rules that admit one connection.

mod emit;
mod parse;
mod review;

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::net::{protocol_name, Cidr};
use crate::text::printable;

pub use review::{
    review, Blocked, GroupReview, LearnedUse, NewRule, Proposal, Review, RuleReview, RuleStatus,
    Usage,
};

/// Whether a rule admits traffic into the group's interfaces or out of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// `ingress` or `egress`.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// The preposition of a rule's source in this direction: `from` or `to`.
    pub fn preposition(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }

    /// The direction whose rules judge a connection: egress for one the task opened.
    pub fn of(opened_by_task: bool) -> Direction {
        if opened_by_task {
            Direction::Egress
        } else {
            Direction::Ingress
        }
    }
}

/// What a rule admits traffic from (ingress) or to (egress).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// An IPv4 or IPv6 block (`CidrIp`, `CidrIpv6`).
    Cidr(Cidr),
    /// A managed prefix list (`pl-...`).
    PrefixList(String),
    /// A referenced security group (`sg-...`).
    Group(String),
}

impl Source {
    /// Order of kinds: groups, then prefix lists, then blocks (IPv4 before IPv6, by
    /// address, shorter prefix first).
    fn key(&self) -> (u8, u8, u128, u8, &str) {
        match self {
            Source::Group(g) => (0, 0, 0, 0, g),
            Source::PrefixList(p) => (1, 0, 0, 0, p),
            Source::Cidr(c) => (2, u8::from(!c.is_v4()), c.first(), c.prefix_len(), ""),
        }
    }
}

impl Ord for Source {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Source {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Cidr(c) => write!(f, "{c}"),
            Source::PrefixList(p) => f.write_str(&printable(p, false)),
            Source::Group(g) => f.write_str(&printable(g, false)),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = match self {
            Source::Cidr(c) => c.to_string(),
            Source::PrefixList(p) | Source::Group(p) => p.clone(),
        };
        s.serialize_str(&text)
    }
}

/// The ports a rule admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ports {
    /// Every port: protocol `-1`, or a protocol without ports (anything but TCP, UDP,
    /// ICMP and ICMPv6).
    All,
    /// A TCP or UDP port range, both ends included.
    Range(u16, u16),
    /// An ICMP or ICMPv6 type and code, `-1` for all. Flow logs carry neither, so any
    /// ICMP connection fits.
    Icmp { kind: i16, code: i16 },
}

impl Ports {
    /// Whether a connection to `port` fits.
    pub fn admits(&self, port: u16) -> bool {
        match *self {
            Ports::All | Ports::Icmp { .. } => true,
            Ports::Range(from, to) => (from..=to).contains(&port),
        }
    }

    /// How many ports (or ICMP types) the rule spans: the narrower, the more specific.
    fn width(&self) -> u32 {
        match *self {
            Ports::All => 65_536,
            Ports::Range(from, to) => u32::from(to).saturating_sub(u32::from(from)) + 1,
            Ports::Icmp { kind: -1, .. } => 256,
            Ports::Icmp { .. } => 1,
        }
    }

    /// `FromPort` and `ToPort` as AWS writes them, none for every port.
    pub fn from_to(&self) -> Option<(i32, i32)> {
        match *self {
            Ports::All => None,
            Ports::Range(from, to) => Some((i32::from(from), i32::from(to))),
            Ports::Icmp { kind, code } => Some((i32::from(kind), i32::from(code))),
        }
    }
}

/// A protocol as AWS writes it in `IpProtocol`: `-1`, a name for TCP, UDP, ICMP and
/// ICMPv6, else the number.
pub fn aws_protocol(p: i32) -> String {
    match p {
        -1 => "-1".into(),
        6 | 17 | 1 | 58 => protocol_name(p).unwrap_or_default().into(),
        _ => p.to_string(),
    }
}

/// One security group rule: one group, direction, protocol, port range and source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgRule {
    /// The group the rule belongs to.
    pub group_id: String,
    /// Its `sgr-` id, when the input gave it (`describe-security-group-rules`).
    pub rule_id: Option<String>,
    pub direction: Direction,
    /// IANA number, `-1` for every protocol.
    pub protocol: i32,
    pub ports: Ports,
    pub source: Source,
    pub description: Option<String>,
}

impl SgRule {
    /// Whether the rule admits the connection, its source aside (`None`: the source is a
    /// prefix list whose entries are unknown, so the rule cannot say).
    fn admits(
        &self,
        groups: &SecurityGroups,
        direction: Direction,
        protocol: i32,
        server_port: u16,
        peer_addr: &[u8; 16],
        peer_groups: &[String],
    ) -> Option<bool> {
        if self.direction != direction
            || !(self.protocol == -1 || self.protocol == protocol)
            || !self.ports.admits(server_port)
        {
            return Some(false);
        }
        match &self.source {
            Source::Cidr(c) => Some(c.contains(peer_addr)),
            Source::Group(g) => Some(peer_groups.iter().any(|p| p == g)),
            Source::PrefixList(p) => groups
                .prefix_list(p)
                .map(|entries| entries.iter().any(|c| c.contains(peer_addr))),
        }
    }

    /// The rule's words after the group: `ingress tcp 8080 from 0.0.0.0/0`.
    fn write_body(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.direction.word())?;
        f.write_str(" ")?;
        write_protocol_ports(f, self.protocol, &self.ports)?;
        write!(f, " {} {}", self.direction.preposition(), self.source)
    }
}

/// `all`, `tcp 8080`, `tcp 1024-65535`, `icmp type 8 code 0`, `icmp all`, `gre`.
fn write_protocol_ports(f: &mut fmt::Formatter<'_>, protocol: i32, ports: &Ports) -> fmt::Result {
    match protocol {
        -1 => return f.write_str("all"),
        p => match protocol_name(p) {
            Some(name) => f.write_str(name)?,
            None => write!(f, "protocol {p}")?,
        },
    }
    match *ports {
        Ports::All => Ok(()),
        Ports::Range(a, b) if a == b => write!(f, " {a}"),
        Ports::Range(a, b) => write!(f, " {a}-{b}"),
        Ports::Icmp { kind: -1, .. } => f.write_str(" all"),
        Ports::Icmp { kind, code: -1 } => write!(f, " type {kind}"),
        Ports::Icmp { kind, code } => write!(f, " type {kind} code {code}"),
    }
}

impl fmt::Display for SgRule {
    /// One line: `sg-0abc ingress tcp 8080 from 0.0.0.0/0 (sgr-0123)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", printable(&self.group_id, false))?;
        self.write_body(f)?;
        if let Some(id) = &self.rule_id {
            write!(f, " ({})", printable(id, false))?;
        }
        Ok(())
    }
}

impl Serialize for SgRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            group_id: &'a str,
            rule_id: Option<&'a str>,
            direction: Direction,
            ip_protocol: String,
            from_port: Option<i32>,
            to_port: Option<i32>,
            source: &'a Source,
            description: Option<&'a str>,
            text: String,
        }
        let ft = self.ports.from_to();
        Out {
            group_id: &self.group_id,
            rule_id: self.rule_id.as_deref(),
            direction: self.direction,
            ip_protocol: aws_protocol(self.protocol),
            from_port: ft.map(|p| p.0),
            to_port: ft.map(|p| p.1),
            source: &self.source,
            description: self.description.as_deref(),
            text: self.to_string(),
        }
        .serialize(s)
    }
}

/// A group as the input names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub id: String,
    /// `GroupName` (absent from `describe-security-group-rules` output).
    pub name: Option<String>,
    pub vpc_id: Option<String>,
}

/// The security groups of one input, their rules and the prefix lists' entries.
#[derive(Clone, Debug, Default)]
pub struct SecurityGroups {
    groups: Vec<GroupInfo>,
    rules: Vec<SgRule>,
    /// Rule indices per group id, in input order.
    by_group: HashMap<String, Vec<usize>>,
    prefix_lists: BTreeMap<String, Vec<Cidr>>,
}

impl SecurityGroups {
    /// The groups, in input order.
    pub fn groups(&self) -> &[GroupInfo] {
        &self.groups
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&GroupInfo> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Every rule, in input order.
    pub fn rules(&self) -> &[SgRule] {
        &self.rules
    }

    /// The rules of one group, in input order.
    pub fn rules_of<'a>(&'a self, group_id: &str) -> impl Iterator<Item = &'a SgRule> + 'a {
        self.rule_indices(group_id).iter().map(|&i| &self.rules[i])
    }

    fn rule_indices(&self, group_id: &str) -> &[usize] {
        self.by_group.get(group_id).map_or(&[], Vec::as_slice)
    }

    /// A prefix list's entries, when they were given.
    pub fn prefix_list(&self, id: &str) -> Option<&[Cidr]> {
        self.prefix_lists.get(id).map(Vec::as_slice)
    }

    fn push_group(&mut self, info: GroupInfo) {
        self.by_group.entry(info.id.clone()).or_default();
        if self.group(&info.id).is_none() {
            self.groups.push(info);
        }
    }

    fn push_rule(&mut self, rule: SgRule) {
        if !self.by_group.contains_key(&rule.group_id) {
            self.push_group(GroupInfo {
                id: rule.group_id.clone(),
                name: None,
                vpc_id: None,
            });
        }
        let i = self.rules.len();
        self.by_group
            .entry(rule.group_id.clone())
            .or_default()
            .push(i);
        self.rules.push(rule);
    }

    /// Indices of the rules of `own_groups` that match the connection, and whether a
    /// rule that cannot be judged (a prefix list without entries) could.
    fn matching(
        &self,
        own_groups: &[String],
        direction: Direction,
        protocol: i32,
        server_port: u16,
        peer_addr: &[u8; 16],
        peer_groups: &[String],
    ) -> (Vec<usize>, bool) {
        let mut out = Vec::new();
        let mut unknown = false;
        let mut seen: Vec<&str> = Vec::new();
        for g in own_groups {
            if seen.contains(&g.as_str()) {
                continue;
            }
            seen.push(g);
            for &i in self.rule_indices(g) {
                match self.rules[i].admits(
                    self,
                    direction,
                    protocol,
                    server_port,
                    peer_addr,
                    peer_groups,
                ) {
                    Some(true) => out.push(i),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
        }
        (out, unknown)
    }

    /// How specific a rule is for a peer, the most specific least: a referenced group,
    /// then the longest prefix that holds the peer (a block before a prefix list), then
    /// the narrowest port range, then a named protocol before `-1`, then input order.
    fn specificity(&self, i: usize, peer_addr: &[u8; 16]) -> (u8, i16, u8, u32, u8, usize) {
        let r = &self.rules[i];
        let (kind, prefix, tie) = match &r.source {
            Source::Group(_) => (0, 0, 0),
            Source::Cidr(c) => (1, -i16::from(c.prefix_len()), 0),
            Source::PrefixList(p) => {
                let longest = self
                    .prefix_list(p)
                    .unwrap_or(&[])
                    .iter()
                    .filter(|c| c.contains(peer_addr))
                    .map(|c| c.prefix_len())
                    .max()
                    .unwrap_or(0);
                (1, -i16::from(longest), 1)
            }
        };
        let any_protocol = u8::from(r.protocol == -1);
        (kind, prefix, tie, r.ports.width(), any_protocol, i)
    }
}

/// One observed connection (or an aggregate of connections with the same fields) of a
/// task ENI: accepted, its opener known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub eni_id: String,
    /// Who the task is, for the report: `service web (cluster prod)`, `family nightly`.
    pub owner: String,
    /// The task ENI's security groups at the time.
    pub own_groups: Vec<String>,
    /// True: egress rules judge it; false: ingress rules.
    pub opened_by_task: bool,
    /// IANA number; -1 unknown.
    pub protocol: i32,
    /// The port of the side that did not open it (0 for ICMP or none).
    pub server_port: u16,
    /// IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), as [`crate::net`] stores it.
    pub peer_addr: [u8; 16],
    /// The peer ENI's security groups at the time, if known.
    pub peer_groups: Vec<String>,
    pub connections: u64,
    pub bytes: u64,
    /// Unix seconds.
    pub first_seen: i64,
    pub last_seen: i64,
    /// How the learned least-privilege policy names this peer, as a rule's source.
    pub learned: Source,
}

/// The rule that admitted a connection: of the rules of `own_groups` that match it, the
/// most specific (a referenced group, then the longest prefix, then the narrowest port
/// range, then a named protocol, then the first in the input). `None` when no rule
/// matches (or only prefix-list rules whose entries are unknown could).
pub fn admitting_rule<'a>(
    groups: &'a SecurityGroups,
    own_groups: &[String],
    opened_by_task: bool,
    protocol: i32,
    server_port: u16,
    peer_addr: &[u8; 16],
    peer_groups: &[String],
) -> Option<&'a SgRule> {
    let (matches, _) = groups.matching(
        own_groups,
        Direction::of(opened_by_task),
        protocol,
        server_port,
        peer_addr,
        peer_groups,
    );
    matches
        .into_iter()
        .min_by_key(|&i| groups.specificity(i, peer_addr))
        .map(|i| &groups.rules[i])
}

/// What is wrong with a security-groups or prefix-lists file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SgError {
    /// Not JSON (or cut short): serde_json's words and position.
    #[error("{file}: not valid JSON at line {line}, column {column}: {problem}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        problem: String,
    },
    /// A JSON document of another shape.
    #[error("{file}: {looks}")]
    Shape { file: String, looks: String },
    /// A value at a JSON path that cannot be read.
    #[error("{file}: {path}: {problem}")]
    Field {
        file: String,
        path: String,
        problem: String,
    },
    /// `get-managed-prefix-list-entries` output in a file whose name holds no list id.
    #[error(
        "{file}: get-managed-prefix-list-entries output does not say which list it is: \
         name the file after the list (pl-0abc.json), or give {{\"pl-0abc\": {{\"Entries\": \
         [...]}}}}"
    )]
    PrefixListId { file: String },
}

#[cfg(test)]
mod tests;
