//! Step 8 of the query, its first part: a finding's peer address as text again (IPv6
//! in its canonical, compressed form, as natively), the peer in words (`peer_words` of
//! the audit, from the same table of words), and what happened.

use std::fmt::Write;

use super::Query;
use crate::enrich::PeerKind;

impl Query<'_> {
    /// `tx`, `f1` and `f2`: the peer's address and words, and what happened.
    pub(super) fn text(&self, w: &mut String) {
        let d = self.d;
        let group = |i: usize| {
            let g = format!("substr(pk, {}, 4)", 4 * i + 1);
            format!("CASE WHEN {g} = '0000' THEN '0' ELSE TRIM(LEADING '0' FROM {g}) END")
        };
        let colons: Vec<String> = (0..8).map(group).collect();
        let _ = writeln!(
            w,
            "-- 8. Addresses as text again (IPv6 in its canonical, compressed form).\n\
             tx AS (SELECT dr.*, concat(':', {g}, ':') AS s FROM dr),",
            g = colons.join(", ':', "),
        );
        let ports_text = format!(
            "CASE WHEN {n} = 0 THEN '' WHEN {n} = 1 THEN concat(' port ', {j}) ELSE concat(' ports ', {j}) END",
            n = d.len("ports"),
            j = d.join_ints("ports")
        );
        let _ = writeln!(
            w,
            "f1 AS (\n  SELECT tx.*, {peer_addr} AS peer_addr, {ports_text} AS ports_text,\n    {peer_words} AS peer_words,\n    \
             CASE WHEN action = 'REJECT' THEN 'tried to connect' ELSE 'connected' END AS tried,\n    \
             CASE WHEN action = 'REJECT' THEN ', rejected' ELSE '' END AS rejected\n  \
             FROM tx\n),\n\
             f2 AS (\n  SELECT f1.*,\n    \
             CASE WHEN by_peer = 1 AND by_task = 0 AND by_nobody = 0 THEN concat(peer_addr, ' (', peer_words, ') ', tried, ' to', ports_text, rejected)\n      \
             WHEN by_task = 1 AND by_peer = 0 AND by_nobody = 0 THEN concat('its task ', tried, ' to ', peer_addr, ' (', peer_words, ')', \
             CASE WHEN ports_text = '' THEN '' ELSE concat(' on', ports_text) END, rejected)\n      \
             ELSE concat('its task exchanged traffic with ', peer_addr, ' (', peer_words, ')', \
             CASE WHEN ports_text = '' THEN '' ELSE concat(' on', ports_text) END, rejected) END AS happened,\n    \
             COALESCE(service, 'this task') AS who\n  FROM f1\n),",
            peer_addr = self.peer_addr(),
            peer_words = self.peer_words(),
        );
    }

    /// The peer's address as text, from its key `pk` and `s`, its eight groups between
    /// colons: dotted for IPv4, else the longest run of two or more zero groups cut.
    fn peer_addr(&self) -> String {
        let d = self.d;
        let v4: Vec<String> = (0..4)
            .map(|i| d.hex_to_decimal(&format!("substr(pk, {}, 2)", 25 + 2 * i)))
            .collect();
        let mut compress = "CASE".to_string();
        for n in (2..=8).rev() {
            let pat = format!(":{}", "0:".repeat(n));
            let len = pat.len();
            let at = d.position("s", &self.lit(&pat));
            let _ = write!(
                compress,
                "\n      WHEN {at} > 0 THEN concat(substr(s, 2, GREATEST({at} - 2, 0)), '::', \
                 substr(s, {at} + {len}, GREATEST(length(s) - {at} - {len}, 0)))"
            );
        }
        compress.push_str("\n      ELSE substr(s, 2, length(s) - 2) END");
        format!(
            "CASE WHEN {} THEN concat({}) ELSE {compress} END",
            self.is_v4("pk"),
            v4.join(", '.', ")
        )
    }

    /// `peer_words` of the audit, from the same table of words.
    fn peer_words(&self) -> String {
        let d = self.d;
        let eni_or = "COALESCE(p_eni, '?')";
        let of_cluster = format!(
            "CASE WHEN p_cluster IS NOT NULL AND cluster IS NOT NULL AND {pc} <> {c} THEN concat(' in cluster ', {pc}) ELSE '' END",
            pc = d.last_part("p_cluster"),
            c = d.last_part("cluster")
        );
        let mut peer_words = String::from("CASE p_kind");
        for k in PeerKind::ALL {
            let w = k.words();
            let name = self.lit(w.name);
            let a = self.lit(w.a);
            let then = match k {
                PeerKind::Task => format!(
                    "concat(CASE WHEN p_service IS NOT NULL THEN concat('a task of service ', p_service) \
                     ELSE concat('a task that belongs to no service (', {eni_or}, ')') END, {of_cluster})"
                ),
                PeerKind::Other => continue,
                k if k.is_address_group() => a,
                k if k.is_load_balancer() => format!(
                    "CASE WHEN p_lb IS NOT NULL THEN concat('load balancer ', p_lb, ' (', {eni_or}, ')') \
                     ELSE concat({a}, ' (', {eni_or}, ')') END"
                ),
                _ => format!("concat({a}, ' (', {eni_or}, ')')"),
            };
            let _ = write!(peer_words, "\n      WHEN {name} THEN {then}");
        }
        let _ = write!(peer_words, "\n      ELSE concat('ENI ', {eni_or}) END");
        peer_words
    }
}
