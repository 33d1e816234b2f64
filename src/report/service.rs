//! The services section: for each service drawn, its article (counts, its policy rule,
//! its traffic over time with its findings marked under it, and its peers, see
//! [`super::peers`]); a table of the services past the limit.

use std::collections::BTreeSet;
use std::fmt::Write;

use rustc_hash::FxHashMap;

use super::fmt::{bytes, count, esc};
use super::input::ReportInput;
use super::peers::peers;
use super::svg::{self, Mark, Timeline};
use super::traffic::{add_counts, Edge, Group, PeerClass, ServiceKey};
use super::view::{finding_id, Grid, ServiceView};
use super::words::{list_words, per, plural, severity_index, SEVERITIES};

/// Bytes per time bucket of the grid by [`PeerClass`], of one service.
type Series = Vec<[u64; 5]>;

/// Writes the services section; `views` are the services in the page's order, `shown`
/// the findings the table has rows for.
pub fn services(
    out: &mut String,
    r: &ReportInput,
    views: &[ServiceView],
    grid: Option<&Grid>,
    shown: &BTreeSet<usize>,
) {
    out.push_str(r#"<section id="services"><h2>Services</h2>"#);
    if views.is_empty() {
        out.push_str(r#"<p class="muted">No record was logged on a task ENI.</p></section>"#);
        return;
    }
    let drawn = views.len().min(r.limits.services);
    let (series, mut edges) = gather(r, &views[..drawn], grid);
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
        more_services(out, &views[drawn..]);
    }
    out.push_str("</section>\n");
}

/// The series and the edges of the services drawn, gathered in one pass each.
fn gather(
    r: &ReportInput,
    drawn: &[ServiceView],
    grid: Option<&Grid>,
) -> (Vec<Series>, Vec<Vec<(Group, Edge)>>) {
    let t = r.traffic;
    let slot: FxHashMap<ServiceKey, usize> = drawn
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.key.map(|k| (k, i)))
        .collect();
    let mut series: Vec<Series> = match grid {
        Some(g) => vec![vec![[0; 5]; g.points]; drawn.len()],
        None => vec![Vec::new(); drawn.len()],
    };
    if let Some(g) = grid {
        for ((k, b), v) in &t.series {
            if let Some(&i) = slot.get(k) {
                add_counts(&mut series[i][g.index(*b)], v);
            }
        }
    }
    let mut edges: Vec<Vec<(Group, Edge)>> = vec![Vec::new(); drawn.len()];
    for ((k, g), e) in &t.edges {
        if let Some(&i) = slot.get(k) {
            edges[i].push((*g, *e));
        }
    }
    (series, edges)
}

/// The services past the limit, as rows of a table.
fn more_services(out: &mut String, rest: &[ServiceView]) {
    let _ = write!(
        out,
        r#"<h3>{} more services</h3><div class="scroll"><table class="plain"><thead><tr><th>Service</th><th class="num">Tasks</th><th class="num">Records</th><th class="num">Bytes</th><th class="num">Rejected</th><th class="num">Findings</th></tr></thead><tbody>"#,
        count(rest.len() as u64)
    );
    for v in rest {
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

/// The article of service `v`, the `i`th drawn.
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
    let name = v.name();
    heading(out, v, i, &name);
    policy(out, r, v);
    if v.totals.undirected_bytes > 0 {
        let _ = write!(
            out,
            r#"<p class="muted">{} of records whose direction could not be decided are not drawn.</p>"#,
            bytes(v.totals.undirected_bytes)
        );
    }
    if let Some(g) = grid {
        timeline(out, r, v, g, series, shown, &name);
    }
    peers(out, r, v, &name, edges, shown);
    out.push_str("</article>\n");
}

/// The article's opening: the service's name, its counts and findings by severity.
fn heading(out: &mut String, v: &ServiceView, i: usize, name: &str) {
    let _ = write!(
        out,
        r#"<article class="service" id="svc-{}"><h3>{}</h3><p class="stats">{} task{} · {} records · {} · {} rejected records"#,
        i + 1,
        esc(name),
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
}

/// The service's policy rule in words, or that it is not audited.
fn policy(out: &mut String, r: &ReportInput, v: &ServiceView) {
    let Some(rule) = r.policy.rule_for(v.service, v.cluster) else {
        return out.push_str(
            r#"<p class="rule">Not audited: the policy has no rule for this service and no [defaults].</p>"#,
        );
    };
    let mut words = vec![rule.describe(r.map)];
    if rule.egress.is_some() {
        words.push(rule.describe_egress(r.map));
    }
    for (on, what) in [
        (rule.require_encryption, "requires encryption in transit"),
        (rule.isolated, "is isolated"),
        (
            rule.private_aws_access,
            "reaches AWS through VPC endpoints only",
        ),
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

/// Traffic over time, with the findings under it.
fn timeline(
    out: &mut String,
    r: &ReportInput,
    v: &ServiceView,
    g: &Grid,
    series: &[[u64; 5]],
    shown: &BTreeSet<usize>,
    name: &str,
) {
    let _ = write!(out, "<h4>Bytes per {}, by peer</h4>", per(g.width));
    svg::timeline(
        out,
        &Timeline {
            start: g.start,
            width: g.width,
            series,
            marks: marks(r, v, g, shown),
        },
        &format!("Bytes per {} of {name}, by kind of peer", per(g.width)),
    );
}

/// The marks of a service's findings, one lane a severity: findings whose buckets
/// touch or overlap are one mark.
fn marks(r: &ReportInput, v: &ServiceView, g: &Grid, shown: &BTreeSet<usize>) -> [Vec<Mark>; 3] {
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
    lanes.map(|mut spans| {
        spans.sort_unstable();
        lane(r, &spans, shown)
    })
}

/// One lane's marks from its findings' spans of buckets (sorted), each mark linked to
/// the row of its first finding the table shows.
fn lane(r: &ReportInput, spans: &[(usize, usize, usize)], shown: &BTreeSet<usize>) -> Vec<Mark> {
    let mut marks = Vec::new();
    let mut flush = |(from, to, list): (usize, usize, Vec<usize>)| {
        let target = list.iter().find(|i| shown.contains(i));
        marks.push(Mark {
            from,
            to,
            title: format!(
                "{} finding{}: {}",
                list.len(),
                plural(list.len() as u64),
                list_words(r.findings, &list)
            ),
            id: target.map_or("findings".into(), |&i| finding_id(i)),
        });
    };
    let mut run: Option<(usize, usize, Vec<usize>)> = None;
    for &(a, b, fi) in spans {
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
    marks
}
