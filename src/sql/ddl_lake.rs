//! The DDL of a Security Lake source: Amazon Security Lake's OCSF Network Activity
//! (VPC flow logs, source version 2.0, OCSF 1.1.0), and a view of it with the flow-log
//! column names that the audit query reads. The OCSF is read from a table that exists
//! (`--lake-table`: on Athena, Security Lake's own Glue table,
//! `amazon_security_lake_table_<region>_vpc_flow_2_0`), or from the files of the lake's
//! layout (`aws/VPC_FLOW/2.0/region=…/accountId=…/eventDay=YYYYMMDD/`): DuckDB's view
//! reads them itself (or a view of them `--lake-table` names), Spark makes a table
//! over them (`CREATE TABLE … USING parquet`, every file under the folder, without
//! partition columns). Athena's table over the files is not written: Security Lake
//! registers its own.
//!
//! The view maps OCSF back as the native reader does ([`crate::input::ocsf`], whose
//! attribute paths it uses): the interface's ids from `dst_endpoint` for ingress and
//! `src_endpoint` for egress, `intermediate_ips[1]` (else `ip`) as the address and `ip`
//! as `pkt-*addr`, times in milliseconds, `boundary_id` 4..11 as `traffic-path` 1..8,
//! the action from `action_id`, else `disposition_id`, else `activity_id`, each other
//! field from the `unmapped` key of its name; `-` is null. One mapping serves the three
//! dialects: they differ only in how an array's first element and a map's value are
//! read, null where missing ([`first`], [`value_of`]).
//!
//! Unlike the native reader, the view reads the end from `end_time` only (not the text
//! `end_time_dt`), and the account from `cloud.account.uid` (OCSF 1.1.0; source
//! version 1.0's `cloud.account_uid` is not read): a struct field the table does not
//! have is an error in each engine, not null, so a `COALESCE` of both would fail on
//! every table that has one only.

use std::fmt::Write;

use super::{Dialect, Type};
use crate::input::ocsf::Attr;

