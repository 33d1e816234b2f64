//! The push decoder: flow-log bytes in, whole lines consumed, `RecordBatch`es out.
//!
//! It never does I/O, so the same decoder serves a plain file, a gzip stream, stdin or
//! a newline-aligned range of a memory-mapped file (the arrow-csv `Decoder` contract):
//!
//! ```
//! use vpcflow::parse::{Decoder, DecoderOptions};
//! let text = b"2 123456789010 eni-0a1 10.0.0.1 10.0.0.2 443 49152 6 10 840 1439387263 1439387264 ACCEPT OK\n";
//! let mut decoder = Decoder::new(DecoderOptions::default());
//! let consumed = decoder.decode(text);
//! assert_eq!(consumed, text.len());
//! let batch = decoder.flush().unwrap();
//! assert_eq!(batch.num_rows(), 1);
//! assert_eq!(decoder.counts().records, 1);
//! ```
//!
//! [`Decoder::decode`] consumes complete lines only and stops early when a batch is full
//! or a header line changes the layout; the caller then calls [`Decoder::flush`] and
//! feeds the rest again. At the end of the input, [`Decoder::finish`] takes a final
//! line that has no newline.
//!
//! Each line is validated into a reused `Vec<Value>` before anything is appended, so a
//! bad line is rejected whole (counted, with its position and a message naming the
//! field and the offending text) and never leaves half a record. Nothing allocates per
//! line except the message of a rejected one.

use std::net::Ipv6Addr;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use memchr::memchr;

use crate::batch::{BatchBuilder, Projection, Value};
use crate::format::{classify, Kind, Layout, LineClass};

/// How a [`Decoder`] is set up.
#[derive(Clone, Debug)]
pub struct DecoderOptions {
    /// Rows per batch (at least 1).
    pub batch_size: usize,
    /// The layout for headerless input (`--fields`); the AWS default v2 when `None`.
    /// A header line in the input always takes precedence from where it appears.
    pub layout: Option<Arc<Layout>>,
    /// Only these columns are converted and built; `None` builds every column.
    pub projection: Option<Arc<Projection>>,
    /// Longest line accepted, in bytes (without its newline). A longer line is
    /// rejected with its position and skipped without being held in memory.
    pub max_line_bytes: usize,
}

/// The default longest line: flow-log records are a few hundred bytes; a v11 record
/// with every tag is a few kilobytes.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// The largest `max_line_bytes` allowed: a batch's string columns must stay under
/// Arrow's 2 GiB offsets.
pub const MAX_MAX_LINE_BYTES: usize = 1 << 30;

/// A batch is flushed once its lines add up to this many bytes, whatever its row count,
/// so that string columns stay far below Arrow's 2 GiB offset limit.
pub const BATCH_BYTES: usize = 64 << 20;

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            batch_size: 8192,
            layout: None,
            projection: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// What happened to the lines consumed so far. Always
/// `lines == records + rejected + headers + blanks`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    pub lines: u64,
    pub records: u64,
    pub rejected: u64,
    pub headers: u64,
    pub blanks: u64,
}

impl std::ops::Sub for LineCounts {
    type Output = LineCounts;
    fn sub(self, o: LineCounts) -> LineCounts {
        LineCounts {
            lines: self.lines - o.lines,
            records: self.records - o.records,
            rejected: self.rejected - o.rejected,
            headers: self.headers - o.headers,
            blanks: self.blanks - o.blanks,
        }
    }
}

impl std::ops::AddAssign for LineCounts {
    fn add_assign(&mut self, o: LineCounts) {
        self.lines += o.lines;
        self.records += o.records;
        self.rejected += o.rejected;
        self.headers += o.headers;
        self.blanks += o.blanks;
    }
}

pub use crate::error::{Excerpt, FieldProblem, Reject, RejectKind};

