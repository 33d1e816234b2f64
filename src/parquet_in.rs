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
//!
//! A hostile or damaged file gets what a hostile text file gets, and never a silent
//! null: the footer is checked before the parquet crate trusts it (row counts against
//! the columns' value counts, sizes and offsets inside the file, no column chunk larger
//! than rows under `--max-line-bytes` could be), and what the crate still panics on is
//! caught at the unit as a damaged file. Text is read in place, a dictionary's values
//! once however many rows repeat them; a value that is not UTF-8 rejects its row, and a
//! row whose values add up to more than `--max-line-bytes` is rejected as a long line.
//! A column of a type that cannot hold a field (a struct, a list, a map) makes the file
//! unreadable, naming the column.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, BooleanArray, FixedSizeBinaryBuilder,
    Int32Array, Int64Array, LargeBinaryArray, LargeStringArray, StringArray, StringBuilder,
    StringDictionaryBuilder, StringViewArray,
};
use arrow::buffer::NullBuffer;
use arrow::compute::CastOptions;
use arrow::compute::{
    can_cast_types, cast, cast_with_options, concat_batches, filter_record_batch,
};
use arrow::datatypes::{DataType, Int32Type, Int64Type, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use crate::error::{Excerpt, FieldProblem, FileError, Reject, RejectKind};
use crate::format::{Kind, Layout};
use crate::parse::BATCH_BYTES;
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

/// A file's footer, checked before anything else is read (see [`check_footer`]).
fn footer(file: &File) -> Result<ParquetMetaData, String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(file)
        .map_err(|e| e.to_string())?;
    check_footer(&meta, len)?;
    Ok(meta)
}

/// The footer with its page index, which lets a range of rows that cuts a row group
/// skip the pages of the rows outside it.
fn with_page_index(file: &File, meta: &ParquetMetaData) -> Result<ParquetMetaData, String> {
    let mut reader = ParquetMetaDataReader::new_with_metadata(meta.clone())
        .with_page_index_policy(PageIndexPolicy::Optional);
    reader
        .read_page_indexes(file)
        .and_then(|_| reader.finish())
        .map_err(|e| e.to_string())
}

/// What a footer says about its row groups, checked against itself and the file's
/// length: row counts that are not negative and agree with every flat column's value
/// count, and column chunks and page indexes that lie inside the file. A footer that
/// fails is damage, said before the parquet crate trusts it (a wrong count would read
/// no rows; a negative size panics inside the crate).
fn check_footer(meta: &ParquetMetaData, file_len: u64) -> Result<(), String> {
    let inside = |what: &dyn Fn() -> String, offset: i64, length: i64| {
        let fits =
            offset >= 0 && length >= 0 && (offset as u64).saturating_add(length as u64) <= file_len;
        match fits {
            true => Ok(()),
            false => Err(format!(
                "the footer is damaged: {} lies outside the file (offset {offset}, {length} \
                 bytes, in a file of {file_len} bytes)",
                what()
            )),
        }
    };
    for (i, g) in meta.row_groups().iter().enumerate() {
        let rows = g.num_rows();
        if rows < 0 {
            return Err(format!(
                "the footer is damaged: row group {i} claims {rows} rows"
            ));
        }
        for c in g.columns() {
            let at = || format!("row group {i}, column {}", c.column_path().string());
            if c.uncompressed_size() < 0 {
                return Err(format!(
                    "the footer is damaged: {} claims {} bytes",
                    at(),
                    c.uncompressed_size()
                ));
            }
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            inside(&at, start, c.compressed_size())?;
            if let (Some(o), Some(l)) = (c.column_index_offset(), c.column_index_length()) {
                inside(&|| format!("{}'s column index", at()), o, l.into())?;
            }
            if let (Some(o), Some(l)) = (c.offset_index_offset(), c.offset_index_length()) {
                inside(&|| format!("{}'s offset index", at()), o, l.into())?;
            }
            if c.column_descr().max_rep_level() == 0 && c.num_values() != rows {
                return Err(format!(
                    "the footer is damaged: row group {i} claims {rows} rows, but its column \
                     {} holds {} values",
                    c.column_path().string(),
                    c.num_values()
                ));
            }
        }
    }
    Ok(())
}

