//! The audit: the traffic of each task checked against its service's rule.
//!
//! The rules themselves (which checks there are, what each admits, how bad and in what
//! words a finding is) live in [`super::rules`], one file each; this module judges:
//! it folds records into connections, decides who opened each, and counts what each
//! rule's findings hold.
//!
//! It reads what the join decided (see `enrich::orient`): each record's own ENI and
//! its owner, its peer and the peer's owner, and whether it came in (`inbound`).
//! Records of audited tasks are folded into connections, one per task ENI, owner,
//! protocol, own port, peer address, peer port and peer owner (an address that moved to
//! another task is another peer). Who opened each connection is decided once, from all
//! of its records over every file and window, by [`crate::initiator`], for every check
//! alike: a response to the task's own connection is never an ingress finding, and a
//! response to the peer's never an egress one.
//!
//! Records that no enabled check could make a finding of (the peer is on every list
//! that matters, nothing cleartext, no AWS address) are only counted: no connection
//! state is kept for them, so memory follows the suspicious traffic, not all of it.
//! State is mergeable ([`AuditState::merge`]), so inputs are folded in parallel and
//! reduced, with identical results for any thread count.
//!
//! Files: [`conn`](self) the state of one connection, `state` the fold (`add`,
//! `merge`), `finish` the verdicts and findings, `summary` the totals.

use arrow::record_batch::RecordBatch;

use super::rules::ingress::Ingress;
use super::rules::AuditRule;
use super::Policy;
use crate::aws_ranges::AwsRanges;
use crate::enrich::EniMap;

mod conn;
mod decide;
mod finish;
mod state;
mod summary;

pub use super::finding::{Direction, Finding, Severity, Text};
pub use super::rules::private_aws::unknown_words as aws_unknown_words;
pub use super::rules::{Check, Checks, Opened};
pub use decide::{Decider, Decision, Seen};
pub use finish::order;
pub use state::AuditState;
pub use summary::{AuditSummary, Counts};

/// The rule name of unexpected-ingress findings.
pub const UNEXPECTED_INGRESS: &str = Ingress::NAME;

/// The fixed setting of an audit: the policy, the map, the checks to run and AWS's
/// address ranges, if given.
pub struct Auditor<'a> {
    pub policy: &'a Policy,
    pub map: &'a EniMap,
    pub checks: Checks,
    pub aws_ranges: Option<&'a AwsRanges>,
}

impl<'a> Auditor<'a> {
    /// Every check, without AWS's address ranges.
    pub fn new(policy: &'a Policy, map: &'a EniMap) -> Auditor<'a> {
        Auditor {
            policy,
            map,
            checks: Checks::ALL,
            aws_ranges: None,
        }
    }
}

/// The flow-log columns the audit reads besides the join's (projection pushdown).
const COLUMNS: [&str; 7] = [
    "protocol",
    "srcport",
    "dstport",
    "tcp_flags",
    "action",
    "packets",
    "bytes",
];

impl Auditor<'_> {
    /// The flow-log columns the audit and its attribution read (projection pushdown),
    /// with each rule's own columns only when a rule of the policy asks for it (see
    /// [`AuditRule::COLUMNS`]: `encryption_status` for cleartext, `traffic_path` and the
    /// `pkt_*_aws_service` fields for private AWS access), so that audits without those
    /// rules do not decode them.
    pub fn projection(&self) -> crate::batch::Projection {
        let mut p: crate::batch::Projection = crate::enrich::join::INPUT_COLUMNS
            .iter()
            .chain(&COLUMNS)
            .map(|c| c.to_string())
            .collect();
        for c in Check::ALL {
            if self.checks.has(c) && c.configured(self.policy) {
                p.extend(c.columns().iter().map(|c| c.to_string()));
            }
        }
        p
    }
}

impl crate::fold::Fold for Auditor<'_> {
    type State = AuditState;
    fn state(&self) -> AuditState {
        AuditState::default()
    }
    fn add(&self, state: &mut AuditState, batch: &RecordBatch) {
        state.add(batch, self);
    }
    fn merge(&self, into: &mut AuditState, from: AuditState) {
        into.merge(from);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::enrich::load::parse_map;
    use crate::enrich::Enricher;
    use crate::parse::{decode_slice, DecoderOptions};
    use crate::policy::{CommandLineRules, RULE_LOOKUPS};

    const MAP: &str = "\
eni_id,kind,private_ip,task_arn,cluster,service,task_family,security_groups,subnet_id,vpc_id,valid_from,valid_to
eni-web,task,10.0.1.10,arn:aws:ecs:us-east-1:1:task/prod/web1,prod,web,web,sg-web,,,,
eni-api,task,10.0.2.20,arn:aws:ecs:us-east-1:1:task/prod/api1,prod,api,api,sg-api,,,,
";

    #[test]
    fn rule_lookup_is_once_per_service_not_per_record() {
        // Regression: the audit asked the policy for a task's rule on every record, by
        // a scan of every [[service]]: 5,000 rules made 200k records 20 times slower.
        let mut policy = String::from("[network]\nvpc_cidrs = [\"10.0.0.0/16\"]\n");
        for i in 0..5_000 {
            policy.push_str(&format!("[[service]]\nname = \"svc-{i}\"\n"));
        }
        policy.push_str(
            "[[service]]\nname = \"web\"\nports = [8080]\ningress_from_cidrs = [\"vpc\"]\n\
             [[service]]\nname = \"api\"\ncluster = \"prod\"\nports = [9090]\n\
             ingress_from_services = [\"web\"]\n",
        );
        let policy = Policy::parse("p.toml", &policy, &[], &CommandLineRules::default()).unwrap();
        let map = Arc::new(EniMap::from_facts(
            parse_map("map.csv", MAP.as_bytes()).unwrap().facts,
        ));
        let enricher = Enricher::new(map.clone(), &policy.vpc_cidrs);
        let auditor = Auditor::new(&policy, &map);
        // 500 connections from web to api (allowed) and 500 from the internet to web
        // (one finding), each logged by both ENIs or by web.
        let mut text = String::from(
            "version interface-id srcaddr dstaddr srcport dstport protocol packets bytes \
             start end action log-status tcp-flags\n",
        );
        for i in 0..500 {
            let t = 1_793_491_200 + i;
            let port = 40_000 + i;
            for eni in ["eni-web", "eni-api"] {
                text.push_str(&format!(
                    "5 {eni} 10.0.1.10 10.0.2.20 {port} 9090 6 3 300 {t} {t} ACCEPT OK 2\n"
                ));
            }
            text.push_str(&format!(
                "5 eni-web 198.51.100.7 10.0.1.10 {port} 8080 6 3 300 {t} {t} ACCEPT OK 2\n"
            ));
        }
        let decoded = decode_slice(
            text.as_bytes(),
            DecoderOptions {
                batch_size: 7,
                ..DecoderOptions::default()
            },
        );
        assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
        let mut state = AuditState::default();
        let before = RULE_LOOKUPS.with(|n| n.get());
        for b in &decoded.batches {
            state.add(&enricher.enrich(b).0, &auditor);
        }
        // Two services met, (web, prod) and (api, prod): two lookups for 1,500 records.
        assert_eq!(state.counts.on_tasks, 1_500);
        assert_eq!(RULE_LOOKUPS.with(|n| n.get()) - before, 2);
        let (findings, summary) = state.finish(&auditor);
        assert_eq!(summary.tasks_audited, 2);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, UNEXPECTED_INGRESS);
        assert_eq!(findings[0].peer_addr, "198.51.100.7");
        assert_eq!(findings[0].flows, 500);
    }
}