/// The push decoder; see the module documentation.
pub struct Decoder {
    builder: BatchBuilder,
    projection: Option<Arc<Projection>>,
    /// A layout announced by a header line while rows of the old one were buffered.
    pending: Option<Arc<Layout>>,
    batch_size: usize,
    max_line_bytes: usize,
    /// Bytes of the lines in the builder.
    batch_bytes: usize,
    /// Bytes at the start of the unconsumed input known to hold no newline: the next
    /// call goes on searching from there (the caller feeds them again).
    scanned: usize,
    /// Inside an overlong line that was rejected: bytes are dropped up to its newline.
    skipping: bool,
    line: u64,
    offset: u64,
    counts: LineCounts,
    rejects: Vec<Reject>,
    spans: Vec<(u32, u32)>,
    values: Vec<Value>,
}

impl Decoder {
    pub fn new(options: DecoderOptions) -> Decoder {
        let layout = options
            .layout
            .unwrap_or_else(|| Arc::new(Layout::default_v2()));
        let batch_size = options.batch_size.max(1);
        Decoder {
            builder: BatchBuilder::new(layout, batch_size.min(8192), options.projection.as_deref()),
            projection: options.projection,
            pending: None,
            batch_size,
            max_line_bytes: options.max_line_bytes.clamp(1, MAX_MAX_LINE_BYTES),
            batch_bytes: 0,
            scanned: 0,
            skipping: false,
            line: 0,
            offset: 0,
            counts: LineCounts::default(),
            rejects: Vec::new(),
            spans: Vec::with_capacity(64),
            values: Vec::with_capacity(64),
        }
    }

    /// Continues line numbers and offsets from a position other than the start of the
    /// stream (for a newline-aligned range of a larger file).
    pub fn with_position(mut self, lines_before: u64, bytes_before: u64) -> Decoder {
        self.line = lines_before;
        self.offset = bytes_before;
        self
    }

    /// Consumes complete lines from `buf` and returns how many bytes it used. It stops
    /// before the end when [`Decoder::ready`] becomes true; call [`Decoder::flush`] and
    /// feed the rest again. Bytes after the last newline are left for the next call,
    /// which must start with them (the search for their newline goes on where it
    /// stopped, so a long line arriving in many small pieces costs linear time). Of a
    /// line longer than the limit, the bytes are consumed and dropped as they come.
    pub fn decode(&mut self, buf: &[u8]) -> usize {
        self.decode_lines(buf, false)
    }

    /// Like [`Decoder::decode`], but `buf` ends the input: a final line without a
    /// newline is decoded too. Call until it has consumed all of `buf`, flushing
    /// whenever [`Decoder::ready`] is true.
    pub fn finish(&mut self, buf: &[u8]) -> usize {
        self.decode_lines(buf, true)
    }

    /// True when a batch must be flushed before more input is decoded.
    pub fn ready(&self) -> bool {
        self.builder.rows() >= self.batch_size
            || self.batch_bytes >= BATCH_BYTES
            || self.pending.is_some()
    }

    /// Rows buffered and not flushed yet.
    pub fn buffered_rows(&self) -> usize {
        self.builder.rows()
    }

    /// The buffered rows as a batch (`None` if there are none), then switches to a
    /// layout announced by a header line, if any.
    pub fn flush(&mut self) -> Option<RecordBatch> {
        let batch = (self.builder.rows() > 0).then(|| self.builder.finish());
        self.batch_bytes = 0;
        if let Some(layout) = self.pending.take() {
            self.builder = self.builder_for(layout);
        }
        batch
    }

    /// Counts of the lines consumed so far.
    pub fn counts(&self) -> LineCounts {
        self.counts
    }

    /// Lines consumed so far (the number of the last line consumed).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The layout records are decoded with now.
    pub fn layout(&self) -> &Arc<Layout> {
        self.pending.as_ref().unwrap_or(self.builder.layout())
    }

    /// Takes the rejected lines collected since the last call.
    pub fn take_rejects(&mut self) -> Vec<Reject> {
        std::mem::take(&mut self.rejects)
    }

