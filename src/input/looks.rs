//! What an input that yields no flow-log record looks like ([`Look`]), told from its first
//! bytes ([`look`]), for the error (or, among other inputs, the warning) that names it:
//! a run that reads lines but no record is an error, never an empty answer.

use std::fmt;
use std::io::{BufRead, Read};

use crate::source::Source;

/// What an input's first bytes look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// OCSF events as JSON (a `class_uid` key).
    OcsfJson,
    /// A CloudWatch Logs export: lines prefixed with a timestamp.
    CloudWatchExport,
    /// `aws logs filter-log-events`/`get-log-events` output.
    LogEvents,
    /// Other JSON (an object or an array).
    Json,
    /// HTML.
    Html,
    /// XML.
    Xml,
    /// Comma-separated values.
    Csv,
    /// Tab-separated values.
    TabSeparated,
    /// Parquet whose rows were all rejected.
    Parquet,
    /// Binary data (NUL or control bytes, or not UTF-8).
    Binary,
    /// Space-separated text: flow-log lines of another layout than the one used.
    SpaceSeparated,
    /// Some other text.
    Text,
}

impl fmt::Display for Look {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Look::OcsfJson => "OCSF JSON (Security Lake or CloudWatch's parseToOCSF)",
            Look::CloudWatchExport => {
                "a CloudWatch Logs export (lines prefixed with a timestamp) whose messages \
                 are not flow-log lines of the layout used (give it with --fields)"
            }
            Look::LogEvents => {
                "CloudWatch Logs events JSON whose messages are not flow-log lines of the \
                 layout used (give it with --fields)"
            }
            Look::Json => "JSON",
            Look::Html => "HTML",
            Look::Xml => "XML",
            Look::Csv => "CSV (comma-separated)",
            Look::TabSeparated => "tab-separated text",
            Look::Parquet => "Parquet whose rows are not flow-log records (see the rejected rows)",
            Look::Binary => "binary data",
            Look::SpaceSeparated => {
                "space-separated text that is not flow-log lines of the layout used (give \
                 the layout with a header line or --fields)"
            }
            Look::Text => "text that is not flow-log lines",
        })
    }
}

/// What the input starting with `head` (decompressed) looks like, from its first
/// non-blank line.
pub fn look(head: &[u8]) -> Look {
    if head.starts_with(b"PAR1") {
        return Look::Parquet;
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let body = text.trim_ascii_start();
    let line = body
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
        .trim_ascii_end();
    // Control bytes, or bytes that are not UTF-8 (an incomplete character at the end of
    // what was read is no sign).
    let binary = line
        .iter()
        .any(|&b| b == 0 || (b < 0x20 && !b"\t\r\x0c".contains(&b)))
        || std::str::from_utf8(line)
            .err()
            .is_some_and(|e| e.error_len().is_some());
    if binary {
        return Look::Binary;
    }
    let has = |needle: &[u8]| memchr::memmem::find(body, needle).is_some();
    let lower = line.to_ascii_lowercase();
    if body.starts_with(b"{") || body.starts_with(b"[") {
        return if has(b"\"class_uid\"") {
            Look::OcsfJson
        } else if super::events::is_log_events(body) {
            Look::LogEvents
        } else {
            Look::Json
        };
    }
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Look::Html;
    }
    if lower.starts_with(b"<?xml") || lower.starts_with(b"<") && has(b"</") {
        return if has(b"<html") || has(b"<HTML") {
            Look::Html
        } else {
            Look::Xml
        };
    }
    if super::prefix::timestamp_prefix(line).is_some() {
        return Look::CloudWatchExport;
    }
    let count = |b: u8| memchr::memchr_iter(b, line).count();
    let (tabs, commas, spaces) = (count(b'\t'), count(b','), count(b' '));
    if tabs > 0 && tabs >= spaces {
        Look::TabSeparated
    } else if commas > 0 && commas >= spaces {
        Look::Csv
    } else if spaces > 0 {
        Look::SpaceSeparated
    } else {
        Look::Text
    }
}

/// The first bytes of stdin's text, as the text form read them (stdin cannot be read
/// twice).
static STDIN_HEAD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// Keeps the first bytes of stdin's text for [`look_of`].
pub fn note_stdin(head: &[u8]) {
    let _ = STDIN_HEAD.set(head.to_vec());
}

/// What a source looks like, from its first 64 KiB (inflated when gzip; for stdin, what
/// the text form read first); `None` when it cannot be read again (a file gone).
pub fn look_of(source: &Source) -> Option<Look> {
    if matches!(source, Source::Stdin) {
        return STDIN_HEAD.get().map(|h| look(h));
    }
    let raw = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut stream = source.open(raw).ok()?;
    let gzip = stream.fill_buf().ok()?.starts_with(&[0x1f, 0x8b]);
    let mut head = Vec::new();
    let limit = 64 * 1024;
    let read = if gzip {
        flate2::bufread::MultiGzDecoder::new(stream)
            .take(limit)
            .read_to_end(&mut head)
    } else {
        stream.take(limit).read_to_end(&mut head)
    };
    // A damaged gzip: what was inflated before the damage.
    if read.is_err() && head.is_empty() {
        return None;
    }
    Some(look(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_look_is_told_from_a_real_shape() {
        let cases: [(&[u8], Look); 12] = [
            (
                b"{\"metadata\":{\"product\":{\"name\":\"Amazon VPC\"},\"version\":\"1.1.0\"},\"class_uid\":4001,\"category_uid\":4}\n",
                Look::OcsfJson,
            ),
            (
                b"2026-11-01T07:00:03.000Z 2 123456789012 eni-0a1 -\n",
                Look::CloudWatchExport,
            ),
            (
                b"{\n    \"events\": [\n        {\n            \"logStreamName\": \"x\",\n",
                Look::LogEvents,
            ),
            (b"[{\"eni_id\": \"eni-1\"}]", Look::Json),
            (
                b"<!DOCTYPE html>\n<html lang=\"en\"><head>",
                Look::Html,
            ),
            (b"<?xml version=\"1.0\"?>\n<Error>", Look::Xml),
            (
                b"version,account_id,interface_id,srcaddr\n2,1234,eni-1,10.0.0.1\n",
                Look::Csv,
            ),
            (
                b"2\t123456789012\teni-0a1\t10.0.0.1\t10.0.0.2\n",
                Look::TabSeparated,
            ),
            (b"PAR1\x15\x04", Look::Parquet),
            (b"\x00\x01\x02binary", Look::Binary),
            (
                b"\n\n2 123456789012 eni-0a1 10.0.0.1 10.0.0.2 443\n",
                Look::SpaceSeparated,
            ),
            (b"hello\n", Look::Text),
        ];
        for (head, want) in cases {
            assert_eq!(look(head), want, "{}", head.escape_ascii());
        }
        assert!(Look::Csv.to_string().contains("CSV"));
        assert!(Look::OcsfJson.to_string().contains("OCSF"));
    }
}
