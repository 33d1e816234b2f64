//! The run's summary as data (`--summary FILE`): what stderr says in prose, as one JSON
//! object for automation. The prose of the reading summary, the coverage and the audit is
//! written from the same sections ([`Reading`], [`Coverage`], [`Audit`]) that go into the
//! file, so the two cannot disagree (the attribution goes in as the library counts it); every warning printed is kept in `warnings`, and the
//! exit code with the error that made it.
//!
//! The sections are gathered while the run goes (the reporter notes each as it prints
//! it) in one place per process: a run is one command.

use std::sync::Mutex;

use serde::Serialize;
use vpcflow::enrich::EnrichStats;
use vpcflow::error::LineCounts;
use vpcflow::policy::audit::{AuditSummary, Check};
use vpcflow::scan::{ScanOptions, ScanStats};
use vpcflow::Error;

/// The summary written by `--summary`.
#[derive(Serialize, Debug, Default)]
pub struct RunSummary {
    /// The subcommand.
    pub command: String,
    /// The process's exit code.
    pub exit_code: u8,
    /// `ok`, `findings` (audit, report: exit 1) or `error`.
    pub verdict: &'static str,
    /// The error that made the run exit 2, as stderr says it.
    pub error: Option<String>,
    pub reading: Option<Reading>,
    pub attribution: Option<EnrichStats>,
    pub coverage: Option<Coverage>,
    pub audit: Option<Audit>,
    /// Every warning printed on stderr, in order.
    pub warnings: Vec<String>,
    /// A map was given (`--map`, `map --coverage`): the coverage section is written.
    #[serde(skip)]
    pub map_given: bool,
}

/// The line accounting, files, bytes and time of a run: the closing summary line.
#[derive(Serialize, Debug, Clone)]
pub struct Reading {
    /// `lines == records + rejected + headers + blanks`.
    pub lines: LineCounts,
    pub files: Files,
    /// Records left out by `--since`/`--until`, and those kept (`null` without a window).
    pub outside_window: Option<u64>,
    pub records_kept: u64,
    /// Bytes read from files and stdin (compressed size for gzip).
    pub bytes_read: u64,
    /// Bytes of text decoded (0 for Parquet).
    pub text_bytes: u64,
    pub elapsed_seconds: f64,
    pub megabytes_per_second: f64,
    pub records_per_second: f64,
    pub damage: Damage,
    /// Inputs that held lines but yielded no record, and what they look like.
    pub no_record: Vec<NoRecord>,
}

#[derive(Serialize, Debug, Clone)]
pub struct Files {
    /// Files (and stdin) read, fully or partly.
    pub read: u64,
    /// Files skipped unread because their path's date is outside the window.
    pub skipped_by_window: u64,
    /// Files that could not be read at all.
    pub unreadable: Vec<String>,
    /// Files whose reading broke off, each with what was lost.
    pub damaged: Vec<String>,
    /// Files with read errors (unreadable or damaged).
    pub with_read_errors: u64,
}

/// What was lost: lines of gzip members that failed their check.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Damage {
    pub dropped_lines: u64,
    pub dropped_records: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct NoRecord {
    pub file: String,
    pub lines: u64,
    pub rejected: u64,
    pub looks_like: Option<String>,
}

/// What the map covers of the records (`--map`).
#[derive(Serialize, Debug, Clone)]
pub struct Coverage {
    pub records: u64,
    /// On ENIs the map knows at their time.
    pub known: u64,
    pub known_percent: f64,
    /// On ENIs the map knows, outside every window of them.
    pub outside_window: u64,
    /// On ENIs no map source names (not judged by rules that need the map).
    pub unknown_eni: u64,
    pub from_ecs_fields: u64,
    pub unnamed_task: u64,
}

/// The audit's summary: what was judged, what was not and why, findings per rule.
#[derive(Serialize, Debug, Clone)]
pub struct Audit {
    pub tasks_audited: u64,
    pub tasks_not_audited: u64,
    pub services_not_audited: Vec<String>,
    pub tasks_undirected: u64,
    pub connections: u64,
    pub opened_by_peers: u64,
    pub opened_by_tasks: u64,
    /// Connections whose opener is undecided: no ingress or egress finding of them.
    pub undecided_connections: u64,
    pub not_judged: NotJudged,
    pub findings: Findings,
}

