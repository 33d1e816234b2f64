//! The report page: a summary, the findings table, each service's traffic over time
//! and its peers, and the tasks' rejected traffic by port, in one HTML file with its
//! style and script inline.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::{TimeZone, Utc};
use rustc_hash::FxHashMap;

use super::svg::{self, Bar, Mark, Node, Timeline};
use super::traffic::{
    group_label, kind_index, kind_of, prefix_of, total, Counted, Edge, Group, PeerClass,
    ServiceKey, ServiceTotals, TrafficState, CLUSTER_SEP, WIDTHS,
};
use crate::enrich::{EniMap, PeerKind};
use crate::policy::audit::{AuditSummary, Check, Finding, Severity};
use crate::policy::Policy;
use crate::scan::ScanStats;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// How much of each part the page shows; what does not fit is counted on the page.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Rows of the findings table (the worst first when there are more).
    pub findings: usize,
    /// Services drawn with their charts (those with findings first, then by bytes).
    pub services: usize,
    /// Peers drawn around a service (those with findings first, then by bytes).
    pub peers: usize,
    /// Ports of the rejected-traffic chart.
    pub ports: usize,
    /// Time buckets of a timeline, at most.
    pub points: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            findings: 1_000,
            services: 40,
            peers: 16,
            ports: 20,
            points: 240,
        }
    }
}

/// What the page is made of.
pub struct ReportInput<'a> {
    /// The findings, in the audit's order.
    pub findings: &'a [Finding],
    pub summary: &'a AuditSummary,
    pub traffic: &'a TrafficState,
    pub map: &'a EniMap,
    pub policy: &'a Policy,
    /// The policy's file name, for the page.
    pub policy_name: &'a str,
    pub scan: &'a ScanStats,
    /// What the reader must know before trusting the page: damaged inputs, a check that
    /// could not judge.
    pub warnings: &'a [String],
    /// The command line that made the page.
    pub command: &'a str,
    /// When it was made (unix seconds).
    pub generated: i64,
    pub limits: Limits,
}

/// The Content-Security-Policy source of an inline style or script: `sha256-` and the
/// base64 of its SHA-256, so that the page runs its own script and nothing else, even
/// if text from the logs were ever taken for markup.
fn csp_hash(inline: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(inline.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> Cow<'_, str> {
    // Control characters (a NUL) and characters that reorder the text around them (a
    // right-to-left override) are shown as visible escapes, as in the tables.
    let shown = |c: char| c.is_control() || crate::text::reorders_text(c);
    if !s.contains(['&', '<', '>', '"', '\'']) && !s.chars().any(shown) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if shown(c) => o.extend(c.escape_unicode()),
            c => o.push(c),
        }
    }
    Cow::Owned(o)
}

/// `1234567` -> `1.2 MB`.
pub fn bytes(n: u64) -> String {
    crate::output::human_bytes(n)
}

/// `1234567` -> `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut o = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// A unix second as `2026-11-01 07:00:00` (UTC).
fn when(t: i64) -> String {
    match Utc.timestamp_opt(t, 0).single() {
        Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => t.to_string(),
    }
}

/// The time of day of a unix second: `07:00:00` (UTC).
fn clock(t: i64) -> String {
    match Utc.timestamp_opt(t, 0).single() {
        Some(d) => d.format("%H:%M:%S").to_string(),
        None => t.to_string(),
    }
}

/// A time span on two lines: `00:03:12 – 00:41:10` over its date, or both in full
/// when it spans days.
fn span(a: i64, b: i64) -> String {
    // The audit's time of records without start and end.
    if a <= 0 && b <= 0 {
        return "unknown".into();
    }
    let (Some(x), Some(y)) = (
        Utc.timestamp_opt(a, 0).single(),
        Utc.timestamp_opt(b, 0).single(),
    ) else {
        return format!("{a} – {b}");
    };
    if x.date_naive() == y.date_naive() {
        format!(
            r#"{} – {}<div class="sub">{}</div>"#,
            clock(a),
            clock(b),
            x.format("%Y-%m-%d")
        )
    } else {
        format!("{} – {}", when(a), when(b))
    }
}

/// `3720` -> `1 h 2 min`.
fn duration(s: i64) -> String {
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A bucket width in words: `5 minutes`, `hour`, `day`.
fn per(width: i64) -> String {
    match width {
        60 => "minute".into(),
        3_600 => "hour".into(),
        86_400 => "day".into(),
        604_800 => "week".into(),
        w if w % 86_400 == 0 => format!("{} days", w / 86_400),
        w if w % 3_600 == 0 => format!("{} hours", w / 3_600),
        w => format!("{} minutes", w / 60),
    }
}

fn protocol(p: i32) -> Cow<'static, str> {
    match crate::net::protocol_label(p) {
        Some(label) => label.into(),
        None if p == -1 || p == 65_535 => "?".into(),
        None => p.to_string().into(),
    }
}

/// What usually listens on a port, for the rejected-traffic chart.
fn port_name(p: u16) -> Option<&'static str> {
    Some(match p {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        53 => "dns",
        80 => "http",
        110 => "pop3",
        123 => "ntp",
        143 => "imap",
        389 => "ldap",
        443 => "https",
        445 => "smb",
        1433 => "mssql",
        2375 | 2376 => "docker",
        3306 => "mysql",
        3389 => "rdp",
        5432 => "postgres",
        5900 => "vnc",
        6379 => "redis",
        6443 => "kubernetes",
        6667 => "irc",
        8080 => "http-alt",
        8443 => "https-alt",
        9200 => "elasticsearch",
        11211 => "memcached",
        27017 => "mongodb",
        _ => return None,
    })
}

fn severity_index(s: Severity) -> usize {
    match s {
        Severity::High => 0,
        Severity::Medium => 1,
        Severity::Low => 2,
    }
}

const SEVERITIES: [&str; 3] = ["high", "medium", "low"];

