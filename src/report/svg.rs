//! The report's charts, drawn as inline SVG: a stacked area chart of bytes over time
//! with findings marked under it, a star graph of a service's peers, and horizontal
//! bars. Colours come from CSS classes, so that the page's light and dark themes and
//! its print style apply to the charts too.

use std::fmt::Write;

use chrono::{TimeZone, Utc};

use super::fmt::{bytes, count, esc};
use super::traffic::{total, PeerClass};
use super::words::SEVERITIES;

/// Bytes over time, stacked by kind of peer.
pub struct Timeline<'a> {
    /// The start of the first bucket and the width of each, in unix seconds.
    pub start: i64,
    pub width: i64,
    /// Bytes per bucket by [`PeerClass`].
    pub series: &'a [[u64; 5]],
    /// Findings, by severity (high, medium, low).
    pub marks: [Vec<Mark>; 3],
}

/// A finding on the time axis: the buckets it spans.
pub struct Mark {
    pub from: usize,
    pub to: usize,
    pub title: String,
    /// The id of its row in the findings table.
    pub id: String,
}

// The timeline's frame: plot left/right/top/bottom, the lanes of finding marks.
const W: f64 = 960.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 948.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 150.0;
const LANE: f64 = 11.0;
const LANES_TOP: f64 = 158.0;
const H: f64 = LANES_TOP + 3.0 * LANE + 22.0;

/// A value rounded up to a round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power
/// of ten), so that the chart's top is close above its highest point.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|x| *x >= v)
        .unwrap_or(10.0 * p)
}

/// Tick steps of the time axis, in seconds.
const TICKS: [i64; 14] = [
    60, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
    2_419_200,
];

fn time_label(t: i64, step: i64, first: bool) -> String {
    let Some(d) = Utc.timestamp_opt(t, 0).single() else {
        return t.to_string();
    };
    let f = if step >= 86_400 {
        "%Y-%m-%d"
    } else if first || d.format("%H:%M").to_string() == "00:00" {
        "%m-%d %H:%M"
    } else {
        "%H:%M"
    };
    d.format(f).to_string()
}

/// Draws a timeline (see [`Timeline`]).
pub fn timeline(out: &mut String, t: &Timeline, label: &str) {
    let totals = t.series.iter().map(|v| total(v.iter().copied()));
    let frame = Frame {
        n: t.series.len().max(1),
        top: nice(totals.max().unwrap_or(0) as f64),
    };
    let _ = write!(
        out,
        r#"<svg class="chart timeline" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(label)
    );
    bytes_axis(out, &frame);
    areas(out, t, &frame);
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" x2="{RIGHT}" y1="{BOTTOM}" y2="{BOTTOM}"/>"#
    );
    lanes(out, t, &frame);
    time_axis(out, t, &frame);
    out.push_str("</svg>");
}

/// A timeline's scales: `n` buckets across the plot, bytes up to `top`.
struct Frame {
    n: usize,
    top: f64,
}

impl Frame {
    /// The x of the left edge of bucket `i` (fractions in between).
    fn x(&self, i: f64) -> f64 {
        LEFT + (RIGHT - LEFT) * i / self.n as f64
    }

    /// The y of `v` bytes.
    fn y(&self, v: f64) -> f64 {
        BOTTOM - (BOTTOM - TOP) * v / self.top
    }
}

/// The grid and the bytes axis: five lines from zero to the top.
fn bytes_axis(out: &mut String, f: &Frame) {
    for k in 0..=4 {
        let v = f.top * k as f64 / 4.0;
        let yy = f.y(v);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1}" y2="{yy:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            yy + 4.0,
            bytes(v as u64)
        );
    }
}

