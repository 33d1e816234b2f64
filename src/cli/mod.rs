//! The command line: clap arguments, their validation into options, running a
//! subcommand, and exit codes. This is the only module that prints or exits.
//!
//! Exit codes (every subcommand): `0` success, `2` usage error, an input that could
//! not be read at all, or (with `--strict`) the first rejected line.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::enrich::{load_map_file, write_map_csv, EniMap, EnrichStats, Enricher};
use crate::format::Layout;
use crate::net::Cidr;
use crate::output::csv::CsvWriter;
use crate::output::jsonl::JsonLinesWriter;
use crate::output::parquet::ParquetWriter;
use crate::output::BatchWriter;
use crate::output::{findings, rows};
use crate::parse::Reject;
use crate::policy::audit::{AuditState, Auditor};
use crate::policy::{CommandLineRules, Policy};
use crate::query::conversations::ConversationState;
use crate::query::{parse_protocol, Filters, Key, Query, QueryState};
use crate::scan::{
    chunk_bytes, plan, scan, scan_parallel, scan_unit, ScanOptions, ScanSink, ScanStats, Unit,
};
use crate::source::{discover, Source};
use crate::Error;

mod report;

use crate::time;
use report::Reporter;

#[derive(Parser, Debug)]
#[command(
    name = "vpcflow",
    version,
    about = "Who is actually talking to my Amazon ECS tasks? Fast answers from AWS VPC Flow Logs.",
    long_about = "Reads AWS VPC Flow Logs (versions 2 to 11, any field order, plain or .gz files, \
                  S3 directory trees, stdin) and prints, converts or analyses them.\n\n\
                  Exit codes: 0 success, 2 usage error or unreadable input."
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
    Cat(CatArgs),
    /// Flag the peers that opened (or tried to open) connections to tasks that the policy
    /// does not allow. Exit 0: no findings; 1: findings; 2: error.
    #[command(after_help = "Examples:\n  \
        vpcflow audit AWSLogs/ --map eni-map.csv --policy policy.toml\n  \
        vpcflow audit logs/ --map tasks.json --map enis.json --vpc-cidr 10.0.0.0/16 --allow-sg sg-0alb\n  \
        vpcflow audit logs/ --map eni-map.csv --policy policy.toml --format json | jq -r .reason")]
    Audit(AuditArgs),
    /// Filter, group and total flow records: who talked to what, how much, when.
    #[command(after_help = "Examples:\n  \
        vpcflow query logs/ --map eni-map.csv --service api --group-by peer --top 10\n  \
        vpcflow query logs/ --action REJECT --group-by dstport,hour\n  \
        vpcflow query logs/ --map eni-map.csv --task 7eed8d14 --group-by peer,dstport --stats\n  \
        vpcflow query logs/ --addr 203.0.113.0/24 --conversations --format json")]
    Query(Box<QueryArgs>),
    /// Merge ENI map files (CSV, describe-tasks, describe-network-interfaces) and print
    /// them as one canonical CSV, or who held each address at one moment.
    #[command(after_help = "Examples:\n  \
        aws ecs describe-tasks --cluster prod --tasks ... > tasks.json\n  \
        aws ec2 describe-network-interfaces --filters Name=vpc-id,Values=vpc-... > enis.json\n  \
        vpcflow map tasks.json enis.json > eni-map.csv\n  \
        vpcflow map eni-map.csv --at 2026-11-01T07:30:00Z")]
    Map(MapArgs),
    /// Convert flow logs to Parquet (zstd) with AWS's Parquet column names and types.
    #[command(after_help = "Examples:\n  \
        vpcflow convert AWSLogs/ -o flows.parquet\n  \
        vpcflow convert flows.log.gz --errors rejected.jsonl -o flows.parquet")]
    Convert(ConvertArgs),
}

/// How flow logs are read: shared by every subcommand that takes INPUT.
#[derive(Args, Debug, Clone)]
struct ReadArgs {
    /// Files (plain or .gz), directories (walked recursively, S3 layouts included), or -
    /// for stdin. Files are processed in sorted path order.
    #[arg(value_name = "INPUT")]
    inputs: Vec<String>,

