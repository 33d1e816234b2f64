//! Parquet page headers, checked before the parquet crate trusts them. The crate sizes
//! its buffers from each page's header: a dictionary page claiming 400 million values,
//! or a page claiming 2 GB once inflated, in a file of a few kilobytes, made it allocate
//! gigabytes (found by the `parquet` fuzz target). [`check_chunk`] walks the headers of
//! one column chunk (a few bytes read per page; the pages themselves are not) and
//! refuses a page whose sizes or value count its bytes cannot hold.
//!
//! Page headers are Thrift compact structs (parquet-format's `PageHeader`); only the
//! fields checked are decoded, the rest skipped by their types.

use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::ColumnChunkMetaData;

/// Bytes read at a page's start for its header; a header that does not fit (large
/// statistics) is read again with more.
const HEADER_READ: usize = 256;

/// The largest page header read (statistics of long values may make one large).
const MAX_HEADER: usize = 1 << 20;

/// A page header refused: the column, the page's byte in the file, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("column {column}, page at byte {pos}: {problem}")]
pub struct PageError {
    pub column: String,
    pub pos: u64,
    pub problem: PageProblem,
}

/// What is wrong with a page header.
#[derive(Debug, thiserror::Error)]
pub enum PageProblem {
    #[error("its header cannot be read")]
    Unreadable,
    #[error("its header claims a negative size")]
    NegativeSize,
    #[error("its header claims {0} bytes, past the end of its column chunk")]
    PastChunk(i64),
    #[error(
        "its header claims {inflated} bytes inflated, more than its whole column chunk ({chunk})"
    )]
    Inflated { inflated: i64, chunk: u64 },
    #[error("its header claims {0} values")]
    NegativeValues(i64),
    #[error("its header claims a dictionary of {values} values in {bytes} bytes")]
    Dictionary { values: u64, bytes: i64 },
    #[error("its header claims {values} values in a row group of {rows} rows")]
    Values { values: u64, rows: u64 },
}

/// Checks the page headers of one column chunk of a row group of `rows` rows. `flat`:
/// the column is not repeated, so a page holds at most a value per row.
pub fn check_chunk(
    file: &impl super::open::Body,
    chunk: &ColumnChunkMetaData,
    rows: u64,
    flat: bool,
) -> Result<(), PageError> {
    let column = chunk.column_path().string();
    let start = chunk
        .dictionary_page_offset()
        .unwrap_or(chunk.data_page_offset()) as u64;
    let end = start + chunk.compressed_size().max(0) as u64;
    let chunk_size = chunk.uncompressed_size().max(0) as u64;
    let width = match chunk.column_type() {
        PhysicalType::INT32 | PhysicalType::FLOAT => 4,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 8,
        PhysicalType::INT96 => 12,
        PhysicalType::FIXED_LEN_BYTE_ARRAY => chunk.column_descr().type_length().max(1) as u64,
        // A length prefix of four bytes each.
        PhysicalType::BYTE_ARRAY => 4,
        PhysicalType::BOOLEAN => 0,
    };
    let mut pos = start;
    while pos < end {
        let refused = |problem| PageError {
            column: column.clone(),
            pos,
            problem,
        };
        let header = read_header(file, pos, end).ok_or_else(|| refused(PageProblem::Unreadable))?;
        if header.compressed < 0 || header.uncompressed < 0 {
            return Err(refused(PageProblem::NegativeSize));
        }
        let next = pos + header.len as u64 + header.compressed as u64;
        if next > end {
            return Err(refused(PageProblem::PastChunk(header.compressed)));
        }
        if header.uncompressed as u64 > chunk_size {
            return Err(refused(PageProblem::Inflated {
                inflated: header.uncompressed,
                chunk: chunk_size,
            }));
        }
        if let Some(n) = header.values {
            if n < 0 {
                return Err(refused(PageProblem::NegativeValues(n)));
            }
            let n = n as u64;
            if header.dictionary && n.saturating_mul(width) > header.uncompressed as u64 {
                return Err(refused(PageProblem::Dictionary {
                    values: n,
                    bytes: header.uncompressed,
                }));
            }
            if !header.dictionary && flat && n > rows {
                return Err(refused(PageProblem::Values { values: n, rows }));
            }
        }
        pos = next;
    }
    Ok(())
}

