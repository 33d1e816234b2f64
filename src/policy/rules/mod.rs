//! The audit's rules, one file each: its name, which policy key asks for it, its
//! verdict on a peer, its severity and its words.
//!
//! Each rule of Amazon's ECS network-security guidance is one [`AuditRule`]: who may
//! open connections to a task ([`ingress`]), whom a task may open connections to
//! ([`egress`]), encryption in transit ([`cleartext`]), strict isolation
//! ([`isolation`]) and AWS APIs through VPC endpoints only ([`private_aws`]); and, against
//! a baseline learned from a quiet window, peers that are new ([`new_peer`]).
//!
//! The list at the bottom (`rules! { ... }`) is the one place that names them all:
//! [`Check`], [`Check::ALL`], [`Check::COUNT`], the bits of [`Checks`] (`1 << check`) and
//! every per-rule array (`[_; Check::COUNT]`) follow from it. A new rule is one new file
//! here (with its `mod` line: `cargo fmt` only finds modules declared outside macros) and
//! one line in the list. Dispatch is a `match` on [`Check`], static: the audit's
//! per-record verdict ([`admitted`]) is the rules' `admits` unrolled, no call through a
//! pointer.
//!
//! What the audit *counts* per connection (records by direction and action, evidence)
//! stays in [`super::audit`], which judges; this module holds no state.

use super::finding::{Finding, Severity};
use super::{PeerRef, Policy, Rule};
use crate::enrich::{EniMap, PeerKind};

pub mod cleartext;
pub mod egress;
pub mod ingress;
pub mod isolation;
pub mod new_peer;
pub mod private_aws;
pub mod words;

/// One rule of the audit: what a file of this module defines.
pub trait AuditRule {
    /// The rule's name in findings and in `--rule`.
    const NAME: &'static str;
    /// The policy key that asks for the rule, for messages (`isolated = true`).
    const ASKED_BY: &'static str;
    /// The flow-log columns the rule reads besides the audit's own (projection
    /// pushdown: audits without the rule do not decode them).
    const COLUMNS: &'static [&'static str] = &[];
    /// What a finding of the rule is, as a title's first words
    /// (`Unexpected inbound connection`).
    const TITLE: &'static str;
    /// The finding's types in the AWS Security Finding Format's taxonomy
    /// (`namespace/category[/classifier]`), for `--format asff` and OCSF's
    /// `finding_info.types`.
    const FINDING_TYPES: &'static [&'static str];

    /// Whether `rule` (a service's or `[defaults]`) asks for this check.
    fn asks(rule: &Rule) -> bool;

    /// Whether some rule of the policy asks for this check.
    fn configured(policy: &Policy) -> bool {
        policy.any_rule(Self::asks)
    }

    /// Whether the check has nothing to say about a task's traffic with `peer` under
    /// `rule`. It depends on the peer and the rule only, never on a record's ports or
    /// other fields: the records skipped as having nothing to judge are then all the
    /// records of the peer, as port stability (who opened which connection) needs.
    fn admits(rule: &Rule, peer: &PeerView) -> bool;

    /// How bad a finding of the rule is.
    fn severity(action: &str, peer_kind: Option<&str>) -> Severity {
        severity(action, peer_kind)
    }

    /// The finding's reason: one sentence saying what happened and which rule of the
    /// policy it breaks.
    fn reason(f: &Finding, facts: &Facts) -> String;
}

/// Rejected attempts are low; accepted traffic with the internet is high; everything
/// else medium (the severity of a rule that says nothing else).
pub fn severity(action: &str, peer_kind: Option<&str>) -> Severity {
    match (action, peer_kind) {
        ("REJECT", _) => Severity::Low,
        (_, Some(k)) if k == PeerKind::Internet.as_str() => Severity::High,
        _ => Severity::Medium,
    }
}

/// A record's peer as the rules judge it, as of the record's time.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerView<'a> {
    /// Its address, security groups, service and load balancer.
    pub who: PeerRef<'a>,
    /// Its kind ([`PeerKind::as_str`]).
    pub kind: Option<&'a str>,
    /// The cluster of the peer's ENI, if a task's.
    pub cluster: Option<&'a str>,
    /// The cluster of the task whose traffic it is.
    pub own_cluster: Option<&'a str>,
}

impl PeerView<'_> {
    /// Whether the peer is of kind `k`.
    pub fn is(&self, k: PeerKind) -> bool {
        self.kind == Some(k.as_str())
    }
}

/// Who opened the connections of a finding (bits of [`Facts::opened`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    Unknown = 1,
    ByTask = 2,
    ByPeer = 4,
}

/// What a finding's reason says besides the finding's fields.
pub struct Facts<'a> {
    /// `Opened` bits of its connections.
    pub opened: u8,
    /// The rule's evidence bits (see [`cleartext`] and [`private_aws`]).
    pub evidence: u8,
    pub aws_service: Option<&'a str>,
    pub peer_cluster: Option<&'a str>,
    /// The load balancer of a load balancer peer's ENI.
    pub peer_lb: Option<&'a str>,
    /// The rule of the finding's task.
    pub rule: Option<&'a Rule>,
    /// The ENI map, for the owners of security groups in a rule's words.
    pub map: &'a EniMap,
}

