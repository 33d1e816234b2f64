//! Addresses and CIDR blocks in the 16-byte form the decoder stores (IPv4 as
//! IPv4-mapped IPv6), so that a CIDR test is a masked comparison of two `u128`s.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::parse::{mapped_v4, parse_addr};

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
    pub fn parse_strict(s: &str) -> Result<Cidr, String> {
        let c: Cidr = s.parse()?;
        let addr = s.split_once('/').map_or(s, |(a, _)| a);
        match parse_addr(addr.as_bytes()) {
            Some(bytes) if u128::from_be_bytes(bytes) != c.network => {
                let (len, max) = if c.v4 {
                    (c.prefix - 96, 32)
                } else {
                    (c.prefix, 128)
                };
                Err(format!(
                    "{s:?} has host bits set: write {}/{len} for the block, or {addr}/{max} \
                     for the one address",
                    crate::output::addr_string(&c.network.to_be_bytes())
                ))
            }
            _ => Ok(c),
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a /32 or /128).
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let bytes = parse_addr(addr.as_bytes())
            .ok_or_else(|| format!("{s:?} is not a CIDR block (like 10.0.0.0/16)"))?;
        let v4 = addr.parse::<IpAddr>().is_ok_and(|a| a.is_ipv4());
        let max = if v4 { 32 } else { 128 };
        let len: u8 = match len {
            None => max,
            Some(l) => l
                .parse()
                .ok()
                .filter(|&n: &u8| n <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0 to {max}"))?,
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
        crate::output::write_addr(&bytes, &mut text);
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
            Err("\"10.0.0.0/33\": prefix length must be 0 to 32".into())
        );
        assert_eq!(
            "vpc".parse::<Cidr>(),
            Err("\"vpc\" is not a CIDR block (like 10.0.0.0/16)".into())
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
}
