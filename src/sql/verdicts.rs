//! Step 5 of the query: the peer of each directed record as of its time, what its rule
//! allows it (`Peers::admits` per check), and the facts of the records a finding can
//! come of: the AWS service of the peer, the encryption, the TCP flags.

use std::fmt::Write;

use super::{hex_key, Query, Type};
use crate::aws_ranges::SHARED;
use crate::enrich::PeerKind;
use crate::policy::audit::Check;
use crate::policy::Rule;

impl Query<'_> {
    /// The peer of each directed record, its holder, and what the rule allows it; the
    /// records a rule can make a finding of.
    pub(super) fn verdicts(&self, w: &mut String) {
        self.allowed(w);
        self.kept(w);
    }

    /// `o3`, `o4` and `v`: the peer, its holder, and the verdict of each check.
    fn allowed(&self, w: &mut String) {
        let ingress = self.per_rule_of(
            Check::UnexpectedIngress,
            |r| self.admits(&r.ingress),
            "TRUE",
        );
        let egress = self.per_rule_of(
            Check::UnexpectedEgress,
            |r| r.egress.as_ref().map_or("TRUE".into(), |e| self.admits(e)),
            "TRUE",
        );
        let isolation = self.isolation_ok();
        // New peers: the baseline's lists, either way (`NewPeer::admits`).
        let new_peer = self.per_rule_of(
            Check::NewPeer,
            |r| match &r.baseline {
                None => "TRUE".into(),
                Some(b) => {
                    let mut lists = self.admits(&b.ingress);
                    if let Some(e) = &b.egress {
                        lists = format!("({lists} OR {})", self.admits(e));
                    }
                    lists
                }
            },
            "TRUE",
        );
        let flag = |c: Check, test: fn(&Rule) -> bool| {
            self.per_rule_of(c, |r| test(r).to_string().to_uppercase(), "FALSE")
        };
        let clear = flag(Check::Cleartext, |r| r.require_encryption);
        let aws = flag(Check::PrivatelinkBypass, |r| r.private_aws_access);
        let by_port = flag(Check::UnexpectedEgress, |r| {
            r.egress.is_some() && r.egress_ports.is_some()
        });
        let _ = writeln!(
            w,
            "-- 5. The peer as of the record's time, and what the rule allows it.\n\
             o3 AS (\n  SELECT o2.*, NOT outbound AS inbound,\n    \
             CASE WHEN outbound THEN pdk ELSE psk END AS pk,\n    \
             CASE WHEN outbound THEN sp ELSE dp END AS own_port, CASE WHEN outbound THEN dp ELSE sp END AS peer_port\n  \
             FROM o2 WHERE outbound IS NOT NULL AND rule_id IS NOT NULL AND eni_kind = {task}\n),\n\
             o4 AS (\n  SELECT o3.*, h.eni_id AS p_eni, h.task_arn AS p_task, h.service AS p_service, h.cluster AS p_cluster,\n    \
             COALESCE(h.sgs, '') AS p_sgs, h.lb AS p_lb, CASE WHEN h.service IS NULL THEN h.family END AS p_family,\n    \
             CASE WHEN h.ak IS NOT NULL THEN h.kind WHEN {pv} THEN {vpc} ELSE {internet} END AS p_kind\n  \
             FROM o3 LEFT JOIN held_at h ON h.ak = o3.pk AND h.s_from <= o3.t AND o3.t < h.s_to\n),\n\
             v AS (\n  SELECT o4.*,\n    \
             {ingress} AS ing_ok,\n    \
             {egress} AS eg_ok,\n    \
             {isolation} AS iso_ok,\n    \
             {new_peer} AS np_ok,\n    \
             {clear} AS clear_v,\n    \
             ({aws}) AND p_kind = {internet} AS aws_v,\n    \
             {by_port} AS eg_ports,\n    \
             COALESCE(action = 'REJECT', FALSE) AS rejected\n  \
             FROM o4\n),",
            pv = self.in_vpc("o3.pk"),
            task = self.peer_kind(PeerKind::Task),
            vpc = self.peer_kind(PeerKind::Vpc),
            internet = self.peer_kind(PeerKind::Internet),
        );
    }

    /// Whether an isolated rule allows the peer: a task of its own cluster, a VPC
    /// endpoint, or a peer its lists admit.
    fn isolation_ok(&self) -> String {
        let d = self.d;
        let own_cluster = format!(
            "(p_kind = {} AND p_cluster IS NOT NULL AND cluster IS NOT NULL AND {} = {})",
            self.peer_kind(PeerKind::Task),
            d.last_part("p_cluster"),
            d.last_part("cluster")
        );
        let vpce = self.peer_kind(PeerKind::Vpce);
        self.per_rule_of(
            Check::Isolation,
            |r| {
                if !r.isolated {
                    return "TRUE".into();
                }
                let mut lists = self.admits(&r.ingress);
                if let Some(e) = &r.egress {
                    lists = format!("({lists} OR {})", self.admits(e));
                }
                format!("({own_cluster} OR p_kind = {vpce} OR {lists})")
            },
            "TRUE",
        )
    }

    /// `rng` (when AWS's ranges are given), `kept` and `rr`: the records no rule can
    /// make a finding of are left out, as natively; the others get their facts.
    fn kept(&self, w: &mut String) {
        let d = self.d;
        // The AWS service of the peer's address: the record's field, unless it names a
        // service whose prefixes hold anyone's servers, else the ranges.
        let shared: Vec<String> = SHARED.iter().map(|s| self.lit(s)).collect();
        let named = format!(
            "CASE WHEN (CASE WHEN inbound THEN src_aws ELSE dst_aws END) \
             NOT IN ({}) \
             THEN (CASE WHEN inbound THEN src_aws ELSE dst_aws END) END",
            shared.join(", ")
        );
        let (ranges_cte, ranges_join, ranged) = self.ranges();
        let syn = format!("COALESCE({} = 2, FALSE)", d.bit_and("flags", 18));
        let synack = format!("COALESCE({} = 18, FALSE)", d.bit_and("flags", 18));
        let _ = writeln!(
            w,
            "{ranges_cte}-- Records no rule could make a finding of are left out, as natively.\n\
             kept AS (\n  SELECT v.*, {named} AS named, {ranged} AS ranged\n  FROM v{ranges_join}\n  \
             WHERE NOT (ing_ok AND eg_ok AND iso_ok AND np_ok) OR eg_ports OR clear_v OR aws_v\n),\n\
             rr AS (\n  SELECT kept.*,\n    \
             CASE WHEN aws_v AND NOT rejected THEN COALESCE(named, ranged) END AS aws_service,\n    \
             aws_v AND NOT rejected AND named IS NOT NULL AS by_field,\n    \
             aws_v AND NOT rejected AND named IS NULL AND ranged IS NOT NULL AS by_ranges,\n    \
             clear_v AND NOT rejected AND enc = 0 AS unencrypted,\n    \
             clear_v AND NOT rejected AND enc IS NULL AND (own_port IN ({cp}) OR peer_port IN ({cp})) AS unknown_enc,\n    \
             COALESCE(clear_v AND enc <> 0, FALSE) AS encrypted,\n    \
             COALESCE(aws_v AND tpath = {gateway}, FALSE) AS gateway,\n    \
             {syn} AS syn, {synack} AS synack,\n    \
             COALESCE(t, 0) AS t0, COALESCE(te, t, 0) AS t1, \
             CASE WHEN packets > 0 THEN packets ELSE 0 END AS pk_n, CASE WHEN bytes > 0 THEN bytes ELSE 0 END AS by_n\n  \
             FROM kept\n),",
            cp = self.cleartext_ports(),
            gateway = GATEWAY_ENDPOINT,
        );
    }

    /// AWS's ranges as a table: its CTE (with the separator after it), its join to the
    /// records, and the column of the service it names; a typed null without ranges.
    fn ranges(&self) -> (String, String, String) {
        let Some(r) = self.c.aws_ranges.filter(|r| !r.intervals().is_empty()) else {
            let null = format!("CAST(NULL AS {})", self.d.ty(Type::Text));
            return (String::new(), String::new(), null);
        };
        let rows: Vec<String> = r
            .intervals()
            .iter()
            .map(|(lo, hi, s)| {
                format!(
                    "({}, {}, {})",
                    self.lit(&hex_key(lo)),
                    self.lit(&hex_key(hi)),
                    self.lit(s)
                )
            })
            .collect();
        (
            format!(
                "rng AS (SELECT * FROM (VALUES\n  {}\n) AS r(lo, hi, aws_service)),\n",
                rows.join(",\n  ")
            ),
            "\n  LEFT JOIN rng ON v.aws_v AND v.pk BETWEEN rng.lo AND rng.hi".to_string(),
            "rng.aws_service".to_string(),
        )
    }
}

/// `traffic-path` 7: through a gateway VPC endpoint (S3, DynamoDB); the native audit's
/// constant of that name is private to it.
const GATEWAY_ENDPOINT: i32 = 7;