/// Checks that no column chunk read (`roots`: the file's top-level columns read) is
/// larger, uncompressed, than its rows could be with every row under `max_line` bytes
/// (`--max-line-bytes`): such a chunk holds a value no line could, and inflating it
/// would take memory out of all proportion to the file.
fn check_sizes(meta: &ParquetMetaData, roots: &[usize], max_line: usize) -> Result<(), String> {
    let schema = meta.file_metadata().schema_descr();
    for (i, g) in meta.row_groups().iter().enumerate() {
        let rows = g.num_rows().max(0) as u64;
        let most = (rows + 1)
            .saturating_mul(max_line as u64)
            .saturating_add(1 << 20);
        for (leaf, c) in g.columns().iter().enumerate() {
            let size = c.uncompressed_size().max(0) as u64;
            if size > most && roots.contains(&schema.get_column_root_idx(leaf)) {
                return Err(format!(
                    "row group {i}, column {}, holds {size} bytes uncompressed for {rows} rows: \
                     more than rows of at most {max_line} bytes (--max-line-bytes) could hold",
                    c.column_path().string()
                ));
            }
        }
    }
    Ok(())
}

/// Runs `f`, turning a panic inside it into an error with the panic's message, printed
/// by no one: the parquet crate still panics on some damaged files, and a damaged file
/// is an input error, not a crash. Only the crate's calls are run this way.
fn catching<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    thread_local! {
        static CATCHING: Cell<bool> = const { Cell::new(false) };
        static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown failure".to_string());
                CAUGHT.with(|c| *c.borrow_mut() = Some(message));
            } else {
                previous(info)
            }
        }));
    });
    let was = CATCHING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(was));
    result.unwrap_or_else(|_| {
        let message = CAUGHT.with(|c| c.borrow_mut().take());
        Err(format!(
            "the Parquet reader failed on it: {}",
            message.unwrap_or_else(|| "unknown failure".to_string())
        ))
    })
}

/// How a Parquet file splits into units of rows (see [`row_units`]).
pub struct RowUnits {
    /// `[first, end)` row numbers of each unit.
    pub ranges: Vec<(u64, u64)>,
    pub layout: Layout,
    /// The file's footer, checked, for the units to share.
    pub footer: Arc<ParquetMetaData>,
}