    /// Field order for input without a header line, e.g. "version srcaddr dstaddr ..." or
    /// AWS's "${version} ${srcaddr} ...". A header line in the input takes precedence.
    /// Default: the AWS default (v2) format.
    #[arg(long, value_name = "FIELDS")]
    fields: Option<String>,

    /// Keep records whose start is at or after T (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T")]
    since: Option<String>,

    /// Keep records whose start is before T (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T")]
    until: Option<String>,

    /// Write every rejected line to FILE as JSON Lines {file, line, byte_offset, error}.
    #[arg(long, value_name = "FILE")]
    errors: Option<String>,

    /// Stop at the first rejected line or damaged file (exit 2).
    #[arg(long)]
    strict: bool,

    /// Print no summary and no progress bar on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Worker threads (default: all cores). Output is the same for any number.
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,

    /// Records per Arrow batch.
    #[arg(long, default_value_t = 8192, value_name = "N", hide = true)]
    batch_size: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum CatFormat {
    Jsonl,
    Csv,
}

/// ENI map options: shared by every subcommand that attributes records.
#[derive(Args, Debug, Clone, Default)]
struct MapOpts {
    /// ENI map file: canonical CSV, `aws ecs describe-tasks` or `aws ec2
    /// describe-network-interfaces` JSON (detected from the content). Repeatable: files are
    /// merged.
    #[arg(long = "map", value_name = "FILE")]
    maps: Vec<String>,

    /// The VPC's CIDR blocks (repeatable): unknown peers inside are `vpc`, outside
    /// `internet`. Default: the private ranges (RFC 1918, RFC 6598, IPv6 ULA).
    #[arg(long = "vpc-cidr", value_name = "CIDR")]
    vpc_cidrs: Vec<String>,
}

impl MapOpts {
    fn cidrs(&self) -> Result<Vec<Cidr>, Error> {
        self.vpc_cidrs
            .iter()
            .map(|c| {
                c.parse()
                    .map_err(|e| Error::Usage(format!("--vpc-cidr: {e}")))
            })
            .collect()
    }

    /// Loads and merges the map files; a malformed file is an error (exit 2).
    fn load(&self, quiet: bool) -> Result<EniMap, Error> {
        let mut facts = Vec::new();
        for path in &self.maps {
            facts.extend(load_map_file(path).map_err(|e| Error::Usage(format!("--map: {e}")))?);
        }
        let map = EniMap::from_facts(facts);
        if !quiet {
            for w in map.warnings() {
                eprintln!("vpcflow: warning: {w}");
            }
        }
        Ok(map)
    }
}

#[derive(Args, Debug)]
struct CatArgs {
    #[command(flatten)]
    read: ReadArgs,

    #[command(flatten)]
    map: MapOpts,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CatFormat::Jsonl)]
    format: CatFormat,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
    Csv,
}

#[derive(Args, Debug)]
struct AuditArgs {
    #[command(flatten)]
    read: ReadArgs,

    #[command(flatten)]
    map: MapOpts,

    /// The policy file (TOML): who may connect to the tasks of each service.
    #[arg(long, value_name = "FILE")]
    policy: Option<String>,

    /// Allow connections from ENIs in this security group into every task (repeatable;
    /// added to the policy's [defaults]).
    #[arg(long = "allow-sg", value_name = "SG")]
    allow_sg: Vec<String>,

    /// Allow connections from this CIDR block ("vpc" for the VPC's) into every task
    /// (repeatable; added to the policy's [defaults]).
    #[arg(long = "allow-cidr", value_name = "CIDR")]
    allow_cidr: Vec<String>,

    /// Allow connections from tasks of this service into every task (repeatable; added
    /// to the policy's [defaults]).
    #[arg(long = "allow-service", value_name = "SERVICE")]
    allow_service: Vec<String>,

    /// Output format. Default: table on a terminal, json (JSON Lines) otherwise.
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
}

#[derive(Args, Debug)]
struct QueryArgs {
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
    /// srcport, dstport, protocol, action, status, direction, minute, hour, day.
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

#[derive(Args, Debug)]
struct MapArgs {
    /// Map files to merge.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,

