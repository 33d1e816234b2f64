//! Helpers of `tests/conformance.rs`: running the library the way `vpcflow cat` does, an
//! independent reading of the input files (the oracle), and small extractors for the
//! expected-output formats of other projects (Elastic ECS JSON, OpenTelemetry YAML,
//! the Beats processor's YAML of samples).
//!
//! The oracle deliberately does not use the crate: it knows from the AWS documentation
//! which fields are numbers and which are addresses, splits lines on runs of spaces,
//! recognises a header line as one made only of AWS field names, and renders a record
//! as `vpcflow cat` promises (`-` is null, numbers are numbers, addresses are canonical,
//! 13-digit millisecond timestamps become seconds).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};
use vpcflow::format::Layout;
use vpcflow::output::jsonl::JsonLinesWriter;
use vpcflow::output::BatchWriter;
use vpcflow::parse::{decode_slice, DecoderOptions, LineCounts};

/// Files copied into this repository (MIT-0 and Apache-2.0).
pub const COPIED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/conformance");
/// The shared collection, read in place (licences that do not allow copying).
pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

/// The shared collection, or `None` where this checkout lacks it, with `test` said to
/// be skipped.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    shared(test, "")
}

/// The shared collection for the part of `test` that reads it, or `None` where this
/// checkout lacks it, with that part said to be skipped (the copied files are still
/// checked).
pub fn shared_part(test: &str) -> Option<PathBuf> {
    shared(test, "; only the copied files are checked")
}

fn shared(test: &str, rest: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(SHARED);
    if dir.is_dir() {
        return Some(dir);
    }
    crate::common::skip(
        test,
        &format!("../shared/conformance not found ({SHARED}){rest}"),
    );
    None
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// The AWS field registry, as the oracle knows it (from the AWS documentation).

/// Every field name of VPC flow logs v2 to v11 and Transit Gateway flow logs.
const AWS_FIELDS: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "resource-type",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
    "instance-tag",
    "instance-tag-2",
    "interface-tag",
    "interface-tag-2",
    "asg-tag",
    "asg-tag-2",
    "interface-type",
    "next-hop-interface-id",
    "next-hop-subnet-id",
    "next-hop-az-id",
    "next-hop-vpc-id",
    "next-hop-interface-type",
];

/// Fields whose values are integers (column names).
const INTEGER_COLUMNS: &[&str] = &[
    "version",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "tcp_flags",
    "traffic_path",
    "packets_lost_no_route",
    "packets_lost_blackhole",
    "packets_lost_mtu_exceeded",
    "packets_lost_ttl_expired",
    "encryption_status",
];

/// Fields whose values are IP addresses (column names).
const ADDRESS_COLUMNS: &[&str] = &["srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr"];

/// The output column of a field name: AWS dashes become underscores.
pub fn column(name: &str) -> String {
    name.replace('-', "_")
}

pub fn is_integer_column(col: &str) -> bool {
    INTEGER_COLUMNS.contains(&col)
}

pub fn is_address_column(col: &str) -> bool {
    ADDRESS_COLUMNS.contains(&col)
}

/// The canonical text of an address (RFC 5952 for IPv6).
pub fn canonical_addr(text: &str) -> String {
    text.parse::<IpAddr>()
        .unwrap_or_else(|e| panic!("{text:?} is not an address: {e}"))
        .to_string()
}

/// The value `vpcflow cat` must print for `token` in column `col`.
pub fn expected_value(col: &str, token: &str) -> Value {
    if token == "-" {
        Value::Null
    } else if is_integer_column(col) {
        let n: u64 = token
            .parse()
            .unwrap_or_else(|e| panic!("{col}: {token:?}: {e}"));
        // AWS writes unix seconds; some exports write 13-digit milliseconds.
        let n = if (col == "start" || col == "end") && token.len() >= 13 {
            n / 1000
        } else {
            n
        };
        Value::from(n)
    } else if is_address_column(col) {
        Value::String(canonical_addr(token))
    } else {
        Value::String(token.to_string())
    }
}

