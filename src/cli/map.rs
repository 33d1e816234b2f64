//! `vpcflow map`: merge ENI map files into one canonical CSV.

use std::io;
use std::process::ExitCode;

use clap::Args;
use vpcflow::enrich::write_map_csv;
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
    let stdout = io::stdout();
    write_map_csv(rows, stdout.lock())?;
    Ok(ExitCode::SUCCESS)
}
