//! Parquet output for Athena, Spark, DuckDB and friends, with the column names and
//! types of AWS's own Parquet delivery: `INT32` for version, ports, protocol,
//! tcp-flags and traffic-path, `INT64` for packets, bytes, start and end, UTF-8
//! strings for everything else (addresses included), zstd-compressed.
//!
//! A Parquet file has one schema: the union of the columns of every layout met (an S3
//! tree whose flow log format gained a column), in the order first seen, with nulls
//! where a record's layout lacks a column. When a later layout brings a new column, the
//! rows written so far are copied once into a file with the wider schema.
//!
//! The file is written under a temporary name beside the target and renamed over it
//! only by [`ParquetWriter::commit`]: a failed run leaves any previous output as it was.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, FixedSizeBinaryArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{BatchWriter, Temp};
use crate::net::write_addr;

/// The Parquet (AWS) type of a decoded column type.
fn output_type(t: &DataType) -> DataType {
    match t {
        DataType::Int32 | DataType::Int64 | DataType::Boolean => t.clone(),
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

/// Writes batches to one Parquet file (see the module documentation).
pub struct ParquetWriter {
    path: PathBuf,
    /// The temporary file being written, removed unless committed.
    temp: Temp,
    /// How many temporary files were started (each widening starts one).
    generation: u32,
    writer: Option<ArrowWriter<File>>,
    schema: Option<SchemaRef>,
    finished: bool,
}

/// Row groups end at about this many encoded bytes: the size engines are tuned for
/// (Spark's and Hive's block size; Athena and DuckDB read by row group too).
pub const ROW_GROUP_BYTES: usize = 128 << 20;

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(format!("vpcflow {}", env!("CARGO_PKG_VERSION")))
        .build()
}

impl ParquetWriter {
    /// Starts writing `path`: creates the temporary file now, so that an unwritable
    /// directory fails early. Nothing is written at `path` until [`ParquetWriter::commit`].
    pub fn create(path: &str) -> io::Result<ParquetWriter> {
        let path = PathBuf::from(path);
        if path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a directory",
            ));
        }
        let (temp, file) = Temp::beside(&path, 0)?;
        drop(file);
        Ok(ParquetWriter {
            path,
            temp,
            generation: 0,
            writer: None,
            schema: None,
            finished: false,
        })
    }

    /// The batch in `schema`'s columns: converted to output types, nulls for the
    /// columns it lacks.
    fn conform(schema: &SchemaRef, batch: &RecordBatch) -> io::Result<RecordBatch> {
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

    /// Starts a file with `schema`, copying into it the rows written so far (with
    /// nulls in the new columns).
    fn widen(&mut self, schema: SchemaRef) -> io::Result<()> {
        self.generation += 1;
        let (temp, file) = Temp::beside(&self.path, self.generation)?;
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties()))
            .map_err(io::Error::other)?;
        if let Some(old) = self.writer.take() {
            old.close().map_err(io::Error::other)?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&self.temp.path)?)
                .and_then(|b| b.build())
                .map_err(io::Error::other)?;
            for batch in reader {
                let batch = batch.map_err(io::Error::other)?;
                writer
                    .write(&Self::conform(&schema, &batch)?)
                    .map_err(io::Error::other)?;
            }
        }
        self.temp = temp;
        self.writer = Some(writer);
        self.schema = Some(schema);
        Ok(())
    }

    /// Ends the file and moves it to the target path, replacing what was there.
    pub fn commit(mut self) -> io::Result<()> {
        self.finish()?;
        std::fs::rename(&self.temp.path, &self.path)?;
        self.temp.keep = true;
        Ok(())
    }
}

impl BatchWriter for ParquetWriter {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let incoming = output_schema(&batch.schema());
        let widened = match &self.schema {
            None => Some(incoming),
            Some(schema) => {
                let new: Vec<FieldRef> = incoming
                    .fields()
                    .iter()
                    .filter(|f| schema.field_with_name(f.name()).is_err())
                    .cloned()
                    .collect();
                (!new.is_empty()).then(|| {
                    let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
                    fields.extend(new);
                    Arc::new(Schema::new(fields))
                })
            }
        };
        if let Some(schema) = widened {
            self.widen(schema)?;
        }
        let schema = self.schema.clone().expect("set by widen");
        let out = Self::conform(&schema, batch)?;
        self.writer
            .as_mut()
            .expect("set by widen")
            .write(&out)
            .map_err(io::Error::other)
    }

    /// Ends the file (still under its temporary name).
    fn finish(&mut self) -> io::Result<()> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        if self.writer.is_none() {
            // No records at all: still a valid (empty) Parquet file of the default
            // layout, so that readers downstream do not fail.
            self.widen(output_schema(crate::format::Layout::default_v2().schema()))?;
        }
        match self.writer.take() {
            Some(w) => w.close().map(|_| ()).map_err(io::Error::other),
            None => Ok(()),
        }
    }
}

