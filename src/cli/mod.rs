//! The command line: clap arguments, their validation into the library's
//! configuration, running a subcommand, and exit codes. This is the only part that
//! prints or exits; it lives in the binary, and all the work is in the library.
//!
//! Exit codes (every subcommand): `0` success, `1` findings (`audit`, `report`), `2`
//! usage error, an input that could not be read at all, or (with `--strict`) the first
//! rejected line; `audit` and `report` also exit 2 when they could not audit any task,
//! or found nothing but could not judge a rule they had to or lost part of their input
//! (unless `--allow-damaged`).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vpcflow::enrich::Enricher;
use vpcflow::error::LineCounts;
use vpcflow::input::looks;
use vpcflow::pipeline::{Run, Totals};
use vpcflow::source::Source;
use vpcflow::text::printable;
use vpcflow::Error;

mod args;
mod audit;
mod cat;
mod convert;
mod learn;
mod map;
mod query;
mod report;
mod reporter;
mod sql;
mod summary;

use args::{ReadConfig, ReportFormat};
use reporter::Reporter;
use summary::NoRecord;

#[derive(Parser, Debug)]
#[command(
    name = "vpcflow",
    version,
    about = "Who is actually talking to my Amazon ECS tasks? Fast answers from AWS VPC Flow Logs.",
    long_about = "Reads AWS VPC Flow Logs (versions 2 to 11, any field order, plain or .gz files, \
                  S3 directory trees, stdin) and prints, converts or analyses them.\n\n\
                  Exit codes: 0 success, 1 findings (audit, report), 2 usage error, unreadable \
                  input, or an audit that could not audit any task."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print every accepted flow record, in input order, as JSON Lines or CSV.
    #[command(after_help = "Examples:\n  \
        vpcflow cat AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/01/\n  \
        vpcflow cat flows.log.gz --since 2026-11-01T07:00:00Z --until 2026-11-01T08:00:00Z\n  \
        vpcflow cat export.txt --fields '${version} ${interface-id} ${srcaddr} ${dstaddr} ...'\n  \
        zcat flows.log.gz | vpcflow cat - --format csv\n  \
        vpcflow cat logs/ | jq 'select(.action == \"REJECT\")'")]
    Cat(cat::CatArgs),
    /// Check the tasks' traffic against the policy: unexpected ingress and egress,
    /// cleartext, isolation, PrivateLink bypass. Exit 0: no findings; 1: findings; 2:
    /// error, or nothing could be judged.
    #[command(
        after_help = "Rules: unexpected-ingress, unexpected-egress, cleartext, isolation, \
        privatelink-bypass (policy keys: ingress_from_*, egress_to_* and egress_ports, \
        require_encryption, isolated, private_aws_access).\n\n\
        Examples:\n  \
        vpcflow audit AWSLogs/ --map eni-map.csv --policy policy.toml\n  \
        vpcflow audit logs/ --map tasks.json --map enis.json --vpc-cidr 10.0.0.0/16 --allow-sg sg-0alb\n  \
        vpcflow audit logs/ --map eni-map.csv --policy policy.toml --rule cleartext --rule isolation\n  \
        vpcflow audit v2-logs/ --map eni-map.csv --policy policy.toml --aws-ip-ranges ip-ranges.json\n  \
        vpcflow audit logs/ --map eni-map.csv --policy policy.toml --format json | jq -r .reason\n  \
        vpcflow audit AWSLogs/ --map eni-map.csv --policy policy.toml --format asff > findings.jsonl\n    \
        (then, per line: aws securityhub batch-import-findings --cli-input-json \"$line\")\n  \
        vpcflow audit logs/ --map eni-map.csv --policy policy.toml --format ocsf --region us-east-1"
    )]
    Audit(audit::AuditArgs),
    /// Learn the tightest policy that admits every accepted connection of the window,
    /// per service and task family, each entry commented with its evidence. Exit 0: a
    /// policy was written; 2: nothing to learn from, or part of the input was lost.
    #[command(
        after_help = "Peers are named by the most durable name the map gives: load \
        balancer, service, task family, security group; addresses only where nothing names \
        them, collapsed no wider than observed. REJECTed attempts and connections of \
        undecided opener are listed in comments, never admitted.\n\n\
        Examples:\n  \
        vpcflow learn quiet-week/ --map eni-map.csv --vpc-cidr 10.0.0.0/16 -o learned.toml\n  \
        vpcflow audit today/ --map eni-map.csv --policy learned.toml\n  \
        vpcflow audit today/ --map eni-map.csv --baseline learned.toml   # only what is new"
    )]
    Learn(learn::LearnArgs),
    /// Filter, group and total flow records: who talked to what, how much, when.
    #[command(after_help = "Examples:\n  \
        vpcflow query logs/ --map eni-map.csv --service api --group-by peer --top 10\n  \
        vpcflow query logs/ --map eni-map.csv --peer-kind internet --group-by service\n  \
        vpcflow query logs/ --action REJECT --group-by dstport,hour\n  \
        vpcflow query logs/ --map eni-map.csv --task 7eed8d14 --group-by peer,dstport --stats\n  \
        vpcflow query logs/ --addr 203.0.113.0/24 --conversations --format json\n  \
        vpcflow query logs/ --vpc vpc-0abc --group-by subnet_id,az_id\n  \
        vpcflow query logs/ --where traffic_path=8 --where action=ACCEPT --group-by pkt_dst_aws_service")]
    Query(Box<query::QueryArgs>),
    /// Merge ENI map files (CSV, describe-tasks, describe-network-interfaces) and print
    /// them as one canonical CSV, or who held each address at one moment.
    #[command(after_help = "Examples:\n  \
        aws ecs describe-tasks --cluster prod --tasks ... > tasks.json\n  \
        aws ec2 describe-network-interfaces --filters Name=vpc-id,Values=vpc-... > enis.json\n  \
        vpcflow map tasks.json enis.json > eni-map.csv\n  \
        vpcflow map eni-map.csv --at 2026-11-01T07:30:00Z")]
    Map(map::MapArgs),
    /// Convert flow logs to Parquet (zstd) with AWS's Parquet column names and types.
    #[command(after_help = "Examples:\n  \
        vpcflow convert AWSLogs/ -o flows.parquet\n  \
        vpcflow convert flows.log.gz --errors rejected.jsonl -o flows.parquet")]
    Convert(convert::ConvertArgs),
    /// Print the audit as one SQL query for Spark, Trino (Athena) or DuckDB, returning
    /// the rows of `audit --format json`; or, with --ddl, the tables it reads.
    #[command(after_help = "Examples:\n  \
        vpcflow sql --policy policy.toml --dialect duckdb > audit.sql\n  \
        vpcflow sql --policy policy.toml --dialect trino --flows vpcflow.flows --map vpcflow.eni_map\n  \
        vpcflow sql --dialect trino --ddl --flows-location s3://bucket/flows/ \\\n      \
        --partition-by year,month,day --map-location s3://bucket/eni-map/\n  \
        vpcflow sql --dialect spark --ddl --flows-location /data/flows --partition-by year,month,day \\\n      \
        --map-location /data/map.parquet\n  \
        vpcflow sql --policy policy.toml --dialect spark --fields '${version} ${interface-id} ...'")]
    Sql(sql::SqlArgs),
    /// Write the audit as one self-contained HTML page: the findings with their reasons,
    /// each service's traffic over time and its peers as a graph, rejected traffic.
    /// Same scan and exit codes as audit.
    #[command(
        after_help = "The page opens offline in any browser: its style, script and SVG \
        charts are inline, and it loads nothing from the network. Exit codes as audit: 0 no \
        findings, 1 findings, 2 error or nothing could be judged (the page is still written \
        when there is something to show, with the reason at its top).\n\n\
        Examples:\n  \
        vpcflow report AWSLogs/ --map eni-map.csv --policy policy.toml -o report.html\n  \
        vpcflow report logs/ --map tasks.json --map enis.json --policy policy.toml --since 2026-11-01 -o nov.html\n  \
        vpcflow report flows.parquet --map eni-map.csv --policy policy.toml -o - > report.html"
    )]
    Report(report::ReportArgs),
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Where a failed write went: the output file of `convert`, else stdout.
    let target = match &cli.command {
        Command::Convert(args) => args.output_name().to_string(),
        _ => "stdout".to_string(),
    };
    let command = match &cli.command {
        Command::Cat(_) => "cat",
        Command::Convert(_) => "convert",
        Command::Map(_) => "map",
        Command::Audit(_) => "audit",
        Command::Learn(_) => "learn",
        Command::Query(_) => "query",
        Command::Sql(_) => "sql",
        Command::Report(_) => "report",
    };
    let result = match cli.command {
        Command::Cat(args) => cat::cat(args),
        Command::Convert(args) => convert::convert(args),
        Command::Map(args) => map::map(args),
        Command::Audit(args) => audit::audit(args),
        Command::Learn(args) => learn::learn(args),
        Command::Query(args) => query::query(*args),
        Command::Sql(args) => sql::sql(args),
        Command::Report(args) => report::report(args),
    };
    let (code, error) = match result {
        Ok(code) => (code, None),
        Err(e) if e.is_broken_pipe() => (ExitCode::SUCCESS, None),
        Err(Error::Io(e)) => {
            let _ = io::stdout().flush();
            let words = format!("cannot write {target}: {e}");
            eprintln!("vpcflow: error: {words}");
            (ExitCode::from(2), Some(words))
        }
        Err(e) => {
            let _ = io::stdout().flush();
            let words = summary::error_words(&e);
            eprintln!("vpcflow: error: {words}");
            (ExitCode::from(2), Some(words))
        }
    };
    match summary::write(command, summary::code_number(code), error.as_deref()) {
        Ok(()) => code,
        Err(e) => {
            eprintln!("vpcflow: error: {}", printable(&e, true));
            ExitCode::from(2)
        }
    }
}

