//! `new-peer`: a task exchanged accepted traffic with a peer that no list of its rule in
//! the baseline policy admits (`audit --baseline learned.toml`): what is new since the
//! window the baseline was learned from, the model GuardDuty uses for network anomalies.
//!
//! The baseline's lists are read both ways (a peer its `ingress_from_*` or `egress_to_*`
//! lists name is known, whoever opened the connection), ports aside. REJECTed records are
//! not new peers: the baseline never admits them, so every scanner would be new every day.
//! A finding counts the accepted records with the peer, either direction; internet peers
//! are high, every other medium.

use super::{words, AuditRule, Facts, PeerView};
use crate::enrich::PeerKind;
use crate::policy::finding::{Finding, Severity};
use crate::policy::Rule;

pub struct NewPeer;

impl AuditRule for NewPeer {
    const NAME: &'static str = "new-peer";
    const ASKED_BY: &'static str = "--baseline POLICY";
    const TITLE: &'static str = "New peer";
    const FINDING_TYPES: &'static [&'static str] = &["Unusual Behaviors/Network Flow"];

    fn asks(rule: &Rule) -> bool {
        rule.baseline.is_some()
    }

    #[inline]
    fn admits(rule: &Rule, peer: &PeerView) -> bool {
        rule.baseline
            .as_ref()
            .is_none_or(|b| b.lists_admit(&peer.who))
    }

    /// Internet peers high, every other medium.
    fn severity(_action: &str, peer_kind: Option<&str>) -> Severity {
        if peer_kind == Some(PeerKind::Internet.as_str()) {
            Severity::High
        } else {
            Severity::Medium
        }
    }

    /// "web exchanged traffic with a peer its baseline does not know: its task connected
    /// to 198.51.100.7 (an internet address) on port 443; its baseline ...".
    fn reason(f: &Finding, facts: &Facts) -> String {
        let baseline = match facts.rule.and_then(|r| r.baseline.as_deref()) {
            Some(b) if b.ingress.is_empty() && b.egress.as_ref().is_none_or(|e| e.is_empty()) => {
                "its baseline has no rule for it, or one that admits no one".to_string()
            }
            Some(b) => {
                let mut lists = Vec::new();
                if !b.ingress.is_empty() {
                    lists.push(format!(
                        "admits inbound only {}",
                        b.ingress.describe(facts.map)
                    ));
                }
                if let Some(e) = b.egress.as_ref().filter(|e| !e.is_empty()) {
                    lists.push(format!("reaches only {}", e.describe(facts.map)));
                }
                format!("its baseline {}", lists.join(" and "))
            }
            None => String::new(),
        };
        format!(
            "{} has a peer its baseline does not know: {}; {baseline}",
            words::service(f),
            words::what_happened(f, facts)
        )
    }
}
