//! Step 4 of the query: each record's own ENI as of its time (the map, else the v7 ECS
//! fields), its rule, and its direction (`enrich::orient`: the map's addresses of the
//! ENI, `flow-direction`, the addresses its records show, the map at that time).

use std::fmt::Write;

use super::{Query, LAST};
use crate::enrich::orient::MAX_LEARNED;
use crate::enrich::PeerKind;

impl Query<'_> {
    /// Attribution of the record's own ENI, and its orientation.
    pub(super) fn orient(&self, w: &mut String) {
        let at = format!("COALESCE(f.t, {LAST})");
        let rule = self.rule_for("o1.service", "o1.cluster", Some("o1.family"));
        let task = self.peer_kind(PeerKind::Task);
        let learned_src = format!("COALESCE({}, FALSE)", self.d.contains("ln.owns", "au.sk"));
        let learned_dst = format!("COALESCE({}, FALSE)", self.d.contains("ln.owns", "au.dk"));
        let _ = writeln!(
            w,
            "-- 4. Each record's own ENI as of its time (the map, else the v7 ECS fields), and its direction.\n\
             o1 AS (\n  SELECT f.*,\n    \
             CASE WHEN ow.eni_id IS NOT NULL THEN ow.kind WHEN f.ecs_task IS NOT NULL THEN {task} END AS eni_kind,\n    \
             CASE WHEN {by_map} THEN ow.task_arn ELSE f.ecs_task END AS task_arn,\n    \
             CASE WHEN {by_map} THEN ow.service ELSE f.ecs_service END AS service,\n    \
             CASE WHEN {by_map} THEN ow.cluster ELSE f.ecs_cluster END AS cluster,\n    \
             CASE WHEN ow.eni_id IS NOT NULL THEN ow.family END AS family,\n    \
             ms.ak IS NOT NULL AS src_m, md.ak IS NOT NULL AS dst_m\n  \
             FROM fl f\n  \
             LEFT JOIN own_at ow ON ow.eni_id = f.eni AND ow.s_from <= {at} AND {at} < ow.s_to\n  \
             LEFT JOIN ea ms ON ms.eni_id = f.eni AND ms.ak = f.sk\n  \
             LEFT JOIN ea md ON md.eni_id = f.eni AND md.ak = f.dk\n),\n\
             -- Addresses an ENI's records show to be its own (flow-direction, or the one side in the VPC).\n\
             lr AS (\n  SELECT eni, CASE WHEN fdir = 'ingress' THEN dk WHEN fdir = 'egress' THEN sk\n    \
             WHEN sk IS NOT NULL AND dk IS NOT NULL AND {sv} AND NOT {dv} THEN sk\n    \
             WHEN sk IS NOT NULL AND dk IS NOT NULL AND {dv} AND NOT {sv} THEN dk END AS own\n  \
             FROM o1 WHERE NOT src_m AND NOT dst_m\n),\n\
             learned AS (\n  SELECT eni, {owns} AS owns FROM lr GROUP BY eni HAVING COUNT(DISTINCT own) <= {MAX_LEARNED}\n),\n\
             -- Every record goes on (the status row counts them); those of task ENIs have their rule.\n\
             au AS (\n  SELECT o1.*, CASE WHEN o1.eni_kind = {task} THEN {rule} END AS rule_id FROM o1\n),\n\
             o2 AS (\n  SELECT au.*, CASE\n    \
             WHEN sk IS NULL OR dk IS NULL THEN NULL\n    \
             WHEN src_m <> dst_m THEN src_m\n    \
             WHEN fdir = 'egress' THEN TRUE WHEN fdir = 'ingress' THEN FALSE\n    \
             WHEN NOT src_m AND NOT dst_m AND {ls} <> {ld} THEN {ls}\n    \
             WHEN COALESCE(hsrc.eni_id <> au.eni, FALSE) <> COALESCE(hdst.eni_id <> au.eni, FALSE) THEN COALESCE(hdst.eni_id <> au.eni, FALSE)\n    \
             END AS outbound\n  \
             FROM au\n  \
             LEFT JOIN learned ln ON ln.eni = au.eni\n  \
             LEFT JOIN held_at hsrc ON hsrc.ak = au.sk AND hsrc.s_from <= au.t AND au.t < hsrc.s_to\n  \
             LEFT JOIN held_at hdst ON hdst.ak = au.dk AND hdst.s_from <= au.t AND au.t < hdst.s_to\n),",
            sv = self.in_vpc("sk"),
            dv = self.in_vpc("dk"),
            owns = self.d.agg_distinct("own"),
            ls = learned_src,
            ld = learned_dst,
            // The map names the task, unless it knows a task ENI without its task and the
            // record's ECS fields name it.
            by_map = format!(
                "ow.eni_id IS NOT NULL AND (ow.task_arn IS NOT NULL OR ow.kind <> {task} \
                 OR f.ecs_task IS NULL)"
            ),
        );
    }
}
