//! Driving the decoder over one unit of input: reading, buffering, time windows,
//! accounting. [`plan`] splits the inputs into units; [`crate::pipeline`] runs them in
//! parallel and puts the results back in order.
//!
//! A unit is read in large blocks into one reused buffer whose unfinished last line
//! rolls to the front (ripgrep's line buffer), fed to the push decoder, and every batch,
//! rejected line and file error is handed to a [`ScanSink`] in input order.
//!
//! A read error in the middle of a file (a truncated or corrupt `.gz`) ends that file,
//! the error is reported with the path, and the scan goes on with the next file. Of a
//! truncated file the records before the cut are kept and the cut last line is
//! rejected; of a corrupt gzip member, everything it decoded is dropped and counted
//! (see `scan_one`), so the line accounting holds either way.

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, BooleanArray, Int64Array};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use parquet::file::metadata::ParquetMetaData;

use crate::error::FileError;
use crate::format::Layout;
use crate::parse::{Decoder, DecoderOptions, LineCounts, Reject};
use crate::source::{open_range, outside_window, IsParquet, Opened, Source};

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
    /// Lines decoded from gzip members that failed their check, and not used.
    pub dropped: LineCounts,
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
        self.dropped += o.dropped;
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
            footer: None,
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
            // Parquet: units of rows (whole row groups, or parts of large ones), each
            // after the first guessed (rightly) to have the file's layout.
            Some(Split::Parquet) => {
                match crate::parquet_in::row_units(path, chunk / PARQUET_CHUNK_DIVISOR) {
                    Some(crate::parquet_in::RowUnits {
                        ranges,
                        layout,
                        footer,
                    }) => {
                        let layout = Some(Arc::new(layout));
                        for r in ranges {
                            units.push(Unit {
                                range: Some(r),
                                footer: Some(footer.clone()),
                                layout: if r.0 == 0 {
                                    base.clone()
                                } else {
                                    layout.clone()
                                },
                                ..whole.clone()
                            });
                        }
                    }
                    None => units.push(whole),
                }
            }
            Some(Split::Lines(bounds, header)) if bounds.len() > 2 => {
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

/// How a file larger than a chunk splits into units.
enum Split {
    /// Newline-aligned chunk boundaries of a plain file (`[0, b1, ..., size]`) and the
    /// layout of its first line if that is a header.
    Lines(Vec<u64>, Option<Layout>),
    /// A Parquet file: split by row groups.
    Parquet,
}

/// How a file larger than `chunk` bytes splits (see [`Split`]); `None` for a smaller
/// one, and for gzip or unreadable files (they are read whole and report their own
/// errors).
fn chunks(path: &std::path::Path, chunk: u64) -> Option<Split> {
    use std::io::{Seek, SeekFrom};
    let size = std::fs::metadata(path).ok()?.len();
    if size <= chunk {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = vec![0u8; 64 * 1024];
    let n = read_full(&mut f, &mut head).ok()?;
    head.truncate(n);
    if head.starts_with(b"PAR1") {
        return Some(Split::Parquet);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    let first = &head[..memchr::memchr(b'\n', &head).unwrap_or(head.len())];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let first = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first);
    let header = crate::format::first_header(first);
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
    Some(Split::Lines(bounds, header))
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
    let end_layout = scan_one(unit, &unit_options, sink, &raw, &mut stats)?;
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

/// Reads one unit (a source, a byte range of a plain file, or row groups of a Parquet
/// file) and returns the layout in force at its end.
///
/// Of a gzip input, what is decoded from a member is held back until the member has
/// passed its check (CRC and length): when a member turns out corrupt, its records and
/// rejected lines are dropped, and counted as such, instead of being passed on. A
/// member with more than [`HOLD_BYTES`] of text is passed on as it goes (bounded
/// memory); if it then fails, the error says how many of its records were used. A file
/// that merely ends early (truncated) keeps what was read, and its cut last line is
/// rejected.
fn scan_one(
    unit: &Unit,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
    raw: &Arc<AtomicU64>,
    stats: &mut ScanStats,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let (source, range) = (&unit.source, unit.range);
    let out = &mut Out {
        source,
        sink,
        stats,
    };
    // Parquet rows `range` of a file.
    if let (Some((first, end)), Some(footer), Source::File(path)) = (range, &unit.footer, source) {
        let rows = crate::parquet_in::RowRange {
            first,
            end,
            footer: footer.clone(),
        };
        return crate::parquet_in::scan_parquet(
            source,
            path,
            Some(rows),
            options,
            out.sink,
            out.stats,
            raw,
        );
    }
    let opened = match (range, source) {
        (Some((from, to)), Source::File(path)) => {
            open_range(path, from, to, raw.clone()).map(Opened::Plain)
        }
        _ => source.open(raw.clone()),
    };
    if let (Err(e), Source::File(path)) = (&opened, source) {
        if IsParquet::is(e) {
            return crate::parquet_in::scan_parquet(
                source, path, None, options, out.sink, out.stats, raw,
            );
        }
    }
    // A large gzip input is inflated on a thread of its own while this one decodes.
    let large = |o: &Opened| {
        o.is_gzip()
            && source
                .size()
                .is_none_or(|size| size >= INFLATE_THREAD_BYTES)
    };
    let opened = opened.and_then(|o| if large(&o) { o.on_own_thread() } else { Ok(o) });
    let mut reader = match opened {
        Ok(r) => r,
        Err(e) => {
            out.stats.files_failed += 1;
            out.sink.file_error(source, FileError::Unreadable(e))?;
            return Ok(None);
        }
    };
    let mut decoder = decoder(options, range.map_or(0, |r| r.0));
    let mut held = Held::new(reader.is_gzip(), &decoder);
    // Blocks start small and double while reads fill them, up to the buffer size: a
    // small file (most S3 objects) never pays for zeroing a large buffer.
    let max_block = options.buffer_size.max(1);
    let mut block = max_block.min(FIRST_BLOCK);
    let mut buf = Buffer::take();
    let mut start = 0; // first unconsumed byte of buf
    let mut end = 0; // end of the bytes read into buf
    let mut failure = None;
    loop {
        // Roll the unfinished line to the front, then read another block after it.
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if buf.len() < end + block {
            buf.resize(end + block, 0);
        }
        let n = loop {
            match reader.read(&mut buf[end..end + block]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        let n = n.unwrap_or_else(|e| {
            failure = Some(e);
            0
        });
        end += n;
        if n == block {
            block = (block * 2).min(max_block);
        }
        out.stats.text_bytes += n as u64;
        out.sink.progress(raw.load(Ordering::Relaxed));
        if n == 0 && failure.is_none() {
            match reader.next_member() {
                Ok(true) => {
                    // A gzip member ended and passed its check: what came of it is
                    // trusted. A line that goes on into the next member is not yet.
                    emit(&mut decoder, &mut held, out)?;
                    held.verified(&decoder, out)?;
                    continue;
                }
                Ok(false) => {}
                Err(e) => failure = Some(e),
            }
        }
        let eof = n == 0;
        if eof && failure.is_some() {
            // Reading broke off: the unfinished last line is not a record.
            decoder.cut(&buf[start..end]);
            for reject in decoder.take_rejects() {
                held.event(Event::Reject(reject), out)?;
            }
            break;
        }
        loop {
            let rest = &buf[start..end];
            start += if eof {
                decoder.finish(rest)
            } else {
                decoder.decode(rest)
            };
            for reject in decoder.take_rejects() {
                held.event(Event::Reject(reject), out)?;
            }
            if !decoder.ready() {
                break;
            }
            emit(&mut decoder, &mut held, out)?;
        }
        if held.over_limit(&decoder) {
            emit(&mut decoder, &mut held, out)?;
            held.release(&decoder, out)?;
        }
        if eof {
            break;
        }
    }
    emit(&mut decoder, &mut held, out)?;
    match failure {
        None => {
            held.release(&decoder, out)?;
            out.stats.counts += decoder.counts();
        }
        // A file that ends early: what was read is what the file holds.
        Some(error) if error.kind() == ErrorKind::UnexpectedEof => {
            held.release(&decoder, out)?;
            out.stats.counts += decoder.counts();
            out.stats.files_failed += 1;
            out.sink.file_error(
                source,
                FileError::Interrupted {
                    line: decoder.line(),
                    byte: decoder.offset(),
                    error,
                    dropped: LineCounts::default(),
                    unverified: 0,
                },
            )?;
        }
        // Corrupt data: what was decoded from the failing member is not trusted.
        Some(error) => {
            let kept = held.released;
            out.stats.counts += kept.counts;
            out.stats.dropped += decoder.counts() - kept.counts;
            out.stats.files_failed += 1;
            out.sink.file_error(
                source,
                FileError::Interrupted {
                    line: kept.line,
                    byte: kept.offset,
                    error,
                    dropped: decoder.counts() - kept.counts,
                    unverified: kept.counts.records - held.trusted.counts.records,
                },
            )?;
        }
    }
    Ok(Some(decoder.layout().clone()))
}

/// A decoder for a unit starting at byte `start` of its source.
fn decoder(options: &ScanOptions, start: u64) -> Decoder {
    Decoder::new(DecoderOptions {
        batch_size: options.batch_size,
        layout: options.layout.clone(),
        projection: options.projection.clone(),
        max_line_bytes: options.max_line_bytes,
        window: (options.since.is_some() || options.until.is_some()).then(|| {
            (
                options.since.unwrap_or(i64::MIN),
                options.until.unwrap_or(i64::MAX),
            )
        }),
    })
    .with_position(0, start)
}

/// Gzip inputs of at least this many bytes (and stdin) are inflated on a thread of
/// their own; smaller ones (most S3 objects) are many, and already read in parallel.
pub const INFLATE_THREAD_BYTES: u64 = 4 << 20;

/// A Parquet unit holds about a quarter of a text chunk's bytes, compressed: its rows
/// are about as many as a text chunk's lines (flow logs compress about tenfold), in
/// units small enough to spread an engine-sized row group over the cores.
const PARQUET_CHUNK_DIVISOR: u64 = 4;

/// The read buffer of `scan_one`, reused by the units a thread scans one after the
/// other: zeroed once when it grows, not for every small file.
struct Buffer(Vec<u8>);

thread_local! {
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Buffer {
    fn take() -> Buffer {
        Buffer(SPARE.try_with(|spare| spare.take()).unwrap_or_default())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // A buffer that grew for a long line is not kept.
        if self.0.len() <= 4 << 20 {
            let buf = std::mem::take(&mut self.0);
            // Ignored while the thread itself is being torn down.
            let _ = SPARE.try_with(|spare| spare.set(buf));
        }
    }
}

impl std::ops::Deref for Buffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// The first read block of a unit (see `scan_one`).
const FIRST_BLOCK: usize = 64 * 1024;

/// Decoded text of one gzip member held back before its check, at most.
pub const HOLD_BYTES: u64 = 64 << 20;

/// A position in the decoded text.
#[derive(Clone, Copy, Debug)]
struct Point {
    counts: LineCounts,
    line: u64,
    offset: u64,
}

impl Point {
    fn of(decoder: &Decoder) -> Point {
        Point {
            counts: decoder.counts(),
            line: decoder.line(),
            offset: decoder.offset(),
        }
    }
}

/// What the scan of a gzip input holds back until its member's check (see `scan_one`).
struct Held {
    hold: bool,
    events: Vec<Event>,
    /// Where the last checked member ended.
    trusted: Point,
    /// Up to where events were passed on.
    released: Point,
}

enum Event {
    /// A batch of records inside the time window (if any was left), and how many
    /// records the window left out.
    Batch(Option<RecordBatch>, u64),
    Reject(Reject),
}

impl Held {
    fn new(hold: bool, decoder: &Decoder) -> Held {
        let at = Point::of(decoder);
        Held {
            hold,
            events: Vec::new(),
            trusted: at,
            released: at,
        }
    }

    fn event(&mut self, event: Event, out: &mut Out) -> Result<(), crate::Error> {
        if self.hold {
            self.events.push(event);
            Ok(())
        } else {
            out.pass(event)
        }
    }

    /// Whether more than [`HOLD_BYTES`] of unchecked text is held.
    fn over_limit(&self, decoder: &Decoder) -> bool {
        self.hold && decoder.offset() - self.released.offset > HOLD_BYTES
    }

    /// Passes on everything held.
    fn release(&mut self, decoder: &Decoder, out: &mut Out) -> Result<(), crate::Error> {
        for event in self.events.drain(..) {
            out.pass(event)?;
        }
        self.released = Point::of(decoder);
        Ok(())
    }

    /// A member passed its check: everything decoded so far is trusted.
    fn verified(&mut self, decoder: &Decoder, out: &mut Out) -> Result<(), crate::Error> {
        self.release(decoder, out)?;
        self.trusted = self.released;
        Ok(())
    }
}

/// Flushes the decoder's batch (and its count of records outside the window) to
/// `held`, which holds it back or passes it on.
fn emit(decoder: &mut Decoder, held: &mut Held, out: &mut Out) -> Result<(), crate::Error> {
    // The time window was applied while decoding: records outside it were counted
    // and never built.
    let outside = decoder.take_outside();
    match decoder.flush() {
        Some(batch) => held.event(Event::Batch(Some(batch), outside), out),
        None if outside > 0 => held.event(Event::Batch(None, outside), out),
        None => Ok(()),
    }
}

/// Where a unit's results go: the sink, and the unit's statistics.
struct Out<'a> {
    source: &'a Source,
    sink: &'a mut dyn ScanSink,
    stats: &'a mut ScanStats,
}

impl Out<'_> {
    fn pass(&mut self, event: Event) -> Result<(), crate::Error> {
        match event {
            Event::Batch(batch, outside) => {
                self.stats.outside_window += outside;
                if let Some(batch) = batch.filter(|b| b.num_rows() > 0) {
                    self.sink.batch(self.source, batch)?;
                }
                Ok(())
            }
            Event::Reject(r) => self.sink.reject(self.source, &r),
        }
    }
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
