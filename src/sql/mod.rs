//! The audit compiled to SQL (`vpcflow sql`): one query that Spark, Trino (Athena) or
//! DuckDB runs over a flow-log table with AWS's column names and the ENI map table
//! (`vpcflow map --format parquet`), returning the rows and columns of
//! `vpcflow audit --format json`.
//!
//! The query follows the native audit step by step (`enrich::join`, `enrich::orient`,
//! `initiator`, `policy::audit`), as a chain of common table expressions:
//!
//! 1. **Addresses** become a 32-digit hex key (IPv4 mapped into IPv6, as stored
//!    natively), so that equality does not depend on how IPv6 was written and a CIDR
//!    block is one range of keys (the generator computes its bounds). The text of a
//!    finding's peer is made canonical again from the key.
//! 2. **The map** is cut, per ENI and per address, into time segments between the
//!    bounds of its rows' windows, each with the row that wins there (the holder at that
//!    time, as `EniMap` picks it). A record then finds its own ENI's owner and its
//!    peer's holder with an equality and a range on disjoint segments: at most one row,
//!    without a record id.
//! 3. **Orientation**: the map's addresses of the ENI, `flow-direction`, the addresses
//!    the ENI's records show (learned over the whole table, where the native reader
//!    learns per file or 16 MiB chunk), and the map at that time.
//! 4. **Connections** of audited tasks are grouped as natively, and who opened each is
//!    decided by the same six kinds of evidence, port stability included.
//! 5. **Findings** per `(rule, eni_id, peer_addr, protocol, action)`, with the task and
//!    peer of the first connection in the native order, the severity, and the reason
//!    sentence, whose words come from the policy and the map table.
//!
//! A column the table does not have (given by `--fields`) is read as null, as the
//! native reader does for a layout without it.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::aws_ranges::AwsRanges;
use crate::enrich::PeerKind;
use crate::format::{self, Kind};
use crate::net::Cidr;
// The columns of a finding, in order: those of `vpcflow audit` (its CSV's, and its
// JSON's keys), which the query returns.
use crate::output::findings::CSV_COLUMNS as FINDING_COLUMNS;
use crate::policy::audit::{Check, Checks};
use crate::policy::{Peers, Policy, Rule};

pub mod ddl;
mod dialect;

pub use dialect::{char_words, control_char, Dialect, NameError, Quoting, TableName, Type};

/// The names of the two tables.
#[derive(Clone, Debug)]
pub struct Tables {
    pub flows: TableName,
    pub map: TableName,
}

impl Tables {
    /// Parses both names (`--flows` and `--map`); the error names the option.
    pub fn parse(flows: &str, map: &str) -> Result<Tables, String> {
        let name =
            |flag: &str, text: &str| TableName::parse(text).map_err(|e| format!("--{flag}: {e}"));
        Ok(Tables {
            flows: name("flows", flows)?,
            map: name("map", map)?,
        })
    }

    /// Both names quoted for a language.
    pub fn quoted(&self, q: Quoting) -> Result<(String, String), String> {
        let quote = |flag: &str, t: &TableName| t.quoted(q).map_err(|e| format!("--{flag}: {e}"));
        Ok((quote("flows", &self.flows)?, quote("map", &self.map)?))
    }
}

impl Default for Tables {
    fn default() -> Tables {
        Tables::parse("flows", "eni_map").expect("plain names")
    }
}

/// Everything the query is compiled from.
pub struct Compile<'a> {
    pub policy: &'a Policy,
    pub checks: Checks,
    pub aws_ranges: Option<&'a AwsRanges>,
    pub dialect: Dialect,
    pub tables: Tables,
    /// The flow-log columns the table has (AWS Parquet names); `None`: every column the
    /// audit reads (a table made with `vpcflow sql --ddl`).
    pub columns: Option<BTreeSet<String>>,
}

/// The null columns of the status row: every one but `rule` and `reason`.
const STATUS_NULLS: usize = FINDING_COLUMNS.len() - 2;

/// The `rule` of the query's last row, the status row, whose `reason` is [`JUDGED`] or
/// `not judged: ` and why (the words of `vpcflow audit`'s exit 2).
pub const STATUS_RULE: &str = "_status";

/// The status row's `reason` when the audit could judge what it had to.
pub const JUDGED: &str = "judged";

/// The status row's `reason` when it could not starts with this, then why.
pub const NOT_JUDGED: &str = "not judged: ";

/// Why not, when no task could be audited (the audit's words), then the reasons.
const NOTHING_AUDITED: &str = "no task could be audited: ";

/// Why not, when privatelink-bypass found records it could not judge.
const PRIVATELINK_UNJUDGED: &str = "privatelink-bypass could not be judged: ";

/// Columns without which nothing can be audited.
const REQUIRED: [&str; 3] = ["interface_id", "srcaddr", "dstaddr"];

/// The "no bound" of a map window (the native `i64::MIN`/`i64::MAX`; one less, so
/// that no literal overflows).
const LOW: &str = "-9223372036854775807";
const HIGH: &str = "9223372036854775807";

/// The key of an IPv4 address starts with this (`::ffff:0:0/96`).
const V4_PREFIX: &str = "00000000000000000000ffff";