/// Ports listed in a finding's row; its reason, cut at this many characters (a scan of
/// every port has a reason of hundreds of kilobytes).
const PORTS_SHOWN: usize = 12;
const REASON_CHARS: usize = 1_000;

/// `22, 23, 80` or `22, 23, … (65,533 more)`.
fn ports(p: &[u16], at_most: usize) -> String {
    let mut s: Vec<String> = p.iter().take(at_most).map(u16::to_string).collect();
    if p.len() > at_most {
        s.push(format!("… ({} more)", count((p.len() - at_most) as u64)));
    }
    s.join(", ")
}

/// Text cut at `at_most` characters, saying how much was left out.
fn cut(text: &str, at_most: usize) -> Cow<'_, str> {
    match text.char_indices().nth(at_most) {
        None => Cow::Borrowed(text),
        Some((i, _)) => Cow::Owned(format!(
            "{} … ({} more characters: vpcflow audit --format json has the whole reason)",
            &text[..i],
            count(text[i..].chars().count() as u64)
        )),
    }
}

/// Services listed in the summary's table of findings per service.
const SUMMARY_SERVICES: usize = 12;

/// The name of a service and its cluster on the page: `web · prod`.
fn service_name(service: Option<&str>, cluster: Option<&str>) -> String {
    let s = service.unwrap_or("(no service)");
    match cluster {
        Some(c) => format!("{s} · {}", crate::enrich::arn_name(c)),
        None => s.to_string(),
    }
}

/// A peer group's name: `web · prod`, `ALB sg-0a1b`, `198.51.100.0/24`.
fn group_name(kind: &str, label: Option<&str>, prefix: &[u8; 16]) -> String {
    let net = || {
        format!(
            "{}/{}",
            crate::net::addr_string(prefix),
            if crate::net::is_v4(prefix) { 24 } else { 48 }
        )
    };
    let label = label.unwrap_or("?");
    match PeerKind::parse(kind) {
        Some(PeerKind::Internet) => net(),
        Some(PeerKind::Vpc) => format!("VPC {}", net()),
        Some(PeerKind::Task) => match label.split_once(CLUSTER_SEP) {
            Some((s, c)) => format!("{s} · {c}"),
            None if label.starts_with("arn:") => {
                format!("task {}", crate::enrich::arn_name(label))
            }
            None => label.to_string(),
        },
        Some(k) => format!("{} {label}", k.words().label),
        None => format!("ENI {label}"),
    }
}

/// A peer group with its label as text: how findings and edges are matched.
type GroupText<'a> = (u8, Option<&'a str>, [u8; 16]);

/// A peer group with its label as owned text.
type OwnedGroup = (u8, Option<String>, [u8; 16]);

/// The group of a finding's peer (as the traffic groups it).
fn finding_group(map: &EniMap, f: &Finding) -> Option<OwnedGroup> {
    let kind = f.peer_kind.as_deref()?;
    let k = kind_index(kind)?;
    let addr = crate::net::addr(&f.peer_addr).unwrap_or([0; 16]);
    if kind_of(k).is_address_group() {
        return Some((k, None, prefix_of(&addr)));
    }
    let label = group_label(
        map,
        kind,
        f.peer_eni_id.as_deref(),
        f.peer_task_arn.as_deref(),
        f.peer_service.as_deref(),
        Some(f.first_seen),
    );
    Some((k, label, [0; 16]))
}

/// One service of the page.
struct ServiceView<'a> {
    key: Option<ServiceKey>,
    service: Option<&'a str>,
    cluster: Option<&'a str>,
    totals: ServiceTotals,
    tasks: u64,
    /// Its findings (indices into the audit's).
    findings: Vec<usize>,
    /// Its findings by severity.
    severities: [u64; 3],
}

impl ServiceView<'_> {
    fn name(&self) -> String {
        service_name(self.service, self.cluster)
    }
}

/// The time grid every timeline shares.
struct Grid {
    start: i64,
    width: i64,
    points: usize,
}

impl Grid {
    fn of(t: &TrafficState, points: usize) -> Option<Grid> {
        let (first, last) = (t.first?, t.last?);
        let first = first.min(last);
        for &w in &WIDTHS[t.width..] {
            let start = first.div_euclid(w) * w;
            let n = ((last.div_euclid(w) * w - start) / w + 1) as usize;
            if n <= points.max(1) || w == WIDTHS[WIDTHS.len() - 1] {
                return Some(Grid {
                    start,
                    width: w,
                    points: n.min(points.max(1)),
                });
            }
        }
        None
    }

    fn index(&self, t: i64) -> usize {
        ((t - self.start).div_euclid(self.width)).clamp(0, self.points as i64 - 1) as usize
    }
}

