//! Step 3 of the query: the map cut into time segments, per ENI (its owner) and per
//! address (its holder), each with the row that wins there, as `EniMap` picks it: a
//! record then finds its owner and its peer's holder with an equality and a range.

use std::fmt::Write;

use super::{Query, HIGH, LOW};

impl Query<'_> {
    /// The map cut into time segments, per ENI (its owner) and per address (its
    /// holder), each with the row that wins there.
    pub(super) fn map_segments(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "-- 3. The map in time segments: the owner of each ENI and the holder of each address.\n\
             eb AS (\n  SELECT DISTINCT eni_id, b FROM (\n    \
             SELECT eni_id, CASE i WHEN 0 THEN vf WHEN 1 THEN vt ELSE {LOW} END AS b FROM m CROSS JOIN (VALUES (0), (1), (2)) AS ends(i)\n  \
             ) x WHERE b < {HIGH}\n),\n\
             es AS (SELECT eni_id, b AS s_from, COALESCE(LEAD(b) OVER (PARTITION BY eni_id ORDER BY b), {HIGH}) AS s_to FROM eb),\n\
             ew AS (\n  SELECT es.eni_id, es.s_from, es.s_to, m.kind, m.task_arn, m.service, m.cluster, m.family,\n    \
             ROW_NUMBER() OVER (PARTITION BY es.eni_id, es.s_from ORDER BY\n      \
             CASE WHEN m.vf <= es.s_from AND es.s_from < m.vt THEN 0 WHEN m.vf <= es.s_from THEN 1 ELSE 2 END,\n      \
             CASE WHEN m.vf <= es.s_from THEN m.vf END DESC, CASE WHEN m.vf <= es.s_from THEN m.vt END DESC,\n      \
             m.vf, m.vt, m.task_arn) AS rn\n  \
             FROM es JOIN m ON m.eni_id = es.eni_id\n),\n\
             own_at AS (SELECT * FROM ew WHERE rn = 1),\n\
             hb AS (\n  SELECT DISTINCT ak, b FROM (\n    \
             SELECT ak, CASE i WHEN 0 THEN vf ELSE vt END AS b FROM m CROSS JOIN (VALUES (0), (1)) AS ends(i)\n  \
             ) x WHERE b < {HIGH}\n),\n\
             hs AS (SELECT ak, b AS s_from, COALESCE(LEAD(b) OVER (PARTITION BY ak ORDER BY b), {HIGH}) AS s_to FROM hb),\n\
             hw AS (\n  SELECT hs.ak, hs.s_from, hs.s_to, m.eni_id, m.kind, m.task_arn, m.service, m.cluster, m.family, m.sgs, m.lb,\n    \
             ROW_NUMBER() OVER (PARTITION BY hs.ak, hs.s_from ORDER BY m.vf DESC, m.vt DESC, m.eni_id) AS rn\n  \
             FROM hs JOIN m ON m.ak = hs.ak AND m.vf <= hs.s_from AND hs.s_from < m.vt\n),\n\
             held_at AS (SELECT * FROM hw WHERE rn = 1),\n\
             ea AS (SELECT DISTINCT eni_id, ak FROM m),",
        );
    }
}
