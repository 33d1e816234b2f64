//! `vpcflow convert`: every record, in input order, into one Parquet file, or into a
//! Hive-partitioned tree of them (`--partition-by`); with `--map`, with the enrichment
//! columns. Columns are converted to Parquet's types on the worker threads; this thread
//! writes them.

use std::process::ExitCode;

use arrow::record_batch::RecordBatch;
use clap::Args;
use vpcflow::output::parquet::{
    to_output_batch, ParquetWriter, PartitionedWriter, TooManyPartitions, MANY_PARTITIONS,
    MAX_PARTITIONS, PARTITION_LEVELS,
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
    /// year,month,day,hour. Past 1000 partitions (each a folder with at least one file,
    /// slow for engines to list and read when small) a warning says how many and how
    /// many records each holds on average.
    #[arg(long = "partition-by", value_name = "KEYS")]
    partition_by: Option<String>,

    /// With --partition-by: stop, writing nothing, when the records would make more
    /// than N partitions (exit 2).
    #[arg(long = "max-partitions", value_name = "N", default_value_t = MAX_PARTITIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_partitions: usize,
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

/// A coarser `--partition-by` than `levels` levels, if there is one.
fn coarser(levels: usize) -> String {
    match levels {
        4 => "a coarser --partition-by year,month,day would make fewer".to_string(),
        _ => "year,month,day is the coarsest --partition-by: check the records' start \
              times, or write one file without --partition-by"
            .to_string(),
    }
}

/// What a tree's partitions hold, for warnings: "1001 partitions (year=2026/month=11/day=01
/// to year=2026/month=12/day=31) for 2002 records, 2.0 records per partition on average".
fn partition_words(w: &PartitionedWriter) -> String {
    let span = w
        .span()
        .map(|(a, b)| format!(" ({a} to {b})"))
        .unwrap_or_default();
    format!(
        "{} partitions{span} for {} records, {:.1} records per partition on average",
        w.partitions(),
        w.records(),
        w.records() as f64 / w.partitions().max(1) as f64
    )
}

/// The message of a write that would pass `--max-partitions`.
fn too_many(e: &std::io::Error, keys: &str, levels: usize) -> Option<Error> {
    let t = e.get_ref()?.downcast_ref::<TooManyPartitions>()?;
    Some(Error::Usage(format!(
        "--partition-by {keys}: the records make more than {} partitions \
         (--max-partitions {}; the first {} held {} records); nothing was written. {}, \
         or give a larger --max-partitions",
        t.max,
        t.max,
        t.max,
        t.records,
        capitalized(&coarser(levels))
    )))
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
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
                .map_err(|e| Error::Usage(format!("cannot write into {}: {e}", args.output)))?
                .max_partitions(args.max_partitions),
        ),
    };
    let keys = args.partition_by.as_deref().unwrap_or_default().trim();
    let ran = execute(&mut config, enricher.as_ref(), |run, reporter| {
        let warn = reporter.warner();
        let mut warned = false;
        let totals = pipeline::ordered(run, &ParquetTypes, reporter, &mut |batch| {
            match &mut out {
                Out::File(w) => w.write(&batch)?,
                Out::Tree(w) => {
                    let levels = levels.unwrap_or_default();
                    w.write(&batch)
                        .map_err(|e| too_many(&e, keys, levels).unwrap_or(Error::Io(e)))?;
                    // As soon as the count passes the threshold, not after every file
                    // is written.
                    if !warned && w.partitions() > MANY_PARTITIONS {
                        warned = true;
                        warn(&format!(
                            "--partition-by {keys} has made more than {MANY_PARTITIONS} \
                             partitions so far: {}; many small files are slow for engines \
                             to list and read; {}",
                            partition_words(w),
                            coarser(levels)
                        ));
                    }
                }
            }
            Ok(())
        })?;
        Ok(((), totals))
    })?;
    summarize(&mut config, &ran, enricher.is_some())?;
    if let Out::Tree(w) = &out {
        if w.partitions() > MANY_PARTITIONS {
            config.reporter.warn(&format!(
                "--partition-by {keys} wrote {} files in {}; {}",
                w.files_started(),
                partition_words(w),
                coarser(levels.unwrap_or_default())
            ));
        }
    }
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