/// What a run of the pipeline left for the command to report.
struct Ran<T> {
    value: T,
    totals: Totals,
    /// Some input could not be found or read at all (exit 2).
    unreadable: bool,
}

impl<T> Ran<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Ran<U> {
        Ran {
            value: f(self.value),
            totals: self.totals,
            unreadable: self.unreadable,
        }
    }
}

/// Runs `f` over the configured inputs: reports inputs that could not be found, shows
/// the progress bar, and prints the closing summaries (reading, attribution).
fn execute<T>(
    config: &mut ReadConfig,
    enricher: Option<&Enricher>,
    f: impl FnOnce(&Run, &mut Reporter) -> Result<(T, Totals), Error>,
) -> Result<Ran<T>, Error> {
    let reporter = &mut config.reporter;
    if !config.missing.is_empty() && reporter.strict() {
        return Err(Error::Input(config.missing.join("; ")));
    }
    for m in &config.missing {
        reporter.input_missing(m);
    }
    reporter.start_progress(&config.input.sources);
    let bar = reporter.progress_bar();
    let progress = move |n: u64| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    };
    let run = Run {
        input: &config.input,
        enricher,
        progress: &progress,
    };
    let result = f(&run, reporter);
    reporter.clear_progress();
    let (value, totals) = result?;
    if let Some(error) = no_record(&config.input.sources, &totals, &mut config.reporter) {
        // The summary still says what was read.
        config
            .reporter
            .finish(&totals.scan, &config.input.options)?;
        return Err(error);
    }
    Ok(Ran {
        value,
        totals,
        unreadable: !config.missing.is_empty() || config.reporter.unreadable_files() > 0,
    })
}

