//! Writers for result rows given as ordered `(column, value)` pairs: JSON Lines (keys
//! in column order), CSV, and an aligned table for people (protocol numbers shown with
//! their names).

use std::io::{self, Write};

use comfy_table::CellAlignment;
use serde_json::Value;

use super::table::{new_table, protocol_name};
use super::write_json_str;

/// One row: (column, value) pairs in output order.
pub type Row<'a> = Vec<(&'a str, Value)>;

/// One JSON object per row, keys in column order.
pub fn write_json(rows: &[Row<'_>], mut out: impl Write) -> io::Result<()> {
    let mut buf = Vec::new();
    for row in rows {
        buf.clear();
        buf.push(b'{');
        for (i, (k, v)) in row.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            write_json_str(k, &mut buf);
            buf.push(b':');
            serde_json::to_writer(&mut buf, v)?;
        }
        buf.extend_from_slice(b"}\n");
        out.write_all(&buf)?;
    }
    out.flush()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// CSV with a header row (`columns`, used when there are no rows).
pub fn write_csv(rows: &[Row<'_>], columns: &[&str], out: impl Write) -> io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    match rows.first() {
        Some(r) => w.write_record(r.iter().map(|(k, _)| *k))?,
        None => w.write_record(columns)?,
    }
    for row in rows {
        w.write_record(row.iter().map(|(_, v)| text(v)))?;
    }
    w.flush()
}

/// An aligned table; numbers right-aligned, nulls as `-`.
pub fn write_table(
    rows: &[Row<'_>],
    columns: &[&str],
    width: Option<u16>,
    mut out: impl Write,
) -> io::Result<()> {
    let mut t = new_table(width);
    let header: Vec<&str> = match rows.first() {
        Some(r) => r.iter().map(|(k, _)| *k).collect(),
        None => columns.to_vec(),
    };
    t.set_header(header.iter().map(|h| h.to_uppercase()));
    for row in rows {
        t.add_row(row.iter().map(|(k, v)| match (k, v) {
            (_, Value::Null) => "-".to_string(),
            (&"protocol", Value::Number(n)) => protocol_name(n.as_i64().unwrap_or(-1) as i32),
            (_, v) => super::cell(&text(v)),
        }));
    }
    for (i, (_, v)) in rows
        .first()
        .map(|r| r.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if v.is_number() {
            if let Some(c) = t.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    writeln!(out, "{t}")?;
    out.flush()
}