/// Coerces a value taken from another project's expected output to what `vpcflow cat`
/// prints: `"-"` is null, numeric strings in integer columns are numbers, addresses are
/// canonical.
pub fn normalise(col: &str, v: &Value) -> Value {
    match v {
        Value::String(s) => expected_value(col, s),
        other => other.clone(),
    }
}

/// Tokens of a line as AWS writes it: separated by one or more spaces.
pub fn tokens(line: &str) -> Vec<&str> {
    line.split(' ').filter(|t| !t.is_empty()).collect()
}

/// A header line: every token is an AWS field name (or `${name}`).
pub fn is_header_line(line: &str) -> bool {
    let t = tokens(line);
    !t.is_empty()
        && t.iter().all(|t| {
            let t = t
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix('}'))
                .unwrap_or(t);
            AWS_FIELDS.contains(&t)
        })
}

// ---------------------------------------------------------------------------------------
// Lines and the oracle.

/// One line of an input file: 1-based number, byte offset, text without the newline.
pub struct Line<'a> {
    pub number: u64,
    pub offset: u64,
    pub text: &'a str,
}

/// The lines of `text` as a line-oriented reader sees them (a final line without a
/// newline counts; an empty remainder after the last newline does not).
pub fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let (raw, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        out.push(Line {
            number: out.len() as u64 + 1,
            offset,
            text: raw.strip_suffix('\r').unwrap_or(raw),
        });
        offset += (rest.len() - next.len()) as u64;
        rest = next;
    }
    out
}

/// Why a line is expected to be rejected.
#[derive(Clone, Copy, Debug)]
pub enum Why {
    /// This exact message.
    Text(&'static str),
    /// `expected N fields, found M`, with N the layout's length and M the line's token
    /// count, both counted by the oracle (for long lines such as JSON payloads).
    FieldCount,
}

/// A rejected line as the tests see it: where, and the message users read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub line: u64,
    pub byte_offset: u64,
    pub message: String,
}

impl From<vpcflow::Reject> for Reject {
    fn from(r: vpcflow::Reject) -> Reject {
        Reject {
            line: r.line,
            byte_offset: r.byte_offset,
            message: r.message(),
        }
    }
}

/// What the oracle expects of one input.
#[derive(Debug, Default)]
pub struct Expected {
    pub counts: LineCounts,
    pub rejects: Vec<Reject>,
    pub rows: Vec<Map<String, Value>>,
}

/// Reads `text` independently of the crate: `fields` is the layout for headerless input
/// (the default v2 format when `None`), `rejects` the lines expected to be rejected.
pub fn oracle(text: &str, fields: Option<&str>, rejects: &[(u64, Why)]) -> Expected {
    let mut layout: Vec<String> = tokens(fields.unwrap_or(DEFAULT_V2))
        .into_iter()
        .map(column)
        .collect();
    let mut e = Expected::default();
    for line in lines(text) {
        e.counts.lines += 1;
        if line.text.trim_matches(' ').is_empty() {
            e.counts.blanks += 1;
            continue;
        }
        let t = tokens(line.text);
        if let Some((_, why)) = rejects.iter().find(|(n, _)| *n == line.number) {
            e.counts.rejected += 1;
            let message = match why {
                Why::Text(m) => m.to_string(),
                Why::FieldCount => {
                    format!("expected {} fields, found {}", layout.len(), t.len())
                }
            };
            e.rejects.push(Reject {
                line: line.number,
                byte_offset: line.offset,
                message,
            });
            continue;
        }
        if is_header_line(line.text) {
            e.counts.headers += 1;
            layout = t.iter().map(|n| column(n)).collect();
            continue;
        }
        assert_eq!(
            t.len(),
            layout.len(),
            "line {} has {} tokens for a {}-field layout: wrong layout in the test table?",
            line.number,
            t.len(),
            layout.len()
        );
        e.counts.records += 1;
        e.rows.push(
            layout
                .iter()
                .zip(&t)
                .map(|(c, tok)| (c.clone(), expected_value(c, tok)))
                .collect(),
        );
    }
    for (n, _) in rejects {
        assert!(
            e.rejects.iter().any(|r| r.line == *n),
            "the test table expects a rejection on line {n}, which the file does not have"
        );
    }
    e
}