/// Stacked areas through the buckets' middles, in a plot of their own whose units are
/// half buckets and thousandths of the height (short integer paths). Each kind is drawn
/// from the axis up to its top of the stack, the highest first, so that each paints
/// over the ones above it in the stack.
fn areas(out: &mut String, t: &Timeline, f: &Frame) {
    let _ = write!(
        out,
        r#"<svg x="{LEFT}" y="{TOP}" width="{}" height="{}" viewBox="0 0 {} 1000" preserveAspectRatio="none">"#,
        RIGHT - LEFT,
        BOTTOM - TOP,
        2 * f.n
    );
    let level = |v: u64| 1000 - (1000.0 * v as f64 / f.top).round() as i64;
    let mut stack = vec![[0u64; 5]; t.series.len()];
    for (s, v) in stack.iter_mut().zip(t.series) {
        let mut sum = 0;
        for (c, x) in v.iter().enumerate() {
            sum = u64::saturating_add(sum, *x);
            s[c] = sum;
        }
    }
    for class in PeerClass::ALL.iter().rev() {
        let c = *class as usize;
        let sum = total(t.series.iter().map(|v| v[c]));
        if sum == 0 {
            continue;
        }
        let mut d = String::from("M1 1000");
        for (i, v) in stack.iter().enumerate() {
            let _ = write!(d, "L{} {}", 2 * i + 1, level(v[c]));
        }
        let _ = write!(
            out,
            r#"<path class="area {}" d="{d}L{} 1000Z"><title>{}: {}</title></path>"#,
            class.css(),
            2 * f.n - 1,
            class.name(),
            bytes(sum)
        );
    }
    out.push_str("</svg>");
}

/// The findings' lanes under the time axis, one a severity, each mark a link to its row.
fn lanes(out: &mut String, t: &Timeline, f: &Frame) {
    for (lane, marks) in t.marks.iter().enumerate() {
        let ly = LANES_TOP + lane as f64 * LANE;
        let _ = write!(
            out,
            r#"<text class="lane" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            ly + 7.5,
            SEVERITIES[lane]
        );
        for m in marks {
            let (x0, x1) = (f.x(m.from as f64), f.x(m.to as f64 + 1.0));
            let _ = write!(
                out,
                r##"<a href="#{}"><rect class="mark sev-{}" x="{x0:.1}" y="{ly:.1}" width="{:.1}" height="{}" rx="2"><title>{}</title></rect></a>"##,
                esc(&m.id),
                SEVERITIES[lane],
                (x1 - x0).max(3.0),
                LANE - 3.0,
                esc(&m.title)
            );
        }
    }
}

