//! ECS tasks as JSON: `aws ecs describe-tasks` output, and ECS task state change events
//! (EventBridge), whose `detail` is the same task shape. CloudWatch Logs' export of the
//! events (`aws logs filter-log-events` output) holds each event as a string in
//! `message`.
//!
//! A task's ENI is its attachment of type `ElasticNetworkInterface` (describe-tasks) or
//! `eni` (events), with details `networkInterfaceId`, `privateIPv4Address`,
//! `ipv6Address` and `subnetId`; its service is `group` `service:NAME` (`family:NAME`
//! for standalone and scheduled tasks: a task family and no service); it holds the ENI
//! from `createdAt` (else `startedAt`: image pulls and secrets use the ENI before the
//! start) until `stoppedAt`. Events of one task (PROVISIONING with no ENI id yet,
//! RUNNING, STOPPED) are folded into one task. A log event's `message` is unwrapped by
//! [`super::document`] and read here as an event of its own.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::sink::Sink;
use super::value::{address, BadAddress, Time};
use crate::enrich::merge::{SourceKind, TaskFact};

/// A task or an event that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TaskError {
    #[error("{0}: no taskArn")]
    NoTaskArn(String),
    #[error("{0}: stoppedAt is before createdAt")]
    StoppedBeforeCreated(String),
    #[error("{0}: an ECS Task State Change event without detail")]
    NoDetail(String),
    #[error("{at}: $.detail: {error}")]
    Detail {
        at: String,
        error: serde_json::Error,
    },
    #[error(transparent)]
    Address(#[from] BadAddress),
}

