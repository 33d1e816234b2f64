//! `vpcflow sql`: the audit compiled to one query for Spark, Trino (Athena) or DuckDB,
//! and the DDL of the tables it reads.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use vpcflow::net::Cidr;
use vpcflow::sql::{self, ddl::Ddl, Compile, Dialect, Tables};
use vpcflow::Error;

use super::args::MapOpts;
use super::audit::RuleOpts;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// Apache Spark SQL (EMR, Glue, Databricks).
    Spark,
    /// Trino, and Amazon Athena (engine version 3).
    Trino,
    /// DuckDB.
    Duckdb,
}

impl DialectArg {
    fn dialect(self) -> Dialect {
        match self {
            DialectArg::Spark => Dialect::Spark,
            DialectArg::Trino => Dialect::Trino,
            DialectArg::Duckdb => Dialect::Duckdb,
        }
    }
}

#[derive(Args, Debug)]
pub struct SqlArgs {
    #[command(flatten)]
    rules: RuleOpts,

    /// The engine the SQL is for (Athena runs trino).
    #[arg(long, value_enum)]
    dialect: DialectArg,

    /// The flow-log table: AWS's Parquet column names (vpcflow convert output, or AWS's
    /// Parquet delivery). A name is table, schema.table or catalog.schema.table, each
    /// part letters, digits and _, or quoted as "my db" or `my db`; it is quoted for
    /// the engine.
    #[arg(long, value_name = "TABLE", default_value = "flows")]
    flows: String,

    /// The ENI map table (vpcflow map --format parquet), named as --flows.
    #[arg(long, value_name = "TABLE", default_value = "eni_map")]
    map: String,

    /// The ENI map itself (any source vpcflow audit --map reads; repeatable): the policy
    /// is checked against it as vpcflow audit does (services and security groups the
    /// map has never seen are refused). The query still reads the table --map names.
    #[arg(long = "map-file", value_name = "FILE")]
    map_files: Vec<String>,

    /// The VPC's CIDR blocks (repeatable), as for audit. Default: the policy's
    /// vpc_cidrs, else the private ranges.
    #[arg(long = "vpc-cidr", value_name = "CIDR")]
    vpc_cidrs: Vec<String>,

    /// The flow-log columns the table has, as a flow log format ("version
    /// interface-id srcaddr ..." or "${version} ${interface-id} ..."); columns it lacks
    /// are read as null. Default: every field (a table made with --ddl has them all).
    #[arg(long, value_name = "FORMAT")]
    fields: Option<String>,

    /// Print the statements that create the two tables over Parquet instead of the
    /// query (needs --flows-location, or --lake-table with --source security-lake, and
    /// --map-location).
    #[arg(long)]
    ddl: bool,

    /// With --ddl: where the flow logs lie: a .parquet file, or the folder of a tree
    /// written by vpcflow convert --partition-by (s3://... for Athena). A location
    /// cannot hold control characters (line breaks, tabs), nor for DuckDB the glob
    /// characters [ ] * ?, nor for Athena '${'.
    #[arg(long, value_name = "PATH")]
    flows_location: Option<String>,

    /// With --ddl: where the ENI map lies: a .parquet file alone in its folder (Spark and
    /// Athena read the folder). It cannot hold what --flows-location cannot.
    #[arg(long, value_name = "PATH")]
    map_location: Option<String>,

    /// With --ddl: what the flow logs are. flow-logs: flow-log columns (vpcflow convert
    /// output, AWS's Parquet delivery). security-lake: Amazon Security Lake's OCSF
    /// (source version 2.0), the table --lake-table names (Athena: Security Lake's own
    /// Glue table) or the files at --flows-location, the folder of its
    /// aws/VPC_FLOW/2.0/region=/accountId=/eventDay= tree (or a folder inside it; duckdb
    /// and spark); the flow-log table --flows is then a view of it with the flow-log
    /// columns.
    #[arg(long, value_enum, default_value = "flow-logs")]
    source: SourceArg,

    /// With --ddl --source security-lake: the lake's OCSF table, named as --flows (as
    /// amazon_security_lake_glue_db_us_east_1.amazon_security_lake_table_us_east_1_vpc_flow_2_0
    /// on Athena). Alone: the table exists and the view reads it. With --flows-location:
    /// it is made over the files (duckdb: a view; spark: a table, by default
    /// security_lake_vpc_flow).
    #[arg(long, value_name = "TABLE")]
    lake_table: Option<String>,

    /// With --ddl: the partition keys of the flow-log tree, as given to convert.
    #[arg(long, value_name = "KEYS", value_delimiter = ',')]
    partition_by: Vec<String>,

    /// With --ddl --dialect trino: the years Athena's partition projection covers
    /// (FROM-TO, as 2015-2099). Default: the year= folders of a local --flows-location,
    /// else 2015-2099 (said on stderr, as partitions of other years are left out).
    #[arg(long, value_name = "FROM-TO")]
    years: Option<String>,
}

