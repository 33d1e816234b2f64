//! The intended policy: who may open connections to and from the tasks of each
//! service, and what else their traffic must respect.
//!
//! ```toml
//! [network]
//! vpc_cidrs = ["10.0.0.0/16"]          # the word "vpc" in rule lists stands for these
//! cleartext_ports = [21, 23, 25, 80, 110, 143, 389, 8080]   # optional; the default
//!
//! [defaults]                            # optional: rules for tasks of unlisted services
//! ingress_from_cidrs = ["vpc"]
//!
//! [[service]]
//! name = "web"                          # optional: cluster = "prod"
//! ports = [8080]                        # listener ports of the task (optional)
//! ingress_from_security_groups = ["sg-0123456789abcdef0"]
//! ingress_from_cidrs = ["vpc", "192.0.2.0/24"]
//! ingress_from_services = ["admin-gateway"]
//! egress_to_cidrs = ["vpc"]             # any egress_to_* key: egress is audited
//! egress_to_security_groups = ["sg-0fedcba9876543210"]
//! egress_to_services = ["api"]
//! egress_ports = [443, 5432]            # optional: allowed ports on allowed peers
//! require_encryption = true             # cleartext connections are findings
//! isolated = true                       # own cluster, VPC endpoints and its lists only
//! private_aws_access = true             # AWS APIs only through VPC endpoints
//! ```
//!
//! A connection into a task is allowed when the peer, as of the connection's time,
//! matches any entry of any `ingress_from_*` list of the task's service. A service with
//! no entries allows no inbound connection. Egress is audited only for services with an
//! `egress_to_*` key. Tasks of unlisted services without `[defaults]` are not audited.

use std::collections::{BTreeSet, HashMap};

use crate::enrich::arn_name;
use crate::enrich::EniMap;
use crate::net::Cidr;

pub mod audit;
mod check;
mod error;
pub mod finding;
pub mod learn;
mod load;
pub mod rules;

pub use error::PolicyError;

/// The ports whose traffic is cleartext when the flow log does not say (the contract's
/// default of `cleartext_ports`): FTP, Telnet, SMTP, HTTP, POP3, IMAP, LDAP, HTTP-alt.
pub const DEFAULT_CLEARTEXT_PORTS: [u16; 8] = [21, 23, 25, 80, 110, 143, 389, 8080];

/// A list of peers: security groups, CIDR blocks and services (an `ingress_from_*` or
/// an `egress_to_*` set of keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peers {
    pub security_groups: Vec<String>,
    /// CIDR blocks with `vpc` expanded.
    pub cidrs: Vec<Cidr>,
    /// The CIDR entries as written (`vpc`, `10.0.0.50/32`), for messages.
    pub cidr_names: Vec<String>,
    pub services: Vec<String>,
    /// Load balancers (`app/web-alb`): every ENI of each, whatever its addresses.
    pub load_balancers: Vec<String>,
    /// Task definition families of tasks outside any service (`*_families`).
    pub families: Vec<String>,
}

/// A peer as a rule sees it, as of a record's time: its address, and what the map says
/// of its ENI (security groups, service, load balancer).
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerRef<'a> {
    pub addr: [u8; 16],
    pub groups: &'a [String],
    pub service: Option<&'a str>,
    pub load_balancer: Option<&'a str>,
    /// The task definition family of a task outside any service.
    pub family: Option<&'a str>,
}

impl<'a> PeerRef<'a> {
    /// A peer known by its address, security groups and service.
    pub fn of(addr: &[u8; 16], groups: &'a [String], service: Option<&'a str>) -> PeerRef<'a> {
        PeerRef {
            addr: *addr,
            groups,
            service,
            load_balancer: None,
            family: None,
        }
    }
}

impl Peers {
    /// Whether the list names no one.
    pub fn is_empty(&self) -> bool {
        self.security_groups.is_empty()
            && self.cidrs.is_empty()
            && self.services.is_empty()
            && self.load_balancers.is_empty()
            && self.families.is_empty()
    }

    /// Whether the peer is in the list.
    pub fn admits(&self, p: &PeerRef) -> bool {
        self.cidrs.iter().any(|c| c.contains(&p.addr))
            || p.groups.iter().any(|g| self.security_groups.contains(g))
            || p.service
                .is_some_and(|s| self.services.iter().any(|x| x == s))
            || p.load_balancer
                .is_some_and(|lb| self.load_balancers.iter().any(|x| x == lb))
            || p.family
                .is_some_and(|f| self.families.iter().any(|x| x == f))
    }