/// Units of rows, as `[first, end)` row numbers of the file, about `chunk` compressed
/// bytes each: small row groups are merged with the next ones while they stay under
/// `chunk`, and a large one (an engine-sized row group of 128 MB) is cut into row
/// ranges that are read through the page index, so that one file is still read in
/// parallel; `None` for a file that is not readable Parquet (it is then read whole and
/// reports its own error) or that makes one unit.
pub fn row_units(path: &Path, chunk: u64) -> Option<RowUnits> {
    let meta = catching(|| {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let meta = footer(&file)?;
        ArrowReaderMetadata::try_new(Arc::new(meta), ArrowReaderOptions::new())
            .map_err(|e| e.to_string())
    })
    .ok()?;
    let layout = Layout::new(flow_columns(meta.schema()).iter().map(|(_, n)| n.as_str())).ok()?;
    let chunk = chunk.max(1);
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    // Bytes of the last range, when it may take more row groups.
    let mut open: Option<u64> = None;
    let mut row = 0u64;
    for g in meta.metadata().row_groups() {
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
    (ranges.len() > 1).then(|| RowUnits {
        ranges,
        layout,
        footer: meta.metadata().clone(),
    })
}

/// A unit opened for reading: the reader of its rows and columns, the file's layout,
/// and (layout column, file column) of the columns read, in order.
struct Opened {
    reader: ParquetRecordBatchReader,
    layout: Arc<Layout>,
    wanted: Vec<(usize, usize)>,
}

/// Opens the rows `rows` of a Parquet file, projected to the columns `options` asks
/// for, after checking its footer (read here for a whole file), its columns' types and
/// sizes.
fn open(path: &Path, rows: Option<RowRange>, options: &ScanOptions) -> Result<Opened, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut meta = match &rows {
        Some(r) => r.footer.clone(),
        None => Arc::new(footer(&file)?),
    };
    let rows = rows.map(|r| (r.first, r.end));
    if let Some((first, end)) = rows {
        // Whether the range starts or ends inside a row group.
        let mut at = 0u64;
        let cuts = meta.row_groups().iter().any(|g| {
            let from = at;
            at += g.num_rows().max(0) as u64;
            (from < first && first < at) || (from < end && end < at)
        });
        if cuts {
            meta = Arc::new(with_page_index(&file, &meta)?);
        }
    }
    let arrow = ArrowReaderMetadata::try_new(meta.clone(), ArrowReaderOptions::new())
        .map_err(|e| e.to_string())?;
    let schema = arrow.schema().clone();
    let columns = flow_columns(&schema);
    let layout = Layout::new(columns.iter().map(|(_, n)| n.as_str()))
        .map_err(|e| format!("its columns are not a flow-log layout: {e}"))?;
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
    for (_, i) in &wanted {
        let field = schema.field(*i);
        if !readable(field.data_type()) {
            return Err(format!(
                "its column {} is of type {}, which cannot hold a flow-log field",
                field.name(),
                field.data_type()
            ));
        }
    }
    let roots: Vec<usize> = wanted.iter().map(|(_, i)| *i).collect();
    check_sizes(&meta, &roots, options.max_line_bytes)?;
    // Text is read as views: a dictionary's value is then held once, however many rows
    // repeat it, where plain strings would copy it into every row.
    let hinted = Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| {
                let t = match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                    DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                    t => t.clone(),
                };
                f.as_ref().clone().with_data_type(t)
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    );
    let arrow = ArrowReaderMetadata::try_new(
        meta.clone(),
        ArrowReaderOptions::new().with_schema(Arc::new(hinted)),
    )
    .map_err(|e| e.to_string())?;
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
    // The page headers of the chunks read, before the crate sizes buffers from them.
    let schema_descr = meta.file_metadata().schema_descr();
    for &g in &groups {
        let group = meta.row_group(g);
        let rows = group.num_rows().max(0) as u64;
        for (leaf, c) in group.columns().iter().enumerate() {
            if roots.contains(&schema_descr.get_column_root_idx(leaf)) {
                let flat = c.column_descr().max_rep_level() == 0;
                crate::parquet_pages::check_chunk(&file, c, rows, flat)
                    .map_err(|e| format!("row group {g}, {e}"))?;
            }
        }
    }
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, arrow);
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut builder = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_batch_size(options.batch_size.max(1));
    if rows.is_some() {
        builder = builder.with_row_selection(RowSelection::from(selection));
    }
    let reader = builder.build().map_err(|e| e.to_string())?;
    Ok(Opened {
        reader,
        layout: Arc::new(layout),
        wanted,
    })
}

/// Whether a column of this type can be read as a flow-log field: text, binary (checked
/// as UTF-8 by value), any number, a dictionary of those; not a struct, list or map.
fn readable(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, values) => readable(values),
        t if t.is_nested() => false,
        t => can_cast_types(t, &DataType::Utf8),
    }
}

/// Rows of a Parquet file: `[first, end)` row numbers, and the file's footer (as
/// [`row_units`] read it, checked).
#[derive(Clone, Debug)]
pub struct RowRange {
    pub first: u64,
    pub end: u64,
    pub footer: Arc<ParquetMetaData>,
}

