//! Opening a unit of a Parquet file for reading: its footer (and page index when the
//! unit cuts a row group), its columns as a flow-log layout, the projection, the checks
//! of sizes and page headers, and the crate's reader over the unit's rows.

use std::fs::File;
use std::io;
use std::sync::Arc;

use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Schema};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::ChunkReader;

use super::footer::{check_sizes, footer, with_page_index};
use super::pages::check_chunk;
use super::ParquetError;
use crate::format::Layout;
use crate::input::{ScanOptions, ENRICHMENT_COLUMNS};

/// The columns of a Parquet file that are read, as (index in the file, field name).
pub fn flow_columns(schema: &Schema) -> Vec<(usize, String)> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let name = f.name().to_ascii_lowercase();
            let enrichment = ENRICHMENT_COLUMNS.contains(&name.as_str());
            (crate::format::is_field_name(&name) && !enrichment).then_some((i, name))
        })
        .collect()
}

/// What a Parquet file is read from: the file, or the bytes of an object held whole.
pub trait Body: ChunkReader + 'static {
    /// Fills `buf` from byte `pos` on.
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
}

impl Body for File {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, pos)
    }
}

impl Body for bytes::Bytes {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        let from = usize::try_from(pos).unwrap_or(usize::MAX);
        let bytes = self
            .get(from..from.saturating_add(buf.len()))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// A unit opened for reading: the reader of its rows and columns, the file's layout,
/// and (layout column, file column) of the columns read, in order.
pub struct Opened {
    pub reader: ParquetRecordBatchReader,
    pub layout: Arc<Layout>,
    pub wanted: Vec<(usize, usize)>,
}

/// Opens the rows `rows` (`[first, end)`; all when `None`) of a Parquet file, projected
/// to the columns `options` asks for, after checking its footer (read here when not
/// given), its columns' types and sizes, and the page headers of the chunks read.
pub fn open(
    file: impl Body,
    rows: Option<(u64, u64)>,
    footer_read: Option<Arc<ParquetMetaData>>,
    options: &ScanOptions,
) -> Result<Opened, ParquetError> {
    let mut meta = match footer_read {
        Some(meta) => meta,
        None => Arc::new(footer(&file)?),
    };
    if let Some((first, end)) = rows {
        // Whether the range starts or ends inside a row group.
        let mut at = 0u64;
        let cuts = meta.row_groups().iter().any(|g| {
            let from = at;
            at += g.num_rows().max(0) as u64;
            (from < first && first < at) || (from < end && end < at)
        });
        if cuts {
            meta = Arc::new(with_page_index(&file, &meta)?);
        }
    }
    let schema = ArrowReaderMetadata::try_new(meta.clone(), ArrowReaderOptions::new())?
        .schema()
        .clone();
    let columns = flow_columns(&schema);
    let layout =
        Layout::new(columns.iter().map(|(_, n)| n.as_str())).map_err(ParquetError::NotALayout)?;
    let wanted = wanted(&schema, &columns, options)?;
    let roots: Vec<usize> = wanted.iter().map(|(_, i)| *i).collect();
    check_sizes(&meta, &roots, options.max_line_bytes)?;
    let arrow = ArrowReaderMetadata::try_new(
        meta.clone(),
        ArrowReaderOptions::new().with_schema(Arc::new(as_views(&schema))),
    )?;
    let total: u64 = meta
        .row_groups()
        .iter()
        .map(|g| g.num_rows().max(0) as u64)
        .sum();
    let (groups, selection) = select(&meta, rows.unwrap_or((0, total)));
    check_pages(&file, &meta, &groups, &roots)?;
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, arrow);
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut builder = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_batch_size(options.batch_size.max(1));
    if rows.is_some() {
        builder = builder.with_row_selection(RowSelection::from(selection));
    }
    Ok(Opened {
        reader: builder.build()?,
        layout: Arc::new(layout),
        wanted,
    })
}

/// The columns to read, as (layout column, file column): the projection's, in the
/// file's order; each of a type that can hold a field.
fn wanted(
    schema: &Schema,
    columns: &[(usize, String)],
    options: &ScanOptions,
) -> Result<Vec<(usize, usize)>, ParquetError> {
    let wanted: Vec<(usize, usize)> = columns
        .iter()
        .enumerate()
        .filter(|(_, (_, name))| {
            let arrow_name = crate::format::column_name(name);
            options
                .projection
                .as_ref()
                .is_none_or(|p| p.contains(&arrow_name))
        })
        .map(|(k, (i, _))| (k, *i))
        .collect();
    for (_, i) in &wanted {
        let field = schema.field(*i);
        if !readable(field.data_type()) {
            return Err(ParquetError::Unfit {
                column: field.name().clone(),
                data_type: field.data_type().clone(),
            });
        }
    }
    Ok(wanted)
}

/// The file's schema with text read as views: a dictionary's value is then held once,
/// however many rows repeat it, where plain strings would copy it into every row.
fn as_views(schema: &Schema) -> Schema {
    Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| {
                let t = match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                    DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                    t => t.clone(),
                };
                f.as_ref().clone().with_data_type(t)
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    )
}

/// The row groups the rows `[first_row, end_row)` lie in, and which of their rows to
/// read.
fn select(
    meta: &ParquetMetaData,
    (first_row, end_row): (u64, u64),
) -> (Vec<usize>, Vec<RowSelector>) {
    let mut groups = Vec::new();
    let mut selection: Vec<RowSelector> = Vec::new();
    let mut at = 0u64;
    for (i, g) in meta.row_groups().iter().enumerate() {
        let end = at + g.num_rows().max(0) as u64;
        if end > first_row && at < end_row {
            groups.push(i);
            let (from, to) = (first_row.max(at), end_row.min(end));
            for s in [
                RowSelector::skip((from - at) as usize),
                RowSelector::select((to - from) as usize),
                RowSelector::skip((end - to) as usize),
            ] {
                if s.row_count > 0 {
                    selection.push(s);
                }
            }
        }
        at = end;
    }
    (groups, selection)
}

/// Checks the page headers of the chunks read (`roots`: the top-level columns read) of
/// row groups `groups`, before the crate sizes buffers from them.
pub fn check_pages(
    file: &impl Body,
    meta: &ParquetMetaData,
    groups: &[usize],
    roots: &[usize],
) -> Result<(), ParquetError> {
    let schema_descr = meta.file_metadata().schema_descr();
    for &g in groups {
        let group = meta.row_group(g);
        let rows = group.num_rows().max(0) as u64;
        for (leaf, c) in group.columns().iter().enumerate() {
            if roots.contains(&schema_descr.get_column_root_idx(leaf)) {
                let flat = c.column_descr().max_rep_level() == 0;
                check_chunk(file, c, rows, flat)
                    .map_err(|error| ParquetError::Page { group: g, error })?;
            }
        }
    }
    Ok(())
}

/// Whether a column of this type can be read as a flow-log field: text, binary (checked
/// as UTF-8 by value), any number, a dictionary of those; not a struct, list or map.
fn readable(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, values) => readable(values),
        t if t.is_nested() => false,
        t => can_cast_types(t, &DataType::Utf8),
    }
}
