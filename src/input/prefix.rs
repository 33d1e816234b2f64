//! The timestamp prefix of a CloudWatch Logs export's lines ([`timestamp_prefix`]), and
//! the reader that takes it off each line on the way into the text decoder
//! ([`Unprefixed`]) while noting what it removed ([`Shifts`]), so that the byte offsets of
//! rejected lines are put back to the file's ([`Shifted`]). The text form uses it for any
//! unit whose first non-blank line has the prefix (see [`super::export`]).

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

use arrow::record_batch::RecordBatch;

use super::ScanSink;
use crate::error::{FileError, Reject};
use crate::source::Source;

/// The longest prefix looked for: `2026-11-01T07:00:03.123456789+05:30 `.
pub const MAX_PREFIX: usize = 40;

/// The length of the timestamp prefix of `line` with the space after it, if the line
/// starts with one: an RFC 3339 date and time (`YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction of 1 to 9 digits, then `Z` or `±HH:MM`) and one space.
pub fn timestamp_prefix(line: &[u8]) -> Option<usize> {
    let digits = |r: std::ops::Range<usize>| {
        line.get(r)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, b: u8| line.get(i) == Some(&b);
    let date_time = digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && (at(10, b'T') || at(10, b't'))
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19);
    if !date_time {
        return None;
    }
    let mut i = 19;
    if at(i, b'.') {
        let n = line[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=9).contains(&n) {
            return None;
        }
        i += 1 + n;
    }
    if at(i, b'Z') || at(i, b'z') {
        i += 1;
    } else if (at(i, b'+') || at(i, b'-')) && digits(i + 1..i + 3) && at(i + 3, b':') {
        if !digits(i + 4..i + 6) {
            return None;
        }
        i += 6;
    } else {
        return None;
    }
    at(i, b' ').then_some(i + 1)
}

/// Whether the first non-blank line of `head` starts with a timestamp prefix.
pub fn starts_prefixed(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l))
        .find(|l| !l.trim_ascii().is_empty())
        .is_some_and(|l| timestamp_prefix(l).is_some())
}

/// How many bytes were removed from the lines of a unit, for putting byte offsets back:
/// one entry per run of lines that lost the same number of bytes each.
#[derive(Debug, Default)]
pub struct Shifts {
    /// `(first line of the run, bytes removed from each of its lines, bytes removed
    /// before it)`.
    runs: Vec<(u64, u64, u64)>,
    /// Lines noted so far.
    lines: u64,
}

impl Shifts {
    /// Line `lines + 1` lost `removed` bytes.
    fn note(&mut self, removed: u64) {
        self.lines += 1;
        let line = self.lines;
        match self.runs.last() {
            Some(&(_, each, _)) if each == removed => {}
            _ => {
                let before = self.removed_before(line);
                self.runs.push((line, removed, before));
            }
        }
    }

    /// Bytes removed from the lines before `line` (1-based).
    pub fn removed_before(&self, line: u64) -> u64 {
        let i = self.runs.partition_point(|r| r.0 <= line);
        match i.checked_sub(1).map(|i| self.runs[i]) {
            Some((first, each, before)) => before + (line - first) * each,
            None => 0,
        }
    }
}

/// A reader of export text that passes each line on without its timestamp prefix (a
/// line without one is passed whole), noting what it removed in [`Shifts`]. For a gzip
/// input, a read returns 0 at the end of each member, as the reader it wraps does.
pub struct Unprefixed<R> {
    inner: R,
    raw: Vec<u8>,
    pos: usize,
    at_line_start: bool,
    /// The reader returned 0 (end of input or of a gzip member) while a line's start
    /// was being looked at: returned once the bytes before it are passed on.
    ended: bool,
    shifts: Rc<RefCell<Shifts>>,
}

impl<R: Read> Unprefixed<R> {
    /// Reads `head` (bytes already read from `inner`), then `inner`.
    pub fn new(head: Vec<u8>, inner: R) -> Unprefixed<R> {
        Unprefixed {
            inner,
            raw: head,
            pos: 0,
            at_line_start: true,
            ended: false,
            shifts: Rc::default(),
        }
    }

