//! AWS's published address ranges (`ip-ranges.json`): which AWS service, if any, an
//! address belongs to.
//!
//! AWS publishes the file at <https://ip-ranges.amazonaws.com/ip-ranges.json> and
//! documents it at <https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-ranges.html>.
//! Get it with
//!
//! ```sh
//! curl -o ip-ranges.json https://ip-ranges.amazonaws.com/ip-ranges.json
//! ```
//!
//! It changes several times a week; the tool never downloads it itself (it runs where
//! nothing may be reachable). `testdata/aws-ip-ranges.json` is a hand-made sample of two
//! dozen entries in the file's exact format, **not** the real file.
//!
//! The rule this module decides, once for the whole crate: an address is an AWS
//! service's when it falls in a prefix of the file and in none of its `EC2`,
//! `CLOUDFRONT` or `GLOBALACCELERATOR` prefixes, because those host other people's
//! servers too (an EC2 address is a customer's instance, not Amazon's); see
//! [`is_shared`]. The service named is the most specific (longest) prefix's whose
//! service is not the catch-all `AMAZON`, else `AMAZON`. The file lists one prefix
//! several times, once per service (`52.216.0.0/15` as `AMAZON` and as `S3`), and
//! prefixes nest (an `AMAZON` /16 holds an `S3` /22).
//!
//! A prefix matches addresses of its own family only, as everywhere in the crate
//! ([`crate::net::Cidr::contains`]): IPv4 addresses (stored IPv4-mapped,
//! `::ffff:a.b.c.d`) are looked up among `prefixes` alone, IPv6 ones among
//! `ipv6_prefixes` alone. So an IPv6 prefix over the mapped space, `::ffff:0:0/96`, is
//! accepted and matches nothing.
//!
//! # The index
//!
//! CIDR blocks are laminar: two of them are either disjoint or one holds the other. So
//! one sweep over the prefixes sorted by (start, length) with a stack of the open ones
//! knows, at every boundary, the whole chain of prefixes that hold the addresses from
//! there on, and can write down the answer for them. The result, per family, is a
//! sorted list of the starts of disjoint intervals that cover the family's whole
//! address space, each with its answer precomputed (nothing, or a service and region);
//! neighbours with the same answer are merged. A lookup is one binary search. The real
//! file (about 7,500 IPv4 and 2,500 IPv6 prefixes) gives at most twice as many
//! intervals as prefixes, held as `u32` starts for IPv4 and `u128` for IPv6 with 8
//! bytes of answer each; service and region names are interned.
//!
//! Errors are `String`s naming the file, like the other loaders of reference files
//! ([`crate::net::Cidr`]'s parser): the caller only ever reports them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;

use crate::intern::{Strings, NONE};
use crate::net::{is_v4, Cidr, NetError};

/// Where to get the real file, named in the error for a file of another shape.
const URL: &str = "https://ip-ranges.amazonaws.com/ip-ranges.json";

/// Services whose prefixes also hold other people's servers: an address in one of them
/// is nobody's in particular, whatever else holds it.
pub const SHARED: [&str; 3] = ["EC2", "CLOUDFRONT", "GLOBALACCELERATOR"];

/// The catch-all service, named only when no other service holds an address.
const AMAZON: &str = "AMAZON";

/// Whether a service name (as in `ip-ranges.json`, or a flow log's
/// `pkt-src-aws-service` / `pkt-dst-aws-service`) is one whose addresses also hold
/// other people's servers: `EC2`, `CLOUDFRONT` or `GLOBALACCELERATOR`.
pub fn is_shared(service: &str) -> bool {
    SHARED.contains(&service)
}

/// What AWS says about an address: the service and the region of the prefix that
/// decided it (the region may be `GLOBAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AwsService<'a> {
    pub service: &'a str,
    pub region: &'a str,
}

/// The address ranges of one `ip-ranges.json`, indexed for lookups in O(log n).
#[derive(Clone)]
pub struct AwsRanges {
    v4: Table<u32>,
    v6: Table<u128>,
    names: Strings,
    entries: usize,
}

/// One family's disjoint intervals: `starts[i]` to `starts[i + 1] - 1` (or the end of
/// the space) has `answers[i]`. `starts[0]` is 0.
#[derive(Clone, Debug)]
struct Table<K> {
    starts: Vec<K>,
    answers: Vec<Answer>,
}

/// Interned service and region; `service == NONE` is "not an AWS service's".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    service: u32,
    region: u32,
}

const NOTHING: Answer = Answer {
    service: NONE,
    region: NONE,
};

/// What is wrong with a file given as AWS's `ip-ranges.json`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RangesError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Anything but a JSON object with the lists (an array, a flow log, a CSV ENI map).
    #[error(
        "{name}: not AWS's ip-ranges.json: it has no \"prefixes\" list (download it from {URL})"
    )]
    WrongShape { name: String },
    #[error("{name}: not AWS's ip-ranges.json: {detail}")]
    NotRanges { name: String, detail: String },
    #[error("{name}: not valid JSON: {detail}")]
    NotJson { name: String, detail: String },
    #[error("{name}: {list}[{index}] has no \"{key}\"")]
    Missing {
        name: String,
        list: &'static str,
        index: usize,
        key: &'static str,
    },
    #[error("{name}: {list}[{index}]: {problem}")]
    Prefix {
        name: String,
        list: &'static str,
        index: usize,
        problem: Box<PrefixProblem>,
    },
}

