//! Why `vpcflow sql` cannot write a query or its DDL: a table name, `--fields` or a
//! location it cannot use. Each message names the option, as the command line gave it.

use super::{NameError, REQUIRED};
use crate::format::LayoutError;

/// What a location cannot hold, in words (for `--help` and errors): control
/// characters anywhere; on DuckDB `[ ] * ?`, which `read_parquet` reads as a glob; on
/// Athena `${`, which its partition projection reads as a key.
pub const LOCATION_RULES: &str = "a location cannot hold control characters (line breaks, \
     tabs), nor for DuckDB the glob characters [ ] * ?, nor for Athena '${'";

/// What the query or the DDL cannot be written from; every kind is a usage error.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// A table name (`--flows`, `--map`) that cannot be parsed or quoted.
    #[error("--{flag}: {error}")]
    Name {
        flag: &'static str,
        error: NameError,
    },
    /// A `--fields` value that is not a layout.
    #[error("--fields: {0}")]
    Fields(LayoutError),
    /// A `--fields` value without a column the audit cannot do without.
    #[error(
        "the audit needs the flow-log columns {}; --fields has no {}",
        REQUIRED.join(", "),
        .missing.join(", ")
    )]
    MissingColumns { missing: Vec<&'static str> },
    /// A location (`--flows-location`, `--map-location`) holding what the dialect
    /// cannot be given there: the character in words, at its byte.
    #[error("{flag}: {what} (byte {at}) in {location:?}: {LOCATION_RULES}")]
    Location {
        flag: &'static str,
        what: String,
        at: usize,
        location: String,
    },
    /// A Security Lake source read from neither its files nor an existing table.
    #[error(
        "--source security-lake: give --lake-table TABLE (the lake's OCSF table, as \
         Security Lake registers it in Glue) or --flows-location PATH (the folder of its files)"
    )]
    LakeNothing,
    /// A Security Lake source over its files for Athena, whose table is Security
    /// Lake's own.
    #[error(
        "--source security-lake --dialect trino: Athena reads Security Lake's own Glue \
         table: name it with --lake-table (as amazon_security_lake_glue_db_us_east_1.\
         amazon_security_lake_table_us_east_1_vpc_flow_2_0) instead of --flows-location"
    )]
    LakeAthenaFiles,
    /// Flow-log DDL without the location of the files.
    #[error("--ddl needs --flows-location PATH")]
    NoFlowsLocation,
    /// `--lake-table` without a Security Lake source.
    #[error("--lake-table is for --source security-lake")]
    LakeTableAlone,
    /// A Security Lake source with partition keys of vpcflow convert's trees.
    #[error(
        "--source security-lake: the partitions are Security Lake's own (region, \
         accountId, eventDay); --partition-by is for trees written by vpcflow convert"
    )]
    LakePartitions,
}

impl From<SqlError> for crate::Error {
    fn from(e: SqlError) -> crate::Error {
        crate::Error::Usage(e.to_string())
    }
}
