//! OCSF JSON Lines ([`OcsfJson`]): one Network Activity record per line, as CloudWatch
//! Logs' `parseToOCSF` and Security Lake's exports write them. A line that is not JSON,
//! not an object or not a flow-log record of class 4001 is rejected with its line
//! number and byte offset; blank lines are skipped; a line longer than
//! `--max-line-bytes` is rejected without being held. The file is read whole (one
//! unit).

use std::io::{self, BufRead};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde_json::Value;

use super::{Attr, Lines, Record, Val};
use crate::error::FileError;
use crate::format::Layout;
use crate::input::{Form, Out, ScanOptions, Sniffed, Split, Unit};
use crate::parse::LineCounts;

/// The OCSF JSON Lines form ([`crate::input::Format::OcsfJson`]).
pub struct OcsfJson;

/// Whether an input starting with `head` is OCSF JSON Lines: its first non-blank byte
/// opens an object, and its first line names a `class_uid`.
pub fn sniff(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let Some(at) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    let line = &head[at..];
    let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
    line.first() == Some(&b'{') && memchr::memmem::find(line, b"\"class_uid\"").is_some()
}

impl Form for OcsfJson {
    /// Read whole: lines of JSON are not cut into chunks.
    fn split(_path: &Path, _head: &[u8], _chunk: u64) -> Option<Split> {
        None
    }

    fn read(
        _unit: &Unit,
        input: Sniffed,
        options: &ScanOptions,
        out: &mut Out,
        raw: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<Layout>>, crate::Error> {
        let mut stream = match input.stream {
            Some(s) => s,
            None => match out.source.open(raw.clone()) {
                Ok(s) => s,
                Err(e) => {
                    out.file_error(FileError::Unreadable(e))?;
                    return Ok(None);
                }
            },
        };
        read_lines(&mut stream, options, out, raw)
    }
}

/// Reads OCSF JSON Lines from `stream` (the whole input: a source, or the text of a
/// gzip input inflated) into `out`; returns the layout at its end.
pub fn read_lines(
    stream: &mut impl BufRead,
    options: &ScanOptions,
    out: &mut Out,
    raw: &Arc<AtomicU64>,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    {
        let mut lines = Lines::new(options, true);
        let mut line = Vec::new();
        let mut offset = 0u64;
        let max = options.max_line_bytes;
        loop {
            let (len, too_long) = match read_line(stream, max, &mut line) {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(error) => {
                    let layout = lines.finish(out)?;
                    let line = out.stats.counts.lines;
                    out.file_error(FileError::Interrupted {
                        line,
                        byte: offset,
                        error,
                        dropped: LineCounts::default(),
                        unverified: 0,
                    })?;
                    return Ok(Some(layout));
                }
            };
            let mut text: &[u8] = &line;
            text = text.strip_suffix(b"\n").unwrap_or(text);
            text = text.strip_suffix(b"\r").unwrap_or(text);
            if offset == 0 {
                text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
            }
            if too_long {
                let problem = format!("the line is longer than {max} bytes (--max-line-bytes)");
                lines.push(Some(Err(problem)), offset, out)?;
            } else if text.iter().all(u8::is_ascii_whitespace) {
                lines.push(None, offset, out)?;
            } else {
                match serde_json::from_slice::<Value>(text) {
                    Ok(v) if v.is_object() => lines.push(Some(Ok(&Json(&v))), offset, out)?,
                    Ok(_) => {
                        let problem = "the line is JSON but not an object".to_string();
                        lines.push(Some(Err(problem)), offset, out)?
                    }
                    Err(e) => lines.push(Some(Err(format!("not JSON ({e})"))), offset, out)?,
                }
            }
            offset += len as u64;
            out.sink
                .progress(raw.load(std::sync::atomic::Ordering::Relaxed));
        }
        Ok(Some(lines.finish(out)?))
    }
}

/// Reads the next line (newline included) into `line`; returns its length in the
/// input and whether it is longer than `max` bytes (then `line` holds only its start),
/// or `None` at the end of the input.
fn read_line(
    r: &mut impl BufRead,
    max: usize,
    line: &mut Vec<u8>,
) -> io::Result<Option<(usize, bool)>> {
    line.clear();
    let mut len = 0usize;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok((len > 0).then_some((len, len > max + 1)));
        }
        let (take, ends) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() <= max + 1 {
            let room = (max + 2 - line.len()).min(take);
            line.extend_from_slice(&buf[..room]);
        }
        len += take;
        r.consume(take);
        if ends {
            // The newline (and a carriage return) do not count towards the limit.
            let body = len - 1 - usize::from(line.ends_with(b"\r\n"));
            return Ok(Some((len, body > max)));
        }
    }
}

/// A record of a JSON line.
struct Json<'a>(&'a Value);

/// A JSON value as an attribute's value.
fn val<'a>(v: &'a Value, what: &dyn Fn() -> String) -> Result<Option<Val<'a>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(Val::Text(s))),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(Some(Val::Int(i))),
            None => Err(format!("{} {n} is not a whole number", what())),
        },
        Value::Bool(b) => Err(format!("{} is {b}, not a number or a text", what())),
        Value::Array(_) => Err(format!("{} is a list, not a number or a text", what())),
        Value::Object(_) => Err(format!("{} is an object, not a number or a text", what())),
    }
}

impl Record for Json<'_> {
    fn get(&self, attr: Attr) -> Result<Option<Val<'_>>, String> {
        let mut v = self.0;
        for (i, key) in attr.path().iter().enumerate() {
            v = match v {
                Value::Object(m) => match m.get(*key) {
                    Some(v) => v,
                    None => return Ok(None),
                },
                Value::Null => return Ok(None),
                _ => {
                    let at = attr.path()[..i].join(".");
                    return Err(format!("{at} is not an object"));
                }
            };
        }
        if let Value::Array(items) = v {
            if matches!(attr, Attr::SrcIntermediate | Attr::DstIntermediate) {
                return match items.first() {
                    Some(first) => val(first, &|| format!("{}[0]", attr.name())),
                    None => Ok(None),
                };
            }
        }
        val(v, &|| attr.name())
    }

    fn unmapped<'s>(&'s self, f: &mut dyn FnMut(&'s str, Option<Val<'s>>)) -> Result<(), String> {
        match self.0.get("unmapped") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    f(k, val(v, &|| format!("unmapped.{k}"))?);
                }
                Ok(())
            }
            Some(_) => Err("unmapped is not an object".into()),
        }
    }
}
