//! `--format asff`: findings in the AWS Security Finding Format, as JSON Lines of
//! `{"Findings": [...]}` documents that `aws securityhub batch-import-findings
//! --cli-input-json` takes: at most [`PER_DOCUMENT`] findings each, one account and
//! region each (a product ARN is an account's and a region's), in the order of the
//! findings given.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::exchange::{cut, protocol_text, Outgoing};
use crate::policy::audit::{Direction, Severity};
use crate::time::rfc3339;

/// The most findings `BatchImportFindings` takes in one call.
pub const PER_DOCUMENT: usize = 100;
/// The version of the format.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// ASFF's limits on `Title` and `Description`, in characters.
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 1024;
/// The most characters of a `ProductFields` value.
pub const PRODUCT_FIELD_MAX: usize = 2048;

/// One line of the output: a `BatchImportFindings` request.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Document {
    pub findings: Vec<AsffFinding>,
}

/// One finding in ASFF.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffFinding {
    pub schema_version: &'static str,
    pub id: String,
    pub product_arn: String,
    pub product_name: &'static str,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<&'static str>,
    pub first_observed_at: String,
    pub last_observed_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub severity: AsffSeverity,
    pub title: String,
    pub description: String,
    pub product_fields: BTreeMap<String, String>,
    pub resources: Vec<Resource>,
    pub network: Network,
    pub record_state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffSeverity {
    /// `LOW`, `MEDIUM`, `HIGH`.
    pub label: &'static str,
    /// 0 to 100, the lower bound of the label's range.
    pub normalized: u8,
    /// The severity as vpcflow says it (`high`).
    pub original: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub id: String,
    pub partition: &'static str,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_ecs_task: Option<EcsTask>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_ec2_network_interface: Option<NetworkInterface>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_ecs_service: Option<EcsService>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EcsTask {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// `service:<name>`, as ECS names the group of a service's tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub network_interface_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<SecurityGroup>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_ip_addresses: Vec<PrivateIp>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_v6_addresses: Vec<Ipv6>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub group_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrivateIp {
    pub private_ip_address: String,
}

#[derive(Serialize)]
pub struct Ipv6 {
    #[serde(rename = "IpV6Address")]
    pub address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EcsService {
    pub service_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_arn: Option<String>,
}

/// The traffic: who opened it (where known), the protocol, both sides.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'static str>,
    pub protocol: String,
    #[serde(rename = "SourceIpV4", skip_serializing_if = "Option::is_none")]
    pub source_ipv4: Option<String>,
    #[serde(rename = "SourceIpV6", skip_serializing_if = "Option::is_none")]
    pub source_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(rename = "DestinationIpV4", skip_serializing_if = "Option::is_none")]
    pub destination_ipv4: Option<String>,
    #[serde(rename = "DestinationIpV6", skip_serializing_if = "Option::is_none")]
    pub destination_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
}

impl Network {
    /// Sets one side's address in its family's field.
    fn side(v4: &mut Option<String>, v6: &mut Option<String>, addr: &str) {
        if addr.contains(':') {
            *v6 = Some(addr.to_string());
        } else {
            *v4 = Some(addr.to_string());
        }
    }
}

/// The label, normalized score and original words of a severity.
fn severity(s: Severity) -> AsffSeverity {
    let (label, normalized) = match s {
        Severity::High => ("HIGH", 70),
        Severity::Medium => ("MEDIUM", 40),
        Severity::Low => ("LOW", 1),
    };
    AsffSeverity {
        label,
        normalized,
        original: s.as_str(),
    }
}

/// The finding's resources: its task, the task's ENI and its service; the ENI alone
/// when no source names the task.
fn resources(o: &Outgoing) -> Vec<Resource> {
    let resource = |kind, id, details| Resource {
        kind,
        id,
        partition: o.partition(),
        region: o.region.clone(),
        details: Some(details),
    };
    let mut out = Vec::new();
    let task = o.task_arn();
    if let Some(id) = &task {
        out.push(resource(
            "AwsEcsTask",
            id.clone(),
            Details {
                aws_ecs_task: Some(EcsTask {
                    cluster_arn: o.cluster_arn(),
                    group: o.service.as_ref().map(|s| format!("service:{s}")),
                }),
                ..Details::default()
            },
        ));
    }
    let (v4, v6): (Vec<&String>, Vec<&String>) =
        o.task_addrs.iter().partition(|a| !a.contains(':'));
    out.push(resource(
        "AwsEc2NetworkInterface",
        o.arn("ec2", &format!("network-interface/{}", o.eni_id)),
        Details {
            aws_ec2_network_interface: Some(NetworkInterface {
                network_interface_id: o.eni_id.clone(),
                security_groups: o
                    .security_groups
                    .iter()
                    .map(|g| SecurityGroup {
                        group_id: g.clone(),
                    })
                    .collect(),
                private_ip_addresses: v4
                    .into_iter()
                    .map(|a| PrivateIp {
                        private_ip_address: a.clone(),
                    })
                    .collect(),
                ip_v6_addresses: v6
                    .into_iter()
                    .map(|a| Ipv6 { address: a.clone() })
                    .collect(),
            }),
            ..Details::default()
        },
    ));
    if let (Some(_), Some(service), Some(arn)) = (task, &o.service, o.service_arn()) {
        out.push(resource(
            "AwsEcsService",
            arn.clone(),
            Details {
                aws_ecs_service: Some(EcsService {
                    service_name: service.clone(),
                    cluster: o.cluster_arn(),
                    service_arn: Some(arn),
                }),
                ..Details::default()
            },
        ));
    }
    out
}

