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
//! How a buffer is decoded:
//! 1. [`mod@classify`] indexes a slice of up to 32 KiB in 64-byte blocks: the offset of
//!    every space and newline, and which blocks hold non-ASCII bytes.
//! 2. Walking the offsets, each line whose field count is the layout's, with no
//!    non-ASCII byte and no header-like first field, goes into a block table of field
//!    spans. Every other line (header, blank, non-ASCII text, wrong field count, too
//!    long) takes the scalar path, after the table is converted, so order is kept.
//! 3. The table is converted a column at a time by a parser chosen once per layout
//!    ([`fields`]: numbers eight digits at a time, IPv4, IPv6) into typed buffers
//!    ([`build`]); columns projected away are parsed and checked, not built. Text
//!    columns come last, for the lines that passed and fall in the time window.
//! 4. If any line of the table fails, the table is undone and each of its lines takes
//!    the scalar path, which rejects the bad ones whole (counted, with the position
//!    and a message naming the field and the offending text): a bad line never leaves
//!    half a record, and messages are computed only for rejected lines.
//!
//! The scalar path is the decoder that came before the index; [`mod@reference`] keeps all
//! of it as the reference that tests and fuzz targets hold this one to (identical
//! batches, counts and rejected lines on any input). Nothing allocates per line except
//! the message of a rejected one.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use memchr::memchr;

use crate::batch::{Projection, Value};
use crate::format::{classify, Kind, Layout, LineClass};

pub mod build;
pub mod classify;
pub mod fields;
pub mod reference;

use build::{Col, Columns};
use classify::{Classifier, Index};
pub use reference::{decode_slice_reference, ReferenceDecoder};

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
    /// Keep only records whose `start` is in `[lo, hi)` (`--since`/`--until`); the
    /// others are counted (see [`Decoder::take_outside`]) and never built.
    pub window: Option<(i64, i64)>,
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
            window: None,
        }
    }
}

pub use crate::error::{Excerpt, FieldProblem, LineCounts, Reject, RejectKind};
use crate::format::split_spaces;

/// Bytes indexed and decoded at a time: small enough that the index, the block table
/// and the lines themselves stay in the CPU's first- and second-level caches.
const SLICE: usize = 32 * 1024;

/// How one layout column is converted (chosen once per layout).
#[derive(Clone, Copy, Debug)]
enum Op {
    Int { max: u64 },
    Time,
    Addr,
    Text,
}

#[derive(Clone, Copy, Debug)]
struct Step {
    op: Op,
    /// Where the column is built, or `None` when it is projected away (then it is
    /// only validated).
    slot: Option<usize>,
}

/// One line waiting in the block table.
#[derive(Clone, Copy, Debug)]
struct Row {
    line: u64,
    offset: u64,
    /// The line in the current slice, without its newline and carriage return.
    start: u32,
    end: u32,
}

/// Lines of the current slice that are candidates for the fast path, with the spans of
/// their fields (`fields` per row, offsets into the slice), converted a column at a
/// time by `Decoder::convert_block`.
#[derive(Default)]
struct Block {
    tokens: Vec<(u32, u32)>,
    rows: Vec<Row>,
    bytes: usize,
    bad: Vec<bool>,
    keep: Vec<bool>,
    starts: Vec<Option<i64>>,
}

/// The push decoder; see the module documentation.
pub struct Decoder {
    cols: Columns,
    steps: Vec<Step>,
    /// The layout column `start`, for the time window.
    start_col: Option<usize>,
    projection: Option<Arc<Projection>>,
    /// A layout announced by a header line while rows of the old one were buffered.
    pending: Option<Arc<Layout>>,
    batch_size: usize,
    max_line_bytes: usize,
    window: Option<(i64, i64)>,
    /// Records left out by the window since the last [`Decoder::take_outside`].
    outside: u64,
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
    classifier: Classifier,
    index: Index,
    block: Block,
    spans: Vec<(u32, u32)>,
    values: Vec<Value>,
}

impl Decoder {
    pub fn new(options: DecoderOptions) -> Decoder {
        let layout = options
            .layout
            .unwrap_or_else(|| Arc::new(Layout::default_v2()));
        let mut decoder = Decoder {
            cols: Columns::new(layout.clone(), options.projection.as_deref()),
            steps: Vec::new(),
            start_col: None,
            projection: options.projection,
            pending: None,
            batch_size: options.batch_size.max(1),
            max_line_bytes: options.max_line_bytes.clamp(1, MAX_MAX_LINE_BYTES),
            window: options.window,
            outside: 0,
            batch_bytes: 0,
            scanned: 0,
            skipping: false,
            line: 0,
            offset: 0,
            counts: LineCounts::default(),
            rejects: Vec::new(),
            classifier: Classifier::active(),
            index: SPARE_INDEX
                .try_with(|spare| spare.take())
                .unwrap_or_default(),
            block: Block::default(),
            spans: Vec::with_capacity(64),
            values: Vec::with_capacity(64),
        };
        decoder.plan();
        decoder
    }

