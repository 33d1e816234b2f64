//! Driving the decoder over the inputs: reading, buffering, time windows, accounting.
//!
//! This is the one place that decides how inputs are read. Each source is read in
//! large blocks into one reused buffer whose unfinished last line rolls to the front
//! (ripgrep's line buffer), fed to the push decoder, and every batch, rejected line and
//! file error is handed to a [`ScanSink`] in input order.
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

use crate::format::Layout;
use crate::parse::{Decoder, DecoderOptions, LineCounts, Reject};
use crate::source::{outside_window, Source};

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
/// scan and makes [`scan`] return that error.
pub trait ScanSink {
    /// A batch of accepted records of `source`, in input order.
    fn batch(&mut self, source: &Source, batch: RecordBatch) -> Result<(), crate::Error>;
    /// A rejected line.
    fn reject(&mut self, source: &Source, reject: &Reject) -> Result<(), crate::Error>;
    /// A file that could not be opened, or whose reading broke off.
    fn file_error(&mut self, source: &Source, message: &str) -> Result<(), crate::Error>;
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

/// Scans every source on the current rayon pool, one worker per source, each into its
/// own sink made by `make`. Returns the sinks and their statistics in source order, so
/// that callers can merge them (and replay what they collected) deterministically.
pub fn scan_parallel<S, F>(
    sources: &[Source],
    options: &ScanOptions,
    make: F,
) -> Vec<(S, Result<ScanStats, crate::Error>)>
where
    S: ScanSink + Send,
    F: Fn() -> S + Sync,
{
    use rayon::prelude::*;
    sources
        .par_iter()
        .map(|source| {
            let mut sink = make();
            let stats = scan(std::slice::from_ref(source), options, &mut sink);
            (sink, stats)
        })
        .collect()
}

impl ScanStats {
    /// Records kept after the time window.
    pub fn records_kept(&self) -> u64 {
        self.counts.records - self.outside_window
    }
}

/// Reads every source in order and feeds the sink.
pub fn scan(
    sources: &[Source],
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
) -> Result<ScanStats, crate::Error> {
    let started = Instant::now();
    let raw = Arc::new(AtomicU64::new(0));
    let mut stats = ScanStats::default();
    let mut buf = Vec::with_capacity(options.buffer_size.max(1));
    for source in sources {
        if let Source::File(path) = source {
            if outside_window(path, options.since, options.until) {
                stats.files_skipped += 1;
                continue;
            }
        }
        stats.files += 1;
        scan_one(source, options, sink, &raw, &mut buf, &mut stats)?;
    }
    stats.raw_bytes = raw.load(Ordering::Relaxed);
    stats.elapsed = started.elapsed();
    Ok(stats)
}

fn scan_one(
    source: &Source,
    options: &ScanOptions,
    sink: &mut dyn ScanSink,
    raw: &Arc<AtomicU64>,
    buf: &mut Vec<u8>,
    stats: &mut ScanStats,
) -> Result<(), crate::Error> {
    let mut reader = match source.open(raw.clone()) {
        Ok(r) => r,
        Err(e) => {
            stats.files_failed += 1;
            return sink.file_error(source, &format!("cannot read: {e}"));
        }
    };
    let mut decoder = Decoder::new(DecoderOptions {
        batch_size: options.batch_size,
        layout: options.layout.clone(),
        projection: options.projection.clone(),
    });
    let block = options.buffer_size.max(1);
    buf.clear();
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
    if let Some(e) = failure {
        stats.files_failed += 1;
        sink.file_error(
            source,
            &format!(
                "reading stopped after line {} (byte {}): {e}",
                decoder.line(),
                decoder.offset()
            ),
        )?;
    }
    Ok(())
}

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
