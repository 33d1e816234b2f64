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
//!
//! Each step is one file that writes its CTEs (the numbered `-- 1.` ... `-- 9.`
//! comments of the query); this file holds what they share: the query being written
//! (`Query`) and its expressions over the policy (the rule of a task, whether a list
//! admits a peer). The constants the native code decides (the first ephemeral port,
//! how many addresses an ENI may learn, the shared AWS services, the finding kinds and
//! severities) are interpolated from the native modules, never written again here.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::aws_ranges::AwsRanges;
use crate::enrich::PeerKind;
use crate::format::{self, Kind};
use crate::net::Cidr;
// The columns of a finding, in order: those of `vpcflow audit` (its CSV's, and its
// JSON's keys), which the query returns.
use crate::output::findings::CSV_COLUMNS as FINDING_COLUMNS;
use crate::policy::audit::{Check, Checks, Severity};
use crate::policy::{Of, Peers, Policy, Rule};

mod addresses;
mod connections;
pub mod ddl;
mod ddl_lake;
mod dialect;
mod error;
mod findings;
mod orient;
mod output;
mod reasons;
mod records;
mod segments;
mod status;
mod text;
mod verdicts;

pub use dialect::{char_words, control_char, Dialect, NameError, Quoting, TableName, Type};
pub use error::SqlError;

/// The names of the two tables.
#[derive(Clone, Debug)]
pub struct Tables {
    pub flows: TableName,
    pub map: TableName,
}

impl Tables {
    /// Parses both names (`--flows` and `--map`); the error names the option.
    pub fn parse(flows: &str, map: &str) -> Result<Tables, SqlError> {
        let name = |flag: &'static str, text: &str| {
            TableName::parse(text).map_err(|error| SqlError::Name { flag, error })
        };
        Ok(Tables {
            flows: name("flows", flows)?,
            map: name("map", map)?,
        })
    }

    /// Both names quoted for a language.
    pub fn quoted(&self, q: Quoting) -> Result<(String, String), SqlError> {
        let quote = |flag: &'static str, t: &TableName| {
            t.quoted(q).map_err(|error| SqlError::Name { flag, error })
        };
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

/// Columns without which nothing can be audited.
const REQUIRED: [&str; 3] = ["interface_id", "srcaddr", "dstaddr"];

/// The "no bound" of a map window (the native `i64::MIN`/`i64::MAX`; one more than
/// `i64::MIN`, so that no literal overflows).
const LOW: i64 = i64::MIN + 1;
const HIGH: i64 = i64::MAX;

/// The time of a record without one: in the last segment of its ENI, as natively the
/// holder of the last window.
const LAST: i64 = HIGH - 1;

/// The key of an IPv4 address starts with this (`::ffff:0:0/96`).
const V4_PREFIX: &str = "00000000000000000000ffff";

