//! `privatelink-bypass`: a task of a `private_aws_access` service reached an AWS
//! service over the internet (AWS APIs through VPC endpoints only).
//!
//! An internet address is an AWS service's by the record's `pkt-*-aws-service` field
//! (v5 and later) or by AWS's `ip-ranges.json` (`--aws-ip-ranges`). Only connections the
//! task opened count (an AWS health check of the task's listener reaches the task, not
//! the other way), and none that went through a gateway endpoint.

use super::{words, AuditRule, Facts, PeerView};
use crate::enrich::PeerKind;
use crate::policy::finding::{Finding, Severity};
use crate::policy::Rule;

/// Evidence (bits of [`Facts::evidence`]): the address was known to be AWS's by the
/// flow log's `pkt-*-aws-service` field.
pub const BY_FIELD: u8 = 1;
/// Evidence: the address was known to be AWS's by AWS's `ip-ranges.json`.
pub const BY_RANGES: u8 = 2;

pub struct PrivatelinkBypass;

impl AuditRule for PrivatelinkBypass {
    const NAME: &'static str = "privatelink-bypass";
    const ASKED_BY: &'static str = "private_aws_access = true";
    const TITLE: &'static str = "AWS service reached over the internet";
    const FINDING_TYPES: &'static [&'static str] =
        &["Software and Configuration Checks/AWS Security Best Practices/Network Reachability"];
    const COLUMNS: &'static [&'static str] =
        &["traffic_path", "pkt_src_aws_service", "pkt_dst_aws_service"];

    fn asks(rule: &Rule) -> bool {
        rule.private_aws_access
    }

    #[inline]
    fn admits(rule: &Rule, peer: &PeerView) -> bool {
        !rule.private_aws_access || !peer.is(PeerKind::Internet)
    }

    /// Rejected attempts are low; the rest medium, internet or not: AWS's own addresses
    /// are cost and exposure, not a stranger.
    fn severity(action: &str, _: Option<&str>) -> Severity {
        if action == "REJECT" {
            Severity::Low
        } else {
            Severity::Medium
        }
    }

    /// "payments must reach AWS services only through VPC endpoints (PrivateLink); its
    /// task reached 52.94.1.1 (s3, by ...) on port 443 over the internet instead".
    fn reason(f: &Finding, facts: &Facts) -> String {
        let aws = facts.aws_service.unwrap_or("AWS");
        let by = if facts.evidence & BY_FIELD != 0 {
            "by the flow log's pkt-*-aws-service field"
        } else {
            "by AWS's ip-ranges.json"
        };
        format!(
            "{} must reach AWS services only through VPC endpoints (PrivateLink); its task \
             reached {} ({aws}, {by}){} over the internet instead",
            words::service(f),
            f.peer_addr,
            words::on_ports(&f.ports)
        )
    }
}

/// Why records of `private_aws_access` tasks could not be judged, in words (for the
/// summary and the error of an audit that found nothing else).
pub fn unknown_words(records: u64) -> String {
    format!(
        "{records} record{} between tasks of private_aws_access services and internet \
         addresses, and nothing says whether those addresses are AWS's: the flow log has no \
         pkt-src-aws-service/pkt-dst-aws-service fields (v5 and later); give AWS's \
         ip-ranges.json with --aws-ip-ranges",
        if records == 1 { "" } else { "s" }
    )
}