    /// Rejected lines collected and not taken yet.
    pub fn rejects(&self) -> &[Reject] {
        &self.rejects
    }

    /// The input ends inside a line (`rest`, its bytes so far) because reading broke
    /// off: the line is rejected as cut, never decoded from what arrived of it.
    pub fn cut(&mut self, rest: &[u8]) {
        self.scanned = 0;
        if std::mem::take(&mut self.skipping) {
            self.offset += rest.len() as u64;
            return;
        }
        if rest.is_empty() {
            return;
        }
        self.start_line(rest.len() as u64);
        let at = self.offset - rest.len() as u64;
        self.reject(at, RejectKind::Cut { bytes: rest.len() });
    }

    fn decode_lines(&mut self, buf: &[u8], eof: bool) -> usize {
        let mut pos = 0;
        while pos < buf.len() && !self.ready() {
            if self.skipping {
                // The rest of an overlong line already rejected.
                let (next, done) = match memchr(b'\n', &buf[pos..]) {
                    Some(i) => (pos + i + 1, true),
                    None => (buf.len(), false),
                };
                self.offset += (next - pos) as u64;
                self.skipping = !done;
                pos = next;
                continue;
            }
            let from = pos + self.scanned.min(buf.len() - pos);
            let (end, next) = match memchr(b'\n', &buf[from..]) {
                Some(i) => (from + i, from + i + 1),
                None if eof => (buf.len(), buf.len()),
                None if buf.len() - pos > self.max_line_bytes => {
                    // Too long already and no end in sight: reject it now and drop its
                    // bytes as they come, holding none of them.
                    self.scanned = 0;
                    self.overlong(buf.len() - pos);
                    self.skipping = true;
                    return buf.len();
                }
                None => {
                    self.scanned = buf.len() - pos;
                    break;
                }
            };
            self.scanned = 0;
            if end - pos > self.max_line_bytes {
                self.overlong(next - pos);
            } else {
                self.process_line(&buf[pos..end], (next - pos) as u64);
            }
            pos = next;
        }
        pos
    }

    /// Counts a new line of `consumed` bytes (newline included).
    fn start_line(&mut self, consumed: u64) {
        self.line += 1;
        self.counts.lines += 1;
        self.offset += consumed;
    }

    /// Rejects the line starting here as longer than the limit; `consumed` of its bytes
    /// are used up.
    fn overlong(&mut self, consumed: usize) {
        let at = self.offset;
        self.start_line(consumed as u64);
        self.reject(
            at,
            RejectKind::TooLong {
                max: self.max_line_bytes,
            },
        );
    }

    fn process_line(&mut self, raw: &[u8], consumed: u64) {
        let byte_offset = self.offset;
        self.start_line(consumed);
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        // A UTF-8 byte order mark (Windows editors put one before a header line).
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);

