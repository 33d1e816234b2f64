//! A CloudWatch Logs export ([`Export`]): flow-log text whose every line is prefixed with
//! its event's timestamp and a space, as S3 export tasks (`CreateExportTask`, plain or
//! gzip objects) and console downloads write it:
//!
//! ```text
//! 2026-11-01T07:00:03.000Z 2 123456789012 eni-0a1 10.0.0.5 10.0.0.9 443 49152 6 10 840 1793516403 1793516463 ACCEPT OK
//! ```
//!
//! The prefix is told from content, per unit, by its first non-blank line (a gzip
//! export can only be told once inflated, a chunk of a large export only at its own first
//! line), and stripped from each line on the way into the flow-log text decoder
//! ([`super::prefix::Unprefixed`]): the decoder is the text form's, and plain text does
//! not pass through the stripping. The flow-log fields after the prefix have the layout of
//! `--fields` (an export has no header line; the default v2 format without it). Line
//! numbers are the file's; the byte offsets of rejected lines are put back to the file's.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::{text, Form, Out, ScanOptions, Sniffed, Split, Unit};
use crate::format::Layout;

/// The CloudWatch Logs export form ([`super::Format::CloudWatchExport`]).
pub struct Export;

impl Form for Export {
    /// At newlines, as plain text: each chunk finds the prefix at its own first line.
    fn split(path: &Path, head: &[u8], chunk: u64) -> Option<Split> {
        text::Text::split(path, head, chunk)
    }

    /// The text form's read, which strips the prefix it finds (see the module docs).
    fn read(
        unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error> {
        text::Text::read(unit, input, options, out, raw)
    }
}