/// An attribute's path as an expression of the dialect (`src_endpoint.ip`).
fn at(d: Dialect, attr: Attr) -> String {
    attr.path()
        .iter()
        .map(|p| d.ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// A text attribute, `-` null.
fn text(d: Dialect, attr: Attr) -> String {
    format!("NULLIF({}, '-')", at(d, attr))
}

/// The first element of an array, null when it is empty or null (Spark's ANSI mode
/// fails `element_at` out of bounds; Trino's gives null).
fn first(d: Dialect, array: &str) -> String {
    match d {
        Dialect::Duckdb => format!("{array}[1]"),
        Dialect::Trino => format!("element_at({array}, 1)"),
        Dialect::Spark => format!("try_element_at({array}, 1)"),
    }
}

/// A map's value of a key, null when the key is missing (Trino's `m[k]` and Spark's
/// ANSI `element_at` fail there).
fn value_of(d: Dialect, map: &str, key: &str) -> String {
    match d {
        Dialect::Duckdb => format!("{map}[{}]", d.lit(key)),
        Dialect::Trino => format!("element_at({map}, {})", d.lit(key)),
        Dialect::Spark => format!("try_element_at({map}, {})", d.lit(key)),
    }
}

/// The interface's own side's attribute: `dst` for ingress, `src` for egress, else the
/// source's when it has an interface, else the destination's.
fn own(d: Dialect, src: Attr, dst: Attr) -> String {
    let dir = at(d, Attr::DirectionId);
    format!(
        "NULLIF(CASE WHEN {dir} = 1 THEN {d} WHEN {dir} = 2 THEN {s} \
         WHEN COALESCE(NULLIF({si}, '-'), '') <> '' THEN {s} ELSE {d} END, '-')",
        d = at(d, dst),
        s = at(d, src),
        si = at(d, Attr::SrcInterface),
    )
}

/// Milliseconds as seconds.
fn seconds(ms: &str) -> String {
    format!("CAST(floor(({ms}) / 1000) AS BIGINT)")
}

/// The expression of a flow-log field in the view (its dashed name), of type `t`: the
/// fields of [`crate::input::ocsf::BASE`] from their attributes, the others from `unmapped`.
fn field(d: Dialect, name: &str, t: Type) -> String {
    let at = |attr| at(d, attr);
    let text = |attr| text(d, attr);
    let own = |src, dst| own(d, src, dst);
    let number = |attr: Attr| format!("TRY_CAST({} AS {})", at(attr), d.ty(t));
    match name {
        "version" => format!("TRY_CAST({} AS {})", text(Attr::ProductVersion), d.ty(t)),
        "account-id" => text(Attr::AccountUid),
        "interface-id" => own(Attr::SrcInterface, Attr::DstInterface),
        "srcaddr" => format!(
            "COALESCE({}, {})",
            first(d, &at(Attr::SrcIntermediate)),
            at(Attr::SrcIp)
        ),
        "dstaddr" => format!(
            "COALESCE({}, {})",
            first(d, &at(Attr::DstIntermediate)),
            at(Attr::DstIp)
        ),
        "srcport" => number(Attr::SrcPort),
        "dstport" => number(Attr::DstPort),
        "protocol" => number(Attr::ProtocolNum),
        "packets" => number(Attr::Packets),
        "bytes" => number(Attr::Bytes),
        "start" => seconds(&format!(
            "COALESCE({}, {})",
            at(Attr::StartTime),
            at(Attr::Time)
        )),
        "end" => seconds(&at(Attr::EndTime)),
        "action" => {
            let mut cases = String::new();
            for (attr, accept, reject) in [
                (Attr::ActionId, 1, 2),
                (Attr::DispositionId, 1, 2),
                (Attr::ActivityId, 6, 5),
            ] {
                let a = at(attr);
                let _ = write!(
                    cases,
                    " WHEN {a} = {accept} THEN 'ACCEPT' WHEN {a} = {reject} THEN 'REJECT'"
                );
            }
            format!("CASE{cases} END")
        }
        "log-status" => text(Attr::StatusCode),
        "vpc-id" => own(Attr::SrcVpc, Attr::DstVpc),
        "subnet-id" => own(Attr::SrcSubnet, Attr::DstSubnet),
        "instance-id" => own(Attr::SrcInstance, Attr::DstInstance),
        "tcp-flags" => number(Attr::TcpFlags),
        "type" => text(Attr::ProtocolVer),
        "pkt-srcaddr" => at(Attr::SrcIp),
        "pkt-dstaddr" => at(Attr::DstIp),
        "region" => text(Attr::Region),
        "az-id" => text(Attr::Zone),
        "pkt-src-aws-service" => text(Attr::SrcSvc),
        "pkt-dst-aws-service" => text(Attr::DstSvc),
        "flow-direction" => format!(
            "CASE {} WHEN 1 THEN 'ingress' WHEN 2 THEN 'egress' END",
            at(Attr::DirectionId)
        ),
        "traffic-path" => {
            let b = at(Attr::BoundaryId);
            format!(
                "CASE WHEN {b} BETWEEN 4 AND 11 THEN CAST({b} - 3 AS {}) END",
                d.ty(t)
            )
        }
        // Every other field: the unmapped key of its name.
        other => {
            let key = crate::format::column_name(other);
            let value = format!("NULLIF({}, '-')", value_of(d, &d.ident("unmapped"), &key));
            match t {
                Type::Text => value,
                t => format!("TRY_CAST({value} AS {})", d.ty(t)),
            }
        }
    }
}

/// The table Spark makes over the lake's files when `--lake-table` names none.
pub const DEFAULT_TABLE: &str = "security_lake_vpc_flow";

/// What the view reads the lake's OCSF from.
pub enum From<'a> {
    /// DuckDB: the files under a folder (its `**/*.parquet`), read by the view itself.
    Files(&'a str),
    /// A table (a quoted name) made first over the files under a folder: DuckDB a
    /// view, Spark a table (its schema the files', read recursively, without
    /// partition columns: the view reads the region and account from the records).
    NewTable { name: String, location: &'a str },
    /// A table that exists (a quoted name), as Security Lake's own in Glue.
    Table(String),
}

/// The statements that make the OCSF table when it is to be made, and the flow-log
/// view `flows` (a quoted name) over it with `columns` (flow-log column names and
/// types).
pub fn statements(d: Dialect, flows: &str, from: &From, columns: &[(String, Type)]) -> String {
    let dashed = |c: &str| c.replace('_', "-");
    let exprs: Vec<String> = columns
        .iter()
        .map(|(c, t)| format!("  {} AS {}", field(d, &dashed(c), *t), d.ident(c)))
        .collect();
    let files = |location: &str| d.lit(&format!("{}/**/*.parquet", location.trim_end_matches('/')));
    let read_files = |location: &str| {
        format!(
            "read_parquet({}, hive_partitioning = true, hive_types_autocast = false, \
             union_by_name = true)",
            files(location)
        )
    };
    let mut s = String::new();
    let source = match from {
        From::Files(location) => read_files(location),
        From::Table(name) => name.clone(),
        From::NewTable { name, location } => {
            let _ = match d {
                Dialect::Duckdb => writeln!(
                    s,
                    "-- Amazon Security Lake's OCSF Network Activity (VPC flow logs).\n\
                     CREATE OR REPLACE VIEW {name} AS SELECT * FROM {};",
                    read_files(location)
                ),
                // Trino's is Security Lake's own table: never made here.
                Dialect::Spark | Dialect::Trino => writeln!(
                    s,
                    "-- Amazon Security Lake's OCSF Network Activity (VPC flow logs): every\n\
                     -- Parquet file under the folder, its schema theirs (merged).\n\
                     CREATE TABLE IF NOT EXISTS {name} USING parquet\n\
                     OPTIONS ('recursiveFileLookup' = 'true', 'mergeSchema' = 'true')\n\
                     LOCATION {};",
                    d.lit(location)
                ),
            };
            name.clone()
        }
    };
    let _ = writeln!(
        s,
        "-- Amazon Security Lake's OCSF Network Activity (VPC flow logs, source version 2.0:\n\
         -- OCSF 1.1.0) as the flow-log columns the audit reads (null where OCSF has none).\n\
         CREATE OR REPLACE VIEW {flows} AS\n\
         SELECT\n{exprs}\n\
         FROM {source};",
        exprs = exprs.join(",\n"),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_field_has_its_own_expression() {
        for name in crate::input::ocsf::BASE {
            for d in [Dialect::Duckdb, Dialect::Spark, Dialect::Trino] {
                assert!(!field(d, name, Type::Text).contains("unmapped"), "{name}");
            }
        }
        assert_eq!(
            field(Dialect::Duckdb, "sublocation-id", Type::Text),
            "NULLIF(\"unmapped\"['sublocation_id'], '-')"
        );
        assert_eq!(
            field(Dialect::Trino, "sublocation-id", Type::Text),
            "NULLIF(element_at(\"unmapped\", 'sublocation_id'), '-')"
        );
        assert_eq!(
            field(Dialect::Spark, "sublocation-id", Type::Text),
            "NULLIF(try_element_at(`unmapped`, 'sublocation_id'), '-')"
        );
    }
}