fn hex_key(a: &[u8; 16]) -> String {
    a.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The flow-log columns of a `--fields` value, as AWS Parquet names.
pub fn columns_of_fields(spec: &str) -> Result<BTreeSet<String>, String> {
    let layout = format::Layout::parse_spec(spec).map_err(|e| format!("--fields: {e}"))?;
    Ok(layout
        .columns()
        .iter()
        .map(|c| format::column_name(&c.name))
        .collect())
}

impl Compile<'_> {
    /// The query: the findings, in the order `vpcflow audit` prints them.
    pub fn query(&self) -> Result<String, String> {
        if let Some(have) = &self.columns {
            let missing: Vec<&str> = REQUIRED
                .iter()
                .copied()
                .filter(|c| !have.contains(*c))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "the audit needs the flow-log columns {}; --fields has no {}",
                    REQUIRED.join(", "),
                    missing.join(", ")
                ));
            }
        }
        let (flows, map) = self.tables.quoted(self.dialect.quoting())?;
        let mut q = Query {
            c: self,
            d: self.dialect,
            rules: rules(self.policy),
            sgs: Vec::new(),
            flows,
            map,
        };
        q.collect_sgs();
        Ok(q.build())
    }
}

/// A rule with its index (the `[[service]]` rules in order, then `[defaults]`).
struct Indexed<'a> {
    id: usize,
    rule: &'a Rule,
}

fn rules(policy: &Policy) -> Vec<Indexed<'_>> {
    policy
        .services
        .iter()
        .map(|s| &s.rule)
        .chain(policy.defaults.as_ref())
        .enumerate()
        .map(|(id, rule)| Indexed { id, rule })
        .collect()
}

struct Query<'a> {
    c: &'a Compile<'a>,
    d: Dialect,
    rules: Vec<Indexed<'a>>,
    /// The security groups the reasons name, in order of first mention: column `o{i}`
    /// of the `sg_owner` row says what uses each.
    sgs: Vec<String>,
    /// The tables' names, quoted.
    flows: String,
    map: String,
}

fn ints(v: &[u16]) -> String {
    v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
}

