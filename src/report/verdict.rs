//! The banner at the top of the page: how many findings, or why the page cannot be
//! trusted to be complete, or a clean result with what it does not cover.

use std::fmt::Write;

use super::fmt::{count, esc};
use super::input::ReportInput;
use super::words::plural;
use crate::policy::audit::Check;

/// The banner: how many findings, or why the page cannot be trusted to be complete.
pub fn verdict(out: &mut String, r: &ReportInput) {
    let s = r.summary;
    if !r.warnings.is_empty() {
        out.push_str(
            r#"<div class="banner warn" role="alert"><strong>Read this first.</strong><ul>"#,
        );
        for w in r.warnings {
            let _ = write!(out, "<li>{}</li>", esc(w));
        }
        out.push_str("</ul></div>\n");
    }
    if s.findings() > 0 {
        let _ = write!(
            out,
            r#"<div class="banner bad"><strong>{} finding{}</strong>: {} high, {} medium, {} low, in {} audited task{}.</div>"#,
            count(s.findings()),
            plural(s.findings()),
            s.high,
            s.medium,
            s.low,
            count(s.tasks_audited),
            plural(s.tasks_audited),
        );
    } else if r.warnings.is_empty() {
        let _ = write!(
            out,
            r#"<div class="banner ok"><strong>No findings</strong>: the traffic of the {} audited task{} keeps to the policy ({}){}.</div>"#,
            count(s.tasks_audited),
            plural(s.tasks_audited),
            s.per_rule(),
            esc(&caveats(r))
        );
    }
    out.push('\n');
}

/// What a clean result does not cover, in words (empty when it covers everything).
fn caveats(r: &ReportInput) -> String {
    let (s, c) = (r.summary, &r.scan.counts);
    let n = |k: u64, what: &str| format!("{} {what}{}", count(k), plural(k));
    let mut not = Vec::new();
    if s.tasks_not_audited > 0 {
        not.push(format!(
            "{} not audited (no rule{})",
            n(s.tasks_not_audited, "task"),
            if s.services_not_audited.is_empty() {
                String::new()
            } else {
                format!(" for {}", s.services_not_audited.join(", "))
            }
        ));
    }
    if s.tasks_undirected > 0 {
        not.push(format!(
            "{} with no record whose direction could be decided",
            n(s.tasks_undirected, "task")
        ));
    }
    if s.undecided > 0 {
        not.push(format!(
            "{} whose opener is undecided",
            n(s.undecided, "connection")
        ));
    }
    if s.counts.undirected > 0 {
        not.push(format!(
            "{} that could not be oriented",
            n(s.counts.undirected, "record")
        ));
    }
    if c.rejected > 0 {
        not.push(format!("{} that could not be read", n(c.rejected, "line")));
    }
    let off: Vec<&str> = Check::ALL
        .iter()
        .filter(|k| !s.checks.has(**k))
        .map(|k| k.as_str())
        .collect();
    if !off.is_empty() {
        not.push(format!("the rules {} (not run)", off.join(", ")));
    }
    if not.is_empty() {
        String::new()
    } else {
        format!("; not judged: {}", not.join("; "))
    }
}