/// Reads the rows `rows` (all when `None`) of a Parquet file into `sink`, checked and converted to the field types, and returns the file's
/// layout. Rows are numbered from the unit's first row, as a chunk of text numbers its
/// lines: the pipeline adds the rows of the file's units before it.
pub fn scan_parquet(
    source: &Source,
    path: &Path,
    rows: Option<RowRange>,
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
    let Opened {
        mut reader,
        layout,
        wanted,
    } = match catching(|| open(path, rows.clone(), options)) {
        Ok(o) => o,
        Err(e) => {
            fail(sink, stats, e)?;
            return Ok(None);
        }
    };
    // The file's bytes count once, with its first unit; what the check for Parquet
    // read of a whole file is part of them.
    if rows.as_ref().is_none_or(|r| r.first == 0) {
        raw.store(
            std::fs::metadata(path).map_or(0, |m| m.len()),
            Ordering::Relaxed,
        );
    }
    let mut out = Coalesced::new(options.batch_size.max(1));
    let mut row = 0u64;
    loop {
        let batch = match catching(|| reader.next().transpose().map_err(|e| e.to_string())) {
            Ok(None) => break,
            Ok(Some(b)) => b,
            Err(e) => {
                out.flush(source, options, sink, stats)?;
                fail(sink, stats, format!("row {}: {e}", row + 1))?;
                break;
            }
        };
        let n = batch.num_rows() as u64;
        let (batches, rejects) = match convert(&batch, &layout, &wanted, row, options) {
            Ok(c) => c,
            Err(e) => {
                out.flush(source, options, sink, stats)?;
                fail(sink, stats, format!("row {}: {e}", row + 1))?;
                break;
            }
        };
        stats.counts.lines += n;
        stats.counts.rejected += rejects.len() as u64;
        for r in &rejects {
            sink.reject(source, r)?;
        }
        for (b, bytes) in batches {
            stats.counts.records += b.num_rows() as u64;
            out.push(b, bytes, source, options, sink, stats)?;
        }
        sink.progress(raw.load(Ordering::Relaxed));
        row += n;
    }
    out.flush(source, options, sink, stats)?;
    Ok(Some(layout))
}

/// Converted batches held until they make a batch of the scan's size: a file of tiny
/// row groups (one row each) would otherwise send the pipeline one tiny batch per
/// group, each with its fixed cost.
struct Coalesced {
    target: usize,
    held: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
}

impl Coalesced {
    fn new(target: usize) -> Coalesced {
        Coalesced {
            target,
            held: Vec::new(),
            rows: 0,
            bytes: 0,
        }
    }

    /// Takes a batch of `bytes` bytes of text, passing on what is held once it makes a
    /// batch.
    fn push(
        &mut self,
        batch: RecordBatch,
        bytes: usize,
        source: &Source,
        options: &ScanOptions,
        sink: &mut dyn ScanSink,
        stats: &mut ScanStats,
    ) -> Result<(), crate::Error> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.bytes + bytes > BATCH_BYTES {
            self.flush(source, options, sink, stats)?;
        }
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.held.push(batch);
        if self.rows >= self.target {
            self.flush(source, options, sink, stats)?;
        }
        Ok(())
    }

    /// Passes on what is held, as one batch, without the records outside the window.
    fn flush(
        &mut self,
        source: &Source,
        options: &ScanOptions,
        sink: &mut dyn ScanSink,
        stats: &mut ScanStats,
    ) -> Result<(), crate::Error> {
        let held = std::mem::take(&mut self.held);
        (self.rows, self.bytes) = (0, 0);
        let batch = match held.len() {
            0 => return Ok(()),
            1 => held.into_iter().next().expect("one batch"),
            _ => concat_batches(&held[0].schema(), &held)
                .expect("batches of one schema, under Arrow's limits"),
        };
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
        Ok(())
    }
}

/// Whether a text value stands for no value.
fn is_null_text(s: &str) -> bool {
    matches!(s, "-" | "" | "None")
}

/// Batches of converted rows, each with its bytes of text, and the rejects of a batch.
type Converted = (Vec<(RecordBatch, usize)>, Vec<Reject>);