    /// Print only the rows in force at time T (RFC 3339 or unix seconds): who held each
    /// address then.
    #[arg(long, value_name = "T")]
    at: Option<String>,
}

#[derive(Args, Debug)]
struct ConvertArgs {
    #[command(flatten)]
    read: ReadArgs,

    /// The Parquet file to write.
    #[arg(long, short = 'o', value_name = "OUT.parquet")]
    output: String,
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
    let result = match cli.command {
        Command::Cat(args) => cat(args),
        Command::Convert(args) => convert(args),
        Command::Map(args) => map_cmd(args),
        Command::Audit(args) => audit(args),
        Command::Query(args) => query_cmd(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vpcflow: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The validated reading options.
struct ReadConfig {
    sources: Vec<Source>,
    missing: Vec<String>,
    scan: ScanOptions,
    reporter: Reporter,
}

impl ReadArgs {
    /// Validates the arguments; `default_stdin` reads stdin when no INPUT is given.
    fn config(&self, default_stdin: bool) -> Result<ReadConfig, Error> {
        let layout = match &self.fields {
            Some(spec) => Some(Arc::new(
                Layout::parse_spec(spec).map_err(|e| Error::Usage(format!("--fields: {e}")))?,
            )),
            None => None,
        };
        let since = self
            .since
            .as_deref()
            .map(|t| time::parse_time(t).map_err(|e| Error::Usage(format!("--since: {e}"))))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|t| time::parse_time(t).map_err(|e| Error::Usage(format!("--until: {e}"))))
            .transpose()?;
        if self.batch_size == 0 {
            return Err(Error::Usage("--batch-size must be at least 1".into()));
        }
        let mut inputs = self.inputs.clone();
        if inputs.is_empty() {
            if !default_stdin {
                return Err(Error::Usage("no INPUT given (use - for stdin)".into()));
            }
            inputs.push("-".into());
        }
        let (sources, errors) = discover(&inputs);
        let missing = errors
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.error))
            .collect();
        let reporter = Reporter::new(self.errors.as_deref(), self.strict, self.quiet)?;
        Ok(ReadConfig {
            sources,
            missing,
            scan: ScanOptions {
                batch_size: self.batch_size,
                layout,
                since,
                until,
                ..ScanOptions::default()
            },
            reporter,
        })
    }
}

/// Feeds batches (enriched when a map is given) to a writer and problems to the
/// reporter.
struct WriterSink<'a> {
    writer: &'a mut dyn BatchWriter,
    reporter: &'a mut Reporter,
    enricher: Option<&'a Enricher>,
    enriched: EnrichStats,
}

impl ScanSink for WriterSink<'_> {
    fn batch(&mut self, _source: &Source, batch: RecordBatch) -> Result<(), Error> {
        match self.enricher {
            Some(e) => {
                let (batch, stats) = e.enrich(&batch);
                self.enriched += stats;
                self.writer.write(&batch)?;
            }
            None => self.writer.write(&batch)?,
        }
        Ok(())
    }
    fn reject(&mut self, source: &Source, reject: &Reject) -> Result<(), Error> {
        self.reporter.reject(source, reject)
    }
    fn file_error(&mut self, source: &Source, message: &str) -> Result<(), Error> {
        self.reporter.file_error(source, message)
    }
    fn progress(&mut self, raw_bytes: u64) {
        self.reporter.progress(raw_bytes);
    }
}

/// Reports inputs that could not be found or listed; fatal with `--strict`.
fn report_missing(reporter: &mut Reporter, missing: &[String]) -> Result<(), Error> {
    for m in missing {
        reporter.input_missing(m);
    }
    if !missing.is_empty() && reporter.strict() {
        return Err(Error::Input(missing.join("; ")));
    }
    Ok(())
}

