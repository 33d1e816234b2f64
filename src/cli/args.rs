//! Arguments shared by the subcommands (how flow logs are read, the ENI map), and
//! their validation into the library's configuration.

use std::sync::Arc;

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use vpcflow::enrich::{load_map_file, EniMap, Enricher};
use vpcflow::format::Layout;
use vpcflow::net::Cidr;
use vpcflow::parse::{DEFAULT_MAX_LINE_BYTES, MAX_MAX_LINE_BYTES};
use vpcflow::pipeline::{Input, MAX_THREADS};
use vpcflow::scan::ScanOptions;
use vpcflow::source::Source;
use vpcflow::source::{discover_all, input_named_by, FileId};
use vpcflow::text::printable;
use vpcflow::{time, Error};

use super::reporter::Reporter;

/// How flow logs are read: shared by every subcommand that takes INPUT.
#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Files (plain or .gz), directories (walked recursively, S3 layouts included), or -
    /// for stdin. Files are processed in sorted path order.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Field order for input without a header line, e.g. "version srcaddr dstaddr ..." or
    /// AWS's "${version} ${srcaddr} ...". A header line in the input takes precedence.
    /// Default: the AWS default (v2) format.
    #[arg(long, value_name = "FIELDS")]
    pub fields: Option<String>,

    /// Keep records whose start is at or after T (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,

    /// Keep records whose start is before T (RFC 3339 or unix seconds).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,

    /// Write every rejected line to FILE as JSON Lines {file, line, byte_offset, error}.
    #[arg(long, value_name = "FILE")]
    pub errors: Option<String>,

    /// Write the run's summary to FILE as one JSON object: line accounting, files,
    /// bytes, damage, map coverage, what was not judged and why, findings per rule, the
    /// exit code and its reason.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<String>,

    /// Stop at the first rejected line or damaged file (exit 2).
    #[arg(long)]
    pub strict: bool,

    /// Print no summary, warnings or progress bar on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Worker threads (default: all cores; at most 256). Output is the same for any
    /// number.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Longest line accepted, in bytes; longer lines are rejected with their position
    /// and skipped.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,

    /// Records per Arrow batch.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE, value_name = "N", hide = true)]
    pub batch_size: usize,
}

/// Records per Arrow batch unless `--batch-size` says otherwise.
const DEFAULT_BATCH_SIZE: usize = 8192;

