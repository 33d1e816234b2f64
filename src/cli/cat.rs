//! `vpcflow cat`: every record, in input order, as JSON Lines or CSV. Records are
//! decoded, attributed and formatted on the worker threads; this thread writes the
//! results in input order.

use std::io::{self, Write};
use std::process::ExitCode;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use clap::{Args, ValueEnum};
use vpcflow::output::{csv, jsonl};
use vpcflow::pipeline::{self, Ordered};
use vpcflow::Error;

use super::args::{MapOpts, ReadArgs};
use super::{execute, exit_code, summarize};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CatFormat {
    Jsonl,
    Csv,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    #[command(flatten)]
    read: ReadArgs,

    #[command(flatten)]
    map: MapOpts,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CatFormat::Jsonl)]
    format: CatFormat,
}

/// Formats batches as text on the workers.
struct Text(CatFormat);

impl Ordered for Text {
    type Out = (SchemaRef, Vec<u8>);
    fn prepare(&self, batch: RecordBatch) -> Result<Self::Out, Error> {
        let mut buf = Vec::with_capacity(batch.num_rows() * 256);
        match self.0 {
            CatFormat::Jsonl => jsonl::format(&batch, &mut buf)?,
            CatFormat::Csv => csv::format_rows(&batch, &mut buf)?,
        }
        Ok((batch.schema(), buf))
    }
}

pub fn cat(args: CatArgs) -> Result<ExitCode, Error> {
    let mut config = args.read.config(true)?;
    let enricher = args.map.enricher(args.read.quiet)?;
    // Without a map, the records that carry the v7 ECS fields still show who they
    // belong to.
    let enricher = if args.map.maps.is_empty() {
        enricher.ecs_only()
    } else {
        enricher
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut header: Option<SchemaRef> = None;
    let csv_out = args.format == CatFormat::Csv;
    let ran = execute(&mut config, Some(&enricher), |run, reporter| {
        let totals =
            pipeline::ordered(run, &Text(args.format), reporter, &mut |(schema, text)| {
                // A new header row where the layout changes, as in concatenated objects.
                if csv_out
                    && header
                        .as_ref()
                        .is_none_or(|h| h.fields() != schema.fields())
                {
                    let mut line = Vec::new();
                    csv::format_header(&schema, &mut line);
                    out.write_all(&line)?;
                    header = Some(schema);
                }
                out.write_all(&text)?;
                Ok(())
            })?;
        Ok(((), totals))
    })?;
    out.flush()?;
    drop(out);
    summarize(&mut config, &ran, true)?;
    Ok(exit_code(ran.unreadable))
}