    /// What was removed, line by line.
    pub fn shifts(&self) -> Rc<RefCell<Shifts>> {
        self.shifts.clone()
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The reader's end of input (or member) was seen and is now reported.
    pub fn resume(&mut self) {
        self.ended = false;
    }

    /// Reads more from `inner` after what is unconsumed; false at its end.
    fn more(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        self.raw.drain(..self.pos);
        self.pos = 0;
        let have = self.raw.len();
        self.raw.resize(have + 64 * 1024, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[have..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        self.raw.truncate(have + *n.as_ref().unwrap_or(&0));
        let n = n?;
        if n == 0 {
            self.ended = true;
        }
        Ok(n > 0)
    }
}

impl<R: Read> Read for Unprefixed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos == self.raw.len() && !self.more()? {
                return Ok(0);
            }
            if self.at_line_start {
                // Enough of the line to see its prefix, or all of it.
                while self.raw.len() - self.pos < MAX_PREFIX
                    && memchr::memchr(b'\n', &self.raw[self.pos..]).is_none()
                    && self.more()?
                {}
                let removed = timestamp_prefix(&self.raw[self.pos..]).unwrap_or(0);
                self.pos += removed;
                self.shifts.borrow_mut().note(removed as u64);
                self.at_line_start = false;
            }
            let rest = &self.raw[self.pos..];
            let k = rest.len().min(out.len());
            let k = memchr::memchr(b'\n', &rest[..k]).map_or(k, |i| i + 1);
            out[..k].copy_from_slice(&rest[..k]);
            self.pos += k;
            if k > 0 && out[k - 1] == b'\n' {
                self.at_line_start = true;
            }
            if k > 0 {
                return Ok(k);
            }
        }
    }
}

/// A sink that puts the byte offsets of rejected lines back to the file's (see
/// [`Shifts`]) and passes everything else on.
pub struct Shifted<'a> {
    pub inner: &'a mut dyn ScanSink,
    pub shifts: Rc<RefCell<Shifts>>,
}

impl ScanSink for Shifted<'_> {
    fn batch(&mut self, source: &Source, batch: RecordBatch) -> Result<(), crate::Error> {
        self.inner.batch(source, batch)
    }

    fn reject(&mut self, source: &Source, reject: &Reject) -> Result<(), crate::Error> {
        let moved = Reject {
            byte_offset: reject.byte_offset + self.shifts.borrow().removed_before(reject.line),
            ..reject.clone()
        };
        self.inner.reject(source, &moved)
    }

    fn file_error(&mut self, source: &Source, error: FileError) -> Result<(), crate::Error> {
        self.inner.file_error(source, error)
    }

    fn progress(&mut self, raw_bytes: u64) {
        self.inner.progress(raw_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_prefixes_of_exports_are_told() {
        let line = b"2026-11-01T07:00:03.000Z 2 123456789012 eni-0a1 -";
        assert_eq!(timestamp_prefix(line), Some(25));
        assert_eq!(timestamp_prefix(b"2026-11-01T07:00:03Z 2"), Some(21));
        assert_eq!(
            timestamp_prefix(b"2026-11-01T07:00:03.123456+01:00 2"),
            Some(33)
        );
        // No space after it, no zone, a flow-log line, a header.
        assert_eq!(timestamp_prefix(b"2026-11-01T07:00:03.000Z"), None);
        assert_eq!(timestamp_prefix(b"2026-11-01T07:00:03 2"), None);
        assert_eq!(timestamp_prefix(b"2 123456789012 eni-0a1"), None);
        assert_eq!(timestamp_prefix(b"version account-id"), None);
        assert_eq!(timestamp_prefix(b"2026-11-01T07:00:03.Z 2"), None);
        assert!(starts_prefixed(b"\n\n2026-11-01T07:00:03.000Z 2 x\n"));
        assert!(!starts_prefixed(
            b"2 123 eni-1\n2026-11-01T07:00:03.000Z 2 x\n"
        ));
    }

    #[test]
    fn prefixes_are_stripped_line_by_line_and_offsets_put_back() {
        let text = b"2026-11-01T07:00:03.000Z a b\n\nno prefix\n2026-11-01T07:00:04Z c\n";
        // Read a few bytes at a time, across every boundary.
        let mut r = Unprefixed::new(Vec::new(), &text[..]);
        let mut got = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"a b\n\nno prefix\nc\n");
        let shifts = r.shifts();
        let s = shifts.borrow();
        // Line 4 starts at byte 29 + 1 + 10 = 40 of the file, 4 + 1 + 10 = 15 of the
        // stripped text.
        assert_eq!(s.removed_before(1), 0);
        assert_eq!(s.removed_before(2), 25);
        assert_eq!(s.removed_before(4), 25);
        assert_eq!(s.removed_before(5), 25 + 21);
        assert_eq!(15 + s.removed_before(4), 40);
    }
}