/// The Hive partition levels of `convert --partition-by`, in order.
pub const PARTITION_LEVELS: [&str; 4] = ["year", "month", "day", "hour"];

/// Hive's name for the partition of rows whose key is null (no `start`).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Most partition files open at once; when another partition comes, the one written
/// least recently is ended (a later row of it starts a second file there).
const OPEN_PARTITIONS: usize = 8;

/// Past this many partitions `convert` warns: each is a folder with at least one file
/// (about 13 kB of Parquet for even one record), and engines list and open many small
/// files slowly. Hourly partitions of 50,000 records at distinct hours made 645 MB of
/// 50,000 files from 3.6 MB of text.
pub const MANY_PARTITIONS: usize = 1_000;

/// The default most partitions a tree may have (`convert --max-partitions`): eleven
/// years of hours, or 270 of days; more is taken for a mistake in the records' times.
pub const MAX_PARTITIONS: usize = 100_000;

/// The records would make more partitions than the tree may have
/// ([`PartitionedWriter::max_partitions`]); carried inside the `io::Error` of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the records make more than {max} partitions")]
pub struct TooManyPartitions {
    /// The limit.
    pub max: usize,
    /// Records written before the one that would have started another partition.
    pub records: u64,
}

/// Writes batches into a Hive-partitioned tree (`year=2026/month=11/day=01/...`) of
/// Parquet files, by the UTC time of each record's `start`: the partition values live
/// in the folder names, as Athena, Spark and DuckDB expect. Every file is written under
/// a temporary name and renamed into place only by [`PartitionedWriter::commit`].
pub struct PartitionedWriter {
    dir: PathBuf,
    /// How many of [`PARTITION_LEVELS`] are used.
    levels: usize,
    /// Open files, least recently written first.
    open: Vec<(String, ParquetWriter)>,
    /// Ended files, committed with the others.
    ended: Vec<ParquetWriter>,
    /// Files started per partition.
    files: std::collections::HashMap<String, u32>,
    /// Files started in all.
    started: u64,
    /// Records written.
    records: u64,
    /// The earliest and latest partition keys met (see [`PartitionedWriter::key`]).
    span: Option<(i64, i64)>,
    /// Most partitions; starting one more is an error.
    max_partitions: usize,
    /// Set by [`PartitionedWriter::commit`]; without it, dropping the writer removes
    /// the partition folders it made, if they are empty.
    committed: bool,
}

