//! Addresses and CIDR blocks in the 16-byte form the decoder stores (IPv4 as
//! IPv4-mapped IPv6), so that a CIDR test is a masked comparison of two `u128`s.

use std::fmt;
use std::io::Write as _;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// A CIDR block such as `10.0.0.0/16` or `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: u128,
    /// Prefix length in the 128-bit space (an IPv4 /16 is a /112 here).
    prefix: u8,
    v4: bool,
}

impl Cidr {
    /// Whether the 16-byte address lies in the block. A block matches addresses of its
    /// own family only: `::/0` is every IPv6 address and no IPv4 one, although IPv4
    /// addresses are stored IPv4-mapped (`::ffff:a.b.c.d`, inside `::/0` as bits).
    pub fn contains(&self, addr: &[u8; 16]) -> bool {
        if is_v4(addr) != self.v4 {
            return false;
        }
        let a = u128::from_be_bytes(*addr);
        (a ^ self.network) & mask(self.prefix) == 0
    }

    /// Whether this is an IPv4 block.
    pub fn is_v4(&self) -> bool {
        self.v4
    }

    /// The first and the last address of the block, in the 16-byte form.
    pub fn bounds(&self) -> ([u8; 16], [u8; 16]) {
        let last = self.network | !mask(self.prefix);
        (self.network.to_be_bytes(), last.to_be_bytes())
    }
}

/// Whether a stored address is an IPv4 one (IPv4-mapped in the 16-byte form).
pub fn is_v4(addr: &[u8; 16]) -> bool {
    addr[..10] == [0; 10] && addr[10] == 0xff && addr[11] == 0xff
}

fn mask(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix as u32)
    }
}

impl Cidr {
    /// Parses a block as a policy writes it: like `parse`, but an address with bits set
    /// past the prefix (`10.0.0.50/8`) is refused rather than read as its network, as
    /// Python's `ipaddress` does: it is a typo for a /32 or for the network.
    pub fn parse_strict(s: &str) -> Result<Cidr, NetError> {
        let c: Cidr = s.parse()?;
        let addr = s.split_once('/').map_or(s, |(a, _)| a);
        match parse_addr(addr.as_bytes()) {
            Some(bytes) if u128::from_be_bytes(bytes) != c.network => Err(NetError::HostBits {
                text: s.to_string(),
                block: c,
                addr: addr.to_string(),
                max: if c.v4 { 32 } else { 128 },
            }),
            _ => Ok(c),
        }
    }
}

impl Cidr {
    /// The block of one address (`/32`, `/128`).
    pub fn host(addr: &[u8; 16]) -> Cidr {
        Cidr {
            network: u128::from_be_bytes(*addr),
            prefix: 128,
            v4: is_v4(addr),
        }
    }

    /// The fewest blocks that hold exactly these addresses and no other: two sibling
    /// blocks become their parent only when both are there, so a prefix wider than a
    /// host appears only where the addresses fill it. Sorted; IPv4 first.
    pub fn collapse(addrs: &[[u8; 16]]) -> Vec<Cidr> {
        let mut sorted: Vec<[u8; 16]> = addrs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut stack: Vec<Cidr> = Vec::with_capacity(sorted.len());
        for a in &sorted {
            stack.push(Cidr::host(a));
            while let [.., lo, hi] = stack.as_slice() {
                let floor = if hi.v4 { 96 } else { 0 };
                let sibling = lo.prefix == hi.prefix
                    && lo.v4 == hi.v4
                    && hi.prefix > floor
                    && lo.network ^ hi.network == 1u128 << (128 - hi.prefix as u32)
                    && lo.network < hi.network;
                if !sibling {
                    break;
                }
                let parent = Cidr {
                    network: lo.network,
                    prefix: lo.prefix - 1,
                    v4: lo.v4,
                };
                stack.truncate(stack.len() - 2);
                stack.push(parent);
            }
        }
        stack
    }
}

impl Cidr {
    /// The prefix length as written (`/8` of an IPv4 block is 8).
    pub fn prefix_len(&self) -> u8 {
        if self.v4 {
            self.prefix - 96
        } else {
            self.prefix
        }
    }

    /// The block's first address as a number in its family's space (a `u32` for IPv4).
    pub fn first(&self) -> u128 {
        if self.v4 {
            self.network & u128::from(u32::MAX)
        } else {
            self.network
        }
    }
}

