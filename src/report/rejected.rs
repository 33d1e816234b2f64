//! The rejected traffic of the tasks, by protocol and destination port: a bar chart of
//! records sent by the peers and by the tasks, and a table, the ports with the most
//! rejected records first.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::fmt::{bytes, count, esc};
use super::input::ReportInput;
use super::svg::{self, Bar};
use super::traffic::{total, Counted};
use super::words::{plural, port_name, protocol};

/// A port's rejected records: by (protocol, port), [sent by the peer, sent by the task].
type PortRow = ((u16, u16), [Counted; 2]);

/// Writes the rejected-traffic section.
pub fn rejected(out: &mut String, r: &ReportInput) {
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
    let mut rows: Vec<PortRow> = ports.into_iter().collect();
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
    table(out, &rows[..shown], &rows[shown..]);
    out.push_str("</section>\n");
}

/// A port in words: `TCP 22 (ssh)`.
fn label((p, port): (u16, u16)) -> String {
    let name = port_name(port)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!("{} {port}{name}", protocol(p as i32))
}

/// The table of the ports drawn, and one row for the `rest`.
fn table(out: &mut String, drawn: &[PortRow], rest: &[PortRow]) {
    out.push_str(r#"<div class="scroll"><table class="plain"><thead><tr><th>Port</th><th class="num">Records in</th><th class="num">Records out</th><th class="num">Packets</th><th class="num">Bytes</th></tr></thead><tbody>"#);
    for (k, v) in drawn {
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
    if !rest.is_empty() {
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
    out.push_str("</tbody></table></div>");
}
