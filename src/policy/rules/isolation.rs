//! `isolation`: a task of an `isolated` service exchanged traffic with a peer outside
//! its cluster, its VPC endpoints and its lists (strict isolation).
//!
//! A finding counts every record with such a peer, either direction.

use super::{words, AuditRule, Facts, PeerView};
use crate::enrich::PeerKind;
use crate::policy::finding::Finding;
use crate::policy::{same_cluster, Rule};

pub struct Isolation;

impl AuditRule for Isolation {
    const NAME: &'static str = "isolation";
    const ASKED_BY: &'static str = "isolated = true";
    const TITLE: &'static str = "Isolated service reached";
    const FINDING_TYPES: &'static [&'static str] = &[
        "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
        "Unusual Behaviors/Network Flow",
    ];

    fn asks(rule: &Rule) -> bool {
        rule.isolated
    }

    /// A task of its own cluster, a VPC endpoint, or a peer one of its lists admits
    /// (either direction).
    #[inline]
    fn admits(rule: &Rule, peer: &PeerView) -> bool {
        let own_cluster = peer.is(PeerKind::Task)
            && peer
                .cluster
                .zip(peer.own_cluster)
                .is_some_and(|(a, b)| same_cluster(a, b));
        !rule.isolated || own_cluster || peer.is(PeerKind::Vpce) || rule.lists_admit(&peer.who)
    }

    /// "payments is isolated and may talk only to tasks of its cluster pci and VPC
    /// endpoints; its task exchanged traffic with ...".
    fn reason(f: &Finding, facts: &Facts) -> String {
        let lists = match facts.rule {
            Some(r)
                if !r.ingress.is_empty() || r.egress.as_ref().is_some_and(|e| !e.is_empty()) =>
            {
                ", VPC endpoints and the peers its lists allow"
            }
            _ => " and VPC endpoints",
        };
        let own = match f.cluster.as_deref() {
            Some(c) => format!("tasks of its cluster {}", crate::enrich::arn_name(c)),
            None => "tasks of its own cluster".to_string(),
        };
        format!(
            "{} is isolated and may talk only to {own}{lists}; {}",
            words::service(f),
            words::what_happened(f, facts)
        )
    }
}