    /// Decodes with this block classifier instead of the detected one (tests and
    /// benchmarks compare them).
    pub fn with_classifier(mut self, classifier: Classifier) -> Decoder {
        self.classifier = classifier;
        self
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
        self.cols.rows() >= self.batch_size
            || self.batch_bytes >= BATCH_BYTES
            || self.pending.is_some()
    }

    /// Rows buffered and not flushed yet.
    pub fn buffered_rows(&self) -> usize {
        self.cols.rows()
    }

    /// The buffered rows as a batch (`None` if there are none), then switches to a
    /// layout announced by a header line, if any.
    pub fn flush(&mut self) -> Option<RecordBatch> {
        let batch = (self.cols.rows() > 0).then(|| self.cols.finish());
        self.batch_bytes = 0;
        if let Some(layout) = self.pending.take() {
            self.use_layout(layout);
        }
        batch
    }

    /// Counts of the lines consumed so far.
    pub fn counts(&self) -> LineCounts {
        self.counts
    }

    /// Accepted records left out by the time window since the last call.
    pub fn take_outside(&mut self) -> u64 {
        std::mem::take(&mut self.outside)
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
        self.pending.as_ref().unwrap_or(self.cols.layout())
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

    /// Chooses the conversion of each column of the current layout.
    fn plan(&mut self) {
        let layout = self.cols.layout().clone();
        self.steps = layout
            .columns()
            .iter()
            .zip(&self.cols.slot)
            .map(|(c, &slot)| Step {
                op: match c.kind {
                    Kind::Int32 { max } => Op::Int { max: max as u64 },
                    Kind::Int64 => Op::Int {
                        max: i64::MAX as u64,
                    },
                    Kind::Timestamp => Op::Time,
                    Kind::Addr => Op::Addr,
                    Kind::Dict | Kind::Str => Op::Text,
                },
                slot,
            })
            .collect();
        self.start_col = layout
            .columns()
            .iter()
            .position(|c| c.name == "start" && c.kind == Kind::Timestamp);
    }

    fn use_layout(&mut self, layout: Arc<Layout>) {
        self.cols = Columns::new(layout, self.projection.as_deref());
        self.plan();
    }

    fn decode_lines(&mut self, buf: &[u8], eof: bool) -> usize {
        let mut pos = 0;
        while pos < buf.len() && !self.ready() {
            if self.skipping || self.scanned > 0 {
                match self.one_line(buf, pos, eof) {
                    Some(next) => pos = next,
                    None => break,
                }
                continue;
            }
            let end = (pos + SLICE).min(buf.len());
            let used = self.decode_block(&buf[pos..end], eof && end == buf.len());
            if used > 0 {
                pos += used;
                continue;
            }
            if self.ready() {
                break;
            }
            // No line ends in the slice: a line longer than it, or the unfinished end
            // of the buffer.
            match self.one_line(buf, pos, eof) {
                Some(next) => pos = next,
                None => break,
            }
        }
        pos
    }

    /// Decodes one line starting at `buf[pos]` the way the reference decoder does:
    /// the newline found with `memchr`, the line handed to the scalar path. Returns
    /// where the next line starts, or `None` when more input is needed.
    fn one_line(&mut self, buf: &[u8], pos: usize, eof: bool) -> Option<usize> {
        if self.skipping {
            // The rest of an overlong line already rejected.
            let (next, done) = match memchr(b'\n', &buf[pos..]) {
                Some(i) => (pos + i + 1, true),
                None => (buf.len(), false),
            };
            self.offset += (next - pos) as u64;
            self.skipping = !done;
            return Some(next);
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
                return Some(buf.len());
            }
            None => {
                self.scanned = buf.len() - pos;
                return None;
            }
        };
        self.scanned = 0;
        if end - pos > self.max_line_bytes {
            self.overlong(next - pos);
        } else {
            self.process_line(&buf[pos..end], (next - pos) as u64);
        }
        Some(next)
    }

