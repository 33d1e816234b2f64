//! `unexpected-egress`: a task opened, or tried to open, a connection its egress lists
//! do not allow (whom a task may open connections to).
//!
//! Asked for by any `egress_to_*` key; with `egress_ports`, a connection to an admitted
//! peer is still a finding when the server's port is not one of them. A finding counts
//! the opener's records, task -> peer.

use super::{words, AuditRule, Facts, PeerView};
use crate::policy::finding::Finding;
use crate::policy::Rule;

pub struct Egress;

impl Egress {
    /// Whether the rule judges connections to admitted peers by their port too
    /// (`egress_ports`): then no peer's records are skipped as admitted.
    #[inline]
    pub fn judges_ports(rule: &Rule) -> bool {
        rule.egress.is_some() && rule.egress_ports.is_some()
    }
}

impl AuditRule for Egress {
    const NAME: &'static str = "unexpected-egress";
    const ASKED_BY: &'static str = "an egress_to_* list";
    const TITLE: &'static str = "Unexpected outbound connection";
    const FINDING_TYPES: &'static [&'static str] = &[
        "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
        "Unusual Behaviors/Network Flow",
    ];

    fn asks(rule: &Rule) -> bool {
        rule.egress.is_some()
    }

    #[inline]
    fn admits(rule: &Rule, peer: &PeerView) -> bool {
        rule.egress_admits(&peer.who)
    }

    /// "worker may open connections only to the VPC; its task connected to 203.0.113.9
    /// (an internet address) on port 443".
    fn reason(f: &Finding, facts: &Facts) -> String {
        let rule = facts
            .rule
            .map(|r| r.describe_egress(facts.map))
            .unwrap_or_default();
        format!(
            "{} {rule}; {}",
            words::service(f),
            words::what_happened(f, facts)
        )
    }
}