/// Runs a scan into `writer` and reports; shared by `cat` and `convert`.
fn read_into(
    config: ReadConfig,
    writer: &mut dyn BatchWriter,
    enricher: Option<&Enricher>,
) -> Result<ExitCode, Error> {
    let ReadConfig {
        sources,
        missing,
        scan: options,
        mut reporter,
    } = config;
    report_missing(&mut reporter, &missing)?;
    reporter.start_progress(&sources);
    let mut sink = WriterSink {
        writer,
        reporter: &mut reporter,
        enricher,
        enriched: EnrichStats::default(),
    };
    let stats: ScanStats = scan(&sources, &options, &mut sink)?;
    let enriched = sink.enriched;
    writer.finish()?;
    reporter.finish(&stats, &options)?;
    if enricher.is_some() {
        reporter.attribution(&enriched);
    }
    let unreadable = !missing.is_empty() || reporter.unreadable_files() > 0;
    Ok(if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn cat(args: CatArgs) -> Result<ExitCode, Error> {
    let config = args.read.config(true)?;
    let cidrs = args.map.cidrs()?;
    let enricher = if args.map.maps.is_empty() {
        None
    } else {
        Some(Enricher::new(
            Arc::new(args.map.load(args.read.quiet)?),
            &cidrs,
        ))
    };
    let stdout = io::stdout();
    let out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut writer: Box<dyn BatchWriter> = match args.format {
        CatFormat::Jsonl => Box::new(JsonLinesWriter::new(out)),
        CatFormat::Csv => Box::new(CsvWriter::new(out)),
    };
    read_into(config, writer.as_mut(), enricher.as_ref())
}

fn map_cmd(args: MapArgs) -> Result<ExitCode, Error> {
    let at = args
        .at
        .as_deref()
        .map(|t| time::parse_time(t).map_err(|e| Error::Usage(format!("--at: {e}"))))
        .transpose()?;
    let opts = MapOpts {
        maps: args.files,
        ..MapOpts::default()
    };
    let map = opts.load(false)?;
    let rows = map
        .rows()
        .iter()
        .filter(|r| at.is_none_or(|t| r.holds_at(t)));
    let stdout = io::stdout();
    write_map_csv(rows, stdout.lock())?;
    Ok(ExitCode::SUCCESS)
}

fn convert(args: ConvertArgs) -> Result<ExitCode, Error> {
    let config = args.read.config(false)?;
    if config
        .sources
        .iter()
        .any(|s| matches!(s, Source::File(p) if p.as_os_str() == args.output.as_str()))
    {
        return Err(Error::Usage(format!(
            "{}: the output is also an input",
            args.output
        )));
    }
    let mut writer = ParquetWriter::create(&args.output)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", args.output)))?;
    let code = read_into(config, &mut writer, None)?;
    let _ = io::stderr().flush();
    Ok(code)
}

/// Collects what one worker's scan of one source produced: a fold state, and the
/// rejected lines and file errors to replay in source order.
struct FoldSink<'a, S> {
    enricher: Option<&'a Enricher>,
    /// The progress bar (on a terminal), advanced by the bytes this worker read.
    bar: Option<indicatif::ProgressBar>,
    read: u64,
    add: &'a (dyn Fn(&mut S, &RecordBatch) + Sync),
    state: S,
    enriched: EnrichStats,
    rejects: Vec<Reject>,
    file_errors: Vec<String>,
}

impl<S> ScanSink for FoldSink<'_, S> {
    fn batch(&mut self, _source: &Source, batch: RecordBatch) -> Result<(), Error> {
        match self.enricher {
            Some(e) => {
                let (batch, stats) = e.enrich(&batch);
                self.enriched += stats;
                (self.add)(&mut self.state, &batch);
            }
            None => (self.add)(&mut self.state, &batch),
        }
        Ok(())
    }
    fn reject(&mut self, _source: &Source, reject: &Reject) -> Result<(), Error> {
        self.rejects.push(reject.clone());
        Ok(())
    }
    fn file_error(&mut self, _source: &Source, message: &str) -> Result<(), Error> {
        self.file_errors.push(message.to_string());
        Ok(())
    }
    fn progress(&mut self, raw_bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(raw_bytes.saturating_sub(self.read));
        }
        self.read = raw_bytes;
    }
}

/// What a parallel fold over the inputs produced.
struct Folded<S> {
    state: S,
    stats: ScanStats,
    enriched: EnrichStats,
    options: ScanOptions,
    reporter: Reporter,
    unreadable: bool,
}

