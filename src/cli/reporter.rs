//! What a run tells the user on stderr: rejected lines, damaged files, a progress bar
//! on a terminal, and the closing summary with its line accounting.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use vpcflow::enrich::EnrichStats;
use vpcflow::error::{FileError, Reject};
use vpcflow::output::human_bytes;
use vpcflow::pipeline::Events;
use vpcflow::policy::audit::AuditSummary;
use vpcflow::scan::{ScanOptions, ScanStats};
use vpcflow::source::Source;
use vpcflow::text::printable;
use vpcflow::Error;

use super::summary::{self, Audit, Coverage, NoRecord, Reading};

/// Rejected lines shown on stderr before the rest are only counted.
const SHOWN_REJECTS: u64 = 10;

pub struct Reporter {
    errors: Option<(String, BufWriter<File>)>,
    strict: bool,
    quiet: bool,
    rejects_seen: u64,
    /// Files that could not be read (by their names: a file read in several units
    /// counts once).
    unreadable: std::collections::BTreeSet<String>,
    /// Files whose reading broke off, and what was lost in each.
    damaged: Vec<String>,
    bar: Option<ProgressBar>,
    /// Inputs that yielded no record (see [`Reporter::no_record`]).
    no_record: Vec<NoRecord>,
}

#[derive(Serialize)]
struct RejectRecord<'a> {
    file: &'a str,
    line: u64,
    byte_offset: u64,
    error: &'a str,
}

impl Reporter {
    pub fn new(errors: Option<&str>, strict: bool, quiet: bool) -> Result<Reporter, Error> {
        let errors = match errors {
            Some(path) => {
                let file = File::create(path)
                    .map_err(|e| Error::Usage(format!("--errors: cannot create {path}: {e}")))?;
                Some((path.to_string(), BufWriter::new(file)))
            }
            None => None,
        };
        Ok(Reporter {
            errors,
            strict,
            quiet,
            rejects_seen: 0,
            unreadable: Default::default(),
            damaged: Vec::new(),
            bar: None,
            no_record: Vec::new(),
        })
    }

    /// Inputs that held lines but yielded no record, for the closing summary.
    pub fn no_record(&mut self, files: Vec<NoRecord>) {
        self.no_record = files;
    }

    pub fn strict(&self) -> bool {
        self.strict
    }

    /// Files that could not be opened at all.
    pub fn unreadable_files(&self) -> u64 {
        self.unreadable.len() as u64
    }

    fn println(&self, msg: &str) {
        print_line(self.bar.as_ref(), msg);
    }

    pub fn input_missing(&mut self, message: &str) {
        self.println(&format!("vpcflow: {message}"));
    }

    /// A function that warns as [`Reporter::warn`] does, for code that runs while the
    /// reporter is lent to the pipeline.
    pub fn warner(&self) -> impl Fn(&str) + 'static {
        let quiet = self.quiet;
        let bar = self.bar.clone();
        move |msg: &str| warn_line(quiet, bar.as_ref(), msg)
    }

    /// Says a closing line on stderr as it is, unless `--quiet`.
    pub fn say(&self, msg: &str) {
        if !self.quiet {
            print_line(self.bar.as_ref(), msg);
        }
    }

    /// Tells the user something on stderr, unless `--quiet`.
    pub fn warn(&self, msg: &str) {
        warn_line(self.quiet, self.bar.as_ref(), msg);
    }
}

/// Prints a line on stderr, escaped, above the progress bar if one is shown.
fn print_line(bar: Option<&ProgressBar>, msg: &str) {
    let msg = printable(msg, true);
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{msg}")),
        None => eprintln!("{msg}"),
    }
}

/// A warning, unless `--quiet`.
fn warn_line(quiet: bool, bar: Option<&ProgressBar>, msg: &str) {
    summary::note(|s| s.warnings.push(msg.to_string()));
    if !quiet {
        print_line(bar, &format!("vpcflow: warning: {msg}"));
    }
}

impl Events for Reporter {
    fn reject(&mut self, source: &Source, reject: &Reject) -> Result<(), Error> {
        let path = source.display();
        let message = reject.message();
        let line = format!("{path}:{}: {message}", reject.line);
        if self.strict {
            return Err(Error::Input(format!("{line} (--strict)")));
        }
        self.rejects_seen += 1;
        if self.rejects_seen <= SHOWN_REJECTS {
            self.println(&line);
        }
        if let Some((name, out)) = &mut self.errors {
            let record = RejectRecord {
                file: &path,
                line: reject.line,
                byte_offset: reject.byte_offset,
                error: &message,
            };
            serde_json::to_writer(&mut *out, &record)
                .map_err(io::Error::from)
                .and_then(|_| out.write_all(b"\n"))
                .map_err(|e| Error::Input(format!("--errors: cannot write {name}: {e}")))?;
        }
        Ok(())
    }