pub fn sql(args: SqlArgs) -> Result<ExitCode, Error> {
    let dialect = args.dialect.dialect();
    let tables = Tables::parse(&args.flows, &args.map).map_err(Error::from)?;
    let text = if args.ddl {
        ddl(&args, dialect, &tables)?
    } else {
        let cidrs = args
            .vpc_cidrs
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<Cidr>, _>>()
            .map_err(|e| Error::Usage(format!("--vpc-cidr: {e}")))?;
        let policy = args.rules.policy(&cidrs)?;
        let checks = args.rules.checks(&policy)?;
        if !args.map_files.is_empty() {
            let map = MapOpts {
                maps: args.map_files.clone(),
                vpc_cidrs: Vec::new(),
            }
            .load_as("--map-file", false)?;
            policy
                .check_against(args.rules.policy_name(), &map)
                .map_err(|e| Error::Usage(format!("--policy: {e}")))?;
        }
        let ranges = args.rules.ranges()?;
        let columns = match &args.fields {
            Some(f) => Some(sql::columns_of_fields(f).map_err(Error::from)?),
            None => None,
        };
        Compile {
            policy: &policy,
            checks,
            aws_ranges: ranges.as_ref(),
            dialect,
            tables,
            columns,
        }
        .query()
        .map_err(Error::from)?
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with(";\n") {
        out.write_all(b";\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn ddl(args: &SqlArgs, dialect: Dialect, tables: &Tables) -> Result<String, Error> {
    let need = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| Error::Usage(format!("--ddl needs --{name} PATH")))
    };
    // A Security Lake source may read an existing table instead (said by the DDL).
    let flows = match args.source {
        SourceArg::SecurityLake => args.flows_location.clone(),
        SourceArg::FlowLogs => Some(need(&args.flows_location, "flows-location")?),
    };
    let lake_table = args
        .lake_table
        .as_deref()
        .map(|t| {
            sql::TableName::parse(t).map_err(|error| {
                Error::from(sql::SqlError::Name {
                    flag: "lake-table",
                    error,
                })
            })
        })
        .transpose()?;
    let map = need(&args.map_location, "map-location")?;
    let keys = ["year", "month", "day", "hour"];
    let expected: Vec<&str> = keys[..args.partition_by.len().min(4)].to_vec();
    if ![0, 3, 4].contains(&args.partition_by.len()) || args.partition_by != expected {
        return Err(Error::Usage(format!(
            "--partition-by: {:?} is not year,month,day or year,month,day,hour (as given to convert)",
            args.partition_by.join(",")
        )));
    }
    let columns = match &args.fields {
        Some(f) => {
            let have = sql::columns_of_fields(f).map_err(Error::from)?;
            sql::all_columns()
                .into_iter()
                .filter(|(c, _)| have.contains(c))
                .collect()
        }
        None => sql::all_columns(),
    };
    let projected = dialect == Dialect::Trino && !args.partition_by.is_empty();
    let years = match &args.years {
        Some(y) => years(y)?,
        None => {
            let local = flows
                .as_deref()
                .filter(|f| !f.contains("://"))
                .and_then(|f| sql::ddl::partition_years(std::path::Path::new(f)));
            if local.is_none() && projected {
                let (from, to) = sql::ddl::DEFAULT_YEARS;
                eprintln!(
                    "vpcflow: warning: Athena's partition projection covers the years \
                     {from}-{to}: partitions of years before {from} or after {to} are left out \
                     (give --years FROM-TO to cover them)"
                );
            }
            local.unwrap_or(sql::ddl::DEFAULT_YEARS)
        }
    };
    Ddl {
        source: match args.source {
            SourceArg::FlowLogs => sql::ddl::Source::FlowLogs,
            SourceArg::SecurityLake => sql::ddl::Source::SecurityLake,
        },
        dialect,
        tables,
        flows_location: flows.as_deref(),
        lake_table: lake_table.as_ref(),
        map_location: &map,
        partition_by: &args.partition_by,
        columns: &columns,
        years,
    }
    .statements()
    .map_err(Error::from)
}

/// `--source`: what the flow-log table is over.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SourceArg {
    FlowLogs,
    SecurityLake,
}

/// `--years FROM-TO`: two years of four digits, the first not after the second.
fn years(text: &str) -> Result<(u16, u16), Error> {
    let year = |y: &str| {
        (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
            .then(|| y.parse::<u16>().ok())
            .flatten()
    };
    match text.split_once('-').map(|(a, b)| (year(a), year(b))) {
        Some((Some(from), Some(to))) if from <= to => Ok((from, to)),
        _ => Err(Error::Usage(format!(
            "--years: {text:?} is not FROM-TO, two years of four digits, the first not \
             after the second (as 2015-2099)"
        ))),
    }
}