/// Records that were not judged, by why.
#[derive(Serialize, Debug, Clone)]
pub struct NotJudged {
    /// In layouts without `interface-id`.
    pub records_without_interface: u64,
    /// In layouts without `srcaddr`/`dstaddr`.
    pub records_without_addresses: u64,
    /// Of audited tasks, whose direction is undecided.
    pub records_undirected: u64,
    /// On task ENIs whose task no source names, that no rule could judge.
    pub records_of_unnamed_tasks: u64,
    /// Of `private_aws_access` tasks to addresses nothing says are AWS's or not.
    pub records_aws_unknown: u64,
    /// Allowed peers: nothing to judge.
    pub records_admitted: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct Findings {
    pub total: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    /// Per rule that ran, in the rules' order (a JSON object).
    #[serde(serialize_with = "as_object")]
    pub by_rule: Vec<(String, u64)>,
}

/// Pairs as a JSON object, in their order.
fn as_object<S: serde::Serializer>(pairs: &[(String, u64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// `--summary`'s file, when it was asked for, and what is gathered for it (always: the
/// map and the reading are noted before the options are all read).
static GATHERED: Mutex<(Option<String>, Option<RunSummary>)> = Mutex::new((None, None));

/// Asks for the summary to be written to `path` at the end of the run.
pub fn enable(path: &str) {
    if let Ok(mut g) = GATHERED.lock() {
        g.0 = Some(path.to_string());
    }
}

/// Adds to the summary being gathered.
pub fn note(f: impl FnOnce(&mut RunSummary)) {
    if let Ok(mut g) = GATHERED.lock() {
        f(g.1.get_or_insert_with(RunSummary::default));
    }
}

/// Writes the summary, if one was asked for, with the exit code and error of the run.
pub fn write(command: &str, exit_code: u8, error: Option<&str>) -> Result<(), String> {
    let Some((Some(path), s)) = GATHERED.lock().ok().map(|mut g| (g.0.take(), g.1.take())) else {
        return Ok(());
    };
    let mut s = s.unwrap_or_default();
    s.command = command.to_string();
    s.exit_code = exit_code;
    s.verdict = match exit_code {
        0 => "ok",
        1 => "findings",
        _ => "error",
    };
    s.error = error.map(str::to_string);
    let text = serde_json::to_string_pretty(&s).map_err(|e| e.to_string())? + "\n";
    std::fs::write(&path, text).map_err(|e| format!("--summary: cannot write {path}: {e}"))
}

impl Reading {
    pub fn of(
        stats: &ScanStats,
        options: &ScanOptions,
        unreadable: Vec<String>,
        damaged: Vec<String>,
        no_record: Vec<NoRecord>,
    ) -> Reading {
        let secs = stats.elapsed.as_secs_f64().max(1e-9);
        // Parquet input has no text: its throughput is of the bytes read.
        let bytes = if stats.text_bytes == 0 {
            stats.raw_bytes
        } else {
            stats.text_bytes
        };
        Reading {
            lines: stats.counts,
            files: Files {
                read: stats.files,
                skipped_by_window: stats.files_skipped,
                with_read_errors: (unreadable.len() + damaged.len()) as u64,
                unreadable,
                damaged,
            },
            outside_window: options.windowed().then_some(stats.outside_window),
            records_kept: stats.records_kept(),
            bytes_read: stats.raw_bytes,
            text_bytes: stats.text_bytes,
            elapsed_seconds: secs,
            megabytes_per_second: bytes as f64 / 1e6 / secs,
            records_per_second: stats.counts.records as f64 / secs,
            damage: Damage {
                dropped_lines: stats.dropped.lines,
                dropped_records: stats.dropped.records,
            },
            no_record,
        }
    }
}

impl Coverage {
    pub fn of(e: &EnrichStats) -> Coverage {
        let known = e.own_from_map - e.own_outside_window;
        Coverage {
            records: e.records,
            known,
            known_percent: known as f64 * 100.0 / e.records.max(1) as f64,
            outside_window: e.own_outside_window,
            unknown_eni: e.own_unknown,
            from_ecs_fields: e.own_from_ecs_fields,
            unnamed_task: e.own_unnamed_task,
        }
    }
}

impl Audit {
    pub fn of(s: &AuditSummary) -> Audit {
        let c = &s.counts;
        Audit {
            tasks_audited: s.tasks_audited,
            tasks_not_audited: s.tasks_not_audited,
            services_not_audited: s.services_not_audited.clone(),
            tasks_undirected: s.tasks_undirected,
            connections: s.connections,
            opened_by_peers: s.opened_by_peers,
            opened_by_tasks: s.opened_by_tasks,
            undecided_connections: s.undecided,
            not_judged: NotJudged {
                records_without_interface: c.without_interface,
                records_without_addresses: c.without_addresses,
                records_undirected: c.undirected,
                records_of_unnamed_tasks: c.unnamed_unjudged,
                records_aws_unknown: c.aws_unknown,
                records_admitted: c.admitted,
            },
            findings: Findings {
                total: s.findings(),
                high: s.high,
                medium: s.medium,
                low: s.low,
                by_rule: Check::ALL
                    .iter()
                    .zip(s.by_rule)
                    .filter(|(c, _)| s.checks.has(**c))
                    .map(|(c, n)| (c.as_str().to_string(), n))
                    .collect(),
            },
        }
    }
}

/// The exit code of `code` as a number (`ExitCode` does not say it).
pub fn code_number(code: std::process::ExitCode) -> u8 {
    (0..=u8::MAX)
        .find(|&n| std::process::ExitCode::from(n) == code)
        .unwrap_or(2)
}

/// An error's words as stderr says them.
pub fn error_words(e: &Error) -> String {
    vpcflow::text::printable(&e.to_string(), true).into_owned()
}