/// Renders the whole page.
pub fn render(r: &ReportInput) -> String {
    let t = r.traffic;
    let strings = |id: u32| t.strings.get(id);
    // The services, with the findings of each.
    let mut views: Vec<ServiceView> = Vec::new();
    let mut by_name: FxHashMap<(Option<&str>, Option<&str>), usize> = FxHashMap::default();
    let mut keys: Vec<(&ServiceKey, &ServiceTotals)> = t.services.iter().collect();
    keys.sort_by_key(|(k, _)| (strings(k.0), strings(k.1)));
    for (k, totals) in keys {
        by_name.insert((strings(k.0), strings(k.1)), views.len());
        views.push(ServiceView {
            key: Some(*k),
            service: strings(k.0),
            cluster: strings(k.1),
            totals: *totals,
            tasks: 0,
            findings: Vec::new(),
            severities: [0; 3],
        });
    }
    let index: FxHashMap<ServiceKey, usize> = views
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.key.map(|k| (k, i)))
        .collect();
    for (k, _) in &t.tasks {
        if let Some(&i) = index.get(k) {
            views[i].tasks += 1;
        }
    }
    for (i, f) in r.findings.iter().enumerate() {
        let name = (
            f.service.as_deref(),
            f.cluster.as_deref().map(crate::enrich::arn_name),
        );
        let v = *by_name.entry(name).or_insert_with(|| {
            views.push(ServiceView {
                key: None,
                service: f.service.as_deref(),
                cluster: f.cluster.as_deref(),
                totals: ServiceTotals::default(),
                tasks: 0,
                findings: Vec::new(),
                severities: [0; 3],
            });
            views.len() - 1
        });
        views[v].findings.push(i);
        views[v].severities[severity_index(f.severity)] += 1;
    }
    views.sort_by(|a, b| {
        b.severities
            .cmp(&a.severities)
            .then(b.totals.bytes.cmp(&a.totals.bytes))
            .then_with(|| a.name().cmp(&b.name()))
    });
    // The findings the table shows: all, or the worst when there are too many.
    let mut shown: Vec<usize> = (0..r.findings.len()).collect();
    if shown.len() > r.limits.findings {
        shown.sort_by_key(|&i| {
            let f = &r.findings[i];
            (f.severity, std::cmp::Reverse(f.bytes), i)
        });
        shown.truncate(r.limits.findings);
        shown.sort_unstable();
    }
    let shown_set: BTreeSet<usize> = shown.iter().copied().collect();

    let mut out = String::with_capacity(256 << 10);
    let title = match (t.first, t.last) {
        (Some(a), Some(b)) => format!("vpcflow report: {} to {} UTC", when(a), when(b)),
        _ => "vpcflow report".to_string(),
    };
    let _ = write!(
        out,
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src '{}'; script-src '{}'; img-src data:">
<meta name="generator" content="vpcflow {}">
<title>{}</title>
<style>{STYLE}</style>
</head>
<body>
<header class="top">
<div><h1>vpcflow report</h1><p class="muted">{}</p></div>
<button type="button" id="theme" class="noprint" title="Switch between the system's theme, light and dark">Theme: auto</button>
</header>
<nav class="noprint"><a href="#summary">Summary</a><a href="#findings">Findings</a><a href="#services">Services</a><a href="#rejected">Rejected traffic</a></nav>
<main>
"##,
        csp_hash(STYLE),
        csp_hash(SCRIPT),
        env!("CARGO_PKG_VERSION"),
        esc(&title),
        esc(&match (t.first, t.last) {
            (Some(a), Some(b)) =>
                format!("{} to {} UTC · policy {}", when(a), when(b), r.policy_name),
            _ => format!("policy {}", r.policy_name),
        })
    );
    verdict(&mut out, r);
    summary(&mut out, r, &views);
    findings_table(&mut out, r, &shown);
    let grid = Grid::of(t, r.limits.points);
    services(&mut out, r, &views, grid.as_ref(), &shown_set);
    rejected(&mut out, r);
    let _ = write!(
        out,
        r#"</main>
<footer><p>Made by vpcflow {} on {} UTC from: <code>{}</code></p>
<p>Self-contained: the charts are SVG drawn by vpcflow and the page loads nothing from the network. Times are UTC.</p></footer>
<script>{SCRIPT}</script>
</body>
</html>
"#,
        env!("CARGO_PKG_VERSION"),
        when(r.generated),
        esc(r.command)
    );
    out
}

