//! A Parquet file's footer, read and checked before the parquet crate trusts it: row
//! counts against the columns' value counts, sizes and offsets inside the file, and no
//! column chunk larger than rows under `--max-line-bytes` could be.

use parquet::file::reader::ChunkReader;

use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::ParquetError;

/// What is wrong with a footer (said after "the footer is damaged: ").
#[derive(Debug, thiserror::Error)]
pub enum FooterError {
    #[error(
        "{what} lies outside the file (offset {offset}, {length} bytes, in a file of \
         {file_len} bytes)"
    )]
    Outside {
        what: String,
        offset: i64,
        length: i64,
        file_len: u64,
    },
    #[error("row group {group} claims {rows} rows")]
    NegativeRows { group: usize, rows: i64 },
    #[error("{at} claims {bytes} bytes")]
    NegativeSize { at: String, bytes: i64 },
    #[error("row group {group} claims {rows} rows, but its column {column} holds {values} values")]
    Values {
        group: usize,
        rows: i64,
        column: String,
        values: i64,
    },
}

/// A file's footer, checked before anything else is read (see [`check_footer`]).
pub fn footer(file: &impl ChunkReader) -> Result<ParquetMetaData, ParquetError> {
    let len = file.len();
    let meta = ParquetMetaDataReader::new().parse_and_finish(file)?;
    check_footer(&meta, len)?;
    Ok(meta)
}

/// The footer with its page index, which lets a range of rows that cuts a row group
/// skip the pages of the rows outside it.
pub fn with_page_index(
    file: &impl ChunkReader,
    meta: &ParquetMetaData,
) -> Result<ParquetMetaData, ParquetError> {
    let mut reader = ParquetMetaDataReader::new_with_metadata(meta.clone())
        .with_page_index_policy(PageIndexPolicy::Optional);
    reader.read_page_indexes(file)?;
    Ok(reader.finish()?)
}

/// What a footer says about its row groups, checked against itself and the file's
/// length: row counts that are not negative and agree with every flat column's value
/// count, and column chunks and page indexes that lie inside the file. A footer that
/// fails is damage, said before the parquet crate trusts it (a wrong count would read
/// no rows; a negative size panics inside the crate).
fn check_footer(meta: &ParquetMetaData, file_len: u64) -> Result<(), FooterError> {
    let inside = |what: &dyn Fn() -> String, offset: i64, length: i64| {
        let fits =
            offset >= 0 && length >= 0 && (offset as u64).saturating_add(length as u64) <= file_len;
        match fits {
            true => Ok(()),
            false => Err(FooterError::Outside {
                what: what(),
                offset,
                length,
                file_len,
            }),
        }
    };
    for (i, g) in meta.row_groups().iter().enumerate() {
        let rows = g.num_rows();
        if rows < 0 {
            return Err(FooterError::NegativeRows { group: i, rows });
        }
        for c in g.columns() {
            let at = || format!("row group {i}, column {}", c.column_path().string());
            if c.uncompressed_size() < 0 {
                return Err(FooterError::NegativeSize {
                    at: at(),
                    bytes: c.uncompressed_size(),
                });
            }
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            inside(&at, start, c.compressed_size())?;
            if let (Some(o), Some(l)) = (c.column_index_offset(), c.column_index_length()) {
                inside(&|| format!("{}'s column index", at()), o, l.into())?;
            }
            if let (Some(o), Some(l)) = (c.offset_index_offset(), c.offset_index_length()) {
                inside(&|| format!("{}'s offset index", at()), o, l.into())?;
            }
            if c.column_descr().max_rep_level() == 0 && c.num_values() != rows {
                return Err(FooterError::Values {
                    group: i,
                    rows,
                    column: c.column_path().string(),
                    values: c.num_values(),
                });
            }
        }
    }
    Ok(())
}

/// Checks that no column chunk read (`roots`: the file's top-level columns read) is
/// larger, uncompressed, than its rows could be with every row under `max_line` bytes
/// (`--max-line-bytes`): such a chunk holds a value no line could, and inflating it
/// would take memory out of all proportion to the file.
pub fn check_sizes(
    meta: &ParquetMetaData,
    roots: &[usize],
    max_line: usize,
) -> Result<(), ParquetError> {
    let schema = meta.file_metadata().schema_descr();
    for (i, g) in meta.row_groups().iter().enumerate() {
        let rows = g.num_rows().max(0) as u64;
        let most = (rows + 1)
            .saturating_mul(max_line as u64)
            .saturating_add(1 << 20);
        for (leaf, c) in g.columns().iter().enumerate() {
            let size = c.uncompressed_size().max(0) as u64;
            if size > most && roots.contains(&schema.get_column_root_idx(leaf)) {
                return Err(ParquetError::TooLarge {
                    group: i,
                    column: c.column_path().string(),
                    size,
                    rows,
                    max_line,
                });
            }
        }
    }
    Ok(())
}
