//! The summary section: cards (time range, files, records, tasks, findings), the
//! findings per rule and per service by severity, and notes on what was not judged.

use std::fmt::Write;

use chrono::{TimeZone, Utc};

use super::fmt::{bytes, count, esc};
use super::input::ReportInput;
use super::traffic::TrafficState;
use super::view::ServiceView;
use super::words::{clock, duration, plural, severity_index, when, SEVERITIES};
use crate::policy::audit::Check;

/// Services listed in the summary's table of findings per service.
const SUMMARY_SERVICES: usize = 12;

/// Writes the summary section; `views` are the services in the page's order.
pub fn summary(out: &mut String, r: &ReportInput, views: &[ServiceView]) {
    out.push_str(r#"<section id="summary"><h2>Summary</h2><div class="cards">"#);
    cards(out, r);
    out.push_str("</div>");
    out.push_str(r#"<div class="tables">"#);
    per_rule(out, r);
    per_service(out, r, views);
    out.push_str("</div>");
    notes(out, r);
    out.push_str("</section>\n");
}

fn card(out: &mut String, key: &str, value: &str, sub: &str) {
    let _ = write!(
        out,
        r#"<div class="card"><div class="k">{}</div><div class="v">{}</div><div class="sub">{}</div></div>"#,
        esc(key),
        esc(value),
        esc(sub)
    );
}

/// The cards: time range, files, records, tasks audited, findings.
fn cards(out: &mut String, r: &ReportInput) {
    let (s, scan) = (r.summary, r.scan);
    let c = &scan.counts;
    time_range(out, r.traffic);
    let mut files = format!("{} read", bytes(scan.raw_bytes));
    if scan.files_skipped > 0 {
        files += &format!(", {} skipped by date", count(scan.files_skipped));
    }
    if scan.files_failed > 0 {
        files += &format!(", {} unreadable or damaged", count(scan.files_failed));
    }
    card(
        out,
        "Files",
        &format!("{} file{}", count(scan.files), plural(scan.files)),
        &files,
    );
    card(
        out,
        "Records",
        &count(c.records),
        &format!(
            "{} lines = {} records + {} rejected + {} headers + {} blank",
            count(c.lines),
            count(c.records),
            count(c.rejected),
            count(c.headers),
            count(c.blanks)
        ),
    );
    let mut not = format!("{} not audited", count(s.tasks_not_audited));
    if !s.services_not_audited.is_empty() {
        not += &format!(" (no rule: {})", s.services_not_audited.join(", "));
    }
    if s.tasks_undirected > 0 {
        not += &format!(", {} undirected", count(s.tasks_undirected));
    }
    card(out, "Tasks audited", &count(s.tasks_audited), &not);
    card(
        out,
        "Findings",
        &count(s.findings()),
        &format!("{} high · {} medium · {} low", s.high, s.medium, s.low),
    );
}

/// The time range card: the times over the date within a day, the dates and times over
/// the year within a year, in full otherwise.
fn time_range(out: &mut String, t: &TrafficState) {
    let (Some(a), Some(b)) = (t.first, t.last) else {
        return card(out, "Time range", "no record with a time", "");
    };
    let day = |t: i64| Utc.timestamp_opt(t, 0).single().map(|d| d.date_naive());
    let (value, sub) = match (day(a), day(b)) {
        (Some(x), Some(y)) if x == y => (
            format!("{} – {}", clock(a), clock(b)),
            format!("{x} · {}", duration(b - a)),
        ),
        _ => {
            let (x, y) = (when(a), when(b));
            // Same year: the year once, under the dates and times.
            match (x.get(..5), y.get(..5), x.get(5..16), y.get(5..16)) {
                (Some(ya), Some(yb), Some(da), Some(db)) if ya == yb => (
                    format!("{da} – {db}"),
                    format!("{} · {}", &ya[..4], duration(b - a)),
                ),
                _ => (format!("{x} – {y}"), duration(b - a)),
            }
        }
    };
    card(out, "Time range (UTC)", &value, &sub)
}

/// The head of a table of findings by severity, its first column named `first`.
fn table_head(out: &mut String, caption: &str, first: &str) {
    let _ = write!(
        out,
        r#"<table class="plain"><caption>{caption}</caption><thead><tr><th scope="col">{first}</th><th scope="col" class="num">High</th><th scope="col" class="num">Medium</th><th scope="col" class="num">Low</th><th scope="col" class="num">Total</th></tr></thead><tbody>"#
    );
}

/// A row's counts by severity and their total, closing the row.
fn severity_cells(out: &mut String, m: &[u64; 3]) {
    for (j, n) in m.iter().enumerate() {
        let _ = write!(
            out,
            r#"<td class="num">{}</td>"#,
            if *n > 0 {
                format!(r#"<span class="sev {}">{n}</span>"#, SEVERITIES[j])
            } else {
                "0".into()
            }
        );
    }
    let _ = write!(
        out,
        r#"<td class="num">{}</td></tr>"#,
        m.iter().sum::<u64>()
    );
}

/// Findings per rule and severity.
fn per_rule(out: &mut String, r: &ReportInput) {
    let mut m = [[0u64; 3]; Check::COUNT];
    for f in r.findings {
        if let Some(i) = Check::ALL.iter().position(|c| c.as_str() == f.rule) {
            m[i][severity_index(f.severity)] += 1;
        }
    }
    table_head(out, "Findings per rule and severity", "Rule");
    for (i, c) in Check::ALL.iter().enumerate() {
        if !r.summary.checks.has(*c) {
            let _ = write!(
                out,
                r#"<tr class="muted"><th scope="row">{}</th><td colspan="4">not run ({})</td></tr>"#,
                c.as_str(),
                if *c == Check::NewPeer {
                    "no --baseline"
                } else {
                    "--rule"
                }
            );
            continue;
        }
        let _ = write!(out, r#"<tr><th scope="row">{}</th>"#, c.as_str());
        severity_cells(out, &m[i]);
    }
    out.push_str("</tbody></table>");
}

/// Findings per service, the worst first (the order of the services' section).
fn per_service(out: &mut String, r: &ReportInput, views: &[ServiceView]) {
    let with: Vec<(usize, &ServiceView)> = views
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.findings.is_empty())
        .collect();
    if with.is_empty() {
        return;
    }
    table_head(out, "Findings per service", "Service");
    for (i, v) in with.iter().take(SUMMARY_SERVICES) {
        let name = esc(&v.name()).into_owned();
        let _ = write!(
            out,
            r#"<tr><th scope="row">{}</th>"#,
            if *i < r.limits.services {
                format!(r##"<a href="#svc-{}">{name}</a>"##, i + 1)
            } else {
                name
            }
        );
        severity_cells(out, &v.severities);
    }
    if with.len() > SUMMARY_SERVICES {
        let _ = write!(
            out,
            r#"<tr class="muted"><td colspan="5">and {} more services with findings</td></tr>"#,
            with.len() - SUMMARY_SERVICES
        );
    }
    out.push_str("</tbody></table>");
}

/// The notes under the tables: what was judged and what was left out.
fn notes(out: &mut String, r: &ReportInput) {
    let (s, scan) = (r.summary, r.scan);
    let _ = write!(
        out,
        r#"<ul class="notes"><li>{} connections judged: {} opened by the peer, {} by the task, {} undecided (no ingress or egress finding is made of an undecided one).</li><li>{} records of audited tasks had nothing to judge: the policy admits their peer.</li>"#,
        count(s.connections),
        count(s.opened_by_peers),
        count(s.opened_by_tasks),
        count(s.undecided),
        count(s.counts.admitted)
    );
    if s.counts.undirected > 0 {
        let _ = write!(
            out,
            "<li>{} records of audited tasks could not be oriented (which side is the task's) and were not judged.</li>",
            count(s.counts.undirected)
        );
    }
    if scan.outside_window > 0 {
        let _ = write!(
            out,
            "<li>{} records outside --since/--until were left out.</li>",
            count(scan.outside_window)
        );
    }
    out.push_str("</ul>");
}
