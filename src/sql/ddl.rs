//! The statements that make the two tables the audit query reads, over Parquet where it
//! lies: the flow logs (`vpcflow convert` output or AWS's Parquet delivery, one file or
//! a Hive tree) and the ENI map (`vpcflow map --format parquet`).
//!
//! Every column the audit may read is declared, so that files of a format without one
//! give nulls there (Spark and Athena read Parquet columns by name; DuckDB's view adds
//! the missing ones).

use std::fmt::Write;

use super::{char_words, control_char, Dialect, Quoting, SqlError, TableName, Tables, Type};

/// The years Athena's projection covers when nothing says which the data has.
pub const DEFAULT_YEARS: (u16, u16) = (2015, 2099);

pub use super::error::LOCATION_RULES;

/// Checks that a location can be written for the dialect (see [`LOCATION_RULES`]);
/// the error names the option, the character and its byte.
pub fn check_location(dialect: Dialect, flag: &'static str, loc: &str) -> Result<(), SqlError> {
    let bad = |at: usize, what: String| {
        Err(SqlError::Location {
            flag,
            what,
            at,
            location: loc.to_string(),
        })
    };
    if let Some((at, c)) = control_char(loc) {
        return bad(at, char_words(c));
    }
    match dialect {
        Dialect::Duckdb => {
            if let Some(at) = loc.find(['[', ']', '*', '?']) {
                let c = loc[at..].chars().next().unwrap_or('?');
                return bad(at, format!("'{c}'"));
            }
        }
        Dialect::Trino => {
            if let Some(at) = loc.find("${") {
                return bad(at, "'${'".to_string());
            }
        }
        Dialect::Spark => {}
    }
    Ok(())
}

/// The years of the `year=` partitions directly under a local folder, lowest and
/// highest; `None` when it has none (or cannot be read).
pub fn partition_years(dir: &std::path::Path) -> Option<(u16, u16)> {
    let years: Vec<u16> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("year=")?.parse().ok())
        .collect();
    Some((*years.iter().min()?, *years.iter().max()?))
}

/// The map table's columns (`vpcflow map --format parquet`): the canonical CSV's, with
/// the windows as unix seconds.
fn map_columns() -> Vec<(&'static str, Type)> {
    crate::enrich::load::CSV_HEADER
        .iter()
        .map(|&c| {
            let t = if c.starts_with("valid_") {
                Type::BigInt
            } else {
                Type::Text
            };
            (c, t)
        })
        .collect()
}

/// What the flow-log table is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Flow-log columns: `vpcflow convert` output or AWS's Parquet delivery.
    FlowLogs,
    /// Amazon Security Lake's OCSF Network Activity (source version 2.0) in its own
    /// layout, read through a view of flow-log columns (see `sql/ddl_lake.rs`).
    SecurityLake,
}

/// What the DDL is made for.
pub struct Ddl<'a> {
    /// What the flow-log table is over.
    pub source: Source,
    pub dialect: Dialect,
    pub tables: &'a Tables,
    /// The flow logs: a `.parquet` file, or a folder (a Hive tree when partitioned);
    /// for a Security Lake source, the folder of the lake's files. `None`: a Security
    /// Lake source read from `lake_table` only.
    pub flows_location: Option<&'a str>,
    /// A Security Lake source's OCSF table (`--lake-table`): the view reads it; made
    /// over `flows_location` when that is given too (DuckDB a view, Spark a table).
    pub lake_table: Option<&'a TableName>,
    /// The map: a `.parquet` file alone in its folder, or that folder (Spark and Athena
    /// take the folder).
    pub map_location: &'a str,
    /// The partition keys of the tree (`year`, `month`, `day`, `hour`), outermost first.
    pub partition_by: &'a [String],
    /// The flow-log columns, with their types.
    pub columns: &'a [(String, Type)],
    /// The years Athena's partition projection covers, first and last.
    pub years: (u16, u16),
}

/// `loc/` with exactly one trailing slash; the folder of a `.parquet` file.
fn folder(loc: &str) -> String {
    let loc = match loc.rsplit_once('/') {
        Some((dir, file)) if file.ends_with(".parquet") => dir,
        _ => loc,
    };
    format!("{}/", loc.trim_end_matches('/'))
}