/// The traffic: the peer as the source of what it opened (IN) and the destination of
/// what the task opened (OUT), the task's address on the other side where the map
/// gives one, and the server port where there is one. When who opened it is not one
/// side for every connection, no direction and no side is claimed.
fn network(o: &Outgoing) -> Network {
    let mut n = Network {
        protocol: protocol_text(o.protocol),
        ..Network::default()
    };
    let port = match o.ports.as_slice() {
        [p] => Some(*p),
        _ => None,
    };
    let task_addr = o.task_addrs.first().map(String::as_str);
    let Some(dir) = o.direction else {
        return n;
    };
    let peer = o.peer_addr.as_deref();
    let (src, dst) = match dir {
        Direction::In => {
            n.direction = Some("IN");
            (peer, task_addr)
        }
        Direction::Out => {
            n.direction = Some("OUT");
            (task_addr, peer)
        }
    };
    if let Some(a) = src {
        Network::side(&mut n.source_ipv4, &mut n.source_ipv6, a);
    }
    if let Some(a) = dst {
        Network::side(&mut n.destination_ipv4, &mut n.destination_ipv6, a);
    }
    n.destination_port = port;
    n
}

/// What the finding holds besides ASFF's own fields, as `ProductFields`
/// (`vpcflow/<field>`), each value at most [`PRODUCT_FIELD_MAX`] characters.
fn product_fields(o: &Outgoing) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(format!("vpcflow/{k}"), cut(&v, PRODUCT_FIELD_MAX));
        }
    };
    put("rule", Some(o.name.to_string()));
    put("eni_id", Some(o.eni_id.clone()));
    put("task_arn", o.task_arn.clone());
    put("service", o.service.clone());
    put("cluster", o.cluster.clone());
    put("peer_addr", o.peer_addr.clone());
    put("peer_kind", o.peer_kind.clone());
    put("peer_service", o.peer_service.clone());
    put("protocol", Some(o.protocol.to_string()));
    put("ports", Some(o.ports_text(PRODUCT_FIELD_MAX)));
    put("action", o.action.map(String::from));
    put("flows", Some(o.flows.to_string()));
    put("records", Some(o.records.to_string()));
    put("packets", Some(o.packets.to_string()));
    put("bytes", Some(o.bytes.to_string()));
    m
}

/// One finding in ASFF; `now` is the run's time (unix seconds).
pub fn finding(o: &Outgoing, now: i64) -> AsffFinding {
    AsffFinding {
        schema_version: SCHEMA_VERSION,
        id: o.uid(),
        product_arn: format!(
            "arn:{}:securityhub:{}:{}:product/{}/default",
            o.partition(),
            o.region,
            o.account,
            o.account
        ),
        product_name: "vpcflow",
        generator_id: format!("vpcflow/{}", o.name),
        aws_account_id: o.account.clone(),
        types: o.types.to_vec(),
        first_observed_at: rfc3339(o.first_seen),
        last_observed_at: rfc3339(o.last_seen),
        created_at: rfc3339(now),
        updated_at: rfc3339(now),
        severity: severity(o.severity),
        title: cut(&o.title_text(), TITLE_MAX),
        description: cut(&o.reason, DESCRIPTION_MAX),
        product_fields: product_fields(o),
        resources: resources(o),
        network: network(o),
        record_state: "ACTIVE",
    }
}

/// The documents of `findings`: one account and region each, at most
/// [`PER_DOCUMENT`] findings each; places in the order they first appear, findings in
/// their given order.
pub fn documents(findings: &[Outgoing], now: i64) -> Vec<Document> {
    let mut places: Vec<(&str, &str)> = Vec::new();
    for o in findings {
        let p = (o.account.as_str(), o.region.as_str());
        if !places.contains(&p) {
            places.push(p);
        }
    }
    let mut docs = Vec::new();
    for (account, region) in places {
        let mine: Vec<&Outgoing> = findings
            .iter()
            .filter(|o| o.account == account && o.region == region)
            .collect();
        for chunk in mine.chunks(PER_DOCUMENT) {
            docs.push(Document {
                findings: chunk.iter().map(|o| finding(o, now)).collect(),
            });
        }
    }
    docs
}