impl Query<'_> {
    fn lit(&self, s: &str) -> String {
        self.d.lit(s)
    }

    /// A flow-log column, or a typed null where the table has none.
    fn column(&self, name: &str, t: Type) -> String {
        let has = self.c.columns.as_ref().is_none_or(|c| c.contains(name));
        if has {
            self.d.ident(name)
        } else {
            format!("CAST(NULL AS {})", self.d.ty(t))
        }
    }

    /// `CASE <rule> WHEN 0 THEN ... END` over the rules, `value` giving each rule's
    /// expression; `otherwise` for the rest.
    fn per_rule(&self, rule: &str, value: impl Fn(&Rule) -> String, otherwise: &str) -> String {
        if self.rules.is_empty() {
            return otherwise.to_string();
        }
        let mut s = format!("CASE {rule}");
        for r in &self.rules {
            let _ = write!(s, " WHEN {} THEN {}", r.id, value(r.rule));
        }
        let _ = write!(s, " ELSE {otherwise} END");
        s
    }

    /// The rule of a task of `service` in `cluster` (`Policy::rule_for`), or null.
    fn rule_for(&self, service: &str, cluster: &str) -> String {
        let p = self.c.policy;
        let mut s = "CASE".to_string();
        for (id, r) in p.services.iter().enumerate() {
            if let Some(c) = &r.cluster {
                let _ = write!(
                    s,
                    " WHEN {service} = {} AND {} = {} THEN {id}",
                    self.lit(&r.name),
                    self.d.last_part(cluster),
                    self.lit(crate::enrich::arn_name(c))
                );
            }
        }
        for (id, r) in p.services.iter().enumerate() {
            if r.cluster.is_none() {
                let _ = write!(s, " WHEN {service} = {} THEN {id}", self.lit(&r.name));
            }
        }
        match p.defaults {
            Some(_) => {
                let _ = write!(s, " ELSE {} END", p.services.len());
            }
            None => s.push_str(" ELSE NULL END"),
        }
        // No service rule: the one answer for every task (a CASE needs a WHEN).
        if p.services.is_empty() {
            return match p.defaults {
                Some(_) => "0".to_string(),
                None => "CAST(NULL AS INTEGER)".to_string(),
            };
        }
        s
    }

    /// Whether the address key `k` lies in the block.
    fn in_cidr(&self, k: &str, c: &Cidr) -> String {
        let (lo, hi) = c.bounds();
        let family = if c.is_v4() { "" } else { "NOT " };
        format!(
            "({family}{} AND {k} BETWEEN {} AND {})",
            self.is_v4(k),
            self.lit(&hex_key(&lo)),
            self.lit(&hex_key(&hi))
        )
    }

    fn is_v4(&self, k: &str) -> String {
        format!("substr({k}, 1, 24) = {}", self.lit(V4_PREFIX))
    }

    fn in_vpc(&self, k: &str) -> String {
        let cidrs = crate::enrich::vpc_cidrs_or_private(&self.c.policy.vpc_cidrs);
        let any: Vec<String> = cidrs.iter().map(|c| self.in_cidr(k, c)).collect();
        format!("({})", any.join(" OR "))
    }

    /// Whether a list admits the peer (`Peers::admits`), over the columns `pk` (its
    /// key), `p_sgs` (its security groups, `;`-separated), `p_service` and `p_lb` (its
    /// load balancer).
    fn admits(&self, peers: &Peers) -> String {
        let mut any: Vec<String> = peers.cidrs.iter().map(|c| self.in_cidr("pk", c)).collect();
        for sg in &peers.security_groups {
            any.push(format!(
                "{} > 0",
                self.d
                    .position("concat(';', p_sgs, ';')", &self.lit(&format!(";{sg};")))
            ));
        }
        if !peers.services.is_empty() {
            let names: Vec<String> = peers.services.iter().map(|s| self.lit(s)).collect();
            any.push(format!("p_service IN ({})", names.join(", ")));
        }
        if !peers.load_balancers.is_empty() {
            let names: Vec<String> = peers.load_balancers.iter().map(|s| self.lit(s)).collect();
            any.push(format!("p_lb IN ({})", names.join(", ")));
        }
        // A peer without a service makes `p_service IN (...)` null: the peer is then
        // not on the list, as natively, not unknown.
        if any.is_empty() {
            "FALSE".to_string()
        } else {
            format!("COALESCE({}, FALSE)", any.join(" OR "))
        }
    }

    fn has(&self, check: Check) -> bool {
        self.c.checks.has(check)
    }

    fn build(&self) -> String {
        let d = self.d;
        let mut w = String::new();
        let _ = writeln!(
            w,
            "-- vpcflow audit as one {} query: the findings of `vpcflow audit --format json`.",
            d.as_str()
        );
        let _ = writeln!(
            w,
            "-- Flow logs: {}; ENI map: {} (vpcflow map --format parquet).",
            d.quoting().comment(&self.flows),
            d.quoting().comment(&self.map)
        );
        w.push_str("WITH\n");
        self.records(&mut w);
        self.addresses(&mut w);
        self.map_segments(&mut w);
        self.orient(&mut w);
        self.verdicts(&mut w);
        self.connections(&mut w);
        self.findings(&mut w);
        w
    }

    /// The records with the columns the audit reads, and the map with sentinel bounds.
    fn records(&self, w: &mut String) {
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
             m0 AS (\n  SELECT eni_id, kind, private_ip, task_arn, service, cluster, \
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
    fn addresses(&self, w: &mut String) {
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

    /// The map cut into time segments, per ENI (its owner) and per address (its
    /// holder), each with the row that wins there.
    fn map_segments(&self, w: &mut String) {
        let _ = writeln!(
            w,
            "-- 3. The map in time segments: the owner of each ENI and the holder of each address.\n\
             eb AS (\n  SELECT DISTINCT eni_id, b FROM (\n    \
             SELECT eni_id, CASE i WHEN 0 THEN vf WHEN 1 THEN vt ELSE {LOW} END AS b FROM m CROSS JOIN (VALUES (0), (1), (2)) AS ends(i)\n  \
             ) x WHERE b < {HIGH}\n),\n\
             es AS (SELECT eni_id, b AS s_from, COALESCE(LEAD(b) OVER (PARTITION BY eni_id ORDER BY b), {HIGH}) AS s_to FROM eb),\n\
             ew AS (\n  SELECT es.eni_id, es.s_from, es.s_to, m.kind, m.task_arn, m.service, m.cluster,\n    \
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
             hw AS (\n  SELECT hs.ak, hs.s_from, hs.s_to, m.eni_id, m.kind, m.task_arn, m.service, m.cluster, m.sgs, m.lb,\n    \
             ROW_NUMBER() OVER (PARTITION BY hs.ak, hs.s_from ORDER BY m.vf DESC, m.vt DESC, m.eni_id) AS rn\n  \
             FROM hs JOIN m ON m.ak = hs.ak AND m.vf <= hs.s_from AND hs.s_from < m.vt\n),\n\
             held_at AS (SELECT * FROM hw WHERE rn = 1),\n\
             ea AS (SELECT DISTINCT eni_id, ak FROM m),",
        );
    }

    /// Attribution of the record's own ENI, and its orientation.
    fn orient(&self, w: &mut String) {
        let at = format!("COALESCE(f.t, {})", "9223372036854775806");
        let rule = self.rule_for("o1.service", "o1.cluster");
        let learned_src = format!("COALESCE({}, FALSE)", self.d.contains("ln.owns", "au.sk"));
        let learned_dst = format!("COALESCE({}, FALSE)", self.d.contains("ln.owns", "au.dk"));
        let _ = writeln!(
            w,
            "-- 4. Each record's own ENI as of its time (the map, else the v7 ECS fields), and its direction.\n\
             o1 AS (\n  SELECT f.*,\n    \
             CASE WHEN ow.eni_id IS NOT NULL THEN ow.kind WHEN f.ecs_task IS NOT NULL THEN 'task' END AS eni_kind,\n    \
             CASE WHEN {by_map} THEN ow.task_arn ELSE f.ecs_task END AS task_arn,\n    \
             CASE WHEN {by_map} THEN ow.service ELSE f.ecs_service END AS service,\n    \
             CASE WHEN {by_map} THEN ow.cluster ELSE f.ecs_cluster END AS cluster,\n    \
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
             learned AS (\n  SELECT eni, {owns} AS owns FROM lr GROUP BY eni HAVING COUNT(DISTINCT own) <= 8\n),\n\
             -- Every record goes on (the status row counts them); those of task ENIs have their rule.\n\
             au AS (\n  SELECT o1.*, CASE WHEN o1.eni_kind = 'task' THEN {rule} END AS rule_id FROM o1\n),\n\
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
            by_map = "ow.eni_id IS NOT NULL AND (ow.task_arn IS NOT NULL OR ow.kind <> 'task' \
                      OR f.ecs_task IS NULL)",
        );
    }

    /// The peer of each directed record, its holder, and what the rule allows it.
    fn verdicts(&self, w: &mut String) {
        let d = self.d;
        let ingress = if self.has(Check::UnexpectedIngress) {
            self.per_rule("rule_id", |r| self.admits(&r.ingress), "TRUE")
        } else {
            "TRUE".into()
        };
        let egress = if self.has(Check::UnexpectedEgress) {
            self.per_rule(
                "rule_id",
                |r| r.egress.as_ref().map_or("TRUE".into(), |e| self.admits(e)),
                "TRUE",
            )
        } else {
            "TRUE".into()
        };
        let own_cluster = format!(
            "(p_kind = 'task' AND p_cluster IS NOT NULL AND cluster IS NOT NULL AND {} = {})",
            d.last_part("p_cluster"),
            d.last_part("cluster")
        );
        let isolation = if self.has(Check::Isolation) {
            self.per_rule(
                "rule_id",
                |r| {
                    if !r.isolated {
                        return "TRUE".into();
                    }
                    let mut lists = self.admits(&r.ingress);
                    if let Some(e) = &r.egress {
                        lists = format!("({lists} OR {})", self.admits(e));
                    }
                    format!("({own_cluster} OR p_kind = 'vpce' OR {lists})")
                },
                "TRUE",
            )
        } else {
            "TRUE".into()
        };
        let flag = |c: Check, test: fn(&Rule) -> bool| {
            if self.has(c) {
                self.per_rule("rule_id", |r| test(r).to_string().to_uppercase(), "FALSE")
            } else {
                "FALSE".into()
            }
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
             FROM o2 WHERE outbound IS NOT NULL AND rule_id IS NOT NULL AND eni_kind = 'task'\n),\n\
             o4 AS (\n  SELECT o3.*, h.eni_id AS p_eni, h.task_arn AS p_task, h.service AS p_service, h.cluster AS p_cluster,\n    \
             COALESCE(h.sgs, '') AS p_sgs, h.lb AS p_lb,\n    \
             CASE WHEN h.ak IS NOT NULL THEN h.kind WHEN {pv} THEN 'vpc' ELSE 'internet' END AS p_kind\n  \
             FROM o3 LEFT JOIN held_at h ON h.ak = o3.pk AND h.s_from <= o3.t AND o3.t < h.s_to\n),\n\
             v AS (\n  SELECT o4.*,\n    \
             {ingress} AS ing_ok,\n    \
             {egress} AS eg_ok,\n    \
             {isolation} AS iso_ok,\n    \
             {clear} AS clear_v,\n    \
             ({aws}) AND p_kind = 'internet' AS aws_v,\n    \
             {by_port} AS eg_ports,\n    \
             COALESCE(action = 'REJECT', FALSE) AS rejected\n  \
             FROM o4\n),",
            pv = self.in_vpc("o3.pk"),
        );
        // The AWS service of the peer's address: the record's field, else the ranges.
        let named = "CASE WHEN (CASE WHEN inbound THEN src_aws ELSE dst_aws END) \
                     NOT IN ('EC2', 'CLOUDFRONT', 'GLOBALACCELERATOR') \
                     THEN (CASE WHEN inbound THEN src_aws ELSE dst_aws END) END";
        let (ranges_cte, ranges_join, ranged) = match self.c.aws_ranges {
            Some(r) if !r.intervals().is_empty() => {
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
                    "rng.aws_service",
                )
            }
            _ => (String::new(), String::new(), "CAST(NULL AS VARCHAR)"),
        };
        let ranged = if d == Dialect::Spark {
            ranged.replace("VARCHAR", "STRING")
        } else {
            ranged.to_string()
        };
        let syn = format!("COALESCE({} = 2, FALSE)", d.bit_and("flags", 18));
        let synack = format!("COALESCE({} = 18, FALSE)", d.bit_and("flags", 18));
        let _ = writeln!(
            w,
            "{ranges_cte}-- Records no rule could make a finding of are left out, as natively.\n\
             kept AS (\n  SELECT v.*, {named} AS named, {ranged} AS ranged\n  FROM v{ranges_join}\n  \
             WHERE NOT (ing_ok AND eg_ok AND iso_ok) OR eg_ports OR clear_v OR aws_v\n),\n\
             rr AS (\n  SELECT kept.*,\n    \
             CASE WHEN aws_v AND NOT rejected THEN COALESCE(named, ranged) END AS aws_service,\n    \
             aws_v AND NOT rejected AND named IS NOT NULL AS by_field,\n    \
             aws_v AND NOT rejected AND named IS NULL AND ranged IS NOT NULL AS by_ranges,\n    \
             clear_v AND NOT rejected AND enc = 0 AS unencrypted,\n    \
             clear_v AND NOT rejected AND enc IS NULL AND (own_port IN ({cp}) OR peer_port IN ({cp})) AS unknown_enc,\n    \
             COALESCE(clear_v AND enc <> 0, FALSE) AS encrypted,\n    \
             COALESCE(aws_v AND tpath = 7, FALSE) AS gateway,\n    \
             {syn} AS syn, {synack} AS synack,\n    \
             COALESCE(t, 0) AS t0, COALESCE(te, t, 0) AS t1, \
             CASE WHEN packets > 0 THEN packets ELSE 0 END AS pk_n, CASE WHEN bytes > 0 THEN bytes ELSE 0 END AS by_n\n  \
             FROM kept\n),",
            cp = self.cleartext_ports(),
        );
    }

    fn cleartext_ports(&self) -> String {
        let p = &self.c.policy.cleartext_ports;
        if p.is_empty() {
            "-1".to_string()
        } else {
            ints(p)
        }
    }

    /// Records folded into connections; who opened each.
    fn connections(&self, w: &mut String) {
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
        let group = "eni, task_arn, service, cluster, pk, protocol, p_eni, p_kind, p_task, p_service, p_cluster, p_lb";
        let listens = self.per_rule(
            "rule_id",
            |r| {
                if r.ports.is_empty() {
                    "FALSE".into()
                } else {
                    format!("own_port IN ({})", ints(&r.ports))
                }
            },
            "FALSE",
        );
        let peer_rule = self.rule_for("p_service", "p_cluster");
        let peer_listens = self.per_rule(
            "peer_rule",
            |r| {
                if r.ports.is_empty() {
                    "FALSE".into()
                } else {
                    format!("peer_port IN ({})", ints(&r.ports))
                }
            },
            "FALSE",
        );
        let egress_flag = if self.has(Check::UnexpectedEgress) {
            self.per_rule(
                "rule_id",
                |r| match (&r.egress, &r.egress_ports) {
                    (None, _) => "FALSE".into(),
                    (Some(_), None) => "NOT eg_ok".into(),
                    (Some(_), Some(p)) if p.is_empty() => "TRUE".into(),
                    (Some(_), Some(p)) => format!("(NOT eg_ok OR peer_port NOT IN ({}))", ints(p)),
                },
                "FALSE",
            )
        } else {
            "FALSE".into()
        };
        let _ = writeln!(
            w,
            "-- 6. Connections (task ENI, owner, peer, protocol, ports) and who opened them.\n\
             cn AS (\n  SELECT {key},\n    \
             MIN(CASE WHEN ing_ok THEN 1 ELSE 0 END) = 1 AS ing_ok, MIN(CASE WHEN eg_ok THEN 1 ELSE 0 END) = 1 AS eg_ok,\n    \
             MIN(CASE WHEN iso_ok THEN 1 ELSE 0 END) = 1 AS iso_ok,\n    \
             {s0},\n    {s1},\n    \
             {ia},\n    {ir},\n    {oa},\n    {or},\n    {ue},\n    {uk},\n    {aw},\n    \
             {enc} AS encrypted, {gw} AS gateway, {bf} AS by_field, {br} AS by_ranges, MIN(aws_service) AS aws_service\n  \
             FROM rr GROUP BY {key}\n),\n\
             cs AS (\n  SELECT cn.*,\n    \
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
             WHEN (own_port < 32768) <> (peer_port < 32768) THEN CASE WHEN own_port < 32768 THEN 1 ELSE 0 END\n    \
             END AS opener\n  FROM cp\n),\n\
             cf AS (\n  SELECT co.*,\n    \
             CASE WHEN opener = 0 AND peer_port > 0 THEN peer_port WHEN opener = 1 AND own_port > 0 THEN own_port END AS server_port,\n    \
             {egress_flag} AS egress,\n    \
             uk_n > 0 AND NOT encrypted AS clear_by_port,\n    \
             aw_n > 0 AND NOT gateway AS aws\n  FROM co\n),",
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

    /// One row per connection and finding, the findings, their reasons, in order.
    fn findings(&self, w: &mut String) {
        let d = self.d;
        let cols = "eni, task_arn, service, cluster, rule_id, pk, protocol, own_port, peer_port, \
                    p_eni, p_kind, p_task, p_service, p_cluster, p_lb, opener, server_port, aws_service";
        let clear_port = format!(
            "COALESCE(clear_by_port AND server_port IN ({}), FALSE)",
            self.cleartext_ports()
        );
        let kinds = finding_kinds(&clear_port);
        let kinds: Vec<(usize, &FindingKind)> = kinds
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
            by_kind(&|k| match &k.b {
                None => format!("{}_{part}", k.a),
                Some((b, cond)) => format!(
                    "{}_{part} + CASE WHEN {cond} THEN {b}_{part} ELSE 0 END",
                    k.a
                ),
            })
        };
        // The first or last time of the records counted: of `a`, of `b`, or of both.
        let time = |part: &str, cmp: &str| {
            by_kind(&|k| match &k.b {
                None => format!("{}_{part}", k.a),
                Some((b, cond)) => {
                    let a = k.a;
                    format!(
                        "CASE WHEN {a}_n > 0 AND {cond} AND {b}_n > 0 THEN CASE WHEN {a}_{part} {cmp} {b}_{part} \
                         THEN {a}_{part} ELSE {b}_{part} END WHEN {a}_n > 0 THEN {a}_{part} ELSE {b}_{part} END"
                    )
                }
            })
        };
        let rank = by_kind(&|k| {
            Check::ALL
                .iter()
                .position(|c| *c == k.check)
                .unwrap_or(0)
                .to_string()
        });
        let action = by_kind(&|k| self.lit(k.action));
        let values: Vec<String> = kinds.iter().map(|(i, _)| format!("({i})")).collect();
        let _ = writeln!(
            w,
            "-- 7. Findings: one per (rule, task ENI, peer, protocol, action), from each kind a connection makes.\n\
             kinds0 AS (\n  SELECT {cols}, {rank} AS rule_rank, {action} AS action,\n    \
             {when} AS keep,\n    \
             {n} AS n,\n    {p} AS p,\n    {b} AS b,\n    {f} AS f,\n    {l} AS l,\n    \
             k = 4 AND ue_n > 0 AS ev_status, k = 4 AND {clear_port} AND uk_n > 0 AS ev_port, k = 7 AND by_field AS ev_field\n  \
             FROM cf CROSS JOIN (VALUES {values}) AS kinds(k)\n),\n\
             fr AS (SELECT * FROM kinds0 WHERE keep AND n > 0),",
            when = by_kind(&|k| k.when.to_string()),
            n = sum("n"),
            p = sum("p"),
            b = sum("b"),
            f = time("f", "<"),
            l = time("l", ">"),
            values = values.join(", "),
        );
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
            ports = d.agg_sorted_ints("server_port"),
            firsts = firsts.join(", "),
        );
        self.text(w);
    }

    /// The peer's address as text, the reasons, and the output in the native order.
    fn text(&self, w: &mut String) {
        let d = self.d;
        let group = |i: usize| {
            let g = format!("substr(pk, {}, 4)", 4 * i + 1);
            format!("CASE WHEN {g} = '0000' THEN '0' ELSE TRIM(LEADING '0' FROM {g}) END")
        };
        let colons: Vec<String> = (0..8).map(group).collect();
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
        let _ = writeln!(
            w,
            "-- 8. Addresses as text again (IPv6 in its canonical, compressed form).\n\
             tx AS (SELECT dr.*, concat(':', {g}, ':') AS s FROM dr),",
            g = colons.join(", ':', "),
        );
        let peer_addr = format!(
            "CASE WHEN {} THEN concat({}) ELSE {compress} END",
            self.is_v4("pk"),
            v4.join(", '.', ")
        );
        // The words of the reasons.
        let ports_text = format!(
            "CASE WHEN {n} = 0 THEN '' WHEN {n} = 1 THEN concat(' port ', {j}) ELSE concat(' ports ', {j}) END",
            n = d.len("ports"),
            j = d.join_ints("ports")
        );
        let eni_or = "COALESCE(p_eni, '?')";
        let of_cluster = format!(
            "CASE WHEN p_cluster IS NOT NULL AND cluster IS NOT NULL AND {pc} <> {c} THEN concat(' in cluster ', {pc}) ELSE '' END",
            pc = d.last_part("p_cluster"),
            c = d.last_part("cluster")
        );
        // `peer_words` of the audit, from the same table of words.
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
        );
        let ingress_desc = self.per_rule("rule_id", |r| self.describe_ingress(r), "''");
        let egress_desc = self.per_rule("rule_id", |r| self.describe_egress(r), "''");
        let iso_lists = self.per_rule(
            "rule_id",
            |r| {
                let lists =
                    !r.ingress.is_empty() || r.egress.as_ref().is_some_and(|e| !e.is_empty());
                self.lit(if lists {
                    ", VPC endpoints and the peers its lists allow"
                } else {
                    " and VPC endpoints"
                })
            },
            "''",
        );
        // `sg_owner` of the policy, from the same table of words.
        let mut owner_label =
            String::from("CASE WHEN service IS NOT NULL THEN concat('tasks of ', service)");
        for k in PeerKind::eni_kinds() {
            let _ = write!(
                owner_label,
                " WHEN kind = {} THEN {}",
                self.lit(k.as_str()),
                self.lit(k.words().owners)
            );
        }
        owner_label += " ELSE 'other ENIs' END";
        let owners: Vec<String> = self
            .sgs
            .iter()
            .enumerate()
            .map(|(i, sg)| {
                let label = &owner_label;
                let has = d.position("concat(';', sgs, ';')", &self.lit(&format!(";{sg};")));
                format!(
                    "{} AS o{i}",
                    d.agg_sorted_text(&format!("CASE WHEN {has} > 0 THEN {label} END"))
                )
            })
            .collect();
        let sg_owner = if owners.is_empty() {
            "SELECT 1 AS nothing".to_string()
        } else {
            format!("SELECT {} FROM m0", owners.join(",\n    "))
        };
        let cleartext_how = "CASE WHEN ev_status = 1 AND ev_port = 0 THEN ' and the flow log marks it not encrypted (encryption-status 0)'\n      \
             WHEN ev_status = 0 THEN ', a cleartext port, and the flow log does not say whether it was encrypted (no encryption-status)'\n      \
             ELSE ' and the flow log marks it not encrypted (encryption-status 0; where the status is missing, the cleartext port decides)' END";
        let own_cluster = format!(
            "CASE WHEN cluster IS NOT NULL THEN concat('tasks of its cluster ', {}) ELSE 'tasks of its own cluster' END",
            d.last_part("cluster")
        );
        let by = format!(
            "CASE WHEN ev_field = 1 THEN {} ELSE {} END",
            d.lit("by the flow log's pkt-*-aws-service field"),
            d.lit("by AWS's ip-ranges.json")
        );
        let severity = "CASE WHEN action = 'REJECT' THEN 3 WHEN rule_rank = 4 THEN 2 WHEN p_kind = 'internet' THEN 1 ELSE 2 END";
        let rfc = |x: &str| d.rfc3339(x);
        let _ = writeln!(
            w,
            "sg_owner AS (\n  {sg_owner}\n),\n\
             f3 AS (\n  SELECT f2.*, {severity} AS sev,\n    CASE rule_rank\n      \
             WHEN 0 THEN concat(peer_addr, ' is ', peer_words, CASE WHEN action = 'REJECT' THEN concat(' and tried to connect to', ports_text, ', rejected; ') \
             ELSE concat(' and connected to', ports_text, '; ') END, who, ' ', {ingress_desc})\n      \
             WHEN 1 THEN concat(who, ' ', {egress_desc}, '; ', happened)\n      \
             WHEN 2 THEN concat(who, ' requires encryption in transit; ', happened, {cleartext_how})\n      \
             WHEN 3 THEN concat(who, ' is isolated and may talk only to ', {own_cluster}, {iso_lists}, '; ', happened)\n      \
             ELSE concat(who, ' must reach AWS services only through VPC endpoints (PrivateLink); its task reached ', peer_addr, ' (', \
             COALESCE(aws_service, 'AWS'), ', ', {by}, ')', CASE WHEN ports_text = '' THEN '' ELSE concat(' on', ports_text) END, ' over the internet instead')\n    \
             END AS reason\n  FROM f2 CROSS JOIN sg_owner\n),\n\
             f4 AS (SELECT f3.*, MIN(sev) OVER (PARTITION BY service) AS worst FROM f3),\n\
             {status}\n\
             fo AS (\n  SELECT\n    \
             CASE rule_rank WHEN 0 THEN 'unexpected-ingress' WHEN 1 THEN 'unexpected-egress' WHEN 2 THEN 'cleartext' \
             WHEN 3 THEN 'isolation' ELSE 'privatelink-bypass' END AS rule,\n    \
             CASE sev WHEN 1 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END AS severity,\n    \
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
            first = rfc("f"),
            last = rfc("l"),
            status = self.status(),
            nulls = vec!["NULL"; STATUS_NULLS].join(", "),
            columns = FINDING_COLUMNS[..FINDING_COLUMNS.len() - 1].join(", "),
            aws_words = self.aws_unknown_words("aws_unknown"),
            judged = self.lit(JUDGED),
            status_rule = self.lit(STATUS_RULE),
        );
    }

    /// `n records` and the rest of `aws_unknown_words(n)` of the audit, for the count
    /// in column `n`: the audit's own words, cut after its number.
    fn aws_unknown_words(&self, n: &str) -> String {
        let words = crate::policy::audit::aws_unknown_words(2);
        let rest = words.strip_prefix("2 records").unwrap_or(&words);
        format!(
            "concat({}, {}, {}, {})",
            self.lit(NOT_JUDGED),
            self.lit(PRIVATELINK_UNJUDGED),
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
    fn status(&self) -> String {
        let d = self.d;
        let text = d.ty(Type::Text);
        let n = |x: &str| format!("CAST({x} AS {text})");
        let iface = self.column("interface_id", Type::Text);
        // The task of a record: its ARN, else (no map source names it) its ENI.
        let audited = "CASE WHEN rule_id IS NULL THEN 0 WHEN outbound IS NOT NULL OR sk IS NULL OR dk IS NULL THEN 2 ELSE 1 END";
        let services = d.agg_sorted_text("CASE WHEN on_task THEN nr_service END");
        // Records privatelink-bypass could not judge: an internet peer whose address
        // nothing says is AWS's or not (no field in the record's layout, no ranges).
        let absent = |column: &str, value: &str| match &self.c.columns {
            Some(have) if have.contains(column) => "FALSE".to_string(),
            Some(_) => "TRUE".to_string(),
            // A table of every column: a layout before v5 has no such field.
            None => format!("((version IS NULL OR version < 5) AND {value} IS NULL)"),
        };
        let aws_unknown = if self.c.aws_ranges.is_some() || !self.has(Check::PrivatelinkBypass) {
            "SELECT 0 AS aws_unknown".to_string()
        } else {
            format!(
                "SELECT COUNT(*) AS aws_unknown FROM v WHERE aws_v AND NOT rejected AND \
                 CASE WHEN inbound THEN {} ELSE {} END",
                absent("pkt_src_aws_service", "src_aws"),
                absent("pkt_dst_aws_service", "dst_aws")
            )
        };
        let why = [
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
        ];
        format!(
            "-- 8. Whether the audit could judge (the conditions of vpcflow audit's exit 2), over\n\
             -- the records once, per task: the records of task ENIs are grouped by their task.\n\
             sr AS (SELECT COUNT(*) AS records, COUNT({iface}) AS with_eni FROM {flows}),\n\
             sm AS (SELECT COUNT(*) AS map_rows FROM m0),\n\
             ta AS (SELECT COALESCE(eni_kind = 'task', FALSE) AS on_task, task_arn IS NOT NULL AS named, COUNT(*) AS n,\n    \
             SUM(CASE WHEN eni_kind IS NULL THEN 1 ELSE 0 END) AS own_unknown, \
             SUM(CASE WHEN ecs_task IS NOT NULL THEN 1 ELSE 0 END) AS ecs,\n    \
             SUM(CASE WHEN eni_kind = 'task' AND rule_id IS NULL AND service IS NULL AND task_arn IS NULL THEN 1 ELSE 0 END) AS uu,\n    \
             MAX({audited}) AS a, MAX(CASE WHEN rule_id IS NULL THEN service END) AS nr_service\n  \
             FROM o2 GROUP BY COALESCE(eni_kind = 'task', FALSE), CASE WHEN eni_kind = 'task' THEN COALESCE(task_arn, eni) END, \
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
            lead = self.lit(&format!("{NOT_JUDGED}{NOTHING_AUDITED}")),
            why = why.join(",\n    "),
        )
    }

    /// `sg-0abc (ALB)`: the security group and what uses it, from the map table.
    fn sg_text(&self, sg: &str) -> String {
        let i = self.sg_index(sg);
        format!(
            "concat({}, CASE WHEN o{i} IS NULL THEN '' ELSE concat(' (', o{i}, ')') END)",
            self.lit(sg)
        )
    }

    fn sg_index(&self, sg: &str) -> usize {
        self.sgs.iter().position(|s| s == sg).unwrap_or(usize::MAX)
    }

    /// `Peers::describe`, as an SQL expression.
    fn describe_peers(&self, p: &Peers) -> String {
        // Parts: each a list of SQL expressions joined as a sentence list.
        let list = |items: Vec<String>| -> String {
            match items.len() {
                0 => "''".into(),
                1 => items[0].clone(),
                n => format!(
                    "concat({}, ' and ', {})",
                    items[..n - 1].join(", ', ', "),
                    items[n - 1]
                ),
            }
        };
        let mut parts: Vec<(String, bool)> = Vec::new();
        if !p.security_groups.is_empty() {
            let sgs: Vec<String> = p.security_groups.iter().map(|s| self.sg_text(s)).collect();
            let plural = if sgs.len() == 1 { "" } else { "s" };
            let many = sgs.len() > 1;
            parts.push((
                format!("concat('security group{plural} ', {})", list(sgs)),
                many,
            ));
        }
        if !p.services.is_empty() {
            let plural = if p.services.len() == 1 { "" } else { "s" };
            let names: Vec<String> = p.services.iter().map(|s| self.lit(s)).collect();
            parts.push((
                format!("concat('service{plural} ', {})", list(names)),
                p.services.len() > 1,
            ));
        }
        if !p.load_balancers.is_empty() {
            let plural = if p.load_balancers.len() == 1 { "" } else { "s" };
            let names: Vec<String> = p.load_balancers.iter().map(|s| self.lit(s)).collect();
            parts.push((
                format!("concat('load balancer{plural} ', {})", list(names)),
                p.load_balancers.len() > 1,
            ));
        }
        for c in &p.cidr_names {
            let text = if c == "vpc" { "the VPC" } else { c.as_str() };
            parts.push((self.lit(text), text.contains(" and ")));
        }
        let any_and = parts.iter().any(|(_, and)| *and);
        let exprs: Vec<String> = parts.into_iter().map(|(e, _)| e).collect();
        if exprs.len() > 1 && any_and {
            let n = exprs.len();
            format!(
                "concat({}, ', and ', {})",
                exprs[..n - 1].join(", ', ', "),
                exprs[n - 1]
            )
        } else {
            list(exprs)
        }
    }

    fn describe_ingress(&self, r: &Rule) -> String {
        if r.admits_nobody() {
            return self.lit("admits no inbound connections");
        }
        format!(
            "concat('admits only ', {})",
            self.describe_peers(&r.ingress)
        )
    }

    fn describe_egress(&self, r: &Rule) -> String {
        match &r.egress {
            Some(e) if !e.is_empty() => {
                let ports = r.egress_ports.as_ref().map_or(String::new(), |p| {
                    let plural = if p.len() == 1 { "" } else { "s" };
                    let items: Vec<String> = p.iter().map(u16::to_string).collect();
                    let text = match items.len() {
                        0 => String::new(),
                        1 => items[0].clone(),
                        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
                    };
                    format!(", on port{plural} {text}")
                });
                format!(
                    "concat('may open connections only to ', {}, {})",
                    self.describe_peers(e),
                    self.lit(&ports)
                )
            }
            _ => self.lit("may open no outbound connections"),
        }
    }
}

impl Query<'_> {
    /// Notes every security group the reasons name (before the query is written).
    fn collect_sgs(&mut self) {
        let mut sgs: Vec<String> = Vec::new();
        for r in &self.rules {
            for p in std::iter::once(&r.rule.ingress).chain(r.rule.egress.as_ref()) {
                for sg in &p.security_groups {
                    if !sgs.contains(sg) {
                        sgs.push(sg.clone());
                    }
                }
            }
        }
        self.sgs = sgs;
    }
}

