//! Typed column buffers of the fast decoder: values go straight into `Vec`s of their
//! Arrow type, a column at a time, and become arrays without copying when the batch is
//! finished. The arrays are the same as [`crate::batch::BatchBuilder`] builds (same
//! values, same null slots, same dictionary keys in order of first appearance).
//!
//! Numeric and address columns can be cut back to a row count (`truncate`) or have
//! rows removed from their tail (`retain_tail`), so that the decoder can convert a
//! block of lines column by column and drop a bad line or a line outside the time
//! window afterwards. Text columns are appended last, for the rows that stay.

use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{
    ArrayRef, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, StringArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{Int32Type, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rustc_hash::FxHashMap;

use crate::batch::{Projection, Value};
use crate::format::{Kind, Layout};

/// Validity of a column's rows: arrow's bit-packed builder, which allocates nothing
/// until the first null.
pub struct Nulls(NullBufferBuilder);

impl Default for Nulls {
    fn default() -> Self {
        Nulls(NullBufferBuilder::new(0))
    }
}

impl Nulls {
    #[inline(always)]
    fn push(&mut self, valid: bool) {
        if valid {
            self.0.append_non_null()
        } else {
            self.0.append_null()
        }
    }

    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Keeps the rows of `from..` whose entry in `keep` is true (the rare path: a
    /// time window or a bad line), rebuilding the tail bit by bit.
    fn retain_tail(&mut self, from: usize, keep: &[bool]) {
        let tail: Vec<bool> = (0..keep.len()).map(|r| self.0.is_valid(from + r)).collect();
        self.0.truncate(from);
        for (r, valid) in tail.into_iter().enumerate() {
            if keep[r] {
                self.push(valid);
            }
        }
    }

    fn finish(&mut self) -> Option<NullBuffer> {
        self.0.finish().filter(|n| n.null_count() > 0)
    }
}

/// Removes the elements of `v[from..]` whose entry in `keep` is false.
fn retain_tail<T: Copy>(v: &mut Vec<T>, from: usize, keep: &[bool]) {
    let mut w = from;
    for r in 0..keep.len() {
        if keep[r] {
            v[w] = v[from + r];
            w += 1;
        }
    }
    v.truncate(w);
}

/// A fixed-width column: integers or 16-byte addresses.
#[derive(Default)]
pub struct Fixed<T> {
    pub values: Vec<T>,
    pub nulls: Nulls,
}

impl<T: Copy + Default> Fixed<T> {
    #[inline(always)]
    pub fn push(&mut self, v: T) {
        self.nulls.push(true);
        self.values.push(v);
    }

    #[inline(always)]
    pub fn push_null(&mut self) {
        self.nulls.push(false);
        self.values.push(T::default());
    }

    /// A value, or a null for `None`.
    #[inline(always)]
    pub fn push_opt(&mut self, v: Option<T>) {
        match v {
            Some(v) => self.push(v),
            None => self.push_null(),
        }
    }

    fn truncate(&mut self, len: usize) {
        self.values.truncate(len);
        self.nulls.truncate(len);
    }

    fn retain_tail(&mut self, from: usize, keep: &[bool]) {
        retain_tail(&mut self.values, from, keep);
        self.nulls.retain_tail(from, keep);
    }
}

/// A dictionary-encoded text column whose values persist across batches: a value
/// seen before is found by one hash lookup without allocating, and a value equal to
/// the previous row's is found without hashing (the same ENI, action or status on
/// consecutive lines). Each batch gets keys numbered in order of first appearance in
/// it, as `BatchBuilder` numbers them.
#[derive(Default)]
pub struct Dict {
    /// Every value seen (up to [`DICT_BYTES`]), its id, and its bytes in `arena`.
    ids: FxHashMap<Box<[u8]>, u32>,
    arena: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Per id: its key in this batch, or -1.
    key_of: Vec<i32>,
    /// Ids in this batch's key order.
    used: Vec<u32>,
    /// The previous row's id and key.
    last: Option<(u32, i32)>,
    keys: Fixed<i32>,
}

/// Whether two short byte strings are equal, compared a word at a time in place (a
/// call to `memcmp` for the usual 10 to 30 bytes costs more than the comparison).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if word(a, i) != word(b, i) {
                return false;
            }
            i += 8;
        }
        // The last (possibly overlapping) word.
        return word(a, n - 8) == word(b, n - 8);
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Bytes of distinct values a [`Dict`] remembers across batches; past this it starts
/// over at the next batch (a column of unique values does not grow without bound).
const DICT_BYTES: usize = 16 << 20;

impl Dict {
    #[inline]
    pub fn push(&mut self, s: &[u8]) {
        if let Some((id, key)) = self.last {
            let (a, b) = self.spans[id as usize];
            if same(&self.arena[a as usize..b as usize], s) {
                self.keys.push(key);
                return;
            }
        }
        let id = match self.ids.get(s) {
            Some(&id) => id,
            None => {
                let id = self.spans.len() as u32;
                let a = self.arena.len() as u32;
                self.arena.extend_from_slice(s);
                self.spans.push((a, self.arena.len() as u32));
                self.key_of.push(-1);
                self.ids.insert(s.into(), id);
                id
            }
        };
        let mut key = self.key_of[id as usize];
        if key < 0 {
            key = self.used.len() as i32;
            self.key_of[id as usize] = key;
            self.used.push(id);
        }
        self.last = Some((id, key));
        self.keys.push(key);
    }

    pub fn push_null(&mut self) {
        self.keys.push_null();
    }

    fn finish(&mut self) -> ArrayRef {
        let mut offsets = Vec::with_capacity(self.used.len() + 1);
        let mut data = Vec::new();
        offsets.push(0i32);
        for &id in &self.used {
            let (a, b) = self.spans[id as usize];
            data.extend_from_slice(&self.arena[a as usize..b as usize]);
            offsets.push(data.len() as i32);
            self.key_of[id as usize] = -1;
        }
        self.used.clear();
        self.last = None;
        if self.arena.len() > DICT_BYTES {
            *self = Dict {
                keys: std::mem::take(&mut self.keys),
                ..Dict::default()
            };
        }
        let values = text_array(offsets, data, None);
        let keys = Int32Array::new(
            ScalarBuffer::from(std::mem::take(&mut self.keys.values)),
            self.keys.nulls.finish(),
        );
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))
                .expect("keys index values"),
        )
    }
}

