//! The Parquet form: Parquet flow logs as input, AWS's Parquet delivery (`.log.parquet`, GZIP pages) and
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
//! The files of the form, by job: `footer.rs` reads and checks the footer, `pages.rs`
//! the page headers, `open.rs` opens a unit (layout, projection, row selection),
//! `cells.rs` reads a column's cells, `convert.rs` turns a batch into the field types.
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
//!
//! A file whose footer says it is Security Lake's OCSF (a `class_uid` column, a
//! `src_endpoint` struct) is read by `ocsf.rs`, whole, with the same checks.

use std::cell::{Cell, RefCell};
use std::io;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use arrow::compute::concat_batches;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::ParquetMetaData;

use super::{Form, Out, ScanOptions, ScanSink, ScanStats, Sniffed, Split, Unit};
use crate::error::FileError;
use crate::format::{Layout, LayoutError};
use crate::parse::BATCH_BYTES;
use crate::source::Source;

mod cells;
mod convert;
mod footer;
pub mod ocsf;
mod open;
mod pages;

pub use footer::FooterError;
pub use pages::{PageError, PageProblem};

/// Why a Parquet file, or a unit of it, cannot be read; said after "not readable
/// Parquet: " ([`NotReadable`]).
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    #[error("the footer is damaged: {0}")]
    Footer(#[from] FooterError),
    #[error(
        "row group {group}, column {column}, holds {size} bytes uncompressed for {rows} rows: \
         more than rows of at most {max_line} bytes (--max-line-bytes) could hold"
    )]
    TooLarge {
        group: usize,
        column: String,
        size: u64,
        rows: u64,
        max_line: usize,
    },
    #[error("row group {group}, {error}")]
    Page { group: usize, error: PageError },
    #[error("its columns are not a flow-log layout: {0}")]
    NotALayout(LayoutError),
    #[error("its column {column} is of type {data_type}, which cannot hold a flow-log field")]
    Unfit { column: String, data_type: DataType },
    #[error("column of type {data_type}: {error}")]
    Cast {
        data_type: DataType,
        error: ArrowError,
    },
    /// The parquet crate panicked (it is caught at the unit).
    #[error("the Parquet reader failed on it: {0}")]
    Panicked(String),
    /// An error while reading the rows after `row` - 1 of a unit.
    #[error("row {row}: {error}")]
    AtRow { row: u64, error: Box<ParquetError> },
}

/// A file error's words for a file that is not readable Parquet.
#[derive(Debug, thiserror::Error)]
#[error("not readable Parquet: {0}")]
pub struct NotReadable(pub ParquetError);

/// The Parquet form (see the module's documentation).
pub struct Parquet;

/// A Parquet unit holds about a quarter of a text chunk's bytes, compressed: its rows
/// are about as many as a text chunk's lines (flow logs compress about tenfold), in
/// units small enough to spread an engine-sized row group over the cores.
const CHUNK_DIVISOR: u64 = 4;

impl Form for Parquet {
    /// Into ranges of rows (see [`row_units`]).
    fn split(path: &Path, _head: &[u8], chunk: u64) -> Option<Split> {
        let units = row_units(path, chunk / CHUNK_DIVISOR)?;
        Some(Split::Rows {
            ranges: units.ranges,
            layout: units.layout,
            footer: units.footer,
        })
    }

    fn read(
        unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error> {
        match (&unit.source, input.stream) {
            // A file is read by path, not from the stream its sniff opened.
            (Source::File(path), _) => match std::fs::File::open(path) {
                Ok(file) => read_body(unit, file, options, out, raw),
                Err(e) => {
                    out.file_error(FileError::Unreadable(e))?;
                    Ok(None)
                }
            },
            // An object is held whole (one per worker): its footer is at its end.
            (Source::S3(_), Some(mut stream)) => {
                let mut body = Vec::new();
                match io::Read::read_to_end(&mut stream, &mut body) {
                    Ok(_) => read_body(unit, bytes::Bytes::from(body), options, out, raw),
                    Err(e) => {
                        out.file_error(FileError::Unreadable(e))?;
                        Ok(None)
                    }
                }
            }
            _ => {
                out.file_error(FileError::Unreadable(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "this is Parquet, which is read from a file, not from standard input: \
                     give the file's path",
                )))?;
                Ok(None)
            }
        }
    }
}

