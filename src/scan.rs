//! The plan and the read loop common to every form of input. [`plan`] splits the
//! inputs into units (whole files, newline-aligned chunks of large text files, ranges of
//! rows of large Parquet files: each form says how its files split, see
//! [`crate::input::Form::split`]); [`scan_unit`] reads one unit with the form its source's
//! first bytes say ([`crate::input::read`]) and keeps its statistics;
//! [`crate::pipeline`] runs the units in parallel and puts the results back in order.
//!
//! The words of a scan ([`ScanOptions`], [`ScanSink`], [`ScanStats`], [`Unit`],
//! [`window`]) live in [`crate::input`], below the forms that use them, and are named
//! here too.

use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::format::Layout;
use crate::input::{read_full, sniff, Out, Split};
use crate::source::{outside_window, Source};

pub use crate::input::{window, ScanOptions, ScanSink, ScanStats, Unit};

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

/// Splits the sources into units: large files as their form says (text into
/// newline-aligned chunks of about `chunk` bytes, Parquet into ranges of rows),
/// everything else whole. Files whose path proves them outside the time window are left
/// out and counted.
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
        // An object whose key proves it outside the window is skipped as a file is.
        let named = match source {
            Source::File(path) => Some(path.as_path()),
            Source::S3(o) => Some(Path::new(&o.key)),
            Source::Stdin => None,
        };
        if named.is_some_and(|p| outside_window(p, options.since, options.until)) {
            skipped += 1;
            continue;
        }
        // Objects and stdin are read whole, as they stream.
        let Source::File(path) = source else {
            units.push(whole);
            continue;
        };
        // Each range after the first is guessed to have `later`'s layout (a Parquet
        // file's, rightly; a text file's first header).
        let (ranges, later, footer) = match split(path, chunk) {
            Some((
                Split::Rows {
                    ranges,
                    layout,
                    footer,
                },
                _,
            )) => (ranges, Some(Arc::new(layout)), Some(footer)),
            Some((Split::Lines(header), size)) => {
                let bounds = line_bounds(path, size, chunk).unwrap_or_default();
                let ranges = bounds.windows(2).map(|w| (w[0], w[1])).collect();
                (ranges, header.map(Arc::new).or(base.clone()), None)
            }
            None => (Vec::new(), None, None),
        };
        if ranges.len() < 2 {
            units.push(whole);
            continue;
        }
        for r in ranges {
            units.push(Unit {
                range: Some(r),
                footer: footer.clone(),
                layout: if r.0 == 0 {
                    base.clone()
                } else {
                    later.clone()
                },
                ..whole.clone()
            });
        }
    }
    (units, skipped)
}

/// How a file larger than `chunk` bytes splits, as its form says from its first bytes,
/// and its size; `None` for a smaller one, and for a file that is read whole (gzip) or
/// cannot be read (it reports its own error when read).
fn split(path: &Path, chunk: u64) -> Option<(Split, u64)> {
    let size = std::fs::metadata(path).ok()?.len();
    if size <= chunk {
        return None;
    }
    let mut head = vec![0u8; 64 * 1024];
    let n = read_full(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    head.truncate(n);
    let split = sniff(&head).split(path, &head, chunk)?;
    Some((split, size))
}

/// Newline-aligned chunk boundaries of a file of `size` bytes, `[0, b1, ..., size]`,
/// about `chunk` bytes apart.
fn line_bounds(path: &Path, size: u64, chunk: u64) -> Option<Vec<u64>> {
    let mut f = std::fs::File::open(path).ok()?;
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
    Some(bounds)
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
    let mut out = Out {
        source: &unit.source,
        sink,
        stats: &mut stats,
    };
    let end_layout = crate::input::read(unit, &unit_options, &mut out, &raw)?;
    stats.raw_bytes = raw.load(Ordering::Relaxed);
    stats.elapsed = started.elapsed();
    Ok(UnitResult { stats, end_layout })
}
