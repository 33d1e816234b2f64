//! The flow-log text form ([`Text`]): plain text and gzip of it, read into the push
//! decoder.
//!
//! A unit is read in large blocks into one reused buffer whose unfinished last line
//! rolls to the front (ripgrep's line buffer), fed to the push decoder, and every batch,
//! rejected line and file error is handed on in input order. A large plain file splits
//! into newline-aligned chunks (the planner cuts them; the file's first header line is
//! the layout guessed for the chunks after the first); a gzip stream is read whole.
//!
//! A read error in the middle of a file (a truncated or corrupt `.gz`) ends that file,
//! the error is reported with the path, and the scan goes on with the next file. Of a
//! truncated file the records before the cut are kept and the cut last line is
//! rejected; of a corrupt gzip member, everything it decoded is dropped and counted
//! (see `read`), so the line accounting holds either way.

use std::io::{self, ErrorKind, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use super::prefix::{self, Shifted, Unprefixed};
use super::{Form, Format, Out, ScanOptions, Sniffed, Split, Unit};
use crate::error::FileError;
use crate::format::Layout;
use crate::parse::{Decoder, LineCounts, Reject};
use crate::source::{open_range, Members, Opened, Source};

/// The flow-log text form, plain or gzip ([`Format::Text`], [`Format::GzipText`]).
pub struct Text;

impl Form for Text {
    /// A plain file at newlines, the chunks after the first guessed to have the layout
    /// of the file's first line if that is a header. (Gzip text is read whole: see
    /// [`Format::split`].)
    fn split(_path: &Path, head: &[u8], _chunk: u64) -> Option<Split> {
        let first = &head[..memchr::memchr(b'\n', head).unwrap_or(head.len())];
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        let first = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first);
        Some(Split::Lines(crate::format::first_header(first)))
    }

    /// Reads one unit of text (a source, or a byte range of a plain file) and returns the
    /// layout in force at its end.
    ///
    /// Of a gzip input, what is decoded from a member is held back until the member has
    /// passed its check (CRC and length): when a member turns out corrupt, its records and
    /// rejected lines are dropped, and counted as such, instead of being passed on. A
    /// member with more than [`HOLD_BYTES`] of text is passed on as it goes (bounded
    /// memory); if it then fails, the error says how many of its records were used. A file
    /// that merely ends early (truncated) keeps what was read, and its cut last line is
    /// rejected.
    fn read(
        unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error> {
        let opened = open(unit, input, raw).and_then(|mut r| {
            let head = peek(&mut r)?;
            Ok((r, head))
        });
        let (mut reader, head) = match opened {
            Ok(r) => r,
            Err(e) => {
                out.file_error(FileError::Unreadable(e))?;
                return Ok(None);
            }
        };
        if matches!(unit.source, Source::Stdin) {
            super::looks::note_stdin(&head);
        }
        // Gzip of one of the JSON forms: the inflated text is sniffed as the input's first
        // bytes are, and read, member after member, by its form.
        if reader.is_gzip() {
            match super::sniff(&head) {
                Format::LogEvents => {
                    let mut bytes = head;
                    if let Err(e) = AllMembers(reader).read_to_end(&mut bytes) {
                        out.file_error(FileError::Unreadable(e))?;
                        return Ok(None);
                    }
                    return super::events::read_bytes(&bytes, options, out);
                }
                Format::OcsfJson => {
                    let inflated = io::Cursor::new(head).chain(AllMembers(reader));
                    let mut lines = io::BufReader::new(inflated);
                    return super::ocsf::json::read_lines(&mut lines, options, out, raw);
                }
                _ => {}
            }
        }
        let first_byte = unit.range.map_or(0, |r| r.0);
        // A CloudWatch Logs export: its lines lose their timestamp prefix on the way in,
        // and rejected lines get their offsets in the file back (see `prefix`).
        let Decoded {
            decoder,
            mut held,
            failure,
        } = if prefix::starts_prefixed(&head) {
            let mut reader = Unprefixed::new(head, reader);
            let mut shifted = Shifted {
                inner: &mut *out.sink,
                shifts: reader.shifts(),
            };
            let mut out = Out {
                source: out.source,
                sink: &mut shifted,
                stats: &mut *out.stats,
            };
            let mut d = decode(&mut reader, &[], first_byte, options, &mut out, raw)?;
            settle(d.failure.take(), &d.decoder, &mut d.held, &mut out)?;
            return Ok(Some(d.decoder.layout().clone()));
        } else {
            decode(&mut reader, &head, first_byte, options, out, raw)?
        };
        settle(failure, &decoder, &mut held, out)?;
        Ok(Some(decoder.layout().clone()))
    }
}

/// The first bytes of a unit's text, up to its first non-blank line's end or a few
/// kilobytes (for [`prefix::starts_prefixed`]): what a read or two gives.
fn peek(reader: &mut Opened) -> io::Result<Vec<u8>> {
    const PEEK: usize = 4096;
    let mut head = vec![0; PEEK];
    let mut n = 0;
    while n < PEEK {
        let k = match reader.read(&mut head[n..]) {
            Ok(k) => k,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if k == 0 {
            break;
        }
        n += k;
        let text = &head[..n];
        let blank = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if memchr::memchr(b'\n', &text[blank..]).is_some() {
            break;
        }
    }
    head.truncate(n);
    Ok(head)
}

/// A gzip input read through all its members, one after the other.
struct AllMembers(Opened);

impl Read for AllMembers {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.0.read(buf)?;
            if n > 0 || buf.is_empty() || !self.0.next_member()? {
                return Ok(n);
            }
        }
    }
}