/// One Parquet batch converted to the layout's types (`wanted`: (layout column, file
/// column) of the columns read, in order), without its invalid rows, as batches of at
/// most [`BATCH_BYTES`] of text each (with their bytes), and the rejects of the invalid
/// rows. `first_row`: the file row number before the batch's first row. A row whose
/// values add up to more than `--max-line-bytes` is rejected as a long line would be.
fn convert(
    batch: &RecordBatch,
    layout: &Layout,
    wanted: &[(usize, usize)],
    first_row: u64,
    options: &ScanOptions,
) -> Result<Converted, String> {
    let n = batch.num_rows();
    let max = options.max_line_bytes;
    let mut bad: Vec<Option<RejectKind>> = vec![None; n];
    // Each row's size as a line: its values and their separators.
    let mut size = vec![0usize; n];
    let mut columns = Vec::with_capacity(wanted.len());
    for (k, (layout_col, _)) in wanted.iter().enumerate() {
        let column = &layout.columns()[*layout_col];
        let read = Read::of(batch.column(k), column.kind)?;
        read.add_sizes(&mut size);
        columns.push((column, layout.schema().field(*layout_col).clone(), read));
    }
    for (b, s) in bad.iter_mut().zip(&size) {
        if *s > max {
            *b = Some(RejectKind::TooLong { max });
        }
    }
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(_, f, _)| f.clone())
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    let mut from = 0;
    while from < n {
        // Rows up to BATCH_BYTES of kept text, at least one.
        let (mut to, mut bytes) = (from, 0usize);
        while to < n {
            let s = if bad[to].is_none() { size[to] } else { 0 };
            if to > from && bytes + s > BATCH_BYTES {
                break;
            }
            bytes += s;
            to += 1;
        }
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|(column, _, read)| column_as(read, column.kind, &column.name, from..to, &mut bad))
            .collect();
        let converted = RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(to - from)),
        )
        .expect("columns of the layout's types, of the rows' count");
        let keep: BooleanArray = bad[from..to].iter().map(|b| Some(b.is_none())).collect();
        let kept = if keep.true_count() == to - from {
            converted
        } else {
            filter_record_batch(&converted, &keep).expect("mask of the batch's length")
        };
        out.push((kept, bytes));
        from = to;
    }
    let rejects: Vec<Reject> = bad
        .into_iter()
        .enumerate()
        .filter_map(|(i, k)| {
            k.map(|kind| Reject {
                line: first_row + i as u64 + 1,
                byte_offset: 0,
                kind,
            })
        })
        .collect();
    Ok((out, rejects))
}

/// A cell read as text: the text, or the bytes of a value that is not UTF-8.
type TextCell<'a> = Result<&'a str, &'a [u8]>;

fn utf8(bytes: &[u8]) -> TextCell<'_> {
    std::str::from_utf8(bytes).map_err(|_| bytes)
}

/// A column of text or bytes, read in place.
#[derive(Clone, Copy)]
enum Bytes<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
}

impl<'a> Bytes<'a> {
    fn of(array: &'a dyn Array) -> Option<Bytes<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => Bytes::Utf8(array.as_string()),
            DataType::LargeUtf8 => Bytes::LargeUtf8(array.as_string()),
            DataType::Utf8View => Bytes::Utf8View(array.as_string_view()),
            DataType::Binary => Bytes::Binary(array.as_binary()),
            DataType::LargeBinary => Bytes::LargeBinary(array.as_binary()),
            DataType::BinaryView => Bytes::BinaryView(array.as_binary_view()),
            _ => return None,
        })
    }

    /// The value of a valid row.
    fn at(self, row: usize) -> TextCell<'a> {
        match self {
            Bytes::Utf8(a) => Ok(a.value(row)),
            Bytes::LargeUtf8(a) => Ok(a.value(row)),
            Bytes::Utf8View(a) => Ok(a.value(row)),
            Bytes::Binary(a) => utf8(a.value(row)),
            Bytes::LargeBinary(a) => utf8(a.value(row)),
            Bytes::BinaryView(a) => utf8(a.value(row)),
        }
    }
}

/// Any readable column's cells as text: text and bytes in place, a dictionary's
/// values once (however many rows repeat them), other types (numbers) as their text.
struct Cells<'a> {
    nulls: Option<NullBuffer>,
    values: Values<'a>,
}

enum Values<'a> {
    Bytes(Bytes<'a>),
    /// A dictionary of text: each row's key, and the dictionary's values.
    Dict {
        keys: Vec<usize>,
        values: Vec<Option<TextCell<'a>>>,
    },
    /// Other types, as text.
    Owned(StringArray),
}