    /// "security group sg-0abc (ALB), services web and admin-gateway, and 10.0.0.50/32".
    pub fn describe(&self, map: &EniMap) -> String {
        let mut parts = Vec::new();
        if !self.security_groups.is_empty() {
            let sgs: Vec<String> = self
                .security_groups
                .iter()
                .map(|sg| match sg_owner(map, sg) {
                    Some(owner) => format!("{sg} ({owner})"),
                    None => sg.clone(),
                })
                .collect();
            parts.push(format!(
                "security group{} {}",
                plural(sgs.len()),
                list(&sgs)
            ));
        }
        if !self.services.is_empty() {
            parts.push(format!(
                "service{} {}",
                plural(self.services.len()),
                list(&self.services)
            ));
        }
        if !self.load_balancers.is_empty() {
            parts.push(format!(
                "load balancer{} {}",
                plural(self.load_balancers.len()),
                list(&self.load_balancers)
            ));
        }
        if !self.families.is_empty() {
            parts.push(format!(
                "task famil{} {}",
                if self.families.len() == 1 { "y" } else { "ies" },
                list(&self.families)
            ));
        }
        parts.extend(self.cidr_names.iter().map(|c| {
            if c == "vpc" {
                "the VPC".to_string()
            } else {
                c.clone()
            }
        }));
        // "services web and admin-gateway, and 10.0.0.50/32": the comma keeps apart
        // parts that are lists themselves.
        match parts.as_slice() {
            [rest @ .., last] if !rest.is_empty() && parts.iter().any(|p| p.contains(" and ")) => {
                format!("{}, and {last}", rest.join(", "))
            }
            _ => list(&parts),
        }
    }
}

/// One resolved rule: the ingress list and the service's other requirements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    /// The listener ports of the service's tasks (may be empty).
    pub ports: Vec<u16>,
    /// Who may open connections to the tasks (`ingress_from_*`).
    pub ingress: Peers,
    /// Whom the tasks may open connections to (`egress_to_*`); `None`: egress is not
    /// audited.
    pub egress: Option<Peers>,
    /// The allowed destination ports of egress; `None`: any.
    pub egress_ports: Option<Vec<u16>>,
    pub require_encryption: bool,
    pub isolated: bool,
    pub private_aws_access: bool,
    /// The rule of the same tasks in the baseline policy (`--baseline`), for
    /// `new-peer`: an empty rule where the baseline has none for them.
    pub baseline: Option<Box<Rule>>,
}

impl Rule {
    /// Whether the ingress list admits no one.
    pub fn admits_nobody(&self) -> bool {
        self.ingress.is_empty()
    }

    /// Whether the peer may open connections to the service's tasks.
    pub fn admits(&self, p: &PeerRef) -> bool {
        self.ingress.admits(p)
    }

    /// Whether the egress lists name the peer (ports aside); true when egress is not
    /// audited.
    pub fn egress_admits(&self, p: &PeerRef) -> bool {
        self.egress.as_ref().is_none_or(|e| e.admits(p))
    }

    /// Whether `port` is an allowed egress destination port.
    pub fn egress_port_allowed(&self, port: u16) -> bool {
        self.egress_ports.as_ref().is_none_or(|p| p.contains(&port))
    }

    /// Whether a peer is allowed by one of the rule's lists, either direction (what an
    /// isolated service may talk to besides its own cluster and VPC endpoints).
    pub fn lists_admit(&self, p: &PeerRef) -> bool {
        self.ingress.admits(p) || self.egress.as_ref().is_some_and(|e| e.admits(p))
    }

    /// "admits only sg-0abc (ALB), services web and admin-gateway, and 10.0.0.50/32".
    pub fn describe(&self, map: &EniMap) -> String {
        if self.admits_nobody() {
            return "admits no inbound connections".to_string();
        }
        format!("admits only {}", self.ingress.describe(map))
    }

    /// "may open connections only to 0.0.0.0/0 and ::/0, on ports 53 and 443".
    pub fn describe_egress(&self, map: &EniMap) -> String {
        let ports = self.egress_ports.as_ref().map(|p| {
            let p: Vec<String> = p.iter().map(u16::to_string).collect();
            format!(", on port{} {}", plural(p.len()), list(&p))
        });
        match &self.egress {
            Some(e) if !e.is_empty() => format!(
                "may open connections only to {}{}",
                e.describe(map),
                ports.unwrap_or_default()
            ),
            _ => "may open no outbound connections".to_string(),
        }
    }
}

/// What uses a security group, for messages: `ALB`, `NLB`, `tasks of web`.
fn sg_owner(map: &EniMap, sg: &str) -> Option<String> {
    let kinds: BTreeSet<String> = map
        .holders()
        .iter()
        .filter(|h| h.security_groups.iter().any(|g| g == sg))
        .map(|h| match &h.service {
            Some(s) => format!("tasks of {s}"),
            None => h.kind.words().owners.to_string(),
        })
        .collect();
    (!kinds.is_empty()).then(|| kinds.into_iter().collect::<Vec<_>>().join(", "))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "a", "a and b", "a, b and c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A `[[service]]` rule: for the tasks of a service (`name`), or of a task definition
/// family outside any service (`family`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRule {
    /// The service's name, or the family's when `of` is [`Of::Family`].
    pub name: String,
    pub of: Of,
    pub cluster: Option<String>,
    pub rule: Rule,
}

