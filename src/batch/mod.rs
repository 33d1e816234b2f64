//! Arrow column builders that turn validated field values into a `RecordBatch`.
//!
//! The decoder validates a whole line into [`Value`]s first and only then appends
//! them here, so a rejected line never leaves a partial row behind.
//!
//! Dictionary columns use our own small builder instead of arrow's
//! `StringDictionaryBuilder`: flow logs repeat the same value on consecutive lines
//! (the same ENI, account, action), so a "same as the previous row" check answers most
//! appends without hashing, and new values are interned once per batch.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, FixedSizeBinaryBuilder, Int32Builder, Int64Builder, StringArray,
    StringBuilder,
};
use arrow::datatypes::{Int32Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use crate::format::{Kind, Layout};

/// One validated field value of the line being decoded. Strings are byte ranges into
/// the line, so no value allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Addr([u8; 16]),
    /// `start..end` within the line; already checked to be UTF-8.
    Str(u32, u32),
}

/// Interns strings of one column of one batch.
#[derive(Default)]
struct DictBuilder {
    map: FxHashMap<Box<[u8]>, i32>,
    values: StringBuilder,
    keys: Int32Builder,
    last: Option<(i32, usize, usize)>,
}

impl DictBuilder {
    fn append(&mut self, s: &str) {
        let bytes = s.as_bytes();
        if let Some((key, start, end)) = self.last {
            if self.values.values_slice()[start..end] == *bytes {
                self.keys.append_value(key);
                return;
            }
        }
        let key = match self.map.get(bytes) {
            Some(&k) => k,
            None => {
                let k = self.map.len() as i32;
                self.map.insert(bytes.into(), k);
                self.values.append_value(s);
                k
            }
        };
        let offsets = self.values.offsets_slice();
        let start = offsets[key as usize] as usize;
        let end = offsets[key as usize + 1] as usize;
        self.last = Some((key, start, end));
        self.keys.append_value(key);
    }

    fn finish(&mut self) -> ArrayRef {
        let keys = self.keys.finish();
        let values = Arc::new(self.values.finish()) as ArrayRef;
        self.map.clear();
        self.last = None;
        Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).expect("keys index values"))
    }
}

enum ColumnBuilder {
    Int32(Int32Builder),
    Int64(Int64Builder),
    Addr(FixedSizeBinaryBuilder),
    Dict(Box<DictBuilder>),
    Str(StringBuilder),
}

/// The columns a reader needs (Arrow names, `log_status`): the others are validated
/// (a bad value still rejects the line, as the contract requires) but never built into
/// arrays, and left out of the batches (projection pushdown).
pub type Projection = std::collections::HashSet<String>;

/// Builders for the (projected) columns of one layout.
pub struct BatchBuilder {
    layout: Arc<Layout>,
    /// One entry per layout column: `None` when the projection leaves it out.
    columns: Vec<Option<ColumnBuilder>>,
    schema: SchemaRef,
    rows: usize,
}

impl BatchBuilder {
    pub fn new(
        layout: Arc<Layout>,
        capacity: usize,
        projection: Option<&Projection>,
    ) -> BatchBuilder {
        let keep =
            |i: usize| projection.is_none_or(|p| p.contains(layout.schema().field(i).name()));
        let schema = match projection {
            None => layout.schema().clone(),
            Some(_) => Arc::new(Schema::new(
                (0..layout.len())
                    .filter(|&i| keep(i))
                    .map(|i| layout.schema().field(i).clone())
                    .collect::<Vec<_>>(),
            )),
        };
        let columns = layout
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                keep(i).then(|| match c.kind {
                    Kind::Int32 { .. } => {
                        ColumnBuilder::Int32(Int32Builder::with_capacity(capacity))
                    }
                    Kind::Int64 | Kind::Timestamp => {
                        ColumnBuilder::Int64(Int64Builder::with_capacity(capacity))
                    }
                    Kind::Addr => {
                        ColumnBuilder::Addr(FixedSizeBinaryBuilder::with_capacity(capacity, 16))
                    }
                    Kind::Dict => ColumnBuilder::Dict(Box::default()),
                    // Grown as needed: a layout of thousands of unknown fields stays small.
                    Kind::Str => ColumnBuilder::Str(StringBuilder::with_capacity(0, 0)),
                })
            })
            .collect();
        BatchBuilder {
            layout,
            columns,
            schema,
            rows: 0,
        }
    }

    /// Whether layout column `i` is built (not projected away).
    pub fn keeps(&self, i: usize) -> bool {
        self.columns[i].is_some()
    }

    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row. `values` has one entry per column (checked by the decoder) and
    /// every `Str` range lies inside `line` on a UTF-8 boundary.
    pub fn append(&mut self, line: &[u8], values: &[Value]) {
        debug_assert_eq!(values.len(), self.columns.len());
        let text = |s: u32, e: u32| {
            // The decoder validated this range as UTF-8 before handing it over.
            std::str::from_utf8(&line[s as usize..e as usize]).unwrap_or_default()
        };
        for (builder, value) in self.columns.iter_mut().zip(values) {
            let Some(builder) = builder else { continue };
            match (builder, *value) {
                (ColumnBuilder::Int32(b), Value::Int(v)) => b.append_value(v as i32),
                (ColumnBuilder::Int32(b), _) => b.append_null(),
                (ColumnBuilder::Int64(b), Value::Int(v)) => b.append_value(v),
                (ColumnBuilder::Int64(b), _) => b.append_null(),
                (ColumnBuilder::Addr(b), Value::Addr(a)) => {
                    b.append_value(a).expect("16-byte values");
                }
                (ColumnBuilder::Addr(b), _) => b.append_null(),
                (ColumnBuilder::Dict(b), Value::Str(s, e)) => b.append(text(s, e)),
                (ColumnBuilder::Dict(b), _) => b.keys.append_null(),
                (ColumnBuilder::Str(b), Value::Str(s, e)) => b.append_value(text(s, e)),
                (ColumnBuilder::Str(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    /// Finishes the rows appended so far into a batch and resets the builders.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .flatten()
            .map(|c| -> ArrayRef {
                match c {
                    ColumnBuilder::Int32(b) => Arc::new(b.finish()),
                    ColumnBuilder::Int64(b) => Arc::new(b.finish()),
                    ColumnBuilder::Addr(b) => Arc::new(b.finish()),
                    ColumnBuilder::Dict(b) => b.finish(),
                    ColumnBuilder::Str(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let rows = std::mem::take(&mut self.rows);
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .expect("builders match the layout's schema")
    }
}

/// The values of a dictionary column as plain strings (used by tests and writers).
pub fn dict_values(array: &DictionaryArray<Int32Type>) -> &StringArray {
    array
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("dictionary values are Utf8")
}
