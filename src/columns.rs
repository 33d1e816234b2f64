//! Typed, null-aware access to the columns of decoded and enriched batches, shared by
//! the join, the audit and the queries: a column by name and type, a value by row.

use arrow::array::{
    Array, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array, StringArray,
};
use arrow::datatypes::Int32Type;
use arrow::record_batch::RecordBatch;

/// A string column (dictionary or plain), by row.
pub enum TextCol<'a> {
    Dict(&'a Int32Array, &'a StringArray),
    Plain(&'a StringArray),
}

impl<'a> TextCol<'a> {
    pub fn of(batch: &'a RecordBatch, name: &str) -> Option<TextCol<'a>> {
        let c = batch.column_by_name(name)?;
        if let Some(d) = c.as_any().downcast_ref::<DictionaryArray<Int32Type>>() {
            return Some(TextCol::Dict(d.keys(), d.values().as_any().downcast_ref()?));
        }
        c.as_any().downcast_ref::<StringArray>().map(TextCol::Plain)
    }

    pub fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            TextCol::Dict(k, v) => k.is_valid(row).then(|| v.value(k.value(row) as usize)),
            TextCol::Plain(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

pub fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Option<&'a T> {
    batch.column_by_name(name)?.as_any().downcast_ref::<T>()
}

pub fn int32(a: Option<&Int32Array>, row: usize) -> Option<i32> {
    a.filter(|a| a.is_valid(row)).map(|a| a.value(row))
}

pub fn int64(a: Option<&Int64Array>, row: usize) -> Option<i64> {
    a.filter(|a| a.is_valid(row)).map(|a| a.value(row))
}

pub fn addr(a: Option<&FixedSizeBinaryArray>, row: usize) -> Option<[u8; 16]> {
    a.filter(|a| a.is_valid(row))
        .and_then(|a| a.value(row).try_into().ok())
}

/// The times of a batch's records: one place decides what "a record's time" is.
#[derive(Clone, Copy)]
pub struct Times<'a> {
    start: Option<&'a Int64Array>,
    end: Option<&'a Int64Array>,
}

impl<'a> Times<'a> {
    pub fn of(batch: &'a RecordBatch) -> Times<'a> {
        Times {
            start: col(batch, "start"),
            end: col(batch, "end"),
        }
    }

    /// A record's time: its `start`, else its `end` (a layout may log only one). Map
    /// lookups, windows, time buckets and first-seen times all use this.
    #[inline]
    pub fn at(&self, row: usize) -> Option<i64> {
        int64(self.start, row).or(int64(self.end, row))
    }

    /// When a record's capture window closed: its `end`, else its time ([`Times::at`]).
    #[inline]
    pub fn last(&self, row: usize) -> Option<i64> {
        int64(self.end, row).or(int64(self.start, row))
    }

    /// The `start` field alone (the partition key of `convert`, the first-seen time of
    /// a run).
    #[inline]
    pub fn start(&self, row: usize) -> Option<i64> {
        int64(self.start, row)
    }
}
