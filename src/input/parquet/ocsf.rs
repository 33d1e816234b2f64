//! Security Lake's OCSF Parquet: Network Activity records in nested columns
//! (`src_endpoint`, `connection_info`, `cloud`, ... as structs, `intermediate_ips` a
//! list, `unmapped` a map or a struct), mapped back to flow-log records by
//! [`crate::input::ocsf`]. The Parquet form hands a file here when its footer has a
//! `class_uid` column and a `src_endpoint` struct ([`is_ocsf`]).
//!
//! The file gets the checks any Parquet file gets (its footer, the sizes and page
//! headers of the columns read, the crate's panics caught), and is read whole, projected
//! to the columns the mapping reads. Row `n` of the file is line `n` of its accounting;
//! a row that is not a flow-log record is rejected with its number and what is wrong. A
//! column of a type that cannot hold its attribute (a struct where a number is meant)
//! makes the file unreadable, naming the column; numbers are read from any integer
//! type, times from integers (milliseconds) or Parquet timestamps of any unit, texts
//! from strings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, MapArray, StringArray, StringBuilder, StructArray,
};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Int64Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use super::footer::check_sizes;
use super::open::check_pages;
use super::{catching, unreadable, ParquetError};
use crate::format::Layout;
use crate::input::ocsf::{Attr, Lines, Record, Val, ROOTS};
use crate::input::{Out, ScanOptions};

/// Whether a Parquet file's columns are OCSF's: a `class_uid` column and a
/// `src_endpoint` struct.
pub fn is_ocsf(schema: &Schema) -> bool {
    schema.field_with_name("class_uid").is_ok()
        && schema
            .field_with_name("src_endpoint")
            .is_ok_and(|f| matches!(f.data_type(), DataType::Struct(_)))
}

/// Reads a whole OCSF Parquet file (its footer read and checked: `meta`) into `out`.
pub fn read(
    body: impl super::open::Body,
    meta: Arc<ParquetMetaData>,
    options: &ScanOptions,
    out: &mut Out,
    raw: &AtomicU64,
) -> Result<Option<Arc<Layout>>, crate::Error> {
    let len = body.len();
    let mut reader = match catching(|| open(body, meta, options)) {
        Ok(r) => r,
        Err(e) => {
            unreadable(out, e)?;
            return Ok(None);
        }
    };
    raw.store(len, Ordering::Relaxed);
    let mut lines = Lines::new(options, false);
    let mut row = 0u64;
    loop {
        let batch = match catching(|| Ok(reader.next().transpose()?)) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                let layout = lines.finish(out)?;
                unreadable(
                    out,
                    ParquetError::AtRow {
                        row: row + 1,
                        error: Box::new(e),
                    },
                )?;
                return Ok(Some(layout));
            }
        };
        let columns = match Columns::of(&batch) {
            Ok(c) => c,
            Err(e) => {
                let layout = lines.finish(out)?;
                unreadable(out, e)?;
                return Ok(Some(layout));
            }
        };
        for i in 0..batch.num_rows() {
            lines.push(
                Some(Ok(&Row {
                    columns: &columns,
                    i,
                })),
                0,
                out,
            )?;
        }
        row += batch.num_rows() as u64;
        out.sink.progress(raw.load(Ordering::Relaxed));
    }
    Ok(Some(lines.finish(out)?))
}

/// Opens the file's reader, projected to the columns the mapping reads, after the
/// checks of their sizes and page headers.
fn open(
    file: impl super::open::Body,
    meta: Arc<ParquetMetaData>,
    options: &ScanOptions,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, ParquetError> {
    let arrow = ArrowReaderMetadata::try_new(meta.clone(), ArrowReaderOptions::new())?;
    let roots: Vec<usize> = arrow
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| ROOTS.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    check_sizes(&meta, &roots, options.max_line_bytes)?;
    let groups: Vec<usize> = (0..meta.num_row_groups()).collect();
    check_pages(&file, &meta, &groups, &roots)?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, arrow);
    // Only the leaves under the attributes' paths (and `unmapped`): not the rest of
    // `metadata`, `cloud` or the endpoints.
    let descr = builder.parquet_schema();
    let leaves: Vec<usize> = (0..descr.num_columns())
        .filter(|&i| {
            let parts = descr.column(i).path().parts().to_vec();
            parts.first().is_some_and(|p| p == "unmapped")
                || Attr::ALL.iter().any(|a| {
                    let path = a.path();
                    parts.len() >= path.len() && parts.iter().zip(path).all(|(x, y)| x == y)
                })
        })
        .collect();
    let mask = ProjectionMask::leaves(descr, leaves);
    Ok(builder
        .with_projection(mask)
        .with_batch_size(options.batch_size.max(1))
        .build()?)
}