/// What is checked of a page header.
struct Header {
    /// The header's own length in bytes.
    len: usize,
    uncompressed: i64,
    compressed: i64,
    /// The value count of a data or dictionary page.
    values: Option<i64>,
    dictionary: bool,
}

fn read_header(file: &impl super::open::Body, pos: u64, end: u64) -> Option<Header> {
    let mut want = HEADER_READ;
    loop {
        let n = want.min((end - pos) as usize);
        let mut buf = vec![0; n];
        file.read_exact_at(&mut buf, pos).ok()?;
        let mut t = Thrift {
            b: &buf,
            p: 0,
            short: false,
        };
        match t.page_header() {
            Some(h) => return Some(h),
            // Ran out of bytes: read more, unless there are no more.
            None if t.short && n < (end - pos) as usize && want < MAX_HEADER => want *= 8,
            None => return None,
        }
    }
}

/// A Thrift compact protocol reader over a slice; `short` when it ran out of bytes.
struct Thrift<'a> {
    b: &'a [u8],
    p: usize,
    short: bool,
}

impl Thrift<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.b.get(self.p).copied();
        self.p += 1;
        if b.is_none() {
            self.short = true;
        }
        b
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn int(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip_bytes(&mut self, n: u64) -> Option<()> {
        let end = self.p.checked_add(usize::try_from(n).ok()?)?;
        if end > self.b.len() {
            self.short = true;
            return None;
        }
        self.p = end;
        Some(())
    }

    /// Skips a value of compact type `ty`; `depth` bounds nesting.
    fn skip(&mut self, ty: u8, depth: u32) -> Option<()> {
        if depth > 32 {
            return None;
        }
        match ty {
            1 | 2 => Some(()),
            3 => self.byte().map(drop),
            4..=6 => self.varint().map(drop),
            7 => self.skip_bytes(8),
            8 => {
                let n = self.varint()?;
                self.skip_bytes(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.elements(n, &[h & 0x0f], depth)
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Some(());
                }
                let kv = self.byte()?;
                self.elements(n, &[kv >> 4, kv & 0x0f], depth)
            }
            12 => self.fields(depth + 1, |t, _, ty| t.skip(ty, depth + 1)),
            _ => None,
        }
    }

    /// Skips `n` elements of a list or map, each of the types `types` in turn. Booleans
    /// in a collection take a byte each; every element takes at least a byte, so a count
    /// past the bytes left is short (and read again with more) rather than looped over.
    fn elements(&mut self, n: u64, types: &[u8], depth: u32) -> Option<()> {
        if n > (self.b.len() - self.p.min(self.b.len())) as u64 {
            self.short = true;
            return None;
        }
        for _ in 0..n {
            for &ty in types {
                if ty == 1 || ty == 2 {
                    self.byte()?;
                } else {
                    self.skip(ty, depth + 1)?;
                }
            }
        }
        Some(())
    }

    /// Reads a struct's fields, giving each (id, type) to `field`, which reads or skips
    /// its value.
    fn fields(
        &mut self,
        depth: u32,
        mut field: impl FnMut(&mut Self, i16, u8) -> Option<()>,
    ) -> Option<()> {
        let mut last = 0i16;
        loop {
            let h = self.byte()?;
            if h == 0 {
                return Some(());
            }
            let ty = h & 0x0f;
            let id = match h >> 4 {
                0 => i16::try_from(self.int()?).ok()?,
                delta => last.checked_add(i16::from(delta))?,
            };
            last = id;
            if depth > 32 {
                return None;
            }
            field(self, id, ty)?;
        }
    }

    /// A data page header (v1, v2) or dictionary page header: its value count.
    fn num_values(&mut self, ty: u8, depth: u32) -> Option<Option<i64>> {
        if ty != 12 {
            self.skip(ty, depth)?;
            return Some(None);
        }
        let mut values = None;
        self.fields(depth + 1, |t, id, ty| match (id, ty) {
            (1, 5) => {
                values = Some(t.int()?);
                Some(())
            }
            _ => t.skip(ty, depth + 1),
        })?;
        Some(values)
    }

    fn page_header(&mut self) -> Option<Header> {
        let (mut uncompressed, mut compressed) = (None, None);
        let (mut values, mut dictionary) = (None, false);
        self.fields(0, |t, id, ty| {
            match (id, ty) {
                (2, 5) => uncompressed = Some(t.int()?),
                (3, 5) => compressed = Some(t.int()?),
                (5 | 8, _) => values = t.num_values(ty, 1)?,
                (7, _) => {
                    dictionary = true;
                    values = t.num_values(ty, 1)?;
                }
                _ => t.skip(ty, 1)?,
            }
            Some(())
        })?;
        Some(Header {
            len: self.p,
            uncompressed: uncompressed?,
            compressed: compressed?,
            values,
            dictionary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dictionary page header as parquet-format writes it: type 2, sizes, and the
    /// dictionary page header with its value count.
    fn dictionary_header(uncompressed: i64, compressed: i64, values: i64) -> Vec<u8> {
        let zz = |v: i64| {
            let mut u = ((v << 1) ^ (v >> 63)) as u64;
            let mut out = Vec::new();
            loop {
                let b = (u & 0x7f) as u8;
                u >>= 7;
                if u == 0 {
                    out.push(b);
                    return out;
                }
                out.push(b | 0x80);
            }
        };
        let mut h = vec![0x15];
        h.extend(zz(2));
        h.push(0x15);
        h.extend(zz(uncompressed));
        h.push(0x15);
        h.extend(zz(compressed));
        // Field 7 (delta 4 from 3): a struct.
        h.push(0x4c);
        h.push(0x15);
        h.extend(zz(values));
        h.push(0x15);
        h.extend(zz(0));
        h.push(0x00);
        h.push(0x00);
        h
    }

    #[test]
    fn a_dictionary_page_header_is_read() {
        let b = dictionary_header(800, 120, 100);
        let mut t = Thrift {
            b: &b,
            p: 0,
            short: false,
        };
        let h = t.page_header().unwrap();
        assert_eq!(
            (h.len, h.uncompressed, h.compressed, h.values, h.dictionary),
            (b.len(), 800, 120, Some(100), true)
        );
        // Claims are read as written: the check refuses them.
        let b = dictionary_header(1000, 10, 400_000_000);
        let mut t = Thrift {
            b: &b,
            p: 0,
            short: false,
        };
        assert_eq!(t.page_header().unwrap().values, Some(400_000_000));
        // Cut short, it says so, to be read again with more bytes.
        let mut t = Thrift {
            b: &b[..b.len() - 3],
            p: 0,
            short: false,
        };
        assert!(t.page_header().is_none() && t.short);
    }

    /// Found by the `parquet` fuzz target: a map of booleans claiming 2^60 entries in a
    /// header took no byte per entry, and the walk never ended.
    #[test]
    fn a_collection_claiming_more_elements_than_bytes_ends_the_walk() {
        // Field 4 (a map): 2^60 entries of boolean keys and values; then nothing.
        let mut b = vec![0x4b];
        let mut n: u64 = 1 << 60;
        while n >= 0x80 {
            b.push((n as u8) | 0x80);
            n >>= 7;
        }
        b.push(n as u8);
        b.push(0x11);
        let mut t = Thrift {
            b: &b,
            p: 0,
            short: false,
        };
        assert!(t.page_header().is_none() && t.short);
        // A list of 2^60 booleans likewise.
        let mut b = vec![0x49, 0xf1];
        b.extend(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
        let mut t = Thrift {
            b: &b,
            p: 0,
            short: false,
        };
        assert!(t.page_header().is_none() && t.short);
    }
}
