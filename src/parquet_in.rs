//! Parquet flow logs as input: AWS's Parquet delivery (`.log.parquet`, GZIP pages) and
//! the files `vpcflow convert` writes, read into the same batches as the text they came
//! from, so every subcommand gives the same answers on either.
//!
//! A file's columns become a [`Layout`] as a header line of the same names would: AWS's
//! column names are the field names with `_` for `-`, and a column the tool does not
//! know is kept as text. Values are checked as the text decoder checks fields: a port
//! above 65535, a negative count, an address that is not one, a time outside the years
//! 2000 to 2200 reject the row, with its 1-based row number as the line and the same
//! messages. Parquet's own types may differ from AWS's (INT64 protocols, numbers stored
//! as strings by other writers): any integer or text column is read as the field's type.
//! Nulls, and the texts `-`, `` and `None` (pandas' writing of a missing value), are
//! `-`: null. Only the columns a command reads are read, and so checked: a row whose bad
//! value is in a column the command does not need is kept (text is checked whole, as a
//! line is read whole). `vpcflow convert` writes only valid values, and AWS's files
//! hold nothing else, so the difference shows only on files from other writers.
//!
//! The enrichment columns of `convert --map` output (`task_arn`, `peer_addr`, ...) are
//! not read: attribution is computed again from the map, as for text. Columns whose
//! names are not field names (a pandas index, `__index_level_0__`) are left out too.
//!
//! Files are read in parallel by rows: [`row_units`] splits a file into units of whole
//! small row groups or of parts of large ones, and [`scan_parquet`] reads one unit,
//! projected to the columns the job needs.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryBuilder, Int32Array, Int64Array, StringArray,
};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;

use crate::error::{Excerpt, FieldProblem, FileError, Reject, RejectKind};
use crate::format::{Kind, Layout};
use crate::scan::{ScanOptions, ScanSink, ScanStats};
use crate::source::Source;

/// The columns of a Parquet file that are read, as (index in the file, field name).
fn flow_columns(schema: &Schema) -> Vec<(usize, String)> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let name = f.name().to_ascii_lowercase();
            let enrichment = crate::enrich::join::ENRICHMENT_COLUMNS.contains(&name.as_str());
            (crate::format::is_field_name(&name) && !enrichment).then_some((i, name))
        })
        .collect()
}

/// Units of rows, as `[first, end)` row numbers of the file, about `chunk` compressed
/// bytes each: small row groups are merged with the next ones while they stay under
/// `chunk`, and a large one (an engine-sized row group of 128 MB) is cut into row
/// ranges that are read through the page index, so that one file is still read in
/// parallel. Also the file's layout; `None` for a file that is not readable Parquet (it
/// is then read whole and reports its own error) or that makes one unit.
pub fn row_units(path: &Path, chunk: u64) -> Option<(Vec<(u64, u64)>, Layout)> {
    let file = File::open(path).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    let layout = Layout::new(
        flow_columns(builder.schema())
            .iter()
            .map(|(_, n)| n.as_str()),
    )
    .ok()?;
    let chunk = chunk.max(1);
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    // Bytes of the last range, when it may take more row groups.
    let mut open: Option<u64> = None;
    let mut row = 0u64;
    for g in builder.metadata().row_groups() {
        let (rows, size) = (
            g.num_rows().max(0) as u64,
            g.compressed_size().max(0) as u64,
        );
        let end = row + rows;
        match (ranges.last_mut(), open) {
            (Some(last), Some(bytes)) if bytes + size < chunk => {
                last.1 = end;
                open = Some(bytes + size);
            }
            _ if size >= chunk && rows > 1 => {
                let pieces = size.div_ceil(chunk).min(rows);
                let per = rows.div_ceil(pieces);
                let mut from = row;
                while from < end {
                    ranges.push((from, (from + per).min(end)));
                    from += per;
                }
                open = None;
            }
            _ => {
                ranges.push((row, end));
                open = Some(size);
            }
        }
        row = end;
    }
    (ranges.len() > 1).then_some((ranges, layout))
}

