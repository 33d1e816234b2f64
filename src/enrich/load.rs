//! Reading map files: the canonical CSV, `aws ecs describe-tasks` JSON and
//! `aws ec2 describe-network-interfaces` JSON. The kind is detected from the content.
//!
//! Errors name the file, the CSV line or the JSON path, and what is wrong:
//! `map.csv:4: valid_from: "yesterday" is not a time (RFC 3339 or unix seconds)` or
//! `tasks.json: $.tasks[2].attachments[0]: no networkInterfaceId`.

use serde_json::Value;

use super::{EniFact, EniKind, MapRow, Source};
use crate::net;

/// The canonical CSV header.
pub const CSV_HEADER: [&str; 12] = [
    "eni_id",
    "kind",
    "private_ip",
    "task_arn",
    "cluster",
    "service",
    "task_family",
    "security_groups",
    "subnet_id",
    "vpc_id",
    "valid_from",
    "valid_to",
];

/// A map file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MapError(pub String);

/// What one map file says: its facts, and what was skipped in it.
#[derive(Debug, Default)]
pub struct Loaded {
    pub facts: Vec<EniFact>,
    /// Parts of the file that were skipped, in words (`tasks.json: 1 ENI attachment
    /// without networkInterfaceId skipped ...`).
    pub warnings: Vec<String>,
}

/// Reads one map file of any kind into facts.
pub fn load_map_file(path: &str) -> Result<Loaded, MapError> {
    let text = std::fs::read(path).map_err(|e| MapError(format!("{path}: cannot read: {e}")))?;
    parse_map(path, &text)
}

/// Parses map file content; `name` is used in messages.
pub fn parse_map(name: &str, text: &[u8]) -> Result<Loaded, MapError> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| text[i]) {
        None => Err(MapError(format!("{name}: the file is empty"))),
        Some(b'{') | Some(b'[') => {
            let v: Value = serde_json::from_slice(text).map_err(|e| {
                MapError(format!(
                    "{name}: invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ))
            })?;
            if v.get("tasks").is_some() {
                describe_tasks(name, &v)
            } else if v.get("NetworkInterfaces").is_some() {
                describe_network_interfaces(name, &v).map(|facts| Loaded {
                    facts,
                    warnings: Vec::new(),
                })
            } else {
                Err(MapError(format!(
                    "{name}: JSON that is neither `aws ecs describe-tasks` output (a \"tasks\" \
                     key) nor `aws ec2 describe-network-interfaces` output (a \
                     \"NetworkInterfaces\" key)"
                )))
            }
        }
        Some(_) => csv_rows(name, text).map(|rows| Loaded {
            facts: rows.into_iter().map(fact_of_row).collect(),
            warnings: Vec::new(),
        }),
    }
}

fn fact_of_row(r: MapRow) -> EniFact {
    EniFact {
        eni_id: r.eni_id,
        source: Source::Csv,
        kind: Some(r.kind),
        addrs: vec![(r.private_ip, r.valid_from, r.valid_to)],
        task_arn: r.task_arn,
        cluster: r.cluster,
        service: r.service,
        task_family: r.task_family,
        security_groups: Some(r.security_groups),
        subnet_id: r.subnet_id,
        vpc_id: r.vpc_id,
        origin: r.origin,
    }
}

/// Parses the canonical CSV.
pub fn csv_rows(name: &str, text: &[u8]) -> Result<Vec<MapRow>, MapError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| MapError(format!("{name}:1: {e}")))?
        .clone();
    let mut index = [usize::MAX; 12];
    for (i, h) in header.iter().enumerate() {
        match CSV_HEADER.iter().position(|c| *c == h) {
            Some(c) if index[c] == usize::MAX => index[c] = i,
            Some(_) => return Err(MapError(format!("{name}:1: column {h} appears twice"))),
            None => {
                return Err(MapError(format!(
                    "{name}:1: unknown column {h:?}; the header is {}",
                    CSV_HEADER.join(",")
                )))
            }
        }
    }
    if let Some(missing) = CSV_HEADER.iter().zip(index).find(|(_, i)| *i == usize::MAX) {
        return Err(MapError(format!(
            "{name}:1: missing column {}; the header is {}",
            missing.0,
            CSV_HEADER.join(",")
        )));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let why = match e.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => {
                    format!("expected {} columns, found {len}", header.len())
                }
                csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
                _ => e.to_string(),
            };
            MapError(format!("{name}:{line}: {why}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let at = format!("{name}:{line}");
        let get = |c: usize| record.get(index[c]).unwrap_or("");
        let opt = |c: usize| Some(get(c).to_string()).filter(|s| !s.is_empty());
        let err = |col: &str, msg: String| MapError(format!("{at}: {col}: {msg}"));
        let eni_id = get(0);
        if eni_id.is_empty() {
            return Err(err("eni_id", "is empty".into()));
        }
        let kind = EniKind::parse(get(1)).ok_or_else(|| {
            err(
                "kind",
                format!(
                    "{:?} is not one of task, alb, nlb, natgw, vpce, instance, other",
                    get(1)
                ),
            )
        })?;
        let private_ip = net::addr(get(2))
            .ok_or_else(|| err("private_ip", format!("{:?} is not an IP address", get(2))))?;
        let time = |c: usize, col: &str| -> Result<Option<i64>, MapError> {
            let s = get(c);
            if s.is_empty() {
                return Ok(None);
            }
            crate::time::parse_time(s).map(Some).map_err(|_| {
                err(
                    col,
                    format!("{s:?} is not a time (RFC 3339 or unix seconds)"),
                )
            })
        };
        let valid_from = time(10, "valid_from")?;
        let valid_to = time(11, "valid_to")?;
        if let (Some(f), Some(t)) = (valid_from, valid_to) {
            if f >= t {
                return Err(err(
                    "valid_to",
                    format!("{:?} is not after valid_from {:?}", get(11), get(10)),
                ));
            }
        }
        rows.push(MapRow {
            eni_id: eni_id.to_string(),
            kind,
            private_ip,
            task_arn: opt(3),
            cluster: opt(4),
            service: opt(5),
            task_family: opt(6),
            security_groups: get(7)
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            subnet_id: opt(8),
            vpc_id: opt(9),
            valid_from,
            valid_to,
            origin: at,
        });
    }
    Ok(rows)
}