/// What is wrong with a CIDR block or a protocol given as text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    #[error("{text:?} is not a CIDR block (like 10.0.0.0/16)")]
    NotABlock { text: String },
    #[error("{text:?}: prefix length must be 0 to {max}")]
    PrefixLength { text: String, max: u8 },
    #[error(
        "{text:?} has host bits set: write {block} for the block, or {addr}/{max} for the \
         one address"
    )]
    HostBits {
        text: String,
        block: Cidr,
        addr: String,
        max: u8,
    },
    #[error("{text:?} is not a protocol ({} or 0-255)", protocol_names())]
    NotAProtocol { text: String },
}

impl FromStr for Cidr {
    type Err = NetError;

    /// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a /32 or /128).
    fn from_str(s: &str) -> Result<Cidr, NetError> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let bytes = parse_addr(addr.as_bytes()).ok_or_else(|| NetError::NotABlock {
            text: s.to_string(),
        })?;
        // `parse_addr` read it: IPv6 text always has a colon, a dotted quad never.
        let v4 = !addr.contains(':');
        let max = if v4 { 32 } else { 128 };
        let len: u8 = match len {
            None => max,
            Some(l) => Some(l)
                .filter(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|l| l.parse().ok())
                .filter(|&n: &u8| n <= max)
                .ok_or_else(|| NetError::PrefixLength {
                    text: s.to_string(),
                    max,
                })?,
        };
        let prefix = if v4 { len + 96 } else { len };
        let network = u128::from_be_bytes(bytes) & mask(prefix);
        Ok(Cidr {
            network,
            prefix,
            v4,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.network.to_be_bytes();
        let mut text = Vec::new();
        write_addr(&bytes, &mut text);
        let len = if self.v4 {
            self.prefix - 96
        } else {
            self.prefix
        };
        write!(f, "{}/{len}", String::from_utf8_lossy(&text))
    }
}

/// The private ranges that stand in for the VPC CIDRs when none are given: RFC 1918,
/// RFC 6598 (shared address space) and IPv6 unique local addresses.
pub fn private_ranges() -> Vec<Cidr> {
    [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    ]
    .iter()
    .map(|c| c.parse().expect("valid"))
    .collect()
}

/// Parses an address given as text into the stored 16-byte form.
pub fn addr(s: &str) -> Option<[u8; 16]> {
    parse_addr(s.trim().as_bytes())
}

/// The 16-byte form of an IPv4 address given as four octets.
pub fn v4(a: u8, b: u8, c: u8, d: u8) -> [u8; 16] {
    mapped_v4([a, b, c, d])
}

// Address text, both ways: the decoder's parsers (the hot path) and the canonical form.

/// An IPv4 address in the IPv4-mapped IPv6 form `::ffff:a.b.c.d`.
pub fn mapped_v4(o: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, o[0], o[1], o[2], o[3],
    ]
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
/// `std`'s parsers answer (the tests compare them).
#[inline]
pub fn parse_addr(t: &[u8]) -> Option<[u8; 16]> {
    // Text without a `:` is never IPv6 text, so trying IPv4 first needs no search.
    match parse_v4(t) {
        Some(v4) => Some(mapped_v4(v4)),
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

/// Writes a 16-byte address in its canonical text form: dotted quad for IPv4 (stored
/// IPv4-mapped), RFC 5952 for IPv6.
pub fn write_addr(bytes: &[u8], out: &mut Vec<u8>) {
    let octets: [u8; 16] = bytes.try_into().unwrap_or([0; 16]);
    if is_v4(&octets) {
        let mut b = itoa::Buffer::new();
        for (i, o) in octets[12..].iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            out.extend_from_slice(b.format(*o).as_bytes());
        }
    } else {
        let _ = write!(out, "{}", Ipv6Addr::from(octets));
    }
}

/// An address as text.
pub fn addr_string(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(39);
    write_addr(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// IP protocol numbers people know by name (IANA's keywords, lower case), with the
/// label prose and the report use. Tables print the name, `--protocol` and
/// `--where protocol=` read it, the report writes the label; any other number is
/// shown and read as its digits.
pub const PROTOCOLS: [(u8, &str, &str); 6] = [
    (6, "tcp", "TCP"),
    (17, "udp", "UDP"),
    (1, "icmp", "ICMP"),
    (58, "icmpv6", "ICMPv6"),
    (47, "gre", "GRE"),
    (50, "esp", "ESP"),
];

/// The name of a protocol number (`tcp`), if it has one.
pub fn protocol_name(p: i32) -> Option<&'static str> {
    PROTOCOLS.iter().find(|e| i32::from(e.0) == p).map(|e| e.1)
}

/// The label of a protocol number in prose (`TCP`), if it has one.
pub fn protocol_label(p: i32) -> Option<&'static str> {
    PROTOCOLS.iter().find(|e| i32::from(e.0) == p).map(|e| e.2)
}

/// A protocol given by name (any case) or number (0 to 255).
pub fn parse_protocol(s: &str) -> Result<i32, NetError> {
    let lower = s.to_ascii_lowercase();
    if let Some(e) = PROTOCOLS.iter().find(|e| e.1 == lower) {
        return Ok(i32::from(e.0));
    }
    lower
        .parse::<u8>()
        .map(i32::from)
        .map_err(|_| NetError::NotAProtocol {
            text: s.to_string(),
        })
}

/// The protocol names, as a message lists them.
fn protocol_names() -> String {
    let names: Vec<&str> = PROTOCOLS.iter().map(|e| e.1).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains() {
        let c: Cidr = "10.0.0.0/16".parse().unwrap();
        assert!(c.contains(&v4(10, 0, 255, 1)));
        assert!(!c.contains(&v4(10, 1, 0, 1)));
        assert!(
            !c.contains(&addr("::a00:1").unwrap()),
            "IPv4 blocks hold no IPv6"
        );
        let host: Cidr = "10.0.0.50".parse().unwrap();
        assert!(host.contains(&v4(10, 0, 0, 50)));
        assert!(!host.contains(&v4(10, 0, 0, 51)));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(&v4(203, 0, 113, 5)));
        assert!(!all.contains(&addr("2001:db8::1").unwrap()));
        let any6: Cidr = "::/0".parse().unwrap();
        assert!(any6.contains(&addr("2001:db8::1").unwrap()));
        assert!(
            !any6.contains(&v4(203, 0, 113, 5)),
            "an IPv6 block holds no IPv4 address"
        );
        let mapped: Cidr = "::ffff:0:0/96".parse().unwrap();
        assert!(!mapped.contains(&v4(10, 0, 0, 1)));
        let ula: Cidr = "fc00::/7".parse().unwrap();
        assert!(ula.contains(&addr("fd12:3456::1").unwrap()));
        assert!(!ula.contains(&addr("2001:db8::1").unwrap()));
        assert_eq!(c.to_string(), "10.0.0.0/16");
        assert_eq!(
            "10.0.3.7/16".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/16"
        );
        assert_eq!(ula.to_string(), "fc00::/7");
    }

    #[test]
    fn errors() {
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(NetError::PrefixLength {
                text: "10.0.0.0/33".into(),
                max: 32
            })
        );
        assert_eq!(
            "vpc".parse::<Cidr>(),
            Err(NetError::NotABlock { text: "vpc".into() })
        );
    }