impl Ddl<'_> {
    /// The statements; an error (in words) for a location or a name they cannot hold.
    pub fn statements(&self) -> Result<String, SqlError> {
        if let Some(loc) = self.flows_location {
            check_location(self.dialect, "--flows-location", loc)?;
        }
        check_location(self.dialect, "--map-location", self.map_location)?;
        // Athena's DDL is Hive's language, its queries Trino's.
        let q = match self.dialect {
            Dialect::Trino => Quoting::Hive,
            d => d.quoting(),
        };
        let (flows, map) = self.tables.quoted(q)?;
        if self.source == Source::SecurityLake {
            return self.lake(&map);
        }
        if self.lake_table.is_some() {
            return Err(SqlError::LakeTableAlone);
        }
        let loc = self.flows_location.ok_or(SqlError::NoFlowsLocation)?;
        Ok(match self.dialect {
            Dialect::Duckdb => self.duckdb(loc, &flows, &map),
            Dialect::Spark => self.spark(loc, &flows, &map),
            Dialect::Trino => self.athena(loc, &flows, &map),
        })
    }

    /// A Security Lake source: its table (over its files, or one that exists), the view
    /// of flow-log columns over it, and the map's table.
    fn lake(&self, map: &str) -> Result<String, SqlError> {
        use super::ddl_lake::{self, From};
        if !self.partition_by.is_empty() {
            return Err(SqlError::LakePartitions);
        }
        let d = self.dialect;
        // The view is the query's language (Athena's views are Trino's).
        let (flows, _) = self.tables.quoted(d.quoting())?;
        let lake = self
            .lake_table
            .map(|t| {
                t.quoted(d.quoting()).map_err(|error| SqlError::Name {
                    flag: "lake-table",
                    error,
                })
            })
            .transpose()?;
        let from = match (d, self.flows_location, lake) {
            (_, None, None) => return Err(SqlError::LakeNothing),
            (Dialect::Trino, Some(_), _) => return Err(SqlError::LakeAthenaFiles),
            (Dialect::Duckdb, Some(loc), None) => From::Files(loc),
            (Dialect::Spark, Some(loc), None) => From::NewTable {
                name: d.ident(ddl_lake::DEFAULT_TABLE),
                location: loc,
            },
            (_, Some(loc), Some(name)) => From::NewTable {
                name,
                location: loc,
            },
            (_, None, Some(name)) => From::Table(name),
        };
        let mut s = ddl_lake::statements(d, &flows, &from, self.columns);
        let map = match d {
            Dialect::Duckdb => format!(
                "CREATE OR REPLACE VIEW {map} AS SELECT * FROM read_parquet({});\n",
                d.lit(&self.map_files())
            ),
            Dialect::Spark => self.spark_map(map),
            Dialect::Trino => self.athena_map(map),
        };
        s.push_str(&map);
        Ok(s)
    }

    /// The map's Parquet files as DuckDB reads them: the file, or a folder's.
    fn map_files(&self) -> String {
        if self.map_location.ends_with(".parquet") {
            self.map_location.to_string()
        } else {
            format!("{}*.parquet", folder(self.map_location))
        }
    }

    fn columns(&self, list: &[(&str, Type)], indent: &str) -> String {
        let d = self.dialect;
        list.iter()
            .map(|(name, t)| {
                let ty = match (d, t) {
                    // Athena's DDL is Hive's: lowercase types, string for text.
                    (Dialect::Trino, Type::Int) => "int",
                    (Dialect::Trino, Type::BigInt) => "bigint",
                    (Dialect::Trino, Type::Text) => "string",
                    _ => d.ty(*t),
                };
                let name = match d {
                    Dialect::Trino => Quoting::Hive
                        .identifier(name)
                        .expect("the audit's column names are plain words"),
                    _ => d.ident(name),
                };
                format!("{indent}{name} {ty}")
            })
            .collect::<Vec<_>>()
            .join(",\n")
    }

    fn flow_columns(&self) -> Vec<(&str, Type)> {
        self.columns.iter().map(|(n, t)| (n.as_str(), *t)).collect()
    }

    fn duckdb(&self, loc: &str, flows: &str, map: &str) -> String {
        let d = self.dialect;
        let files = if loc.ends_with(".parquet") {
            loc.to_string()
        } else {
            format!("{}**/*.parquet", folder(loc))
        };
        let nulls: Vec<String> = self
            .columns
            .iter()
            .map(|(n, t)| format!("CAST(NULL AS {}) AS {}", d.ty(*t), d.ident(n)))
            .collect();
        let mut s = String::new();
        let _ = writeln!(
            s,
            "-- The flow logs, every column the audit may read (null where the files have none).\n\
             CREATE OR REPLACE VIEW {flows} AS\n\
             SELECT * FROM read_parquet({files}, hive_partitioning = {hive}, union_by_name = true)\n\
             UNION ALL BY NAME\n\
             SELECT {nulls} WHERE FALSE;\n\
             CREATE OR REPLACE VIEW {map} AS SELECT * FROM read_parquet({maps});",
            files = d.lit(&files),
            hive = !self.partition_by.is_empty(),
            nulls = nulls.join(", "),
            maps = d.lit(&self.map_files()),
        );
        s
    }

    fn spark(&self, loc: &str, flows: &str, map: &str) -> String {
        let d = self.dialect;
        let mut cols = self.flow_columns();
        cols.extend(self.partition_by.iter().map(|p| (p.as_str(), Type::Int)));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "-- The flow logs, every column the audit may read (null where the files have none).\n\
             CREATE TABLE IF NOT EXISTS {flows} (\n{cols}\n) USING parquet",
            cols = self.columns(&cols, "  "),
        );
        if !self.partition_by.is_empty() {
            let _ = writeln!(s, "PARTITIONED BY ({})", self.partition_by.join(", "));
        }
        let _ = writeln!(s, "LOCATION {};", d.lit(loc));
        if !self.partition_by.is_empty() {
            let _ = writeln!(
                s,
                "-- Finds the partitions (again after new ones are written).\n\
                 MSCK REPAIR TABLE {flows};"
            );
        }
        s.push_str(&self.spark_map(map));
        s
    }

    /// Spark's map table.
    fn spark_map(&self, map: &str) -> String {
        // A table's location is a folder (the metastore insists): the map file's own.
        format!(
            "-- The ENI map: its folder holds map.parquet (vpcflow map --format parquet) alone.\n\
             CREATE TABLE IF NOT EXISTS {map} (\n{cols}\n) USING parquet\nLOCATION {loc};\n",
            cols = self.columns(&map_columns(), "  "),
            loc = self.dialect.lit(&folder(self.map_location)),
        )
    }

    /// Athena: Hive DDL, partitions found by projection (no crawler, no `MSCK`).
    fn athena(&self, loc: &str, table: &str, map: &str) -> String {
        let hive = Quoting::Hive;
        let mut s = String::new();
        let flows = folder(loc);
        let _ = writeln!(
            s,
            "-- Athena: the flow logs, every column the audit may read (null where the files have none).\n\
             CREATE EXTERNAL TABLE IF NOT EXISTS {} (\n{}\n)",
            table,
            self.columns(&self.flow_columns(), "  ")
        );
        if !self.partition_by.is_empty() {
            let keys: Vec<(&str, Type)> = self
                .partition_by
                .iter()
                .map(|p| (p.as_str(), Type::Int))
                .collect();
            let _ = writeln!(s, "PARTITIONED BY (\n{}\n)", self.columns(&keys, "  "));
        }
        let _ = writeln!(s, "STORED AS PARQUET\nLOCATION {}", hive.literal(&flows));
        if !self.partition_by.is_empty() {
            let mut props = vec!["'projection.enabled' = 'true'".to_string()];
            let mut template = flows.trim_end_matches('/').to_string();
            let years = format!("{},{}", self.years.0, self.years.1);
            for p in self.partition_by {
                let (range, digits) = match p.as_str() {
                    "year" => (years.as_str(), None),
                    "month" => ("1,12", Some(2)),
                    "day" => ("1,31", Some(2)),
                    _ => ("0,23", Some(2)),
                };
                props.push(format!("'projection.{p}.type' = 'integer'"));
                props.push(format!("'projection.{p}.range' = '{range}'"));
                if let Some(n) = digits {
                    props.push(format!("'projection.{p}.digits' = '{n}'"));
                }
                let _ = write!(template, "/{p}=${{{p}}}");
            }
            props.push(format!(
                "'storage.location.template' = {}",
                hive.literal(&format!("{template}/"))
            ));
            let _ = writeln!(s, "TBLPROPERTIES (\n  {}\n)", props.join(",\n  "));
        }
        s.push_str(";\n");
        s.push_str(&self.athena_map(map));
        s
    }

    /// Athena's map table (Hive DDL).
    fn athena_map(&self, map: &str) -> String {
        format!(
            "-- The ENI map: its folder holds map.parquet (vpcflow map --format parquet) alone.\n\
             CREATE EXTERNAL TABLE IF NOT EXISTS {} (\n{}\n)\nSTORED AS PARQUET\nLOCATION {};\n",
            map,
            self.columns(&map_columns(), "  "),
            Quoting::Hive.literal(&folder(self.map_location))
        )
    }
}
