//! `--format ocsf`: findings as OCSF 1.1.0 Detection Findings (class 2004 of the
//! Findings category), one JSON object a line, as Amazon Security Lake and the OCSF
//! form of Security Hub take them. They declare the `cloud` profile only, and carry
//! what it requires (`cloud`, with the provider, account and region).

use std::io::{self, Write};

use serde::Serialize;

use super::exchange::{cut, millis, protocol_text, Outgoing};
use crate::policy::audit::{Direction, Severity};

/// The OCSF version the findings follow.
pub const VERSION: &str = "1.1.0";
/// The Findings category, the Detection Finding class in it, and its Create activity.
pub const CATEGORY_UID: u32 = 2;
pub const CLASS_UID: u32 = CATEGORY_UID * 1000 + 4;
pub const ACTIVITY_CREATE: u32 = 1;
pub const TYPE_UID: u32 = CLASS_UID * 100 + ACTIVITY_CREATE;
/// The profiles the findings declare.
pub const PROFILES: [&str; 1] = ["cloud"];

/// One Detection Finding.
#[derive(Serialize)]
pub struct DetectionFinding {
    pub activity_id: u32,
    pub activity_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub class_uid: u32,
    pub class_name: &'static str,
    pub type_uid: u32,
    pub type_name: &'static str,
    pub severity_id: u8,
    pub severity: &'static str,
    pub status_id: u8,
    pub status: &'static str,
    /// The run's time (epoch milliseconds).
    pub time: i64,
    /// The first and last record of the finding (epoch milliseconds).
    pub start_time: i64,
    pub end_time: i64,
    pub message: String,
    pub metadata: Metadata,
    pub cloud: Cloud,
    pub finding_info: FindingInfo,
    pub resources: Vec<ResourceDetails>,
    pub evidences: Vec<Evidence>,
}

