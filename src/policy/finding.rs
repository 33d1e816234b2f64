//! What an audit reports: a [`Finding`] (one task ENI's traffic with one peer that breaks
//! one rule) and its [`Severity`]. The rules write a finding's words
//! ([`super::rules`]); the audit decides its numbers ([`super::audit`]).

use serde::Serialize;

/// A string of findings, shared by the findings that name it.
pub type Text = std::sync::Arc<str>;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Accepted traffic with the internet that the policy forbids.
    High,
    /// Accepted traffic inside the VPC that the policy forbids, and AWS API traffic
    /// that bypasses the VPC endpoints.
    Medium,
    /// Rejected attempts.
    Low,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }
}

/// Which way the connections of a finding went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The peer opened them (into the task).
    In,
    /// The task opened them.
    Out,
}

/// One finding: a task ENI's traffic with one peer, of one protocol and action, that
/// breaks one rule of the policy.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub eni_id: Text,
    pub task_arn: Option<Text>,
    pub service: Option<Text>,
    pub cluster: Option<Text>,
    pub peer_addr: String,
    pub peer_kind: Option<Text>,
    pub peer_service: Option<Text>,
    pub peer_eni_id: Option<Text>,
    pub peer_task_arn: Option<Text>,
    /// The server ports of its connections, sorted (the task's for connections the
    /// peer opened, the peer's for the task's own).
    pub ports: Vec<u16>,
    pub protocol: i32,
    pub action: &'static str,
    /// Distinct connections (5-tuples).
    pub flows: u64,
    /// The records counted: for unexpected-ingress and unexpected-egress the opener's
    /// (peer -> task, task -> peer); for the other rules every record that qualifies,
    /// either direction.
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
    #[serde(serialize_with = "as_rfc3339")]
    pub first_seen: i64,
    #[serde(serialize_with = "as_rfc3339")]
    pub last_seen: i64,
    pub reason: String,
    /// With `audit --security-groups`: the security group rule that admitted it
    /// (`Some(None)` when none did, as for REJECTed traffic); absent without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sg_rule: Option<Option<String>>,
    /// Who opened its connections: the peer ([`Direction::In`]) or the task
    /// ([`Direction::Out`]); `None` when they differ or nothing decided it.
    #[serde(skip)]
    pub direction: Option<Direction>,
}

fn as_rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::rfc3339(*t))
}
