//! Stage 1 of the decoder: one pass over a buffer in 64-byte blocks that classifies
//! every byte into bitmasks (separator: space or newline; non-ASCII) and writes the
//! positions of the separators as offsets, the "structural index" of simdjson and
//! simdcsv. The decoder then walks the offsets instead of searching each line and
//! each field with `memchr`.
//!
//! Three implementations give the same index: AVX2 (picked at run time where the CPU
//! has it), SSE2 (every x86-64 CPU) and a portable one for every other target. Setting
//! the environment variable `VPCFLOW_PORTABLE=1` forces the portable one (CI runs the
//! tests once that way).
//!
//! The last, partial block of a buffer is copied into a zero-padded block first, so no
//! implementation ever reads past the end of the buffer.

use std::sync::OnceLock;

/// The largest buffer [`index`] takes: offsets are `u32`.
pub const MAX_INDEXED: usize = u32::MAX as usize - 64;

/// Which block classifier runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classifier {
    /// 2 x 32 bytes with AVX2 compares.
    Avx2,
    /// 4 x 16 bytes with SSE2 compares.
    Sse2,
    /// Eight bytes at a time in a `u64` (SWAR), on every target.
    Portable,
}

impl Classifier {
    /// The best classifier this CPU supports, or the portable one when the environment
    /// variable `VPCFLOW_PORTABLE` is set to anything but `0` or nothing.
    pub fn detect() -> Classifier {
        let forced =
            std::env::var_os("VPCFLOW_PORTABLE").is_some_and(|v| !v.is_empty() && v != "0");
        if forced {
            return Classifier::Portable;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                return Classifier::Avx2;
            }
            Classifier::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        Classifier::Portable
    }

    /// The classifier of this process, detected once.
    pub fn active() -> Classifier {
        static ACTIVE: OnceLock<Classifier> = OnceLock::new();
        *ACTIVE.get_or_init(Classifier::detect)
    }

    /// A short name for summaries and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Classifier::Avx2 => "avx2",
            Classifier::Sse2 => "sse2",
            Classifier::Portable => "portable",
        }
    }
}

/// What [`index`] found in a buffer.
#[derive(Default, Debug)]
pub struct Index {
    /// Offsets of every space and newline, ascending. Only the first `len` entries
    /// are meaningful (the vector has slack at its end that the writer fills
    /// unconditionally).
    pub seps: Vec<u32>,
    pub len: usize,
    /// Offsets of the newlines (also in `seps`), ascending.
    pub newlines: Vec<u32>,
    /// The 64-byte blocks (offset / 64) that hold a byte >= 0x80, ascending.
    pub high_blocks: Vec<u32>,
}

/// What the block loop writes besides the separators.
struct Rare<'a> {
    newlines: &'a mut Vec<u32>,
    high_blocks: &'a mut Vec<u32>,
}

impl Index {
    /// The separators found.
    pub fn separators(&self) -> &[u32] {
        &self.seps[..self.len]
    }

    /// Whether any byte of `start..end` is >= 0x80. `cursor` is a position in
    /// `high_blocks` that callers asking about ascending ranges keep between calls.
    pub fn has_high(&self, start: usize, end: usize, cursor: &mut usize) -> bool {
        let blocks = &self.high_blocks;
        while *cursor < blocks.len() && ((blocks[*cursor] as usize + 1) * 64) <= start {
            *cursor += 1;
        }
        *cursor < blocks.len() && (blocks[*cursor] as usize * 64) < end
    }
}