/// A task, as describe-tasks and events print it (only what the map needs).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct TaskJson {
    pub task_arn: Option<String>,
    pub cluster_arn: Option<String>,
    pub group: Option<String>,
    pub task_definition_arn: Option<String>,
    pub created_at: Time,
    pub started_at: Time,
    pub stopped_at: Time,
    pub attachments: Option<Vec<Attachment>>,
    pub containers: Option<Vec<Container>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Attachment {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    details: Option<Vec<NameValue>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameValue {
    name: Option<String>,
    value: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Container {
    network_interfaces: Option<Vec<ContainerNi>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ContainerNi {
    ipv6_address: Option<String>,
}

/// A `describe-tasks` failure.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Failure {
    arn: Option<String>,
    reason: Option<String>,
    detail: Option<String>,
}

/// The event types that are ENI attachments.
fn is_eni(kind: Option<&str>) -> bool {
    matches!(kind, Some("eni" | "ElasticNetworkInterface"))
}

/// The part of an ARN after `marker` (`cluster/prod` -> `prod`).
fn after(s: &str, marker: &str) -> String {
    match s.find(marker) {
        Some(i) => s[i + marker.len()..].to_string(),
        None => s.to_string(),
    }
}

fn task(
    sink: &mut Sink,
    t: TaskJson,
    source: SourceKind,
    at: &dyn Fn() -> String,
) -> Result<(), TaskError> {
    let Some(task_arn) = t.task_arn.filter(|a| !a.is_empty()) else {
        return Err(TaskError::NoTaskArn(at()));
    };
    let from = t.created_at.0.or(t.started_at.0);
    let to = t.stopped_at.0;
    if let (Some(f), Some(s)) = (from, to) {
        if s < f {
            return Err(TaskError::StoppedBeforeCreated(at()));
        }
    }
    let Some(att) = t
        .attachments
        .unwrap_or_default()
        .into_iter()
        .find(|a| is_eni(a.kind.as_deref()))
    else {
        sink.task_without_eni(&task_arn);
        return Ok(());
    };
    let details = att.details.unwrap_or_default();
    let detail = |key: &str| {
        details
            .iter()
            .find(|d| d.name.as_deref() == Some(key))
            .and_then(|d| d.value.as_ref()?.as_str())
            .filter(|s| !s.is_empty())
    };
    let mut addrs = Vec::new();
    for key in ["privateIPv4Address", "privateIPv6Address", "ipv6Address"] {
        if let Some(a) = detail(key) {
            let ip = address(a, &|| format!("{}.attachments.details", at()), key)?;
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    // The containers list the task ENI's IPv6 address, when it has one.
    for c in t.containers.unwrap_or_default() {
        for ni in c.network_interfaces.unwrap_or_default() {
            if let Some(a) = ni.ipv6_address.filter(|a| !a.is_empty()) {
                let ip = address(&a, &|| format!("{}.containers", at()), "ipv6Address")?;
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
            }
        }
    }
    let eni_id = detail("networkInterfaceId").map(String::from);
    if eni_id.is_none() && att.id.is_none() {
        sink.skip(
            "ENI attachments without networkInterfaceId or id skipped (a task still provisioning?)",
            at,
        );
        return Ok(());
    }
    let group = t.group.unwrap_or_default();
    let family = t
        .task_definition_arn
        .map(|a| {
            let f = after(&a, "task-definition/");
            f.split(':').next().unwrap_or(&f).to_string()
        })
        .or_else(|| group.strip_prefix("family:").map(String::from));
    sink.task(TaskFact {
        task_arn,
        cluster: t.cluster_arn.map(|a| after(&a, "cluster/")),
        service: group.strip_prefix("service:").map(String::from),
        task_family: family,
        eni_id,
        attachment_id: att.id.filter(|a| !a.is_empty()),
        addrs,
        subnet_id: detail("subnetId").map(String::from),
        from,
        to,
        source,
        origin: sink.origin(&at()),
    });
    Ok(())
}

/// One task of `describe-tasks` output.
pub(crate) fn describe_task(
    sink: &mut Sink,
    t: TaskJson,
    at: &dyn Fn() -> String,
) -> Result<(), TaskError> {
    task(sink, t, SourceKind::DescribeTasks, at)
}

/// One `describe-tasks` failure (`MISSING`: a task that stopped over an hour ago).
pub(crate) fn failure(
    sink: &mut Sink,
    f: Failure,
    at: &dyn Fn() -> String,
) -> Result<(), TaskError> {
    let reason = match (f.reason, f.detail) {
        (Some(r), Some(d)) => format!("{r} ({d})"),
        (r, d) => r.or(d).unwrap_or_else(|| "no reason given".into()),
    };
    let at = sink.origin(&at());
    sink.failure(f.arn.unwrap_or_else(|| "?".into()), reason, at);
    Ok(())
}

/// The `detail-type` of ECS task state change events.
pub(crate) const TASK_STATE_CHANGE: &str = "ECS Task State Change";

/// The detail of an ECS task state change event; `at` is its path.
pub(crate) fn task_event(sink: &mut Sink, t: TaskJson, at: &str) -> Result<(), TaskError> {
    sink.saw(SourceKind::Events);
    task(sink, t, SourceKind::Events, &|| at.to_string())
}

/// An EventBridge event: ECS task state changes are read, other types counted.
pub(crate) fn event(
    sink: &mut Sink,
    detail_type: &str,
    detail: Option<&RawValue>,
    at: &str,
) -> Result<(), TaskError> {
    sink.saw(SourceKind::Events);
    if detail_type != TASK_STATE_CHANGE {
        sink.skip(
            "EventBridge events of other types than ECS Task State Change skipped",
            || format!("{at} ({detail_type})"),
        );
        return Ok(());
    }
    let Some(detail) = detail else {
        return Err(TaskError::NoDetail(at.to_string()));
    };
    let t: TaskJson = serde_json::from_str(detail.get()).map_err(|error| TaskError::Detail {
        at: at.to_string(),
        error,
    })?;
    task(sink, t, SourceKind::Events, &|| format!("{at}: $.detail"))
}

/// A task on its own, as `jq .detail` or `aws ecs describe-tasks --query tasks` print
/// them; `at` is its path.
pub(crate) fn bare_task(sink: &mut Sink, t: TaskJson, at: &str) -> Result<(), TaskError> {
    sink.saw(SourceKind::Events);
    task(sink, t, SourceKind::Events, &|| at.to_string())
}
