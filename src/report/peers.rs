//! A service's peers, as a star graph and a table: the peer groups with findings
//! first, then those with the most bytes, up to the limit, and one node for the rest.

use std::collections::BTreeSet;
use std::fmt::Write;

use rustc_hash::FxHashMap;

use super::fmt::{bytes, count, esc};
use super::input::ReportInput;
use super::svg::{self, Node};
use super::traffic::{group_label, kind_index, kind_of, prefix_of, total, Edge, Group};
use super::view::{finding_id, ServiceView};
use super::words::{group_name, list_words};
use crate::enrich::{EniMap, PeerKind};
use crate::policy::audit::Finding;

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

/// Writes the peers of service `v` (named `name`) from its `edges`, which it sorts.
pub fn peers(
    out: &mut String,
    r: &ReportInput,
    v: &ServiceView,
    name: &str,
    edges: &mut [(Group, Edge)],
    shown: &BTreeSet<usize>,
) {
    let t = r.traffic;
    // The service's findings by the group of their peer.
    let texts: Vec<Option<OwnedGroup>> = v
        .findings
        .iter()
        .map(|&fi| finding_group(r.map, &r.findings[fi]))
        .collect();
    let mut about: FxHashMap<GroupText, Vec<usize>> = FxHashMap::default();
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
        let kind = kind_of(g.kind);
        let label = group_name(kind.as_str(), t.strings.get(g.label), &g.prefix);
        let findings = about.get(&text_of(g)).map(Vec::as_slice);
        nodes.push(peer(&mut rows, r, kind, label, e, findings, shown));
    }
    if !rest.is_empty() {
        let with = rest.iter().filter(|(g, _)| bad(g)).count();
        nodes.push(more_peers(&mut rows, rest, with));
    }
    if !nodes.is_empty() {
        let _ = write!(out, r#"<h4>Peers</h4><div class="pair"><div>"#);
        svg::star(out, name, &nodes, &format!("Peers of {name}"));
        let _ = write!(
            out,
            r#"</div><div class="scroll"><table class="plain peers"><thead><tr><th>Peer</th><th class="num">Bytes in</th><th class="num">Bytes out</th><th class="num">Records</th><th class="num">Rejected</th><th>Findings</th></tr></thead><tbody>{rows}</tbody></table></div></div>"#
        );
    }
}

/// A peer group drawn: its row of the table (in `rows`) and its node of the graph.
fn peer(
    rows: &mut String,
    r: &ReportInput,
    kind: PeerKind,
    label: String,
    e: &Edge,
    findings: Option<&[usize]>,
    shown: &BTreeSet<usize>,
) -> Node {
    let class = kind.class();
    let mut title = format!(
        "{label}: {} in, {} out, {} records, {} rejected",
        bytes(e.bytes_in),
        bytes(e.bytes_out),
        count(e.records),
        count(e.rejected)
    );
    if let Some(list) = findings {
        title += &format!("; findings: {}", list_words(r.findings, list));
    }
    if kind == PeerKind::Natgw {
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
        class.css(),
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
    Node {
        label,
        title,
        css: class.css(),
        bytes: e.bytes(),
        bad: findings.is_some(),
    }
}

/// The peer groups past the limit, `with` of them with findings, as one row and one
/// node.
fn more_peers(rows: &mut String, rest: &[(Group, Edge)], with: usize) -> Node {
    let b = total(rest.iter().map(|(_, e)| e.bytes()));
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
    Node {
        label,
        title,
        css: "k-more",
        bytes: b,
        bad: with > 0,
    }
}