impl PartitionedWriter {
    /// Starts a tree under `dir`, which must not exist or be empty (a table's location
    /// holds one table); `levels`: 3 (year, month, day) or 4 (and hour).
    pub fn create(dir: &str, levels: usize) -> io::Result<PartitionedWriter> {
        let dir = PathBuf::from(dir);
        if dir.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "it is a file"));
        }
        if dir.is_dir() && std::fs::read_dir(&dir)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "it is a directory that is not empty (the tree is one table: write it \
                 into a new or empty directory)",
            ));
        }
        std::fs::create_dir_all(&dir)?;
        Ok(PartitionedWriter {
            dir,
            levels,
            open: Vec::new(),
            ended: Vec::new(),
            files: Default::default(),
            started: 0,
            records: 0,
            span: None,
            max_partitions: usize::MAX,
            committed: false,
        })
    }

    /// Refuses, with [`TooManyPartitions`], a record that would start partition
    /// `max + 1`: nothing is then written.
    pub fn max_partitions(mut self, max: usize) -> PartitionedWriter {
        self.max_partitions = max;
        self
    }

    /// Partitions started so far.
    pub fn partitions(&self) -> usize {
        self.files.len()
    }

    /// Files started so far (a partition met again after others may have several).
    pub fn files_started(&self) -> u64 {
        self.started
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The folders of the earliest and latest partitions (those with a start time),
    /// `year=1970/month=01/day=01` and the like.
    pub fn span(&self) -> Option<(String, String)> {
        self.span
            .map(|(a, b)| (self.partition(Some(a)), self.partition(Some(b))))
    }

    /// The partition of a record starting at `start` (unix seconds), as the start of
    /// its hour or day: a number to group rows by, without formatting each row's time.
    fn key(&self, start: Option<i64>) -> Option<i64> {
        let unit = if self.levels == 4 { 3600 } else { 86_400 };
        start.map(|t| t.div_euclid(unit) * unit)
    }

    /// The partition folder of a key (see [`PartitionedWriter::key`]).
    fn partition(&self, key: Option<i64>) -> String {
        // Every level, null ones too: engines want the same keys in every folder.
        let values = match key.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
            Some(t) => ["%Y", "%m", "%d", "%H"].map(|f| t.format(f).to_string()),
            None => [(); 4].map(|_| NULL_PARTITION.to_string()),
        };
        PARTITION_LEVELS
            .iter()
            .zip(values)
            .take(self.levels)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The open file of a partition, started (and the oldest ended) when needed.
    fn file(&mut self, partition: &str) -> io::Result<&mut ParquetWriter> {
        match self.open.iter().position(|(p, _)| p == partition) {
            Some(i) => {
                let entry = self.open.remove(i);
                self.open.push(entry);
            }
            None => {
                if !self.files.contains_key(partition) && self.files.len() >= self.max_partitions {
                    return Err(io::Error::other(TooManyPartitions {
                        max: self.max_partitions,
                        records: self.records,
                    }));
                }
                if self.open.len() >= OPEN_PARTITIONS {
                    let (_, mut oldest) = self.open.remove(0);
                    oldest.finish()?;
                    self.ended.push(oldest);
                }
                let n = self.files.entry(partition.to_string()).or_default();
                let folder = self.dir.join(partition);
                std::fs::create_dir_all(&folder)?;
                let path = folder.join(format!("part-{:05}.parquet", *n));
                *n += 1;
                self.started += 1;
                let w = ParquetWriter::create(&path.to_string_lossy())?;
                self.open.push((partition.to_string(), w));
            }
        }
        Ok(&mut self.open.last_mut().expect("just pushed").1)
    }

    /// Ends every file and moves them into place.
    pub fn commit(mut self) -> io::Result<()> {
        self.committed = true;
        for (_, w) in self.open.drain(..) {
            w.commit()?;
        }
        for w in self.ended.drain(..) {
            w.commit()?;
        }
        Ok(())
    }
}

impl Drop for PartitionedWriter {
    /// A tree not committed leaves no files (each writer removes its temporary file)
    /// and none of the partition folders it made, where they are empty.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.open.clear();
        self.ended.clear();
        for partition in self.files.keys() {
            let mut folder = self.dir.join(partition);
            // The partition's folder, then its parents up to the tree's: a parent still
            // holding another partition stays, and goes with the last of them.
            while folder != self.dir && std::fs::remove_dir(&folder).is_ok() {
                if !folder.pop() {
                    break;
                }
            }
        }
    }
}

impl BatchWriter for PartitionedWriter {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let times = crate::columns::Times::of(batch);
        // Rows by partition, in order of first appearance; found by key, as a batch may
        // hold as many partitions as rows.
        let mut parts: Vec<(Option<i64>, Vec<u32>)> = Vec::new();
        let mut at: rustc_hash::FxHashMap<Option<i64>, usize> = Default::default();
        for row in 0..batch.num_rows() {
            let key = self.key(times.start(row));
            let i = *at.entry(key).or_insert_with(|| {
                parts.push((key, Vec::new()));
                parts.len() - 1
            });
            parts[i].1.push(row as u32);
        }
        for (key, rows) in parts {
            let n = rows.len() as u64;
            let p = self.partition(key);
            let part = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                let idx = arrow::array::UInt32Array::from(rows);
                let columns = batch
                    .columns()
                    .iter()
                    .map(|c| arrow::compute::take(c, &idx, None))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(io::Error::other)?;
                RecordBatch::try_new(batch.schema(), columns).map_err(io::Error::other)?
            };
            self.file(&p)?.write(&part)?;
            self.records += n;
            if let Some(k) = key {
                self.span = Some(self.span.map_or((k, k), |(a, b)| (a.min(k), b.max(k))));
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        for (_, w) in self.open.iter_mut() {
            w.finish()?;
        }
        Ok(())
    }
}