/// Reads every input on `threads` workers (one per file), folds each file's (enriched)
/// batches into its own state with `add`, then merges the states and replays rejected
/// lines and file errors in source order: the result is the same for any thread count.
fn fold_inputs<S: Default + Send>(
    config: ReadConfig,
    threads: usize,
    enricher: Option<&Enricher>,
    add: &(dyn Fn(&mut S, &RecordBatch) + Sync),
    merge: impl Fn(&mut S, S),
) -> Result<Folded<S>, Error> {
    let ReadConfig {
        sources,
        missing,
        scan: options,
        mut reporter,
    } = config;
    report_missing(&mut reporter, &missing)?;
    let started = std::time::Instant::now();
    let (units, skipped) = plan(&sources, &options, chunk_bytes());
    reporter.start_progress(&sources);
    let bar = reporter.progress_bar();
    let make = || FoldSink {
        enricher,
        bar: bar.clone(),
        read: 0,
        add,
        state: S::default(),
        enriched: EnrichStats::default(),
        rejects: Vec::new(),
        file_errors: Vec::new(),
    };
    let pool = pool(threads)?;
    let results = pool.install(|| scan_parallel(&units, &options, make));
    let mut state = S::default();
    let mut stats = ScanStats {
        files_skipped: skipped,
        ..ScanStats::default()
    };
    let mut enriched = EnrichStats::default();
    // In unit order: a chunk decoded with a layout other than the one in force where
    // it starts (a header line in an earlier chunk changed it) is decoded again; line
    // numbers of chunks continue from the chunks before them.
    let mut layout_here: Option<Arc<Layout>> = None;
    let mut lines_before = 0;
    for (unit, (mut sink, mut result)) in units.iter().zip(results) {
        let first = unit.range.is_none_or(|r| r.0 == 0);
        if first {
            lines_before = 0;
        } else if let Ok(r) = &result {
            if r.start_layout != layout_here {
                let again = Unit {
                    layout: layout_here.clone(),
                    ..unit.clone()
                };
                sink = make();
                result = pool.install(|| scan_unit(&again, &options, &mut sink));
            }
        }
        let source = &unit.source;
        for r in &sink.rejects {
            let r = Reject {
                line: r.line + lines_before,
                ..r.clone()
            };
            reporter.reject(source, &r)?;
        }
        for e in &sink.file_errors {
            reporter.file_error(source, e)?;
        }
        let result = result?;
        lines_before += result.stats.counts.lines;
        layout_here = result.end_layout;
        stats += result.stats;
        enriched += sink.enriched;
        merge(&mut state, sink.state);
    }
    stats.elapsed = started.elapsed();
    drop(bar);
    reporter.clear_progress();
    let unreadable = !missing.is_empty() || reporter.unreadable_files() > 0;
    Ok(Folded {
        state,
        stats,
        enriched,
        options,
        reporter,
        unreadable,
    })
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

/// A rayon pool of `threads` workers (0: one per core).
fn pool(threads: usize) -> Result<rayon::ThreadPool, Error> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Usage(format!("--threads: {e}")))
}

/// The columns the audit reads (projection pushdown).
const AUDIT_COLUMNS: [&str; 18] = [
    "interface_id",
    "srcaddr",
    "dstaddr",
    "pkt_srcaddr",
    "pkt_dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "tcp_flags",
    "action",
    "packets",
    "bytes",
    "start",
    "end",
    "flow_direction",
    "ecs_task_arn",
    "ecs_service_name",
    "ecs_cluster_name",
];

