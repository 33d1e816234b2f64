//! The page's skeleton: the head (its Content-Security-Policy, inline style, title),
//! the navigation, the sections in order, and the footer with the inline script.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::findings::findings_table;
use super::fmt::esc;
use super::input::ReportInput;
use super::rejected::rejected;
use super::service::services;
use super::summary::summary;
use super::verdict::verdict;
use super::view::{service_views, shown_findings, Grid};
use super::words::when;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

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

/// Renders the whole page.
pub fn render(r: &ReportInput) -> String {
    let views = service_views(r);
    let shown = shown_findings(r);
    let shown_set: BTreeSet<usize> = shown.iter().copied().collect();
    let mut out = String::with_capacity(256 << 10);
    head(&mut out, r);
    verdict(&mut out, r);
    summary(&mut out, r, &views);
    findings_table(&mut out, r, &shown);
    let grid = Grid::of(r.traffic, r.limits.points);
    services(&mut out, r, &views, grid.as_ref(), &shown_set);
    rejected(&mut out, r);
    foot(&mut out, r);
    out
}

/// From the doctype to the opening of `<main>`: the head, the page's title and the
/// navigation.
fn head(out: &mut String, r: &ReportInput) {
    let t = r.traffic;
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
}

/// From the closing of `<main>` to the end: the footer and the inline script.
fn foot(out: &mut String, r: &ReportInput) {
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
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::enrich::EniMap;
    use crate::policy::audit::{AuditSummary, Check, Checks, Finding, Severity};
    use crate::policy::{CommandLineRules, Policy};
    use crate::report::input::Limits;
    use crate::report::traffic::{Counted, Edge, Group, ServiceTotals, TrafficState, WIDTHS};
    use crate::scan::ScanStats;

    const T0: i64 = 1_793_491_200;
    const SERVICES: u32 = 300;

    /// Traffic of very large aggregates: hundreds of services, thousands of peers each,
    /// every port rejected, ten days of hourly buckets.
    fn huge_traffic() -> TrafficState {
        let mut t = TrafficState::default();
        t.first = Some(T0);
        t.last = Some(T0 + 10 * 86_400 - 1);
        t.width = 3;
        assert_eq!(WIDTHS[3], 3_600);
        let cluster = t.strings.id("prod");
        for s in 0..SERVICES {
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
                    (key, T0 + h * 3_600),
                    [1 << 30, 1 << 29, 1 << 28, 1 << 27, 1 << 26],
                );
            }
            for p in 0..1_000u32 {
                let mut prefix = crate::net::v4(198, (p >> 8) as u8, p as u8, 0);
                prefix[15] = 0;
                let group = Group {
                    kind: 8,
                    label: crate::intern::NONE,
                    prefix,
                };
                let edge = Edge {
                    records: 10,
                    bytes_in: 1_000 + p as u64,
                    bytes_out: 1_000,
                    rejected: 1,
                };
                t.edges.insert((key, group), edge);
            }
        }
        for port in 0..=u16::MAX {
            for inbound in [true, false] {
                let c = Counted {
                    records: 1 + port as u64,
                    packets: 2,
                    bytes: 120,
                };
                t.rejected.insert((6, port, inbound), c);
            }
        }
        t
    }

    /// Tens of thousands of findings, some of them scans of every port, with reasons
    /// longer than a row shows.
    fn huge_findings() -> Vec<Finding> {
        let text = |s: String| Some(Arc::from(s.as_str()));
        (0..20_000u32)
            .map(|i| Finding {
                rule: Check::ALL[i as usize % 5].as_str(),
                severity: [Severity::High, Severity::Medium, Severity::Low][i as usize % 3],
                eni_id: Arc::from(format!("eni-{i:017x}").as_str()),
                task_arn: text(format!("arn:aws:ecs:us-east-1:1:task/prod/{i:032x}")),
                service: text(format!("service-{:03}-with-a-long-name", i % SERVICES)),
                cluster: text("prod".into()),
                peer_addr: format!("198.{}.{}.7", (i >> 8) & 255, i & 255),
                peer_kind: text("internet".into()),
                peer_service: None,
                peer_eni_id: None,
                peer_task_arn: None,
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
                first_seen: T0 + i as i64 * 40,
                last_seen: T0 + i as i64 * 40 + 86_400,
                reason: format!("{i} {}", "x".repeat(5_000)),
                sg_rule: None,
                direction: None,
            })
            .collect()
    }

    /// A page of very large aggregates and findings: its size stays within the bound
    /// the limits promise.
    #[test]
    fn the_page_stays_under_five_megabytes_whatever_the_input() {
        let t = huge_traffic();
        let findings = huge_findings();
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
            generated: T0,
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