impl ReadArgs {
    /// The reading options of `inputs` with every other option at its default (for a
    /// command that reads flow logs beside its own arguments: `map --coverage`).
    pub fn of(
        inputs: Vec<String>,
        fields: Option<String>,
        quiet: bool,
        summary: Option<String>,
    ) -> ReadArgs {
        ReadArgs {
            inputs,
            fields,
            since: None,
            until: None,
            errors: None,
            summary,
            strict: false,
            quiet,
            threads: 0,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// The validated reading options.
pub struct ReadConfig {
    pub input: Input,
    /// Inputs that could not be found or listed, in words.
    pub missing: Vec<String>,
    pub reporter: Reporter,
}

impl ReadArgs {
    /// Validates the arguments; `default_stdin` reads stdin when no INPUT is given.
    pub fn config(&self, default_stdin: bool) -> Result<ReadConfig, Error> {
        let layout = match &self.fields {
            Some(spec) => Some(Arc::new(
                Layout::parse_spec(spec).map_err(|e| Error::Usage(format!("--fields: {e}")))?,
            )),
            None => None,
        };
        let (since, until) = self.window()?;
        if !(1..=MAX_MAX_LINE_BYTES).contains(&self.max_line_bytes) {
            return Err(Error::Usage(format!(
                "--max-line-bytes must be between 1 and {MAX_MAX_LINE_BYTES}"
            )));
        }
        if self.batch_size == 0 {
            return Err(Error::Usage("--batch-size must be at least 1".into()));
        }
        let inputs = self.input_names(default_stdin)?;
        let found = discover_all(&inputs, since, until);
        let sources = found.sources;
        let missing = found.errors.iter().map(|e| e.to_string()).collect();
        // An output that is also an input would be truncated before it is read, or
        // read while it is written.
        if let Some(path) = &self.errors {
            refuse_output_over_input(&sources, "--errors", path)?;
        }
        if let Some(path) = &self.summary {
            refuse_output_over_input(&sources, "--summary", path)?;
            super::summary::enable(path);
        }
        if let Some(input) = FileId::of_stdout().and_then(|id| input_named_by(&sources, &id)) {
            return Err(Error::Usage(format!(
                "standard output is the input file {}; write the output elsewhere",
                input.display()
            )));
        }
        let reporter = Reporter::new(self.errors.as_deref(), self.strict, self.quiet)?;
        for (dir, first) in &found.repeated_dirs {
            reporter.warn(&format!(
                "{} skipped: it is the directory {} again (a symbolic link loop or a second \
                 way in), whose files are read once",
                vpcflow::source::path_text(dir),
                vpcflow::source::path_text(first)
            ));
        }
        let mut input = Input::new(
            sources,
            ScanOptions {
                batch_size: self.batch_size,
                layout,
                since,
                until,
                max_line_bytes: self.max_line_bytes,
                ..ScanOptions::default()
            },
        );
        input.threads = self.threads;
        if self.threads > MAX_THREADS {
            reporter.warn(&format!(
                "--threads {} is more than the {MAX_THREADS} allowed; using {MAX_THREADS}",
                self.threads
            ));
            input.threads = MAX_THREADS;
        }
        Ok(ReadConfig {
            input,
            missing,
            reporter,
        })
    }

    /// `--since` and `--until`, checked to be in order.
    fn window(&self) -> Result<(Option<i64>, Option<i64>), Error> {
        let time_arg = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|t| {
                    time::parse_window_time(t).map_err(|e| Error::Usage(format!("--{flag}: {e}")))
                })
                .transpose()
        };
        let since = time_arg("since", &self.since)?;
        let until = time_arg("until", &self.until)?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(Error::Usage(format!(
                    "--since {} is not before --until {}",
                    self.since.as_deref().unwrap_or_default(),
                    self.until.as_deref().unwrap_or_default()
                )));
            }
        }
        Ok((since, until))
    }

    /// The INPUT names, `-` (stdin) when none is given and something is piped in.
    fn input_names(&self, default_stdin: bool) -> Result<Vec<String>, Error> {
        let mut inputs = self.inputs.clone();
        if inputs.is_empty() {
            if !default_stdin {
                return Err(Error::Usage("no INPUT given (use - for stdin)".into()));
            }
            // Waiting for someone to type flow logs helps nobody: stdin is read
            // without `-` only when something is piped in.
            if std::io::stdin().is_terminal() {
                return Err(Error::Usage(
                    "no INPUT given: name flow-log files or directories, or pipe them in \
                     (`-` reads the terminal); see --help"
                        .into(),
                ));
            }
            inputs.push("-".into());
        }
        Ok(inputs)
    }
}

/// Refuses an output file (`what`: the option that names it) that is the same file as
/// one of the inputs, however either is spelled.
pub fn refuse_output_over_input(sources: &[Source], what: &str, path: &str) -> Result<(), Error> {
    let Some(id) = FileId::of(std::path::Path::new(path)) else {
        return Ok(());
    };
    match input_named_by(sources, &id) {
        Some(input) => Err(Error::Usage(format!(
            "{what} {path} is the input file {}; it would be overwritten before it is read",
            input.display()
        ))),
        None => Ok(()),
    }
}

/// ENI map options: shared by every subcommand that attributes records.
#[derive(Args, Debug, Clone, Default)]
pub struct MapOpts {
    /// ENI map source (detected from the content, plain or gzip): canonical CSV,
    /// `aws ecs describe-tasks`, `aws ec2 describe-network-interfaces`, ECS task state
    /// change events, CloudTrail (files, a trail's S3 tree, lookup-events), AWS Config
    /// history; a file, a directory or s3://bucket/prefix. Repeatable: sources are merged.
    #[arg(long = "map", value_name = "FILE")]
    pub maps: Vec<String>,

