//! `vpcflow map`: merge ENI map sources into one time-versioned map (canonical CSV,
//! JSON Lines or a Parquet table), look up who held an address or ENI when, or say
//! what the map covers of some flow logs (`--coverage`).

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::Value;
use vpcflow::enrich::coverage::{self, CoverageFold};
use vpcflow::enrich::{map_batch, write_map_csv, Enricher, MapRow};
use vpcflow::output::parquet::ParquetWriter;
use vpcflow::output::{rows, BatchWriter};
use vpcflow::{net, pipeline, time, Error};

use super::args::{MapOpts, ReadArgs};
use super::{execute, exit_code, summarize, terminal_width};

#[derive(Args, Debug)]
pub struct MapArgs {
    /// Map sources to merge: canonical CSV, describe-tasks, describe-network-interfaces,
    /// ECS task state change events (a JSON array, JSON Lines, Firehose objects or a
    /// filter-log-events export), CloudTrail (a trail's files or S3 tree as a directory,
    /// or lookup-events output), AWS Config history; plain or gzip.
    #[arg(value_name = "SOURCE", required = true)]
    files: Vec<String>,

    /// Print only the rows in force at time T (RFC 3339 or unix seconds): who held each
    /// address then.
    #[arg(long, value_name = "T")]
    at: Option<String>,

    /// Print only the rows of this address (with --at: the one that held it then).
    #[arg(long, value_name = "IP")]
    addr: Option<String>,

    /// Print only the rows of this ENI.
    #[arg(long, value_name = "ENI")]
    eni: Option<String>,

    /// Instead of the map, say what it covers of these flow logs: one row per ENI of the
    /// logs (records, bytes, records the map knows at their time, what it is, and what
    /// its records suggest when the map does not know it), after a total line.
    #[arg(long, value_name = "INPUT", num_args = 1..)]
    coverage: Vec<String>,

    /// Field order of coverage inputs without a header line (as for `cat --fields`).
    #[arg(long, value_name = "FIELDS", requires = "coverage")]
    fields: Option<String>,

    /// With --coverage: write the run's summary to FILE as one JSON object (as for
    /// `audit --summary`).
    #[arg(long, value_name = "FILE", requires = "coverage")]
    summary: Option<String>,

    /// Print no warnings about the map sources (and no summary) on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Output format: csv (the canonical CSV), json (JSON Lines), parquet (valid_from/
    /// valid_to as unix seconds, null when unbounded, for Athena, Spark and DuckDB), or
    /// table (--coverage). Default: csv; with --coverage, table on a terminal and json
    /// otherwise.
    #[arg(long, value_enum)]
    format: Option<MapFormat>,

    /// Write to FILE instead of standard output (required for parquet).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MapFormat {
    Csv,
    Json,
    Parquet,
    Table,
}

/// A map row as JSON (the CSV's columns; times as RFC 3339, null when unbounded).
fn json_row(r: &MapRow) -> Vec<(&'static str, Value)> {
    let text = |s: &Option<String>| s.as_deref().map_or(Value::Null, Value::from);
    let time = |t: Option<i64>| t.map_or(Value::Null, |t| Value::from(time::rfc3339(t)));
    vec![
        ("eni_id", Value::from(r.eni_id.as_str())),
        ("kind", Value::from(r.kind.as_str())),
        (
            "private_ip",
            Value::from(vpcflow::net::addr_string(&r.private_ip)),
        ),
        ("task_arn", text(&r.task_arn)),
        ("cluster", text(&r.cluster)),
        ("service", text(&r.service)),
        ("task_family", text(&r.task_family)),
        (
            "security_groups",
            Value::from(
                r.security_groups
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>(),
            ),
        ),
        ("subnet_id", text(&r.subnet_id)),
        ("vpc_id", text(&r.vpc_id)),
        ("valid_from", time(r.valid_from)),
        ("valid_to", time(r.valid_to)),
        ("load_balancer", text(&r.load_balancer)),
        ("source", Value::from(r.source.as_str())),
    ]
}

