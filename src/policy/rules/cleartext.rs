//! `cleartext`: a task of a `require_encryption` service took part in a cleartext
//! connection (encryption in transit).
//!
//! A record is cleartext when the flow log marks it not encrypted (`encryption-status`
//! 0) or, where the status is missing, when the connection's server port is one of
//! `[network] cleartext_ports`. A finding counts every such record, either direction.

use super::{words, AuditRule, Facts, PeerView};
use crate::policy::finding::Finding;
use crate::policy::Rule;

/// Evidence (bits of [`Facts::evidence`]): `encryption_status` 0.
pub const BY_STATUS: u8 = 1;
/// Evidence: a cleartext server port where the status is absent.
pub const BY_PORT: u8 = 2;

pub struct Cleartext;

impl AuditRule for Cleartext {
    const NAME: &'static str = "cleartext";
    const ASKED_BY: &'static str = "require_encryption = true";
    const TITLE: &'static str = "Unencrypted traffic";
    const FINDING_TYPES: &'static [&'static str] = &[
        "Software and Configuration Checks/AWS Security Best Practices",
        "Effects/Data Exposure",
    ];
    const COLUMNS: &'static [&'static str] = &["encryption_status"];

    fn asks(rule: &Rule) -> bool {
        rule.require_encryption
    }

    #[inline]
    fn admits(rule: &Rule, _: &PeerView) -> bool {
        !rule.require_encryption
    }

    /// "api requires encryption in transit; ... and the flow log marks it not encrypted
    /// (encryption-status 0)".
    fn reason(f: &Finding, facts: &Facts) -> String {
        let how = match (
            facts.evidence & BY_STATUS != 0,
            facts.evidence & BY_PORT != 0,
        ) {
            (true, false) => " and the flow log marks it not encrypted (encryption-status 0)",
            (false, _) => {
                ", a cleartext port, and the flow log does not say whether it was encrypted \
                 (no encryption-status)"
            }
            (true, true) => {
                " and the flow log marks it not encrypted (encryption-status 0; where the \
                 status is missing, the cleartext port decides)"
            }
        };
        format!(
            "{} requires encryption in transit; {}{how}",
            words::service(f),
            words::what_happened(f, facts)
        )
    }
}
