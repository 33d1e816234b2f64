//! The input seam: what an input is, and the forms that read it.
//!
//! One sniff ([`sniff`]) tells from an input's first bytes which [`Format`] it is: flow-log
//! text, gzip of it, AWS's Parquet delivery (or Security Lake's OCSF Parquet), OCSF
//! JSON Lines, a CloudWatch Logs export or log-events JSON. The planner
//! ([`crate::scan::plan`])
//! sniffs a large file to ask its form how it splits ([`Format::split`]); the read loop
//! ([`crate::scan::scan_unit`]) sniffs each unit's source and hands the unit to its form
//! ([`read`]). Each form is one file behind the [`Form`] trait:
//!
//! - [`text`]: flow-log text, plain or gzip;
//! - [`parquet`]: AWS's Parquet delivery and what `vpcflow convert` writes, and
//!   Security Lake's OCSF Parquet (`parquet/ocsf.rs`, told from the footer);
//! - [`ocsf`]: OCSF Network Activity mapped back to flow-log records, and its JSON
//!   Lines form ([`ocsf::json`]);
//! - [`export`]: a CloudWatch Logs export (each line prefixed with its timestamp);
//! - [`events`]: `aws logs filter-log-events` / `get-log-events` JSON output.
//!
//! What an input that yields no record looks like is told by [`looks`].
//!
//! A new form (another file format, another store) is one new file here implementing
//! [`Form`], one [`Format`] variant with its line in [`sniff`], and its arm in the two
//! dispatches ([`Format::split`], [`Format::read`]); the planner, the read loop and the
//! pipeline do not change. Dispatch is a `match`, not a `dyn Form`: it is the entry of
//! the hot read path, taken once per unit.
//!
//! The words the forms and the read loop share (a [`Unit`], [`ScanOptions`],
//! [`ScanSink`], [`ScanStats`]) live here too, below the read loop that uses them.

use std::io::{self, BufRead, Read};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use ::parquet::file::metadata::ParquetMetaData;
use arrow::array::{Array, BooleanArray, Int64Array};
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;

use crate::error::FileError;
use crate::format::Layout;
use crate::parse::{Decoder, DecoderOptions};
use crate::source::{RawReader, Source};

pub mod events;
pub mod export;
pub mod looks;
pub mod ocsf;
pub mod parquet;
pub mod prefix;
pub mod text;
mod unit;

pub use unit::{Out, ScanOptions, ScanSink, ScanStats, Unit};

/// What an input is, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Flow-log text (the default: anything that is none of the others).
    Text,
    /// Gzip (one or more members) of flow-log text.
    GzipText,
    /// A Parquet file (`PAR1`): AWS's flow-log columns, or Security Lake's OCSF (told
    /// from its footer).
    Parquet,
    /// OCSF JSON Lines of Network Activity (`{` first, `"class_uid"` in the first line).
    OcsfJson,
    /// A CloudWatch Logs export: flow-log text, each line prefixed with its timestamp.
    CloudWatchExport,
    /// `aws logs filter-log-events` or `get-log-events` output: JSON documents whose
    /// `events` hold the flow-log lines as `message`s.
    LogEvents,
}

/// What the input starting with `head` is. Compression and format are told by content,
/// never by name: an S3 object's name says `.log.gz` whatever it holds.
pub fn sniff(head: &[u8]) -> Format {
    if head.starts_with(b"PAR1") {
        Format::Parquet
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Format::GzipText
    } else if ocsf::json::sniff(head) {
        Format::OcsfJson
    } else if events::is_log_events(head) {
        Format::LogEvents
    } else if prefix::starts_prefixed(head) {
        Format::CloudWatchExport
    } else {
        Format::Text
    }
}

/// How a file larger than a chunk splits into units, as its form says.
pub enum Split {
    /// At newlines, in chunks of about a chunk's bytes (the planner finds where); the
    /// layout guessed for every chunk after the first (the file's first header line's),
    /// if it has one.
    Lines(Option<Layout>),
    /// Ranges of rows, `[first, end)`; the layout of every unit after the first; the
    /// file's footer, read once, for the units to share.
    Rows {
        ranges: Vec<(u64, u64)>,
        layout: Layout,
        footer: Arc<ParquetMetaData>,
    },
}

/// A unit's input as sniffed: what it is and, for a whole source, the stream already
/// opened (stdin can be read only once; the sniffed bytes are in its buffer). A part of
/// a file is opened by its form.
pub struct Sniffed {
    pub format: Format,
    pub stream: Option<RawReader>,
}

/// What each form of input implements. Its functions take no `self`: a form is a
/// type, dispatched to by [`Format`]. (The signatures repeat in each form and in the
/// dispatch, as a trait's do; the `duplicates` tool pairs them.)
pub trait Form {
    /// How a file of this form larger than `chunk` bytes splits into units, from its
    /// path and first bytes (`head`); `None`: it is read whole.
    fn split(path: &Path, head: &[u8], chunk: u64) -> Option<Split>;

