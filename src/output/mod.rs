//! Writers for decoded batches (JSON Lines, CSV and Parquet) and for findings (a table,
//! JSON Lines, CSV, and for Security Hub and Security Lake, ASFF and OCSF: `findings`,
//! `asff`, `ocsf`, beside what they share, `exchange`).
//!
//! Text writers share [`Col`], a typed view of one column that writes a value without
//! going through `String` or `serde`: flow-log output is millions of rows, and the
//! formatting is the hot path of `vpcflow cat`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array,
    StringArray,
};
use arrow::datatypes::{DataType, Int32Type};
use arrow::record_batch::RecordBatch;

pub mod asff;
pub mod csv;
pub mod exchange;
pub mod findings;
pub mod jsonl;
pub mod messages;
pub mod ocsf;
pub mod parquet;
pub mod rows;
pub mod table;

/// A writer of record batches in one output format.
pub trait BatchWriter {
    /// Writes every row of `batch`.
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()>;
    /// Writes what is buffered and ends the output.
    fn finish(&mut self) -> io::Result<()>;
}

/// A typed view of one column.
pub enum Col<'a> {
    Bool(&'a BooleanArray),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    Addr(&'a FixedSizeBinaryArray),
    Dict(&'a Int32Array, &'a StringArray),
    Str(&'a StringArray),
}

impl<'a> Col<'a> {
    /// The view of `array`; `None` for a type this crate never produces.
    pub fn new(array: &'a ArrayRef) -> Option<Col<'a>> {
        let any = array.as_any();
        Some(match array.data_type() {
            DataType::Boolean => Col::Bool(any.downcast_ref()?),
            DataType::Int32 => Col::I32(any.downcast_ref()?),
            DataType::Int64 => Col::I64(any.downcast_ref()?),
            DataType::FixedSizeBinary(16) => Col::Addr(any.downcast_ref()?),
            DataType::Utf8 => Col::Str(any.downcast_ref()?),
            DataType::Dictionary(_, _) => {
                let d: &DictionaryArray<Int32Type> = any.downcast_ref()?;
                Col::Dict(d.keys(), d.values().as_any().downcast_ref()?)
            }
            _ => return None,
        })
    }

    /// Whether the value is written bare in JSON (a number or a boolean), not quoted.
    pub fn is_json_literal(&self) -> bool {
        matches!(self, Col::Bool(_) | Col::I32(_) | Col::I64(_))
    }

    pub fn is_null(&self, row: usize) -> bool {
        match self {
            Col::Bool(a) => a.is_null(row),
            Col::I32(a) => a.is_null(row),
            Col::I64(a) => a.is_null(row),
            Col::Addr(a) => a.is_null(row),
            Col::Dict(k, _) => k.is_null(row),
            Col::Str(a) => a.is_null(row),
        }
    }

    /// The string value of a text column (`None` for numbers and addresses).
    pub fn str(&self, row: usize) -> Option<&'a str> {
        match self {
            Col::Dict(k, v) => Some(v.value(k.value(row) as usize)),
            Col::Str(a) => Some(a.value(row)),
            _ => None,
        }
    }

    /// Writes a non-null value as plain text (strings unquoted, unescaped).
    pub fn write_text(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            Col::Bool(a) => out.extend_from_slice(if a.value(row) { b"true" } else { b"false" }),
            Col::I32(a) => {
                out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
            }
            Col::I64(a) => {
                out.extend_from_slice(itoa::Buffer::new().format(a.value(row)).as_bytes())
            }
            Col::Addr(a) => crate::net::write_addr(a.value(row), out),
            Col::Dict(..) | Col::Str(_) => {
                out.extend_from_slice(self.str(row).unwrap_or_default().as_bytes())
            }
        }
    }
}

/// Writes what a text writer has formatted and empties its buffer for the next batch.
fn drain(out: &mut impl Write, buf: &mut Vec<u8>) -> io::Result<()> {
    out.write_all(buf)?;
    buf.clear();
    Ok(())
}

/// Views of every column of `batch`, or an error naming a column of another type.
pub fn columns(batch: &RecordBatch) -> io::Result<Vec<Col<'_>>> {
    batch
        .columns()
        .iter()
        .zip(batch.schema().fields())
        .map(|(c, f)| {
            Col::new(c).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("column {} has unsupported type {}", f.name(), c.data_type()),
                )
            })
        })
        .collect()
}

/// [`printable`](crate::text::printable) for a table cell.
pub fn cell(s: &str) -> String {
    crate::text::printable(s, false).into_owned()
}

/// Writes `s` as a JSON string literal.
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
            }
        }
    }
    out.push(b'"');
}

pub use crate::text::human_bytes;

/// A temporary file that is removed when dropped, unless kept.
pub(crate) struct Temp {
    pub(crate) path: PathBuf,
    pub(crate) keep: bool,
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Temp {
    /// A new file beside `target` (so that the final rename stays on one file system).
    pub(crate) fn beside(target: &Path, n: u32) -> io::Result<(Temp, File)> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok((Temp { path, keep: false }, file))
    }
}

/// Whether a file can be written at `path`: its folder exists and takes a new file (a
/// temporary file is made beside it and removed). A FIFO or a device there is written in
/// place, and not opened here (a FIFO would wait for its reader).
pub fn writable(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory",
        )),
        Ok(m) if !m.is_file() => Ok(()),
        Ok(_) => Temp::beside(&std::fs::canonicalize(path)?, 1).map(|_| ()),
        Err(_) => Temp::beside(path, 1).map(|_| ()),
    }
}

/// Writes `data` to `path` as a whole. A new or regular file (a symbolic link's target,
/// keeping the link) is written under a temporary name beside it and renamed over it once
/// complete, so that a reader never sees half a file; a FIFO or a device is written in
/// place.
pub fn write_whole(path: &Path, data: &[u8]) -> io::Result<()> {
    writable(path)?;
    let (target, mode) = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.write_all(data)?;
            return f.flush();
        }
        Ok(m) => (std::fs::canonicalize(path)?, Some(m.permissions())),
        Err(_) => (path.to_path_buf(), None),
    };
    let (mut temp, mut file) = Temp::beside(&target, 0)?;
    file.write_all(data)?;
    file.sync_all()?;
    drop(file);
    if let Some(mode) = mode {
        std::fs::set_permissions(&temp.path, mode)?;
    }
    std::fs::rename(&temp.path, &target)?;
    temp.keep = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn right_to_left_overrides_are_shown_escaped_in_tables_and_messages() {
        // Regression: a name with U+202E (right-to-left override) reached the table and
        // stderr raw, and could show `evil` as `live`.
        assert_eq!(super::cell("a\u{202e}live"), "a\\u{202e}live");
        assert_eq!(super::cell("x\u{2067}y\u{200f}"), "x\\u{2067}y\\u{200f}");
        assert_eq!(crate::text::printable("nul\0", true), "nul\\u{0}");
        assert_eq!(super::cell("web · prod"), "web · prod");
    }

    use super::*;
    use crate::net::{addr_string, parse_addr};

    #[test]
    fn addresses_round_trip_to_canonical_text() {
        for (input, text) in [
            ("10.0.0.1", "10.0.0.1"),
            ("0.0.0.0", "0.0.0.0"),
            (
                "2001:db8:1234:a100:8d6e:3477:df66:f105",
                "2001:db8:1234:a100:8d6e:3477:df66:f105",
            ),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("::1", "::1"),
        ] {
            assert_eq!(addr_string(&parse_addr(input.as_bytes()).unwrap()), text);
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_str("a\"b\\c\nd\u{1}é", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(r#""a\"b\\c\nd\u0001é""#).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