impl<'a> Cells<'a> {
    fn of(array: &'a ArrayRef) -> Result<Cells<'a>, String> {
        let nulls = array.logical_nulls();
        if let Some(b) = Bytes::of(array.as_ref()) {
            return Ok(Cells {
                nulls,
                values: Values::Bytes(b),
            });
        }
        if let Some(d) = array.as_any_dictionary_opt() {
            if let Some(b) = Bytes::of(d.values().as_ref()) {
                let v = d.values();
                let values = (0..v.len())
                    .map(|i| v.is_valid(i).then(|| b.at(i)))
                    .collect();
                return Ok(Cells {
                    nulls,
                    values: Values::Dict {
                        keys: d.normalized_keys(),
                        values,
                    },
                });
            }
        }
        // Numbers and other scalars: their text; a value that has none is an error,
        // never a null.
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let text = cast_with_options(array, &DataType::Utf8, &options)
            .map_err(|e| format!("column of type {}: {e}", array.data_type()))?;
        Ok(Cells {
            nulls,
            values: Values::Owned(text.as_string::<i32>().clone()),
        })
    }

    /// A row's cell; `None` for a null.
    fn get(&self, row: usize) -> Option<TextCell<'_>> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            return None;
        }
        match &self.values {
            Values::Bytes(b) => Some(b.at(row)),
            Values::Dict { keys, values } => values.get(keys[row]).copied().flatten(),
            Values::Owned(a) => Some(Ok(a.value(row))),
        }
    }

    /// A row's text: `None` for a null or a text that stands for none.
    fn text(&self, row: usize) -> Option<TextCell<'_>> {
        self.get(row)
            .filter(|c| !matches!(c, Ok(s) if is_null_text(s)))
    }
}

/// A column as read for its field: integers as numbers, anything else as text.
enum Read<'a> {
    Ints(Vec<Int>),
    Text(Cells<'a>),
}