/// What is wrong with one prefix of the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrefixProblem {
    #[error("{text:?} is not a CIDR block (like {example})")]
    NotABlock { text: String, example: &'static str },
    #[error("{text:?} is an IPv6 prefix, which belongs in \"ipv6_prefixes\"")]
    V6InV4List { text: String },
    #[error("{text:?} is an IPv4 prefix, which belongs in \"prefixes\"")]
    V4InV6List { text: String },
    #[error(transparent)]
    Block(#[from] crate::net::NetError),
}

fn wrong_shape(name: &str) -> RangesError {
    RangesError::WrongShape {
        name: name.to_string(),
    }
}

impl AwsRanges {
    /// Parses the text of `ip-ranges.json`; `name` (the path) is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<AwsRanges, RangesError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Anything but an object (an array, a flow log, a CSV ENI map) is the wrong file,
        // not broken JSON; saying so beats serde's "trailing characters at column 3".
        if !text.trim_start().starts_with('{') {
            return Err(wrong_shape(name));
        }
        let file: File = serde_json::from_str(text).map_err(|e| {
            let (name, detail) = (name.to_string(), e.to_string());
            match e.classify() {
                serde_json::error::Category::Data => RangesError::NotRanges { name, detail },
                _ => RangesError::NotJson { name, detail },
            }
        })?;
        if file.prefixes.is_none() && file.ipv6_prefixes.is_none() {
            return Err(wrong_shape(name));
        }
        let mut names = Strings::default();
        let v4_list = file.prefixes.unwrap_or_default();
        let v6_list = file.ipv6_prefixes.unwrap_or_default();
        let v4 = read_list(name, &v4_list, Family::V4, &mut names)?;
        let v6 = read_list(name, &v6_list, Family::V6, &mut names)?;
        let rules = Rules {
            shared: SHARED.iter().map(|s| names.id(s)).collect(),
            amazon: names.id(AMAZON),
        };
        Ok(AwsRanges {
            v4: Table::narrow(sweep(v4, u128::from(u32::MAX), &rules)),
            v6: sweep(v6, u128::MAX, &rules),
            names,
            entries: v4_list.len() + v6_list.len(),
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &str) -> Result<AwsRanges, RangesError> {
        let bytes = std::fs::read(path).map_err(|source| RangesError::Read {
            path: path.to_string(),
            source,
        })?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => AwsRanges::parse(path, text),
            // A gzip file or other binary: the wrong file, whatever it is.
            Err(_) => Err(wrong_shape(path)),
        }
    }

    /// What AWS says about an address: `None` when it is in no prefix, or when it is in
    /// an `EC2`, `CLOUDFRONT` or `GLOBALACCELERATOR` prefix; otherwise the service — the
    /// most specific (longest-prefix) service name other than `AMAZON` among the
    /// prefixes that hold it, else `AMAZON` — and the region of that prefix. Of two
    /// entries for the same prefix with different services, the first in the file wins.
    pub fn lookup(&self, addr: &[u8; 16]) -> Option<AwsService<'_>> {
        let answer = if is_v4(addr) {
            let a = u32::from_be_bytes([addr[12], addr[13], addr[14], addr[15]]);
            self.v4.get(a)
        } else {
            self.v6.get(u128::from_be_bytes(*addr))
        };
        Some(AwsService {
            service: self.names.get(answer.service)?,
            region: self.names.get(answer.region)?,
        })
    }

    /// Every interval of addresses that [`AwsRanges::lookup`] answers with a service, as
    /// `(first, last, service)` in the 16-byte form (IPv4 mapped), in address order:
    /// the same answers as a table (for `vpcflow sql`).
    pub fn intervals(&self) -> Vec<([u8; 16], [u8; 16], &str)> {
        let mut out = Vec::new();
        let mut family = |starts: Vec<u128>, answers: &[Answer], end: u128, base: u128| {
            for (i, (&s, a)) in starts.iter().zip(answers).enumerate() {
                let Some(service) = self.names.get(a.service) else {
                    continue;
                };
                let last = starts.get(i + 1).map_or(end, |n| n - 1);
                out.push((
                    (base | s).to_be_bytes(),
                    (base | last).to_be_bytes(),
                    service,
                ));
            }
        };
        let v4_base = 0xffff_u128 << 32;
        let v4: Vec<u128> = self.v4.starts.iter().map(|&s| u128::from(s)).collect();
        family(v4, &self.v4.answers, u128::from(u32::MAX), v4_base);
        family(self.v6.starts.clone(), &self.v6.answers, u128::MAX, 0);
        out
    }

    /// The number of entries read, IPv4 and IPv6 together (duplicates counted).
    pub fn prefixes(&self) -> usize {
        self.entries
    }
}

impl fmt::Debug for AwsRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsRanges")
            .field("entries", &self.entries)
            .field("v4_intervals", &self.v4.starts.len())
            .field("v6_intervals", &self.v6.starts.len())
            .finish()
    }
}

impl<K: Copy + Ord> Table<K> {
    fn get(&self, key: K) -> Answer {
        // starts[0] is the lowest key, so at least one start is <= key.
        let i = self.starts.partition_point(|&s| s <= key);
        self.answers[i - 1]
    }
}

impl Table<u32> {
    /// The IPv4 table, swept in `u128` over `0..=u32::MAX`, in `u32`s.
    fn narrow(wide: Table<u128>) -> Table<u32> {
        Table {
            starts: wide.starts.into_iter().map(|s| s as u32).collect(),
            answers: wide.answers,
        }
    }
}

impl Table<u128> {
    /// From `start` on, the answer is `answer` (until a later call says otherwise).
    /// Calls come in order of `start`; a second call at the same start replaces the
    /// first, and an answer equal to the previous interval's extends it.
    fn set(&mut self, start: u128, answer: Answer) {
        if self.starts.last() == Some(&start) {
            self.starts.pop();
            self.answers.pop();
        }
        if self.answers.last() != Some(&answer) {
            self.starts.push(start);
            self.answers.push(answer);
        }
    }
}

/// The file, as far as this module reads it; other keys (`syncToken`, `createDate`,
/// `network_border_group`, future ones) are skipped.
#[derive(Deserialize)]
#[serde(expecting = "AWS's ip-ranges.json (an object with a \"prefixes\" list)")]
struct File<'a> {
    #[serde(borrow)]
    prefixes: Option<Vec<Entry<'a>>>,
    #[serde(borrow)]
    ipv6_prefixes: Option<Vec<Entry<'a>>>,
}

/// One entry of either list. Every field is optional here so that a missing one is
/// reported with the entry's index rather than serde's line and column.
#[derive(Deserialize)]
#[serde(expecting = "a prefix entry (an object with \"ip_prefix\", \"region\" and \"service\")")]
struct Entry<'a> {
    #[serde(borrow)]
    ip_prefix: Option<Text<'a>>,
    #[serde(borrow)]
    ipv6_prefix: Option<Text<'a>>,
    #[serde(borrow)]
    service: Option<Text<'a>>,
    #[serde(borrow)]
    region: Option<Text<'a>>,
}

