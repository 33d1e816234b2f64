//! `vpcflow query`: filters, group-by, top talkers, time buckets, percentiles and
//! conversations.

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use vpcflow::enrich::EniKind;
use vpcflow::net::Cidr;
use vpcflow::output::rows;
use vpcflow::pipeline;
use vpcflow::query::conversations::Conversations;
use vpcflow::query::{parse_protocol, Filters, Key, Query};
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
    /// Only records whose peer is of this kind: task, alb, nlb, natgw, vpce, instance,
    /// other (ENIs of the map), vpc (other addresses in the VPC) or internet; repeatable.
    #[arg(long = "peer-kind", value_name = "KIND")]
    peer_kind: Vec<String>,
    /// Only records whose peer is a task of this service; repeatable.
    #[arg(long = "peer-service", value_name = "NAME")]
    peer_service: Vec<String>,
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

    /// Group keys, comma-separated: eni, task, service, cluster, srcaddr, dstaddr, peer,
    /// peer_kind, peer_service, srcport, dstport, protocol, action, status, direction,
    /// minute, hour, day.
    #[arg(long = "group-by", value_name = "KEYS")]
    group_by: Option<String>,
    /// Only the first N rows (by bytes).
    #[arg(long, value_name = "N")]
    top: Option<usize>,
    /// Add p50, p90, p99 and max of bytes per record (HDR histogram).
    #[arg(long)]
    stats: bool,
    /// One row per connection: request and response records joined, with initiator,
    /// responder and both directions' packets and bytes.
    #[arg(long, conflicts_with_all = ["group_by", "stats"])]
    conversations: bool,

    /// Output format. Default: table on a terminal, json (JSON Lines) otherwise.
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
}

/// The values of the `peer_kind` column.
fn peer_kinds() -> Vec<&'static str> {
    let mut v: Vec<&str> = EniKind::ALL.iter().map(|k| k.as_str()).collect();
    v.extend([vpcflow::enrich::PEER_VPC, vpcflow::enrich::PEER_INTERNET]);
    v
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
        Ok(Query {
            filters: Filters {
                eni: self.eni.clone(),
                task: self.task.clone(),
                service: self.service.clone(),
                cluster: self.cluster.clone(),
                addr: cidrs("addr", &self.addr)?,
                peer: cidrs("peer", &self.peer)?,
                peer_kind: one_of("peer-kind", &self.peer_kind, &peer_kinds(), false)?,
                peer_service: self.peer_service.clone(),
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
            },
            keys: match &self.group_by {
                Some(k) => {
                    Key::parse_list(k).map_err(|e| Error::Usage(format!("--group-by: {e}")))?
                }
                None => Vec::new(),
            },
            stats: self.stats,
        })
    }
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
    let ran = if args.conversations {
        let job = Conversations(&query.filters);
        execute(&mut config, enricher.as_ref(), |run, reporter| {
            pipeline::fold(run, &job, reporter)
        })?
        .map(|state| state.finish(args.top))
    } else {
        execute(&mut config, enricher.as_ref(), |run, reporter| {
            pipeline::fold(run, &query, reporter)
        })?
        .map(|state| {
            state
                .finish(&query, args.top)
                .iter()
                .map(|r| r.columns())
                .collect()
        })
    };
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
