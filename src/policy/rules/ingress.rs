//! `unexpected-ingress`: a peer the policy does not admit opened, or tried to open, a
//! connection to a task (who may open connections to a task).
//!
//! Every rule has an ingress list (an empty one admits no one), so every audited task
//! is judged by it. A finding counts the opener's records, peer -> task.

use super::{words, AuditRule, Facts, PeerView};
use crate::policy::finding::Finding;
use crate::policy::{Policy, Rule};

pub struct Ingress;

impl AuditRule for Ingress {
    const NAME: &'static str = "unexpected-ingress";
    const ASKED_BY: &'static str = "";
    const TITLE: &'static str = "Unexpected inbound connection";
    const FINDING_TYPES: &'static [&'static str] = &[
        "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
        "Unusual Behaviors/Network Flow",
    ];

    fn asks(_: &Rule) -> bool {
        true
    }

    fn configured(_: &Policy) -> bool {
        true
    }

    #[inline]
    fn admits(rule: &Rule, peer: &PeerView) -> bool {
        rule.admits(&peer.who)
    }

    /// "198.51.100.7 is an internet address and connected to port 8080; web admits only
    /// the VPC".
    fn reason(f: &Finding, facts: &Facts) -> String {
        let service = words::service(f);
        let rule = facts
            .rule
            .map(|r| r.describe(facts.map))
            .unwrap_or_default();
        let who = format!("{} is {}", f.peer_addr, words::peer(f, facts));
        let ports = words::ports(&f.ports);
        if f.action == "REJECT" {
            format!("{who} and tried to connect to{ports}, rejected; {service} {rule}")
        } else {
            format!("{who} and connected to{ports}; {service} {rule}")
        }
    }
}
