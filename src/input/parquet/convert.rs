//! A batch read from a Parquet file converted to the field types of its layout, checked
//! as the text decoder checks fields: a value it would reject rejects its row, with the
//! same message, and a row longer than `--max-line-bytes` is rejected as a long line.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeBinaryBuilder, Int32Array, Int64Array, StringBuilder,
    StringDictionaryBuilder,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Int32Type, Schema};
use arrow::record_batch::RecordBatch;

use super::cells::{Cells, Int, Read, TextCell};
use super::ParquetError;
use crate::error::{Excerpt, FieldProblem, Reject, RejectKind};
use crate::format::{Kind, Layout};
use crate::input::ScanOptions;
use crate::parse::BATCH_BYTES;

/// Batches of converted rows, each with its bytes of text, and the rejects of a batch.
pub type Converted = (Vec<(RecordBatch, usize)>, Vec<Reject>);

/// One Parquet batch converted to the layout's types (`wanted`: (layout column, file
/// column) of the columns read, in order), without its invalid rows, as batches of at
/// most [`BATCH_BYTES`] of text each (with their bytes), and the rejects of the invalid
/// rows. `first_row`: the file row number before the batch's first row. A row whose
/// values add up to more than `--max-line-bytes` is rejected as a long line would be.
pub fn convert(
    batch: &RecordBatch,
    layout: &Layout,
    wanted: &[(usize, usize)],
    first_row: u64,
    options: &ScanOptions,
) -> Result<Converted, ParquetError> {
    let n = batch.num_rows();
    let max = options.max_line_bytes;
    let mut bad: Vec<Option<RejectKind>> = vec![None; n];
    // Each row's size as a line: its values and their separators.
    let mut size = vec![0usize; n];
    let mut columns = Vec::with_capacity(wanted.len());
    for (k, (layout_col, _)) in wanted.iter().enumerate() {
        let column = &layout.columns()[*layout_col];
        let read = Read::of(batch.column(k), column.kind)?;
        read.add_sizes(&mut size);
        columns.push((column, layout.schema().field(*layout_col).clone(), read));
    }
    for (b, s) in bad.iter_mut().zip(&size) {
        if *s > max {
            *b = Some(RejectKind::TooLong { max });
        }
    }
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(_, f, _)| f.clone())
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    let mut from = 0;
    while from < n {
        // Rows up to BATCH_BYTES of kept text, at least one.
        let (mut to, mut bytes) = (from, 0usize);
        while to < n {
            let s = if bad[to].is_none() { size[to] } else { 0 };
            if to > from && bytes + s > BATCH_BYTES {
                break;
            }
            bytes += s;
            to += 1;
        }
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|(column, _, read)| column_as(read, column.kind, &column.name, from..to, &mut bad))
            .collect();
        let converted = RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(to - from)),
        )
        .expect("columns of the layout's types, of the rows' count");
        let keep: BooleanArray = bad[from..to].iter().map(|b| Some(b.is_none())).collect();
        let kept = if keep.true_count() == to - from {
            converted
        } else {
            filter_record_batch(&converted, &keep).expect("mask of the batch's length")
        };
        out.push((kept, bytes));
        from = to;
    }
    let rejects: Vec<Reject> = bad
        .into_iter()
        .enumerate()
        .filter_map(|(i, k)| {
            k.map(|kind| Reject {
                line: first_row + i as u64 + 1,
                byte_offset: 0,
                kind,
            })
        })
        .collect();
    Ok((out, rejects))
}

/// The rows `rows` of a column as the text decoder would have built the field `name`
/// of kind `kind`; values it would reject are null, and the first problem of their row
/// is noted in `bad` (indexed by the batch's rows). Rows already bad are not read.
fn column_as(
    read: &Read,
    kind: Kind,
    name: &str,
    rows: Range<usize>,
    bad: &mut [Option<RejectKind>],
) -> ArrayRef {
    match kind {
        Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp => ints_as(read, kind, name, rows, bad),
        Kind::Addr => {
            let Read::Text(cells) = read else {
                unreachable!("an address field is read as text")
            };
            addrs_as(cells, name, rows, bad)
        }
        Kind::Dict | Kind::Str => {
            let Read::Text(cells) = read else {
                unreachable!("a text field is read as text")
            };
            texts_as(cells, kind, name, rows, bad)
        }
    }
}

/// Notes the first problem of a row (see [`column_as`]).
fn note(
    bad: &mut [Option<RejectKind>],
    row: usize,
    name: &str,
    problem: FieldProblem,
    text: &[u8],
) {
    if bad[row].is_none() {
        bad[row] = Some(RejectKind::Field {
            field: name.to_string(),
            problem,
            text: Excerpt::of(text),
        });
    }
}

/// A row's text, unless the row is already bad (then it is not read).
fn unread<'a>(cells: &'a Cells, bad: &[Option<RejectKind>], row: usize) -> Option<TextCell<'a>> {
    if bad[row].is_some() {
        None
    } else {
        cells.text(row)
    }
}