/// A plain text column.
pub struct Text {
    offsets: Vec<i32>,
    data: Vec<u8>,
    nulls: Nulls,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            offsets: vec![0],
            data: Vec::new(),
            nulls: Nulls::default(),
        }
    }
}

impl Text {
    pub fn push(&mut self, s: &[u8]) {
        self.nulls.push(true);
        self.data.extend_from_slice(s);
        self.offsets.push(self.data.len() as i32);
    }

    pub fn push_null(&mut self) {
        self.nulls.push(false);
        self.offsets.push(self.data.len() as i32);
    }

    fn finish(&mut self) -> ArrayRef {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let data = std::mem::take(&mut self.data);
        Arc::new(text_array(offsets, data, self.nulls.finish()))
    }
}

/// A `StringArray` of bytes the decoder checked to be UTF-8 (ASCII lines, or lines
/// that `std::str::from_utf8` accepted).
fn text_array(offsets: Vec<i32>, data: Vec<u8>, nulls: Option<NullBuffer>) -> StringArray {
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    StringArray::try_new(offsets, Buffer::from_vec(data), nulls).expect("valid UTF-8 and offsets")
}

/// One built column.
pub enum Col {
    I32(Fixed<i32>),
    I64(Fixed<i64>),
    Addr(Fixed<[u8; 16]>),
    Dict(Box<Dict>),
    Text(Text),
}

impl Col {
    fn new(kind: Kind) -> Col {
        match kind {
            Kind::Int32 { .. } => Col::I32(Fixed::default()),
            Kind::Int64 | Kind::Timestamp => Col::I64(Fixed::default()),
            Kind::Addr => Col::Addr(Fixed::default()),
            Kind::Dict => Col::Dict(Box::default()),
            Kind::Str => Col::Text(Text::default()),
        }
    }

    /// Whether the column is text (appended after the others, never fails).
    pub fn is_text(&self) -> bool {
        matches!(self, Col::Dict(_) | Col::Text(_))
    }