/// Reads a unit from its file's or object's bytes: a whole one may be Security Lake's
/// OCSF, told from its footer (a file of flow-log columns split into rows is not).
fn read_body(
    unit: &Unit,
    body: impl open::Body,
    options: &ScanOptions,
    out: &mut Out,
    raw: &Arc<AtomicU64>,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let mut footer = unit.footer.clone();
    if unit.range.is_none() {
        if let Ok((meta, is_ocsf)) = catching(|| ocsf_footer(&body)) {
            if is_ocsf {
                return ocsf::read(body, meta, options, out, raw);
            }
            footer = Some(meta);
        }
    }
    read_rows(&unit.source, body, unit.range, footer, options, out, raw)
}

/// Runs `f`, turning a panic inside it into an error with the panic's message, printed
/// by no one: the parquet crate still panics on some damaged files, and a damaged file
/// is an input error, not a crash. Only the crate's calls are run this way.
fn catching<T>(f: impl FnOnce() -> Result<T, ParquetError>) -> Result<T, ParquetError> {
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
        Err(ParquetError::Panicked(
            message.unwrap_or_else(|| "unknown failure".to_string()),
        ))
    })
}

/// A file's footer, checked, and whether its columns are OCSF's.
fn ocsf_footer(
    body: &impl parquet::file::reader::ChunkReader,
) -> Result<(Arc<ParquetMetaData>, bool), ParquetError> {
    let meta = Arc::new(footer::footer(body)?);
    let arrow = ArrowReaderMetadata::try_new(meta.clone(), ArrowReaderOptions::new())?;
    Ok((meta, ocsf::is_ocsf(arrow.schema())))
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
        let meta = footer::footer(&std::fs::File::open(path)?)?;
        Ok(ArrowReaderMetadata::try_new(
            Arc::new(meta),
            ArrowReaderOptions::new(),
        )?)
    })
    .ok()?;
    if ocsf::is_ocsf(meta.schema()) {
        // Read whole: OCSF rows are mapped one after the other.
        return None;
    }
    let columns = open::flow_columns(meta.schema());
    let layout = Layout::new(columns.iter().map(|(_, n)| n.as_str())).ok()?;
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

/// Rows of a Parquet file: `[first, end)` row numbers, and the file's footer (as
/// [`row_units`] read it, checked).
#[derive(Clone, Debug)]
pub struct RowRange {
    pub first: u64,
    pub end: u64,
    pub footer: Arc<ParquetMetaData>,
}

/// Reads the rows `rows` (all when `None`) of a Parquet file into `sink`, checked and
/// converted to the field types, and returns the file's layout. Rows are numbered from
/// the unit's first row, as a chunk of text numbers its lines: the pipeline adds the
/// rows of the file's units before it.
pub fn scan_parquet(
    source: &Source,
    path: &Path,
    rows: Option<RowRange>,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
    stats: &mut ScanStats,
    raw: &AtomicU64,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let (range, footer) = match rows {
        Some(r) => (Some((r.first, r.end)), Some(r.footer)),
        None => (None, None),
    };
    let out = &mut Out {
        source,
        sink,
        stats,
    };
    match std::fs::File::open(path) {
        Ok(file) => read_rows(source, file, range, footer, options, out, raw),
        Err(e) => {
            out.file_error(FileError::Unreadable(e))?;
            Ok(None)
        }
    }
}