    fn file_error(&mut self, source: &Source, error: &FileError) -> Result<(), Error> {
        let line = format!("{}: {error}", source.display());
        if self.strict {
            return Err(Error::Input(format!("{line} (--strict)")));
        }
        match error {
            FileError::Unreadable(_) => {
                self.unreadable.insert(source.display());
            }
            FileError::Interrupted { line, dropped, .. } => self.damaged.push(format!(
                "{} ({})",
                source.display(),
                match dropped.lines {
                    0 => format!("truncated at line {line}"),
                    n => format!("corrupt after line {line}; {n} lines dropped"),
                }
            )),
            _ => {}
        }
        self.println(&format!("vpcflow: {line}"));
        Ok(())
    }
}

impl Reporter {
    /// The files whose reading broke off, each with what was lost.
    pub fn damaged(&self) -> &[String] {
        &self.damaged
    }

    /// Shows a progress bar over the inputs' total size, on a terminal only.
    pub fn start_progress(&mut self, sources: &[Source]) {
        if self.quiet || !io::stderr().is_terminal() {
            return;
        }
        let total: u64 = sources.iter().filter_map(Source::size).sum();
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.bar = Some(bar);
    }

    /// Removes the progress bar (before results are printed).
    pub fn clear_progress(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// The progress bar, if one is shown, for workers to advance.
    pub fn progress_bar(&self) -> Option<ProgressBar> {
        self.bar.clone()
    }

    /// Ends the progress bar, flushes `--errors`, and prints the summary.
    pub fn finish(&mut self, stats: &ScanStats, options: &ScanOptions) -> Result<(), Error> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some((name, out)) = &mut self.errors {
            out.flush()
                .map_err(|e| Error::Input(format!("--errors: cannot write {name}: {e}")))?;
        }
        let reading = Reading::of(
            stats,
            options,
            self.unreadable.iter().cloned().collect(),
            self.damaged.clone(),
            std::mem::take(&mut self.no_record),
        );
        let prose = summary(&reading, self.rejects_seen);
        summary::note(|s| s.reading = Some(reading));
        if !self.quiet {
            eprintln!("{prose}");
            if !self.damaged.is_empty() {
                eprintln!(
                    "vpcflow: damaged input, read only in part: {}",
                    printable(&self.damaged.join(", "), false)
                );
            }
        }
        Ok(())
    }
}

impl Reporter {
    /// The attribution summary of a run that attributed records, and what orientation
    /// could only infer or not decide.
    pub fn attribution(&self, s: &EnrichStats) {
        summary::note(|summary| {
            summary.attribution = Some(*s);
            if summary.map_given && s.records > 0 {
                summary.coverage = Some(Coverage::of(s));
            }
        });
        if self.quiet || s.records == 0 {
            return;
        }
        if s.own_from_map + s.own_from_ecs_fields + s.peer_from_map > 0 {
            self.attributed(s);
        }
        if s.inferred() > 0 {
            self.warn(&format!(
                "{} records: direction inferred from the addresses (their ENI is not in the \
                 map and they carry no flow-direction)",
                s.inferred()
            ));
        }
        if s.undecided > 0 {
            self.warn(&format!(
                "{} records: direction undecided (either address could be their ENI's own; \
                 give --map or --vpc-cidr), so they have no peer",
                s.undecided
            ));
        }
    }

    fn attributed(&self, s: &EnrichStats) {
        let mut line = format!(
            "vpcflow: attribution: {} records; own ENI from the map {}, from ECS fields {}; \
             peer from the map {}",
            s.records, s.own_from_map, s.own_from_ecs_fields, s.peer_from_map
        );
        if s.ecs_disagreements > 0 {
            line += &format!(
                "; {} records whose ECS fields name another task than the map (the map wins)",
                s.ecs_disagreements
            );
        }
        eprintln!("{line}");
    }

    /// What the map covers of the records, in brief (`vpcflow map --coverage` tells
    /// per ENI).
    pub fn coverage(&self, e: &vpcflow::enrich::EnrichStats, no_map: bool) {
        if e.records == 0 || no_map {
            return;
        }
        let c = Coverage::of(e);
        let records = c.records;
        let pct = |n: u64| n as f64 * 100.0 / records as f64;
        let prose = format!(
            "vpcflow: coverage: {} of {} records ({:.1} %) on ENIs the map knows at their \
             time; {} outside every window of their ENI; {} on ENIs no map source names; {} \
             attributed from the ECS fields; {} on task ENIs whose task no source names",
            c.known,
            c.records,
            c.known_percent,
            c.outside_window,
            c.unknown_eni,
            c.from_ecs_fields,
            c.unnamed_task
        );
        let unknown = c.unknown_eni;
        summary::note(|s| s.coverage = Some(c));
        if self.quiet {
            return;
        }
        eprintln!("{prose}");
        if unknown > 0 {
            self.warn(&format!(
                "{} records ({:.1} %) are on ENIs no map source names: {}",
                unknown,
                pct(unknown),
                UNKNOWN_ENI_FIX
            ));
        }
    }

