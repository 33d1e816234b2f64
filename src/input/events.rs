//! `aws logs filter-log-events` and `get-log-events` output ([`LogEvents`]): one or
//! more JSON documents (the CLI's pages, concatenated when saved one after the other)
//! whose `events` array holds the log events, each with its flow-log line as `message`:
//!
//! ```json
//! {
//!     "events": [
//!         {
//!             "logStreamName": "eni-0a1b2c3d4e5f60718-all",
//!             "timestamp": 1793516403000,
//!             "message": "2 123456789012 eni-0a1b2c3d4e5f60718 10.0.1.5 ... ACCEPT OK",
//!             "ingestionTime": 1793516410000,
//!             "eventId": "3837..."
//!         }
//!     ],
//!     "searchedLogStreams": []
//! }
//! ```
//!
//! `get-log-events` has the same events without `logStreamName` and `eventId`, and
//! `nextForwardToken`/`nextBackwardToken` beside them. Each message is a line of the
//! `--fields` layout (the default v2 format without it), read by the text decoder: an event
//! counts as a line, and a rejected one is reported at the line of the file where its event
//! starts (its byte offset that of the event's `{`). A document that is not JSON, or has no
//! `events`, ends the reading of the file there with its position, keeping the events
//! before it.

use std::borrow::Cow;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Form, Out, ScanOptions, Sniffed, Split, Unit};
use crate::error::{FileError, LineCounts, Reject, RejectKind};
use crate::format::Layout;

/// The log-events JSON form ([`super::Format::LogEvents`]).
pub struct LogEvents;