impl<'a> Read<'a> {
    fn of(array: &'a ArrayRef, kind: Kind) -> Result<Read<'a>, String> {
        let numeric = matches!(kind, Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp);
        if numeric && array.data_type().is_integer() {
            if let Some(ints) = integers(array) {
                return Ok(Read::Ints(ints));
            }
        }
        Cells::of(array).map(Read::Text)
    }

    /// Adds each row's bytes as a line would hold them (its value and a separator).
    fn add_sizes(&self, size: &mut [usize]) {
        match self {
            Read::Ints(_) => size.iter_mut().for_each(|s| *s += 1),
            Read::Text(cells) => {
                for (row, s) in size.iter_mut().enumerate() {
                    *s += 1 + cells.get(row).map_or(0, |c| match c {
                        Ok(t) => t.len(),
                        Err(b) => b.len(),
                    });
                }
            }
        }
    }
}

/// The rows `rows` of a column as the text decoder would have built the field `name`
/// of kind `kind`; values it would reject are null, and the first problem of their row
/// is noted in `bad` (indexed by the batch's rows). Rows already bad are not read.
fn column_as(
    read: &Read,
    kind: Kind,
    name: &str,
    rows: Range<usize>,
    bad: &mut [Option<RejectKind>],
) -> ArrayRef {
    let note = |bad: &mut [Option<RejectKind>], row: usize, problem: FieldProblem, text: &[u8]| {
        if bad[row].is_none() {
            bad[row] = Some(RejectKind::Field {
                field: name.to_string(),
                problem,
                text: Excerpt::of(text),
            });
        }
    };
    match kind {
        Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp => {
            let max = match kind {
                Kind::Int32 { max } => max as u64,
                _ => i64::MAX as u64,
            };
            let mut out: Vec<Option<i64>> = Vec::with_capacity(rows.len());
            for row in rows {
                let v = match read {
                    Read::Ints(ints) => ints[row],
                    Read::Text(cells) => match cells.text(row) {
                        None => Int::Null,
                        Some(Err(b)) => {
                            note(bad, row, FieldProblem::InvalidUtf8, b);
                            Int::Null
                        }
                        Some(Ok(s)) => match s.parse::<u64>() {
                            Ok(v) => Int::Value(v.min(i64::MAX as u64) as i64),
                            Err(_) => {
                                note(bad, row, FieldProblem::NotANumber, s.as_bytes());
                                Int::Null
                            }
                        },
                    },
                };
                out.push(match v {
                    Int::Null => None,
                    Int::Value(x) if x < 0 => {
                        note(bad, row, FieldProblem::NotANumber, x.to_string().as_bytes());
                        None
                    }
                    Int::Value(x) if x as u64 > max => {
                        note(
                            bad,
                            row,
                            FieldProblem::OutOfRange { max },
                            x.to_string().as_bytes(),
                        );
                        None
                    }
                    Int::Value(x) if kind == Kind::Timestamp => {
                        let t = crate::time::unix_seconds(x);
                        if t.is_none() {
                            note(bad, row, FieldProblem::NotATime, x.to_string().as_bytes());
                        }
                        t
                    }
                    Int::Value(x) => Some(x),
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
            let Read::Text(cells) = read else {
                unreachable!("an address field is read as text")
            };
            let mut b = FixedSizeBinaryBuilder::with_capacity(rows.len(), 16);
            for row in rows {
                let cell = if bad[row].is_some() {
                    None
                } else {
                    cells.text(row)
                };
                match cell {
                    Some(Ok(s)) => match crate::net::parse_addr(s.as_bytes()) {
                        Some(a) => b.append_value(a).expect("16 bytes"),
                        None => {
                            note(bad, row, FieldProblem::NotAnAddress, s.as_bytes());
                            b.append_null();
                        }
                    },
                    Some(Err(bytes)) => {
                        note(bad, row, FieldProblem::InvalidUtf8, bytes);
                        b.append_null();
                    }
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        Kind::Dict | Kind::Str => {
            let Read::Text(cells) = read else {
                unreachable!("a text field is read as text")
            };
            let mut texts = |append: &mut dyn FnMut(Option<&str>)| {
                for row in rows.clone() {
                    let cell = if bad[row].is_some() {
                        None
                    } else {
                        cells.text(row)
                    };
                    match cell {
                        Some(Ok(s)) => append(Some(s)),
                        Some(Err(bytes)) => {
                            note(bad, row, FieldProblem::InvalidUtf8, bytes);
                            append(None);
                        }
                        None => append(None),
                    }
                }
            };
            if kind == Kind::Dict {
                let mut b = StringDictionaryBuilder::<Int32Type>::new();
                texts(&mut |v| match v {
                    Some(s) => {
                        b.append_value(s);
                    }
                    None => b.append_null(),
                });
                Arc::new(b.finish())
            } else {
                let mut b = StringBuilder::new();
                texts(&mut |v| b.append_option(v));
                Arc::new(b.finish())
            }
        }
    }
}

/// An integer cell, read from any integer or text column.
#[derive(Clone, Copy)]
enum Int {
    Null,
    Value(i64),
}

/// The cells of an integer column; `None` when it does not cast to 64-bit integers.
fn integers(array: &ArrayRef) -> Option<Vec<Int>> {
    let a = cast(array, &DataType::Int64).ok()?;
    let a = a.as_primitive::<Int64Type>();
    Some(
        (0..array.len())
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
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_crates_calls_is_an_error_with_its_message() {
        let r: Result<(), String> = catching(|| panic!("index out of bounds: 7"));
        assert_eq!(
            r,
            Err("the Parquet reader failed on it: index out of bounds: 7".to_string())
        );
        // And the hook goes on reporting panics outside it as before; a call that does
        // not panic returns its own result.
        assert_eq!(catching(|| Ok::<_, String>(3)), Ok(3));
    }

    /// 100 rows of a 1 MiB text column: 100 MiB, cut into batches of at most
    /// BATCH_BYTES of text, so that no string column nears Arrow's 2 GiB offsets.
    #[test]
    fn text_of_a_batch_is_cut_by_bytes() {
        let layout = Layout::new(["version", "note"]).unwrap();
        let value = "n".repeat((1 << 20) - 8);
        let schema = Arc::new(Schema::new(vec![
            arrow::datatypes::Field::new("version", DataType::Int32, true),
            arrow::datatypes::Field::new("note", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![2; 100])),
                Arc::new(StringArray::from(vec![value.as_str(); 100])),
            ],
        )
        .unwrap();
        let options = ScanOptions::default();
        let (out, rejects) = convert(&batch, &layout, &[(0, 0), (1, 1)], 0, &options).unwrap();
        assert!(rejects.is_empty());
        let per = BATCH_BYTES / (value.len() + 2);
        let rows: Vec<usize> = out.iter().map(|(b, _)| b.num_rows()).collect();
        assert_eq!(rows, [per, 100 - per]);
        assert!(out.iter().all(|(_, bytes)| *bytes <= BATCH_BYTES));
        let note = out[1].0.column(1).as_string::<i32>();
        assert_eq!(note.value(0), value);
    }
}
