//! What a unit of input is, how it is read ([`ScanOptions`]) and where what it holds
//! goes ([`ScanSink`], [`ScanStats`]): the words every form of input and the read loop
//! share. [`crate::scan`] re-exports them under their old paths.

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use parquet::file::metadata::ParquetMetaData;

use crate::error::FileError;
use crate::format::Layout;
use crate::parse::{LineCounts, Reject};
use crate::source::Source;

/// How inputs are read.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub batch_size: usize,
    /// The `--fields` layout for headerless input.
    pub layout: Option<Arc<Layout>>,
    /// Keep records whose `start` is at or after this (unix seconds).
    pub since: Option<i64>,
    /// Keep records whose `start` is before this (unix seconds).
    pub until: Option<i64>,
    /// Size of the read buffer in bytes.
    pub buffer_size: usize,
    /// The columns to build (projection pushdown); `None`: all.
    pub projection: Option<Arc<crate::batch::Projection>>,
    /// Longest line accepted (`--max-line-bytes`).
    pub max_line_bytes: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            batch_size: 8192,
            layout: None,
            since: None,
            until: None,
            buffer_size: 1 << 20,
            projection: None,
            max_line_bytes: crate::parse::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl ScanOptions {
    /// Whether `--since` or `--until` set a time window.
    pub fn windowed(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }
}

/// Where the scan delivers what it finds. Returning an error from any method stops the
/// scan and makes [`crate::scan::scan_unit`] return that error.
pub trait ScanSink {
    /// A batch of accepted records of `source`, in input order.
    fn batch(&mut self, source: &Source, batch: RecordBatch) -> Result<(), crate::Error>;
    /// A rejected line.
    fn reject(&mut self, source: &Source, reject: &Reject) -> Result<(), crate::Error>;
    /// A file that could not be opened, or whose reading broke off.
    fn file_error(&mut self, source: &Source, error: FileError) -> Result<(), crate::Error>;
    /// Called after each block read, for progress reporting.
    fn progress(&mut self, _raw_bytes: u64) {}
}

/// Totals of a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files (and stdin) read, fully or partly.
    pub files: u64,
    /// Files skipped unread because their path proves them outside the time window.
    pub files_skipped: u64,
    /// Files that could not be opened or whose reading broke off.
    pub files_failed: u64,
    pub counts: LineCounts,
    /// Accepted records dropped by `--since`/`--until`.
    pub outside_window: u64,
    /// Bytes read from files and stdin (compressed size for `.gz`).
    pub raw_bytes: u64,
    /// Bytes of flow-log text (after decompression).
    pub text_bytes: u64,
    /// Lines decoded from gzip members that failed their check, and not used.
    pub dropped: LineCounts,
    pub elapsed: Duration,
}

// Field by field, as every mergeable total in the crate (the `duplicates` tool pairs
// them by shape); a macro for a dozen lines would hide more than it saves.
impl std::ops::AddAssign for ScanStats {
    fn add_assign(&mut self, o: ScanStats) {
        self.files += o.files;
        self.files_skipped += o.files_skipped;
        self.files_failed += o.files_failed;
        self.counts += o.counts;
        self.outside_window += o.outside_window;
        self.raw_bytes += o.raw_bytes;
        self.text_bytes += o.text_bytes;
        self.dropped += o.dropped;
        self.elapsed = self.elapsed.max(o.elapsed);
    }
}

impl ScanStats {
    /// Records kept after the time window.
    pub fn records_kept(&self) -> u64 {
        self.counts.records - self.outside_window
    }
}

/// A unit of parallel work: a whole source, or a part of a large file (a
/// newline-aligned byte range of a text file, a range of rows of a Parquet file).
/// Which form reads it is sniffed from its source's first bytes when it is read (see
/// [`super::sniff`]), as the planner sniffed them.
#[derive(Clone, Debug)]
pub struct Unit {
    pub source: Source,
    /// Index of the source in the list given to [`crate::scan::plan`].
    pub source_index: usize,
    /// `start..end` for a chunk of a plain file (bytes) or of a Parquet file (rows,
    /// when `footer` is set); `None` for a whole source.
    pub range: Option<(u64, u64)>,
    /// For units of rows of a Parquet file: the file's footer, read once when the file
    /// was split (a footer of many row groups costs more to read than one unit's rows).
    pub footer: Option<Arc<ParquetMetaData>>,
    /// The layout the unit is decoded with from its first byte. For a chunk after the
    /// first this is a guess (the file's first header, else `--fields` or the default);
    /// the pipeline checks it against the layout in force at the end of the chunk before
    /// and decodes the chunk again if a header line there changed it.
    pub layout: Option<Arc<Layout>>,
}

impl Unit {
    /// Whether the unit starts at the beginning of its source (so its layout is known,
    /// not guessed).
    pub fn is_first(&self) -> bool {
        self.range.is_none_or(|r| r.0 == 0)
    }
}

/// Where a unit's results go: the sink, and the unit's statistics.
pub struct Out<'a> {
    pub source: &'a Source,
    pub sink: &'a mut dyn ScanSink,
    pub stats: &'a mut ScanStats,
}

impl Out<'_> {
    /// A file error: counted, and handed to the sink.
    pub fn file_error(&mut self, error: FileError) -> Result<(), crate::Error> {
        self.stats.files_failed += 1;
        self.sink.file_error(self.source, error)
    }
}