/// A stream of text as the read loop takes it: plain, gzip member by member, or an
/// export's lines without their prefix.
trait Stream: Read {
    fn is_gzip(&self) -> bool;
    /// See [`Opened::next_member`].
    fn next_member(&mut self) -> io::Result<bool>;
}

impl Stream for Opened {
    fn is_gzip(&self) -> bool {
        Opened::is_gzip(self)
    }
    fn next_member(&mut self) -> io::Result<bool> {
        Opened::next_member(self)
    }
}

impl Stream for Unprefixed<Opened> {
    fn is_gzip(&self) -> bool {
        self.get_ref().is_gzip()
    }
    fn next_member(&mut self) -> io::Result<bool> {
        self.resume();
        self.get_mut().next_member()
    }
}

/// Gzip inputs of at least this many bytes (and stdin) are inflated on a thread of
/// their own; smaller ones (most S3 objects) are many, and already read in parallel.
pub const INFLATE_THREAD_BYTES: u64 = 4 << 20;

/// Decoded text of one gzip member held back before its check, at most.
pub const HOLD_BYTES: u64 = 64 << 20;

/// The first read block of a unit (see [`read`]).
const FIRST_BLOCK: usize = 64 * 1024;

/// Opens a unit of text: a byte range of a plain file, or a whole source (gzip
/// inflated, on a thread of its own when large).
fn open(unit: &Unit, input: Sniffed, raw: &Arc<AtomicU64>) -> io::Result<Opened> {
    let source = &unit.source;
    let opened = match (unit.range, source, input.stream) {
        (Some((from, to)), Source::File(path), _) => {
            return open_range(path, from, to, raw.clone()).map(Opened::Plain)
        }
        (_, _, Some(stream)) if input.format == Format::GzipText => {
            Opened::Gzip(Box::new(Members::new(stream)))
        }
        (_, _, Some(stream)) => Opened::Plain(Box::new(stream)),
        (_, _, None) => source
            .open(raw.clone())
            .map(|s| Opened::Plain(Box::new(s)))?,
    };
    // A large gzip input is inflated on a thread of its own while this one decodes.
    let large = || {
        source
            .size()
            .is_none_or(|size| size >= INFLATE_THREAD_BYTES)
    };
    if opened.is_gzip() && large() {
        opened.on_own_thread()
    } else {
        Ok(opened)
    }
}

/// What [`decode`] leaves: the decoder at the end of the unit, what is still held,
/// and the error that broke the reading off, if one did.
struct Decoded {
    decoder: Decoder,
    held: Held,
    failure: Option<io::Error>,
}

