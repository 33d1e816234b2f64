//! A Parquet column's cells as the text decoder would see them: text and bytes read in
//! place, a dictionary's values once, integers as numbers, anything else as its text.

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray,
    StringArray, StringViewArray,
};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Int64Type};

use super::ParquetError;
use crate::format::Kind;

/// Whether a text value stands for no value.
pub fn is_null_text(s: &str) -> bool {
    matches!(s, "-" | "" | "None")
}
/// A cell read as text: the text, or the bytes of a value that is not UTF-8.
pub type TextCell<'a> = Result<&'a str, &'a [u8]>;

fn utf8(bytes: &[u8]) -> TextCell<'_> {
    std::str::from_utf8(bytes).map_err(|_| bytes)
}

/// A column of text or bytes, read in place. (Its shape is `output::Col`'s, a view of
/// each array type; the types differ: these are every text and bytes type a file may
/// hold, those the types this crate builds.)
#[derive(Clone, Copy)]
enum Bytes<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
}

impl<'a> Bytes<'a> {
    fn of(array: &'a dyn Array) -> Option<Bytes<'a>> {
        Some(match array.data_type() {
            DataType::Utf8 => Bytes::Utf8(array.as_string()),
            DataType::LargeUtf8 => Bytes::LargeUtf8(array.as_string()),
            DataType::Utf8View => Bytes::Utf8View(array.as_string_view()),
            DataType::Binary => Bytes::Binary(array.as_binary()),
            DataType::LargeBinary => Bytes::LargeBinary(array.as_binary()),
            DataType::BinaryView => Bytes::BinaryView(array.as_binary_view()),
            _ => return None,
        })
    }

    /// The value of a valid row.
    fn at(self, row: usize) -> TextCell<'a> {
        match self {
            Bytes::Utf8(a) => Ok(a.value(row)),
            Bytes::LargeUtf8(a) => Ok(a.value(row)),
            Bytes::Utf8View(a) => Ok(a.value(row)),
            Bytes::Binary(a) => utf8(a.value(row)),
            Bytes::LargeBinary(a) => utf8(a.value(row)),
            Bytes::BinaryView(a) => utf8(a.value(row)),
        }
    }
}

/// Any readable column's cells as text: text and bytes in place, a dictionary's
/// values once (however many rows repeat them), other types (numbers) as their text.
pub struct Cells<'a> {
    nulls: Option<NullBuffer>,
    values: Values<'a>,
}

enum Values<'a> {
    Bytes(Bytes<'a>),
    /// A dictionary of text: each row's key, and the dictionary's values.
    Dict {
        keys: Vec<usize>,
        values: Vec<Option<TextCell<'a>>>,
    },
    /// Other types, as text.
    Owned(StringArray),
}

impl<'a> Cells<'a> {
    fn of(array: &'a ArrayRef) -> Result<Cells<'a>, ParquetError> {
        let nulls = array.logical_nulls();
        if let Some(b) = Bytes::of(array.as_ref()) {
            return Ok(Cells {
                nulls,
                values: Values::Bytes(b),
            });
        }
        if let Some(d) = array.as_any_dictionary_opt() {
            if let Some(b) = Bytes::of(d.values().as_ref()) {
                let v = d.values();
                let values = (0..v.len())
                    .map(|i| v.is_valid(i).then(|| b.at(i)))
                    .collect();
                return Ok(Cells {
                    nulls,
                    values: Values::Dict {
                        keys: d.normalized_keys(),
                        values,
                    },
                });
            }
        }
        // Numbers and other scalars: their text; a value that has none is an error,
        // never a null.
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let text = cast_with_options(array, &DataType::Utf8, &options).map_err(|error| {
            ParquetError::Cast {
                data_type: array.data_type().clone(),
                error,
            }
        })?;
        Ok(Cells {
            nulls,
            values: Values::Owned(text.as_string::<i32>().clone()),
        })
    }

    /// A row's cell; `None` for a null.
    pub fn get(&self, row: usize) -> Option<TextCell<'_>> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(row)) {
            return None;
        }
        match &self.values {
            Values::Bytes(b) => Some(b.at(row)),
            Values::Dict { keys, values } => values.get(keys[row]).copied().flatten(),
            Values::Owned(a) => Some(Ok(a.value(row))),
        }
    }

    /// A row's text: `None` for a null or a text that stands for none.
    pub fn text(&self, row: usize) -> Option<TextCell<'_>> {
        self.get(row)
            .filter(|c| !matches!(c, Ok(s) if is_null_text(s)))
    }
}

/// A column as read for its field: integers as numbers, anything else as text.
pub enum Read<'a> {
    Ints(Vec<Int>),
    Text(Cells<'a>),
}

impl<'a> Read<'a> {
    pub fn of(array: &'a ArrayRef, kind: Kind) -> Result<Read<'a>, ParquetError> {
        let numeric = matches!(kind, Kind::Int32 { .. } | Kind::Int64 | Kind::Timestamp);
        if numeric && array.data_type().is_integer() {
            if let Some(ints) = integers(array) {
                return Ok(Read::Ints(ints));
            }
        }
        Cells::of(array).map(Read::Text)
    }

    /// Adds each row's bytes as a line would hold them (its value and a separator).
    pub fn add_sizes(&self, size: &mut [usize]) {
        match self {
            Read::Ints(_) => size.iter_mut().for_each(|s| *s += 1),
            Read::Text(cells) => {
                for (row, s) in size.iter_mut().enumerate() {
                    *s += 1 + cells.get(row).map_or(0, |c| match c {
                        Ok(t) => t.len(),
                        Err(b) => b.len(),
                    });
                }
            }
        }
    }
}

/// An integer cell, read from any integer or text column.
#[derive(Clone, Copy)]
pub enum Int {
    Null,
    Value(i64),
}

/// The cells of an integer column; `None` when it does not cast to 64-bit integers.
fn integers(array: &ArrayRef) -> Option<Vec<Int>> {
    let a = cast(array, &DataType::Int64).ok()?;
    let a = a.as_primitive::<Int64Type>();
    Some(
        (0..array.len())
            .map(|r| {
                if a.is_valid(r) {
                    Int::Value(a.value(r))
                } else if array.is_valid(r) {
                    // A UInt64 beyond i64: out of every field's range.
                    Int::Value(i64::MAX)
                } else {
                    Int::Null
                }
            })
            .collect(),
    )
}
