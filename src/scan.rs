//! Driving the decoder over one unit of input: reading, buffering, time windows,
//! accounting. [`plan`] splits the inputs into units; [`crate::pipeline`] runs them in
//! parallel and puts the results back in order.
//!
//! A unit is read in large blocks into one reused buffer whose unfinished last line
//! rolls to the front (ripgrep's line buffer), fed to the push decoder, and every batch,
//! rejected line and file error is handed to a [`ScanSink`] in input order.
//!
//! A read error in the middle of a file (a truncated or corrupt `.gz`) ends that file:
//! the records before the damage are kept and counted, an unfinished last line is
//! rejected (so the line accounting still holds), the error is reported with the path,
//! and the scan goes on with the next file.

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, BooleanArray, Int64Array};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;

use crate::error::FileError;
use crate::format::Layout;
use crate::parse::{Decoder, DecoderOptions, LineCounts, Reject};
use crate::source::{open_range, outside_window, Source};

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
        }
    }
}

/// Where the scan delivers what it finds. Returning an error from any method stops the
/// scan and makes [`scan_unit`] return that error.
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
    pub elapsed: Duration,
}

impl std::ops::AddAssign for ScanStats {
    fn add_assign(&mut self, o: ScanStats) {
        self.files += o.files;
        self.files_skipped += o.files_skipped;
        self.files_failed += o.files_failed;
        self.counts += o.counts;
        self.outside_window += o.outside_window;
        self.raw_bytes += o.raw_bytes;
        self.text_bytes += o.text_bytes;
        self.elapsed = self.elapsed.max(o.elapsed);
    }
}

