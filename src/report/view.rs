//! What the page shows, decided once before any of it is written: the services with
//! their findings in the page's order ([`ServiceView`]), the findings the table has
//! room for, the time grid every timeline shares ([`Grid`]) and a finding's row id.

use rustc_hash::FxHashMap;

use super::input::ReportInput;
use super::traffic::{ServiceKey, ServiceTotals, TrafficState, WIDTHS};
use super::words::{service_name, severity_index};

/// One service of the page.
pub struct ServiceView<'a> {
    pub key: Option<ServiceKey>,
    pub service: Option<&'a str>,
    pub cluster: Option<&'a str>,
    pub totals: ServiceTotals,
    pub tasks: u64,
    /// Its findings (indices into the audit's).
    pub findings: Vec<usize>,
    /// Its findings by severity.
    pub severities: [u64; 3],
}

impl ServiceView<'_> {
    pub fn name(&self) -> String {
        service_name(self.service, self.cluster)
    }
}

/// The services of the traffic and of the findings, each with its findings, the worst
/// first, then those with the most bytes, then by name.
pub fn service_views<'a>(r: &ReportInput<'a>) -> Vec<ServiceView<'a>> {
    let t = r.traffic;
    let strings = |id: u32| t.strings.get(id);
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
    views
}

/// The findings the table shows (indices into the audit's): all, or the worst when there
/// are too many; by service in the audit's order (the worst service first), and within a
/// service the worst first, then in the audit's order (by rule).
pub fn shown_findings(r: &ReportInput) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..r.findings.len()).collect();
    if shown.len() > r.limits.findings {
        shown.sort_by_key(|&i| {
            let f = &r.findings[i];
            (f.severity, std::cmp::Reverse(f.bytes), i)
        });
        shown.truncate(r.limits.findings);
    }
    // Each service's place: its first finding in the audit's order.
    let mut first: std::collections::HashMap<(Option<&str>, Option<&str>), usize> =
        std::collections::HashMap::new();
    for (i, f) in r.findings.iter().enumerate() {
        first
            .entry((f.service.as_deref(), f.cluster.as_deref()))
            .or_insert(i);
    }
    shown.sort_by_key(|&i| {
        let f = &r.findings[i];
        (
            first[&(f.service.as_deref(), f.cluster.as_deref())],
            f.severity,
            i,
        )
    });
    shown
}

/// The row id of a finding (its 1-based place in the audit's order).
pub fn finding_id(i: usize) -> String {
    format!("f-{}", i + 1)
}

/// The time grid every timeline shares.
pub struct Grid {
    pub start: i64,
    pub width: i64,
    pub points: usize,
}

impl Grid {
    pub fn of(t: &TrafficState, points: usize) -> Option<Grid> {
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

    /// The bucket of unix second `t` (the first or the last outside the grid).
    pub fn index(&self, t: i64) -> usize {
        ((t - self.start).div_euclid(self.width)).clamp(0, self.points as i64 - 1) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