#[derive(Serialize)]
pub struct Metadata {
    pub version: &'static str,
    pub product: Product,
    pub profiles: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct Product {
    pub name: &'static str,
    pub vendor_name: &'static str,
    pub version: &'static str,
}

#[derive(Serialize)]
pub struct Cloud {
    pub provider: &'static str,
    pub region: String,
    pub account: Account,
}

#[derive(Serialize)]
pub struct Account {
    pub uid: String,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct FindingInfo {
    pub uid: String,
    pub title: String,
    pub desc: String,
    pub types: Vec<&'static str>,
    pub first_seen_time: i64,
    pub last_seen_time: i64,
    pub analytic: Analytic,
}

/// The rule that made the finding.
#[derive(Serialize)]
pub struct Analytic {
    pub name: &'static str,
    pub uid: String,
    pub type_id: u8,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
pub struct ResourceDetails {
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub region: String,
    pub cloud_partition: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

/// The traffic of the finding: its two sides where who opened it is known, the
/// connection, and its counts.
#[derive(Serialize)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint>,
    pub connection_info: ConnectionInfo,
    pub data: EvidenceData,
}

#[derive(Serialize, Default)]
pub struct Endpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svc_name: Option<String>,
}

#[derive(Serialize)]
pub struct ConnectionInfo {
    pub direction_id: u8,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_num: Option<i32>,
    pub protocol_name: String,
}

/// What OCSF has no attribute for: the peer, the ports and the counts.
#[derive(Serialize)]
pub struct EvidenceData {
    pub eni_id: String,
    pub peer_addr: Option<String>,
    pub peer_kind: Option<String>,
    pub ports: Vec<u16>,
    pub action: Option<&'static str>,
    pub flows: u64,
    pub records: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// OCSF's severity of ours: id and caption.
fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::High => (4, "High"),
        Severity::Medium => (3, "Medium"),
        Severity::Low => (2, "Low"),
    }
}

/// The task, its ENI and its service as resources; the ENI alone when no source names
/// the task.
fn resources(o: &Outgoing) -> Vec<ResourceDetails> {
    let r = |uid: String, name: Option<String>, kind, labels: Vec<String>| ResourceDetails {
        uid,
        name,
        kind,
        region: o.region.clone(),
        cloud_partition: o.partition(),
        labels,
    };
    let mut out = Vec::new();
    let task = o.task_arn();
    if let Some(task) = &task {
        let mut labels = Vec::new();
        if let Some(s) = &o.service {
            labels.push(format!("service:{s}"));
        }
        if let Some(c) = &o.cluster {
            labels.push(format!("cluster:{c}"));
        }
        if let Some(f) = &o.task_family {
            labels.push(format!("family:{f}"));
        }
        out.push(r(
            task.clone(),
            Some(crate::enrich::arn_name(task).to_string()),
            "AWS::ECS::Task",
            labels,
        ));
    }
    let labels = o
        .security_groups
        .iter()
        .map(|g| format!("security_group:{g}"));
    out.push(r(
        o.arn("ec2", &format!("network-interface/{}", o.eni_id)),
        Some(o.eni_id.clone()),
        "AWS::EC2::NetworkInterface",
        labels.collect(),
    ));
    if let (Some(_), Some(service), Some(arn)) = (task, &o.service, o.service_arn()) {
        out.push(r(
            arn,
            Some(service.clone()),
            "AWS::ECS::Service",
            Vec::new(),
        ));
    }
    out
}

/// The finding's evidence: the peer as the source of what it opened and the
/// destination of what the task opened; no sides when who opened it is not one side.
fn evidence(o: &Outgoing) -> Evidence {
    let port = match o.ports.as_slice() {
        [p] => Some(*p),
        _ => None,
    };
    let task = || Endpoint {
        ip: o.task_addrs.first().cloned(),
        interface_uid: Some(o.eni_id.clone()),
        svc_name: o.service.clone(),
        ..Endpoint::default()
    };
    let peer = || Endpoint {
        ip: o.peer_addr.clone(),
        svc_name: o.peer_service.clone(),
        ..Endpoint::default()
    };
    let (src, dst, direction_id, direction) = match o.direction {
        Some(Direction::In) => (Some(peer()), Some(task()), 1, "Inbound"),
        Some(Direction::Out) => (Some(task()), Some(peer()), 2, "Outbound"),
        None => (None, None, 0, "Unknown"),
    };
    let dst = dst.map(|d| Endpoint { port, ..d });
    Evidence {
        src_endpoint: src,
        dst_endpoint: dst,
        connection_info: ConnectionInfo {
            direction_id,
            direction,
            protocol_num: (o.protocol >= 0).then_some(o.protocol),
            protocol_name: crate::net::protocol_name(o.protocol)
                .map_or_else(|| protocol_text(o.protocol), String::from),
        },
        data: EvidenceData {
            eni_id: o.eni_id.clone(),
            peer_addr: o.peer_addr.clone(),
            peer_kind: o.peer_kind.clone(),
            ports: o.ports.clone(),
            action: o.action,
            flows: o.flows,
            records: o.records,
            packets: o.packets,
            bytes: o.bytes,
        },
    }
}

/// One finding as a Detection Finding; `now` is the run's time (unix seconds).
pub fn finding(o: &Outgoing, now: i64) -> DetectionFinding {
    let (severity_id, severity) = severity(o.severity);
    let title = cut(&o.title_text(), 256);
    DetectionFinding {
        activity_id: ACTIVITY_CREATE,
        activity_name: "Create",
        category_uid: CATEGORY_UID,
        category_name: "Findings",
        class_uid: CLASS_UID,
        class_name: "Detection Finding",
        type_uid: TYPE_UID,
        type_name: "Detection Finding: Create",
        severity_id,
        severity,
        status_id: 1,
        status: "New",
        time: millis(now),
        start_time: millis(o.first_seen),
        end_time: millis(o.last_seen),
        message: title.clone(),
        metadata: Metadata {
            version: VERSION,
            product: Product {
                name: "vpcflow",
                vendor_name: "vpcflow",
                version: env!("CARGO_PKG_VERSION"),
            },
            profiles: PROFILES.to_vec(),
        },
        cloud: Cloud {
            provider: "AWS",
            region: o.region.clone(),
            account: Account {
                uid: o.account.clone(),
                type_id: 10,
                kind: "AWS Account",
            },
        },
        finding_info: FindingInfo {
            uid: o.uid(),
            title,
            desc: o.reason.clone(),
            types: o.types.to_vec(),
            first_seen_time: millis(o.first_seen),
            last_seen_time: millis(o.last_seen),
            analytic: Analytic {
                name: o.name,
                uid: format!("vpcflow/{}", o.name),
                type_id: 1,
                kind: "Rule",
            },
        },
        resources: resources(o),
        evidences: vec![evidence(o)],
    }
}

/// Writes one Detection Finding a line.
pub fn write_ocsf(findings: &[Outgoing], now: i64, mut out: impl Write) -> io::Result<()> {
    for o in findings {
        serde_json::to_writer(&mut out, &finding(o, now))?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
