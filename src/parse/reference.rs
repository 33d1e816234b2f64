//! The reference decoder: the scalar decoder that came before the structural index,
//! kept unchanged so that tests (a proptest, the fuzz targets) can require the fast
//! decoder to produce identical batches, counts and rejected lines on any input.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use memchr::memchr;

use super::{validate, Decoded, DecoderOptions, LineCounts, Reject, RejectKind};
use super::{BATCH_BYTES, MAX_MAX_LINE_BYTES};
use crate::batch::{BatchBuilder, Projection, Value};
use crate::format::{classify, split_spaces, Layout, LineClass};

/// The decoder as it was before the structural index: every line found with `memchr`,
/// every field converted into a `Value` and appended by `BatchBuilder`. Kept as the
/// reference that tests hold the fast [`Decoder`](super::Decoder) to.
pub struct ReferenceDecoder {
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

impl ReferenceDecoder {
    pub fn new(options: DecoderOptions) -> ReferenceDecoder {
        let layout = options
            .layout
            .unwrap_or_else(|| Arc::new(Layout::default_v2()));
        let batch_size = options.batch_size.max(1);
        ReferenceDecoder {
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
    pub fn with_position(mut self, lines_before: u64, bytes_before: u64) -> ReferenceDecoder {
        self.line = lines_before;
        self.offset = bytes_before;
        self
    }

    /// Consumes complete lines from `buf` and returns how many bytes it used. It stops
    /// before the end when [`ReferenceDecoder::ready`] becomes true; call [`ReferenceDecoder::flush`] and
    /// feed the rest again. Bytes after the last newline are left for the next call,
    /// which must start with them (the search for their newline goes on where it
    /// stopped, so a long line arriving in many small pieces costs linear time). Of a
    /// line longer than the limit, the bytes are consumed and dropped as they come.
    pub fn decode(&mut self, buf: &[u8]) -> usize {
        self.decode_lines(buf, false)
    }

    /// Like [`ReferenceDecoder::decode`], but `buf` ends the input: a final line without a
    /// newline is decoded too. Call until it has consumed all of `buf`, flushing
    /// whenever [`ReferenceDecoder::ready`] is true.
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

    // Kept on purpose beside `Decoder::process_line` (the fast decoder's scalar path),
    // which reads the same: an oracle written apart does not share the code it checks.
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

/// [`super::decode_slice`] with the reference decoder.
pub fn decode_slice_reference(input: &[u8], options: DecoderOptions) -> Decoded {
    let mut decoder = ReferenceDecoder::new(options);
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
