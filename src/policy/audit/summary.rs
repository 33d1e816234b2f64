//! The totals of an audit: record counts ([`Counts`], mergeable) and the summary of a
//! finished audit ([`AuditSummary`]).

use crate::policy::rules::{Check, Checks};

/// Record counts of an audit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records seen.
    pub records: u64,
    /// Records without an `interface_id` (a layout without it): nobody's records.
    pub without_interface: u64,
    /// Records of a layout without `srcaddr` or `dstaddr`: nothing says who talked, and
    /// no rule can judge them.
    pub without_addresses: u64,
    /// Records logged on task ENIs.
    pub on_tasks: u64,
    /// Records of audited tasks whose direction could not be decided.
    pub undirected: u64,
    /// Records of audited tasks that no enabled check could make a finding of: the
    /// policy admits their peer, and nothing else applies.
    pub admitted: u64,
    /// Records between a `private_aws_access` task and an internet address that
    /// nothing could say was AWS's or not: the layout has no `pkt-*-aws-service`
    /// field and no `--aws-ip-ranges` was given.
    pub aws_unknown: u64,
    /// Records on task ENIs whose task no map source names (CloudTrail or a snapshot
    /// of the ENI alone): judged by `[defaults]`, which needs no service.
    pub unnamed: u64,
    /// Of those, records no rule could judge: the policy's rules are by service, and
    /// nothing names the task's service (there is no `[defaults]`).
    pub unnamed_unjudged: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.records += o.records;
        self.without_interface += o.without_interface;
        self.without_addresses += o.without_addresses;
        self.on_tasks += o.on_tasks;
        self.undirected += o.undirected;
        self.admitted += o.admitted;
        self.aws_unknown += o.aws_unknown;
        self.unnamed += o.unnamed;
        self.unnamed_unjudged += o.unnamed_unjudged;
    }
}

/// Totals of an audit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditSummary {
    /// Tasks whose traffic was audited.
    pub tasks_audited: u64,
    /// Tasks of services without a rule.
    pub tasks_not_audited: u64,
    /// Of those, task ENIs whose task no source names.
    pub unnamed_not_audited: u64,
    /// Tasks with a rule none of whose records could be oriented.
    pub tasks_undirected: u64,
    pub services_not_audited: Vec<String>,
    pub counts: Counts,
    /// Connections of audited tasks that some check had to judge.
    pub connections: u64,
    pub opened_by_peers: u64,
    pub opened_by_tasks: u64,
    /// Connections for which no evidence said who opened them, where it mattered: no
    /// ingress, egress or port-evidence cleartext finding is made of them.
    pub undecided: u64,
    /// About how many bytes the state of the audit's connections took (after merging
    /// the workers').
    pub state_bytes: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// Findings per rule, in the order of [`Check::ALL`].
    pub by_rule: [u64; Check::COUNT],
    /// The checks that ran.
    pub checks: Checks,
}

impl AuditSummary {
    pub fn findings(&self) -> u64 {
        self.high + self.medium + self.low
    }

    /// The findings of each rule that ran: "unexpected-ingress 4, cleartext 0".
    pub fn per_rule(&self) -> String {
        Check::ALL
            .iter()
            .zip(self.by_rule)
            .filter(|(c, _)| self.checks.has(**c))
            .map(|(c, n)| format!("{} {n}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
