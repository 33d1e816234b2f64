//! Step 8 of the query, its last part: the status row, whether the audit could judge
//! (the conditions of `vpcflow audit`'s exit 2, in its words), counted over the records
//! once.

use std::fmt::Write;

use super::{Query, Type, NOT_JUDGED};
use crate::enrich::PeerKind;
use crate::format;
use crate::policy::audit::Check;

/// Why not, when no task could be audited (the audit's words), then the reasons.
const NOTHING_AUDITED: &str = "no task could be audited: ";

impl Query<'_> {
    /// `n records` and the rest of `aws_unknown_words(n)` of the audit, for the count
    /// in column `n`: the audit's own words, cut after its number.
    pub(super) fn aws_unknown_words(&self, n: &str) -> String {
        let words = crate::policy::audit::aws_unknown_words(2);
        let rest = words.strip_prefix("2 records").unwrap_or(&words);
        // Why not, when privatelink-bypass found records it could not judge.
        let unjudged = format!(
            "{} could not be judged: ",
            Check::PrivatelinkBypass.as_str()
        );
        format!(
            "concat({}, {}, {}, {})",
            self.lit(NOT_JUDGED),
            self.lit(&unjudged),
            self.count_of(n, "record"),
            self.lit(rest)
        )
    }

    /// `n thing` or `n things`, for the count in column `n`.
    fn count_of(&self, n: &str, thing: &str) -> String {
        format!(
            "concat(CAST({n} AS {}), {}, CASE WHEN {n} = 1 THEN '' ELSE 's' END)",
            self.d.ty(Type::Text),
            self.lit(&format!(" {thing}"))
        )
    }

    /// The CTEs of the status row (`st`: `why`, null when some task was audited, and
    /// `aws_unknown`), the conditions of `vpcflow audit`'s exit 2: no task could be
    /// audited (`nothing_audited` of `cli::audit`, in its words but for the remedies
    /// that name vpcflow's own options and map sources), or, with no finding,
    /// privatelink-bypass could not judge some records.
    pub(super) fn status(&self, w: &mut String) {
        let d = self.d;
        let iface = self.column("interface_id", Type::Text);
        // The task of a record: its ARN, else (no map source names it) its ENI.
        let audited = "CASE WHEN rule_id IS NULL THEN 0 WHEN outbound IS NOT NULL OR sk IS NULL OR dk IS NULL THEN 2 ELSE 1 END";
        let services = d.agg_sorted_text("CASE WHEN on_task THEN nr_service END");
        let _ = writeln!(
            w,
            "-- 8. Whether the audit could judge (the conditions of vpcflow audit's exit 2), over\n\
             -- the records once, per task: the records of task ENIs are grouped by their task.\n\
             sr AS (SELECT COUNT(*) AS records, COUNT({iface}) AS with_eni FROM {flows}),\n\
             sm AS (SELECT COUNT(*) AS map_rows FROM m0),\n\
             ta AS (SELECT COALESCE(eni_kind = {task}, FALSE) AS on_task, task_arn IS NOT NULL AS named, COUNT(*) AS n,\n    \
             SUM(CASE WHEN eni_kind IS NULL THEN 1 ELSE 0 END) AS own_unknown, \
             SUM(CASE WHEN ecs_task IS NOT NULL THEN 1 ELSE 0 END) AS ecs,\n    \
             SUM(CASE WHEN eni_kind = {task} AND rule_id IS NULL AND service IS NULL AND task_arn IS NULL THEN 1 ELSE 0 END) AS uu,\n    \
             MAX({audited}) AS a, MAX(CASE WHEN rule_id IS NULL THEN service END) AS nr_service\n  \
             FROM o2 GROUP BY COALESCE(eni_kind = {task}, FALSE), CASE WHEN eni_kind = {task} THEN COALESCE(task_arn, eni) END, \
             task_arn IS NOT NULL),\n\
             tc AS (SELECT COALESCE(SUM(CASE WHEN on_task THEN n ELSE 0 END), 0) AS on_tasks, \
             COALESCE(SUM(own_unknown), 0) AS own_unknown, COALESCE(SUM(ecs), 0) AS ecs, \
             COALESCE(SUM(uu), 0) AS unnamed_unjudged,\n    \
             {services} AS no_rule_services,\n    \
             COALESCE(SUM(CASE WHEN on_task AND a = 2 THEN 1 ELSE 0 END), 0) AS tasks_audited, \
             COALESCE(SUM(CASE WHEN on_task AND a = 1 THEN 1 ELSE 0 END), 0) AS undirected,\n    \
             COALESCE(SUM(CASE WHEN on_task AND a = 0 THEN 1 ELSE 0 END), 0) AS no_rule, \
             COALESCE(SUM(CASE WHEN on_task AND a = 0 AND NOT named THEN 1 ELSE 0 END), 0) AS no_rule_unnamed FROM ta),\n\
             sw AS ({aws_unknown}),\n\
             sn AS (SELECT sr.*, sm.*, tc.*, sw.*, \
             CASE WHEN no_rule_services IS NULL THEN no_rule - no_rule_unnamed ELSE no_rule END AS no_rule_named \
             FROM sr CROSS JOIN sm CROSS JOIN tc CROSS JOIN sw),\n\
             st AS (SELECT CASE WHEN tasks_audited > 0 THEN NULL ELSE concat({lead}, \
             COALESCE(NULLIF(concat_ws('; ',\n    {why}), ''), 'no record of a task ENI had a rule that could judge it')) END AS why, \
             aws_unknown FROM sn),",
            flows = self.flows,
            task = self.peer_kind(PeerKind::Task),
            aws_unknown = self.aws_unknown(),
            lead = self.lit(&format!("{NOT_JUDGED}{NOTHING_AUDITED}")),
            why = self.why(),
        );
    }

    /// `sw`: the records privatelink-bypass could not judge: an internet peer whose
    /// address nothing says is AWS's or not (no field in the record's layout, no ranges).
    fn aws_unknown(&self) -> String {
        if self.c.aws_ranges.is_some() || !self.has(Check::PrivatelinkBypass) {
            return "SELECT 0 AS aws_unknown".to_string();
        }
        // Whether the record's layout has no such field (`value` is its column).
        let absent = |field: &str, value: &str| {
            let column = format::column_name(field);
            match &self.c.columns {
                Some(have) if have.contains(&column) => "FALSE".to_string(),
                Some(_) => "TRUE".to_string(),
                // A table of every column: a layout before the field's version has none.
                None => {
                    let since = format::lookup(field).map_or(0, |f| f.since);
                    format!("((version IS NULL OR version < {since}) AND {value} IS NULL)")
                }
            }
        };
        format!(
            "SELECT COUNT(*) AS aws_unknown FROM v WHERE aws_v AND NOT rejected AND \
             CASE WHEN inbound THEN {} ELSE {} END",
            absent("pkt-src-aws-service", "src_aws"),
            absent("pkt-dst-aws-service", "dst_aws")
        )
    }

    /// The reasons no task could be audited, as expressions over `sn`, each null when
    /// it does not hold.
    fn why(&self) -> String {
        let text = self.d.ty(Type::Text);
        let n = |x: &str| format!("CAST({x} AS {text})");
        [
            "CASE WHEN records = 0 THEN 'there are no records to audit' END".to_string(),
            format!(
                "CASE WHEN records > with_eni THEN concat({}, ' records in layouts without interface-id \
                 (nothing says which ENI logged them)') END",
                n("records - with_eni")
            ),
            format!(
                "CASE WHEN with_eni > 0 AND on_tasks = 0 THEN\n      \
                 CASE WHEN map_rows = 0 AND ecs = 0 THEN 'the map table is empty and no record carries the \
                 ECS fields (v7) that would say which task it belongs to'\n      \
                 ELSE concat('no record was logged on a task ENI that the map or the ECS fields know', \
                 CASE WHEN own_unknown > 0 THEN concat(' (', {u}, ' of ', {r}, ' records are on ENIs that no map \
                 source names)') ELSE '' END) END\n      \
                 WHEN own_unknown > 0 THEN concat({u}, ' of ', {r}, ' records are on ENIs that no map source names') END",
                u = n("own_unknown"),
                r = n("records"),
            ),
            format!(
                "CASE WHEN unnamed_unjudged > 0 THEN concat({}, ' on task ENIs whose task no map source names \
                 (an ENI known from CloudTrail, Config or describe-network-interfaces alone) could not be \
                 judged: the policy''s rules are by service and it has no [defaults]') END",
                self.count_of("unnamed_unjudged", "record")
            ),
            format!(
                "CASE WHEN undirected > 0 THEN concat('the direction of every record of the ', {}, ' with a \
                 rule is undecided (give --vpc-cidr with the VPC''s blocks)') END",
                self.count_of("undirected", "task")
            ),
            format!(
                "CASE WHEN no_rule_named > 0 THEN concat('the policy has no rule for the tasks seen (', {}, \
                 CASE WHEN no_rule_services IS NULL THEN '' ELSE concat(' of ', no_rule_services) END, \
                 ') and no [defaults]') END",
                self.count_of("no_rule_named", "task")
            ),
        ]
        .join(",\n    ")
    }
}