/// Whether `head` starts a log-events document: a JSON object whose first key is
/// `"events"` (as the CLI writes it), or one that names `"events"` and a key only log
/// events have, and no OCSF `"class_uid"`.
pub fn is_log_events(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(rest) = text.trim_ascii_start().strip_prefix(b"{") else {
        return false;
    };
    if rest.trim_ascii_start().starts_with(b"\"events\"") {
        return true;
    }
    let has = |needle: &[u8]| memchr::memmem::find(text, needle).is_some();
    has(b"\"events\"")
        && (has(b"\"ingestionTime\"") || has(b"\"logStreamName\""))
        && !has(b"\"class_uid\"")
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    events: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

impl Form for LogEvents {
    /// Read whole: a JSON document cannot be entered in the middle.
    fn split(_path: &Path, _head: &[u8], _chunk: u64) -> Option<Split> {
        None
    }

    fn read(
        unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error> {
        let mut bytes = Vec::new();
        let read = match input.stream {
            Some(mut s) => s.read_to_end(&mut bytes),
            None => unit
                .source
                .open(raw.clone())
                .and_then(|mut s| s.read_to_end(&mut bytes)),
        };
        if let Err(e) = read {
            out.file_error(FileError::Unreadable(e))?;
            return Ok(None);
        }
        read_bytes(&bytes, options, out)
    }
}

/// Reads the log events of `bytes` (a whole input; the text form hands on a gzip of
/// them once inflated).
pub fn read_bytes(
    bytes: &[u8],
    options: &ScanOptions,
    out: &mut Out,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let (lines, positions, broken) = messages(bytes);
    out.stats.text_bytes += lines.len() as u64;
    let mut decoder = super::decoder(options, 0);
    let mut start = 0;
    // Rejected events, handed on in file order once all are known (those without a
    // message are not fed to the decoder).
    let mut rejects: Vec<Reject> = positions
        .missing
        .iter()
        .map(|&(line, byte_offset)| Reject {
            line,
            byte_offset,
            kind: RejectKind::NoMessage,
        })
        .collect();
    loop {
        start += decoder.finish(&lines[start..]);
        rejects.extend(
            decoder
                .take_rejects()
                .into_iter()
                .map(|r| placed(&positions, r)),
        );
        if !decoder.ready() {
            break;
        }
        emit(&mut decoder, out)?;
    }
    emit(&mut decoder, out)?;
    rejects.sort_by_key(|r| r.byte_offset);
    for r in &rejects {
        out.sink.reject(out.source, r)?;
    }
    let mut counts = decoder.counts();
    counts.lines += positions.missing.len() as u64;
    counts.rejected += positions.missing.len() as u64;
    out.stats.counts += counts;
    if let Some((line, byte, error)) = broken {
        out.file_error(FileError::Interrupted {
            line,
            byte,
            error: io::Error::new(io::ErrorKind::InvalidData, error),
            dropped: LineCounts::default(),
            unverified: 0,
        })?;
    }
    Ok(Some(decoder.layout().clone()))
}

/// Where each event's line of text is in the file.
#[derive(Default)]
struct Positions {
    /// Per message fed to the decoder: its event's line and byte offset in the file.
    of_line: Vec<(u64, u64)>,
    /// Events without a message: their line and byte offset.
    missing: Vec<(u64, u64)>,
}

/// The messages of every event in `bytes`, one a line, with their positions, and where
/// the documents stopped being log events (line, byte, why), if they did.
fn messages(bytes: &[u8]) -> (Vec<u8>, Positions, Option<(u64, u64, String)>) {
    let mut lines = Vec::new();
    let mut positions = Positions::default();
    let base = bytes.as_ptr() as usize;
    // Lines before `counted`, counted incrementally as events come in file order.
    let (mut counted, mut line) = (0usize, 1u64);
    let mut line_of = |offset: usize| {
        line += memchr::memchr_iter(b'\n', &bytes[counted..offset]).count() as u64;
        counted = offset;
        line
    };
    let mut docs = serde_json::Deserializer::from_slice(bytes).into_iter::<Page>();
    let broken = loop {
        let at = docs.byte_offset();
        match docs.next() {
            None => break None,
            Some(Ok(Page {
                events: Some(events),
            })) => {
                for raw in events {
                    let offset = raw.get().as_ptr() as usize - base;
                    let here = (line_of(offset), offset as u64);
                    match serde_json::from_str::<Event>(raw.get()) {
                        Ok(Event {
                            message: Some(m), ..
                        }) => {
                            lines.extend(m.bytes().map(|b| match b {
                                b'\n' | b'\r' => b' ',
                                b => b,
                            }));
                            lines.push(b'\n');
                            positions.of_line.push(here);
                        }
                        _ => positions.missing.push(here),
                    }
                }
            }
            Some(Ok(Page { events: None })) => {
                let at = at
                    + bytes[at..]
                        .iter()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count();
                let line = line_of(at);
                break Some((line, at as u64, "a JSON document without \"events\"".into()));
            }
            Some(Err(e)) => {
                let at = at.max(docs.byte_offset());
                break Some((
                    line_of(at.min(bytes.len())),
                    at as u64,
                    format!("not log events JSON: {e}"),
                ));
            }
        }
    };
    (lines, positions, broken)
}

/// A rejected message, placed at its event's line and byte offset in the file.
fn placed(positions: &Positions, r: Reject) -> Reject {
    let (line, byte_offset) = usize::try_from(r.line)
        .ok()
        .and_then(|l| positions.of_line.get(l.wrapping_sub(1)))
        .copied()
        .unwrap_or((r.line, r.byte_offset));
    Reject {
        line,
        byte_offset,
        ..r
    }
}

/// Hands the decoder's batch on (and counts what the time window left out).
fn emit(decoder: &mut crate::parse::Decoder, out: &mut Out) -> Result<(), crate::Error> {
    out.stats.outside_window += decoder.take_outside();
    if let Some(batch) = decoder.flush().filter(|b| b.num_rows() > 0) {
        out.sink.batch(out.source, batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_events_are_told_from_other_json() {
        assert!(is_log_events(b"{\n    \"events\": [\n"));
        assert!(is_log_events(
            b"{\"nextForwardToken\": \"f/1\", \"events\": [{\"timestamp\": 1, \"ingestionTime\": 2"
        ));
        assert!(!is_log_events(b"{\"class_uid\": 4001, \"events\": []}"));
        assert!(!is_log_events(b"{\"Records\": []}"));
        assert!(!is_log_events(b"2 123 eni-1"));
    }

    #[test]
    fn messages_keep_their_events_positions_across_pages() {
        let json = b"{\n  \"events\": [\n    {\"message\": \"a b\"},\n    {\"timestamp\": 1}\n  ]\n}\n{\"events\": [{\"message\": \"c\\nd\"}], \"nextToken\": \"x\"}\n";
        let (lines, positions, broken) = messages(json);
        assert_eq!(lines, b"a b\nc d\n");
        assert!(broken.is_none());
        let text = std::str::from_utf8(json).unwrap();
        let first = text.find("{\"message\": \"a").unwrap() as u64;
        let third = text.find("{\"message\": \"c").unwrap() as u64;
        assert_eq!(positions.of_line, vec![(3, first), (7, third)]);
        assert_eq!(positions.missing.len(), 1);
        assert_eq!(positions.missing[0].0, 4);
    }

    #[test]
    fn a_document_that_is_not_log_events_stops_the_file_with_its_line() {
        let (lines, _, broken) =
            messages(b"{\"events\": [{\"message\": \"x\"}]}\n{\"Records\": []}\n");
        assert_eq!(lines, b"x\n");
        let (line, _, why) = broken.unwrap();
        assert_eq!(line, 2);
        assert!(why.contains("without \"events\""), "{why}");
    }
}