    #[test]
    fn private() {
        let p = private_ranges();
        let inside = |a: [u8; 16]| p.iter().any(|c| c.contains(&a));
        assert!(inside(v4(10, 1, 2, 3)));
        assert!(inside(v4(172, 31, 0, 1)));
        assert!(inside(v4(100, 64, 0, 1)));
        assert!(!inside(v4(172, 32, 0, 1)));
        assert!(!inside(v4(8, 8, 8, 8)));
    }

    /// `std`'s IPv4 reading.
    fn reference_v4(t: &[u8]) -> Option<[u8; 4]> {
        let a: std::net::Ipv4Addr = std::str::from_utf8(t).ok()?.parse().ok()?;
        Some(a.octets())
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
            let want = s.parse::<std::net::Ipv6Addr>().ok().map(|a| a.octets());
            let got = parse_v6(s.as_bytes());
            assert_eq!(got, want, "{s}");
        }
    }

    #[test]
    fn addresses() {
        // IPv4 text as `ipv4` reads it (its cases are there), stored IPv4-mapped.
        assert_eq!(parse_addr(b"10.0.0.1"), Some(mapped_v4([10, 0, 0, 1])));
        for bad in [&b"10.0.0.256"[..], b"", b"x", b"::g"] {
            assert_eq!(parse_addr(bad), None, "{}", bad.escape_ascii());
        }
        let v6 = parse_addr(b"2001:db8::1").unwrap();
        assert_eq!(v6[..4], [0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(v6[15], 1);
    }

    #[test]
    fn cidr_length_with_a_sign_or_space_is_refused() {
        // One parser for blocks (policies, filters and AWS's ranges): the length is
        // decimal digits only, as AWS's ranges file always had it.
        for text in ["10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/", "fd00::/0128"] {
            let e = text.parse::<Cidr>().unwrap_err().to_string();
            assert!(e.contains("prefix length must be 0 to"), "{text}: {e}");
        }
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert_eq!((c.first(), c.prefix_len()), (0x0a01_0000, 16));
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert_eq!((c.first() >> 96, c.prefix_len()), (0x2001_0db8, 32));
    }
}
