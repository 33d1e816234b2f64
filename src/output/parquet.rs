//! Parquet output for Athena, Spark, DuckDB and friends, with the column names and
//! types of AWS's own Parquet delivery: `INT32` for version, ports, protocol,
//! tcp-flags and traffic-path, `INT64` for packets, bytes, start and end, UTF-8
//! strings for everything else (addresses included), zstd-compressed.
//!
//! A Parquet file has one schema. The first batch fixes it; a later batch of another
//! layout (a different header line further on) is written into the same columns, with
//! nulls for the columns it lacks. A later layout with a column the file does not have
//! is an error rather than a silent drop: convert such inputs separately.

use std::fs::File;
use std::io;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, FixedSizeBinaryArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{write_addr, BatchWriter};

/// The Parquet (AWS) type of a decoded column type.
fn output_type(t: &DataType) -> DataType {
    match t {
        DataType::Int32 | DataType::Int64 => t.clone(),
        _ => DataType::Utf8,
    }
}

/// The schema a batch is written with.
pub fn output_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), output_type(f.data_type()), true))
            .collect::<Vec<_>>(),
    ))
}

/// Converts one decoded column to its output type.
fn to_output(array: &ArrayRef) -> io::Result<ArrayRef> {
    if array.data_type() == &output_type(array.data_type()) {
        return Ok(array.clone());
    }
    match array.data_type() {
        DataType::FixedSizeBinary(16) => {
            let a = array
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .expect("FixedSizeBinary(16)");
            let mut b = StringBuilder::with_capacity(a.len(), a.len() * 12);
            let mut text = Vec::with_capacity(40);
            for i in 0..a.len() {
                if a.is_null(i) {
                    b.append_null();
                } else {
                    text.clear();
                    write_addr(a.value(i), &mut text);
                    b.append_value(std::str::from_utf8(&text).unwrap_or_default());
                }
            }
            Ok(Arc::new(b.finish()))
        }
        t => cast(array, &output_type(t)).map_err(io::Error::other),
    }
}

/// The batch with every column converted to its output type (see [`output_schema`]).
/// The writer does this itself; doing it beforehand lets it run on another thread.
pub fn to_output_batch(batch: &RecordBatch) -> io::Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(to_output)
        .collect::<io::Result<Vec<_>>>()?;
    RecordBatch::try_new(output_schema(&batch.schema()), columns).map_err(io::Error::other)
}

/// Writes batches to one Parquet file.
pub struct ParquetWriter {
    path: String,
    writer: Option<ArrowWriter<File>>,
    schema: Option<SchemaRef>,
    file: Option<File>,
}

impl ParquetWriter {
    /// Creates (truncates) the output file now, so that an unwritable path fails early.
    pub fn create(path: &str) -> io::Result<ParquetWriter> {
        let file = File::create(path)?;
        Ok(ParquetWriter {
            path: path.to_string(),
            writer: None,
            schema: None,
            file: Some(file),
        })
    }

    fn conform(&self, schema: &SchemaRef, batch: &RecordBatch) -> io::Result<RecordBatch> {
        let incoming = batch.schema();
        if let Some(extra) = incoming
            .fields()
            .iter()
            .find(|f| schema.field_with_name(f.name()).is_err())
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: the input changes layout to one with column {} that the first \
                     layout lacks; convert inputs of different layouts to separate files",
                    self.path,
                    extra.name()
                ),
            ));
        }
        let columns = schema
            .fields()
            .iter()
            .map(|f| match batch.column_by_name(f.name()) {
                Some(c) => to_output(c),
                None => Ok(new_null_array(f.data_type(), batch.num_rows())),
            })
            .collect::<io::Result<Vec<_>>>()?;
        RecordBatch::try_new(schema.clone(), columns).map_err(io::Error::other)
    }
}

impl BatchWriter for ParquetWriter {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        if self.writer.is_none() {
            let schema = output_schema(&batch.schema());
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .set_created_by(format!("vpcflow {}", env!("CARGO_PKG_VERSION")))
                .build();
            let file = self
                .file
                .take()
                .expect("file is open until the writer exists");
            self.writer = Some(
                ArrowWriter::try_new(file, schema.clone(), Some(props))
                    .map_err(io::Error::other)?,
            );
            self.schema = Some(schema);
        }
        let schema = self.schema.clone().expect("set with the writer");
        let out = self.conform(&schema, batch)?;
        self.writer
            .as_mut()
            .expect("created above")
            .write(&out)
            .map_err(io::Error::other)
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.writer.take() {
            Some(w) => w.close().map(|_| ()).map_err(io::Error::other),
            // No records at all: still leave a valid (empty) Parquet file of the
            // default layout behind, so that readers downstream do not fail.
            None => {
                let schema = output_schema(crate::format::Layout::default_v2().schema());
                let file = match self.file.take() {
                    Some(f) => f,
                    None => return Ok(()),
                };
                ArrowWriter::try_new(file, schema, None)
                    .and_then(|w| w.close().map(|_| ()))
                    .map_err(io::Error::other)
            }
        }
    }
}
