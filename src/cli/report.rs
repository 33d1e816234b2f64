//! `vpcflow report`: the audit's scan, with the report's aggregates folded in the same
//! pass, written as one self-contained HTML page. Exit codes are the audit's.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use vpcflow::output::{human_bytes, writable, write_whole};
use vpcflow::policy::audit;
use vpcflow::report::{self, Limits, Observer, ReportInput};
use vpcflow::Error;

use super::audit::{AuditScan, Audited};

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    scan: AuditScan,

    /// Where to write the page (an .html file), or - for stdout.
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    output: String,
}

pub fn report(args: ReportArgs) -> Result<ExitCode, Error> {
    let target = args.output.as_str();
    let output = (target != "-").then(|| Path::new(target));
    let cannot = |e: io::Error| Error::Usage(format!("--output: cannot write {target}: {e}"));
    // A page that cannot be written is found out before the scan, not after it.
    if let Some(path) = output {
        writable(path).map_err(cannot)?;
    }
    let run = Audited::run(&args.scan, |map| Observer { map: map.clone() }, &[], output)?;
    if run.nothing.is_none() {
        let warnings = warnings(&run);
        let command = command_line();
        let page = report::render(&ReportInput {
            findings: &run.findings,
            summary: &run.summary,
            traffic: &run.extra,
            map: &run.map,
            policy: &run.policy,
            policy_name: args.scan.rules.policy_name(),
            scan: &run.totals.scan,
            warnings: &warnings,
            command: &command,
            generated: chrono::Utc::now().timestamp(),
            limits: Limits::default(),
        });
        if let Some(path) = output {
            write_whole(path, page.as_bytes()).map_err(cannot)?;
            if !args.scan.read.quiet {
                eprintln!(
                    "vpcflow: report: wrote {target} ({})",
                    human_bytes(page.len() as u64)
                );
            }
        } else {
            let mut out = io::stdout().lock();
            out.write_all(page.as_bytes())?;
            out.flush()?;
        }
    }
    run.finish()
}

/// What the page's reader must know before trusting it.
fn warnings(run: &Audited<report::TrafficState>) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(why) = run.unjudged().or_else(|| run.unearned()) {
        w.push(format!("This is not a clean result: {why}."));
    } else if run.summary.counts.aws_unknown > 0 {
        w.push(format!(
            "privatelink-bypass could judge only part of the traffic: {}.",
            audit::aws_unknown_words(run.summary.counts.aws_unknown)
        ));
    }
    for m in &run.config.missing {
        w.push(format!("An input could not be read: {m}."));
    }
    let unreadable = run.config.reporter.unreadable_files();
    if unreadable > 0 {
        w.push(format!(
            "{unreadable} input file{} could not be read (the messages on stderr say why); \
             their records are not in this report.",
            if unreadable == 1 { "" } else { "s" }
        ));
    }
    for d in run.config.reporter.damaged() {
        w.push(format!("Damaged input, read only in part: {d}."));
    }
    // What the map covers: records it cannot attribute are in no service's view.
    let e = &run.totals.enrich;
    if e.own_unknown > 0 && !run.map.is_empty() {
        w.push(format!(
            "{} of {} records are on ENIs that no map source names, and are in no service's \
             view: {}.",
            e.own_unknown,
            e.records,
            super::reporter::UNKNOWN_ENI_FIX
        ));
    }
    if run.summary.counts.unnamed_unjudged > 0 {
        w.push(format!(
            "{}.",
            super::audit::unnamed_words(run.summary.counts.unnamed_unjudged)
        ));
    }
    w
}

/// The command line, as a shell would take it back.
fn command_line() -> String {
    std::env::args_os()
        .enumerate()
        .map(|(i, a)| {
            let a = if i == 0 {
                "vpcflow".to_string()
            } else {
                a.to_string_lossy().into_owned()
            };
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
            if plain {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