impl ServiceRule {
    /// Whose rule it is: its service's or its family's.
    pub fn subject(&self) -> Subject<'_> {
        match self.of {
            Of::Service => Subject::Service(&self.name),
            Of::Family => Subject::Family(&self.name),
        }
    }
}

/// What a `[[service]]` rule names: a service (`name = "web"`) or a task definition
/// family (`family = "nightly"`, for standalone and scheduled tasks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Of {
    Service,
    Family,
}

impl Of {
    /// The key that names it in a policy file.
    pub fn key(self) -> &'static str {
        match self {
            Of::Service => "name",
            Of::Family => "family",
        }
    }
}

/// Whose rule a task takes: its service's, or, for a task outside any service, its task
/// definition family's (ECS's `group`, `service:NAME` or `family:NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject<'a> {
    Service(&'a str),
    Family(&'a str),
    Neither,
}

impl<'a> Subject<'a> {
    /// The service when there is one, else the family.
    pub fn of(service: Option<&'a str>, family: Option<&'a str>) -> Subject<'a> {
        match (service, family) {
            (Some(s), _) => Subject::Service(s),
            (None, Some(f)) => Subject::Family(f),
            (None, None) => Subject::Neither,
        }
    }
}

/// The resolved policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub vpc_cidrs: Vec<Cidr>,
    /// Ports whose traffic counts as cleartext where the flow log has no
    /// `encryption-status` (`[network] cleartext_ports`).
    pub cleartext_ports: Vec<u16>,
    pub defaults: Option<Rule>,
    /// The `[[service]]` rules in file order. Read-only once parsed: [`Policy::rule_for`]
    /// finds them through an index built from this list.
    pub services: Vec<ServiceRule>,
    index: RuleIndex,
}

/// Which rule judges a task: a `[[service]]` rule by its place in [`Policy::services`],
/// or `[defaults]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleId {
    Service(usize),
    Defaults,
}

/// The `[[service]]` rules by service name, so that finding a task's rule costs one
/// hash lookup whatever the number of rules (5,000 rules scanned once per record made
/// an audit 20 times slower). Keys are the policy's own strings, hashed with SipHash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RuleIndex {
    by_name: HashMap<String, Named>,
    /// The rules by `family`, as `by_name`.
    by_family: HashMap<String, Named>,
}

/// The rules of one service name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Named {
    /// The rule without `cluster`.
    any: Option<usize>,
    /// The rules with a `cluster`, by the cluster's name (an ARN's last part). Where two
    /// rules name one cluster differently (`prod` and its ARN), the first in the file
    /// is the one that matches, as a scan in file order found it.
    by_cluster: HashMap<String, usize>,
}

impl RuleIndex {
    fn of(services: &[ServiceRule]) -> RuleIndex {
        let mut by_name: HashMap<String, Named> = HashMap::new();
        let mut by_family: HashMap<String, Named> = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            let index = match s.of {
                Of::Service => &mut by_name,
                Of::Family => &mut by_family,
            };
            let named = index.entry(s.name.clone()).or_default();
            match &s.cluster {
                Some(c) => {
                    named.by_cluster.entry(arn_name(c).to_string()).or_insert(i);
                }
                None => {
                    named.any.get_or_insert(i);
                }
            }
        }
        RuleIndex { by_name, by_family }
    }
}