/// Inputs that hold lines but yielded no record, each with what it looks like (noted
/// for the closing summary): the error of a run that yielded no record at all (exit 2),
/// else a warning for each.
fn no_record(sources: &[Source], totals: &Totals, reporter: &mut Reporter) -> Option<Error> {
    let dead = |c: &LineCounts| c.records == 0 && c.lines > c.blanks + c.headers;
    let files: Vec<NoRecord> = totals
        .by_source
        .iter()
        .enumerate()
        .filter(|(_, c)| dead(c))
        .filter_map(|(i, c)| Some((sources.get(i)?, c)))
        .map(|(source, c)| NoRecord {
            file: source.display(),
            lines: c.lines,
            rejected: c.rejected,
            looks_like: looks::look_of(source).map(|l| l.to_string()),
        })
        .collect();
    let named: Vec<String> = files
        .iter()
        .map(|f| {
            let looks = match &f.looks_like {
                Some(look) => format!("it looks like {look}"),
                None => "it could not be read again to tell what it looks like".into(),
            };
            format!(
                "{}: no flow-log record in its {} line{} ({} rejected): {looks}",
                f.file,
                f.lines,
                if f.lines == 1 { "" } else { "s" },
                f.rejected
            )
        })
        .collect();
    reporter.no_record(files);
    if dead(&totals.scan.counts) {
        return Some(Error::Input(format!(
            "no flow-log record in the input: {}",
            named.join("; ")
        )));
    }
    for line in &named {
        reporter.warn(line);
    }
    None
}

/// Prints the closing summaries of a run.
fn summarize<T>(config: &mut ReadConfig, ran: &Ran<T>, enriched: bool) -> Result<(), Error> {
    config
        .reporter
        .finish(&ran.totals.scan, &config.input.options)?;
    if enriched {
        config.reporter.attribution(&ran.totals.enrich);
    }
    Ok(())
}

/// The exit code of a run without findings: 2 when an input could not be read at all.
fn exit_code(unreadable: bool) -> ExitCode {
    if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// A table on a terminal, JSON Lines otherwise (for pipes into `jq`).
fn default_format() -> ReportFormat {
    if io::stdout().is_terminal() {
        ReportFormat::Table
    } else {
        ReportFormat::Json
    }
}

/// The terminal width when stdout is a terminal (for tables).
fn terminal_width() -> Option<u16> {
    // A terminal that reports no real size (a pseudo-terminal without one) gets an
    // unwrapped table rather than one squeezed into a few columns.
    io::stdout()
        .is_terminal()
        .then(|| comfy_table::Table::new().width())
        .flatten()
        .filter(|w| *w >= 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
