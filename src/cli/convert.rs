//! `vpcflow convert`: every record, in input order, into one Parquet file. Columns are
//! converted to Parquet's types on the worker threads; this thread writes them.

use std::process::ExitCode;

use arrow::record_batch::RecordBatch;
use clap::Args;
use vpcflow::output::parquet::{to_output_batch, ParquetWriter};
use vpcflow::output::BatchWriter;
use vpcflow::pipeline::{self, Ordered};
use vpcflow::Error;

use super::args::{refuse_output_over_input, ReadArgs};
use super::{execute, exit_code, summarize};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    read: ReadArgs,

    /// The Parquet file to write.
    #[arg(long, short = 'o', value_name = "OUT.parquet")]
    output: String,
}

impl ConvertArgs {
    /// The output file, for messages.
    pub fn output_name(&self) -> &str {
        &self.output
    }
}

/// Converts batches to Parquet's column types on the workers.
struct ParquetTypes;

impl Ordered for ParquetTypes {
    type Out = RecordBatch;
    fn prepare(&self, batch: RecordBatch) -> Result<RecordBatch, Error> {
        Ok(to_output_batch(&batch)?)
    }
}

pub fn convert(args: ConvertArgs) -> Result<ExitCode, Error> {
    let mut config = args.read.config(false)?;
    refuse_output_over_input(&config.input.sources, "-o", &args.output)?;
    let mut writer = ParquetWriter::create(&args.output)
        .map_err(|e| Error::Usage(format!("cannot create {}: {e}", args.output)))?;
    let ran = execute(&mut config, None, |run, reporter| {
        let totals = pipeline::ordered(run, &ParquetTypes, reporter, &mut |batch| {
            Ok(writer.write(&batch)?)
        })?;
        Ok(((), totals))
    })?;
    summarize(&mut config, &ran, false)?;
    if ran.unreadable {
        // Exit 2: not a success, so whatever was at the output path stays as it was.
        eprintln!(
            "vpcflow: {} not written: an input could not be read",
            args.output
        );
    } else {
        writer.commit()?;
    }
    Ok(exit_code(ran.unreadable))
}