/// The time axis: at most about eight ticks, at a round step, with their grid lines.
fn time_axis(out: &mut String, t: &Timeline, f: &Frame) {
    let span = t.width * f.n as i64;
    let step = TICKS
        .iter()
        .copied()
        .find(|s| span / s <= 8)
        .unwrap_or_else(|| (span / 8).max(1));
    let end = t.start + span;
    let mut tick = (t.start + step - 1).div_euclid(step) * step;
    let mut first = true;
    while tick <= end {
        let xx = f.x((tick - t.start) as f64 / t.width as f64);
        // Labels at the ends stay inside the frame.
        let anchor = if xx > RIGHT - 40.0 {
            "end"
        } else if xx < LEFT + 10.0 {
            "start"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<line class="grid" x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{BOTTOM}"/><text class="tick" x="{xx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            H - 6.0,
            time_label(tick, step, first)
        );
        first = false;
        tick += step;
    }
}

/// A peer drawn around a service.
pub struct Node {
    pub label: String,
    /// Its tooltip.
    pub title: String,
    /// The CSS class of its kind's colour.
    pub css: &'static str,
    pub bytes: u64,
    /// Some finding is about it: its edge is drawn red.
    pub bad: bool,
}

const GW: f64 = 760.0;
const GH: f64 = 420.0;
const RADIUS: f64 = 150.0;
/// A peer's label: at most this many characters, each at most this wide (11 px text),
/// and lines of labels this far apart, so that a label stays inside the drawing and
/// apart from the others.
const LABEL_CHARS: usize = 26;
const LINE: f64 = 15.0;

/// Where each peer's label goes: beside its node, on the right of the drawing for nodes
/// on the right half (anchored at its start) and on the left for the others (anchored
/// at its end), each side's labels pushed apart to one line each and kept inside the
/// drawing.
fn label_places(places: &[(f64, f64)], cx: f64, cy: f64) -> Vec<(f64, f64, &'static str)> {
    let mut out: Vec<(f64, f64, &'static str)> = places
        .iter()
        .map(|&(c, s)| {
            let (x, y) = (cx + RADIUS * c, cy + RADIUS * s);
            if c >= -1e-9 {
                (x + 12.0, y + 4.0, "start")
            } else {
                (x - 12.0, y + 4.0, "end")
            }
        })
        .collect();
    for side in ["start", "end"] {
        let mut idx: Vec<usize> = (0..out.len()).filter(|&i| out[i].2 == side).collect();
        idx.sort_by(|&a, &b| out[a].1.total_cmp(&out[b].1));
        // Down from the top, one line apart; then up from the bottom edge.
        let mut prev = LINE - 4.0 - LINE;
        for &i in &idx {
            out[i].1 = out[i].1.max(prev + LINE);
            prev = out[i].1;
        }
        let mut next = GH - 4.0 + LINE;
        for &i in idx.iter().rev() {
            out[i].1 = out[i].1.min(next - LINE);
            next = out[i].1;
        }
    }
    out
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

/// Draws a service and its peers as a star: the service in the middle, an edge to
/// each peer, as wide as its traffic (on a log scale), red where a finding is about it.
pub fn star(out: &mut String, center: &str, nodes: &[Node], label: &str) {
    let (cx, cy) = (GW / 2.0, GH / 2.0);
    let _ = write!(
        out,
        r#"<svg class="chart graph" viewBox="0 0 {GW} {GH}" role="img" aria-label="{}">"#,
        esc(label)
    );
    let max = nodes.iter().map(|n| n.bytes).max().unwrap_or(1).max(2) as f64;
    let n = nodes.len().max(1) as f64;
    let place = |i: usize| {
        let a = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n;
        (a.cos(), a.sin())
    };
    // Edges first, red ones last so that they are drawn on top.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| nodes[i].bad);
    for i in order {
        let node = &nodes[i];
        let (c, s) = place(i);
        let w = 1.0 + 5.0 * ((node.bytes as f64 + 1.0).ln() / (max + 1.0).ln());
        let _ = write!(
            out,
            r#"<line class="edge{}" x1="{cx}" y1="{cy}" x2="{:.1}" y2="{:.1}" stroke-width="{w:.1}"><title>{}</title></line>"#,
            if node.bad { " bad" } else { "" },
            cx + RADIUS * c,
            cy + RADIUS * s,
            esc(&node.title)
        );
    }
    let places: Vec<(f64, f64)> = (0..nodes.len()).map(place).collect();
    let labels = label_places(&places, cx, cy);
    for (i, node) in nodes.iter().enumerate() {
        let (c, s) = places[i];
        let (x, y) = (cx + RADIUS * c, cy + RADIUS * s);
        let (lx, ly, anchor) = labels[i];
        let _ = write!(
            out,
            r#"<g><title>{}</title><circle class="node {}{}" cx="{x:.1}" cy="{y:.1}" r="7"/><text class="label" x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}">{}</text></g>"#,
            esc(&node.title),
            node.css,
            if node.bad { " bad" } else { "" },
            esc(&short(&node.label, LABEL_CHARS))
        );
    }
    let _ = write!(
        out,
        r#"<circle class="node center" cx="{cx}" cy="{cy}" r="20"/><text class="label center" x="{cx}" y="{:.1}" text-anchor="middle">{}</text></svg>"#,
        cy + 36.0,
        esc(&short(center, 30))
    );
}

/// A row of a bar chart: two parts (inbound and outbound).
pub struct Bar {
    pub label: String,
    pub parts: [u64; 2],
    pub title: String,
}

/// Draws horizontal bars, each split in two parts (see [`Bar`]), on one scale.
pub fn bars(out: &mut String, rows: &[Bar], label: &str) {
    const ROW: f64 = 22.0;
    const LABEL: f64 = 170.0;
    const END: f64 = 860.0;
    let h = ROW * rows.len() as f64 + 8.0;
    let max = rows
        .iter()
        .map(|r| r.parts[0] + r.parts[1])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let _ = write!(
        out,
        r#"<svg class="chart bars" viewBox="0 0 {W} {h}" role="img" aria-label="{}">"#,
        esc(label)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let _ = write!(
            out,
            r#"<g><title>{}</title><text class="label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            esc(&r.title),
            LABEL - 8.0,
            y + 15.0,
            esc(&short(&r.label, 26))
        );
        let mut x = LABEL;
        for (p, v) in r.parts.iter().enumerate() {
            let w = (END - LABEL) * *v as f64 / max;
            if *v > 0 {
                let _ = write!(
                    out,
                    r#"<rect class="bar part{p}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{}"/>"#,
                    y + 3.0,
                    w.max(1.0),
                    ROW - 6.0
                );
            }
            x += w;
        }
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{:.1}">{}</text></g>"#,
            x + 6.0,
            y + 15.0,
            count(r.parts[0] + r.parts[1])
        );
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_labels_keep_apart_and_inside_the_drawing() {
        // The most peers a graph draws (16 and "more"), and more: each side's labels a
        // line apart, inside the drawing, with room for the longest label (at 7 px a
        // character, wider than 11 px text's characters).
        for n in [1usize, 2, 5, 17, 24] {
            let places: Vec<(f64, f64)> = (0..n)
                .map(|i| {
                    let a =
                        -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n as f64;
                    (a.cos(), a.sin())
                })
                .collect();
            let labels = label_places(&places, GW / 2.0, GH / 2.0);
            let width = LABEL_CHARS as f64 * 7.0;
            for side in ["start", "end"] {
                let mut ys: Vec<f64> = labels.iter().filter(|l| l.2 == side).map(|l| l.1).collect();
                ys.sort_by(f64::total_cmp);
                for w in ys.windows(2) {
                    assert!(w[1] - w[0] >= LINE - 1e-9, "{n}: {ys:?}");
                }
                assert!(
                    ys.iter().all(|y| *y - 11.0 >= 0.0 && *y + 4.0 <= GH),
                    "{n}: {ys:?}"
                );
            }
            for (x, _, anchor) in &labels {
                match *anchor {
                    "start" => assert!(x + width <= GW && *x >= GW / 2.0, "{n}"),
                    _ => assert!(x - width >= 0.0 && *x <= GW / 2.0, "{n}"),
                }
            }
        }
    }

    #[test]
    fn nice_rounds_up_to_a_round_number() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(7.0), 8.0);
        assert_eq!(nice(10.0), 10.0);
        assert_eq!(nice(11.0), 15.0);
        assert_eq!(nice(4_100.0), 5_000.0);
        assert_eq!(nice(220e6), 250e6);
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(short("abc", 5), "abc");
        assert_eq!(short("abcdefgh", 5), "abcd…");
    }

    #[test]
    fn the_time_axis_labels_the_first_tick_and_midnight_with_the_date() {
        // 2026-11-01T00:00:00Z and 07:00 of that day.
        assert_eq!(time_label(1_793_491_200, 3_600, true), "11-01 00:00");
        assert_eq!(time_label(1_793_516_400, 3_600, false), "07:00");
        assert_eq!(time_label(1_793_491_200, 3_600, false), "11-01 00:00");
        assert_eq!(time_label(1_793_491_200, 86_400, false), "2026-11-01");
    }
}