/// A unit of parallel work: a whole source, or a newline-aligned byte range of a large
/// plain file.
#[derive(Clone, Debug)]
pub struct Unit {
    pub source: Source,
    /// Index of the source in the list given to [`plan`].
    pub source_index: usize,
    /// `start..end` for a chunk of a plain file; `None` for a whole source.
    pub range: Option<(u64, u64)>,
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

/// What scanning one unit produced.
#[derive(Debug)]
pub struct UnitResult {
    pub stats: ScanStats,
    /// The layout in force at its end (`None` if it could not be read).
    pub end_layout: Option<Arc<Layout>>,
}

/// Bytes per chunk of a plain file. Tiny in debug builds, so that every test crosses
/// chunk boundaries.
pub fn chunk_bytes() -> u64 {
    if cfg!(debug_assertions) {
        2048
    } else {
        16 << 20
    }
}

/// Splits the sources into units: large plain files into newline-aligned chunks of
/// about `chunk` bytes, everything else whole. Files whose path proves them outside the
/// time window are left out and counted.
pub fn plan(sources: &[Source], options: &ScanOptions, chunk: u64) -> (Vec<Unit>, u64) {
    let mut units = Vec::new();
    let mut skipped = 0;
    let base = Some(
        options
            .layout
            .clone()
            .unwrap_or_else(|| Arc::new(Layout::default_v2())),
    );
    for (i, source) in sources.iter().enumerate() {
        let whole = Unit {
            source: source.clone(),
            source_index: i,
            range: None,
            layout: base.clone(),
        };
        let Source::File(path) = source else {
            units.push(whole);
            continue;
        };
        if outside_window(path, options.since, options.until) {
            skipped += 1;
            continue;
        }
        match chunks(path, chunk) {
            Some((bounds, header)) if bounds.len() > 2 => {
                let guess = header.map(Arc::new).or(base.clone());
                for (k, w) in bounds.windows(2).enumerate() {
                    units.push(Unit {
                        range: Some((w[0], w[1])),
                        layout: if k == 0 { base.clone() } else { guess.clone() },
                        ..whole.clone()
                    });
                }
            }
            _ => units.push(whole),
        }
    }
    (units, skipped)
}

/// Newline-aligned chunk boundaries of a plain file (`[0, b1, ..., size]`) and the
/// layout of its first line if that is a header; `None` for compressed, binary or
/// unreadable files (they are read whole and report their own errors).
fn chunks(path: &std::path::Path, chunk: u64) -> Option<(Vec<u64>, Option<Layout>)> {
    use std::io::{Seek, SeekFrom};
    let size = std::fs::metadata(path).ok()?.len();
    if size <= chunk {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = vec![0u8; 64 * 1024];
    let n = read_full(&mut f, &mut head).ok()?;
    head.truncate(n);
    if head.starts_with(&[0x1f, 0x8b]) || head.starts_with(b"PAR1") {
        return None;
    }
    let first = &head[..memchr::memchr(b'\n', &head).unwrap_or(head.len())];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let tokens = || first.split(|&b| b == b' ').filter(|t| !t.is_empty());
    let header = crate::format::is_header(tokens())
        .then(|| Layout::new(tokens().map(|t| std::str::from_utf8(t).unwrap_or("?"))).ok())
        .flatten();
    let mut bounds = vec![0];
    let mut window = vec![0u8; 64 * 1024];
    let mut pos = chunk;
    while pos < size {
        f.seek(SeekFrom::Start(pos)).ok()?;
        let mut at = pos;
        let next = loop {
            let n = read_full(&mut f, &mut window).ok()?;
            if n == 0 {
                break size;
            }
            if let Some(i) = memchr::memchr(b'\n', &window[..n]) {
                break at + i as u64 + 1;
            }
            at += n as u64;
        };
        if next >= size {
            break;
        }
        bounds.push(next);
        pos = next + chunk;
    }
    bounds.push(size);
    Some((bounds, header))
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Scans one unit into `sink`. Line numbers of a chunk start at 1 at the chunk's first
/// line; the caller adds the lines of the chunks before it. Byte offsets are absolute.
pub fn scan_unit(
    unit: &Unit,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
) -> Result<UnitResult, crate::Error> {
    let started = Instant::now();
    let raw = Arc::new(AtomicU64::new(0));
    let mut stats = ScanStats::default();
    let unit_options = ScanOptions {
        layout: unit.layout.clone(),
        ..options.clone()
    };
    if unit.is_first() {
        stats.files = 1;
    }
    let end_layout = scan_one(
        &unit.source,
        unit.range,
        &unit_options,
        sink,
        &raw,
        &mut stats,
    )?;
    stats.raw_bytes = raw.load(Ordering::Relaxed);
    stats.elapsed = started.elapsed();
    Ok(UnitResult { stats, end_layout })
}

impl ScanStats {
    /// Records kept after the time window.
    pub fn records_kept(&self) -> u64 {
        self.counts.records - self.outside_window
    }
}

/// Reads one source (or the byte range `range` of a plain file) and returns the layout
/// in force at its end.
fn scan_one(
    source: &Source,
    range: Option<(u64, u64)>,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
    raw: &Arc<AtomicU64>,
    stats: &mut ScanStats,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let opened = match (range, source) {
        (Some((from, to)), Source::File(path)) => open_range(path, from, to, raw.clone()),
        _ => source.open(raw.clone()),
    };
    let mut reader = match opened {
        Ok(r) => r,
        Err(e) => {
            stats.files_failed += 1;
            sink.file_error(source, FileError::Unreadable(e))?;
            return Ok(None);
        }
    };
    let mut decoder = Decoder::new(DecoderOptions {
        batch_size: options.batch_size,
        layout: options.layout.clone(),
        projection: options.projection.clone(),
    })
    .with_position(0, range.map_or(0, |r| r.0));
    // Blocks start small and double while reads fill them, up to the buffer size: a
    // small file (most S3 objects) never pays for zeroing a large buffer.
    let max_block = options.buffer_size.max(1);
    let mut block = max_block.min(FIRST_BLOCK);
    let mut buf = Vec::new();
    let mut start = 0; // first unconsumed byte of buf
    let mut failure = None;
    loop {
        // Roll the unfinished line to the front, then read another block after it.
        buf.drain(..start);
        start = 0;
        let filled = buf.len();
        buf.resize(filled + block, 0);
        let n = loop {
            match reader.read(&mut buf[filled..]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                failure = Some(e);
                0
            }
        };
        buf.truncate(filled + n);
        if n == block {
            block = (block * 2).min(max_block);
        }
        stats.text_bytes += n as u64;
        sink.progress(raw.load(Ordering::Relaxed));
        let eof = n == 0;
        loop {
            let rest = &buf[start..];
            start += if eof {
                decoder.finish(rest)
            } else {
                decoder.decode(rest)
            };
            for reject in decoder.take_rejects() {
                sink.reject(source, &reject)?;
            }
            if !decoder.ready() {
                break;
            }
            emit(&mut decoder, source, options, sink, stats)?;
        }
        if eof {
            break;
        }
    }
    emit(&mut decoder, source, options, sink, stats)?;
    stats.counts += decoder.counts();
    if let Some(error) = failure {
        stats.files_failed += 1;
        sink.file_error(
            source,
            FileError::Interrupted {
                line: decoder.line(),
                byte: decoder.offset(),
                error,
            },
        )?;
    }
    Ok(Some(decoder.layout().clone()))
}

/// The first read block of a unit (see `scan_one`).
const FIRST_BLOCK: usize = 64 * 1024;

/// Flushes the decoder's batch through the time window into the sink.
fn emit(
    decoder: &mut Decoder,
    source: &Source,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
    stats: &mut ScanStats,
) -> Result<(), crate::Error> {
    let Some(batch) = decoder.flush() else {
        return Ok(());
    };
    let batch = if options.since.is_some() || options.until.is_some() {
        let rows = batch.num_rows();
        let kept = window(&batch, options.since, options.until);
        stats.outside_window += (rows - kept.num_rows()) as u64;
        kept
    } else {
        batch
    };
    if batch.num_rows() > 0 {
        sink.batch(source, batch)?;
    }
    Ok(())
}

/// The rows of `batch` whose `start` is in `[since, until)`; a record without a start
/// time is in no window.
pub fn window(batch: &RecordBatch, since: Option<i64>, until: Option<i64>) -> RecordBatch {
    let Some(start) = batch
        .column_by_name("start")
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
    else {
        return batch.slice(0, 0);
    };
    let (lo, hi) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
    let keep: BooleanArray = (0..start.len())
        .map(|i| Some(start.is_valid(i) && (lo..hi).contains(&start.value(i))))
        .collect();
    filter_record_batch(batch, &keep).expect("mask has the batch's length")
}