    /// The VPC's CIDR blocks (repeatable): unknown peers inside are `vpc`, outside
    /// `internet`. Default: the private ranges (RFC 1918, RFC 6598, IPv6 ULA).
    #[arg(long = "vpc-cidr", value_name = "CIDR")]
    pub vpc_cidrs: Vec<String>,
}

impl MapOpts {
    pub fn cidrs(&self) -> Result<Vec<Cidr>, Error> {
        self.vpc_cidrs
            .iter()
            .map(|c| {
                c.parse()
                    .map_err(|e| Error::Usage(format!("--vpc-cidr: {e}")))
            })
            .collect()
    }

    /// Loads and merges the map files; a malformed file is an error (exit 2). What was
    /// skipped in them and what does not fit together is printed as warnings.
    pub fn load(&self, quiet: bool) -> Result<EniMap, Error> {
        self.load_as("--map", quiet)
    }

    /// [`MapOpts::load`], with errors named after `flag` (`vpcflow sql --map-file`).
    pub fn load_as(&self, flag: &str, quiet: bool) -> Result<EniMap, Error> {
        let mut all = vpcflow::enrich::Loaded::default();
        for path in &self.maps {
            all.extend(load_map_file(path).map_err(|e| Error::Usage(format!("{flag}: {e}")))?);
        }
        let warnings = all.warnings;
        let map = EniMap::from_facts(all.facts);
        if !quiet {
            for w in warnings.iter().chain(map.warnings()) {
                eprintln!("vpcflow: warning: {}", printable(w, true));
            }
        }
        Ok(map)
    }

    /// The enricher of the map files (an empty map when none is given).
    pub fn enricher(&self, quiet: bool) -> Result<Enricher, Error> {
        if !self.maps.is_empty() {
            super::summary::note(|s| s.map_given = true);
        }
        Ok(Enricher::new(Arc::new(self.load(quiet)?), &self.cidrs()?))
    }
}

/// Output formats of the audit and the queries.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

/// Output formats of findings (`audit`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FindingsFormat {
    /// A table per service, for people.
    Table,
    /// JSON Lines, one finding a line.
    Json,
    /// CSV with a header row.
    Csv,
    /// AWS Security Finding Format: JSON Lines of `{"Findings": [...]}` documents (at
    /// most 100 findings, one account and region each) for `aws securityhub
    /// batch-import-findings --cli-input-json`.
    Asff,
    /// OCSF 1.1.0 Detection Findings (class 2004), one a line, for Security Lake.
    Ocsf,
}

impl From<ReportFormat> for FindingsFormat {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Table => FindingsFormat::Table,
            ReportFormat::Json => FindingsFormat::Json,
            ReportFormat::Csv => FindingsFormat::Csv,
        }
    }
}

/// Where findings sent to Security Hub or Security Lake are filed when their records
/// do not say (`--format asff`, `--format ocsf`).
#[derive(Args, Debug, Default)]
pub struct PlaceOpts {
    /// The AWS account (12 digits) of findings whose records have no account_id field
    /// and whose task ARN is not known (--format asff and ocsf).
    #[arg(long = "aws-account", value_name = "ACCOUNT")]
    pub aws_account: Option<String>,

    /// The AWS region of findings whose records have no region field and whose task
    /// ARN is not known (--format asff and ocsf).
    #[arg(long = "region", value_name = "REGION")]
    pub region: Option<String>,
}

impl PlaceOpts {
    /// The place they give, checked: an account is 12 digits, a region lower-case
    /// letters, digits and dashes (`us-east-1`).
    pub fn place(&self) -> Result<vpcflow::enrich::place::Place, Error> {
        if let Some(a) = &self.aws_account {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Usage(format!(
                    "--aws-account {a:?}: an AWS account id is 12 digits"
                )));
            }
        }
        if let Some(r) = &self.region {
            let ok = r.contains('-')
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(Error::Usage(format!(
                    "--region {r:?}: not an AWS region (such as us-east-1)"
                )));
            }
        }
        Ok(vpcflow::enrich::place::Place {
            account: self.aws_account.clone(),
            region: self.region.clone(),
        })
    }
}
