//! Step 7 of the query: the findings, one per `(rule, task ENI, peer, protocol,
//! action)`, from each kind of finding a connection makes ([`KINDS`], numbered by their
//! place: the query's `k`), with the task and peer of the first connection in the
//! native order.

use std::fmt::Write;

use super::{rank, Query};
use crate::policy::audit::Check;

impl Query<'_> {
    /// One row per connection and finding, then the findings.
    pub(super) fn findings(&self, w: &mut String) {
        self.per_kind(w);
        self.grouped(w);
    }

    /// `kinds0` and `fr`: each connection once per kind of finding it makes, with the
    /// traffic that kind counts.
    fn per_kind(&self, w: &mut String) {
        let cols = "eni, task_arn, service, cluster, rule_id, pk, protocol, own_port, peer_port, \
                    p_eni, p_kind, p_task, p_service, p_cluster, p_lb, opener, server_port, aws_service";
        let clear_port = format!(
            "COALESCE(clear_by_port AND server_port IN ({}), FALSE)",
            self.cleartext_ports()
        );
        let also = |also: Also| match also {
            Also::Always => "TRUE".to_string(),
            Also::OnCleartextPort => clear_port.clone(),
        };
        let kinds: Vec<(usize, &FindingKind)> = KINDS
            .iter()
            .enumerate()
            .filter(|(_, k)| self.has(k.check))
            .collect();
        // `CASE k WHEN 0 THEN ... END` over the kinds.
        let by_kind = |f: &dyn Fn(&FindingKind) -> String| -> String {
            let mut s = "CASE k".to_string();
            for (i, k) in &kinds {
                let _ = write!(s, " WHEN {i} THEN {}", f(k));
            }
            s + " END"
        };
        let sum = |part: &str| {
            by_kind(&|k| match k.b {
                None => format!("{}_{part}", k.a),
                Some((b, when)) => format!(
                    "{}_{part} + CASE WHEN {} THEN {b}_{part} ELSE 0 END",
                    k.a,
                    also(when)
                ),
            })
        };
        // The first or last time of the records counted: of `a`, of `b`, or of both.
        let time = |part: &str, cmp: &str| {
            by_kind(&|k| match k.b {
                None => format!("{}_{part}", k.a),
                Some((b, when)) => {
                    let (a, cond) = (k.a, also(when));
                    format!(
                        "CASE WHEN {a}_n > 0 AND {cond} AND {b}_n > 0 THEN CASE WHEN {a}_{part} {cmp} {b}_{part} \
                         THEN {a}_{part} ELSE {b}_{part} END WHEN {a}_n > 0 THEN {a}_{part} ELSE {b}_{part} END"
                    )
                }
            })
        };
        let values: Vec<String> = kinds.iter().map(|(i, _)| format!("({i})")).collect();
        let _ = writeln!(
            w,
            "-- 7. Findings: one per (rule, task ENI, peer, protocol, action), from each kind a connection makes.\n\
             kinds0 AS (\n  SELECT {cols}, {rank} AS rule_rank, {action} AS action,\n    \
             {when} AS keep,\n    \
             {n} AS n,\n    {p} AS p,\n    {b} AS b,\n    {f} AS f,\n    {l} AS l,\n    \
             k = {clear} AND ue_n > 0 AS ev_status, k = {clear} AND {clear_port} AND uk_n > 0 AS ev_port, \
             k = {aws} AND by_field AS ev_field\n  \
             FROM cf CROSS JOIN (VALUES {values}) AS kinds(k)\n),\n\
             fr AS (SELECT * FROM kinds0 WHERE keep AND n > 0),",
            rank = by_kind(&|k| rank(k.check).to_string()),
            action = by_kind(&|k| self.lit(k.action)),
            when = by_kind(&|k| k.when.to_string()),
            n = sum("n"),
            p = sum("p"),
            b = sum("b"),
            f = time("f", "<"),
            l = time("l", ">"),
            clear = kind(Check::Cleartext),
            aws = kind(Check::PrivatelinkBypass),
            values = values.join(", "),
        );
    }

    /// `fr2` and `dr`: the findings, with the task and peer of their first connection.
    fn grouped(&self, w: &mut String) {
        let order =
            "task_arn NULLS FIRST, p_eni NULLS FIRST, p_task NULLS FIRST, own_port, peer_port";
        let first = |c: &str| format!("MAX(CASE WHEN rn = 1 THEN {c} END) AS {c}");
        let firsts: Vec<String> = [
            "task_arn",
            "service",
            "cluster",
            "rule_id",
            "p_eni",
            "p_kind",
            "p_task",
            "p_service",
            "p_cluster",
            "p_lb",
        ]
        .iter()
        .map(|c| first(c))
        .collect();
        let _ = writeln!(
            w,
            "fr2 AS (\n  SELECT fr.*, ROW_NUMBER() OVER (PARTITION BY rule_rank, eni, pk, protocol, action ORDER BY {order}) AS rn FROM fr\n),\n\
             dr AS (\n  SELECT rule_rank, eni, pk, protocol, action, COUNT(*) AS flows, SUM(n) AS records, SUM(p) AS packets, \
             SUM(b) AS bytes, MIN(f) AS f, MAX(l) AS l,\n    \
             {ports} AS ports,\n    \
             MAX(CASE WHEN opener = 1 THEN 1 ELSE 0 END) AS by_peer, MAX(CASE WHEN opener = 0 THEN 1 ELSE 0 END) AS by_task,\n    \
             MAX(CASE WHEN opener IS NULL THEN 1 ELSE 0 END) AS by_nobody,\n    \
             MAX(CASE WHEN ev_status THEN 1 ELSE 0 END) AS ev_status, MAX(CASE WHEN ev_port THEN 1 ELSE 0 END) AS ev_port,\n    \
             MAX(CASE WHEN ev_field THEN 1 ELSE 0 END) AS ev_field, MIN(aws_service) AS aws_service,\n    \
             {firsts}\n  \
             FROM fr2 GROUP BY rule_rank, eni, pk, protocol, action\n),",
            ports = self.d.agg_sorted_ints("server_port"),
            firsts = firsts.join(", "),
        );
    }
}