// ---------------------------------------------------------------------------------------
// The crate, run the way `vpcflow cat` runs it.

/// The AWS default (v2) format.
pub const DEFAULT_V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport \
                              protocol packets bytes start end action log-status";

/// What the crate made of one input, rendered as `vpcflow cat` renders it.
pub struct Parsed {
    pub counts: LineCounts,
    pub rejects: Vec<Reject>,
    pub rows: Vec<Map<String, Value>>,
}

/// Decodes `input` with `--fields` = `fields` and renders every batch as JSON Lines.
/// A small batch size makes even these small files span several batches.
pub fn parse(input: &[u8], fields: Option<&str>) -> Parsed {
    let layout = fields
        .map(|f| Arc::new(Layout::parse_spec(f).unwrap_or_else(|e| panic!("--fields {f:?}: {e}"))));
    let decoded = decode_slice(
        input,
        DecoderOptions {
            batch_size: 2,
            layout,
            projection: None,
            ..DecoderOptions::default()
        },
    );
    let mut out = Vec::new();
    {
        let mut writer = JsonLinesWriter::new(&mut out);
        for batch in &decoded.batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
    }
    Parsed {
        counts: decoded.counts,
        rejects: decoded.rejects.into_iter().map(Reject::from).collect(),
        rows: json_lines(&out),
    }
}

/// Parses JSON Lines output into objects.
pub fn json_lines(out: &[u8]) -> Vec<Map<String, Value>> {
    std::str::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => m,
            other => panic!("not a JSON object: {l}: {other:?}"),
        })
        .collect()
}

/// Parses `input` and checks it against the oracle: the line accounting, every rejected
/// line (number, byte offset, message) and every field of every record.
pub fn check(label: &str, input: &[u8], fields: Option<&str>, rejects: &[(u64, Why)]) -> Parsed {
    let text = std::str::from_utf8(input).unwrap_or_else(|e| panic!("{label}: {e}"));
    let want = oracle(text, fields, rejects);
    let got = parse(input, fields);
    let c = got.counts;
    assert_eq!(
        c.lines,
        c.records + c.rejected + c.headers + c.blanks,
        "{label}: accounting identity"
    );
    assert_eq!(got.counts, want.counts, "{label}: line counts");
    assert_eq!(got.rejects, want.rejects, "{label}: rejected lines");
    assert_eq!(
        got.rows.len(),
        want.rows.len(),
        "{label}: number of records"
    );
    for (i, (g, w)) in got.rows.iter().zip(&want.rows).enumerate() {
        assert_eq!(g, w, "{label}: record {} (0-based), every field", i);
    }
    got
}

/// Compares a record with another project's expected values: every column of the
/// record must equal the expected value, and a column the expected output leaves out
/// must be null (those projects drop `-` fields). Every expected key must be a column.
pub fn assert_record(label: &str, got: &Map<String, Value>, expected: &Map<String, Value>) {
    for key in expected.keys() {
        assert!(
            got.contains_key(key),
            "{label}: expected field {key} is not a column of the record {got:?}"
        );
    }
    for (key, value) in got {
        let want = expected
            .get(key)
            .map(|v| normalise(key, v))
            .unwrap_or(Value::Null);
        assert_eq!(value, &want, "{label}: field {key}");
    }
}

/// Unix seconds of an RFC 3339 timestamp.
pub fn rfc3339_to_unix(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s:?}: {e}"))
        .timestamp()
}

/// `doc.a.b.c`.
pub fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, k| v.get(k))
}