        self.spans.clear();
        split_spaces(line, &mut self.spans);
        if self.spans.is_empty() {
            self.counts.blanks += 1;
            return;
        }
        let first = line[self.spans[0].0 as usize];
        if first.is_ascii_alphabetic() || first == b'$' {
            let (layout, spans) = (self.builder.layout(), &self.spans);
            let class = classify(line, spans, layout, || {
                validate(layout, spans, line, &mut Vec::new()).is_ok()
            });
            match class {
                LineClass::Header(layout) => return self.header(layout),
                LineClass::BadHeader(e) => {
                    self.reject(byte_offset, RejectKind::Header(e.clone()));
                    return self.switch(Layout::unusable(e));
                }
                LineClass::Record => {}
            }
        }
        if let Some(why) = self.builder.layout().unusable_because() {
            let why = why.clone();
            return self.reject(byte_offset, RejectKind::NoLayout(why));
        }
        match validate(self.builder.layout(), &self.spans, line, &mut self.values) {
            Ok(()) => {
                self.builder.append(line, &self.values);
                self.batch_bytes += line.len();
                self.counts.records += 1;
            }
            Err(kind) if kind.is_field_count() && memchr(b'\t', line).is_some() => {
                self.reject(byte_offset, RejectKind::Tabs)
            }
            Err(kind) => self.reject(byte_offset, kind),
        }
    }

    fn header(&mut self, layout: Layout) {
        self.counts.headers += 1;
        self.switch(layout);
    }

    /// Decodes the following lines with `layout` (after the buffered rows are flushed).
    fn switch(&mut self, layout: Layout) {
        if **self.layout() != layout {
            let layout = Arc::new(layout);
            if self.builder.rows() == 0 {
                self.pending = None;
                self.builder = self.builder_for(layout);
            } else {
                self.pending = Some(layout);
            }
        }
    }

    fn builder_for(&self, layout: Arc<Layout>) -> BatchBuilder {
        BatchBuilder::new(
            layout,
            self.batch_size.min(8192),
            self.projection.as_deref(),
        )
    }

    fn reject(&mut self, byte_offset: u64, kind: RejectKind) {
        self.counts.rejected += 1;
        self.rejects.push(Reject {
            line: self.line,
            byte_offset,
            kind,
        });
    }
}

/// Converts every token of `line` (at `spans`) into `values`, or says what the first
/// problem is.
fn validate(
    layout: &Layout,
    spans: &[(u32, u32)],
    line: &[u8],
    values: &mut Vec<Value>,
) -> Result<(), RejectKind> {
    if spans.len() != layout.len() {
        return Err(RejectKind::FieldCount {
            expected: layout.len(),
            found: spans.len(),
        });
    }
    values.clear();
    for (column, &(s, e)) in layout.columns().iter().zip(spans) {
        let token = &line[s as usize..e as usize];
        // Columns projected away are still validated (the contract rejects a bad line
        // whatever the reader needs), just never built.
        let value = if token == b"-" {
            Value::Null
        } else {
            convert(column.kind, token, s, e).map_err(|problem| RejectKind::Field {
                field: column.name.clone(),
                problem,
                text: Excerpt::of(token),
            })?
        };
        values.push(value);
    }
    Ok(())
}

/// Converts one non-null token.
fn convert(kind: Kind, token: &[u8], s: u32, e: u32) -> Result<Value, FieldProblem> {
    match kind {
        Kind::Int32 { max } => {
            let v = parse_number(token, max as u64)?;
            Ok(Value::Int(v as i64))
        }
        Kind::Int64 => Ok(Value::Int(parse_number(token, i64::MAX as u64)? as i64)),
        Kind::Timestamp => {
            let v = parse_number(token, i64::MAX as u64)? as i64;
            crate::time::unix_seconds(v)
                .map(Value::Int)
                .ok_or(FieldProblem::NotATime)
        }
        Kind::Addr => parse_addr(token)
            .map(Value::Addr)
            .ok_or(FieldProblem::NotAnAddress),
        Kind::Dict | Kind::Str => match std::str::from_utf8(token) {
            Ok(_) => Ok(Value::Str(s, e)),
            Err(_) => Err(FieldProblem::InvalidUtf8),
        },
    }
}

/// A decimal number in `0..=max`, or what is wrong with it.
fn parse_number(token: &[u8], max: u64) -> Result<u64, FieldProblem> {
    match parse_uint(token) {
        Some(v) if v <= max => Ok(v),
        None if !token.iter().all(u8::is_ascii_digit) => Err(FieldProblem::NotANumber),
        _ => Err(FieldProblem::OutOfRange { max }),
    }
}

/// Splits on runs of spaces into `(start, end)` token spans.
pub fn split_spaces(line: &[u8], spans: &mut Vec<(u32, u32)>) {
    let mut start = 0usize;
    for i in memchr::memchr_iter(b' ', line) {
        if i > start {
            spans.push((start as u32, i as u32));
        }
        start = i + 1;
    }
    if line.len() > start {
        spans.push((start as u32, line.len() as u32));
    }
}

