//! Framing a JSON stream into documents: one document, an array of documents, JSON
//! Lines, or documents concatenated with nothing between them (as Firehose writes
//! them). The stream is read a buffer at a time; the whole documents of each buffer are
//! found (on all cores where they are one per line) and handed to [`super::document`],
//! so the buffer holds at most one chunk past the largest document.

use std::io::Read;

use rayon::prelude::*;
use serde_json::value::RawValue;

use super::document;
use super::error::MapError;
use super::sink::Sink;
use super::{read_full, Loaded};

/// How much of a JSON stream is read at a time; a document larger than this grows it.
const CHUNK: usize = 8 << 20;

/// Documents with the file line each starts on.
type Docs<'a> = Vec<(&'a str, usize)>;

/// Reads the documents of a stream whose first `filled` bytes are in `buf`, starting
/// at `start` (past a byte order mark); `name` is used in messages.
pub(super) fn read_json(
    name: &str,
    mut buf: Vec<u8>,
    mut filled: usize,
    mut start: usize,
    mut input: impl Read,
) -> Result<Loaded, MapError> {
    let mut sink = Sink::new(name);
    let mut line = 1usize;
    let mut eof = filled < buf.len();
    loop {
        let split = match split_documents(name, &buf[start..filled], line, eof) {
            Ok(split) => split,
            Err(Stop { before, error }) => {
                document::documents(&mut sink, &before)?;
                return Err(error);
            }
        };
        document::documents(&mut sink, &split.docs)?;
        line = split.line;
        start += split.used;
        if eof {
            break;
        }
        // Keep the unread part and read more behind it.
        buf.copy_within(start..filled, 0);
        filled -= start;
        start = 0;
        if buf.len() - filled < CHUNK / 2 {
            buf.resize((buf.len() * 2).max(CHUNK), 0);
        }
        filled += read_full(&mut input, &mut buf[filled..]).map_err(MapError::read(name))?;
        eof = filled < buf.len();
    }
    sink.finish()
}

/// The whole documents at the start of a buffer.
struct Split<'a> {
    docs: Docs<'a>,
    /// How many bytes they take (with the blanks between them).
    used: usize,
    /// The file line after them.
    line: usize,
}

/// A buffer's error, and the whole documents before it, which are read first (so that
/// an error of theirs is said first).
struct Stop<'a> {
    before: Docs<'a>,
    error: MapError,
}