/// Writes rows as the canonical CSV (the format `--map` reads back).
pub fn write_map_csv<'a>(
    rows: impl Iterator<Item = &'a MapRow>,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    let time = |t: Option<i64>| t.map(crate::time::rfc3339).unwrap_or_default();
    for r in rows {
        w.write_record([
            r.eni_id.as_str(),
            r.kind.as_str(),
            &crate::output::addr_string(&r.private_ip),
            r.task_arn.as_deref().unwrap_or(""),
            r.cluster.as_deref().unwrap_or(""),
            r.service.as_deref().unwrap_or(""),
            r.task_family.as_deref().unwrap_or(""),
            &r.security_groups.join(";"),
            r.subnet_id.as_deref().unwrap_or(""),
            r.vpc_id.as_deref().unwrap_or(""),
            &time(r.valid_from),
            &time(r.valid_to),
        ])?;
    }
    w.flush()
}

/// The map as one Arrow batch, for the Parquet table of `vpcflow map --format parquet`:
/// the CSV's columns, with `valid_from`/`valid_to` as unix seconds (null: unbounded) so
/// that an engine joins records to the map as of their `start` with plain comparisons.
pub fn map_batch<'a>(rows: impl Iterator<Item = &'a MapRow>) -> arrow::record_batch::RecordBatch {
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let rows: Vec<&MapRow> = rows.collect();
    let text = |f: &dyn Fn(&MapRow) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<StringArray>())
    };
    let time = |f: &dyn Fn(&MapRow) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(r)).collect::<Int64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(r.eni_id.clone())),
        text(&|r| Some(r.kind.as_str().to_string())),
        text(&|r| Some(crate::output::addr_string(&r.private_ip))),
        text(&|r| r.task_arn.clone()),
        text(&|r| r.cluster.clone()),
        text(&|r| r.service.clone()),
        text(&|r| r.task_family.clone()),
        text(&|r| Some(r.security_groups.join(";"))),
        text(&|r| r.subnet_id.clone()),
        text(&|r| r.vpc_id.clone()),
        time(&|r| r.valid_from),
        time(&|r| r.valid_to),
    ];
    let fields: Vec<Field> = CSV_HEADER
        .iter()
        .map(|name| {
            let t = if name.starts_with("valid_") {
                DataType::Int64
            } else {
                DataType::Utf8
            };
            Field::new(*name, t, true)
        })
        .collect();
    arrow::record_batch::RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("one column per header name, of the rows' length")
}