/// `--rule` named no rule.
#[derive(Debug, thiserror::Error)]
#[error("{name:?} is not a rule (one of {})", Check::ALL.map(Check::as_str).join(", "))]
pub struct NotARule {
    pub name: String,
}

/// A set of checks: bit `1 << check as u8` for each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checks(u8);

impl Checks {
    /// Every check.
    pub const ALL: Checks = Checks::of(&Check::ALL);

    pub const fn of(checks: &[Check]) -> Checks {
        let mut bits = 0;
        let mut i = 0;
        while i < checks.len() {
            bits |= checks[i].bit();
            i += 1;
        }
        Checks(bits)
    }

    pub fn has(self, c: Check) -> bool {
        self.0 & c.bit() != 0
    }

    /// The checks in both sets.
    pub fn and(self, o: Checks) -> Checks {
        Checks(self.0 & o.0)
    }

    /// The set without `c`.
    pub const fn without(self, c: Check) -> Checks {
        Checks(self.0 & !c.bit())
    }
}

/// The rule of a file, named by its variant.
macro_rules! rules {
    ($($Variant:ident => $module:ident::$Rule:ident,)*) => {
        /// One check of the audit (a `rule` of the findings): one per file of
        /// [`crate::policy::rules`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Check {
            $(
                #[doc = concat!("See [`", stringify!($module), "`].")]
                $Variant,
            )*
        }

        impl Check {
            /// How many rules there are.
            pub const COUNT: usize = [$(stringify!($Variant)),*].len();

            /// Every rule, in the order of the list (the order of findings and totals).
            pub const ALL: [Check; Check::COUNT] = [$(Check::$Variant),*];

            /// The rule's name in findings and in `--rule`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Check::$Variant => $module::$Rule::NAME,)*
                }
            }

            /// The policy key that asks for the rule (for messages).
            pub fn asked_by(self) -> &'static str {
                match self {
                    $(Check::$Variant => $module::$Rule::ASKED_BY,)*
                }
            }

            /// What a finding of the rule is, as a title's first words.
            pub fn title(self) -> &'static str {
                match self {
                    $(Check::$Variant => $module::$Rule::TITLE,)*
                }
            }

            /// The finding's types in ASFF's taxonomy.
            pub fn finding_types(self) -> &'static [&'static str] {
                match self {
                    $(Check::$Variant => $module::$Rule::FINDING_TYPES,)*
                }
            }

            /// The flow-log columns the rule reads besides the audit's own.
            pub fn columns(self) -> &'static [&'static str] {
                match self {
                    $(Check::$Variant => $module::$Rule::COLUMNS,)*
                }
            }

            /// Whether `rule` asks for this check.
            pub fn asks(self, rule: &Rule) -> bool {
                match self {
                    $(Check::$Variant => $module::$Rule::asks(rule),)*
                }
            }

            /// Whether some rule of the policy asks for this check.
            pub fn configured(self, policy: &Policy) -> bool {
                match self {
                    $(Check::$Variant => $module::$Rule::configured(policy),)*
                }
            }

            /// How bad a finding of the rule is.
            pub fn severity(self, action: &str, peer_kind: Option<&str>) -> Severity {
                match self {
                    $(Check::$Variant => $module::$Rule::severity(action, peer_kind),)*
                }
            }

            /// The reason of a finding of the rule.
            pub fn reason(self, f: &Finding, facts: &Facts) -> String {
                match self {
                    $(Check::$Variant => $module::$Rule::reason(f, facts),)*
                }
            }
        }

        /// The checks among `checks` that have nothing to say about a task's traffic
        /// with `peer` under `rule`, with every check not in `checks` (per record: each
        /// rule's `admits`, unrolled).
        #[inline]
        pub fn admitted(checks: Checks, rule: &Rule, peer: &PeerView) -> Checks {
            let mut ok = 0;
            $(
                if !checks.has(Check::$Variant) || $module::$Rule::admits(rule, peer) {
                    ok |= Check::$Variant.bit();
                }
            )*
            Checks(ok)
        }
    };
}

// The list of rules, in the order of findings. One line per rule.
rules! {
    UnexpectedIngress => ingress::Ingress,
    UnexpectedEgress => egress::Egress,
    Cleartext => cleartext::Cleartext,
    Isolation => isolation::Isolation,
    PrivatelinkBypass => private_aws::PrivatelinkBypass,
    NewPeer => new_peer::NewPeer,
}

const _: () = assert!(
    Check::COUNT <= 8,
    "Checks is a u8: widen it for a ninth rule"
);

impl Check {
    /// Parses a rule name (`--rule`).
    pub fn parse(s: &str) -> Result<Check, NotARule> {
        Check::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| NotARule {
                name: s.to_string(),
            })
    }

    /// Whether some rule of the policy asks for this check; `None` when it does, else
    /// the key that would (for messages).
    pub fn unconfigured(self, policy: &Policy) -> Option<&'static str> {
        (!self.configured(policy)).then_some(self.asked_by())
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}