/// [`scan_parquet`] of the rows `range` (all when `None`), with the file's footer when
/// the planner read it.
fn read_rows(
    source: &Source,
    body: impl open::Body,
    range: Option<(u64, u64)>,
    footer: Option<Arc<ParquetMetaData>>,
    options: &ScanOptions,
    out: &mut Out,
    raw: &AtomicU64,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let len = body.len();
    let open::Opened {
        mut reader,
        layout,
        wanted,
    } = match catching(|| open::open(body, range, footer, options)) {
        Ok(o) => o,
        Err(e) => {
            unreadable(out, e)?;
            return Ok(None);
        }
    };
    // The file's bytes count once, with its first unit; what the check for Parquet
    // read of a whole file is part of them.
    if range.is_none_or(|r| r.0 == 0) {
        raw.store(len, Ordering::Relaxed);
    }
    let mut held = Coalesced::new(options.batch_size.max(1));
    let mut row = 0u64;
    loop {
        let at = |error| ParquetError::AtRow {
            row: row + 1,
            error: Box::new(error),
        };
        let converted = catching(|| Ok(reader.next().transpose()?)).and_then(|batch| {
            batch
                .map(|b| convert::convert(&b, &layout, &wanted, row, options).map(|c| (b, c)))
                .transpose()
        });
        let (batch, (batches, rejects)) = match converted {
            Ok(None) => break,
            Ok(Some(c)) => c,
            Err(e) => {
                held.flush(options, out)?;
                unreadable(out, at(e))?;
                break;
            }
        };
        let n = batch.num_rows() as u64;
        out.stats.counts.lines += n;
        out.stats.counts.rejected += rejects.len() as u64;
        for r in &rejects {
            out.sink.reject(source, r)?;
        }
        for (b, bytes) in batches {
            out.stats.counts.records += b.num_rows() as u64;
            held.push(b, bytes, options, out)?;
        }
        out.sink.progress(raw.load(Ordering::Relaxed));
        row += n;
    }
    held.flush(options, out)?;
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
        options: &ScanOptions,
        out: &mut Out,
    ) -> Result<(), crate::Error> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.bytes + bytes > BATCH_BYTES {
            self.flush(options, out)?;
        }
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.held.push(batch);
        if self.rows >= self.target {
            self.flush(options, out)?;
        }
        Ok(())
    }

    /// Passes on what is held, as one batch, without the records outside the window.
    fn flush(&mut self, options: &ScanOptions, out: &mut Out) -> Result<(), crate::Error> {
        let held = std::mem::take(&mut self.held);
        (self.rows, self.bytes) = (0, 0);
        let batch = match held.len() {
            0 => return Ok(()),
            1 => held.into_iter().next().expect("one batch"),
            _ => concat_batches(&held[0].schema(), &held)
                .expect("batches of one schema, under Arrow's limits"),
        };
        let batch = if options.windowed() {
            let kept = super::window(&batch, options.since, options.until);
            out.stats.outside_window += (batch.num_rows() - kept.num_rows()) as u64;
            kept
        } else {
            batch
        };
        if batch.num_rows() > 0 {
            out.sink.batch(out.source, batch)?;
        }
        Ok(())
    }
}

/// A Parquet file that cannot be read (`e`: what is wrong), as a file error.
fn unreadable(out: &mut Out, e: ParquetError) -> Result<(), crate::Error> {
    out.file_error(FileError::Unreadable(io::Error::new(
        io::ErrorKind::InvalidData,
        NotReadable(e),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_the_crates_calls_is_an_error_with_its_message() {
        let r: Result<(), ParquetError> = catching(|| panic!("index out of bounds: 7"));
        assert_eq!(
            r.unwrap_err().to_string(),
            "the Parquet reader failed on it: index out of bounds: 7"
        );
        // And the hook goes on reporting panics outside it as before; a call that does
        // not panic returns its own result.
        assert_eq!(catching(|| Ok::<_, ParquetError>(3)).unwrap(), 3);
    }
}