    /// Indexes `slice` and decodes the lines that end in it (and a last line without a
    /// newline when `last`), stopping when the batch is full. Returns the bytes used.
    fn decode_block(&mut self, slice: &[u8], last: bool) -> usize {
        let mut index = std::mem::take(&mut self.index);
        classify::index(self.classifier, slice, &mut index);
        let mut line_start = 0usize;
        let mut tok_start = 0usize;
        let mut high_cursor = 0;
        let mut row_tokens = self.block.tokens.len();
        let mut seps = index.separators().iter();
        let mut newlines = index.newlines.iter();
        let mut next_newline = newlines.next().map_or(usize::MAX, |&n| n as usize);
        loop {
            let (p, newline) = match seps.next() {
                Some(&sp) => {
                    let p = sp as usize;
                    let newline = p == next_newline;
                    if newline {
                        next_newline = newlines.next().map_or(usize::MAX, |&n| n as usize);
                    }
                    (p, newline)
                }
                None if last && line_start < slice.len() => (slice.len(), true),
                None => break,
            };
            if p > tok_start {
                self.block.tokens.push((tok_start as u32, p as u32));
            }
            tok_start = p + 1;
            if !newline {
                continue;
            }
            // A line: slice[line_start..p], its newline at p (if any).
            let consumed = (p + 1).min(slice.len()) - line_start;
            if !self.room() {
                self.block.tokens.truncate(row_tokens);
                break;
            }
            let mut end = p;
            if end > line_start && slice[end - 1] == b'\r' {
                end -= 1;
                if let Some(t) = self.block.tokens[row_tokens..].last_mut() {
                    if t.1 as usize == p {
                        t.1 -= 1;
                        if t.0 == t.1 {
                            self.block.tokens.pop();
                        }
                    }
                }
            }
            let found = self.block.tokens.len() - row_tokens;
            let fast = found == self.steps.len()
                && found > 0
                && p - line_start <= self.max_line_bytes
                && !index.has_high(line_start, p, &mut high_cursor)
                && {
                    let first = slice[self.block.tokens[row_tokens].0 as usize];
                    !(first.is_ascii_alphabetic() || first == b'$')
                }
                && self.cols.layout().unusable_because().is_none();
            if fast {
                self.block.rows.push(Row {
                    line: self.line + 1,
                    offset: self.offset,
                    start: line_start as u32,
                    end: end as u32,
                });
                self.block.bytes += end - line_start;
                self.start_line(consumed as u64);
            } else {
                self.block.tokens.truncate(row_tokens);
                self.convert_block(slice);
                if p - line_start > self.max_line_bytes {
                    self.overlong(consumed);
                } else {
                    self.process_line(&slice[line_start..p], consumed as u64);
                }
            }
            line_start += consumed;
            row_tokens = self.block.tokens.len();
            if self.pending.is_some() {
                break;
            }
        }
        // The tokens of an unfinished last line wait for the next slice.
        self.block.tokens.truncate(row_tokens);
        self.convert_block(slice);
        self.index = index;
        line_start
    }

    /// Whether another line fits in the batch being built (the block's rows counted).
    fn room(&self) -> bool {
        self.cols.rows() + self.block.rows.len() < self.batch_size
            && self.batch_bytes + self.block.bytes < BATCH_BYTES
            && self.pending.is_none()
    }