/// Reads the rows `rows` (`[first, end)` row numbers; all when `None`) of a Parquet
/// file into `sink`, checked and converted to the field types, and returns the file's
/// layout. Rows are numbered from the unit's first row, as a chunk of text numbers its
/// lines: the pipeline adds the rows of the file's units before it.
pub fn scan_parquet(
    source: &Source,
    path: &Path,
    rows: Option<(u64, u64)>,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
    stats: &mut ScanStats,
    raw: &AtomicU64,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let fail = |sink: &mut dyn ScanSink, stats: &mut ScanStats, e: String| {
        stats.files_failed += 1;
        sink.file_error(
            source,
            FileError::Unreadable(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not readable Parquet: {e}"),
            )),
        )
    };
    // The page index lets a range of rows skip the pages of the rows outside it.
    let opened = File::open(path).map_err(|e| e.to_string()).and_then(|f| {
        let policy = match rows {
            Some(_) => PageIndexPolicy::Optional,
            None => PageIndexPolicy::Skip,
        };
        let options = ArrowReaderOptions::new().with_page_index_policy(policy);
        ParquetRecordBatchReaderBuilder::try_new_with_options(f, options).map_err(|e| e.to_string())
    });
    let builder = match opened {
        Ok(b) => b,
        Err(e) => {
            fail(sink, stats, e)?;
            return Ok(None);
        }
    };
    let columns = flow_columns(builder.schema());
    let layout = match Layout::new(columns.iter().map(|(_, n)| n.as_str())) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            fail(
                sink,
                stats,
                format!("its columns are not a flow-log layout: {e}"),
            )?;
            return Ok(None);
        }
    };
    let meta = builder.metadata().clone();
    let total: u64 = meta
        .row_groups()
        .iter()
        .map(|g| g.num_rows().max(0) as u64)
        .sum();
    let (first_row, end_row) = rows.unwrap_or((0, total));
    // The row groups the rows lie in, and which of their rows to read.
    let mut groups = Vec::new();
    let mut selection: Vec<RowSelector> = Vec::new();
    let mut at = 0u64;
    for (i, g) in meta.row_groups().iter().enumerate() {
        let end = at + g.num_rows().max(0) as u64;
        if end > first_row && at < end_row {
            groups.push(i);
            let (from, to) = (first_row.max(at), end_row.min(end));
            for s in [
                RowSelector::skip((from - at) as usize),
                RowSelector::select((to - from) as usize),
                RowSelector::skip((end - to) as usize),
            ] {
                if s.row_count > 0 {
                    selection.push(s);
                }
            }
        }
        at = end;
    }
    if first_row == 0 {
        raw.fetch_add(
            std::fs::metadata(path).map_or(0, |m| m.len()),
            Ordering::Relaxed,
        );
    }
    // The columns to read: the projection's, in the file's order.
    let wanted: Vec<(usize, usize)> = columns
        .iter()
        .enumerate()
        .filter(|(_, (_, name))| {
            let arrow_name = crate::format::column_name(name);
            options
                .projection
                .as_ref()
                .is_none_or(|p| p.contains(&arrow_name))
        })
        .map(|(k, (i, _))| (k, *i))
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().map(|(_, i)| *i));
    let mut builder = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_batch_size(options.batch_size.max(1));
    if rows.is_some() {
        builder = builder.with_row_selection(RowSelection::from(selection));
    }
    let reader = builder.build();
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            fail(sink, stats, e.to_string())?;
            return Ok(None);
        }
    };
    let mut row = 0u64;
    loop {
        let batch = match reader.next() {
            None => break,
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                fail(sink, stats, format!("row {}: {e}", row + 1))?;
                break;
            }
        };
        let n = batch.num_rows() as u64;
        let (batch, rejects) = convert(&batch, &layout, &wanted, row);
        stats.counts.lines += n;
        stats.counts.rejected += rejects.len() as u64;
        stats.counts.records += batch.num_rows() as u64;
        for r in &rejects {
            sink.reject(source, r)?;
        }
        let batch = if options.since.is_some() || options.until.is_some() {
            let kept = crate::scan::window(&batch, options.since, options.until);
            stats.outside_window += (batch.num_rows() - kept.num_rows()) as u64;
            kept
        } else {
            batch
        };
        if batch.num_rows() > 0 {
            sink.batch(source, batch)?;
        }
        sink.progress(raw.load(Ordering::Relaxed));
        row += n;
    }
    Ok(Some(layout))
}

/// Whether a text value stands for no value.
fn is_null_text(s: &str) -> bool {
    matches!(s, "-" | "" | "None")
}

/// One Parquet batch converted to the layout's types (`wanted`: (layout column, file
/// column) of the columns read, in order), without its invalid rows, and the rejects of
/// those. `first_row`: the file row number before the batch's first row.
fn convert(
    batch: &RecordBatch,
    layout: &Layout,
    wanted: &[(usize, usize)],
    first_row: u64,
) -> (RecordBatch, Vec<Reject>) {
    let n = batch.num_rows();
    let mut bad: Vec<Option<RejectKind>> = vec![None; n];
    let mut fields = Vec::with_capacity(wanted.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(wanted.len());
    for (k, (layout_col, _)) in wanted.iter().enumerate() {
        let column = &layout.columns()[*layout_col];
        let field = layout.schema().field(*layout_col).clone();
        let a = column_as(batch.column(k), column.kind, &column.name, &mut bad);
        fields.push(field);
        arrays.push(a);
    }
    let schema = Arc::new(Schema::new(fields));
    let converted = RecordBatch::try_new_with_options(
        schema,
        arrays,
        &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(n)),
    )
    .expect("columns of the layout's types, of the batch's length");
    let rejects: Vec<Reject> = bad
        .iter()
        .enumerate()
        .filter_map(|(i, k)| {
            k.clone().map(|kind| Reject {
                line: first_row + i as u64 + 1,
                byte_offset: 0,
                kind,
            })
        })
        .collect();
    if rejects.is_empty() {
        return (converted, rejects);
    }
    let keep: BooleanArray = bad.iter().map(|b| Some(b.is_none())).collect();
    let kept = filter_record_batch(&converted, &keep).expect("mask of the batch's length");
    (kept, rejects)
}