/// The flow-log columns of every known field, with their Parquet types (for the DDL).
pub fn all_columns() -> Vec<(String, Type)> {
    format::KNOWN_FIELDS
        .iter()
        .map(|f| (format::column_name(f.name), type_of(f.kind)))
        .collect()
}

/// The Parquet type of a field kind, as `vpcflow convert` writes it.
pub fn type_of(kind: Kind) -> Type {
    match kind {
        Kind::Int32 { .. } => Type::Int,
        Kind::Int64 | Kind::Timestamp => Type::BigInt,
        _ => Type::Text,
    }
}

#[cfg(test)]
mod tests;

/// A kind of finding a connection can make: its check and action, when it applies, and
/// the traffic it counts: the columns `a` (`ia`: inbound accepted, `ir`, `oa`, `orj`,
/// `ue`, `uk`, `aw`), plus `b` where its condition holds.
struct FindingKind {
    check: Check,
    action: &'static str,
    when: &'static str,
    a: &'static str,
    b: Option<(&'static str, String)>,
}

/// The kinds, numbered by their place here (the query's `k`; 4 is cleartext, 7
/// PrivateLink).
fn finding_kinds(clear_port: &str) -> [FindingKind; 8] {
    let kind = |check, action, when, a, b: Option<(&'static str, String)>| FindingKind {
        check,
        action,
        when,
        a,
        b,
    };
    use Check::*;
    [
        kind(
            UnexpectedIngress,
            "ACCEPT",
            "NOT ing_ok AND opener = 1",
            "ia",
            None,
        ),
        kind(
            UnexpectedIngress,
            "REJECT",
            "NOT ing_ok AND opener = 1",
            "ir",
            None,
        ),
        kind(
            UnexpectedEgress,
            "ACCEPT",
            "egress AND opener = 0",
            "oa",
            None,
        ),
        kind(
            UnexpectedEgress,
            "REJECT",
            "egress AND opener = 0",
            "orj",
            None,
        ),
        // Records marked unencrypted, plus those without the mark when the server
        // port is a cleartext one.
        kind(
            Cleartext,
            "ACCEPT",
            "TRUE",
            "ue",
            Some(("uk", clear_port.to_string())),
        ),
        kind(
            Isolation,
            "ACCEPT",
            "NOT iso_ok",
            "oa",
            Some(("ia", "TRUE".into())),
        ),
        kind(
            Isolation,
            "REJECT",
            "NOT iso_ok",
            "orj",
            Some(("ir", "TRUE".into())),
        ),
        kind(
            PrivatelinkBypass,
            "ACCEPT",
            "aws AND opener = 0",
            "aw",
            None,
        ),
    ]
}