/// A decimal number of ASCII digits, no sign; `None` on anything else or overflow.
pub fn parse_uint(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// An IPv4 address in the IPv4-mapped IPv6 form `::ffff:a.b.c.d`.
pub fn mapped_v4(o: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, o[0], o[1], o[2], o[3],
    ]
}

/// Parses an IPv4 (dotted quad, no leading zeros) or IPv6 address into 16 bytes.
pub fn parse_addr(s: &[u8]) -> Option<[u8; 16]> {
    if let Some(v4) = parse_v4(s) {
        return Some(mapped_v4(v4));
    }
    memchr(b':', s)?;
    let text = std::str::from_utf8(s).ok()?;
    text.parse::<Ipv6Addr>().ok().map(|a| a.octets())
}

fn parse_v4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut i = 0;
    for (n, octet) in out.iter_mut().enumerate() {
        let start = i;
        let mut v: u32 = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            v = v * 10 + (s[i] - b'0') as u32;
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        if i == start || v > 255 || (i - start > 1 && s[start] == b'0') {
            return None;
        }
        *octet = v as u8;
        if n < 3 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    (i == s.len()).then_some(out)
}

/// Decodes a whole in-memory input (tests, small inputs): every batch, the counts and
/// every rejected line.
pub fn decode_slice(input: &[u8], options: DecoderOptions) -> Decoded {
    let mut decoder = Decoder::new(options);
    let mut batches = Vec::new();
    let mut pos = 0;
    loop {
        pos += decoder.finish(&input[pos..]);
        if !decoder.ready() {
            break;
        }
        batches.extend(decoder.flush());
    }
    batches.extend(decoder.flush());
    Decoded {
        batches,
        counts: decoder.counts(),
        rejects: decoder.take_rejects(),
    }
}

/// Everything [`decode_slice`] produced.
#[derive(Debug)]
pub struct Decoded {
    pub batches: Vec<RecordBatch>,
    pub counts: LineCounts,
    pub rejects: Vec<Reject>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr(b"10.0.0.1"), Some(mapped_v4([10, 0, 0, 1])));
        assert_eq!(parse_addr(b"255.255.255.255"), Some(mapped_v4([255; 4])));
        for bad in [
            &b"10.0.0.256"[..],
            b"10.0.0",
            b"10.0.0.1.",
            b"10.00.0.1",
            b"1.2.3.4.5",
            b"",
            b"x",
            b"::g",
        ] {
            assert_eq!(parse_addr(bad), None, "{}", bad.escape_ascii());
        }
        let v6 = parse_addr(b"2001:db8::1").unwrap();
        assert_eq!(v6[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(v6[15], 1);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_uint(b"0"), Some(0));
        assert_eq!(parse_uint(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_uint(b"18446744073709551616"), None);
        assert_eq!(parse_uint(b"-1"), None);
        assert_eq!(parse_uint(b"+1"), None);
        assert_eq!(parse_uint(b"1a"), None);
    }

    #[test]
    fn rejects_say_what_and_where() {
        let d = decode_slice(
            b"2 1 eni-1 10.0.0.1 10.0.0.2 443 70000 6 1 1 1 1 ACCEPT OK\n2 1\n",
            DecoderOptions::default(),
        );
        assert_eq!(
            d.rejects[0].kind,
            RejectKind::Field {
                field: "dstport".into(),
                problem: FieldProblem::OutOfRange { max: 65535 },
                text: Excerpt::of(b"70000"),
            }
        );
        assert_eq!((d.rejects[1].line, d.rejects[1].byte_offset), (2, 58));
        assert_eq!(
            d.rejects[1].kind,
            RejectKind::FieldCount {
                expected: 14,
                found: 2
            }
        );
    }
}