/// A column as the text decoder would have built the field `name` of kind `kind`;
/// values it would reject are null, and the first problem of their row is noted in
/// `bad`.
fn column_as(array: &ArrayRef, kind: Kind, name: &str, bad: &mut [Option<RejectKind>]) -> ArrayRef {
    let mut note = |row: usize, problem: FieldProblem, text: String| {
        if bad[row].is_none() {
            bad[row] = Some(RejectKind::Field {
                field: name.to_string(),
                problem,
                text: Excerpt::of(text.as_bytes()),
            });
        }
    };
    match kind {
        Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp => {
            let max = match kind {
                Kind::Int32 { max } => max as u64,
                _ => i64::MAX as u64,
            };
            let values = integers(array);
            let mut out: Vec<Option<i64>> = Vec::with_capacity(values.len());
            for (row, v) in values.into_iter().enumerate() {
                out.push(match v {
                    Int::Null => None,
                    Int::Value(x) if x < 0 => {
                        note(row, FieldProblem::NotANumber, x.to_string());
                        None
                    }
                    Int::Value(x) if x as u64 > max => {
                        note(row, FieldProblem::OutOfRange { max }, x.to_string());
                        None
                    }
                    Int::Value(x) if kind == Kind::Timestamp => {
                        let t = crate::time::unix_seconds(x);
                        if t.is_none() {
                            note(row, FieldProblem::NotATime, x.to_string());
                        }
                        t
                    }
                    Int::Value(x) => Some(x),
                    Int::Text(t) => {
                        note(row, FieldProblem::NotANumber, t);
                        None
                    }
                });
            }
            match kind {
                Kind::Int32 { .. } => Arc::new(
                    out.into_iter()
                        .map(|v| v.map(|x| x as i32))
                        .collect::<Int32Array>(),
                ),
                _ => Arc::new(out.into_iter().collect::<Int64Array>()),
            }
        }
        Kind::Addr => {
            let text = texts(array);
            let mut b = FixedSizeBinaryBuilder::with_capacity(text.len(), 16);
            for row in 0..text.len() {
                match text.is_valid(row).then(|| text.value(row)) {
                    Some(s) if !is_null_text(s) => match crate::parse::parse_addr(s.as_bytes()) {
                        Some(a) => b.append_value(a).expect("16 bytes"),
                        None => {
                            note(row, FieldProblem::NotAnAddress, s.to_string());
                            b.append_null();
                        }
                    },
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        Kind::Dict | Kind::Str => {
            let text = texts(array);
            let nulled: StringArray = (0..text.len())
                .map(|r| (text.is_valid(r) && !is_null_text(text.value(r))).then(|| text.value(r)))
                .collect();
            let t = kind.data_type();
            if t == DataType::Utf8 {
                Arc::new(nulled)
            } else {
                cast(&nulled, &t).expect("text casts to a dictionary of text")
            }
        }
    }
}

/// An integer cell, read from any integer or text column.
enum Int {
    Null,
    Value(i64),
    /// Text that is not an integer.
    Text(String),
}

fn integers(array: &ArrayRef) -> Vec<Int> {
    let n = array.len();
    if array.data_type().is_integer() {
        if let Ok(a) = cast(array, &DataType::Int64) {
            let a = a
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("cast to Int64");
            return (0..n)
                .map(|r| {
                    if a.is_valid(r) {
                        Int::Value(a.value(r))
                    } else if array.is_valid(r) {
                        // A UInt64 beyond i64: out of every field's range.
                        Int::Value(i64::MAX)
                    } else {
                        Int::Null
                    }
                })
                .collect();
        }
    }
    let text = texts(array);
    (0..n)
        .map(|r| {
            if !text.is_valid(r) || is_null_text(text.value(r)) {
                return Int::Null;
            }
            let s = text.value(r);
            match s.parse::<u64>() {
                Ok(v) => Int::Value(v.min(i64::MAX as u64) as i64),
                Err(_) => Int::Text(s.to_string()),
            }
        })
        .collect()
}

/// Any column as text (integers as their decimal digits); a column that cannot be
/// read as text is all null.
fn texts(array: &ArrayRef) -> StringArray {
    cast(array, &DataType::Utf8)
        .ok()
        .and_then(|a| a.as_any().downcast_ref::<StringArray>().cloned())
        .unwrap_or_else(|| StringArray::new_null(array.len()))
}