// ---------------------------------------------------------------------------------------
// Tiny extractors for the two YAML shapes used here (no YAML dependency).

/// Strips YAML quotes from a scalar: `"x"` and `'x'` (with `''` for a quote).
fn unquote(s: &str) -> String {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        inner.replace("\\\"", "\"")
    } else if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        s.to_string()
    }
}

/// A plain (unquoted) YAML scalar on one line: a ` #` starts a comment.
fn plain_scalar(s: &str) -> String {
    let s = match s.find(" #") {
        Some(i) => &s[..i],
        None => s,
    };
    s.trim().to_string()
}

/// The OpenTelemetry `plog` YAML of one expected output: the resource attributes and, per
/// log record, its attributes plus `timeUnixNano`, as `(key, value)` pairs in order.
pub struct OtelLogs {
    pub resource: Vec<(String, String)>,
    pub records: Vec<Vec<(String, String)>>,
}

/// Extracts [`OtelLogs`] from the indentation-structured YAML the collector's golden
/// tests write (only `key:`/`stringValue:`/`intValue:`/`timeUnixNano:` lines matter).
pub fn otel_logs(yaml: &str) -> OtelLogs {
    let mut logs = OtelLogs {
        resource: Vec::new(),
        records: Vec::new(),
    };
    let mut in_records = false;
    let mut in_scope = false;
    let mut key: Option<String> = None;
    for raw in yaml.lines() {
        let line = raw.trim();
        if line == "logRecords:" || line == "- logRecords:" {
            in_records = true;
            continue;
        }
        if line == "scope:" {
            in_scope = true;
            continue;
        }
        if in_records && line == "- attributes:" {
            logs.records.push(Vec::new());
            continue;
        }
        if let Some(k) = line.strip_prefix("- key:") {
            key = Some(unquote(k));
            continue;
        }
        let value = line
            .strip_prefix("stringValue:")
            .or_else(|| line.strip_prefix("intValue:"));
        if let Some(v) = value {
            let k = key.take().expect("a value follows a key");
            if in_scope {
                continue;
            }
            let pair = (k, unquote(v));
            match logs.records.last_mut() {
                Some(r) if in_records => r.push(pair),
                _ => logs.resource.push(pair),
            }
            continue;
        }
        if let Some(v) = line.strip_prefix("timeUnixNano:") {
            let r = logs
                .records
                .last_mut()
                .expect("timeUnixNano inside a record");
            r.push(("timeUnixNano".to_string(), unquote(v)));
        }
    }
    logs
}

/// One group of the Beats processor's `aws-vpc-flow-logs.yml`: a format and its samples.
pub struct SampleGroup {
    pub name: String,
    pub format: Option<String>,
    pub samples: Vec<String>,
}

/// Extracts the groups of `aws-vpc-flow-logs.yml` (top-level keys with `format:` and
/// `samples:` lists of one-line scalars; groups that only merge an anchor have none).
pub fn beats_sample_groups(yaml: &str) -> Vec<SampleGroup> {
    let mut groups: Vec<SampleGroup> = Vec::new();
    for line in yaml.lines() {
        if line.is_empty() || line.starts_with('#') || line == "---" {
            continue;
        }
        if !line.starts_with(' ') {
            let name = line.split(':').next().unwrap().to_string();
            groups.push(SampleGroup {
                name,
                format: None,
                samples: Vec::new(),
            });
            continue;
        }
        let group = groups
            .last_mut()
            .expect("an indented line belongs to a group");
        let trimmed = line.trim_start();
        if let Some(f) = trimmed.strip_prefix("format:") {
            group.format = Some(plain_scalar(f));
        } else if let Some(s) = trimmed.strip_prefix("- ") {
            let s = s.trim_end();
            group
                .samples
                .push(if s.starts_with('\'') || s.starts_with('"') {
                    unquote(s)
                } else {
                    plain_scalar(s)
                });
        }
    }
    groups
}