    /// Reads one unit into `out`: its batches of accepted records in order, its
    /// rejected lines or rows, its file errors, its counts. `raw` counts the bytes read
    /// from the file or stdin itself. Returns the layout in force at the unit's end
    /// (`None` when nothing could be read).
    fn read(
        unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error>;
}

impl Format {
    /// How a file of this format splits (see [`Form::split`]).
    pub fn split(self, path: &Path, head: &[u8], chunk: u64) -> Option<Split> {
        match self {
            Format::Text => text::Text::split(path, head, chunk),
            // A gzip stream cannot be entered in the middle: read whole.
            Format::GzipText => None,
            Format::Parquet => parquet::Parquet::split(path, head, chunk),
            Format::OcsfJson => ocsf::json::OcsfJson::split(path, head, chunk),
            Format::CloudWatchExport => export::Export::split(path, head, chunk),
            // A JSON document is parsed whole.
            Format::LogEvents => None,
        }
    }

    /// Reads a unit of this format (see [`Form::read`]).
    pub fn read(
        self,
        unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error> {
        match self {
            Format::Text | Format::GzipText => text::Text::read(unit, input, options, out, raw),
            Format::Parquet => parquet::Parquet::read(unit, input, options, out, raw),
            Format::OcsfJson => ocsf::json::OcsfJson::read(unit, input, options, out, raw),
            Format::CloudWatchExport => export::Export::read(unit, input, options, out, raw),
            Format::LogEvents => events::LogEvents::read(unit, input, options, out, raw),
        }
    }
}

/// Reads one unit with the form its source's first bytes say (see [`Form::read`]); a
/// source that cannot be opened is a file error.
pub fn read(
    unit: &Unit,
    options: &ScanOptions,
    out: &mut Out,
    raw: &Arc<AtomicU64>,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    match open(unit, raw) {
        Ok(input) => input.format.read(unit, input, options, out, raw),
        Err(e) => {
            out.file_error(FileError::Unreadable(e))?;
            Ok(None)
        }
    }
}

/// Opens a whole source and sniffs its first bytes. A part of a file is opened by its
/// form, which the planner found when it split the file: rows of Parquet carry the
/// footer it read, byte ranges are plain text (gzip is never split).
fn open(unit: &Unit, raw: &Arc<AtomicU64>) -> io::Result<Sniffed> {
    match (&unit.source, unit.range) {
        (Source::File(_), Some(_)) => Ok(Sniffed {
            format: if unit.footer.is_some() {
                Format::Parquet
            } else {
                Format::Text
            },
            stream: None,
        }),
        (source, _) => {
            let mut stream = source.open(raw.clone())?;
            Ok(Sniffed {
                format: sniff(stream.fill_buf()?),
                stream: Some(stream),
            })
        }
    }
}

/// A decoder for a unit starting at byte `start` of its source.
pub(crate) fn decoder(options: &ScanOptions, start: u64) -> Decoder {
    Decoder::new(DecoderOptions {
        batch_size: options.batch_size,
        layout: options.layout.clone(),
        projection: options.projection.clone(),
        max_line_bytes: options.max_line_bytes,
        window: options.windowed().then(|| {
            (
                options.since.unwrap_or(i64::MIN),
                options.until.unwrap_or(i64::MAX),
            )
        }),
    })
    .with_position(0, start)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub fn read_full(f: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The columns that `vpcflow convert --map` adds to flow-log records (and
/// [`crate::enrich`]'s join adds to a batch), in order. An input that holds them is read
/// without them: attribution is computed again from the map.
// The tests spell this list out again on purpose: an expectation written apart from
// the code it checks.
pub const ENRICHMENT_COLUMNS: [&str; 13] = [
    "task_arn",
    "service",
    "cluster",
    "eni_kind",
    "peer_addr",
    "peer_eni_id",
    "peer_kind",
    "peer_task_arn",
    "peer_service",
    "peer_lb",
    "own_addr",
    "inbound",
    "direction_by",
];

/// The rows of `batch` whose `start` is in `[since, until)`; a record without a start
/// time is in no window. For forms whose records are not windowed while decoded.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sniff_tells_the_formats_apart() {
        assert_eq!(sniff(b"PAR1\x15\x04"), Format::Parquet);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Format::GzipText);
        assert_eq!(sniff(b"version account-id"), Format::Text);
        assert_eq!(sniff(b""), Format::Text);
        assert_eq!(sniff(b"PAR"), Format::Text);
        assert_eq!(
            sniff(b"\n  {\"time\": 1, \"class_uid\": 4001}\n"),
            Format::OcsfJson
        );
        // A class named on the second line only is not sniffed as OCSF.
        assert_eq!(sniff(b"{\n\"class_uid\": 4001}"), Format::Text);
        assert_eq!(
            sniff(b"2026-11-01T07:00:03.000Z 2 123456789012 eni-0a1"),
            Format::CloudWatchExport
        );
        assert_eq!(
            sniff(b"{\n    \"events\": [\n        {\n            \"logStreamName\""),
            Format::LogEvents
        );
        assert_eq!(sniff(b"{\"events\": []}"), Format::LogEvents);
        // OCSF JSON Lines are not log events, whatever keys follow the class.
        assert_eq!(
            sniff(b"{\"class_uid\": 4001, \"events\": 1}"),
            Format::OcsfJson
        );
    }
}
