//! What the page is made of ([`ReportInput`]) and how much of each part it shows
//! ([`Limits`]): the types every part of the page reads, apart from the parts.

use super::traffic::TrafficState;
use crate::enrich::EniMap;
use crate::policy::audit::{AuditSummary, Finding};
use crate::policy::Policy;
use crate::scan::ScanStats;

/// How much of each part the page shows; what does not fit is counted on the page.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rows of the findings table (the worst first when there are more).
    pub findings: usize,
    /// Services drawn with their charts (those with findings first, then by bytes).
    pub services: usize,
    /// Peers drawn around a service (those with findings first, then by bytes).
    pub peers: usize,
    /// Ports of the rejected-traffic chart.
    pub ports: usize,
    /// Time buckets of a timeline, at most.
    pub points: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            findings: 1_000,
            services: 40,
            peers: 16,
            ports: 20,
            points: 240,
        }
    }
}

/// What the page is made of.
pub struct ReportInput<'a> {
    /// The findings, in the audit's order.
    pub findings: &'a [Finding],
    pub summary: &'a AuditSummary,
    pub traffic: &'a TrafficState,
    pub map: &'a EniMap,
    pub policy: &'a Policy,
    /// The policy's file name, for the page.
    pub policy_name: &'a str,
    pub scan: &'a ScanStats,
    /// What the reader must know before trusting the page: damaged inputs, a check that
    /// could not judge.
    pub warnings: &'a [String],
    /// The command line that made the page.
    pub command: &'a str,
    /// When it was made (unix seconds).
    pub generated: i64,
    pub limits: Limits,
}