    /// The audit summary.
    pub fn audit(&self, summary: &AuditSummary) {
        // The words are written from the section `--summary` writes.
        let s = Audit::of(summary);
        let n = &s.not_judged;
        let f = &s.findings;
        let mut line = format!(
            "vpcflow: audit: {} task{} audited, {} not audited",
            s.tasks_audited,
            if s.tasks_audited == 1 { "" } else { "s" },
            s.tasks_not_audited
        );
        if !s.services_not_audited.is_empty() {
            line += &format!(
                " (services without a rule: {})",
                s.services_not_audited.join(", ")
            );
        }
        if s.tasks_undirected > 0 {
            line += &format!(
                ", {} with no record whose direction could be decided",
                s.tasks_undirected
            );
        }
        let per_rule: Vec<String> = f
            .by_rule
            .iter()
            .map(|(rule, count)| format!("{rule} {count}"))
            .collect();
        line += &format!(
            "; {} records with nothing to judge (allowed peers); {} connections judged: {} \
             opened by the peer, {} by the task, {} undecided; findings: {} high, {} medium, \
             {} low ({})",
            n.records_admitted,
            s.connections,
            s.opened_by_peers,
            s.opened_by_tasks,
            s.undecided_connections,
            f.high,
            f.medium,
            f.low,
            per_rule.join(", ")
        );
        line += &format!(
            "; state held: {} connections, {}",
            s.connections,
            human_bytes(summary.state_bytes)
        );
        let (quiet, tasks) = (self.quiet, s.tasks_audited > 0);
        let n = n.clone();
        summary::note(|x| x.audit = Some(s));
        if quiet {
            return;
        }
        eprintln!("{}", printable(&line, false));
        if n.records_without_interface > 0 && tasks {
            self.warn(&format!(
                "{} records in layouts without interface-id were not audited (nothing says \
                 which ENI logged them)",
                n.records_without_interface
            ));
        }
        if n.records_without_addresses > 0 && tasks {
            self.warn(&super::audit::without_addresses_words(
                n.records_without_addresses,
            ));
        }
        if n.records_undirected > 0 {
            self.warn(&format!(
                "{} records of audited tasks were not audited: their direction is undecided",
                n.records_undirected
            ));
        }
        if n.records_of_unnamed_tasks > 0 && tasks {
            self.warn(&super::audit::unnamed_words(n.records_of_unnamed_tasks));
        }
        if n.records_aws_unknown > 0 {
            self.warn(&format!(
                "privatelink-bypass could not judge {}",
                vpcflow::policy::audit::aws_unknown_words(n.records_aws_unknown)
            ));
        }
    }
}

/// The closing summary, e.g.
/// `vpcflow: 2 files, 1204 lines = 1190 records + 4 rejected + 3 headers + 7 blank; ...`,
/// in words from the same [`Reading`] that `--summary` writes.
pub fn summary(r: &Reading, shown_from: u64) -> String {
    let c = &r.lines;
    let files = r.files.read;
    let mut s = format!(
        "vpcflow: {} file{}, {} lines = {} records + {} rejected + {} headers + {} blank",
        files,
        if files == 1 { "" } else { "s" },
        c.lines,
        c.records,
        c.rejected,
        c.headers,
        c.blanks,
    );
    if shown_from > SHOWN_REJECTS {
        s += &format!(
            " (first {SHOWN_REJECTS} rejected lines shown{})",
            if options_has_errors_hint(shown_from) {
                "; --errors FILE lists all"
            } else {
                ""
            }
        );
    }
    if let Some(outside) = r.outside_window {
        s += &format!(
            "; {} records outside --since/--until, {} kept",
            outside, r.records_kept
        );
        if r.files.skipped_by_window > 0 {
            s += &format!(
                "; {} files skipped by their path's date",
                r.files.skipped_by_window
            );
        }
    }
    if r.damage.dropped_lines > 0 {
        s += &format!(
            "; {} lines ({} records) of damaged gzip members dropped",
            r.damage.dropped_lines, r.damage.dropped_records
        );
    }
    let failed = r.files.with_read_errors;
    if failed > 0 {
        s += &format!(
            "; {failed} file{} with read errors",
            if failed == 1 { "" } else { "s" }
        );
    }
    s += &format!("; {} read", human_bytes(r.bytes_read));
    if r.text_bytes != r.bytes_read && r.text_bytes > 0 {
        s += &format!(" ({} of text)", human_bytes(r.text_bytes));
    }
    s += &format!(
        " in {:.2} s: {:.1} MB/s, {} records/s",
        r.elapsed_seconds,
        r.megabytes_per_second,
        human_count(r.records_per_second)
    );
    s
}

fn options_has_errors_hint(rejects: u64) -> bool {
    rejects > SHOWN_REJECTS
}

/// `2830000.0` -> `2.83 M`.
pub fn human_count(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2} G", n / 1e9),
        n if n >= 1e6 => format!("{:.2} M", n / 1e6),
        n if n >= 1e3 => format!("{:.1} k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// What names the ENIs a map does not know, in words.
pub const UNKNOWN_ENI_FIX: &str = "ENIs deleted before the map was made, such as those of \
     stopped tasks; add the sources that outlive them (ECS task state change events, the \
     CloudTrail trail, AWS Config history) or log the v7 ECS fields; `vpcflow map SOURCES... \
     --coverage INPUT...` lists them by bytes";
