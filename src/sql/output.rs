//! Step 9 of the query: the rows of `vpcflow audit --format json` (each rule and
//! severity by its native name) in the audit's order, then the status row.

use std::fmt::Write;

use super::{
    arms_else, rank, sev, Query, FINDING_COLUMNS, JUDGED, SEVERITIES, STATUS_NULLS, STATUS_RULE,
};
use crate::policy::audit::Check;

impl Query<'_> {
    /// `fo` and the final `SELECT`: the findings in the audit's order, then the status
    /// row.
    pub(super) fn output(&self, w: &mut String) {
        let d = self.d;
        let rule = arms_else(
            Check::ALL.map(|c| (rank(c).to_string(), self.lit(c.as_str()))),
            " ",
        );
        let severity = arms_else(
            SEVERITIES.map(|s| (sev(s).to_string(), self.lit(s.as_str()))),
            " ",
        );
        let _ = writeln!(
            w,
            "fo AS (\n  SELECT\n    \
             CASE rule_rank{rule} END AS rule,\n    \
             CASE sev{severity} END AS severity,\n    \
             eni AS eni_id, task_arn, service, cluster, peer_addr, p_kind AS peer_kind, p_service AS peer_service, \
             p_eni AS peer_eni_id, p_task AS peer_task_arn,\n    \
             ports, COALESCE(protocol, -1) AS protocol, action, flows, records, packets, bytes,\n    \
             {first} AS first_seen, {last} AS last_seen, reason,\n    \
             0 AS is_status, worst, rule_rank, sev, NULL AS aws_unknown\n  \
             FROM f4\n  \
             UNION ALL\n  \
             SELECT {status_rule}, {nulls}, why, 1, NULL, NULL, NULL, aws_unknown FROM st\n)\n\
             -- 9. The findings in the audit's order, then the status row: whether the audit could judge.\n\
             SELECT {columns},\n  \
             CASE WHEN is_status = 0 OR reason IS NOT NULL THEN reason\n    \
             WHEN n_rows = 1 AND aws_unknown > 0 THEN {aws_words}\n    \
             ELSE {judged} END AS reason\n\
             FROM (SELECT fo.*, COUNT(*) OVER () AS n_rows FROM fo) fn\n\
             ORDER BY is_status, worst, service NULLS FIRST, rule_rank, sev, eni_id, peer_addr, protocol, action",
            first = d.rfc3339("f"),
            last = d.rfc3339("l"),
            nulls = vec!["NULL"; STATUS_NULLS].join(", "),
            columns = FINDING_COLUMNS[..FINDING_COLUMNS.len() - 1].join(", "),
            aws_words = self.aws_unknown_words("aws_unknown"),
            judged = self.lit(JUDGED),
            status_rule = self.lit(STATUS_RULE),
        );
    }
}