    /// Converts the block's lines column by column into the builders: first the
    /// columns that can fail (numbers, times, addresses), then, for the lines that
    /// passed and are inside the time window, the text columns. When any line fails,
    /// the block is undone and each of its lines goes through the scalar path, which
    /// rejects the bad ones with their exact messages.
    // Kept whole: the decoder's hot loop, one pass per column over the block; its
    // locals (the column spans, the failure marks) are what the steps share.
    fn convert_block(&mut self, slice: &[u8]) {
        let n = self.block.rows.len();
        if n == 0 {
            return;
        }
        let fields = self.steps.len();
        debug_assert_eq!(self.block.tokens.len(), n * fields);
        let base = self.cols.rows();
        let block = &mut self.block;
        block.bad.clear();
        block.bad.resize(n, false);
        let windowed = self.window.is_some();
        if windowed {
            block.starts.clear();
            block.starts.resize(n, None);
        }
        for (ci, step) in self.steps.iter().enumerate() {
            let tokens = block.tokens[ci..].iter().step_by(fields);
            let col = step.slot.map(|s| &mut self.cols.cols[s]);
            let bad = &mut block.bad[..];
            match (step.op, col) {
                (Op::Text, _) => {}
                (Op::Int { max }, Some(Col::I32(c))) => each(
                    tokens,
                    bad,
                    |s, e| int(slice, s, e, max),
                    |_, v| c.push_opt(v.map(|v| v as i32)),
                ),
                (Op::Int { max }, Some(Col::I64(c))) => each(
                    tokens,
                    bad,
                    |s, e| int(slice, s, e, max),
                    |_, v| c.push_opt(v.map(|v| v as i64)),
                ),
                (Op::Int { max }, _) => each(tokens, bad, |s, e| int(slice, s, e, max), |_, _| {}),
                (Op::Time, col) => {
                    let mut col = match col {
                        Some(Col::I64(c)) => Some(c),
                        _ => None,
                    };
                    // The start times, for the window.
                    let mut starts =
                        (windowed && self.start_col == Some(ci)).then_some(&mut block.starts);
                    each(
                        tokens,
                        bad,
                        |s, e| time(slice, s, e),
                        |r, v| {
                            if let Some(c) = col.as_deref_mut() {
                                c.push_opt(v);
                            }
                            if let Some(st) = starts.as_deref_mut() {
                                st[r] = v;
                            }
                        },
                    )
                }
                (Op::Addr, col) => {
                    let mut col = match col {
                        Some(Col::Addr(c)) => Some(c),
                        _ => None,
                    };
                    each(
                        tokens,
                        bad,
                        |s, e| addr(slice, s, e),
                        |_, v| {
                            if let Some(c) = col.as_deref_mut() {
                                c.push_opt(v);
                            }
                        },
                    )
                }
            }
        }
        if block.bad.contains(&true) {
            // Undo the block and take each line through the scalar path.
            for c in &mut self.cols.cols {
                c.truncate(base);
            }
            let rows = std::mem::take(&mut self.block.rows);
            let tokens = std::mem::take(&mut self.block.tokens);
            for (r, row) in rows.iter().enumerate() {
                let line = &slice[row.start as usize..row.end as usize];
                self.spans.clear();
                self.spans.extend(
                    tokens[r * fields..(r + 1) * fields]
                        .iter()
                        .map(|&(s, e)| (s - row.start, e - row.start)),
                );
                self.scalar_record(line, row.line, row.offset);
            }
            // The emptied vectors go back, keeping their capacity.
            let (mut rows, mut tokens) = (rows, tokens);
            rows.clear();
            tokens.clear();
            self.block.rows = rows;
            self.block.tokens = tokens;
            self.block.bytes = 0;
            return;
        }
        let block = &mut self.block;
        let mut kept = n;
        if let Some((lo, hi)) = self.window {
            block.keep.clear();
            block.keep.extend(
                block
                    .starts
                    .iter()
                    .map(|t| t.is_some_and(|t| (lo..hi).contains(&t))),
            );
            kept = block.keep.iter().filter(|&&k| k).count();
            if kept < n {
                for c in &mut self.cols.cols {
                    c.retain_tail(base, &block.keep);
                }
            }
            self.outside += (n - kept) as u64;
        }
        for (ci, step) in self.steps.iter().enumerate() {
            let (Op::Text, Some(slot)) = (step.op, step.slot) else {
                continue;
            };
            let tokens = block.tokens[ci..].iter().step_by(fields);
            let keep = |r: usize| !windowed || block.keep[r];
            match &mut self.cols.cols[slot] {
                Col::Dict(d) => {
                    for (r, &(s, e)) in tokens.enumerate() {
                        if keep(r) {
                            match &slice[s as usize..e as usize] {
                                b"-" => d.push_null(),
                                t => d.push(t),
                            }
                        }
                    }
                }
                Col::Text(t) => {
                    for (r, &(s, e)) in tokens.enumerate() {
                        if keep(r) {
                            match &slice[s as usize..e as usize] {
                                b"-" => t.push_null(),
                                v => t.push(v),
                            }
                        }
                    }
                }
                _ => unreachable!("text column built as another type"),
            }
        }
        self.cols.add_rows(kept);
        self.counts.records += n as u64;
        self.batch_bytes += block.bytes;
        block.bytes = 0;
        block.rows.clear();
        block.tokens.clear();
    }

    /// Validates a line whose fields are at `self.spans` and appends it, or rejects it
    /// (at `line`, `byte_offset`) with the reference decoder's message.
    fn scalar_record(&mut self, line: &[u8], number: u64, byte_offset: u64) {
        match validate(self.cols.layout(), &self.spans, line, &mut self.values) {
            Ok(()) => self.accept(line),
            Err(kind) if kind.is_field_count() && memchr(b'\t', line).is_some() => {
                self.reject_at(number, byte_offset, RejectKind::Tabs)
            }
            Err(kind) => self.reject_at(number, byte_offset, kind),
        }
    }