/// An attribute's column in a batch.
enum Leaf {
    Absent,
    Int(Int64Array),
    Text(StringArray),
}

/// The `unmapped` column.
enum Unmapped {
    Absent,
    /// `map<string, string>`: its entries' keys and values as texts.
    Map(Box<(MapArray, StringArray, StringArray)>),
    /// A struct: each field is a key, its values as texts.
    Struct(StructArray, Vec<(String, StringArray)>),
}

/// A batch's columns, by attribute: each leaf with the nulls of the structs above it.
struct Columns {
    leaves: Vec<(Leaf, Option<NullBuffer>)>,
    unmapped: Unmapped,
}

impl Columns {
    fn of(batch: &RecordBatch) -> Result<Columns, ParquetError> {
        let mut leaves = Vec::with_capacity(Attr::ALL.len());
        for attr in Attr::ALL {
            leaves.push(leaf(batch, attr)?);
        }
        let unmapped = match batch.column_by_name("unmapped") {
            None => Unmapped::Absent,
            Some(c) => match c.data_type() {
                DataType::Map(_, _) => {
                    let map = c.as_map().clone();
                    let keys = text(map.keys(), "unmapped's keys")?;
                    let values = text(map.values(), "unmapped's values")?;
                    Unmapped::Map(Box::new((map, keys, values)))
                }
                DataType::Struct(fields) => {
                    let s = c.as_struct().clone();
                    let mut children = Vec::new();
                    for (f, child) in fields.iter().zip(s.columns()) {
                        children.push((f.name().clone(), text(child, f.name())?));
                    }
                    Unmapped::Struct(s, children)
                }
                t => {
                    return Err(ParquetError::Unfit {
                        column: "unmapped".into(),
                        data_type: t.clone(),
                    })
                }
            },
        };
        Ok(Columns { leaves, unmapped })
    }
}

/// Options of the casts: a value that does not fit is an error, never a null.
const STRICT: CastOptions = CastOptions {
    safe: false,
    format_options: arrow::util::display::FormatOptions::new(),
};

/// A column as texts (numbers written in decimal).
fn text(c: &ArrayRef, name: &str) -> Result<StringArray, ParquetError> {
    let fits = match c.data_type() {
        DataType::Dictionary(_, v) => !v.is_nested(),
        t => !t.is_nested() && !matches!(t, DataType::Timestamp(..) | DataType::Boolean),
    };
    if !fits {
        return Err(ParquetError::Unfit {
            column: name.to_string(),
            data_type: c.data_type().clone(),
        });
    }
    let cast =
        cast_with_options(c, &DataType::Utf8, &STRICT).map_err(|error| ParquetError::Cast {
            data_type: c.data_type().clone(),
            error,
        })?;
    Ok(cast.as_string::<i32>().clone())
}