/// Classifies `buf` (at most [`MAX_INDEXED`] bytes) into `out` with `classifier`.
pub fn index(classifier: Classifier, buf: &[u8], out: &mut Index) {
    assert!(buf.len() <= MAX_INDEXED, "buffer too large to index");
    out.high_blocks.clear();
    out.newlines.clear();
    // Each block writes up to 64 offsets, in rounds of 8 written unconditionally.
    let need = buf.len() + 72;
    if out.seps.len() < need {
        out.seps.resize(need, 0);
    }
    let rare = &mut Rare {
        newlines: &mut out.newlines,
        high_blocks: &mut out.high_blocks,
    };
    out.len = match classifier {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2` is only chosen by `Classifier::detect` after
        // `is_x86_feature_detected!("avx2")` said the CPU has it (tests call it the same
        // way, guarded by the same check).
        Classifier::Avx2 => unsafe { x86::index_avx2(buf, &mut out.seps, rare) },
        #[cfg(target_arch = "x86_64")]
        Classifier::Sse2 => x86::index_sse2(buf, &mut out.seps, rare),
        _ => index_with(buf, &mut out.seps, rare, masks_portable),
    };
}

/// The masks of one block: bit `i` describes byte `i`.
#[derive(Clone, Copy)]
struct Masks {
    /// Spaces and newlines.
    sep: u64,
    newline: u64,
    /// Bytes >= 0x80.
    high: u64,
}

/// The block loop shared by every classifier; `masks` is inlined into it, so that it
/// is compiled with the caller's target features.
#[inline(always)]
fn index_with(
    buf: &[u8],
    seps: &mut [u32],
    rare: &mut Rare,
    masks: impl Fn(&[u8; 64]) -> Masks,
) -> usize {
    let mut n = 0;
    let mut blocks = buf.chunks_exact(64);
    let mut base = 0u32;
    for block in &mut blocks {
        let block: &[u8; 64] = block.try_into().expect("64-byte chunks");
        let m = masks(block);
        n = flatten(m, base, seps, n, rare);
        base += 64;
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // The last bytes, padded with zeros: a zero byte is neither a separator nor
        // high, so the padding adds nothing to the index.
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        n = flatten(masks(&last), base, seps, n, rare);
    }
    n
}

/// Writes the offsets of the set bits of `m.sep` at `seps[n..]` and returns the new
/// count. Offsets are written eight at a time without looking at the count (the slack
/// at the end of `seps` takes the surplus), which keeps the loop free of
/// hard-to-predict branches. Newlines (about one block in four) and non-ASCII blocks
/// (rare) are noted on the side.
#[inline(always)]
fn flatten(m: Masks, base: u32, seps: &mut [u32], n: usize, rare: &mut Rare) -> usize {
    if m.high != 0 {
        rare.high_blocks.push(base / 64);
    }
    let mut newlines = m.newline;
    while newlines != 0 {
        rare.newlines.push(base + newlines.trailing_zeros());
        newlines &= newlines - 1;
    }
    let mut bits = m.sep;
    let count = bits.count_ones() as usize;
    let mut i = 0;
    while i < count {
        let out = &mut seps[n + i..n + i + 8];
        for slot in out {
            *slot = base + bits.trailing_zeros();
            bits &= bits.wrapping_sub(1);
        }
        i += 8;
    }
    n + count
}

/// Eight bytes at a time: a zero byte of `w ^ splat(c)` marks a `c`. The exact form of
/// the "has zero byte" test (no false positives from borrows).
#[inline(always)]
fn masks_portable(block: &[u8; 64]) -> Masks {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| !(((x & LO7) + LO7) | x | LO7);
    // The high bit of each byte, gathered into the low 8 bits.
    let gather = |x: u64| ((x & HI) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    let mut m = Masks {
        sep: 0,
        newline: 0,
        high: 0,
    };
    for (k, word) in block.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let space = gather(zero_bytes(w ^ 0x2020_2020_2020_2020));
        let newline = gather(zero_bytes(w ^ 0x0a0a_0a0a_0a0a_0a0a));
        let high = gather(w);
        m.sep |= (space | newline) << (8 * k);
        m.newline |= newline << (8 * k);
        m.high |= high << (8 * k);
    }
    m
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{flatten, index_with, Masks, Rare};
    use std::arch::x86_64::*;

    pub fn index_sse2(buf: &[u8], seps: &mut [u32], rare: &mut Rare) -> usize {
        index_with(buf, seps, rare, masks_sse2)
    }

    #[inline(always)]
    fn masks_sse2(block: &[u8; 64]) -> Masks {
        let mut m = Masks {
            sep: 0,
            newline: 0,
            high: 0,
        };
        for k in 0..4 {
            // SAFETY: `block` is 64 readable bytes and `16 * k + 16 <= 64`;
            // `_mm_loadu_si128` has no alignment requirement; SSE2 is part of the
            // x86-64 baseline, so every intrinsic here is available on this target.
            let (space, newline, high) = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * k) as *const __m128i);
                let sp = _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8));
                let nl = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
                (
                    _mm_movemask_epi8(sp) as u16 as u64,
                    _mm_movemask_epi8(nl) as u16 as u64,
                    _mm_movemask_epi8(v) as u16 as u64,
                )
            };
            m.sep |= (space | newline) << (16 * k);
            m.newline |= newline << (16 * k);
            m.high |= high << (16 * k);
        }
        m
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn index_avx2(buf: &[u8], seps: &mut [u32], rare: &mut Rare) -> usize {
        // The loop is written out here rather than shared through `index_with`, whose
        // closure would not inherit this function's target feature.
        let mut n = 0;
        let mut base = 0u32;
        let mut blocks = buf.chunks_exact(64);
        for block in &mut blocks {
            let block: &[u8; 64] = block.try_into().expect("64-byte chunks");
            n = flatten(masks_avx2(block), base, seps, n, rare);
            base += 64;
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 64];
            last[..rest.len()].copy_from_slice(rest);
            n = flatten(masks_avx2(&last), base, seps, n, rare);
        }
        n
    }

    // Kept on purpose beside `masks_sse2`: the same steps with 32-byte registers; one
    // generic version would need the target feature on a closure, which Rust lacks.
    #[target_feature(enable = "avx2")]
    fn masks_avx2(block: &[u8; 64]) -> Masks {
        let mut m = Masks {
            sep: 0,
            newline: 0,
            high: 0,
        };
        for k in 0..2 {
            // SAFETY: `block` is 64 readable bytes and `32 * k + 32 <= 64`;
            // `_mm256_loadu_si256` has no alignment requirement; this function is only
            // compiled with AVX2 enabled and only called from `index_avx2`, whose
            // caller checked that the CPU has it.
            let (space, newline, high) = unsafe {
                let v = _mm256_loadu_si256(block.as_ptr().add(32 * k) as *const __m256i);
                let sp = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b' ' as i8));
                let nl = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\n' as i8));
                (
                    _mm256_movemask_epi8(sp) as u32 as u64,
                    _mm256_movemask_epi8(nl) as u32 as u64,
                    _mm256_movemask_epi8(v) as u32 as u64,
                )
            };
            m.sep |= (space | newline) << (32 * k);
            m.newline |= newline << (32 * k);
            m.high |= high << (32 * k);
        }
        m
    }
}

/// Every classifier this CPU can run (the portable one always), for tests and
/// benchmarks.
pub fn available() -> Vec<Classifier> {
    let mut all = vec![Classifier::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        all.push(Classifier::Sse2);
        if std::arch::is_x86_feature_detected!("avx2") {
            all.push(Classifier::Avx2);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index computed byte by byte, independently of the block code.
    fn naive(buf: &[u8]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let seps = buf
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b' ' || b == b'\n')
            .map(|(i, _)| i as u32)
            .collect();
        let newlines = memchr::memchr_iter(b'\n', buf).map(|i| i as u32).collect();
        let mut high: Vec<u32> = buf
            .iter()
            .enumerate()
            .filter(|(_, &b)| b >= 0x80)
            .map(|(i, _)| i as u32 / 64)
            .collect();
        high.dedup();
        (seps, newlines, high)
    }

    #[test]
    fn every_classifier_agrees_with_a_byte_by_byte_scan() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"  \n\n0123456789.:abc-\r\t\x80\xc3\xa9\xff\x00";
        for len in (0..300).chain([1000, 4096, 4099]) {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let (seps, newlines, high) = naive(&buf);
            for c in available() {
                let mut idx = Index::default();
                index(c, &buf, &mut idx);
                assert_eq!(idx.separators(), &seps[..], "{c:?} len {len}");
                assert_eq!(idx.newlines, newlines, "{c:?} len {len}");
                assert_eq!(idx.high_blocks, high, "{c:?} len {len}");
            }
        }
    }

    #[test]
    fn high_bytes_are_found_per_range() {
        let mut buf = vec![b'a'; 300];
        buf[130] = 0xc3;
        let mut idx = Index::default();
        index(Classifier::active(), &buf, &mut idx);
        assert_eq!(idx.high_blocks, vec![2]);
        let mut cursor = 0;
        assert!(!idx.has_high(0, 128, &mut cursor));
        assert!(idx.has_high(100, 140, &mut cursor));
        assert!(
            idx.has_high(128, 129, &mut cursor),
            "same block, other bytes"
        );
        assert!(!idx.has_high(192, 300, &mut cursor));
    }
}
