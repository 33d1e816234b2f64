//! Writers for audit findings: JSON Lines, CSV, and a table for people (grouped by
//! service, worst first).

use std::io::{self, Write};

use super::cell;
use super::table::{new_table, protocol_name};
use crate::policy::audit::{AuditSummary, Finding, Text};
use crate::text::printable;
use crate::time::rfc3339;

/// One JSON object per finding.
pub fn write_json(findings: &[Finding], mut out: impl Write) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut out, f)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The columns of the CSV output, in order.
pub const CSV_COLUMNS: [&str; 21] = [
    "rule",
    "severity",
    "eni_id",
    "task_arn",
    "service",
    "cluster",
    "peer_addr",
    "peer_kind",
    "peer_service",
    "peer_eni_id",
    "peer_task_arn",
    "ports",
    "protocol",
    "action",
    "flows",
    "records",
    "packets",
    "bytes",
    "first_seen",
    "last_seen",
    "reason",
];

/// CSV with a header row; `ports` separated by `;`.
pub fn write_csv(findings: &[Finding], out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    // `audit --security-groups` adds the column sg_rule, last.
    let sg = findings.iter().any(|f| f.sg_rule.is_some());
    let mut header: Vec<&str> = CSV_COLUMNS.to_vec();
    if sg {
        header.push("sg_rule");
    }
    w.write_record(&header)?;
    let o = |s: &Option<Text>| s.as_deref().unwrap_or_default().to_string();
    for f in findings {
        let mut row = vec![
            f.rule.to_string(),
            f.severity.as_str().to_string(),
            f.eni_id.to_string(),
            o(&f.task_arn),
            o(&f.service),
            o(&f.cluster),
            f.peer_addr.clone(),
            o(&f.peer_kind),
            o(&f.peer_service),
            o(&f.peer_eni_id),
            o(&f.peer_task_arn),
            ports(&f.ports, ";"),
            f.protocol.to_string(),
            f.action.to_string(),
            f.flows.to_string(),
            f.records.to_string(),
            f.packets.to_string(),
            f.bytes.to_string(),
            rfc3339(f.first_seen),
            rfc3339(f.last_seen),
            f.reason.clone(),
        ];
        if sg {
            row.push(f.sg_rule.clone().flatten().unwrap_or_default());
        }
        w.write_record(&row)?;
    }
    w.flush()
}

fn ports(p: &[u16], sep: &str) -> String {
    p.iter().map(u16::to_string).collect::<Vec<_>>().join(sep)
}

/// The task id: the last part of the task ARN.
fn short_task(arn: &Option<Text>) -> String {
    arn.as_deref()
        .map(|a| crate::enrich::arn_name(a).to_string())
        .unwrap_or_else(|| "-".into())
}

/// A table per service, services with the worst findings first. `width` is the
/// terminal width, if any.
pub fn write_table(
    findings: &[Finding],
    summary: &AuditSummary,
    width: Option<u16>,
    mut out: impl Write,
) -> io::Result<()> {
    if findings.is_empty() {
        let unjudged = summary.undecided + summary.counts.undirected;
        let rules = summary.per_rule();
        if summary.counts.aws_unknown > 0 {
            writeln!(
                out,
                "No finding, but privatelink-bypass could not be judged: {} (rules: {rules}).",
                crate::policy::audit::aws_unknown_words(summary.counts.aws_unknown)
            )?;
        } else if unjudged == 0 {
            writeln!(
                out,
                "No findings: the traffic of every audited task follows the policy (rules: {rules})."
            )?;
        } else {
            writeln!(
                out,
                "No finding, but not everything could be judged: {} connection{} with peers the \
                 policy does not admit had no evidence of who opened them, and {} record{} of \
                 audited tasks had no direction (see the summary on stderr).",
                summary.undecided,
                if summary.undecided == 1 { "" } else { "s" },
                summary.counts.undirected,
                if summary.counts.undirected == 1 {
                    ""
                } else {
                    "s"
                },
            )?;
        }
        return out.flush();
    }
    // The findings come grouped by service and rule (`policy::audit::order`).
    let mut first = true;
    for by_service in findings.chunk_by(|a, b| a.service == b.service) {
        if !first {
            writeln!(out)?;
        }
        first = false;
        writeln!(
            out,
            "service {} — {} finding{}",
            printable(by_service[0].service.as_deref().unwrap_or("(none)"), false),
            by_service.len(),
            if by_service.len() == 1 { "" } else { "s" }
        )?;
        for rows in by_service.chunk_by(|a, b| a.rule == b.rule) {
            writeln!(out, "{} ({})", rows[0].rule, rows.len())?;
            let mut t = new_table(width);
            t.set_header([
                "SEVERITY",
                "TASK",
                "PEER",
                "PEER IS",
                "PORTS",
                "ACTION",
                "FLOWS",
                "BYTES",
                "FIRST SEEN",
                "LAST SEEN",
            ]);
            for f in rows {
                let peer_is = match (&f.peer_kind, &f.peer_service) {
                    (Some(k), Some(s)) => format!("{k} ({s})"),
                    (Some(k), None) => k.to_string(),
                    _ => "-".into(),
                };
                t.add_row(
                    [
                        f.severity.as_str().to_string(),
                        short_task(&f.task_arn),
                        f.peer_addr.clone(),
                        peer_is,
                        format!("{} {}", protocol_name(f.protocol), ports(&f.ports, ",")),
                        f.action.to_string(),
                        f.flows.to_string(),
                        f.bytes.to_string(),
                        rfc3339(f.first_seen),
                        rfc3339(f.last_seen),
                    ]
                    .map(|c| cell(&c)),
                );
            }
            writeln!(out, "{t}")?;
            for f in rows {
                writeln!(out, "  - {}", printable(&f.reason, false))?;
            }
        }
    }
    out.flush()
}