/// [`column_as`] for a field of integers or times (`kind`).
fn ints_as(
    read: &Read,
    kind: Kind,
    name: &str,
    rows: Range<usize>,
    bad: &mut [Option<RejectKind>],
) -> ArrayRef {
    let max = match kind {
        Kind::Int32 { max } => max as u64,
        _ => i64::MAX as u64,
    };
    let mut out: Vec<Option<i64>> = Vec::with_capacity(rows.len());
    for row in rows {
        let v = match read {
            Read::Ints(ints) => ints[row],
            Read::Text(cells) => match cells.text(row) {
                None => Int::Null,
                Some(Err(b)) => {
                    note(bad, row, name, FieldProblem::InvalidUtf8, b);
                    Int::Null
                }
                Some(Ok(s)) => match s.parse::<u64>() {
                    Ok(v) => Int::Value(v.min(i64::MAX as u64) as i64),
                    Err(_) => {
                        note(bad, row, name, FieldProblem::NotANumber, s.as_bytes());
                        Int::Null
                    }
                },
            },
        };
        out.push(match v {
            Int::Null => None,
            Int::Value(x) if x < 0 => {
                note(
                    bad,
                    row,
                    name,
                    FieldProblem::NotANumber,
                    x.to_string().as_bytes(),
                );
                None
            }
            Int::Value(x) if x as u64 > max => {
                let problem = FieldProblem::OutOfRange { max };
                note(bad, row, name, problem, x.to_string().as_bytes());
                None
            }
            Int::Value(x) if kind == Kind::Timestamp => {
                let t = crate::time::unix_seconds(x);
                if t.is_none() {
                    note(
                        bad,
                        row,
                        name,
                        FieldProblem::NotATime,
                        x.to_string().as_bytes(),
                    );
                }
                t
            }
            Int::Value(x) => Some(x),
        });
    }
    match kind {
        Kind::Int32 { .. } => Arc::new(
            out.into_iter()
                .map(|v| v.map(|x| x as i32))
                .collect::<Int32Array>(),
        ),
        _ => Arc::new(out.into_iter().collect::<Int64Array>()),
    }
}

/// [`column_as`] for a field of addresses.
fn addrs_as(
    cells: &Cells,
    name: &str,
    rows: Range<usize>,
    bad: &mut [Option<RejectKind>],
) -> ArrayRef {
    let mut b = FixedSizeBinaryBuilder::with_capacity(rows.len(), 16);
    for row in rows {
        let cell = unread(cells, bad, row);
        match cell {
            Some(Ok(s)) => match crate::net::parse_addr(s.as_bytes()) {
                Some(a) => b.append_value(a).expect("16 bytes"),
                None => {
                    note(bad, row, name, FieldProblem::NotAnAddress, s.as_bytes());
                    b.append_null();
                }
            },
            Some(Err(bytes)) => {
                note(bad, row, name, FieldProblem::InvalidUtf8, bytes);
                b.append_null();
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// [`column_as`] for a field of text (`kind`: dictionary or plain).
fn texts_as(
    cells: &Cells,
    kind: Kind,
    name: &str,
    rows: Range<usize>,
    bad: &mut [Option<RejectKind>],
) -> ArrayRef {
    let mut texts = |append: &mut dyn FnMut(Option<&str>)| {
        for row in rows.clone() {
            let cell = unread(cells, bad, row);
            match cell {
                Some(Ok(s)) => append(Some(s)),
                Some(Err(bytes)) => {
                    note(bad, row, name, FieldProblem::InvalidUtf8, bytes);
                    append(None);
                }
                None => append(None),
            }
        }
    };
    if kind == Kind::Dict {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        texts(&mut |v| match v {
            Some(s) => {
                b.append_value(s);
            }
            None => b.append_null(),
        });
        Arc::new(b.finish())
    } else {
        let mut b = StringBuilder::new();
        texts(&mut |v| b.append_option(v));
        Arc::new(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, StringArray};
    use arrow::datatypes::{DataType, Field};

    /// 100 rows of a 1 MiB text column: 100 MiB, cut into batches of at most
    /// BATCH_BYTES of text, so that no string column nears Arrow's 2 GiB offsets.
    #[test]
    fn text_of_a_batch_is_cut_by_bytes() {
        let layout = Layout::new(["version", "note"]).unwrap();
        let value = "n".repeat((1 << 20) - 8);
        let schema = Arc::new(Schema::new(vec![
            Field::new("version", DataType::Int32, true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![2; 100])),
                Arc::new(StringArray::from(vec![value.as_str(); 100])),
            ],
        )
        .unwrap();
        let options = ScanOptions::default();
        let (out, rejects) = convert(&batch, &layout, &[(0, 0), (1, 1)], 0, &options).unwrap();
        assert!(rejects.is_empty());
        let per = BATCH_BYTES / (value.len() + 2);
        let rows: Vec<usize> = out.iter().map(|(b, _)| b.num_rows()).collect();
        assert_eq!(rows, [per, 100 - per]);
        assert!(out.iter().all(|(_, bytes)| *bytes <= BATCH_BYTES));
        let note = out[1].0.column(1).as_string::<i32>();
        assert_eq!(note.value(0), value);
    }
}