/// The column of `attr` in `batch` and the nulls of the structs above it.
fn leaf(batch: &RecordBatch, attr: Attr) -> Result<(Leaf, Option<NullBuffer>), ParquetError> {
    let path = attr.path();
    let Some(mut c) = batch.column_by_name(path[0]).cloned() else {
        return Ok((Leaf::Absent, None));
    };
    let mut nulls: Option<NullBuffer> = None;
    for key in &path[1..] {
        let Some(s) = c.as_struct_opt() else {
            return Err(ParquetError::Unfit {
                column: attr.name(),
                data_type: c.data_type().clone(),
            });
        };
        nulls = NullBuffer::union(nulls.as_ref(), s.nulls());
        match s.column_by_name(key) {
            Some(child) => c = child.clone(),
            None => return Ok((Leaf::Absent, None)),
        }
    }
    let unfit = |c: &ArrayRef| ParquetError::Unfit {
        column: attr.name(),
        data_type: c.data_type().clone(),
    };
    let leaf = match c.data_type() {
        DataType::List(_) | DataType::LargeList(_)
            if matches!(attr, Attr::SrcIntermediate | Attr::DstIntermediate) =>
        {
            Leaf::Text(first_items(&c, &attr.name())?)
        }
        t if t.is_integer() => Leaf::Int(
            cast_with_options(&c, &DataType::Int64, &STRICT)
                .map_err(|error| ParquetError::Cast {
                    data_type: t.clone(),
                    error,
                })?
                .as_primitive::<Int64Type>()
                .clone(),
        ),
        DataType::Timestamp(unit, _) => {
            let v = cast_with_options(&c, &DataType::Int64, &STRICT).map_err(|error| {
                ParquetError::Cast {
                    data_type: c.data_type().clone(),
                    error,
                }
            })?;
            let v = v.as_primitive::<Int64Type>();
            Leaf::Int(match unit {
                TimeUnit::Second => v.unary(|s| s.saturating_mul(1000)),
                TimeUnit::Millisecond => v.clone(),
                TimeUnit::Microsecond => v.unary(|u| u.div_euclid(1000)),
                TimeUnit::Nanosecond => v.unary(|n| n.div_euclid(1_000_000)),
            })
        }
        t if t.is_nested() || matches!(t, DataType::Boolean) => return Err(unfit(&c)),
        _ => Leaf::Text(text(&c, &attr.name())?),
    };
    Ok((leaf, nulls))
}

/// The first item of each row's list, as text.
fn first_items(c: &ArrayRef, name: &str) -> Result<StringArray, ParquetError> {
    let (values, offsets): (ArrayRef, Vec<(usize, usize)>) = match c.data_type() {
        DataType::List(_) => {
            let l = c.as_list::<i32>();
            let o = l.value_offsets();
            let offsets = (0..l.len())
                .map(|i| (o[i] as usize, o[i + 1] as usize))
                .collect();
            (l.values().clone(), offsets)
        }
        _ => {
            let l = c.as_list::<i64>();
            let o = l.value_offsets();
            let offsets = (0..l.len())
                .map(|i| (o[i] as usize, o[i + 1] as usize))
                .collect();
            (l.values().clone(), offsets)
        }
    };
    let values = text(&values, name)?;
    let mut b = StringBuilder::new();
    for (i, (from, to)) in offsets.into_iter().enumerate() {
        if c.is_valid(i) && to > from && values.is_valid(from) {
            b.append_value(values.value(from));
        } else {
            b.append_null();
        }
    }
    Ok(b.finish())
}

/// Row `i` of a batch, as a record.
struct Row<'a> {
    columns: &'a Columns,
    i: usize,
}

impl Record for Row<'_> {
    fn get(&self, attr: Attr) -> Result<Option<Val<'_>>, String> {
        // `Columns::of` made a leaf for each of `Attr::ALL`, which is in the enum's order.
        let (leaf, nulls) = &self.columns.leaves[attr as usize];
        let i = self.i;
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return Ok(None);
        }
        Ok(match leaf {
            Leaf::Absent => None,
            Leaf::Int(a) => a.is_valid(i).then(|| Val::Int(a.value(i))),
            Leaf::Text(a) => a.is_valid(i).then(|| Val::Text(a.value(i))),
        })
    }

    fn unmapped<'s>(&'s self, f: &mut dyn FnMut(&'s str, Option<Val<'s>>)) -> Result<(), String> {
        let i = self.i;
        let text = |a: &'s StringArray, j: usize| a.is_valid(j).then(|| Val::Text(a.value(j)));
        match &self.columns.unmapped {
            Unmapped::Absent => {}
            Unmapped::Map(m) => {
                let (map, keys, values) = &**m;
                if map.is_valid(i) {
                    let o = map.value_offsets();
                    for j in o[i] as usize..o[i + 1] as usize {
                        if keys.is_valid(j) {
                            f(keys.value(j), text(values, j));
                        }
                    }
                }
            }
            Unmapped::Struct(s, children) => {
                if s.is_valid(i) {
                    for (name, values) in children {
                        f(name, text(values, i));
                    }
                }
            }
        }
        Ok(())
    }
}