/// Writes the documents of `findings`, one per line; nothing when there are none.
pub fn write_asff(findings: &[Outgoing], now: i64, mut out: impl Write) -> io::Result<()> {
    for doc in documents(findings, now) {
        serde_json::to_writer(&mut out, &doc)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scan of every port, with a reason far past ASFF's limits.
    pub(crate) fn scan() -> Outgoing {
        Outgoing {
            name: "unexpected-ingress",
            title: "Unexpected inbound connection",
            types: &["Unusual Behaviors/Network Flow"],
            severity: Severity::Low,
            reason: "ж".repeat(5_000),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            eni_id: "eni-0123456789abcdef0".into(),
            task_arn: Some("arn:aws:ecs:us-east-1:123456789012:task/prod/0abc".into()),
            service: Some("web".repeat(200)),
            cluster: Some("prod".into()),
            task_family: None,
            security_groups: vec!["sg-1".into()],
            task_addrs: vec!["10.0.1.10".into(), "2600:1f18::10".into()],
            peer_addr: Some("2001:db8::7".into()),
            peer_kind: Some("internet".into()),
            peer_service: None,
            ports: (1..=u16::MAX).collect(),
            protocol: 6,
            action: Some("REJECT"),
            direction: Some(Direction::In),
            flows: 65_535,
            records: 65_535,
            packets: 65_535,
            bytes: 40 * 65_535,
            first_seen: 1_793_491_200,
            last_seen: 1_793_494_800,
        }
    }

    #[test]
    fn a_scan_of_every_port_stays_within_asffs_limits() {
        let f = finding(&scan(), 1_793_500_000);
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.len() < 240 * 1024, "{} bytes", json.len());
        assert!(f.title.chars().count() <= TITLE_MAX);
        assert_eq!(f.description.chars().count(), DESCRIPTION_MAX);
        for v in f.product_fields.values() {
            assert!(v.chars().count() <= PRODUCT_FIELD_MAX);
        }
        let ports = &f.product_fields["vpcflow/ports"];
        assert!(ports.starts_with("1,2,3,"), "{ports}");
        assert!(ports.ends_with(" … (65535 ports)"), "{ports}");
        // Many ports: no one destination port is claimed.
        assert_eq!(f.network.destination_port, None);
        assert_eq!(f.network.source_ipv6.as_deref(), Some("2001:db8::7"));
        assert_eq!(f.network.destination_ipv4.as_deref(), Some("10.0.1.10"));
        assert_eq!(f.network.direction, Some("IN"));
        assert_eq!(f.severity.label, "LOW");
    }

    #[test]
    fn documents_hold_one_place_and_at_most_a_hundred_findings() {
        let mut all = Vec::new();
        for i in 0..250 {
            let mut o = scan();
            o.ports = vec![443];
            o.eni_id = format!("eni-{i}");
            o.region = if i % 2 == 0 {
                "us-east-1"
            } else {
                "cn-north-1"
            }
            .into();
            all.push(o);
        }
        let docs = documents(&all, 0);
        let sizes: Vec<usize> = docs.iter().map(|d| d.findings.len()).collect();
        assert_eq!(sizes, [100, 25, 100, 25]);
        for d in &docs {
            let arn = &d.findings[0].product_arn;
            assert!(d.findings.iter().all(|f| &f.product_arn == arn));
        }
        assert_eq!(
            docs[2].findings[0].product_arn,
            "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default"
        );
        assert_eq!(docs[0].findings[0].network.destination_port, Some(443));
    }

    #[test]
    fn a_finding_of_unknown_direction_claims_no_side() {
        let mut o = scan();
        o.direction = None;
        let n = network(&o);
        assert_eq!(n.direction, None);
        assert_eq!((n.source_ipv4, n.source_ipv6), (None, None));
        assert_eq!((n.destination_ipv4, n.destination_ipv6), (None, None));
        assert_eq!(n.protocol, "TCP");
    }

    #[test]
    fn an_unnamed_task_is_its_eni_alone() {
        let mut o = scan();
        o.task_arn = None;
        let r = resources(&o);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].kind, "AwsEc2NetworkInterface");
        assert_eq!(
            r[0].id,
            "arn:aws:ec2:us-east-1:123456789012:network-interface/eni-0123456789abcdef0"
        );
        let named = resources(&scan());
        let kinds: Vec<&str> = named.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            ["AwsEcsTask", "AwsEc2NetworkInterface", "AwsEcsService"]
        );
        assert_eq!(
            named[2].id,
            format!(
                "arn:aws:ecs:us-east-1:123456789012:service/prod/{}",
                "web".repeat(200)
            )
        );
    }
}
