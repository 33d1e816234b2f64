//! `vpcflow query`: filters, group-by, top talkers, time buckets, percentiles and
//! conversations.

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use vpcflow::aws_ranges::AwsRanges;
use vpcflow::enrich::PeerKind;
use vpcflow::net::parse_protocol;
use vpcflow::net::Cidr;
use vpcflow::output::rows;
use vpcflow::pipeline;
use vpcflow::query::conversations::Conversations;
use vpcflow::query::{parse_duration, Filters, Key, Query, Ranges, Watched};
use vpcflow::Error;

use super::args::{MapOpts, ReadArgs, ReportFormat};
use super::{default_format, execute, exit_code, summarize, terminal_width};

#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    read: ReadArgs,

    #[command(flatten)]
    map: MapOpts,

    /// Only records of this ENI (interface-id); repeatable.
    #[arg(long, value_name = "ENI")]
    eni: Vec<String>,
    /// Only records of this task (ARN or task id); repeatable.
    #[arg(long, value_name = "TASK")]
    task: Vec<String>,
    /// Only records of tasks of this service; repeatable.
    #[arg(long, value_name = "NAME")]
    service: Vec<String>,
    /// Only records of tasks of this cluster (name or ARN); repeatable.
    #[arg(long, value_name = "NAME")]
    cluster: Vec<String>,
    /// Only records with the source or destination address in CIDR; repeatable.
    #[arg(long, value_name = "CIDR")]
    addr: Vec<String>,
    /// Only records whose peer (the other side than the ENI) is in CIDR; repeatable.
    #[arg(long, value_name = "CIDR")]
    peer: Vec<String>,
    /// Only records whose peer is of this kind: task, alb, nlb, gwlb, elb, natgw, vpce,
    /// gwlbe, rds, lambda, efs, tgw, instance, other (ENIs of the map), vpc (other
    /// addresses in the VPC) or internet; repeatable.
    #[arg(long = "peer-kind", value_name = "KIND")]
    peer_kind: Vec<String>,
    /// Only records whose peer is a task of this service; repeatable.
    #[arg(long = "peer-service", value_name = "NAME")]
    peer_service: Vec<String>,

    /// Only records whose peer is an ENI of this load balancer (`app/web-alb`, as in its
    /// ENIs' description `ELB app/web-alb/<id>`); repeatable. With --group-by service:
    /// the services behind it.
    #[arg(long = "peer-lb", value_name = "LB")]
    peer_lb: Vec<String>,
    /// Only records with this source or destination port; repeatable.
    #[arg(long, value_name = "PORT")]
    port: Vec<u16>,
    /// Only records of this protocol (tcp, udp, icmp, icmpv6 or a number); repeatable.
    #[arg(long, value_name = "PROTO")]
    protocol: Vec<String>,
    /// Only records with this action (ACCEPT or REJECT).
    #[arg(long, value_name = "ACTION")]
    action: Vec<String>,
    /// Only records with this log status (OK, NODATA or SKIPDATA).
    #[arg(long, value_name = "STATUS")]
    status: Vec<String>,
    /// Only records in this direction relative to their ENI (ingress or egress).
    #[arg(long, value_name = "DIR")]
    direction: Vec<String>,
    /// Only records whose flow-log COLUMN (its AWS Parquet name: vpc_id, subnet_id,
    /// az_id, traffic_path, pkt_dst_aws_service, ecs_cluster_name, instance_tag, ...) has
    /// VALUE; repeatable: values of one column are ORed, different columns ANDed. VALUE is
    /// read as the column's type: integer columns take an integer (protocol also tcp,
    /// udp, ...), address columns an address or CIDR, text columns compare exactly
    /// (action, log_status and flow_direction in any case). `COLUMN=-` matches null: a
    /// `-` in the log, or a record whose layout lacks the column.
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    where_: Vec<String>,
    /// Only records of this VPC (vpc-id, flow logs v3 and later); repeatable. Same as
    /// --where vpc_id=ID.
    #[arg(long, value_name = "ID")]
    vpc: Vec<String>,
    /// Only records of this subnet (subnet-id, v3 and later); repeatable. Same as --where
    /// subnet_id=ID.
    #[arg(long, value_name = "ID")]
    subnet: Vec<String>,
    /// Only records of this EC2 instance (instance-id, v3 and later); repeatable. Same as
    /// --where instance_id=ID.
    #[arg(long, value_name = "ID")]
    instance: Vec<String>,

    /// Group keys, comma-separated: eni, task, service, cluster, srcaddr, dstaddr, peer,
    /// peer_kind, peer_service, peer_lb, srcport, dstport, protocol, action, status, direction,
    /// minute, hour, day, peer_aws_service, or any flow-log column by its AWS Parquet name (vpc_id,
    /// subnet_id, instance_id, az_id, traffic_path, pkt_dst_aws_service,
    /// ecs_cluster_name, instance_tag, start, ...): its values as they are, null where
    /// a record's layout lacks it. A column that no input has is an error (exit 2).
    #[arg(long = "group-by", value_name = "KEYS")]
    group_by: Option<String>,
    /// Add a bucket key: the start (RFC 3339) of each record's time bucket of this
    /// size: 30s, 5m, 1h, 1d, any whole number of s, m, h or d.
    #[arg(long, value_name = "DURATION", conflicts_with = "conversations")]
    bucket: Option<String>,
    /// With --bucket: split each bucket by these keys (comma-separated, as --group-by),
    /// e.g. --bucket 5m --per dstport.
    #[arg(long, value_name = "KEYS", requires = "bucket")]
    per: Option<String>,
    /// Only records whose peer's address is this AWS service's (S3, EC2, AMAZON, ...,
    /// any case; repeatable): from the record's pkt-src-aws-service / pkt-dst-aws-service
    /// (v5 and later), else from --aws-ip-ranges. Also a group key, peer_aws_service.
    #[arg(long = "peer-aws-service", value_name = "NAME")]
    peer_aws_service: Vec<String>,
    /// AWS's published address ranges (ip-ranges.json): the peer's AWS service on logs
    /// without the pkt-*-aws-service fields (before v5).
    #[arg(long = "aws-ip-ranges", value_name = "FILE")]
    aws_ip_ranges: Option<String>,
    /// Only the first N rows (by bytes).
    #[arg(long, value_name = "N")]
    top: Option<usize>,
    /// Add p50, p90, p99 and max of bytes per record (HDR histogram).
    #[arg(long)]
    stats: bool,
    /// One row per connection: request and response records joined, seen from the task's
    /// side (eni, task, service, peer, peer_kind, peer_service), with who opened it as the
    /// audit decides (initiator, responder, initiator_by, client_port, server_port),
    /// records, bytes_out and bytes_in from the task's side, first and last seen, and both
    /// directions' packets and bytes.
    #[arg(long, conflicts_with_all = ["group_by", "stats"])]
    conversations: bool,

    /// Output format. Default: table on a terminal, json (JSON Lines) otherwise.
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
}