/// A JSON path for messages, like `$.tasks[2].attachments[0]`.
fn path(parts: &[&dyn std::fmt::Display]) -> String {
    let mut s = "$".to_string();
    for p in parts {
        let p = p.to_string();
        if p.starts_with('[') {
            s += &p;
        } else {
            s += ".";
            s += &p;
        }
    }
    s
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A timestamp as the AWS CLI prints it: ISO 8601 (`2026-11-01T00:20:00.123000+00:00`,
/// CLI v2) or epoch seconds as a number (`1793492400.123`, CLI v1). Whole seconds,
/// rounded down.
fn json_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| f.floor() as i64),
        Value::String(s) => crate::time::parse_time(s).ok().or_else(|| {
            s.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        }),
        _ => None,
    }
}

fn optional_time(
    name: &str,
    v: &Value,
    key: &str,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<i64>, MapError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(t) => json_time(t)
            .map(Some)
            .ok_or_else(|| MapError(format!("{name}: {}: {t} is not a time", at(key)))),
    }
}

fn array<'a>(name: &str, v: &'a Value, key: &str, at: &str) -> Result<&'a [Value], MapError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(MapError(format!("{name}: {at}.{key}: expected an array"))),
    }
}

/// ENI attachments skipped because they are not provisioned yet: the count and the
/// first one's JSON path.
#[derive(Default)]
struct Skipped {
    count: usize,
    first: String,
}

impl Skipped {
    fn add(&mut self, at: &str) {
        if self.count == 0 {
            self.first = at.to_string();
        }
        self.count += 1;
    }

    fn warning(&self, name: &str, what: &str) -> Option<String> {
        (self.count > 0).then(|| {
            format!(
                "{name}: {} ENI attachment{} without {what} skipped (a task still provisioning?), first at {}",
                self.count,
                if self.count == 1 { "" } else { "s" },
                self.first
            )
        })
    }
}