/// A kind of finding a connection can make: its check and action, when it applies, and
/// the traffic it counts: the columns `a` (`ia`: inbound accepted, `ir`, `oa`, `orj`,
/// `ue`, `uk`, `aw`), plus `b` when [`Also`] says.
struct FindingKind {
    check: Check,
    action: &'static str,
    when: &'static str,
    a: &'static str,
    b: Option<(&'static str, Also)>,
}

/// When a kind also counts the traffic of its column `b`.
#[derive(Clone, Copy)]
enum Also {
    Always,
    /// When the connection's server port is a cleartext port of the policy.
    OnCleartextPort,
}

/// The kinds, numbered by their place here (the query's `k`; [`kind`] finds a check's).
const KINDS: [FindingKind; 9] = {
    use Check::*;
    const fn def(
        check: Check,
        action: &'static str,
        when: &'static str,
        a: &'static str,
        b: Option<(&'static str, Also)>,
    ) -> FindingKind {
        FindingKind {
            check,
            action,
            when,
            a,
            b,
        }
    }
    [
        def(
            UnexpectedIngress,
            "ACCEPT",
            "NOT ing_ok AND opener = 1",
            "ia",
            None,
        ),
        def(
            UnexpectedIngress,
            "REJECT",
            "NOT ing_ok AND opener = 1",
            "ir",
            None,
        ),
        def(
            UnexpectedEgress,
            "ACCEPT",
            "egress AND opener = 0",
            "oa",
            None,
        ),
        def(
            UnexpectedEgress,
            "REJECT",
            "egress AND opener = 0",
            "orj",
            None,
        ),
        // Records marked unencrypted, plus those without the mark when the server
        // port is a cleartext one.
        def(
            Cleartext,
            "ACCEPT",
            "TRUE",
            "ue",
            Some(("uk", Also::OnCleartextPort)),
        ),
        def(
            Isolation,
            "ACCEPT",
            "NOT iso_ok",
            "oa",
            Some(("ia", Also::Always)),
        ),
        def(
            Isolation,
            "REJECT",
            "NOT iso_ok",
            "orj",
            Some(("ir", Also::Always)),
        ),
        def(
            PrivatelinkBypass,
            "ACCEPT",
            "aws AND opener = 0",
            "aw",
            None,
        ),
        // The accepted records, either direction.
        def(
            NewPeer,
            "ACCEPT",
            "NOT np_ok",
            "oa",
            Some(("ia", Also::Always)),
        ),
    ]
};

/// The number of the first kind of finding of a check (the query's `k`).
pub(super) fn kind(check: Check) -> usize {
    KINDS
        .iter()
        .position(|k| k.check == check)
        .expect("every check has a kind of finding")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_has_a_kind_and_kind_finds_it() {
        for c in Check::ALL {
            assert_eq!(KINDS[kind(c)].check, c);
        }
        assert!(KINDS.iter().all(|k| Check::ALL.contains(&k.check)));
    }
}