/// A JSON string, borrowed from the file unless it has escapes. (serde borrows a
/// `Cow<str>` field only when it is not inside an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(PhantomData<&'a str>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit(PhantomData))
    }
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn list(self) -> &'static str {
        match self {
            Family::V4 => "prefixes",
            Family::V6 => "ipv6_prefixes",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Family::V4 => "ip_prefix",
            Family::V6 => "ipv6_prefix",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Family::V4 => "3.5.140.0/22",
            Family::V6 => "2600:1f14::/35",
        }
    }

    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// One prefix as an interval of its family's space (`u32` values for IPv4).
struct Prefix {
    lo: u128,
    hi: u128,
    len: u8,
    service: u32,
    region: u32,
}

fn read_list(
    name: &str,
    list: &[Entry<'_>],
    family: Family,
    names: &mut Strings,
) -> Result<Vec<Prefix>, RangesError> {
    let list_name = family.list();
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let missing = |key: &'static str| RangesError::Missing {
            name: name.to_string(),
            list: list_name,
            index: i,
            key,
        };
        let text = match family {
            Family::V4 => &entry.ip_prefix,
            Family::V6 => &entry.ipv6_prefix,
        };
        let text = text.as_ref().ok_or_else(|| missing(family.key()))?;
        let service = entry.service.as_ref().ok_or_else(|| missing("service"))?;
        let region = entry.region.as_ref().ok_or_else(|| missing("region"))?;
        let (lo, len) =
            parse_prefix(text.as_str(), family).map_err(|problem| RangesError::Prefix {
                name: name.to_string(),
                list: list_name,
                index: i,
                problem: Box::new(problem),
            })?;
        out.push(Prefix {
            lo,
            hi: lo | host_mask(family, len),
            len,
            service: names.id(service.as_str()),
            region: names.id(region.as_str()),
        });
    }
    Ok(out)
}

/// The host bits of a prefix of length `len`, in the family's space.
fn host_mask(family: Family, len: u8) -> u128 {
    u128::MAX
        .checked_shr(128 - family.bits() + u32::from(len))
        .unwrap_or(0)
}

/// A prefix of the given family: its first address as a number in the family's space
/// (host bits cleared, as [`crate::net::Cidr`] does) and its length.
fn parse_prefix(text: &str, family: Family) -> Result<(u128, u8), PrefixProblem> {
    let bad = || PrefixProblem::NotABlock {
        text: text.to_string(),
        example: family.example(),
    };
    let (addr, _) = text.split_once('/').ok_or_else(bad)?;
    let block = match text.parse::<Cidr>() {
        Err(NetError::NotABlock { .. }) => return Err(bad()),
        block => block,
    };
    // The text, not the bytes, says the family (`::ffff:1.2.3.0` is IPv6 text).
    match (family, addr.contains(':')) {
        (Family::V4, true) => {
            return Err(PrefixProblem::V6InV4List {
                text: text.to_string(),
            })
        }
        (Family::V6, false) => {
            return Err(PrefixProblem::V4InV6List {
                text: text.to_string(),
            })
        }
        _ => {}
    }
    let block = block?;
    Ok((block.first(), block.prefix_len()))
}

/// The interned ids the answer depends on.
struct Rules {
    shared: Vec<u32>,
    amazon: u32,
}

/// What holds an address: the chain of prefixes from the outermost in, summed up.
#[derive(Clone, Copy)]
struct State {
    /// In an EC2, CLOUDFRONT or GLOBALACCELERATOR prefix.
    shared: bool,
    /// The most specific prefix of a service other than AMAZON: (length, answer).
    service: Option<(u8, Answer)>,
    /// The most specific AMAZON prefix.
    amazon: Option<(u8, Answer)>,
}

impl State {
    const EMPTY: State = State {
        shared: false,
        service: None,
        amazon: None,
    };

    /// This state with one more, at least as specific, prefix inside it. A prefix only
    /// as long as the best one so far is the same block listed again: the first wins.
    fn with(self, p: &Prefix, rules: &Rules) -> State {
        let mut s = self;
        let answer = Answer {
            service: p.service,
            region: p.region,
        };
        let better = |best: Option<(u8, Answer)>| best.is_none_or(|(len, _)| p.len > len);
        if rules.shared.contains(&p.service) {
            s.shared = true;
        } else if p.service == rules.amazon {
            if better(s.amazon) {
                s.amazon = Some((p.len, answer));
            }
        } else if better(s.service) {
            s.service = Some((p.len, answer));
        }
        s
    }

    fn answer(&self) -> Answer {
        if self.shared {
            return NOTHING;
        }
        match self.service.or(self.amazon) {
            Some((_, a)) => a,
            None => NOTHING,
        }
    }
}