/// The values of the `peer_kind` column.
fn peer_kinds() -> Vec<&'static str> {
    PeerKind::ALL.iter().map(|k| k.as_str()).collect()
}

impl QueryArgs {
    /// Validates the filters and keys into a query.
    fn query(&self) -> Result<Query, Error> {
        let cidrs = |flag: &str, v: &[String]| -> Result<Vec<Cidr>, Error> {
            v.iter()
                .map(|c| {
                    c.parse()
                        .map_err(|e| Error::Usage(format!("--{flag}: {e}")))
                })
                .collect()
        };
        let one_of = |flag: &str,
                      v: &[String],
                      allowed: &[&str],
                      upper: bool|
         -> Result<Vec<String>, Error> {
            v.iter()
                .map(|x| {
                    let x = if upper {
                        x.to_ascii_uppercase()
                    } else {
                        x.to_ascii_lowercase()
                    };
                    if allowed.contains(&x.as_str()) {
                        Ok(x)
                    } else {
                        Err(Error::Usage(format!(
                            "--{flag}: {x:?} is not one of {}",
                            allowed.join(", ")
                        )))
                    }
                })
                .collect()
        };
        let mut query = Query {
            filters: Filters {
                eni: self.eni.clone(),
                task: self.task.clone(),
                service: self.service.clone(),
                cluster: self.cluster.clone(),
                addr: cidrs("addr", &self.addr)?,
                peer: cidrs("peer", &self.peer)?,
                peer_kind: one_of("peer-kind", &self.peer_kind, &peer_kinds(), false)?,
                peer_service: self.peer_service.clone(),
                peer_lb: self.peer_lb.clone(),
                port: self.port.clone(),
                protocol: self
                    .protocol
                    .iter()
                    .map(|p| {
                        parse_protocol(p).map_err(|e| Error::Usage(format!("--protocol: {e}")))
                    })
                    .collect::<Result<_, _>>()?,
                action: one_of("action", &self.action, &["ACCEPT", "REJECT"], true)?,
                status: one_of("status", &self.status, &["OK", "NODATA", "SKIPDATA"], true)?,
                direction: one_of("direction", &self.direction, &["ingress", "egress"], false)?,
                columns: Vec::new(),
                peer_aws_service: self.peer_aws_service.clone(),
                aws_ranges: self
                    .aws_ip_ranges
                    .as_deref()
                    .map(|path| {
                        AwsRanges::load(path)
                            .map(|r| Ranges(Arc::new(r)))
                            .map_err(|e| Error::Usage(format!("--aws-ip-ranges: {e}")))
                    })
                    .transpose()?,
            },
            keys: match &self.group_by {
                Some(k) => {
                    Key::parse_list(k).map_err(|e| Error::Usage(format!("--group-by: {e}")))?
                }
                None => Vec::new(),
            },
            stats: self.stats,
        };
        if let Some(size) = &self.bucket {
            let size = parse_duration(size).map_err(|e| Error::Usage(format!("--bucket: {e}")))?;
            let per = match &self.per {
                Some(k) => Key::parse_list(k).map_err(|e| Error::Usage(format!("--per: {e}")))?,
                None => Vec::new(),
            };
            let mut keys = vec![Key::Bucket(size)];
            for k in per.into_iter().chain(std::mem::take(&mut query.keys)) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            query.keys = keys;
        }
        let f = &mut query.filters;
        for spec in &self.where_ {
            let (column, value) = spec
                .split_once('=')
                .ok_or_else(|| Error::Usage(format!("--where: {spec:?} is not COLUMN=VALUE")))?;
            f.add_where(column.trim(), value)
                .map_err(|e| Error::Usage(format!("--where: {e}")))?;
        }
        for (flag, column, ids) in [
            ("vpc", "vpc_id", &self.vpc),
            ("subnet", "subnet_id", &self.subnet),
            ("instance", "instance_id", &self.instance),
        ] {
            for id in ids {
                f.add_where(column, id)
                    .map_err(|e| Error::Usage(format!("--{flag}: {e}")))?;
            }
        }
        Ok(query)
    }
}

