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
use crate::output::findings;
use crate::output::jsonl::JsonLinesWriter;
use crate::output::parquet::ParquetWriter;
use crate::output::BatchWriter;
use crate::parse::Reject;
use crate::policy::audit::{AuditState, Auditor};
use crate::policy::{CommandLineRules, Policy};
use crate::scan::{scan, scan_parallel, ScanOptions, ScanSink, ScanStats};
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
    for m in &missing {
        reporter.input_missing(m);
    }
    if !missing.is_empty() && reporter.strict() {
        return Err(Error::Input(missing.join("; ")));
    }
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

/// Collects what one worker's scan of one source produced for the audit.
struct AuditSink<'a> {
    enricher: &'a Enricher,
    auditor: &'a Auditor<'a>,
    state: AuditState,
    enriched: EnrichStats,
    rejects: Vec<Reject>,
    file_errors: Vec<String>,
}

impl ScanSink for AuditSink<'_> {
    fn batch(&mut self, _source: &Source, batch: RecordBatch) -> Result<(), Error> {
        let (batch, stats) = self.enricher.enrich(&batch);
        self.enriched += stats;
        self.state.add(&batch, self.auditor);
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
}

/// A rayon pool of `threads` workers (0: one per core).
fn pool(threads: usize) -> Result<rayon::ThreadPool, Error> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Usage(format!("--threads: {e}")))
}

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

    let ReadConfig {
        sources,
        missing,
        scan: options,
        mut reporter,
    } = config;
    for m in &missing {
        reporter.input_missing(m);
    }
    if !missing.is_empty() && reporter.strict() {
        return Err(Error::Input(missing.join("; ")));
    }
    let started = std::time::Instant::now();
    let results = pool(args.read.threads)?.install(|| {
        scan_parallel(&sources, &options, || AuditSink {
            enricher: &enricher,
            auditor: &auditor,
            state: AuditState::default(),
            enriched: EnrichStats::default(),
            rejects: Vec::new(),
            file_errors: Vec::new(),
        })
    });
    // Reduce in source order, replaying what each worker collected.
    let mut state = AuditState::default();
    let mut stats = ScanStats::default();
    let mut enriched = EnrichStats::default();
    for (source, (sink, result)) in sources.iter().zip(results) {
        for r in &sink.rejects {
            reporter.reject(source, r)?;
        }
        for e in &sink.file_errors {
            reporter.file_error(source, e)?;
        }
        stats += result?;
        enriched += sink.enriched;
        state.merge(sink.state);
    }
    stats.elapsed = started.elapsed();
    let (findings, summary) = state.finish(&auditor);
    let stdout = io::stdout();
    let format = args.format.unwrap_or(if stdout.is_terminal() {
        ReportFormat::Table
    } else {
        ReportFormat::Json
    });
    let out = io::BufWriter::new(stdout.lock());
    match format {
        ReportFormat::Json => findings::write_json(&findings, out)?,
        ReportFormat::Csv => findings::write_csv(&findings, out)?,
        ReportFormat::Table => {
            let width = io::stdout()
                .is_terminal()
                .then(|| comfy_table::Table::new().width())
                .flatten();
            findings::write_table(&findings, width, out)?
        }
    }
    reporter.finish(&stats, &options)?;
    reporter.attribution(&enriched);
    reporter.audit(&summary);
    let unreadable = !missing.is_empty() || reporter.unreadable_files() > 0;
    Ok(if unreadable {
        ExitCode::from(2)
    } else if summary.findings() > 0 {
        ExitCode::from(1)
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
