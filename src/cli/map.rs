//! `vpcflow map`: merge ENI map files into one canonical CSV, or a Parquet table.

use std::io;
use std::process::ExitCode;

use clap::Args;
use vpcflow::enrich::{map_batch, write_map_csv};
use vpcflow::output::parquet::ParquetWriter;
use vpcflow::output::BatchWriter;
use vpcflow::{time, Error};

use super::args::MapOpts;

#[derive(Args, Debug)]
pub struct MapArgs {
    /// Map files to merge.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,

    /// Print only the rows in force at time T (RFC 3339 or unix seconds): who held each
    /// address then.
    #[arg(long, value_name = "T")]
    at: Option<String>,

    /// Print no warnings about the map files on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Output format: the canonical CSV, or a Parquet table (valid_from/valid_to as unix
    /// seconds, null when unbounded) for Athena, Spark and DuckDB.
    #[arg(long, value_enum, default_value = "csv")]
    format: MapFormat,

    /// Write to FILE instead of standard output (required for parquet).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
enum MapFormat {
    Csv,
    Parquet,
}

pub fn map(args: MapArgs) -> Result<ExitCode, Error> {
    let at = args
        .at
        .as_deref()
        .map(|t| time::parse_window_time(t).map_err(|e| Error::Usage(format!("--at: {e}"))))
        .transpose()?;
    let opts = MapOpts {
        maps: args.files,
        ..MapOpts::default()
    };
    let map = opts.load(args.quiet)?;
    let rows = map
        .rows()
        .iter()
        .filter(|r| at.is_none_or(|t| r.holds_at(t)));
    match (args.format, &args.output) {
        (MapFormat::Parquet, None) => {
            return Err(Error::Usage(
                "--format parquet needs -o FILE (Parquet is not written to a terminal or pipe)"
                    .into(),
            ))
        }
        (MapFormat::Parquet, Some(path)) => {
            let mut w = ParquetWriter::create(path)
                .map_err(|e| Error::Usage(format!("cannot create {path}: {e}")))?;
            w.write(&map_batch(rows))?;
            w.commit()?;
        }
        (MapFormat::Csv, Some(path)) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Error::Usage(format!("cannot create {path}: {e}")))?;
            write_map_csv(rows, io::BufWriter::new(file))?;
        }
        (MapFormat::Csv, None) => {
            let stdout = io::stdout();
            write_map_csv(rows, stdout.lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