/// Turns one family's prefixes into disjoint intervals over `0..=max`, each with its
/// answer (see the module documentation).
fn sweep(mut prefixes: Vec<Prefix>, max: u128, rules: &Rules) -> Table<u128> {
    // Outer blocks before the blocks they hold; the stable sort keeps file order among
    // copies of one block, which `State::with` relies on.
    prefixes.sort_by_key(|p| (p.lo, p.len));
    let mut table = Table {
        starts: vec![0],
        answers: vec![NOTHING],
    };
    // The open prefixes, outermost first: each one's last address and the state inside.
    let mut stack: Vec<(u128, State)> = Vec::new();
    // Closes the open prefixes that end before `upto` (all of them for None).
    let close = |stack: &mut Vec<(u128, State)>, table: &mut Table<u128>, upto: Option<u128>| {
        while let Some(&(hi, _)) = stack.last() {
            if upto.is_some_and(|lo| hi >= lo) {
                break;
            }
            stack.pop();
            if hi < max {
                let outer = stack.last().map_or(State::EMPTY, |&(_, s)| s);
                table.set(hi + 1, outer.answer());
            }
        }
    };
    for p in &prefixes {
        close(&mut stack, &mut table, Some(p.lo));
        // Whatever is still open holds p (laminar blocks, sorted by start then length).
        let outer = stack.last().map_or(State::EMPTY, |&(_, s)| s);
        let inside = outer.with(p, rules);
        stack.push((p.hi, inside));
        table.set(p.lo, inside.answer());
    }
    close(&mut stack, &mut table, None);
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::mapped_v4;
    use crate::net::{addr, v4, Cidr};

    /// A file in AWS's format from (prefix, service, region) triples, IPv4 and IPv6
    /// sorted into their lists by the text.
    fn file(entries: &[(&str, &str, &str)]) -> String {
        let entry = |key: &str, (p, s, r): &(&str, &str, &str)| {
            format!(
                "{{\"{key}\": \"{p}\", \"region\": \"{r}\", \"service\": \"{s}\", \
                 \"network_border_group\": \"{r}\"}}"
            )
        };
        let v4: Vec<String> = entries
            .iter()
            .filter(|e| !e.0.contains(':'))
            .map(|e| entry("ip_prefix", e))
            .collect();
        let v6: Vec<String> = entries
            .iter()
            .filter(|e| e.0.contains(':'))
            .map(|e| entry("ipv6_prefix", e))
            .collect();
        format!(
            "{{\"syncToken\": \"1795209185\", \"createDate\": \"2026-11-20-21-13-05\",\n\
             \"prefixes\": [{}],\n\"ipv6_prefixes\": [{}]}}",
            v4.join(",\n"),
            v6.join(",\n")
        )
    }

    fn ranges(entries: &[(&str, &str, &str)]) -> AwsRanges {
        AwsRanges::parse("test.json", &file(entries)).unwrap()
    }

    /// The lookup as (service, region), for short asserts.
    fn at(r: &AwsRanges, a: [u8; 16]) -> Option<(&str, &str)> {
        r.lookup(&a).map(|s| (s.service, s.region))
    }

    fn ip6(s: &str) -> [u8; 16] {
        addr(s).unwrap()
    }

    fn err(text: &str) -> String {
        AwsRanges::parse("ranges.json", text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn nesting() {
        let r = ranges(&[
            ("52.216.0.0/16", "AMAZON", "us-east-1"),
            ("52.216.4.0/22", "S3", "us-east-2"),
        ]);
        assert_eq!(at(&r, v4(52, 216, 5, 9)), Some(("S3", "us-east-2")));
        assert_eq!(at(&r, v4(52, 216, 0, 1)), Some(("AMAZON", "us-east-1")));
        assert_eq!(at(&r, v4(52, 216, 200, 1)), Some(("AMAZON", "us-east-1")));
        assert_eq!(at(&r, v4(52, 217, 0, 0)), None);
        assert_eq!(at(&r, v4(52, 215, 255, 255)), None);
        assert_eq!(r.prefixes(), 2);

        // Three deep, the inner two of other services: the innermost wins; listed
        // innermost first, which the sort must undo.
        let r = ranges(&[
            ("10.1.2.0/24", "ROUTE53_HEALTHCHECKS", "c"),
            ("10.1.0.0/16", "S3", "b"),
            ("10.0.0.0/8", "AMAZON", "a"),
        ]);
        assert_eq!(at(&r, v4(10, 1, 2, 3)), Some(("ROUTE53_HEALTHCHECKS", "c")));
        assert_eq!(at(&r, v4(10, 1, 3, 0)), Some(("S3", "b")));
        assert_eq!(at(&r, v4(10, 2, 0, 0)), Some(("AMAZON", "a")));

        // A service prefix holding a more specific AMAZON one: the service still wins
        // inside it (AMAZON is named only when nothing else holds the address).
        let r = ranges(&[("10.0.0.0/16", "S3", "a"), ("10.0.1.0/24", "AMAZON", "b")]);
        assert_eq!(at(&r, v4(10, 0, 1, 1)), Some(("S3", "a")));
    }

    #[test]
    fn boundaries() {
        let r = ranges(&[
            ("52.216.0.0/16", "AMAZON", "us-east-1"),
            ("52.216.4.0/22", "S3", "us-east-1"),
        ]);
        let s3 = Some(("S3", "us-east-1"));
        let amazon = Some(("AMAZON", "us-east-1"));
        // The /22 is 52.216.4.0 to 52.216.7.255.
        assert_eq!(at(&r, v4(52, 216, 3, 255)), amazon);
        assert_eq!(at(&r, v4(52, 216, 4, 0)), s3);
        assert_eq!(at(&r, v4(52, 216, 7, 255)), s3);
        assert_eq!(at(&r, v4(52, 216, 8, 0)), amazon);
        // The /16 is 52.216.0.0 to 52.216.255.255.
        assert_eq!(at(&r, v4(52, 215, 255, 255)), None);
        assert_eq!(at(&r, v4(52, 216, 0, 0)), amazon);
        assert_eq!(at(&r, v4(52, 216, 255, 255)), amazon);
        assert_eq!(at(&r, v4(52, 217, 0, 0)), None);
        // The ends of the address space.
        assert_eq!(at(&r, v4(0, 0, 0, 0)), None);
        assert_eq!(at(&r, v4(255, 255, 255, 255)), None);
    }

    #[test]
    fn ends_of_the_space() {
        let r = ranges(&[
            ("0.0.0.0/8", "AMAZON", "a"),
            ("255.255.255.255/32", "S3", "b"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", "S3", "c"),
            ("::/16", "AMAZON", "d"),
        ]);
        assert_eq!(at(&r, v4(0, 0, 0, 0)), Some(("AMAZON", "a")));
        assert_eq!(at(&r, v4(0, 255, 255, 255)), Some(("AMAZON", "a")));
        assert_eq!(at(&r, v4(1, 0, 0, 0)), None);
        assert_eq!(at(&r, v4(255, 255, 255, 254)), None);
        assert_eq!(at(&r, v4(255, 255, 255, 255)), Some(("S3", "b")));
        let max6 = ip6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(at(&r, max6), Some(("S3", "c")));
        assert_eq!(at(&r, ip6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:feff")), None);
        assert_eq!(at(&r, ip6("::")), Some(("AMAZON", "d")));
        assert_eq!(at(&r, ip6("0:ffff::1")), Some(("AMAZON", "d")));
        assert_eq!(at(&r, ip6("1::")), None);

        let everything = ranges(&[("0.0.0.0/0", "AMAZON", "x"), ("::/0", "S3", "y")]);
        assert_eq!(at(&everything, v4(0, 0, 0, 0)), Some(("AMAZON", "x")));
        assert_eq!(
            at(&everything, v4(255, 255, 255, 255)),
            Some(("AMAZON", "x"))
        );
        assert_eq!(at(&everything, max6), Some(("S3", "y")));
        assert_eq!(at(&everything, ip6("::")), Some(("S3", "y")));
        assert_eq!(everything.v4.starts, vec![0]);
    }

    #[test]
    fn shared_services_exclude() {
        // Same block as AMAZON and EC2, in either order: nobody's.
        let r = ranges(&[
            ("3.80.0.0/12", "AMAZON", "us-east-1"),
            ("3.80.0.0/12", "EC2", "us-east-1"),
            ("18.204.0.0/14", "EC2", "us-east-1"),
            ("18.204.0.0/14", "AMAZON", "us-east-1"),
        ]);
        assert_eq!(at(&r, v4(3, 80, 0, 0)), None);
        assert_eq!(at(&r, v4(3, 95, 255, 255)), None);
        assert_eq!(at(&r, v4(18, 205, 1, 1)), None);

        // A more specific service prefix inside an EC2 one is still excluded, and an EC2
        // prefix inside a service one excludes only its own addresses.
        let r = ranges(&[
            ("10.0.0.0/16", "EC2", "r1"),
            ("10.0.1.0/24", "S3", "r1"),
            ("20.0.0.0/16", "S3", "r2"),
            ("20.0.1.0/24", "EC2", "r2"),
        ]);
        assert_eq!(at(&r, v4(10, 0, 1, 5)), None);
        assert_eq!(at(&r, v4(20, 0, 0, 255)), Some(("S3", "r2")));
        assert_eq!(at(&r, v4(20, 0, 1, 0)), None);
        assert_eq!(at(&r, v4(20, 0, 1, 255)), None);
        assert_eq!(at(&r, v4(20, 0, 2, 0)), Some(("S3", "r2")));

        let r = ranges(&[
            ("13.32.0.0/15", "AMAZON", "GLOBAL"),
            ("13.32.0.0/15", "CLOUDFRONT", "GLOBAL"),
            ("13.248.96.0/24", "GLOBALACCELERATOR", "us-east-1"),
            ("13.248.96.0/24", "AMAZON", "us-east-1"),
            ("13.248.97.0/24", "AMAZON", "us-east-1"),
            ("2600:9000::/28", "CLOUDFRONT", "GLOBAL"),
            ("2600:9000::/28", "AMAZON", "GLOBAL"),
        ]);
        assert_eq!(at(&r, v4(13, 33, 0, 1)), None);
        assert_eq!(at(&r, v4(13, 248, 96, 7)), None);
        assert_eq!(at(&r, v4(13, 248, 97, 7)), Some(("AMAZON", "us-east-1")));
        assert_eq!(at(&r, ip6("2600:9000::1")), None);
        assert_eq!(at(&r, ip6("2600:9010::")), None);

        assert!(is_shared("EC2") && is_shared("CLOUDFRONT") && is_shared("GLOBALACCELERATOR"));
        assert!(!is_shared("AMAZON") && !is_shared("S3") && !is_shared("ec2"));
    }

    #[test]
    fn duplicates() {
        // The same entry twice, and one block under two services other than AMAZON: the
        // first in the file wins.
        let r = ranges(&[
            ("52.94.0.0/22", "DYNAMODB", "us-east-1"),
            ("52.94.0.0/22", "AMAZON", "us-east-1"),
            ("52.94.0.0/22", "DYNAMODB", "us-east-1"),
            ("52.94.0.0/22", "S3", "us-west-2"),
            ("52.95.0.0/24", "AMAZON", "eu-west-1"),
            ("52.95.0.0/24", "AMAZON", "us-east-1"),
        ]);
        assert_eq!(at(&r, v4(52, 94, 3, 0)), Some(("DYNAMODB", "us-east-1")));
        assert_eq!(at(&r, v4(52, 95, 0, 0)), Some(("AMAZON", "eu-west-1")));
        assert_eq!(r.prefixes(), 6);
        // Neighbours with one answer are merged: 0, 52.94.0.0, 52.94.4.0, 52.95.0.0,
        // 52.95.1.0.
        assert_eq!(r.v4.starts.len(), 5);
    }

    #[test]
    fn adjacent_merge() {
        let r = ranges(&[
            ("10.0.0.0/24", "S3", "r"),
            ("10.0.1.0/24", "S3", "r"),
            ("10.0.2.0/24", "S3", "q"),
        ]);
        assert_eq!(r.v4.starts, vec![0, 0x0a00_0000, 0x0a00_0200, 0x0a00_0300]);
        assert_eq!(at(&r, v4(10, 0, 1, 255)), Some(("S3", "r")));
        assert_eq!(at(&r, v4(10, 0, 2, 0)), Some(("S3", "q")));
        assert_eq!(at(&r, v4(10, 0, 3, 0)), None);
    }

    #[test]
    fn ipv6_and_family_separation() {
        let r = ranges(&[
            ("2600:1f00::/24", "AMAZON", "us-east-1"),
            ("2600:1fa0:4000::/40", "S3", "us-east-1"),
            ("::ffff:0:0/96", "S3", "mapped"),
            ("::/8", "AMAZON", "low"),
            ("10.0.0.0/8", "AMAZON", "v4"),
        ]);
        let s3 = Some(("S3", "us-east-1"));
        let amazon = Some(("AMAZON", "us-east-1"));
        assert_eq!(at(&r, ip6("2600:1fa0:4000::")), s3);
        assert_eq!(at(&r, ip6("2600:1fa0:40ff:ffff:ffff:ffff:ffff:ffff")), s3);
        assert_eq!(at(&r, ip6("2600:1fa0:4100::")), amazon);
        assert_eq!(
            at(&r, ip6("2600:1fa0:3fff:ffff:ffff:ffff:ffff:ffff")),
            amazon
        );
        assert_eq!(at(&r, ip6("2600:1f00::")), amazon);
        assert_eq!(
            at(&r, ip6("2600:1fff:ffff:ffff:ffff:ffff:ffff:ffff")),
            amazon
        );
        assert_eq!(at(&r, ip6("2600:2000::")), None);
        assert_eq!(at(&r, ip6("2600:1eff:ffff:ffff:ffff:ffff:ffff:ffff")), None);
        // IPv4 addresses are stored as ::ffff:a.b.c.d, inside both ::ffff:0:0/96 and
        // ::/8 as bits, but IPv6 prefixes hold no IPv4 address.
        assert_eq!(at(&r, v4(8, 8, 8, 8)), None);
        assert_eq!(at(&r, ip6("::ffff:8.8.8.8")), None);
        assert_eq!(at(&r, v4(10, 1, 2, 3)), Some(("AMAZON", "v4")));
        // And IPv4 prefixes hold no IPv6 address with the same low bits.
        assert_eq!(at(&r, ip6("::a01:203")), Some(("AMAZON", "low")));
        assert_eq!(at(&r, ip6("100::a01:203")), None);
    }

    #[test]
    fn unknown_keys_and_empty_lists() {
        let text = r#"{"syncToken": "1", "future": {"x": [1, 2]},
            "prefixes": [{"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2",
                          "service": "AMAZON", "network_border_group": "ap-northeast-2",
                          "new_key": null}]}"#;
        let r = AwsRanges::parse("x", text).unwrap();
        assert_eq!(at(&r, v4(3, 5, 141, 1)), Some(("AMAZON", "ap-northeast-2")));
        assert_eq!(r.prefixes(), 1);

        let r = AwsRanges::parse("x", r#"{"prefixes": [], "ipv6_prefixes": []}"#).unwrap();
        assert_eq!(r.prefixes(), 0);
        assert_eq!(at(&r, v4(3, 5, 141, 1)), None);
        assert_eq!(at(&r, ip6("2600::")), None);
        let r = AwsRanges::parse("x", "\u{feff} {\"ipv6_prefixes\": []}").unwrap();
        assert_eq!(r.prefixes(), 0);
        // Escapes in strings (which serde cannot borrow) are read too.
        let r = AwsRanges::parse(
            "x",
            r#"{"prefixes": [{"ip_prefix": "3.5.140.0\/22", "region": "eu\u002dwest-1",
                "service": "S3"}]}"#,
        )
        .unwrap();
        assert_eq!(at(&r, v4(3, 5, 143, 255)), Some(("S3", "eu-west-1")));
    }

    #[test]
    fn host_bits_are_cleared() {
        let r = ranges(&[("10.0.0.77/24", "S3", "r"), ("2600::1/16", "S3", "s")]);
        assert_eq!(at(&r, v4(10, 0, 0, 0)), Some(("S3", "r")));
        assert_eq!(at(&r, v4(10, 0, 0, 255)), Some(("S3", "r")));
        assert_eq!(at(&r, v4(10, 0, 1, 0)), None);
        assert_eq!(at(&r, ip6("2600::")), Some(("S3", "s")));
    }

    // Kept whole: one table of wrong files and wrong prefixes, each with its message.
    #[test]
    fn errors() {
        let shape = "ranges.json: not AWS's ip-ranges.json: it has no \"prefixes\" list \
                     (download it from https://ip-ranges.amazonaws.com/ip-ranges.json)";
        assert_eq!(err(r#"{"foo": 1}"#), shape);
        assert_eq!(err("{}"), shape);
        assert_eq!(err(r#"[{"prefixes": []}]"#), shape);
        assert_eq!(err(""), shape);
        assert_eq!(err("\"prefixes\""), shape);
        // A flow log, a CSV ENI map and the JSON ENI map of the AWS CLI.
        assert_eq!(
            err("version account-id interface-id srcaddr\n2 123456789012 eni-1 10.0.0.1\n"),
            shape
        );
        assert_eq!(err("eni,address,task\neni-1,10.0.0.1,t1\n"), shape);
        assert_eq!(
            err(r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}]}"#),
            shape
        );

        assert_eq!(
            err("{\"prefixes\": [\n"),
            "ranges.json: not valid JSON: EOF while parsing a list at line 2 column 0"
        );
        assert_eq!(
            err("{prefixes: []}"),
            "ranges.json: not valid JSON: key must be a string at line 1 column 2"
        );
        assert_eq!(
            err(r#"{"prefixes": [], "prefixes": []}"#),
            "ranges.json: not AWS's ip-ranges.json: duplicate field `prefixes` \
             at line 1 column 27"
        );
        assert_eq!(
            err(r#"{"prefixes": 5}"#),
            "ranges.json: not AWS's ip-ranges.json: invalid type: integer `5`, \
             expected a sequence at line 1 column 14"
        );
        assert_eq!(
            err(r#"{"prefixes": [5]}"#),
            "ranges.json: not AWS's ip-ranges.json: invalid type: integer `5`, \
             expected a prefix entry (an object with \"ip_prefix\", \"region\" and \
             \"service\") at line 1 column 15"
        );
        assert_eq!(
            err(r#"{"prefixes": [{"ip_prefix": 5}]}"#),
            "ranges.json: not AWS's ip-ranges.json: invalid type: integer `5`, \
             expected a string at line 1 column 29"
        );

        // A list whose entry 0 is 10.0.0.0/8 and entry 1 is `p` with `more`.
        let two = |key: &str, p: &str, more: &str| {
            let list = if key == "ip_prefix" {
                "prefixes"
            } else {
                "ipv6_prefixes"
            };
            err(&format!(
                "{{\"{list}\": [{{\"{key}\": \"10.0.0.0/8\", \"service\": \"S3\", \
                 \"region\": \"r\"}}, {{\"{key}\": \"{p}\"{more}}}]}}"
            ))
        };
        let sr = ", \"service\": \"S3\", \"region\": \"r\"";
        assert_eq!(
            two("ip_prefix", "10.0.0.0/8", ", \"region\": \"r\""),
            "ranges.json: prefixes[1] has no \"service\""
        );
        assert_eq!(
            two(
                "ip_prefix",
                "10.0.0.0/8",
                ", \"service\": \"S3\", \"region\": null"
            ),
            "ranges.json: prefixes[1] has no \"region\""
        );
        assert_eq!(
            err(r#"{"prefixes": [{"ipv6_prefix": "2600::/16", "service": "S3", "region": "r"}]}"#),
            "ranges.json: prefixes[0] has no \"ip_prefix\""
        );
        assert_eq!(
            err(
                r#"{"ipv6_prefixes": [{"ip_prefix": "1.2.3.0/24", "service": "S3", "region": "r"}]}"#
            ),
            "ranges.json: ipv6_prefixes[0] has no \"ipv6_prefix\""
        );
        assert_eq!(
            two("ip_prefix", "3.5.140/22", sr),
            "ranges.json: prefixes[1]: \"3.5.140/22\" is not a CIDR block (like 3.5.140.0/22)"
        );
        assert_eq!(
            two("ip_prefix", "3.5.140.0", sr),
            "ranges.json: prefixes[1]: \"3.5.140.0\" is not a CIDR block (like 3.5.140.0/22)"
        );
        assert_eq!(
            two("ip_prefix", " 3.5.140.0/22", sr),
            "ranges.json: prefixes[1]: \" 3.5.140.0/22\" is not a CIDR block \
             (like 3.5.140.0/22)"
        );
        assert_eq!(
            two("ip_prefix", "3.5.140.0/33", sr),
            "ranges.json: prefixes[1]: \"3.5.140.0/33\": prefix length must be 0 to 32"
        );
        assert_eq!(
            two("ip_prefix", "3.5.140.0/+2", sr),
            "ranges.json: prefixes[1]: \"3.5.140.0/+2\": prefix length must be 0 to 32"
        );
        assert_eq!(
            two("ip_prefix", "3.5.140.0/", sr),
            "ranges.json: prefixes[1]: \"3.5.140.0/\": prefix length must be 0 to 32"
        );
        assert_eq!(
            two("ipv6_prefix", "2600:1f14::/129", sr),
            "ranges.json: ipv6_prefixes[0]: \"10.0.0.0/8\" is an IPv4 prefix, which belongs \
             in \"prefixes\""
        );
        let v6 = |p: &str| {
            err(&format!(
                "{{\"prefixes\": [], \"ipv6_prefixes\": [{{\"ipv6_prefix\": \"{p}\"{sr}}}]}}"
            ))
        };
        assert_eq!(
            v6("2600:1f14::/129"),
            "ranges.json: ipv6_prefixes[0]: \"2600:1f14::/129\": prefix length must be \
             0 to 128"
        );
        assert_eq!(
            v6("2600:1g14::/35"),
            "ranges.json: ipv6_prefixes[0]: \"2600:1g14::/35\" is not a CIDR block \
             (like 2600:1f14::/35)"
        );
        assert_eq!(
            v6("3.5.140.0/22"),
            "ranges.json: ipv6_prefixes[0]: \"3.5.140.0/22\" is an IPv4 prefix, which \
             belongs in \"prefixes\""
        );
        assert_eq!(
            two("ip_prefix", "2600:1f14::/35", sr),
            "ranges.json: prefixes[1]: \"2600:1f14::/35\" is an IPv6 prefix, which belongs \
             in \"ipv6_prefixes\""
        );
        assert_eq!(
            two("ip_prefix", "::ffff:10.0.0.0/104", sr),
            "ranges.json: prefixes[1]: \"::ffff:10.0.0.0/104\" is an IPv6 prefix, which \
             belongs in \"ipv6_prefixes\""
        );
    }

    #[test]
    fn load_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let missing = missing.to_str().unwrap();
        let e = AwsRanges::load(missing).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{missing}: No such file or directory")),
            "{e}"
        );
        let gz = dir.path().join("ip-ranges.json.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe]).unwrap();
        let gz = gz.to_str().unwrap();
        assert_eq!(
            AwsRanges::load(gz).unwrap_err().to_string(),
            format!(
                "{gz}: not AWS's ip-ranges.json: it has no \"prefixes\" list \
                 (download it from https://ip-ranges.amazonaws.com/ip-ranges.json)"
            )
        );
    }

    #[test]
    fn sample_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/aws-ip-ranges.json");
        let r = AwsRanges::load(path).unwrap();
        assert_eq!(r.prefixes(), 24);
        // S3 (and AMAZON) 52.216.0.0/15.
        assert_eq!(at(&r, v4(52, 216, 0, 0)), Some(("S3", "us-east-1")));
        assert_eq!(at(&r, v4(52, 217, 255, 255)), Some(("S3", "us-east-1")));
        assert_eq!(at(&r, v4(52, 218, 0, 0)), None);
        assert_eq!(at(&r, v4(3, 5, 31, 255)), Some(("S3", "us-east-1")));
        // EC2 (and AMAZON) 3.80.0.0/12: other people's instances.
        assert_eq!(at(&r, v4(3, 84, 12, 7)), None);
        // AMAZON only (ECR and other services without a name of their own).
        assert_eq!(at(&r, v4(54, 239, 1, 2)), Some(("AMAZON", "us-east-1")));
        assert_eq!(at(&r, v4(52, 94, 1, 1)), Some(("DYNAMODB", "us-east-1")));
        assert_eq!(
            at(&r, v4(3, 216, 135, 9)),
            Some(("API_GATEWAY", "us-east-1"))
        );
        assert_eq!(
            at(&r, v4(107, 23, 255, 63)),
            Some(("ROUTE53_HEALTHCHECKS", "us-east-1"))
        );
        assert_eq!(at(&r, v4(107, 23, 255, 64)), None);
        assert_eq!(at(&r, v4(13, 32, 1, 1)), None);
        assert_eq!(at(&r, v4(13, 248, 96, 1)), None);
        assert_eq!(at(&r, v4(8, 8, 8, 8)), None);
        assert_eq!(at(&r, ip6("2600:1fa0:4012::5")), Some(("S3", "us-east-1")));
        assert_eq!(at(&r, ip6("2600:1f10::1")), Some(("AMAZON", "us-east-1")));
        assert_eq!(at(&r, ip6("2600:1f18:1234::1")), None);
        assert_eq!(
            at(&r, ip6("2600:1f18:8000::1")),
            Some(("AMAZON", "us-east-1"))
        );
        assert_eq!(at(&r, ip6("2600:9000:1::1")), None);
        assert_eq!(at(&r, ip6("2001:db8::1")), None);
    }

    /// xorshift64*, so that the randomized test is the same on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The rule, by a linear scan with `Cidr::contains` (an independent implementation
    /// of "a block holds an address") over (block, length, service, region) in file
    /// order.
    fn brute<'a>(
        entries: &[(Cidr, u8, &'a str, &'a str)],
        addr: &[u8; 16],
    ) -> Option<(&'a str, &'a str)> {
        let mut service: Option<(u8, &str, &str)> = None;
        let mut amazon: Option<(u8, &str, &str)> = None;
        for &(cidr, len, s, r) in entries {
            if !cidr.contains(addr) {
                continue;
            }
            if SHARED.contains(&s) {
                return None;
            }
            let best = if s == AMAZON {
                &mut amazon
            } else {
                &mut service
            };
            // The longest; of equals, the first in the file.
            if best.is_none_or(|(l, _, _)| len > l) {
                *best = Some((len, s, r));
            }
        }
        service.or(amazon).map(|(_, s, r)| (s, r))
    }

    #[test]
    fn random_against_brute_force() {
        const SERVICES: [&str; 7] = [
            "AMAZON",
            "AMAZON",
            "S3",
            "DYNAMODB",
            "EC2",
            "CLOUDFRONT",
            "GLOBALACCELERATOR",
        ];
        const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "GLOBAL"];
        const V6_BASE: u128 = 0x2600_1f00 << 96;
        for seed in 1..=8u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            // Prefixes in a small corner of each space, so that they nest and collide.
            let mut entries: Vec<(String, &'static str, &'static str)> = Vec::new();
            let mut v4_blocks: Vec<(u32, u32)> = Vec::new();
            let mut v6_blocks: Vec<(u128, u32)> = Vec::new();
            for _ in 0..300 {
                let service = SERVICES[rng.below(7) as usize];
                let region = REGIONS[rng.below(3) as usize];
                if rng.below(4) == 0 && !entries.is_empty() {
                    // A copy of an earlier block, under another service or the same.
                    let old = entries[rng.below(entries.len() as u64) as usize].0.clone();
                    entries.push((old, service, region));
                } else if rng.below(3) == 0 {
                    let len = 104 + rng.below(25) as u32;
                    let a = (V6_BASE | u128::from(rng.below(1 << 24))) & (u128::MAX << (128 - len));
                    v6_blocks.push((a, len));
                    let text = std::net::Ipv6Addr::from(a);
                    entries.push((format!("{text}/{len}"), service, region));
                } else {
                    let len = 8 + rng.below(25) as u32;
                    let a = ((52 << 24) | rng.below(1 << 24) as u32) & (u32::MAX << (32 - len));
                    v4_blocks.push((a, len));
                    let text = std::net::Ipv4Addr::from(a);
                    entries.push((format!("{text}/{len}"), service, region));
                }
            }
            let borrowed: Vec<(&str, &str, &str)> = entries
                .iter()
                .map(|(p, s, r)| (p.as_str(), *s, *r))
                .collect();
            let r = ranges(&borrowed);
            assert_eq!(r.prefixes(), 300);

            // Every block's first and last address and its neighbours, and random ones.
            let mut probes: Vec<[u8; 16]> = Vec::new();
            for &(a, len) in &v4_blocks {
                let hi = a | u32::MAX.checked_shr(len).unwrap_or(0);
                for x in [a.wrapping_sub(1), a, hi, hi.wrapping_add(1)] {
                    probes.push(mapped_v4(x.to_be_bytes()));
                }
                // The IPv6 address with the same low 32 bits is in no IPv4 block.
                probes.push(u128::from(a).to_be_bytes());
            }
            for &(a, len) in &v6_blocks {
                let hi = a | u128::MAX.checked_shr(len).unwrap_or(0);
                for x in [a.wrapping_sub(1), a, hi, hi.wrapping_add(1)] {
                    probes.push(x.to_be_bytes());
                }
            }
            for _ in 0..500 {
                let low = rng.below(1 << 24) as u32;
                probes.push(mapped_v4(((52 << 24) | low).to_be_bytes()));
                probes.push((V6_BASE | u128::from(low)).to_be_bytes());
            }
            let parsed: Vec<(Cidr, u8, &str, &str)> = entries
                .iter()
                .map(|(p, s, r)| {
                    let len = p.split_once('/').unwrap().1.parse().unwrap();
                    (p.parse().unwrap(), len, *s, *r)
                })
                .collect();
            for p in &probes {
                assert_eq!(at(&r, *p), brute(&parsed, p), "seed {seed}, address {p:?}");
            }
        }
    }

    /// The size of the real file, for timing by hand:
    /// `cargo test --release --lib aws_ranges::tests::real_size -- --nocapture`.
    #[test]
    fn real_size() {
        let mut rng = Rng(7);
        let mut owned: Vec<(String, &str, &str)> = Vec::new();
        for i in 0..7500 {
            let a = rng.next() as u32 & (u32::MAX << 10);
            let service = if i % 2 == 0 { "AMAZON" } else { "S3" };
            let text = std::net::Ipv4Addr::from(a);
            owned.push((format!("{text}/22"), service, "us-east-1"));
        }
        for i in 0..2500 {
            let a = (u128::from(rng.next()) << 64) & (u128::MAX << 88);
            let service = if i % 3 == 0 { "EC2" } else { "S3" };
            let text = std::net::Ipv6Addr::from(a);
            owned.push((format!("{text}/40"), service, "eu-west-1"));
        }
        let borrowed: Vec<(&str, &str, &str)> =
            owned.iter().map(|(p, s, r)| (p.as_str(), *s, *r)).collect();
        let text = file(&borrowed);
        let started = std::time::Instant::now();
        let r = AwsRanges::parse("big.json", &text).unwrap();
        let took = started.elapsed();
        eprintln!(
            "{} entries, {} bytes: parsed and indexed in {took:?}; {r:?}",
            r.prefixes(),
            text.len()
        );
        assert_eq!(r.prefixes(), 10_000);
        assert!(r.v4.starts.len() <= 2 * 7500 + 1);
    }
}