/// `aws ecs describe-tasks` output. Attachments of tasks that are still being
/// provisioned (no ENI id or no address yet) are skipped and counted, not errors: they
/// carried no traffic.
fn describe_tasks(name: &str, v: &Value) -> Result<Loaded, MapError> {
    let tasks = array(name, v, "tasks", "$")?;
    let mut facts = Vec::new();
    let (mut no_eni, mut no_addr) = (Skipped::default(), Skipped::default());
    for (i, task) in tasks.iter().enumerate() {
        let here = path(&[&"tasks", &format!("[{i}]")]);
        let at = |k: &str| format!("{here}.{k}");
        if !task.is_object() {
            return Err(MapError(format!("{name}: {here}: expected an object")));
        }
        let task_arn = str_at(task, "taskArn")
            .ok_or_else(|| MapError(format!("{name}: {here}: no taskArn")))?;
        let cluster = str_at(task, "clusterArn").map(|a| after(a, "cluster/"));
        let service = str_at(task, "group").and_then(|g| g.strip_prefix("service:"));
        let family = str_at(task, "taskDefinitionArn").map(|a| {
            let f = after(a, "task-definition/");
            f.split(':').next().unwrap_or(&f).to_string()
        });
        let from = match optional_time(name, task, "createdAt", &at)? {
            Some(t) => Some(t),
            None => optional_time(name, task, "startedAt", &at)?,
        };
        let to = optional_time(name, task, "stoppedAt", &at)?;
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(MapError(format!(
                    "{name}: {here}: stoppedAt is before createdAt"
                )));
            }
        }
        let attachments = array(name, task, "attachments", &here)?;
        for (j, att) in attachments.iter().enumerate() {
            if str_at(att, "type") != Some("ElasticNetworkInterface") {
                continue;
            }
            let here = format!("{here}.attachments[{j}]");
            let details = array(name, att, "details", &here)?;
            let detail = |key: &str| {
                details
                    .iter()
                    .find(|d| str_at(d, "name") == Some(key))
                    .and_then(|d| str_at(d, "value"))
            };
            let Some(eni) = detail("networkInterfaceId") else {
                no_eni.add(&here);
                continue;
            };
            let mut addrs = Vec::new();
            for key in ["privateIPv4Address", "privateIPv6Address", "ipv6Address"] {
                if let Some(a) = detail(key) {
                    let ip = net::addr(a).ok_or_else(|| {
                        MapError(format!(
                            "{name}: {here}.details: {key} {a:?} is not an IP address"
                        ))
                    })?;
                    addrs.push((ip, from, to));
                }
            }
            if addrs.is_empty() {
                no_addr.add(&here);
                continue;
            }
            // The containers list the task ENI's IPv6 address, when it has one.
            let task_here = path(&[&"tasks", &format!("[{i}]")]);
            for (k, c) in array(name, task, "containers", &task_here)?
                .iter()
                .enumerate()
            {
                let at = format!("{task_here}.containers[{k}]");
                for ni in array(name, c, "networkInterfaces", &at)? {
                    if let Some(a) = str_at(ni, "ipv6Address") {
                        let ip = net::addr(a).ok_or_else(|| {
                            MapError(format!(
                                "{name}: {at}: ipv6Address {a:?} is not an IP address"
                            ))
                        })?;
                        if !addrs.iter().any(|(x, _, _)| *x == ip) {
                            addrs.push((ip, from, to));
                        }
                    }
                }
            }
            facts.push(EniFact {
                eni_id: eni.to_string(),
                source: Source::DescribeTasks,
                kind: Some(EniKind::Task),
                addrs,
                task_arn: Some(task_arn.to_string()),
                cluster: cluster.clone(),
                service: service.map(String::from),
                task_family: family.clone(),
                security_groups: None,
                subnet_id: detail("subnetId").map(String::from),
                vpc_id: None,
                origin: format!("{name}: {here}"),
            });
        }
    }
    let warnings = [
        no_eni.warning(name, "networkInterfaceId"),
        no_addr.warning(name, "an address"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(Loaded { facts, warnings })
}

fn after(s: &str, marker: &str) -> String {
    match s.find(marker) {
        Some(i) => s[i + marker.len()..].to_string(),
        None => s.to_string(),
    }
}

/// The kind of an ENI from `InterfaceType` and `Description`, as EC2 reports them.
pub fn eni_kind(interface_type: &str, description: &str, instance: bool) -> EniKind {
    match interface_type {
        "network_load_balancer" => return EniKind::Nlb,
        "nat_gateway" => return EniKind::Natgw,
        "vpc_endpoint" => return EniKind::Vpce,
        _ => {}
    }
    if description.starts_with("ELB app/") {
        EniKind::Alb
    } else if description.starts_with("ELB net/") {
        EniKind::Nlb
    } else if description.starts_with("Interface for NAT Gateway") {
        EniKind::Natgw
    } else if description.starts_with("VPC Endpoint Interface") {
        EniKind::Vpce
    } else if description.starts_with("arn:aws:ecs:") && description.contains(":attachment/") {
        EniKind::Task
    } else if instance {
        EniKind::Instance
    } else {
        EniKind::Other
    }
}

/// `aws ec2 describe-network-interfaces` output.
fn describe_network_interfaces(name: &str, v: &Value) -> Result<Vec<EniFact>, MapError> {
    let enis = array(name, v, "NetworkInterfaces", "$")?;
    let mut facts = Vec::new();
    for (i, eni) in enis.iter().enumerate() {
        let here = path(&[&"NetworkInterfaces", &format!("[{i}]")]);
        let id = str_at(eni, "NetworkInterfaceId")
            .ok_or_else(|| MapError(format!("{name}: {here}: no NetworkInterfaceId")))?;
        let instance = eni
            .get("Attachment")
            .and_then(|a| str_at(a, "InstanceId"))
            .is_some();
        let kind = eni_kind(
            str_at(eni, "InterfaceType").unwrap_or(""),
            str_at(eni, "Description").unwrap_or(""),
            instance,
        );
        let mut addrs = Vec::new();
        let mut add = |text: &str, at: String| -> Result<(), MapError> {
            let ip = net::addr(text)
                .ok_or_else(|| MapError(format!("{name}: {at}: {text:?} is not an IP address")))?;
            if !addrs.iter().any(|(a, _, _)| *a == ip) {
                addrs.push((ip, None, None));
            }
            Ok(())
        };
        if let Some(a) = str_at(eni, "PrivateIpAddress") {
            add(a, format!("{here}.PrivateIpAddress"))?;
        }
        for (j, p) in array(name, eni, "PrivateIpAddresses", &here)?
            .iter()
            .enumerate()
        {
            if let Some(a) = str_at(p, "PrivateIpAddress") {
                add(
                    a,
                    format!("{here}.PrivateIpAddresses[{j}].PrivateIpAddress"),
                )?;
            }
        }
        for (j, p) in array(name, eni, "Ipv6Addresses", &here)?.iter().enumerate() {
            if let Some(a) = str_at(p, "Ipv6Address") {
                add(a, format!("{here}.Ipv6Addresses[{j}].Ipv6Address"))?;
            }
        }
        if addrs.is_empty() {
            return Err(MapError(format!("{name}: {here}: {id} has no address")));
        }
        let groups = array(name, eni, "Groups", &here)?
            .iter()
            .filter_map(|g| str_at(g, "GroupId").map(String::from))
            .collect();
        facts.push(EniFact {
            eni_id: id.to_string(),
            source: Source::DescribeEnis,
            kind: Some(kind),
            addrs,
            security_groups: Some(groups),
            subnet_id: str_at(eni, "SubnetId").map(String::from),
            vpc_id: str_at(eni, "VpcId").map(String::from),
            origin: format!("{name}: {here}"),
            ..EniFact::default()
        });
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_ec2() {
        assert_eq!(
            eni_kind("interface", "ELB app/web/50dc6c495c0c9188", false),
            EniKind::Alb
        );
        assert_eq!(
            eni_kind("network_load_balancer", "ELB net/api/1", false),
            EniKind::Nlb
        );
        assert_eq!(eni_kind("interface", "ELB net/api/1", false), EniKind::Nlb);
        assert_eq!(
            eni_kind("nat_gateway", "Interface for NAT Gateway nat-1", false),
            EniKind::Natgw
        );
        assert_eq!(
            eni_kind("vpc_endpoint", "VPC Endpoint Interface vpce-1", false),
            EniKind::Vpce
        );
        assert_eq!(
            eni_kind(
                "interface",
                "arn:aws:ecs:us-east-1:123456789012:attachment/4c0f",
                false
            ),
            EniKind::Task
        );
        assert_eq!(eni_kind("interface", "", true), EniKind::Instance);
        assert_eq!(
            eni_kind("interface", "RDSNetworkInterface", false),
            EniKind::Other
        );
    }

    #[test]
    fn json_times() {
        assert_eq!(json_time(&Value::from(1793491200.999)), Some(1793491200));
        assert_eq!(
            json_time(&Value::from("2026-11-01T00:20:00.123000+00:00")),
            Some(1793492400)
        );
        assert_eq!(json_time(&Value::from("1793491200.5")), Some(1793491200));
        assert_eq!(json_time(&Value::from("soon")), None);
    }
}
