//! CSV (RFC 4180): a header row of column names, empty cells for nulls, fields quoted
//! only when they contain a comma, quote or line break. When the layout of the input
//! changes mid-stream (a new header line in the logs), a new header row is written
//! before the first row of the new layout, as in concatenated AWS objects.

use std::io::{self, Write};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::{columns, BatchWriter};

/// Writes rows as CSV.
pub struct CsvWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    schema: Option<SchemaRef>,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W) -> Self {
        CsvWriter {
            out,
            buf: Vec::with_capacity(1 << 16),
            schema: None,
        }
    }
}

/// Appends `s` as one CSV field.
pub fn write_csv_field(s: &[u8], out: &mut Vec<u8>) {
    if s.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for &b in s {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s);
    }
}

/// Appends the header row of `schema` (its column names) to `buf`.
pub fn format_header(schema: &Schema, buf: &mut Vec<u8>) {
    for (i, f) in schema.fields().iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write_csv_field(f.name().as_bytes(), buf);
    }
    buf.push(b'\n');
}

/// Appends every row of `batch` to `buf` (no header).
pub fn format_rows(batch: &RecordBatch, buf: &mut Vec<u8>) -> io::Result<()> {
    let cols = columns(batch)?;
    let mut cell = Vec::new();
    for row in 0..batch.num_rows() {
        for (i, col) in cols.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            if col.is_null(row) {
                continue;
            }
            match col.str(row) {
                Some(s) => write_csv_field(s.as_bytes(), buf),
                None => {
                    cell.clear();
                    col.write_text(row, &mut cell);
                    buf.extend_from_slice(&cell);
                }
            }
        }
        buf.push(b'\n');
    }
    Ok(())
}

impl<W: Write> BatchWriter for CsvWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let schema = batch.schema();
        if self
            .schema
            .as_ref()
            .is_none_or(|s| s.fields() != schema.fields())
        {
            format_header(&schema, &mut self.buf);
            self.schema = Some(schema);
        }
        format_rows(batch, &mut self.buf)?;
        super::drain(&mut self.out, &mut self.buf)
    }

    fn finish(&mut self) -> io::Result<()> {
        super::drain(&mut self.out, &mut self.buf)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let mut out = Vec::new();
        write_csv_field(b"plain", &mut out);
        out.push(b'|');
        write_csv_field(b"a,b", &mut out);
        out.push(b'|');
        write_csv_field(b"say \"hi\"", &mut out);
        assert_eq!(out, b"plain|\"a,b\"|\"say \"\"hi\"\"\"");
    }
}