pub fn map(args: MapArgs) -> Result<ExitCode, Error> {
    let at = args
        .at
        .as_deref()
        .map(|t| time::parse_window_time(t).map_err(|e| Error::Usage(format!("--at: {e}"))))
        .transpose()?;
    let addr = args
        .addr
        .as_deref()
        .map(|a| {
            net::addr(a).ok_or_else(|| Error::Usage(format!("--addr: {a:?} is not an IP address")))
        })
        .transpose()?;
    let opts = MapOpts {
        maps: args.files.clone(),
        ..MapOpts::default()
    };
    let map = opts.load(args.quiet)?;
    if !args.coverage.is_empty() {
        return covered(args, map);
    }
    let rows = map.rows().iter().filter(|r| {
        at.is_none_or(|t| r.holds_at(t))
            && addr.is_none_or(|a| r.private_ip == a)
            && args.eni.as_deref().is_none_or(|e| r.eni_id == e)
    });
    let create = |path: &str| {
        std::fs::File::create(path)
            .map(io::BufWriter::new)
            .map_err(|e| Error::Usage(format!("cannot create {path}: {e}")))
    };
    let out: Box<dyn io::Write> = match (args.format, &args.output) {
        (Some(MapFormat::Parquet), None) => {
            return Err(Error::Usage(
                "--format parquet needs -o FILE (Parquet is not written to a terminal or pipe)"
                    .into(),
            ))
        }
        (Some(MapFormat::Parquet), Some(path)) => {
            let mut w = ParquetWriter::create(path)
                .map_err(|e| Error::Usage(format!("cannot create {path}: {e}")))?;
            w.write(&map_batch(rows))?;
            w.commit()?;
            return Ok(ExitCode::SUCCESS);
        }
        (Some(MapFormat::Table), _) => {
            return Err(Error::Usage(
                "--format table is for --coverage; the map is csv, json or parquet".into(),
            ))
        }
        (_, Some(path)) => Box::new(create(path)?),
        (_, None) => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    let empty_lookup = (addr.is_some() || args.eni.is_some()) && rows.clone().next().is_none();
    if args.format == Some(MapFormat::Json) {
        let rows: Vec<_> = rows.map(json_row).collect();
        rows::write_json(&rows, out)?;
    } else {
        write_map_csv(rows, out)?;
    }
    if empty_lookup {
        // A lookup that finds nothing says so: an empty answer is not "nobody".
        return Err(Error::Input(format!(
            "no map row holds {}{}",
            match (&args.addr, &args.eni) {
                (Some(a), Some(e)) => format!("address {a} on {e}"),
                (Some(a), None) => format!("address {a}"),
                (None, e) => format!("ENI {}", e.as_deref().unwrap_or("?")),
            },
            at.map(|t| format!(" at {}", time::rfc3339(t)))
                .unwrap_or_default()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--coverage`: what the map covers of the logs, per ENI.
fn covered(args: MapArgs, map: vpcflow::enrich::EniMap) -> Result<ExitCode, Error> {
    if args.at.is_some() || args.addr.is_some() || args.eni.is_some() {
        return Err(Error::Usage(
            "--coverage reads whole logs; --at, --addr and --eni are for the map itself".into(),
        ));
    }
    super::summary::note(|s| s.map_given = true);
    let read = ReadArgs::of(
        args.coverage.clone(),
        args.fields.clone(),
        args.quiet,
        args.summary.clone(),
    );
    let mut config = read.config(false)?;
    let map = Arc::new(map);
    let enricher = Enricher::new(map.clone(), &[]);
    let fold = CoverageFold { map: map.clone() };
    let ran = execute(&mut config, Some(&enricher), |run, reporter| {
        pipeline::fold(run, &fold, reporter)
    })?;
    let rows = coverage::rows(&map, &ran.value);
    let format = args.format.unwrap_or_else(|| {
        if super::default_format() == super::args::ReportFormat::Table {
            MapFormat::Table
        } else {
            MapFormat::Json
        }
    });
    let out: Box<dyn io::Write> = match &args.output {
        Some(path) => Box::new(io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Error::Usage(format!("cannot create {path}: {e}")))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    match format {
        MapFormat::Json => rows::write_json(&rows, out)?,
        MapFormat::Csv => rows::write_csv(&rows, &coverage::COLUMNS, out)?,
        MapFormat::Table => rows::write_table(&rows, &coverage::COLUMNS, terminal_width(), out)?,
        MapFormat::Parquet => {
            return Err(Error::Usage("--coverage writes table, json or csv".into()))
        }
    }
    let done = ran.map(|_| ());
    summarize(&mut config, &done, true)?;
    Ok(exit_code(done.unreadable))
}