fn audit(args: AuditArgs) -> Result<ExitCode, Error> {
    let config = args.read.config(true)?;
    let cidrs = args.map.cidrs()?;
    let extra = CommandLineRules {
        security_groups: args.allow_sg.clone(),
        cidrs: args.allow_cidr.clone(),
        services: args.allow_service.clone(),
    };
    let policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Usage(format!("--policy: cannot read {path}: {e}")))?;
            Policy::parse(path, &text, &cidrs, &extra)
        }
        None if !extra.is_empty() => Policy::from_command_line(&cidrs, &extra),
        None => {
            return Err(Error::Usage(
                "audit needs --policy FILE, or rules for every task with --allow-sg, \
                 --allow-cidr or --allow-service"
                    .into(),
            ))
        }
    }
    .map_err(|e| Error::Usage(format!("--policy: {e}")))?;
    let map = Arc::new(args.map.load(args.read.quiet)?);
    policy
        .check_against(args.policy.as_deref().unwrap_or("command line"), &map)
        .map_err(|e| Error::Usage(format!("--policy: {e}")))?;
    let enricher = Enricher::new(map.clone(), &policy.vpc_cidrs);
    let auditor = Auditor {
        policy: &policy,
        map: &map,
    };

    let mut config = config;
    config.scan.projection = Some(Arc::new(
        AUDIT_COLUMNS.iter().map(|c| c.to_string()).collect(),
    ));
    let Folded {
        state,
        stats,
        enriched,
        options,
        mut reporter,
        unreadable,
    } = fold_inputs(
        config,
        args.read.threads,
        Some(&enricher),
        &|state: &mut AuditState, batch| state.add(batch, &auditor),
        |a, b| a.merge(b),
    )?;
    let (findings, summary) = state.finish(&auditor);
    let format = args.format.unwrap_or_else(default_format);
    let stdout = io::stdout();
    let out = io::BufWriter::new(stdout.lock());
    match format {
        ReportFormat::Json => findings::write_json(&findings, out)?,
        ReportFormat::Csv => findings::write_csv(&findings, out)?,
        ReportFormat::Table => findings::write_table(&findings, terminal_width(), out)?,
    }
    reporter.finish(&stats, &options)?;
    reporter.attribution(&enriched);
    reporter.audit(&summary);
    Ok(if unreadable {
        ExitCode::from(2)
    } else if summary.findings() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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

fn query_cmd(args: QueryArgs) -> Result<ExitCode, Error> {
    let query = args.query()?;
    let mut config = args.read.config(true)?;
    let cidrs = args.map.cidrs()?;
    // Attribution is needed only for task/service/cluster/peer/direction.
    let enricher = if query.needs_enrichment() {
        Some(Enricher::new(
            Arc::new(args.map.load(args.read.quiet)?),
            &cidrs,
        ))
    } else {
        None
    };
    let mut projection = query.projection();
    if args.conversations {
        projection.extend(
            [
                "interface_id",
                "srcaddr",
                "dstaddr",
                "srcport",
                "dstport",
                "protocol",
                "tcp_flags",
                "action",
            ]
            .iter()
            .map(|c| c.to_string()),
        );
    }
    config.scan.projection = Some(Arc::new(projection));
    let threads = args.read.threads;
    let (rows, folded_stats, enriched, options, mut reporter, unreadable) = if args.conversations {
        let f = fold_inputs(
            config,
            threads,
            enricher.as_ref(),
            &|s: &mut ConversationState, b| s.add(b, &query.filters),
            |a, b| a.merge(b),
        )?;
        (
            f.state.finish(args.top),
            f.stats,
            f.enriched,
            f.options,
            f.reporter,
            f.unreadable,
        )
    } else {
        let f = fold_inputs(
            config,
            threads,
            enricher.as_ref(),
            &|s: &mut QueryState, b| s.add(b, &query),
            |a, b| a.merge(b),
        )?;
        let rows = f
            .state
            .finish(&query, args.top)
            .iter()
            .map(|r| r.columns())
            .collect();
        (
            rows,
            f.stats,
            f.enriched,
            f.options,
            f.reporter,
            f.unreadable,
        )
    };
    let mut columns: Vec<&str> = query.keys.iter().map(|k| k.name()).collect();
    columns.extend(["records", "packets", "bytes", "first_seen", "last_seen"]);
    let format = args.format.unwrap_or_else(default_format);
    let stdout = io::stdout();
    let out = io::BufWriter::new(stdout.lock());
    match format {
        ReportFormat::Json => rows::write_json(&rows, out)?,
        ReportFormat::Csv => rows::write_csv(&rows, &columns, out)?,
        ReportFormat::Table => rows::write_table(&rows, &columns, terminal_width(), out)?,
    }
    reporter.finish(&folded_stats, &options)?;
    if enricher.is_some() {
        reporter.attribution(&enriched);
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
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
