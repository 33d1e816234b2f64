//! The findings table: one row a finding, with the filters (service, rule, severity,
//! text) and the sortable columns the page's script drives.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::fmt::{bytes, count, esc};
use super::input::ReportInput;
use super::view::finding_id;
use super::words::{cut, ports, protocol, service_name, severity_index, span, task_name};
use crate::policy::audit::Check;

/// Ports listed in a finding's row; its reason, cut at this many characters (a scan of
/// every port has a reason of hundreds of kilobytes).
const PORTS_SHOWN: usize = 12;
const REASON_CHARS: usize = 1_000;

/// Writes the findings section: the rows of the findings in `shown` (indices into the
/// audit's, in its order).
pub fn findings_table(out: &mut String, r: &ReportInput, shown: &[usize]) {
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
    filters(out, r, shown);
    head(out);
    for &i in shown {
        row(out, r, i);
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// The filters: the services and rules of the rows shown, the severities, a text box.
fn filters(out: &mut String, r: &ReportInput, shown: &[usize]) {
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
}

/// The table's head: sort buttons on every column but the reason.
fn head(out: &mut String) {
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
}

/// The row of finding `i`: what the filters read in its `data-` attributes, the sort
/// keys in its cells' `data-v`.
fn row(out: &mut String, r: &ReportInput, i: usize) {
    let f = &r.findings[i];
    let sev = f.severity.as_str();
    let service = service_name(f.service.as_deref(), f.cluster.as_deref());
    let peer_sub = match (&f.peer_service, f.peer_kind.as_deref()) {
        (Some(s), Some(k)) => format!("{k} · {s}"),
        (None, Some(k)) => k.to_string(),
        _ => String::new(),
    };
    let task = f.task_arn.as_deref().unwrap_or("no task");
    let name = task_name(f.service.as_deref(), f.task_arn.as_deref(), &f.eni_id);
    let title = format!("{task} ({})", f.eni_id);
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
        esc(&title),
        esc(&service),
        esc(&name),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
