//! Step 6 of the query: the records of audited tasks folded into connections, as the
//! native audit groups them, and who opened each (`initiator::opener`: the same six
//! kinds of evidence, in the same order, port stability included).

use std::fmt::Write;

use super::{ints, Query};
use crate::initiator::EPHEMERAL_FROM;
use crate::policy::audit::Check;

impl Query<'_> {
    /// Records folded into connections; who opened each.
    pub(super) fn connections(&self, w: &mut String) {
        self.folded(w);
        self.opened(w);
    }

    /// `cn`: the connections, with what each side sent and the traffic of each kind of
    /// record.
    fn folded(&self, w: &mut String) {
        // Traffic of one kind of record: records, packets, bytes, first and last.
        let traffic = |name: &str, when: &str| {
            format!(
                "SUM(CASE WHEN {when} THEN 1 ELSE 0 END) AS {name}_n, \
                 SUM(CASE WHEN {when} THEN pk_n ELSE 0 END) AS {name}_p, \
                 SUM(CASE WHEN {when} THEN by_n ELSE 0 END) AS {name}_b,\n    \
                 MIN(CASE WHEN {when} THEN t0 END) AS {name}_f, MAX(CASE WHEN {when} THEN t1 END) AS {name}_l"
            )
        };
        let any = |when: &str| format!("MAX(CASE WHEN {when} THEN 1 ELSE 0 END) = 1");
        let sides: Vec<String> = [("0", "outbound"), ("1", "inbound")]
            .iter()
            .map(|(i, dir)| {
                format!(
                    "{} AS syn{i}, {} AS synack{i}, {} AS rej{i},\n    \
                     MIN(CASE WHEN {dir} THEN t END) AS first{i}, MIN(CASE WHEN {dir} AND action = 'ACCEPT' THEN t END) AS acc{i}",
                    any(&format!("{dir} AND syn")),
                    any(&format!("{dir} AND synack")),
                    any(&format!("{dir} AND rejected")),
                )
            })
            .collect();
        let key = "eni, task_arn, service, cluster, rule_id, pk, protocol, own_port, peer_port, \
                   p_eni, p_kind, p_task, p_service, p_cluster, p_lb";
        let _ = writeln!(
            w,
            "-- 6. Connections (task ENI, owner, peer, protocol, ports) and who opened them.\n\
             cn AS (\n  SELECT {key},\n    \
             MIN(CASE WHEN ing_ok THEN 1 ELSE 0 END) = 1 AS ing_ok, MIN(CASE WHEN eg_ok THEN 1 ELSE 0 END) = 1 AS eg_ok,\n    \
             MIN(CASE WHEN iso_ok THEN 1 ELSE 0 END) = 1 AS iso_ok, MIN(CASE WHEN np_ok THEN 1 ELSE 0 END) = 1 AS np_ok,\n    \
             {s0},\n    {s1},\n    \
             {ia},\n    {ir},\n    {oa},\n    {or},\n    {ue},\n    {uk},\n    {aw},\n    \
             {enc} AS encrypted, {gw} AS gateway, {bf} AS by_field, {br} AS by_ranges, MIN(aws_service) AS aws_service\n  \
             FROM rr GROUP BY {key}\n),",
            s0 = sides[0],
            s1 = sides[1],
            ia = traffic("ia", "inbound AND NOT rejected"),
            ir = traffic("ir", "inbound AND rejected"),
            oa = traffic("oa", "outbound AND NOT rejected"),
            or = traffic("orj", "outbound AND rejected"),
            ue = traffic("ue", "unencrypted"),
            uk = traffic("uk", "unknown_enc"),
            aw = traffic("aw", "aws_service IS NOT NULL"),
            enc = any("encrypted"),
            gw = any("gateway"),
            bf = any("by_field"),
            br = any("by_ranges"),
        );
    }

    /// `cs`, `cp`, `co` and `cf`: the evidence of each side (listener ports, port
    /// stability), the opener, the server port, and the checks a connection fails.
    fn opened(&self, w: &mut String) {
        let group = "eni, task_arn, service, cluster, pk, protocol, p_eni, p_kind, p_task, p_service, p_cluster, p_lb";
        let listens = self.listens("rule_id", "own_port");
        let peer_rule = self.rule_for("p_service", "p_cluster", None);
        let peer_listens = self.listens("peer_rule", "peer_port");
        let egress_flag = self.per_rule_of(
            Check::UnexpectedEgress,
            |r| match (&r.egress, &r.egress_ports) {
                (None, _) => "FALSE".into(),
                (Some(_), None) => "NOT eg_ok".into(),
                (Some(_), Some(p)) if p.is_empty() => "TRUE".into(),
                (Some(_), Some(p)) => format!("(NOT eg_ok OR peer_port NOT IN ({}))", ints(p)),
            },
            "FALSE",
        );
        let _ = writeln!(
            w,
            "cs AS (\n  SELECT cn.*,\n    \
             COUNT(*) OVER (PARTITION BY {group}, own_port) AS own_uses,\n    \
             COUNT(*) OVER (PARTITION BY {group}, peer_port) AS peer_uses,\n    \
             {peer_rule} AS peer_rule\n  FROM cn\n),\n\
             cp AS (\n  SELECT cs.*, {listens} AS listen0, \
             CASE WHEN p_service IS NULL THEN FALSE ELSE COALESCE({peer_listens}, FALSE) END AS listen1,\n    \
             own_uses > 1 AND peer_uses <= 1 AS stable0, peer_uses > 1 AND own_uses <= 1 AS stable1\n  FROM cs\n),\n\
             -- The opener: 0 the task, 1 the peer, null undecided.\n\
             co AS (\n  SELECT cp.*, CASE\n    \
             WHEN syn0 <> syn1 THEN CASE WHEN syn0 THEN 0 ELSE 1 END\n    \
             WHEN synack0 <> synack1 THEN CASE WHEN synack0 THEN 1 ELSE 0 END\n    \
             WHEN acc0 IS NOT NULL AND (first1 IS NULL OR acc0 < first1) THEN 0\n    \
             WHEN rej0 <> rej1 THEN CASE WHEN rej0 THEN 0 ELSE 1 END\n    \
             WHEN own_port = 0 OR peer_port = 0 THEN NULL\n    \
             WHEN listen0 <> listen1 THEN CASE WHEN listen0 THEN 1 ELSE 0 END\n    \
             WHEN stable0 <> stable1 THEN CASE WHEN stable0 THEN 1 ELSE 0 END\n    \
             WHEN (own_port < {EPHEMERAL_FROM}) <> (peer_port < {EPHEMERAL_FROM}) THEN CASE WHEN own_port < {EPHEMERAL_FROM} THEN 1 ELSE 0 END\n    \
             END AS opener\n  FROM cp\n),\n\
             cf AS (\n  SELECT co.*,\n    \
             CASE WHEN opener = 0 AND peer_port > 0 THEN peer_port WHEN opener = 1 AND own_port > 0 THEN own_port END AS server_port,\n    \
             {egress_flag} AS egress,\n    \
             uk_n > 0 AND NOT encrypted AS clear_by_port,\n    \
             aw_n > 0 AND NOT gateway AS aws\n  FROM co\n),",
        );
    }

    /// Whether the port in column `port` is a listener port of the rule in column
    /// `rule` (false for a rule without ports).
    fn listens(&self, rule: &str, port: &str) -> String {
        self.per_rule(
            rule,
            |r| {
                if r.ports.is_empty() {
                    "FALSE".into()
                } else {
                    format!("{port} IN ({})", ints(&r.ports))
                }
            },
            "FALSE",
        )
    }
}