/// The error for columns that the query names and no input has: an answer of nulls
/// would look like one about the data.
fn absent_columns(absent: &[&str], available: &[String]) -> Error {
    let names = absent
        .iter()
        .map(|c| match vpcflow::format::lookup(c) {
            Some(def) if def.since > 2 => format!("{c} (flow logs v{} and later)", def.since),
            _ => c.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (noun, verb) = if absent.len() == 1 {
        ("column", "is")
    } else {
        ("columns", "are")
    };
    Error::Usage(format!(
        "{noun} {names} {verb} in no input (their layouts have: {})",
        available.join(", ")
    ))
}

pub fn query(args: QueryArgs) -> Result<ExitCode, Error> {
    let query = args.query()?;
    let mut config = args.read.config(true)?;
    // Attribution (and orientation) is needed for task, service, cluster, peer and
    // direction, and for conversations.
    let enriched = query.needs_enrichment() || args.conversations;
    let enricher = if enriched {
        Some(args.map.enricher(args.read.quiet)?)
    } else {
        args.map.cidrs()?;
        None
    };
    let mut projection = query.projection();
    if args.conversations {
        projection.extend(
            Conversations::COLUMNS
                .iter()
                .chain(&vpcflow::enrich::join::INPUT_COLUMNS)
                .map(|c| c.to_string()),
        );
    }
    config.input.options.projection = Some(Arc::new(projection));
    // The columns the query names, and whether some batch had each.
    let named = query.named_columns();
    let groups: Vec<vpcflow::query::Row>;
    let (ran, seen) = if args.conversations {
        let job = Watched {
            job: &Conversations(&query.filters),
            columns: &named,
        };
        let ran = execute(&mut config, enricher.as_ref(), |run, reporter| {
            pipeline::fold(run, &job, reporter)
        })?;
        let seen = ran.value.1.clone();
        (ran.map(|(state, _)| state.finish(args.top)), seen)
    } else {
        let job = Watched {
            job: &query,
            columns: &named,
        };
        let ran = execute(&mut config, enricher.as_ref(), |run, reporter| {
            pipeline::fold(run, &job, reporter)
        })?;
        groups = ran.value.0.finish(&query, args.top);
        let seen = ran.value.1.clone();
        (
            ran.map(|_| groups.iter().map(|r| r.columns()).collect()),
            seen,
        )
    };
    // A column no batch had and no input's layout has, while something was read: the
    // nulls would answer nothing.
    let available = &ran.totals.layout_columns;
    let absent: Vec<&str> = named
        .iter()
        .zip(&seen)
        .filter(|(c, seen)| !**seen && !available.contains(c))
        .map(|(c, _)| c.as_str())
        .collect();
    if !absent.is_empty() && !available.is_empty() {
        summarize(&mut config, &ran, enriched)?;
        return Err(absent_columns(&absent, available));
    }
    let saturated = ran
        .value
        .iter()
        .flatten()
        .filter(|(_, v)| v.as_u64() == Some(u64::MAX))
        .count();
    if saturated > 0 {
        config.reporter.warn(&format!(
            "{saturated} sum{} reached {}, the largest that can be counted, and stopped there",
            if saturated == 1 { "" } else { "s" },
            u64::MAX
        ));
    }
    let mut columns: Vec<&str> = query.keys.iter().map(|k| k.name()).collect();
    columns.extend(["records", "packets", "bytes", "first_seen", "last_seen"]);
    let format = args.format.unwrap_or_else(default_format);
    let stdout = io::stdout();
    let out = io::BufWriter::new(stdout.lock());
    match format {
        ReportFormat::Json => rows::write_json(&ran.value, out)?,
        ReportFormat::Csv => rows::write_csv(&ran.value, &columns, out)?,
        ReportFormat::Table => rows::write_table(&ran.value, &columns, terminal_width(), out)?,
    }
    summarize(&mut config, &ran, enriched)?;
    Ok(exit_code(ran.unreadable))
}