/// The read loop: blocks from `reader` through a decoder for a unit starting at byte
/// `first_byte` into the sink (held back by gzip member, see [`read`]), to the end of the
/// input or the error that broke the reading off. Kept whole: it is the hot loop, and
/// its steps share the buffer, the block size and the member boundary. The decoder is
/// made here, a local (so that the decoder's line loop, inlined here, keeps its state
/// in this frame rather than behind a pointer), and the function is not inlined.
#[inline(never)]
fn decode<R: Stream>(
    reader: &mut R,
    head: &[u8],
    first_byte: u64,
    options: &ScanOptions,
    out: &mut Out,
    raw: &AtomicU64,
) -> Result<Decoded, crate::Error> {
    let mut decoder = super::decoder(options, first_byte);
    let mut held = Held::new(reader.is_gzip(), &decoder);
    // Blocks start small and double while reads fill them, up to the buffer size: a
    // small file (most S3 objects) never pays for zeroing a large buffer.
    let max_block = options.buffer_size.max(1);
    let mut block = max_block.min(FIRST_BLOCK);
    let mut buf = Buffer::take();
    let mut start = 0; // first unconsumed byte of buf
                       // end of the bytes read into buf; what was peeked at is first
    if buf.len() < head.len() {
        buf.resize(head.len(), 0);
    }
    buf[..head.len()].copy_from_slice(head);
    let mut end = head.len();
    out.stats.text_bytes += head.len() as u64;
    // What was peeked at is decoded first, as a block read would be.
    start += feed(&mut decoder, &mut held, out, &buf[..end], false)?;
    let mut failure = None;
    loop {
        // Roll the unfinished line to the front, then read another block after it.
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if buf.len() < end + block {
            buf.resize(end + block, 0);
        }
        let n = loop {
            match reader.read(&mut buf[end..end + block]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        let n = n.unwrap_or_else(|e| {
            failure = Some(e);
            0
        });
        end += n;
        if n == block {
            block = (block * 2).min(max_block);
        }
        out.stats.text_bytes += n as u64;
        out.sink.progress(raw.load(Ordering::Relaxed));
        if n == 0 && failure.is_none() {
            match reader.next_member() {
                Ok(true) => {
                    // A gzip member ended and passed its check: what came of it is
                    // trusted. A line that goes on into the next member is not yet.
                    emit(&mut decoder, &mut held, out)?;
                    held.verified(&decoder, out)?;
                    continue;
                }
                Ok(false) => {}
                Err(e) => failure = Some(e),
            }
        }
        let eof = n == 0;
        if eof && failure.is_some() {
            // Reading broke off: the unfinished last line is not a record.
            decoder.cut(&buf[start..end]);
            for reject in decoder.take_rejects() {
                held.event(Event::Reject(reject), out)?;
            }
            break;
        }
        start += feed(&mut decoder, &mut held, out, &buf[start..end], eof)?;
        if held.over_limit(&decoder) {
            emit(&mut decoder, &mut held, out)?;
            held.release(&decoder, out)?;
        }
        if eof {
            break;
        }
    }
    emit(&mut decoder, &mut held, out)?;
    Ok(Decoded {
        decoder,
        held,
        failure,
    })
}

/// Feeds `rest` (ending the input if `eof`) through the decoder, flushing each batch it
/// fills; returns the bytes consumed.
#[inline]
fn feed(
    decoder: &mut Decoder,
    held: &mut Held,
    out: &mut Out,
    rest: &[u8],
    eof: bool,
) -> Result<usize, crate::Error> {
    let mut used = 0;
    loop {
        let rest = &rest[used..];
        used += if eof {
            decoder.finish(rest)
        } else {
            decoder.decode(rest)
        };
        for reject in decoder.take_rejects() {
            held.event(Event::Reject(reject), out)?;
        }
        if !decoder.ready() {
            return Ok(used);
        }
        emit(decoder, held, out)?;
    }
}

/// The end of a unit: its counts, and the error that broke its reading off, if one
/// did (see [`read`] for what is kept of it).
fn settle(
    failure: Option<io::Error>,
    decoder: &Decoder,
    held: &mut Held,
    out: &mut Out,
) -> Result<(), crate::Error> {
    match failure {
        None => {
            held.release(decoder, out)?;
            out.stats.counts += decoder.counts();
            Ok(())
        }
        // A file that ends early: what was read is what the file holds.
        Some(error) if error.kind() == ErrorKind::UnexpectedEof => {
            held.release(decoder, out)?;
            out.stats.counts += decoder.counts();
            out.file_error(FileError::Interrupted {
                line: decoder.line(),
                byte: decoder.offset(),
                error,
                dropped: LineCounts::default(),
                unverified: 0,
            })
        }
        // Corrupt data: what was decoded from the failing member is not trusted.
        Some(error) => {
            let kept = held.released;
            out.stats.counts += kept.counts;
            out.stats.dropped += decoder.counts() - kept.counts;
            out.file_error(FileError::Interrupted {
                line: kept.line,
                byte: kept.offset,
                error,
                dropped: decoder.counts() - kept.counts,
                unverified: kept.counts.records - held.trusted.counts.records,
            })
        }
    }
}

/// The read buffer of [`read`], reused by the units a thread reads one after the
/// other: zeroed once when it grows, not for every small file.
struct Buffer(Vec<u8>);

thread_local! {
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Buffer {
    fn take() -> Buffer {
        Buffer(SPARE.try_with(|spare| spare.take()).unwrap_or_default())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // A buffer that grew for a long line is not kept.
        if self.0.len() <= 4 << 20 {
            let buf = std::mem::take(&mut self.0);
            // Ignored while the thread itself is being torn down.
            let _ = SPARE.try_with(|spare| spare.set(buf));
        }
    }
}

impl std::ops::Deref for Buffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// A position in the decoded text.
#[derive(Clone, Copy, Debug)]
struct Point {
    counts: LineCounts,
    line: u64,
    offset: u64,
}

impl Point {
    fn of(decoder: &Decoder) -> Point {
        Point {
            counts: decoder.counts(),
            line: decoder.line(),
            offset: decoder.offset(),
        }
    }
}

/// What the read of a gzip input holds back until its member's check (see [`read`]).
struct Held {
    hold: bool,
    events: Vec<Event>,
    /// Where the last checked member ended.
    trusted: Point,
    /// Up to where events were passed on.
    released: Point,
}

enum Event {
    /// A batch of records inside the time window (if any was left), and how many
    /// records the window left out.
    Batch(Option<RecordBatch>, u64),
    Reject(Reject),
}

impl Held {
    fn new(hold: bool, decoder: &Decoder) -> Held {
        let at = Point::of(decoder);
        Held {
            hold,
            events: Vec::new(),
            trusted: at,
            released: at,
        }
    }

    fn event(&mut self, event: Event, out: &mut Out) -> Result<(), crate::Error> {
        if self.hold {
            self.events.push(event);
            Ok(())
        } else {
            pass(out, event)
        }
    }

    /// Whether more than [`HOLD_BYTES`] of unchecked text is held.
    fn over_limit(&self, decoder: &Decoder) -> bool {
        self.hold && decoder.offset() - self.released.offset > HOLD_BYTES
    }

    /// Passes on everything held.
    fn release(&mut self, decoder: &Decoder, out: &mut Out) -> Result<(), crate::Error> {
        for event in self.events.drain(..) {
            pass(out, event)?;
        }
        self.released = Point::of(decoder);
        Ok(())
    }

    /// A member passed its check: everything decoded so far is trusted.
    fn verified(&mut self, decoder: &Decoder, out: &mut Out) -> Result<(), crate::Error> {
        self.release(decoder, out)?;
        self.trusted = self.released;
        Ok(())
    }
}

/// Flushes the decoder's batch (and its count of records outside the window) to
/// `held`, which holds it back or passes it on.
fn emit(decoder: &mut Decoder, held: &mut Held, out: &mut Out) -> Result<(), crate::Error> {
    // The time window was applied while decoding: records outside it were counted
    // and never built.
    let outside = decoder.take_outside();
    match decoder.flush() {
        Some(batch) => held.event(Event::Batch(Some(batch), outside), out),
        None if outside > 0 => held.event(Event::Batch(None, outside), out),
        None => Ok(()),
    }
}

/// Hands an event on to the sink.
fn pass(out: &mut Out, event: Event) -> Result<(), crate::Error> {
    match event {
        Event::Batch(batch, outside) => {
            out.stats.outside_window += outside;
            if let Some(batch) = batch.filter(|b| b.num_rows() > 0) {
                out.sink.batch(out.source, batch)?;
            }
            Ok(())
        }
        Event::Reject(r) => out.sink.reject(out.source, &r),
    }
}