/// The whole documents of `slice`, whose first byte is on file line `line`; at the end
/// of the file (`eof`) a document the slice cuts is an error.
fn split_documents<'a>(
    name: &str,
    slice: &'a [u8],
    mut line: usize,
    eof: bool,
) -> Result<Split<'a>, Stop<'a>> {
    let mut used = 0usize;
    let mut docs = Vec::new();
    // JSON Lines: found on all cores, up to the buffer's last line end.
    if let Some((found, end)) = documents_by_lines(slice, line) {
        docs = found;
        line += count_lines(&slice[..end]);
        used = end;
    }
    loop {
        let from = used
            + slice[used..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(slice.len() - used);
        if from == slice.len() {
            break;
        }
        let end = match document_at(slice, from, eof) {
            Ok(Some(end)) => end,
            Ok(None) => break,
            Err(e) => {
                line += count_lines(&slice[used..from]);
                let error = MapError::json(name, line, &e);
                return Err(Stop {
                    before: docs,
                    error,
                });
            }
        };
        line += count_lines(&slice[used..from]);
        let text = std::str::from_utf8(&slice[from..end]).map_err(|e| Stop {
            // Said at once, before the documents found before it are read.
            before: Vec::new(),
            error: MapError::Utf8 {
                name: name.to_string(),
                line: line + count_lines(&slice[from..from + e.valid_up_to()]),
            },
        })?;
        docs.push((text, line));
        line += count_lines(&slice[from..end]);
        used = end;
    }
    Ok(Split { docs, used, line })
}

/// Where the document that starts at `from` ends; `None` when the buffer ends first and
/// more of the file follows (`eof` false): read more.
fn document_at(slice: &[u8], from: usize, eof: bool) -> Result<Option<usize>, serde_json::Error> {
    if let Some(end) = document_end(slice, from) {
        return Ok(Some(end));
    }
    if !matches!(slice[from], b'{' | b'[') {
        // Not an object or array: serde says what it is, at once (not after reading
        // the rest of the file).
        let mut values =
            serde_json::Deserializer::from_slice(&slice[from..]).into_iter::<&RawValue>();
        return match values.next() {
            Some(Ok(_)) => Ok(Some(from + values.byte_offset())),
            Some(Err(e)) if e.is_eof() && !eof => Ok(None),
            Some(Err(e)) => Err(e),
            None => Ok(Some(slice.len())),
        };
    }
    // A document cut by the end of the buffer: read more.
    if !eof {
        return Ok(None);
    }
    // Cut by the end of the file: serde says what is wrong, and where.
    serde_json::from_slice::<&RawValue>(&slice[from..]).map(|_| Some(slice.len()))
}

/// The documents of `slice` up to its last line end, found on all cores: the slice is
/// cut at line ends into pieces, and each piece must be whole objects or arrays
/// separated by blanks (as in JSON Lines). The first piece starts at a document, so a
/// piece that passes ends where a document ends, and the next starts at one: the cut
/// never splits a document. `None` when a piece does not pass (a document over several
/// lines, invalid UTF-8, a small slice): the caller then finds them one by one.
/// `line` is the file line of the slice's first byte; returns the documents with their
/// first lines, and how many bytes they take.
fn documents_by_lines(slice: &[u8], line: usize) -> Option<(Docs<'_>, usize)> {
    const SMALL: usize = 1 << 20;
    let end = memchr::memrchr(b'\n', slice)? + 1;
    if end < SMALL {
        return None;
    }
    let pieces = rayon::current_num_threads().max(1) * 4;
    let mut cuts = vec![0usize];
    for i in 1..pieces {
        let at = i * end / pieces;
        let cut = memchr::memchr(b'\n', &slice[at..end]).map_or(end, |k| at + k + 1);
        if cut > *cuts.last().expect("starts at 0") && cut < end {
            cuts.push(cut);
        }
    }
    cuts.push(end);
    // Each piece: its documents (text, lines before it in the piece) and its lines.
    let scanned: Vec<Option<(Docs, usize)>> = cuts
        .par_windows(2)
        .map(|w| piece_documents(slice, w[0], w[1]))
        .collect();
    let mut docs = Vec::new();
    let mut first = line;
    for piece in scanned {
        let (found, lines) = piece?;
        docs.extend(
            found
                .into_iter()
                .map(|(text, before)| (text, first + before)),
        );
        first += lines;
    }
    Some((docs, end))
}

/// The documents of `slice[a..b]` if it is whole documents separated by blanks, each
/// with the lines before it in the piece, and the piece's lines.
fn piece_documents(slice: &[u8], a: usize, b: usize) -> Option<(Docs<'_>, usize)> {
    let mut docs = Vec::new();
    let (mut at, mut lines) = (a, 0usize);
    loop {
        let next = at + slice[at..b].iter().position(|c| !c.is_ascii_whitespace())?;
        lines += count_lines(&slice[at..next]);
        let doc_end = document_end(&slice[..b], next)?;
        let text = std::str::from_utf8(&slice[next..doc_end]).ok()?;
        docs.push((text, lines));
        lines += count_lines(&slice[next..doc_end]);
        at = doc_end;
        if slice[at..b].iter().all(u8::is_ascii_whitespace) {
            lines += count_lines(&slice[at..b]);
            return Some((docs, lines));
        }
    }
}

/// The end of the JSON object or array that starts at `from` (a `{` or `[`): where
/// its brackets balance, strings skipped; `None` when the buffer ends first, or when
/// no object or array starts there. The document is parsed in full afterwards: this
/// only finds where it ends, faster than a parser would.
fn document_end(buf: &[u8], from: usize) -> Option<usize> {
    let (open, close) = match buf[from] {
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => return None,
    };
    let mut depth = 0usize;
    let mut i = from;
    while let Some(k) = memchr::memchr3(open, close, b'"', &buf[i..]) {
        let at = i + k;
        match buf[at] {
            b'"' => {
                // Skip the string: to the next quote that no backslash escapes.
                let mut j = at + 1;
                loop {
                    let q = memchr::memchr2(b'"', b'\\', &buf[j..])?;
                    if buf[j + q] == b'\\' {
                        j += q + 2;
                        if j > buf.len() {
                            return None;
                        }
                    } else {
                        j += q + 1;
                        break;
                    }
                }
                i = j;
            }
            c if c == open => {
                depth += 1;
                i = at + 1;
            }
            _ => {
                depth -= 1;
                i = at + 1;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
    }
    None
}

fn count_lines(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}
