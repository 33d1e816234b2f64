//! JSON Lines: one object per record, keys in column order, `null` for `-`, integers
//! as numbers, addresses and other text as strings.

use std::io::{self, Write};

use arrow::record_batch::RecordBatch;

use super::{columns, write_json_str, BatchWriter};

/// Writes one JSON object per row.
pub struct JsonLinesWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> JsonLinesWriter<W> {
    pub fn new(out: W) -> Self {
        JsonLinesWriter {
            out,
            buf: Vec::with_capacity(1 << 16),
        }
    }
}

/// Appends every row of `batch` to `buf` as JSON Lines.
pub fn format(batch: &RecordBatch, buf: &mut Vec<u8>) -> io::Result<()> {
    let cols = columns(batch)?;
    let schema = batch.schema();
    // Keys are the same on every row: escape them once per batch.
    let keys: Vec<Vec<u8>> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut k = Vec::new();
            k.push(if i == 0 { b'{' } else { b',' });
            write_json_str(f.name(), &mut k);
            k.push(b':');
            k
        })
        .collect();
    for row in 0..batch.num_rows() {
        for (col, key) in cols.iter().zip(&keys) {
            buf.extend_from_slice(key);
            if col.is_null(row) {
                buf.extend_from_slice(b"null");
            } else if col.is_json_literal() {
                col.write_text(row, buf);
            } else if let Some(s) = col.str(row) {
                write_json_str(s, buf);
            } else {
                buf.push(b'"');
                col.write_text(row, buf);
                buf.push(b'"');
            }
        }
        if cols.is_empty() {
            buf.push(b'{');
        }
        buf.extend_from_slice(b"}\n");
    }
    Ok(())
}

impl<W: Write> BatchWriter for JsonLinesWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        format(batch, &mut self.buf)?;
        super::drain(&mut self.out, &mut self.buf)
    }

    fn finish(&mut self) -> io::Result<()> {
        super::drain(&mut self.out, &mut self.buf)?;
        self.out.flush()
    }
}
