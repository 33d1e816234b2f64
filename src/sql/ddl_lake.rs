//! The DDL of a Security Lake source: Amazon Security Lake's OCSF Network Activity
//! (VPC flow logs, source version 2.0, OCSF 1.1.0) in its own layout
//! (`aws/VPC_FLOW/2.0/region=…/accountId=…/eventDay=YYYYMMDD/`), and a view of it with
//! the flow-log column names that the audit query reads. The view maps OCSF back as
//! the native reader does ([`crate::input::ocsf`], whose attribute paths it uses): the
//! interface's ids from `dst_endpoint` for ingress and `src_endpoint` for egress,
//! `intermediate_ips[1]` (else `ip`) as the address and `ip` as `pkt-*addr`, times in
//! milliseconds, `boundary_id` 4..11 as `traffic-path` 1..8, the action from
//! `action_id`, else `disposition_id`, else `activity_id`, each other field from the
//! `unmapped` key of its name; `-` is null.
//!
//! DuckDB only so far. Unlike the native reader, the view reads the end from
//! `end_time` only (not the text `end_time_dt`), and the account from
//! `cloud.account.uid` (OCSF 1.1.0; source version 1.0's `cloud.account_uid` is not
//! read).

use std::fmt::Write;

use super::{Dialect, Type};
use crate::input::ocsf::Attr;

/// An attribute's path as a DuckDB expression (`src_endpoint.ip`).
fn at(attr: Attr) -> String {
    let d = Dialect::Duckdb;
    attr.path()
        .iter()
        .map(|p| d.ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// A text attribute, `-` null.
fn text(attr: Attr) -> String {
    format!("NULLIF({}, '-')", at(attr))
}

/// The interface's own side's attribute: `dst` for ingress, `src` for egress, else the
/// source's when it has an interface, else the destination's.
fn own(src: Attr, dst: Attr) -> String {
    let dir = at(Attr::DirectionId);
    format!(
        "NULLIF(CASE WHEN {dir} = 1 THEN {d} WHEN {dir} = 2 THEN {s} \
         WHEN COALESCE(NULLIF({si}, '-'), '') <> '' THEN {s} ELSE {d} END, '-')",
        d = at(dst),
        s = at(src),
        si = at(Attr::SrcInterface),
    )
}

/// Milliseconds as seconds.
fn seconds(ms: &str) -> String {
    format!("CAST(floor(({ms}) / 1000) AS BIGINT)")
}

/// The expression of a flow-log field in the view (its dashed name), of type `t`: the
/// fields of [`crate::input::ocsf::BASE`] from their attributes, the others from `unmapped`.
fn field(name: &str, t: Type) -> String {
    let d = Dialect::Duckdb;
    let number = |attr: Attr| format!("TRY_CAST({} AS {})", at(attr), d.ty(t));
    match name {
        "version" => format!("TRY_CAST({} AS {})", text(Attr::ProductVersion), d.ty(t)),
        "account-id" => text(Attr::AccountUid),
        "interface-id" => own(Attr::SrcInterface, Attr::DstInterface),
        "srcaddr" => format!(
            "COALESCE({}[1], {})",
            at(Attr::SrcIntermediate),
            at(Attr::SrcIp)
        ),
        "dstaddr" => format!(
            "COALESCE({}[1], {})",
            at(Attr::DstIntermediate),
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
            let value = format!("NULLIF({}[{}], '-')", d.ident("unmapped"), d.lit(&key));
            match t {
                Type::Text => value,
                t => format!("TRY_CAST({value} AS {})", d.ty(t)),
            }
        }
    }
}

/// DuckDB's statements: the flow-log view `flows` over the OCSF files under
/// `location` (a folder: its `**/*.parquet`), with `columns` (flow-log column names and
/// types), and the map view `map` over `map_files`.
pub fn duckdb(
    flows: &str,
    map: &str,
    location: &str,
    map_files: &str,
    columns: &[(String, Type)],
) -> String {
    let d = Dialect::Duckdb;
    let dashed = |c: &str| c.replace('_', "-");
    let exprs: Vec<String> = columns
        .iter()
        .map(|(c, t)| format!("  {} AS {}", field(&dashed(c), *t), d.ident(c)))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "-- Amazon Security Lake's OCSF Network Activity (VPC flow logs, source version 2.0:\n\
         -- OCSF 1.1.0), its partitions region, accountId and eventDay kept as text, as the\n\
         -- flow-log columns the audit reads (null where OCSF has none).\n\
         CREATE OR REPLACE VIEW {flows} AS\n\
         SELECT\n{exprs}\n\
         FROM read_parquet({files}, hive_partitioning = true, hive_types_autocast = false, \
         union_by_name = true);\n\
         CREATE OR REPLACE VIEW {map} AS SELECT * FROM read_parquet({maps});",
        exprs = exprs.join(",\n"),
        files = d.lit(&format!("{}/**/*.parquet", location.trim_end_matches('/'))),
        maps = d.lit(map_files),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_field_has_its_own_expression() {
        for name in crate::input::ocsf::BASE {
            assert!(!field(name, Type::Text).contains("unmapped"), "{name}");
        }
        assert_eq!(
            field("sublocation-id", Type::Text),
            "NULLIF(\"unmapped\"['sublocation_id'], '-')"
        );
    }
}