#[cfg(test)]
thread_local! {
    /// How many times this thread looked a rule up (for tests that the audit does so
    /// once per task's service, not once per record).
    pub(crate) static RULE_LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Extra rules from the command line (`--allow-sg`, `--allow-cidr`, `--allow-service`):
/// added to every `[[service]]` rule and to `[defaults]`; without a policy file they
/// are the `[defaults]`, so that every task is audited with them.
#[derive(Debug, Clone, Default)]
pub struct CommandLineRules {
    pub security_groups: Vec<String>,
    pub cidrs: Vec<String>,
    pub services: Vec<String>,
}

impl CommandLineRules {
    pub fn is_empty(&self) -> bool {
        self.security_groups.is_empty() && self.cidrs.is_empty() && self.services.is_empty()
    }
}

impl Policy {
    /// Whether any rule (a service's or `[defaults]`) asks for `check`.
    pub fn any_rule(&self, check: impl Fn(&Rule) -> bool) -> bool {
        self.defaults
            .iter()
            .chain(self.services.iter().map(|s| &s.rule))
            .any(check)
    }

    /// The rule for a task of `service` in `cluster`, if its tasks are audited: the
    /// rule for `(service, cluster)`, else the one for `service` in any cluster, else
    /// `[defaults]`. A cluster matches by name or ARN.
    pub fn rule_for(&self, service: Option<&str>, cluster: Option<&str>) -> Option<&Rule> {
        self.rule_id(service, cluster).map(|id| self.rule(id))
    }

    /// Which rule [`Policy::rule_for`] gives, as an id that a caller can keep (the audit
    /// keeps one per service and cluster it meets).
    pub fn rule_id(&self, service: Option<&str>, cluster: Option<&str>) -> Option<RuleId> {
        self.rule_id_of(Subject::of(service, None), cluster)
    }

    /// The rule of a task of a service or, outside any service, of a task definition
    /// family (see [`Policy::rule_for`]), as an id.
    pub fn rule_id_of(&self, subject: Subject, cluster: Option<&str>) -> Option<RuleId> {
        #[cfg(test)]
        RULE_LOOKUPS.with(|n| n.set(n.get() + 1));
        let named = match subject {
            Subject::Service(s) => self.index.by_name.get(s),
            Subject::Family(f) => self.index.by_family.get(f),
            Subject::Neither => None,
        };
        named
            .and_then(|n| {
                cluster
                    .and_then(|c| n.by_cluster.get(arn_name(c)))
                    .or(n.any.as_ref())
            })
            .map(|&i| RuleId::Service(i))
            .or(self.defaults.as_ref().map(|_| RuleId::Defaults))
    }

    /// [`Policy::rule_id_of`]'s rule.
    pub fn rule_of(&self, subject: Subject, cluster: Option<&str>) -> Option<&Rule> {
        self.rule_id_of(subject, cluster).map(|id| self.rule(id))
    }

    /// The rule of an id from [`Policy::rule_id`].
    pub fn rule(&self, id: RuleId) -> &Rule {
        match id {
            RuleId::Service(i) => &self.services[i].rule,
            RuleId::Defaults => self.defaults.as_ref().expect("an id of [defaults]"),
        }
    }
}

impl Policy {
    /// Adds a baseline (`--baseline`): each rule learns the baseline's rule for the same
    /// tasks, for `new-peer`. Tasks the baseline has a rule for and this policy judges
    /// only by a wider rule (`[defaults]`, or a rule for any cluster) get a copy of that
    /// rule of their own, so that each rule has one baseline.
    pub fn add_baseline(&mut self, baseline: &Policy) {
        for b in &baseline.services {
            let subject = b.subject();
            let exact = self
                .services
                .iter()
                .any(|s| s.of == b.of && s.name == b.name && s.cluster == b.cluster);
            if exact {
                continue;
            }
            if let Some(wider) = self.rule_of(subject, b.cluster.as_deref()).cloned() {
                self.services.push(ServiceRule {
                    name: b.name.clone(),
                    of: b.of,
                    cluster: b.cluster.clone(),
                    rule: wider,
                });
            }
        }
        self.index = RuleIndex::of(&self.services);
        let none = Box::<Rule>::default;
        for s in &mut self.services {
            let subject = s.subject();
            s.rule.baseline = Some(
                baseline
                    .rule_of(subject, s.cluster.as_deref())
                    .map_or_else(none, |r| Box::new(r.clone())),
            );
        }
        if let Some(d) = &mut self.defaults {
            d.baseline = Some(baseline.defaults.clone().map_or_else(none, Box::new));
        }
    }

    /// The policy of `audit --baseline` without `--policy`: the baseline's own rules,
    /// each its own baseline, and `[defaults]` with an empty baseline, so that tasks of a
    /// service the baseline never saw are judged too (every peer of theirs is new).
    pub fn of_baseline(baseline: &Policy) -> Policy {
        let mut p = baseline.clone();
        if p.defaults.is_none() {
            p.defaults = Some(Rule::default());
        }
        p.add_baseline(baseline);
        p
    }
}

/// Whether two cluster names, each a name or an ARN, name the same cluster.
fn same_cluster(a: &str, b: &str) -> bool {
    arn_name(a) == arn_name(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[network]
vpc_cidrs = ["10.0.0.0/16"]

[[service]]
name = "web"
ports = [8080]
ingress_from_security_groups = ["sg-alb"]

[[service]]
name = "api"
cluster = "prod"
ingress_from_cidrs = ["vpc", "192.0.2.0/24"]
ingress_from_services = ["web"]
"#;

    #[test]
    fn parses_and_resolves() {
        let p = Policy::parse("p.toml", POLICY, &[], &CommandLineRules::default()).unwrap();
        assert_eq!(p.vpc_cidrs, vec!["10.0.0.0/16".parse().unwrap()]);
        assert!(p.defaults.is_none());
        let web = p.rule_for(Some("web"), Some("any")).unwrap();
        assert_eq!(web.ports, [8080]);
        let api = p.rule_for(Some("api"), Some("prod")).unwrap();
        assert_eq!(api.ingress.cidrs.len(), 2);
        assert!(p.rule_for(Some("api"), Some("staging")).is_none());
        assert!(p.rule_for(Some("worker"), None).is_none());
        let a = crate::net::v4(10, 0, 9, 9);
        assert!(api.admits(&crate::policy::PeerRef::of(&a, &[], None)));
        assert!(!web.admits(&crate::policy::PeerRef::of(&a, &[], Some("web"))));
        assert!(web.admits(&crate::policy::PeerRef::of(
            &a,
            &["sg-x".into(), "sg-alb".into()],
            None
        )));
        assert!(api.admits(&crate::policy::PeerRef::of(
            &crate::net::v4(8, 8, 8, 8),
            &[],
            Some("web")
        )));
        assert!(!api.admits(&crate::policy::PeerRef::of(
            &crate::net::v4(8, 8, 8, 8),
            &[],
            Some("worker")
        )));
    }

    #[test]
    fn a_rule_by_family_judges_tasks_outside_any_service_only() {
        let text = r#"
[[service]]
family = "nightly"
ingress_from_families = ["bastion"]
egress_to_families = []

[[service]]
name = "nightly"
ports = [9000]
"#;
        let p = Policy::parse("p.toml", text, &[], &CommandLineRules::default()).unwrap();
        let by_family = p.rule_of(Subject::Family("nightly"), None).unwrap();
        assert!(by_family.ports.is_empty());
        assert_eq!(
            by_family.egress.as_ref().unwrap().families,
            Vec::<String>::new()
        );
        // The service of the same name is another rule.
        assert_eq!(
            p.rule_of(Subject::Service("nightly"), None).unwrap().ports,
            [9000]
        );
        assert!(p.rule_of(Subject::Family("other"), None).is_none());
        assert!(p.rule_of(Subject::of(None, None), None).is_none());
        let a: [u8; 16] = crate::net::parse_addr(b"10.0.9.9").unwrap();
        let mut peer = PeerRef::of(&a, &[], None);
        assert!(!by_family.admits(&peer));
        peer.family = Some("bastion");
        assert!(by_family.admits(&peer));
        assert!(by_family
            .describe(&EniMap::default())
            .contains("task family bastion"));
    }

    #[test]
    fn a_rule_names_a_service_or_a_family_not_both() {
        for (text, words) in [
            (
                "[[service]]\nname = \"a\"\nfamily = \"b\"\n",
                "both name and family",
            ),
            ("[[service]]\nports = [1]\n", "missing name"),
            ("[[service]]\nfamily = \"\"\n", "service[0].family is empty"),
        ] {
            let e = Policy::parse("p.toml", text, &[], &CommandLineRules::default()).unwrap_err();
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn a_rule_for_the_cluster_wins_over_one_for_any_cluster() {
        let text = "[[service]]\nname = \"web\"\ningress_from_cidrs = [\"0.0.0.0/0\"]\n\
                    [[service]]\nname = \"web\"\ncluster = \"prod\"\nports = [8080]\n";
        let p = Policy::parse("p.toml", text, &[], &CommandLineRules::default()).unwrap();
        let arn = "arn:aws:ecs:us-east-1:1:cluster/prod";
        assert_eq!(p.rule_for(Some("web"), Some("prod")).unwrap().ports, [8080]);
        assert_eq!(p.rule_for(Some("web"), Some(arn)).unwrap().ports, [8080]);
        assert!(p
            .rule_for(Some("web"), Some("dev"))
            .unwrap()
            .ports
            .is_empty());
        assert!(p.rule_for(Some("web"), None).unwrap().ports.is_empty());
        let twice = format!("{text}[[service]]\nname = \"web\"\ncluster = \"prod\"\n");
        let e = Policy::parse("p.toml", &twice, &[], &CommandLineRules::default())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "p.toml: service[2] (web): service web is listed twice");
    }

    #[test]
    fn command_line_rules_join_every_service_rule() {
        let extra = CommandLineRules {
            security_groups: vec![],
            cidrs: vec!["192.0.2.0/24".into()],
            services: vec![],
        };
        let p = Policy::parse("p.toml", POLICY, &[], &extra).unwrap();
        let a = crate::net::v4(192, 0, 2, 7);
        assert!(p
            .rule_for(Some("web"), None)
            .unwrap()
            .admits(&crate::policy::PeerRef::of(&a, &[], None)));
        assert!(p
            .rule_for(Some("api"), Some("prod"))
            .unwrap()
            .admits(&crate::policy::PeerRef::of(&a, &[], None)));
        assert!(
            p.defaults.is_none(),
            "allowing is not auditing more services"
        );
    }

    #[test]
    fn command_line_rules_become_defaults() {
        let extra = CommandLineRules {
            security_groups: vec!["sg-alb".into()],
            cidrs: vec!["vpc".into()],
            services: vec![],
        };
        let p = Policy::from_command_line(&["10.1.0.0/16".parse().unwrap()], &extra).unwrap();
        let d = p.rule_for(Some("anything"), None).unwrap();
        assert_eq!(d.ingress.security_groups, ["sg-alb"]);
        assert_eq!(d.ingress.cidrs, vec!["10.1.0.0/16".parse().unwrap()]);
    }

    #[test]
    fn errors_name_file_key_and_problem() {
        let e = |t: &str| {
            Policy::parse("p.toml", t, &[], &CommandLineRules::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("[network]\nvpc_cidrs = [\"10.0.0.0/33\"]\n"),
            "p.toml: network.vpc_cidrs[0]: \"10.0.0.0/33\": prefix length must be 0 to 32"
        );
        assert_eq!(
            e("[[service]]\nname = \"web\"\ningress_from_cidrs = [\"internet\"]\n"),
            "p.toml: service[0] (web).ingress_from_cidrs[0]: \"internet\" is not a CIDR block (like 10.0.0.0/16) (or \"vpc\")"
        );
        assert!(e("[[service]]\nname = \"web\"\nport = [80]\n")
            .starts_with("p.toml:3: unknown field `port`"));
        assert!(e("[netwrk]\n").starts_with("p.toml:1: unknown field `netwrk`"));
        assert_eq!(
            e("[[service]]\nname = \"web\"\n[[service]]\nname = \"web\"\n"),
            "p.toml: service[1] (web): service web is listed twice"
        );
    }

    #[test]
    fn descriptions() {
        let map = EniMap::default();
        let p = Policy::parse("p.toml", POLICY, &[], &CommandLineRules::default()).unwrap();
        assert_eq!(
            p.rule_for(Some("api"), Some("prod"))
                .unwrap()
                .describe(&map),
            "admits only service web, the VPC and 192.0.2.0/24"
        );
        assert_eq!(
            Rule::default().describe(&map),
            "admits no inbound connections"
        );
        assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }

    const RULES: &str = r#"
[network]
vpc_cidrs = ["10.0.0.0/16"]
cleartext_ports = [80, 8080]

[defaults]
egress_to_cidrs = []

[[service]]
name = "worker"
egress_to_cidrs = ["0.0.0.0/0", "::/0"]
egress_ports = [53, 443]

[[service]]
name = "api"
ingress_from_services = ["web"]
egress_to_security_groups = ["sg-db"]
egress_to_services = ["cache"]
require_encryption = true

[[service]]
name = "payments"
cluster = "pci"
isolated = true
private_aws_access = true
"#;

    #[test]
    fn egress_encryption_isolation_and_privatelink_keys() {
        let p = Policy::parse("p.toml", RULES, &[], &CommandLineRules::default()).unwrap();
        assert_eq!(p.cleartext_ports, [80, 8080]);
        let inet = crate::net::v4(198, 51, 100, 9);
        let v6: [u8; 16] = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets();
        // An explicit empty list audits egress and allows nothing.
        let d = p.rule_for(Some("unlisted"), None).unwrap();
        assert_eq!(d.egress, Some(Peers::default()));
        assert!(!d.egress_admits(&crate::policy::PeerRef::of(&inet, &[], None)));
        assert_eq!(
            d.describe_egress(&EniMap::default()),
            "may open no outbound connections"
        );
        let w = p.rule_for(Some("worker"), None).unwrap();
        assert!(
            w.egress_admits(&crate::policy::PeerRef::of(&inet, &[], None))
                && w.egress_admits(&crate::policy::PeerRef::of(&v6, &[], None))
        );
        assert!(w.egress_port_allowed(443) && !w.egress_port_allowed(6667));
        assert_eq!(
            w.describe_egress(&EniMap::default()),
            "may open connections only to 0.0.0.0/0 and ::/0, on ports 53 and 443"
        );
        assert!(!w.require_encryption && !w.isolated && !w.private_aws_access);
        let a = p.rule_for(Some("api"), None).unwrap();
        assert!(a.require_encryption);
        assert!(a.egress_admits(&crate::policy::PeerRef::of(&inet, &["sg-db".into()], None)));
        assert!(a.egress_admits(&crate::policy::PeerRef::of(&inet, &[], Some("cache"))));
        assert!(!a.egress_admits(&crate::policy::PeerRef::of(&inet, &[], Some("web"))));
        // Either list admits for isolation; egress ports allow any without egress_ports.
        assert!(a.lists_admit(&crate::policy::PeerRef::of(&inet, &[], Some("web"))));
        assert!(a.egress_port_allowed(1));
        let pay = p.rule_for(Some("payments"), Some("pci")).unwrap();
        assert!(pay.isolated && pay.private_aws_access && pay.egress.is_none());
        assert!(
            pay.egress_admits(&crate::policy::PeerRef::of(&inet, &[], None)),
            "egress not audited"
        );
        assert!(!pay.lists_admit(&crate::policy::PeerRef::of(&inet, &[], None)));
        assert!(p.any_rule(|r| r.isolated) && !p.any_rule(|r| r.ports == [1]));
        // The default cleartext ports.
        let q = Policy::parse("p.toml", POLICY, &[], &CommandLineRules::default()).unwrap();
        assert_eq!(q.cleartext_ports, DEFAULT_CLEARTEXT_PORTS);
    }

    #[test]
    fn egress_key_errors() {
        let e = |t: &str| {
            Policy::parse("p.toml", t, &[], &CommandLineRules::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            e("[[service]]\nname = \"w\"\negress_ports = [443]\n"),
            "p.toml: service[0] (w).egress_ports: given without any egress_to_* list, so no \
             egress is audited (add egress_to_cidrs, egress_to_security_groups or \
             egress_to_services)"
        );
        assert_eq!(
            e("[[service]]\nname = \"w\"\negress_to_cidrs = [\"10.0.0.0/8\", \"nat\"]\n"),
            "p.toml: service[0] (w).egress_to_cidrs[1]: \"nat\" is not a CIDR block (like 10.0.0.0/16) (or \"vpc\")"
        );
        assert!(e("[[service]]\nname = \"w\"\nisolated = \"yes\"\n")
            .starts_with("p.toml:3: invalid type: string \"yes\", expected a boolean"));
        assert!(e("[network]\ncleartext_ports = [70000]\n").starts_with("p.toml:2:"));
        assert!(e("[[service]]\nname = \"w\"\negress_to = [\"vpc\"]\n")
            .starts_with("p.toml:3: unknown field `egress_to`"));
        // Without a map, egress by group or service cannot be judged either.
        let p = Policy::parse(
            "p.toml",
            "[[service]]\nname = \"w\"\negress_to_services = [\"api\"]\n",
            &[],
            &CommandLineRules::default(),
        )
        .unwrap();
        assert_eq!(
            p.check_against("p.toml", &EniMap::default())
                .unwrap_err()
                .to_string(),
            "p.toml: service[0] (w).egress_to_services: without --map nothing says which \
             security groups, service or load balancer a peer belongs to; give the ENI map \
             with --map"
        );
    }

    #[test]
    fn a_cidr_with_host_bits_is_refused() {
        // Regression: `10.0.0.50/8` was read as 10.0.0.0/8 without a word.
        let err = Policy::parse(
            "p.toml",
            "[[service]]\nname = \"web\"\ningress_from_cidrs = [\"10.0.0.50/8\"]\n",
            &[],
            &CommandLineRules::default(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "p.toml: service[0] (web).ingress_from_cidrs[0]: \"10.0.0.50/8\" has host bits \
             set: write 10.0.0.0/8 for the block, or 10.0.0.50/32 for the one address (or \"vpc\")"
        );
        let err = Policy::parse(
            "p.toml",
            "[network]\nvpc_cidrs = [\"2600:1f18::1/56\"]\n",
            &[],
            &CommandLineRules::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("has host bits set: write 2600:1f18::/56"),
            "{err}"
        );
    }

    /// A policy of `[[service]]` rules, each `(name, cluster, port)`: the port tells
    /// which rule was found.
    fn ported(rules: &[(&str, Option<&str>, u16)], defaults: bool) -> Policy {
        let mut text = String::new();
        if defaults {
            text.push_str("[defaults]\nports = [1]\n");
        }
        for (name, cluster, port) in rules {
            text.push_str(&format!("[[service]]\nname = {name:?}\nports = [{port}]\n"));
            if let Some(c) = cluster {
                text.push_str(&format!("cluster = {c:?}\n"));
            }
        }
        Policy::parse("p.toml", &text, &[], &CommandLineRules::default()).unwrap()
    }

    fn port_of(p: &Policy, service: Option<&str>, cluster: Option<&str>) -> Option<u16> {
        p.rule_for(service, cluster).map(|r| r.ports[0])
    }

    #[test]
    fn rule_precedence_cluster_rule_then_any_cluster_rule_then_defaults() {
        let prod = "arn:aws:ecs:us-east-1:1:cluster/prod";
        // The general rule first in the file, then the cluster's: order does not matter.
        for rules in [
            [("web", None, 10), ("web", Some("prod"), 20)],
            [("web", Some("prod"), 20), ("web", None, 10)],
        ] {
            let p = ported(&rules, true);
            assert_eq!(port_of(&p, Some("web"), Some("prod")), Some(20));
            assert_eq!(port_of(&p, Some("web"), Some(prod)), Some(20));
            assert_eq!(port_of(&p, Some("web"), Some("dev")), Some(10));
            assert_eq!(port_of(&p, Some("web"), None), Some(10));
            assert_eq!(port_of(&p, Some("api"), Some("prod")), Some(1));
            assert_eq!(port_of(&p, None, Some("prod")), Some(1));
            assert_eq!(port_of(&p, None, None), Some(1));
        }
        // A rule for a cluster only: other clusters and no cluster fall to [defaults],
        // or to nothing without it. A rule's cluster may be an ARN too.
        let p = ported(&[("web", Some(prod), 20)], true);
        assert_eq!(port_of(&p, Some("web"), Some("prod")), Some(20));
        assert_eq!(port_of(&p, Some("web"), Some("dev")), Some(1));
        assert_eq!(port_of(&p, Some("web"), None), Some(1));
        let p = ported(&[("web", Some("prod"), 20)], false);
        assert_eq!(port_of(&p, Some("web"), Some(prod)), Some(20));
        assert_eq!(port_of(&p, Some("web"), Some("dev")), None);
        assert_eq!(port_of(&p, Some("web"), None), None);
        assert_eq!(port_of(&p, None, None), None);
        // `prod` and its ARN are one cluster but not one key: both load, and the first
        // in the file is the rule.
        let p = ported(&[("web", Some(prod), 30), ("web", Some("prod"), 20)], false);
        assert_eq!(port_of(&p, Some("web"), Some("prod")), Some(30));
        let p = ported(&[("web", Some("prod"), 20), ("web", Some(prod), 30)], false);
        assert_eq!(port_of(&p, Some("web"), Some(prod)), Some(20));
        // Names match exactly: no case folding, no prefix.
        let p = ported(&[("web", None, 10)], false);
        assert_eq!(port_of(&p, Some("Web"), None), None);
        assert_eq!(port_of(&p, Some("web-2"), None), None);
        assert_eq!(
            p.rule_id(Some("web"), Some("x")),
            Some(RuleId::Service(0)),
            "an id names the rule by its place in the file"
        );
    }

    #[test]
    fn rule_lookup_agrees_with_a_scan_in_file_order() {
        // The former lookup, a scan of the rules in file order, as the oracle: the
        // first rule for (service, cluster), else the first for service, else defaults.
        fn scan(p: &Policy, service: Option<&str>, cluster: Option<&str>) -> Option<u16> {
            let find = |with_cluster: bool| {
                p.services.iter().find(|r| {
                    Some(r.name.as_str()) == service
                        && match (&r.cluster, with_cluster) {
                            (Some(c), true) => cluster.is_some_and(|x| same_cluster(c, x)),
                            (None, false) => true,
                            _ => false,
                        }
                })
            };
            find(true)
                .or_else(|| find(false))
                .map(|r| r.rule.ports[0])
                .or(p.defaults.as_ref().map(|d| d.ports[0]))
        }
        // Every set of rules over two names and three clusters (one also as its ARN),
        // in file order and reversed, with and without [defaults].
        let x_arn = "arn:aws:ecs:us-east-1:1:cluster/x";
        let all: Vec<(&str, Option<&str>)> = ["a", "b"]
            .into_iter()
            .flat_map(|n| [None, Some("x"), Some(x_arn), Some("y")].map(|c| (n, c)))
            .collect();
        let mut checked = 0;
        for mask in 0..1u32 << all.len() {
            let mut rules: Vec<(&str, Option<&str>, u16)> = (0..all.len())
                .filter(|i| mask & 1 << i != 0)
                .map(|i| (all[i].0, all[i].1, 10 + i as u16))
                .collect();
            for reversed in [false, true] {
                if reversed {
                    rules.reverse();
                }
                let p = ported(&rules, mask % 3 == 0);
                for service in [None, Some("a"), Some("b"), Some("c")] {
                    for cluster in [None, Some("x"), Some("y"), Some("z"), Some(x_arn)] {
                        assert_eq!(
                            port_of(&p, service, cluster),
                            scan(&p, service, cluster),
                            "{rules:?} {service:?} {cluster:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 256 * 2 * 4 * 5);
    }

    #[test]
    fn duplicate_rule_check_is_linear_in_services() {
        // Regression: each rule was compared with every earlier one, so 100,000 rules
        // took 50 s to load. The duplicate at the end is still named.
        let mut text = String::with_capacity(100_001 * 40);
        for i in 0..100_000 {
            text.push_str(&format!("[[service]]\nname = \"s{i}\"\ncluster = \"c\"\n"));
        }
        let p = Policy::parse("p.toml", &text, &[], &CommandLineRules::default()).unwrap();
        assert_eq!(p.services.len(), 100_000);
        assert_eq!(
            p.rule_id(Some("s99999"), Some("c")),
            Some(RuleId::Service(99_999))
        );
        assert_eq!(p.rule_id(Some("s99999"), Some("d")), None);
        text.push_str("[[service]]\nname = \"s77\"\ncluster = \"c\"\n");
        let e = Policy::parse("p.toml", &text, &[], &CommandLineRules::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "p.toml: service[100000] (s77): service s77 is listed twice"
        );
    }
}
