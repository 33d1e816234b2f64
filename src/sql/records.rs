//! Step 1 of the query: the records with the columns the audit reads (a typed null
//! for a column the table lacks), and the map with its open bounds made numbers.

use std::fmt::Write;

use super::{Query, Type, HIGH, LOW};

impl Query<'_> {
    /// The records with the columns the audit reads, and the map with sentinel bounds.
    pub(super) fn records(&self, w: &mut String) {
        let col = |n: &str, t| self.column(n, t);
        let (start, end) = (col("start", Type::BigInt), col("end", Type::BigInt));
        let _ = writeln!(
            w,
            "-- 1. The records and the map.\n\
             fl0 AS (\n  SELECT {iface} AS eni, {src} AS srcaddr, {dst} AS dstaddr, \
             {psrc} AS pkt_srcaddr, {pdst} AS pkt_dstaddr, {fdir} AS fdir,\n    \
             COALESCE({start}, {end}) AS t, {end} AS te, {proto} AS protocol, \
             COALESCE({sport}, 0) AS sp, COALESCE({dport}, 0) AS dp, {flags} AS flags,\n    \
             {action} AS action, {packets} AS packets, {bytes} AS bytes, \
             {ecs_task} AS ecs_task, {ecs_service} AS ecs_service, {ecs_cluster} AS ecs_cluster,\n    \
             {enc} AS enc, {path} AS tpath, {src_aws} AS src_aws, {dst_aws} AS dst_aws, {version} AS version\n  \
             FROM {flows}\n  WHERE {iface} IS NOT NULL\n),\n\
             m0 AS (\n  SELECT eni_id, kind, private_ip, task_arn, service, cluster, task_family AS family, \
             COALESCE(security_groups, '') AS sgs, load_balancer AS lb,\n    \
             COALESCE(valid_from, {LOW}) AS vf, COALESCE(valid_to, {HIGH}) AS vt\n  \
             FROM {map}\n),",
            iface = col("interface_id", Type::Text),
            src = col("srcaddr", Type::Text),
            dst = col("dstaddr", Type::Text),
            psrc = col("pkt_srcaddr", Type::Text),
            pdst = col("pkt_dstaddr", Type::Text),
            fdir = col("flow_direction", Type::Text),
            proto = col("protocol", Type::Int),
            sport = col("srcport", Type::Int),
            dport = col("dstport", Type::Int),
            flags = col("tcp_flags", Type::Int),
            action = col("action", Type::Text),
            packets = col("packets", Type::BigInt),
            bytes = col("bytes", Type::BigInt),
            ecs_task = col("ecs_task_arn", Type::Text),
            ecs_service = col("ecs_service_name", Type::Text),
            ecs_cluster = col("ecs_cluster_name", Type::Text),
            enc = col("encryption_status", Type::Int),
            path = col("traffic_path", Type::Int),
            src_aws = col("pkt_src_aws_service", Type::Text),
            dst_aws = col("pkt_dst_aws_service", Type::Text),
            version = col("version", Type::Int),
            flows = self.flows,
            map = self.map,
        );
    }
}
