//! `vpcflow convert`: every record, in input order, into one Parquet file, or into a
//! Hive-partitioned tree of them (`--partition-by`); with `--map`, with the enrichment
//! columns. Columns are converted to Parquet's types on the worker threads; this thread
//! writes them.

use std::process::ExitCode;

use arrow::record_batch::RecordBatch;
use clap::Args;
use vpcflow::output::parquet::{
    to_output_batch, ParquetWriter, PartitionedWriter, PARTITION_LEVELS,
};
use vpcflow::output::BatchWriter;
use vpcflow::pipeline::{self, Ordered};
use vpcflow::Error;

use super::args::{refuse_output_over_input, MapOpts, ReadArgs};
use super::{execute, exit_code, summarize};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    read: ReadArgs,

    #[command(flatten)]
    map: MapOpts,

    /// The Parquet file to write; with --partition-by, the directory of the tree (new or
    /// empty).
    #[arg(long, short = 'o', value_name = "OUT.parquet|DIR")]
    output: String,

    /// Write a Hive-partitioned tree (DIR/year=2026/month=11/day=01/[hour=07/]part-00000.parquet)
    /// by each record's start time (UTC), for Athena, Spark and DuckDB: year,month,day or
    /// year,month,day,hour.
    #[arg(long = "partition-by", value_name = "KEYS")]
    partition_by: Option<String>,
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

/// The number of partition levels `--partition-by` asks for.
fn levels(keys: &str) -> Result<usize, Error> {
    let keys: Vec<&str> = keys.split(',').map(str::trim).collect();
    match keys.as_slice() {
        k if k == &PARTITION_LEVELS[..3] || k == &PARTITION_LEVELS[..] => Ok(k.len()),
        _ => Err(Error::Usage(format!(
            "--partition-by: {:?} is not year,month,day or year,month,day,hour",
            keys.join(",")
        ))),
    }
}

/// Where the records go: one file, or a partitioned tree.
enum Out {
    File(Box<ParquetWriter>),
    Tree(PartitionedWriter),
}

pub fn convert(args: ConvertArgs) -> Result<ExitCode, Error> {
    let mut config = args.read.config(false)?;
    refuse_output_over_input(&config.input.sources, "-o", &args.output)?;
    let levels = args.partition_by.as_deref().map(levels).transpose()?;
    let enricher = if args.map.maps.is_empty() {
        args.map.cidrs()?;
        None
    } else {
        Some(args.map.enricher(args.read.quiet)?)
    };
    let mut out = match levels {
        None => Out::File(Box::new(ParquetWriter::create(&args.output).map_err(
            |e| Error::Usage(format!("cannot create {}: {e}", args.output)),
        )?)),
        Some(levels) => Out::Tree(
            PartitionedWriter::create(&args.output, levels)
                .map_err(|e| Error::Usage(format!("cannot write into {}: {e}", args.output)))?,
        ),
    };
    let ran = execute(&mut config, enricher.as_ref(), |run, reporter| {
        let totals = pipeline::ordered(run, &ParquetTypes, reporter, &mut |batch| {
            match &mut out {
                Out::File(w) => w.write(&batch)?,
                Out::Tree(w) => w.write(&batch)?,
            }
            Ok(())
        })?;
        Ok(((), totals))
    })?;
    summarize(&mut config, &ran, enricher.is_some())?;
    if ran.unreadable {
        // Exit 2: not a success, so whatever was at the output path stays as it was.
        eprintln!(
            "vpcflow: {} not written: an input could not be read",
            args.output
        );
    } else {
        match out {
            Out::File(w) => w.commit()?,
            Out::Tree(w) => w.commit()?,
        }
    }
    Ok(exit_code(ran.unreadable))
}