    pub fn truncate(&mut self, len: usize) {
        match self {
            Col::I32(c) => c.truncate(len),
            Col::I64(c) => c.truncate(len),
            Col::Addr(c) => c.truncate(len),
            Col::Dict(_) | Col::Text(_) => {}
        }
    }

    pub fn retain_tail(&mut self, from: usize, keep: &[bool]) {
        match self {
            Col::I32(c) => c.retain_tail(from, keep),
            Col::I64(c) => c.retain_tail(from, keep),
            Col::Addr(c) => c.retain_tail(from, keep),
            Col::Dict(_) | Col::Text(_) => {}
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::I32(c) => Arc::new(Int32Array::new(
                ScalarBuffer::from(std::mem::take(&mut c.values)),
                c.nulls.finish(),
            )),
            Col::I64(c) => Arc::new(Int64Array::new(
                ScalarBuffer::from(std::mem::take(&mut c.values)),
                c.nulls.finish(),
            )),
            Col::Addr(c) => {
                let values = std::mem::take(&mut c.values);
                let bytes: Vec<u8> = values.into_iter().flatten().collect();
                Arc::new(
                    FixedSizeBinaryArray::try_new(16, Buffer::from_vec(bytes), c.nulls.finish())
                        .expect("16-byte values"),
                )
            }
            Col::Dict(d) => d.finish(),
            Col::Text(t) => t.finish(),
        }
    }
}

/// The columns of one layout being built (projected columns only).
pub struct Columns {
    layout: Arc<Layout>,
    /// Per layout column: its index in `cols`, or `None` when projected away.
    pub slot: Vec<Option<usize>>,
    pub cols: Vec<Col>,
    schema: SchemaRef,
    rows: usize,
}

impl Columns {
    pub fn new(layout: Arc<Layout>, projection: Option<&Projection>) -> Columns {
        let keep =
            |i: usize| projection.is_none_or(|p| p.contains(layout.schema().field(i).name()));
        let mut slot = Vec::with_capacity(layout.len());
        let mut cols = Vec::new();
        let mut fields = Vec::new();
        for (i, c) in layout.columns().iter().enumerate() {
            if keep(i) {
                slot.push(Some(cols.len()));
                cols.push(Col::new(c.kind));
                fields.push(layout.schema().field(i).clone());
            } else {
                slot.push(None);
            }
        }
        let schema = match projection {
            None => layout.schema().clone(),
            Some(_) => Arc::new(Schema::new(fields)),
        };
        Columns {
            layout,
            slot,
            cols,
            schema,
            rows: 0,
        }
    }

    pub fn layout(&self) -> &Arc<Layout> {
        &self.layout
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Counts `n` rows appended column by column.
    pub fn add_rows(&mut self, n: usize) {
        self.rows += n;
    }

    /// Appends one row of validated values (the scalar path): `values` has one entry
    /// per layout column and every `Str` range lies inside `line` on a UTF-8 boundary.
    pub fn append(&mut self, line: &[u8], values: &[Value]) {
        for (slot, value) in self.slot.iter().zip(values) {
            let Some(i) = *slot else { continue };
            match (&mut self.cols[i], *value) {
                (Col::I32(c), Value::Int(v)) => c.push(v as i32),
                (Col::I64(c), Value::Int(v)) => c.push(v),
                (Col::Addr(c), Value::Addr(a)) => c.push(a),
                (Col::Dict(d), Value::Str(s, e)) => d.push(&line[s as usize..e as usize]),
                (Col::Text(t), Value::Str(s, e)) => t.push(&line[s as usize..e as usize]),
                (Col::I32(c), _) => c.push_null(),
                (Col::I64(c), _) => c.push_null(),
                (Col::Addr(c), _) => c.push_null(),
                (Col::Dict(d), _) => d.push_null(),
                (Col::Text(t), _) => t.push_null(),
            }
        }
        self.rows += 1;
    }

    /// The rows appended so far as a batch; the buffers start over.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let rows = std::mem::take(&mut self.rows);
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .expect("columns match the layout's schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_is_slice_equality() {
        let texts: Vec<Vec<u8>> = (0..40)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut changed = Vec::new();
                for i in 0..n {
                    let mut c = base.clone();
                    c[i] ^= 1;
                    changed.push(c);
                }
                std::iter::once(base).chain(changed)
            })
            .collect();
        for a in &texts {
            for b in &texts {
                assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}