/// The banner: how many findings, or why the page cannot be trusted to be complete.
fn verdict(out: &mut String, r: &ReportInput) {
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
            if s.findings() == 1 { "" } else { "s" },
            s.high,
            s.medium,
            s.low,
            count(s.tasks_audited),
            if s.tasks_audited == 1 { "" } else { "s" },
        );
    } else if r.warnings.is_empty() {
        let _ = write!(
            out,
            r#"<div class="banner ok"><strong>No findings</strong>: the traffic of the {} audited task{} keeps to the policy ({}){}.</div>"#,
            count(s.tasks_audited),
            if s.tasks_audited == 1 { "" } else { "s" },
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

fn card(out: &mut String, key: &str, value: &str, sub: &str) {
    let _ = write!(
        out,
        r#"<div class="card"><div class="k">{}</div><div class="v">{}</div><div class="sub">{}</div></div>"#,
        esc(key),
        esc(value),
        esc(sub)
    );
}

fn summary(out: &mut String, r: &ReportInput, views: &[ServiceView]) {
    let (s, scan, t) = (r.summary, r.scan, r.traffic);
    let c = &scan.counts;
    out.push_str(r#"<section id="summary"><h2>Summary</h2><div class="cards">"#);
    match (t.first, t.last) {
        (Some(a), Some(b)) => {
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
        _ => card(out, "Time range", "no record with a time", ""),
    }
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
    out.push_str("</div>");
    // Findings per rule and severity.
    let mut m = [[0u64; 3]; 5];
    for f in r.findings {
        if let Some(i) = Check::ALL.iter().position(|c| c.as_str() == f.rule) {
            m[i][severity_index(f.severity)] += 1;
        }
    }
    let head = |out: &mut String, caption: &str, first: &str| {
        let _ = write!(
            out,
            r#"<table class="plain"><caption>{caption}</caption><thead><tr><th scope="col">{first}</th><th scope="col" class="num">High</th><th scope="col" class="num">Medium</th><th scope="col" class="num">Low</th><th scope="col" class="num">Total</th></tr></thead><tbody>"#
        );
    };
    let cells = |out: &mut String, m: &[u64; 3]| {
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
    };
    out.push_str(r#"<div class="tables">"#);
    head(out, "Findings per rule and severity", "Rule");
    for (i, c) in Check::ALL.iter().enumerate() {
        if !s.checks.has(*c) {
            let _ = write!(
                out,
                r#"<tr class="muted"><th scope="row">{}</th><td colspan="4">not run (--rule)</td></tr>"#,
                c.as_str()
            );
            continue;
        }
        let _ = write!(out, r#"<tr><th scope="row">{}</th>"#, c.as_str());
        cells(out, &m[i]);
    }
    out.push_str("</tbody></table>");
    // Findings per service, the worst first (the order of the services' section).
    let with: Vec<(usize, &ServiceView)> = views
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.findings.is_empty())
        .collect();
    if !with.is_empty() {
        head(out, "Findings per service", "Service");
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
            cells(out, &v.severities);
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
    out.push_str("</div>");
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
    out.push_str("</ul></section>\n");
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The row id of a finding (its 1-based place in the audit's order).
fn finding_id(i: usize) -> String {
    format!("f-{}", i + 1)
}

fn findings_table(out: &mut String, r: &ReportInput, shown: &[usize]) {
    out.push_str(r#"<section id="findings"><h2>Findings</h2>"#);
    if r.findings.is_empty() {
        out.push_str(if r.warnings.is_empty() {
            r#"<p class="muted">None.</p></section>"#
        } else {
            r#"<p class="muted">None were made, but this is not a clean result: see the notes at the top.</p></section>"#
        });
        return;
    }
    if shown.len() < r.findings.len() {
        let _ = write!(
            out,
            r#"<p class="banner warn">The table shows {} of the {} findings: the worst, then those with the most bytes. <code>vpcflow audit --format json</code> with the same arguments lists every one.</p>"#,
            count(shown.len() as u64),
            count(r.findings.len() as u64)
        );
    }
    let mut services = BTreeSet::new();
    let mut rules = Vec::new();
    for &i in shown {
        let f = &r.findings[i];
        services.insert(service_name(f.service.as_deref(), f.cluster.as_deref()));
        if !rules.contains(&f.rule) {
            rules.push(f.rule);
        }
    }
    rules.sort_by_key(|r| Check::ALL.iter().position(|c| c.as_str() == *r));
    out.push_str(r#"<div class="filters noprint"><label>Service <select id="f-service"><option value="">all</option>"#);
    for s in &services {
        let _ = write!(out, r#"<option value="{0}">{0}</option>"#, esc(s));
    }
    out.push_str(
        r#"</select></label><label>Rule <select id="f-rule"><option value="">all</option>"#,
    );
    for rule in &rules {
        let _ = write!(out, "<option>{rule}</option>");
    }
    out.push_str(r#"</select></label><label>Severity <select id="f-severity"><option value="">all</option><option>high</option><option>medium</option><option>low</option></select></label><label>Text <input id="f-text" type="search" placeholder="peer, task, port, reason"></label><span id="f-count" class="muted" aria-live="polite"></span></div>"#);
    out.push_str(r#"<div class="scroll"><table id="findings-table" class="findings"><thead><tr>"#);
    for (name, class) in [
        ("Severity", ""),
        ("Rule", ""),
        ("Service", ""),
        ("Peer", ""),
        ("Connection", ""),
        ("Flows", "num"),
        ("Bytes", "num"),
        ("Seen (UTC)", ""),
        ("Reason", "nosort"),
    ] {
        let _ = write!(
            out,
            r#"<th scope="col" class="{class}">{}</th>"#,
            if class == "nosort" {
                name.to_string()
            } else {
                format!(r#"<button type="button">{name}</button>"#)
            }
        );
    }
    out.push_str("</tr></thead><tbody>");
    for &i in shown {
        let f = &r.findings[i];
        let sev = f.severity.as_str();
        let service = service_name(f.service.as_deref(), f.cluster.as_deref());
        let peer_sub = match (&f.peer_service, f.peer_kind.as_deref()) {
            (Some(s), Some(k)) => format!("{k} · {s}"),
            (None, Some(k)) => k.to_string(),
            _ => String::new(),
        };
        let task = f.task_arn.as_deref().unwrap_or("no task");
        let _ = write!(
            out,
            r#"<tr id="{}" data-service="{}" data-rule="{}" data-severity="{sev}" data-key="{}|{}|{}|{}|{}"><td data-v="{}"><span class="sev {sev}">{sev}</span></td><td>{}</td><td title="{}">{}<div class="sub">{}</div></td><td data-v="{}">{}<div class="sub">{}</div></td><td class="conn">{} {}<div class="sub">{}</div></td><td class="num" data-v="{}">{}</td><td class="num" data-v="{}">{}</td><td class="seen" data-v="{}">{}</td><td class="reason">{}</td></tr>"#,
            finding_id(i),
            esc(&service),
            f.rule,
            f.rule,
            esc(&f.eni_id),
            esc(&f.peer_addr),
            f.protocol,
            f.action,
            severity_index(f.severity),
            f.rule,
            esc(task),
            esc(&service),
            esc(&f.eni_id),
            esc(&sortable_addr(&f.peer_addr)),
            esc(&f.peer_addr),
            esc(&peer_sub),
            protocol(f.protocol),
            ports(&f.ports, PORTS_SHOWN),
            f.action,
            f.flows,
            count(f.flows),
            f.bytes,
            bytes(f.bytes),
            f.first_seen,
            span(f.first_seen, f.last_seen),
            esc(&cut(&f.reason, REASON_CHARS))
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// An address as `x` and 32 hex digits, so that text order is address order (the `x`
/// keeps the page's script from taking a key of decimal digits for a number).
fn sortable_addr(a: &str) -> String {
    crate::net::addr(a)
        .map(|b| {
            std::iter::once("x".to_string())
                .chain(b.iter().map(|x| format!("{x:02x}")))
                .collect()
        })
        .unwrap_or_else(|| format!("x{a}"))
}

fn services(
    out: &mut String,
    r: &ReportInput,
    views: &[ServiceView],
    grid: Option<&Grid>,
    shown: &BTreeSet<usize>,
) {
    let t = r.traffic;
    out.push_str(r#"<section id="services"><h2>Services</h2>"#);
    if views.is_empty() {
        out.push_str(r#"<p class="muted">No record was logged on a task ENI.</p></section>"#);
        return;
    }
    let drawn = views.len().min(r.limits.services);
    // The series and edges of the drawn services, gathered in one pass each.
    let slot: FxHashMap<ServiceKey, usize> = views[..drawn]
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.key.map(|k| (k, i)))
        .collect();
    let mut series: Vec<Vec<[u64; 5]>> = match grid {
        Some(g) => vec![vec![[0; 5]; g.points]; drawn],
        None => vec![Vec::new(); drawn],
    };
    if let Some(g) = grid {
        for ((k, b), v) in &t.series {
            if let Some(&i) = slot.get(k) {
                let cell = &mut series[i][g.index(*b)];
                for (c, x) in cell.iter_mut().zip(v) {
                    *c = c.saturating_add(*x);
                }
            }
        }
    }
    let mut edges: Vec<Vec<(Group, Edge)>> = vec![Vec::new(); drawn];
    for ((k, g), e) in &t.edges {
        if let Some(&i) = slot.get(k) {
            edges[i].push((*g, *e));
        }
    }
    let _ = write!(
        out,
        r#"<p class="muted">Traffic logged on the task ENIs of each service{}, by kind of peer: internet, VPC (instances, NAT gateways, other ENIs, addresses no map knows), load balancer, task, VPC endpoint. Findings are marked under the time axis (click one for its row); in the graphs, red edges lead to peers with findings.</p>"#,
        grid.map(|g| format!(", in bytes per {}", per(g.width)))
            .unwrap_or_default()
    );
    out.push_str(r#"<div class="legend">"#);
    for c in PeerClass::ALL {
        let _ = write!(
            out,
            r#"<span><i class="swatch {}"></i>{}</span>"#,
            c.css(),
            c.name()
        );
    }
    out.push_str(r#"<span><i class="swatch sev-high"></i>high</span><span><i class="swatch sev-medium"></i>medium</span><span><i class="swatch sev-low"></i>low finding</span><span><i class="swatch bad"></i>peer with findings</span></div>"#);
    for (i, v) in views[..drawn].iter().enumerate() {
        service(out, r, v, i, grid, &series[i], &mut edges[i], shown);
    }
    if drawn < views.len() {
        let _ = write!(
            out,
            r#"<h3>{} more services</h3><div class="scroll"><table class="plain"><thead><tr><th>Service</th><th class="num">Tasks</th><th class="num">Records</th><th class="num">Bytes</th><th class="num">Rejected</th><th class="num">Findings</th></tr></thead><tbody>"#,
            count((views.len() - drawn) as u64)
        );
        for v in &views[drawn..] {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&v.name()),
                count(v.tasks),
                count(v.totals.records),
                bytes(v.totals.bytes),
                count(v.totals.rejected),
                v.findings.len()
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>\n");
}

/// The words of a finding in a tooltip.
fn finding_words(f: &Finding) -> String {
    format!(
        "{} {} {} ({} {}, {})",
        f.severity.as_str(),
        f.rule,
        f.peer_addr,
        protocol(f.protocol),
        ports(&f.ports, 4),
        f.action
    )
}

fn list_words(r: &ReportInput, findings: &[usize]) -> String {
    let mut words: Vec<String> = findings
        .iter()
        .take(4)
        .map(|&i| finding_words(&r.findings[i]))
        .collect();
    if findings.len() > 4 {
        words.push(format!("and {} more", findings.len() - 4));
    }
    words.join("; ")
}

#[allow(clippy::too_many_arguments)]
fn service(
    out: &mut String,
    r: &ReportInput,
    v: &ServiceView,
    i: usize,
    grid: Option<&Grid>,
    series: &[[u64; 5]],
    edges: &mut [(Group, Edge)],
    shown: &BTreeSet<usize>,
) {
    let t = r.traffic;
    let name = v.name();
    let _ = write!(
        out,
        r#"<article class="service" id="svc-{}"><h3>{}</h3><p class="stats">{} task{} · {} records · {} · {} rejected records"#,
        i + 1,
        esc(&name),
        count(v.tasks),
        plural(v.tasks),
        count(v.totals.records),
        bytes(v.totals.bytes),
        count(v.totals.rejected)
    );
    for (j, n) in v.severities.iter().enumerate() {
        if *n > 0 {
            let _ = write!(
                out,
                r#" · <span class="sev {0}">{n} {0}</span>"#,
                SEVERITIES[j]
            );
        }
    }
    out.push_str("</p>");
    match r.policy.rule_for(v.service, v.cluster) {
        Some(rule) => {
            let mut words = vec![rule.describe(r.map)];
            if rule.egress.is_some() {
                words.push(rule.describe_egress(r.map));
            }
            for (on, what) in [
                (rule.require_encryption, "requires encryption in transit"),
                (rule.isolated, "is isolated"),
                (rule.private_aws_access, "reaches AWS through VPC endpoints only"),
            ] {
                if on {
                    words.push(what.to_string());
                }
            }
            let _ = write!(
                out,
                r#"<p class="rule">Policy: {}.</p>"#,
                esc(&words.join("; "))
            );
        }
        None => out.push_str(
            r#"<p class="rule">Not audited: the policy has no rule for this service and no [defaults].</p>"#,
        ),
    }
    if v.totals.undirected_bytes > 0 {
        let _ = write!(
            out,
            r#"<p class="muted">{} of records whose direction could not be decided are not drawn.</p>"#,
            bytes(v.totals.undirected_bytes)
        );
    }
    // Traffic over time, with the findings under it.
    if let Some(g) = grid {
        let mut marks: [Vec<Mark>; 3] = Default::default();
        let mut lanes: [Vec<(usize, usize, usize)>; 3] = Default::default();
        for &fi in &v.findings {
            let f = &r.findings[fi];
            if f.first_seen <= 0 && f.last_seen <= 0 {
                continue; // no time to mark
            }
            lanes[severity_index(f.severity)].push((
                g.index(f.first_seen),
                g.index(f.last_seen.max(f.first_seen)),
                fi,
            ));
        }
        for (lane, spans) in lanes.iter_mut().enumerate() {
            spans.sort_unstable();
            let mut run: Option<(usize, usize, Vec<usize>)> = None;
            let mut flush = |run: (usize, usize, Vec<usize>)| {
                let target = run.2.iter().find(|i| shown.contains(i));
                marks[lane].push(Mark {
                    from: run.0,
                    to: run.1,
                    title: format!(
                        "{} finding{}: {}",
                        run.2.len(),
                        plural(run.2.len() as u64),
                        list_words(r, &run.2)
                    ),
                    id: target.map_or("findings".into(), |&i| finding_id(i)),
                });
            };
            for &(a, b, fi) in spans.iter() {
                match &mut run {
                    Some((_, to, list)) if a <= *to + 1 => {
                        *to = (*to).max(b);
                        list.push(fi);
                    }
                    _ => {
                        if let Some(done) = run.take() {
                            flush(done);
                        }
                        run = Some((a, b, vec![fi]));
                    }
                }
            }
            if let Some(done) = run {
                flush(done);
            }
        }
        let _ = write!(out, "<h4>Bytes per {}, by peer</h4>", per(g.width));
        svg::timeline(
            out,
            &Timeline {
                start: g.start,
                width: g.width,
                series,
                marks,
            },
            &format!("Bytes per {} of {name}, by kind of peer", per(g.width)),
        );
    }
    // The peers, as a graph and a table.
    let mut about: FxHashMap<GroupText, Vec<usize>> = FxHashMap::default();
    let texts: Vec<Option<OwnedGroup>> = v
        .findings
        .iter()
        .map(|&fi| finding_group(r.map, &r.findings[fi]))
        .collect();
    for (&fi, g) in v.findings.iter().zip(&texts) {
        if let Some((k, l, p)) = g {
            about.entry((*k, l.as_deref(), *p)).or_default().push(fi);
        }
    }
    let text_of = |g: &Group| (g.kind, t.strings.get(g.label), g.prefix);
    let bad = |g: &Group| about.contains_key(&text_of(g));
    edges.sort_by(|a, b| {
        bad(&b.0)
            .cmp(&bad(&a.0))
            .then(b.1.bytes().cmp(&a.1.bytes()))
            .then_with(|| text_of(&a.0).cmp(&text_of(&b.0)))
    });
    let n = edges.len().min(r.limits.peers);
    let (drawn, rest) = edges.split_at(n);
    let mut drawn: Vec<&(Group, Edge)> = drawn.iter().collect();
    drawn.sort_by_key(|(g, e)| (kind_of(g.kind).class(), std::cmp::Reverse(e.bytes())));
    let mut nodes: Vec<Node> = Vec::with_capacity(n + 1);
    let mut rows = String::new();
    for (g, e) in &drawn {
        let kind = kind_of(g.kind).as_str();
        let label = group_name(kind, t.strings.get(g.label), &g.prefix);
        let findings = about.get(&text_of(g));
        let mut title = format!(
            "{label}: {} in, {} out, {} records, {} rejected",
            bytes(e.bytes_in),
            bytes(e.bytes_out),
            count(e.records),
            count(e.rejected)
        );
        if let Some(list) = findings {
            title += &format!("; findings: {}", list_words(r, list));
        }
        if kind_of(g.kind) == PeerKind::Natgw {
            title += " (logged on the NAT gateway's ENI: the same traffic is under the \
                       internet peers it reached)";
        }
        let _ = write!(
            rows,
            r#"<tr{}><td><i class="swatch {}"></i>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            if findings.is_some() {
                r#" class="badrow""#
            } else {
                ""
            },
            PeerClass::of(kind).css(),
            esc(&label),
            bytes(e.bytes_in),
            bytes(e.bytes_out),
            count(e.records),
            count(e.rejected),
            findings
                .map(|l| {
                    let target = l.iter().find(|i| shown.contains(i));
                    match target {
                        Some(&i) => format!(r##"<a href="#{}">{}</a>"##, finding_id(i), l.len()),
                        None => l.len().to_string(),
                    }
                })
                .unwrap_or_default()
        );
        nodes.push(Node {
            label,
            title,
            css: PeerClass::of(kind).css(),
            bytes: e.bytes(),
            bad: findings.is_some(),
        });
    }
    if !rest.is_empty() {
        let b = total(rest.iter().map(|(_, e)| e.bytes()));
        let with = rest.iter().filter(|(g, _)| bad(g)).count();
        let label = format!("{} more peers", count(rest.len() as u64));
        let title = format!(
            "{label}: {}{}",
            bytes(b),
            if with > 0 {
                format!(", {with} of them with findings")
            } else {
                String::new()
            }
        );
        let _ = write!(
            rows,
            r#"<tr{}><td>{}</td><td colspan="4" class="num">{}</td><td>{}</td></tr>"#,
            if with > 0 { r#" class="badrow""# } else { "" },
            esc(&label),
            bytes(b),
            if with > 0 {
                with.to_string()
            } else {
                String::new()
            }
        );
        nodes.push(Node {
            label,
            title,
            css: "k-more",
            bytes: b,
            bad: with > 0,
        });
    }
    if !nodes.is_empty() {
        let _ = write!(out, r#"<h4>Peers</h4><div class="pair"><div>"#);
        svg::star(out, &name, &nodes, &format!("Peers of {name}"));
        let _ = write!(
            out,
            r#"</div><div class="scroll"><table class="plain peers"><thead><tr><th>Peer</th><th class="num">Bytes in</th><th class="num">Bytes out</th><th class="num">Records</th><th class="num">Rejected</th><th>Findings</th></tr></thead><tbody>{rows}</tbody></table></div></div>"#
        );
    }
    out.push_str("</article>\n");
}

fn rejected(out: &mut String, r: &ReportInput) {
    out.push_str(r#"<section id="rejected"><h2>Rejected traffic of the tasks, by port</h2>"#);
    // (protocol, port) -> [inbound, outbound]
    let mut ports: BTreeMap<(u16, u16), [Counted; 2]> = BTreeMap::new();
    for ((p, port, inbound), c) in &r.traffic.rejected {
        ports.entry((*p, *port)).or_default()[!*inbound as usize].merge(c);
    }
    if ports.is_empty() {
        out.push_str(r#"<p class="muted">No record on a task ENI was rejected.</p></section>"#);
        return;
    }
    let mut rows: Vec<((u16, u16), [Counted; 2])> = ports.into_iter().collect();
    rows.sort_by_key(|(k, v)| (std::cmp::Reverse(v[0].records + v[1].records), *k));
    let records: u64 = rows.iter().map(|(_, v)| v[0].records + v[1].records).sum();
    let shown = rows.len().min(r.limits.ports);
    let _ = write!(
        out,
        r#"<p class="muted">{} rejected records on {} port{}, by destination port: <span><i class="swatch part0"></i>sent by the peer to the task</span> <span><i class="swatch part1"></i>sent by the task</span>.{}</p>"#,
        count(records),
        count(rows.len() as u64),
        plural(rows.len() as u64),
        if shown < rows.len() {
            format!(" The {shown} ports with the most are drawn.")
        } else {
            String::new()
        }
    );
    let label = |(p, port): (u16, u16)| {
        let name = port_name(port)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        format!("{} {port}{name}", protocol(p as i32))
    };
    let bars: Vec<Bar> = rows[..shown]
        .iter()
        .map(|(k, v)| Bar {
            label: label(*k),
            parts: [v[0].records, v[1].records],
            title: format!(
                "{}: {} records from peers, {} from tasks",
                label(*k),
                count(v[0].records),
                count(v[1].records)
            ),
        })
        .collect();
    svg::bars(out, &bars, "Rejected records by destination port");
    out.push_str(r#"<div class="scroll"><table class="plain"><thead><tr><th>Port</th><th class="num">Records in</th><th class="num">Records out</th><th class="num">Packets</th><th class="num">Bytes</th></tr></thead><tbody>"#);
    for (k, v) in &rows[..shown] {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(&label(*k)),
            count(v[0].records),
            count(v[1].records),
            count(v[0].packets.saturating_add(v[1].packets)),
            bytes(v[0].bytes.saturating_add(v[1].bytes))
        );
    }
    if shown < rows.len() {
        let rest = &rows[shown..];
        let _ = write!(
            out,
            r#"<tr class="muted"><td>{} other ports</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            count(rest.len() as u64),
            count(rest.iter().map(|(_, v)| v[0].records).sum()),
            count(rest.iter().map(|(_, v)| v[1].records).sum()),
            count(total(
                rest.iter().flat_map(|(_, v)| [v[0].packets, v[1].packets])
            )),
            bytes(total(
                rest.iter().flat_map(|(_, v)| [v[0].bytes, v[1].bytes])
            ))
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

#[cfg(test)]
mod tests {
    #[test]
    fn right_to_left_overrides_and_nuls_are_shown_escaped_in_the_report() {
        // Regression: U+202E and NUL in names reached the page raw.
        assert_eq!(
            super::esc("svc\u{202e}<b>\0"),
            "svc\\u{202e}&lt;b&gt;\\u{0}"
        );
        assert_eq!(super::esc("web · prod"), "web · prod");
    }

    use super::*;

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert!(matches!(esc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn long_port_lists_and_reasons_are_cut_and_say_so() {
        assert_eq!(ports(&[22, 23], 3), "22, 23");
        assert_eq!(ports(&[22, 23, 80, 443], 2), "22, 23, … (2 more)");
        assert_eq!(cut("short", 10), "short");
        assert_eq!(
            cut("ééééé", 2),
            "éé … (3 more characters: vpcflow audit --format json has the whole reason)"
        );
    }

    #[test]
    fn peer_sort_keys_are_never_numbers() {
        // 2600:1900:4000::1 is all decimal digits in hex; the page's script would have
        // compared it as a number with the other keys as text.
        for a in ["2600:1900:4000::1", "8.8.8.8", "not an address"] {
            let k = sortable_addr(a);
            assert!(k.parse::<f64>().is_err(), "{a}: {k}");
        }
        assert!(sortable_addr("8.8.8.8") < sortable_addr("192.0.2.1"));
        assert!(sortable_addr("192.0.2.1") < sortable_addr("2600:1900:4000::1"));
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_and_bucket_widths_read_as_words() {
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(3_600), "1 h");
        assert_eq!(duration(3_720), "1 h 2 min");
        assert_eq!(duration(90_000), "1 d 1 h");
        assert_eq!(per(60), "minute");
        assert_eq!(per(300), "5 minutes");
        assert_eq!(per(10_800), "3 hours");
        assert_eq!(per(3_600), "hour");
    }

    #[test]
    fn peer_groups_are_named_for_people() {
        let v4 = crate::net::addr("198.51.100.0").unwrap();
        let v6 = crate::net::addr("2001:db8:5::").unwrap();
        assert_eq!(group_name("internet", None, &v4), "198.51.100.0/24");
        assert_eq!(group_name("internet", None, &v6), "2001:db8:5::/48");
        assert_eq!(group_name("vpc", None, &v4), "VPC 198.51.100.0/24");
        assert_eq!(
            group_name("task", Some("web\u{1f}prod"), &[0; 16]),
            "web · prod"
        );
        assert_eq!(
            group_name(
                "task",
                Some("arn:aws:ecs:us-east-1:1:task/prod/abc"),
                &[0; 16]
            ),
            "task abc"
        );
        assert_eq!(group_name("alb", Some("sg-1"), &[0; 16]), "ALB sg-1");
    }

    #[test]
    fn the_grid_has_at_most_the_points_asked_for() {
        let mut t = TrafficState::default();
        // One hour: 60 minutes fit 240 points.
        t.first = Some(1_793_491_200);
        t.last = Some(1_793_491_200 + 3_599);
        let g = Grid::of(&t, 240).unwrap();
        assert_eq!((g.width, g.points), (60, 60));
        // A week: minutes (10,080) and 5 minutes (2,016) are too many; 15 minutes
        // make 672, still too many; hours make 168.
        t.last = Some(1_793_491_200 + 7 * 86_400 - 1);
        let g = Grid::of(&t, 240).unwrap();
        assert_eq!((g.width, g.points), (3_600, 168));
        assert_eq!(g.index(1_793_491_200 + 7_199), 1);
        assert_eq!(g.index(0), 0);
        assert_eq!(g.index(i64::MAX / 2), 167);
    }

    /// A page of very large aggregates: hundreds of services,
    /// thousands of peers each, every port rejected, tens of thousands of findings, ten
    /// days of hourly buckets. Its size stays within the bound the limits promise.
    #[test]
    fn the_page_stays_under_five_megabytes_whatever_the_input() {
        use crate::policy::audit::Checks;
        use crate::policy::CommandLineRules;
        use crate::report::traffic::{Counted, WIDTHS};
        use std::sync::Arc;

        let t0 = 1_793_491_200;
        let mut t = TrafficState::default();
        t.first = Some(t0);
        t.last = Some(t0 + 10 * 86_400 - 1);
        t.width = 3;
        assert_eq!(WIDTHS[3], 3_600);
        let cluster = t.strings.id("prod");
        let services = 300u32;
        for s in 0..services {
            let id = t.strings.id(&format!("service-{s:03}-with-a-long-name"));
            let key = (id, cluster);
            t.services.insert(
                key,
                ServiceTotals {
                    records: 1_000_000,
                    bytes: 1 << 40,
                    rejected: 1_000,
                    undirected_bytes: 0,
                },
            );
            for task in 0..50 {
                let task = t
                    .strings
                    .id(&format!("arn:aws:ecs:us-east-1:1:task/prod/{s}-{task}"));
                t.tasks.insert((key, task));
            }
            for h in 0..240 {
                t.series.insert(
                    (key, t0 + h * 3_600),
                    [1 << 30, 1 << 29, 1 << 28, 1 << 27, 1 << 26],
                );
            }
            for p in 0..1_000u32 {
                let mut prefix = crate::net::v4(198, (p >> 8) as u8, p as u8, 0);
                prefix[15] = 0;
                t.edges.insert(
                    (
                        key,
                        Group {
                            kind: 8,
                            label: crate::intern::NONE,
                            prefix,
                        },
                    ),
                    Edge {
                        records: 10,
                        bytes_in: 1_000 + p as u64,
                        bytes_out: 1_000,
                        rejected: 1,
                    },
                );
            }
        }
        for port in 0..=u16::MAX {
            for inbound in [true, false] {
                t.rejected.insert(
                    (6, port, inbound),
                    Counted {
                        records: 1 + port as u64,
                        packets: 2,
                        bytes: 120,
                    },
                );
            }
        }
        let text = |s: String| Some(Arc::from(s.as_str()));
        let findings: Vec<Finding> = (0..20_000u32)
            .map(|i| Finding {
                rule: Check::ALL[i as usize % 5].as_str(),
                severity: [Severity::High, Severity::Medium, Severity::Low][i as usize % 3],
                eni_id: Arc::from(format!("eni-{i:017x}").as_str()),
                task_arn: text(format!("arn:aws:ecs:us-east-1:1:task/prod/{i:032x}")),
                service: text(format!("service-{:03}-with-a-long-name", i % services)),
                cluster: text("prod".into()),
                peer_addr: format!("198.{}.{}.7", (i >> 8) & 255, i & 255),
                peer_kind: text("internet".into()),
                peer_service: None,
                peer_eni_id: None,
                peer_task_arn: None,
                // Some scans of every port; reasons longer than a row shows.
                ports: match i % 100 {
                    0 => (1..=u16::MAX).collect(),
                    _ => (1_000..1_020).collect(),
                },
                protocol: 6,
                action: "ACCEPT",
                flows: 3,
                records: 6,
                packets: 60,
                bytes: 6_000 + i as u64,
                first_seen: t0 + i as i64 * 40,
                last_seen: t0 + i as i64 * 40 + 86_400,
                reason: format!("{i} {}", "x".repeat(5_000)),
            })
            .collect();
        let summary = AuditSummary {
            tasks_audited: 15_000,
            high: 6_667,
            medium: 6_667,
            low: 6_666,
            checks: Checks::ALL,
            ..AuditSummary::default()
        };
        let map = EniMap::from_facts(Default::default());
        let policy = Policy::parse(
            "p.toml",
            "[defaults]\ningress_from_cidrs = [\"vpc\"]\n",
            &[],
            &CommandLineRules::default(),
        )
        .unwrap();
        let scan = ScanStats::default();
        let page = render(&ReportInput {
            findings: &findings,
            summary: &summary,
            traffic: &t,
            map: &map,
            policy: &policy,
            policy_name: "p.toml",
            scan: &scan,
            warnings: &[],
            command: "vpcflow report",
            generated: t0,
            limits: Limits::default(),
        });
        eprintln!("the page of very large aggregates: {} bytes", page.len());
        assert!(page.len() < 5_000_000, "{} bytes", page.len());
        assert!(page.contains("The table shows 1,000 of the 20,000 findings"));
        assert_eq!(page.matches("<tr id=\"f-").count(), 1_000);
        assert_eq!(page.matches("<svg class=\"chart timeline\"").count(), 40);
        assert!(page.contains("<h3>260 more services</h3>"));
        assert!(page.contains("984 more peers"));
        assert!(page.contains("65,516 other ports"));
    }
}