    /// Appends the record in `self.values` (of `line`) unless the window leaves it out.
    fn accept(&mut self, line: &[u8]) {
        self.counts.records += 1;
        if let Some((lo, hi)) = self.window {
            let start = self.start_col.map(|i| self.values[i]);
            if !matches!(start, Some(Value::Int(t)) if (lo..hi).contains(&t)) {
                self.outside += 1;
                return;
            }
        }
        self.cols.append(line, &self.values);
        self.batch_bytes += line.len();
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

    /// The scalar path, for every line the block path does not take: headers, blank
    /// lines, lines with non-ASCII bytes, wrong field counts.
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
            let (layout, spans) = (self.cols.layout(), &self.spans);
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
        if let Some(why) = self.cols.layout().unusable_because() {
            let why = why.clone();
            return self.reject(byte_offset, RejectKind::NoLayout(why));
        }
        self.scalar_record(line, self.line, byte_offset);
    }

    fn header(&mut self, layout: Layout) {
        self.counts.headers += 1;
        self.switch(layout);
    }

    /// Decodes the following lines with `layout` (after the buffered rows are flushed).
    fn switch(&mut self, layout: Layout) {
        if **self.layout() != layout {
            let layout = Arc::new(layout);
            if self.cols.rows() == 0 {
                self.pending = None;
                self.use_layout(layout);
            } else {
                self.pending = Some(layout);
            }
        }
    }

    fn reject(&mut self, byte_offset: u64, kind: RejectKind) {
        self.reject_at(self.line, byte_offset, kind);
    }

    fn reject_at(&mut self, line: u64, byte_offset: u64, kind: RejectKind) {
        self.counts.rejected += 1;
        self.rejects.push(Reject {
            line,
            byte_offset,
            kind,
        });
    }
}

thread_local! {
    /// The index of the last decoder dropped on this thread, for the next one (a scan
    /// of many small files creates a decoder for each).
    static SPARE_INDEX: std::cell::Cell<Index> = std::cell::Cell::new(Index::default());
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let index = std::mem::take(&mut self.index);
        // Ignored while the thread itself is being torn down.
        let _ = SPARE_INDEX.try_with(|spare| spare.set(index));
    }
}

/// A number token of at most `max`: `Ok(None)` for `-`, `Err` for anything invalid.
#[inline(always)]
fn int(slice: &[u8], s: u32, e: u32, max: u64) -> Result<Option<u64>, ()> {
    let (s, e) = (s as usize, e as usize);
    match fields::parse_u64(slice, s, e) {
        Some(v) if v <= max => Ok(Some(v)),
        _ if e - s == 1 && slice[s] == b'-' => Ok(None),
        _ => Err(()),
    }
}

/// An address token: `Ok(None)` for `-`, `Err` for anything invalid.
#[inline(always)]
fn addr(slice: &[u8], s: u32, e: u32) -> Result<Option<[u8; 16]>, ()> {
    let token = &slice[s as usize..e as usize];
    if token == b"-" {
        return Ok(None);
    }
    crate::net::parse_addr(token).map(Some).ok_or(())
}

/// Converts the tokens of one column with `parse`, marks the rows whose token is
/// invalid in `bad`, and hands every row's value (`None`: null, or invalid) to `push`.
#[inline(always)]
fn each<'a, T>(
    tokens: impl Iterator<Item = &'a (u32, u32)>,
    bad: &mut [bool],
    parse: impl Fn(u32, u32) -> Result<Option<T>, ()>,
    mut push: impl FnMut(usize, Option<T>),
) {
    for (r, &(s, e)) in tokens.enumerate() {
        let v = parse(s, e).unwrap_or_else(|()| {
            bad[r] = true;
            None
        });
        push(r, v);
    }
}

/// A time token in unix seconds: `Ok(None)` for `-`, `Err` for anything invalid.
#[inline(always)]
fn time(slice: &[u8], s: u32, e: u32) -> Result<Option<i64>, ()> {
    match int(slice, s, e, i64::MAX as u64)? {
        None => Ok(None),
        Some(v) => crate::time::unix_seconds(v as i64).map(Some).ok_or(()),
    }
}

/// Converts every token of `line` (at `spans`) into `values`, or says what the first
/// problem is.
pub(crate) fn validate(
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
        Kind::Addr => crate::net::parse_addr(token)
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
