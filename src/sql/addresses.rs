//! Step 2 of the query: every address as a key of 32 hex digits (IPv4 mapped into
//! IPv6, as stored natively), so that equality does not depend on how IPv6 was written
//! and a CIDR block is one range of keys.

use std::fmt::Write;

use super::{Query, V4_PREFIX};

impl Query<'_> {
    /// Four CTEs that add `{c}_k`, the key of each address column `c`, to the rows of
    /// `from`: named `{name}1` to `{name}3` and `name`. Computed per row in stages (no
    /// join), so that Spark, which does not materialise CTEs, reads the table once.
    fn keyed(&self, name: &str, from: &str, addrs: &[&str]) -> String {
        let d = self.d;
        let each = |f: &dyn Fn(&str) -> String| -> String {
            addrs
                .iter()
                .map(|c| f(c))
                .collect::<Vec<_>>()
                .join(",\n    ")
        };
        let groups = |x: &str| {
            format!("CASE WHEN {x} = '' THEN 0 ELSE length({x}) - length(replace({x}, ':', '')) + 1 END")
        };
        let l1 = each(&|c| {
            format!(
                "lower({c}) AS {c}_x, {} AS {c}_p",
                d.position(&format!("lower({c})"), "'::'")
            )
        });
        let l2 = each(&|c| {
            format!(
                "CASE WHEN {c}_p > 0 THEN substr({c}_x, 1, {c}_p - 1) END AS {c}_l, \
                 CASE WHEN {c}_p > 0 THEN substr({c}_x, {c}_p + 2) END AS {c}_r"
            )
        });
        let l3 = each(&|c| {
            format!(
                "CASE WHEN {dot} > 0 THEN NULL WHEN {c}_l IS NULL THEN {c}_x\n      \
                 ELSE concat_ws(':', NULLIF({c}_l, ''), substr('0:0:0:0:0:0:0:0', 1, 2 * (8 - ({gl}) - ({gr})) - 1), NULLIF({c}_r, '')) END AS {c}_v6",
                dot = d.position(&format!("{c}_x"), "'.'"),
                gl = groups(&format!("{c}_l")),
                gr = groups(&format!("{c}_r")),
            )
        });
        let l4 = each(&|c| {
            let v4: Vec<String> = (1..=4)
                .map(|i| d.hex2(&format!("CAST(split_part({c}_x, '.', {i}) AS INTEGER)")))
                .collect();
            let v6: Vec<String> = (1..=8)
                .map(|i| format!("lpad(split_part({c}_v6, ':', {i}), 4, '0')"))
                .collect();
            format!(
                "CASE WHEN {c}_x IS NULL THEN NULL WHEN {c}_v6 IS NULL THEN concat({v4p}, {}) \
                 ELSE concat({}) END AS {c}_k",
                v4.join(", "),
                v6.join(", "),
                v4p = self.lit(V4_PREFIX),
            )
        });
        format!(
            "{name}1 AS (SELECT {from}.*,\n    {l1}\n  FROM {from}),\n\
             {name}2 AS (SELECT {name}1.*,\n    {l2}\n  FROM {name}1),\n\
             {name}3 AS (SELECT {name}2.*,\n    {l3}\n  FROM {name}2),\n\
             {name} AS (SELECT {name}3.*,\n    {l4}\n  FROM {name}3),"
        )
    }

    /// The key of every address: 32 hex digits (IPv4 mapped into IPv6).
    pub(super) fn addresses(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "-- 2. Addresses as 32 hex digits (IPv4 mapped into IPv6): CIDR blocks are ranges.\n{}\n{}\n\
             m AS (SELECT mk.*, private_ip_k AS ak FROM mk),\n\
             fl AS (\n  SELECT fk.*, srcaddr_k AS sk, dstaddr_k AS dk, COALESCE(pkt_srcaddr_k, srcaddr_k) AS psk, \
             COALESCE(pkt_dstaddr_k, dstaddr_k) AS pdk\n  FROM fk\n),",
            self.keyed("mk", "m0", &["private_ip"]),
            self.keyed("fk", "fl0", &["srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"]),
        );
    }
}
