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

/// A dotted-quad IPv4 address without leading zeros. (Two branch-free versions that
/// located the dots with masks of the token's 16 bytes, one copying the token, one
/// loading it in place, measured 20 % and 5 % slower end to end than this loop,
/// whose branches the CPU predicts well on real addresses.)
#[inline]
pub fn parse_v4(t: &[u8]) -> Option<[u8; 4]> {
    if !(7..=15).contains(&t.len()) {
        return None;
    }
    let mut out = [0u8; 4];
    let mut k = 0;
    let mut v = 0u32;
    let mut digits = 0u32;
    for &b in t {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            // A second digit after a leading zero, or a fourth digit.
            if (digits == 1 && v == 0) || digits == 3 {
                return None;
            }
            v = v * 10 + d as u32;
            digits += 1;
        } else if b == b'.' && digits > 0 && v <= 255 && k < 3 {
            out[k] = v as u8;
            k += 1;
            v = 0;
            digits = 0;
        } else {
            return None;
        }
    }
    if k != 3 || digits == 0 || v > 255 {
        return None;
    }
    out[3] = v as u8;
    Some(out)
}

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as IPv4-mapped IPv6), or `None`: what
/// [`super::parse_addr`] answers.
#[inline]
pub fn parse_addr(t: &[u8]) -> Option<[u8; 16]> {
    // Text without a `:` is never IPv6 text, so trying IPv4 first needs no search.
    match parse_v4(t) {
        Some(v4) => Some(super::mapped_v4(v4)),
        None => parse_v6(t),
    }
}

/// IPv6 text, by the grammar of `std`'s parser: up to eight groups of one to four hex
/// digits separated by `:`, one `::` standing for one or more zero groups, and an IPv4
/// address in place of the last two groups.
pub fn parse_v6(t: &[u8]) -> Option<[u8; 16]> {
    let mut p = 0;
    let mut head = [0u16; 8];
    let (head_len, head_v4) = groups(t, &mut p, &mut head);
    let groups16 = if head_len == 8 {
        head
    } else {
        if head_v4 || t.get(p..p + 2) != Some(b"::") {
            return None;
        }
        p += 2;
        let mut tail = [0u16; 7];
        let limit = 8 - (head_len + 1);
        let (tail_len, _) = groups(t, &mut p, &mut tail[..limit]);
        head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
        head
    };
    if p != t.len() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, g) in groups16.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

/// Reads `:`-separated groups into `out` from `t[*p..]`, stopping (with `*p` after the
/// last group read) at the first that does not parse; an IPv4 address ends the run
/// when at least two groups are left. Returns the number of groups and whether the
/// last two came from an IPv4 address.
fn groups(t: &[u8], p: &mut usize, out: &mut [u16]) -> (usize, bool) {
    let limit = out.len();
    for i in 0..limit {
        let at = if i > 0 {
            if t.get(*p) != Some(&b':') {
                return (i, false);
            }
            *p + 1
        } else {
            *p
        };
        if i + 1 < limit {
            if let Some((v4, end)) = embedded_v4(t, at) {
                out[i] = u16::from_be_bytes([v4[0], v4[1]]);
                out[i + 1] = u16::from_be_bytes([v4[2], v4[3]]);
                *p = end;
                return (i + 2, true);
            }
        }
        match hex_group(t, at) {
            Some((g, end)) => {
                out[i] = g;
                *p = end;
            }
            None => return (i, false),
        }
    }
    (limit, false)
}

/// One to four hex digits at `t[at..]` (a fifth digit makes it no group at all).
fn hex_group(t: &[u8], at: usize) -> Option<(u16, usize)> {
    let mut v = 0u16;
    let mut i = at;
    while let Some(d) = t.get(i).and_then(|&b| (b as char).to_digit(16)) {
        if i - at == 4 {
            return None;
        }
        v = (v << 4) | d as u16;
        i += 1;
    }
    (i > at).then_some((v, i))
}

/// An IPv4 address at `t[at..]` (not necessarily ending the text), as `std` reads one
/// inside IPv6: four decimal octets of one to three digits, no leading zeros.
fn embedded_v4(t: &[u8], at: usize) -> Option<([u8; 4], usize)> {
    let mut out = [0u8; 4];
    let mut i = at;
    for (k, octet) in out.iter_mut().enumerate() {
        if k > 0 {
            if t.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while let Some(&b) = t.get(i).filter(|b| b.is_ascii_digit()) {
            if i - start == 3 {
                return None;
            }
            v = v * 10 + (b - b'0') as u32;
            i += 1;
        }
        if i == start || v > 255 || (i - start > 1 && t[start] == b'0') {
            return None;
        }
        *octet = v as u8;
    }
    Some((out, i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

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

    /// The reference decoder's IPv4 reading.
    fn reference_v4(t: &[u8]) -> Option<[u8; 4]> {
        let a = crate::parse::parse_addr(t)?;
        (a[..12] == crate::parse::mapped_v4([0; 4])[..12] && !t.contains(&b':'))
            .then(|| [a[12], a[13], a[14], a[15]])
    }

    #[test]
    fn ipv4_agrees_with_the_reference_on_every_short_text() {
        // Every text of up to 7 characters over an alphabet that reaches every branch,
        // and random longer ones.
        let alphabet = b"0129.:/a";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for len in 0..=7u32 {
            for mut k in 0..alphabet.len().pow(len) {
                let mut t = Vec::new();
                for _ in 0..len {
                    t.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                texts.push(t);
            }
        }
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = 7 + (seed % 10) as usize;
            let t = (0..len)
                .map(|i| b"0123456789....25"[((seed >> (4 * i)) & 15) as usize])
                .collect();
            texts.push(t);
        }
        for t in texts {
            assert_eq!(parse_v4(&t), reference_v4(&t), "{}", t.escape_ascii());
        }
    }

    #[test]
    fn ipv4() {
        assert_eq!(parse_v4(b"10.0.0.1"), Some([10, 0, 0, 1]));
        assert_eq!(parse_v4(b"255.255.255.255"), Some([255; 4]));
        for bad in [
            &b"10.0.0.256"[..],
            b"10.0.0",
            b"10.0.0.1.",
            b"10.00.0.1",
            b"1.2.3.4.5",
            b"01.2.3.4",
            b"1..2.3",
            b"1.2.3.",
            b".1.2.3",
            b"1000.2.3.4",
        ] {
            assert_eq!(parse_v4(bad), None, "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn ipv6_agrees_with_std_on_tricky_text() {
        for s in [
            "::",
            "::1",
            "1::",
            "1::2",
            "2001:db8::1",
            "2001:DB8:0:0:0:0:0:2",
            "::ffff:10.0.0.9",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6::1.2.3.4",
            "1::2::3",
            ":::",
            "1:::2",
            ":1::",
            "1:",
            ":",
            "",
            "12345::",
            "::12.34.56.789",
            "::1.2.3.04",
            "::1.2.3",
            "1.2.3.4::",
            "1.2.3.4",
            "::1.2.3.4:5",
            "fe80::1%eth0",
            "[::1]",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "0:0:0:0:0:0:0:0",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::0.0.0.0",
            "a:b:c:d:e:f:1.2.3.4",
            "1:2:3:4:5::1.2.3.4",
            "g::",
            "00000::",
        ] {
            let want = s.parse::<Ipv6Addr>().ok().map(|a| a.octets());
            let got = parse_v6(s.as_bytes());
            assert_eq!(got, want, "{s}");
        }
    }
}