fn hex_key(a: &[u8; 16]) -> String {
    a.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The flow-log columns of a `--fields` value, as AWS Parquet names.
pub fn columns_of_fields(spec: &str) -> Result<BTreeSet<String>, SqlError> {
    let layout = format::Layout::parse_spec(spec).map_err(SqlError::Fields)?;
    Ok(layout
        .columns()
        .iter()
        .map(|c| format::column_name(&c.name))
        .collect())
}

impl Compile<'_> {
    /// The query: the findings, in the order `vpcflow audit` prints them.
    pub fn query(&self) -> Result<String, SqlError> {
        if let Some(have) = &self.columns {
            let missing: Vec<&'static str> = REQUIRED
                .iter()
                .copied()
                .filter(|c| !have.contains(*c))
                .collect();
            if !missing.is_empty() {
                return Err(SqlError::MissingColumns { missing });
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

/// A rule's number in the query (`rule_rank`): its place in [`Check::ALL`], the order
/// of the findings.
fn rank(check: Check) -> usize {
    Check::ALL
        .iter()
        .position(|c| *c == check)
        .expect("every check is in Check::ALL")
}

/// The severities, worst first (the order of [`Severity`]).
const SEVERITIES: [Severity; 3] = [Severity::High, Severity::Medium, Severity::Low];

/// A severity's number in the query (`sev`): 1 for the worst, in the order of
/// [`Severity`], so that the least is the worst.
fn sev(s: Severity) -> u8 {
    s as u8 + 1
}

/// `WHEN a THEN x ... ELSE z` of a `CASE`: the arms in order, the last one as the
/// `ELSE`, each after `sep`.
fn arms_else(arms: impl IntoIterator<Item = (String, String)>, sep: &str) -> String {
    let arms: Vec<(String, String)> = arms.into_iter().collect();
    let mut s = String::new();
    if let Some(((_, last), rest)) = arms.split_last() {
        for (when, then) in rest {
            let _ = write!(s, "{sep}WHEN {when} THEN {then}");
        }
        let _ = write!(s, "{sep}ELSE {last}");
    }
    s
}

impl Query<'_> {
    fn lit(&self, s: &str) -> String {
        self.d.lit(s)
    }

    /// A peer or ENI kind as the map table and the `eni_kind`/`p_kind` columns name it.
    fn peer_kind(&self, k: PeerKind) -> String {
        self.lit(k.as_str())
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

    /// The rule of a task of `service` in `cluster` (`Policy::rule_id_of`), or null;
    /// with `family`, a task outside any service takes its family's rule.
    fn rule_for(&self, service: &str, cluster: &str, family: Option<&str>) -> String {
        let p = self.c.policy;
        let mut arms: Vec<String> = Vec::new();
        let mut subject = |of: Of, key: &str, guard: &str| {
            for (id, r) in p.services.iter().enumerate() {
                if let (true, Some(c)) = (r.of == of, &r.cluster) {
                    arms.push(format!(
                        " WHEN {guard}{key} = {} AND {} = {} THEN {id}",
                        self.lit(&r.name),
                        self.d.last_part(cluster),
                        self.lit(crate::enrich::arn_name(c))
                    ));
                }
            }
            for (id, r) in p.services.iter().enumerate() {
                if r.of == of && r.cluster.is_none() {
                    arms.push(format!(
                        " WHEN {guard}{key} = {} THEN {id}",
                        self.lit(&r.name)
                    ));
                }
            }
        };
        subject(Of::Service, service, "");
        if let Some(f) = family {
            subject(Of::Family, f, &format!("{service} IS NULL AND "));
        }
        // No rule to name: the one answer for every task (a CASE needs a WHEN).
        if arms.is_empty() {
            return match p.defaults {
                Some(_) => p.services.len().to_string(),
                None => "CAST(NULL AS INTEGER)".to_string(),
            };
        }
        let otherwise = match p.defaults {
            Some(_) => p.services.len().to_string(),
            None => "NULL".to_string(),
        };
        format!("CASE{} ELSE {otherwise} END", arms.concat())
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
        format!(
            "substr({k}, 1, {}) = {}",
            V4_PREFIX.len(),
            self.lit(V4_PREFIX)
        )
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
        if !peers.families.is_empty() {
            let names: Vec<String> = peers.families.iter().map(|s| self.lit(s)).collect();
            any.push(format!("p_family IN ({})", names.join(", ")));
        }
        // A peer without a service makes `p_service IN (...)` null: the peer is then
        // not on the list, as natively, not unknown.
        if any.is_empty() {
            "FALSE".to_string()
        } else {
            format!("COALESCE({}, FALSE)", any.join(" OR "))
        }
    }

    /// [`Query::per_rule`] over `rule_id` when the check runs, else `otherwise`.
    fn per_rule_of(
        &self,
        check: Check,
        value: impl Fn(&Rule) -> String,
        otherwise: &str,
    ) -> String {
        if self.has(check) {
            self.per_rule("rule_id", value, otherwise)
        } else {
            otherwise.to_string()
        }
    }

    fn has(&self, check: Check) -> bool {
        self.c.checks.has(check)
    }

    /// The policy's cleartext ports, as the items of an SQL list (`-1`, no port, when
    /// it has none).
    fn cleartext_ports(&self) -> String {
        let p = &self.c.policy.cleartext_ports;
        if p.is_empty() {
            "-1".to_string()
        } else {
            ints(p)
        }
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
        self.text(&mut w);
        self.reasons(&mut w);
        self.status(&mut w);
        self.output(&mut w);
        w
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
