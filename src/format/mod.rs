//! The flow-log field registry and record layouts.
//!
//! Every field that VPC Flow Logs (versions 2 to 11) and Transit Gateway flow logs can
//! emit is listed once in [`KNOWN_FIELDS`] with the Arrow type it is stored as. A
//! [`Layout`] is the ordered list of fields of one log format, built from a header line,
//! from `--fields`, or the AWS default v2 format; it also owns the Arrow schema of the
//! batches decoded with it, so that a layout change mid-stream is a schema change.
//!
//! Types follow what AWS writes when it delivers flow logs as Parquet: `INT_32` for
//! version, ports, protocol, tcp-flags and traffic-path, `INT_64` for packets, bytes,
//! start and end, strings otherwise. Two deliberate refinements:
//! - addresses are validated and stored as 16-byte `FixedSizeBinary` (IPv4 as
//!   IPv4-mapped IPv6), so a CIDR test is a masked byte comparison, not a string parse;
//! - strings that repeat (ids, actions, statuses, ARNs) are dictionary-encoded.
//!
//! Field names that the registry does not know are kept as plain string columns.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// How a field's text is validated and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A non-negative integer in `0..=max`, stored as `Int32`.
    Int32 { max: i64 },
    /// A non-negative integer, stored as `Int64`.
    Int64,
    /// Unix seconds, stored as `Int64`. Values with 13 digits or more are
    /// milliseconds (some CloudWatch exports) and are converted to seconds.
    Timestamp,
    /// An IPv4 or IPv6 address, stored as 16 bytes (`FixedSizeBinary(16)`).
    Addr,
    /// A repetitive string, dictionary-encoded (`Dictionary(Int32, Utf8)`).
    Dict,
    /// A free-form string (`Utf8`): fields the registry does not know.
    Str,
}

impl Kind {
    /// The Arrow type a column of this kind has in a decoded batch.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Int32 { .. } => DataType::Int32,
            Kind::Int64 | Kind::Timestamp => DataType::Int64,
            Kind::Addr => DataType::FixedSizeBinary(16),
            Kind::Dict => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Kind::Str => DataType::Utf8,
        }
    }
}

/// One known flow-log field.
#[derive(Debug)]
pub struct FieldDef {
    /// The AWS name, as in a header line or a `--log-format` (`log-status`).
    pub name: &'static str,
    /// The flow-log version that introduced it (6 for Transit Gateway fields).
    pub since: u8,
    pub kind: Kind,
}

const PORT: Kind = Kind::Int32 { max: 65_535 };
const BYTE: Kind = Kind::Int32 { max: 255 };
const SMALL: Kind = Kind::Int32 {
    max: i32::MAX as i64,
};

const fn f(name: &'static str, since: u8, kind: Kind) -> FieldDef {
    FieldDef { name, since, kind }
}

/// Every field of flow-log versions 2 to 11, in the order of the AWS documentation.
// A table, one row per field: rows of the same shape are its form, not repetition.
pub static KNOWN_FIELDS: &[FieldDef] = &[
    // v2: the default format.
    f("version", 2, SMALL),
    f("account-id", 2, Kind::Dict),
    f("interface-id", 2, Kind::Dict),
    f("srcaddr", 2, Kind::Addr),
    f("dstaddr", 2, Kind::Addr),
    f("srcport", 2, PORT),
    f("dstport", 2, PORT),
    f("protocol", 2, BYTE),
    f("packets", 2, Kind::Int64),
    f("bytes", 2, Kind::Int64),
    f("start", 2, Kind::Timestamp),
    f("end", 2, Kind::Timestamp),
    f("action", 2, Kind::Dict),
    f("log-status", 2, Kind::Dict),
    // v3
    f("vpc-id", 3, Kind::Dict),
    f("subnet-id", 3, Kind::Dict),
    f("instance-id", 3, Kind::Dict),
    f("tcp-flags", 3, BYTE),
    f("type", 3, Kind::Dict),
    f("pkt-srcaddr", 3, Kind::Addr),
    f("pkt-dstaddr", 3, Kind::Addr),
    // v4
    f("region", 4, Kind::Dict),
    f("az-id", 4, Kind::Dict),
    f("sublocation-type", 4, Kind::Dict),
    f("sublocation-id", 4, Kind::Dict),
    // v5
    f("pkt-src-aws-service", 5, Kind::Dict),
    f("pkt-dst-aws-service", 5, Kind::Dict),
    f("flow-direction", 5, Kind::Dict),
    f("traffic-path", 5, BYTE),
    // v6: Transit Gateway flow logs.
    f("resource-type", 6, Kind::Dict),
    f("tgw-id", 6, Kind::Dict),
    f("tgw-attachment-id", 6, Kind::Dict),
    f("tgw-src-vpc-account-id", 6, Kind::Dict),
    f("tgw-dst-vpc-account-id", 6, Kind::Dict),
    f("tgw-src-vpc-id", 6, Kind::Dict),
    f("tgw-dst-vpc-id", 6, Kind::Dict),
    f("tgw-src-subnet-id", 6, Kind::Dict),
    f("tgw-dst-subnet-id", 6, Kind::Dict),
    f("tgw-src-eni", 6, Kind::Dict),
    f("tgw-dst-eni", 6, Kind::Dict),
    f("tgw-src-az-id", 6, Kind::Dict),
    f("tgw-dst-az-id", 6, Kind::Dict),
    f("tgw-pair-attachment-id", 6, Kind::Dict),
    f("packets-lost-no-route", 6, Kind::Int64),
    f("packets-lost-blackhole", 6, Kind::Int64),
    f("packets-lost-mtu-exceeded", 6, Kind::Int64),
    f("packets-lost-ttl-expired", 6, Kind::Int64),
    // v7: Amazon ECS.
    f("ecs-cluster-arn", 7, Kind::Dict),
    f("ecs-cluster-name", 7, Kind::Dict),
    f("ecs-container-instance-arn", 7, Kind::Dict),
    f("ecs-container-instance-id", 7, Kind::Dict),
    f("ecs-container-id", 7, Kind::Dict),
    f("ecs-second-container-id", 7, Kind::Dict),
    f("ecs-service-name", 7, Kind::Dict),
    f("ecs-task-definition-arn", 7, Kind::Dict),
    f("ecs-task-arn", 7, Kind::Dict),
    f("ecs-task-id", 7, Kind::Dict),
    // v8
    f("reject-reason", 8, Kind::Dict),
    // v9
    f("resource-id", 9, Kind::Dict),
    // v10
    f("encryption-status", 10, BYTE),
    // v11: tags, interface type and next hop.
    f("instance-tag", 11, Kind::Dict),
    f("instance-tag-2", 11, Kind::Dict),
    f("interface-tag", 11, Kind::Dict),
    f("interface-tag-2", 11, Kind::Dict),
    f("asg-tag", 11, Kind::Dict),
    f("asg-tag-2", 11, Kind::Dict),
    f("interface-type", 11, Kind::Dict),
    f("next-hop-interface-id", 11, Kind::Dict),
    f("next-hop-subnet-id", 11, Kind::Dict),
    f("next-hop-az-id", 11, Kind::Dict),
    f("next-hop-vpc-id", 11, Kind::Dict),
    f("next-hop-interface-type", 11, Kind::Dict),
];

/// The AWS default format (version 2).
pub const DEFAULT_V2: &str = "version account-id interface-id srcaddr dstaddr srcport dstport \
                              protocol packets bytes start end action log-status";

/// Looks a field up by its AWS name, in any case; `_` and `-` are interchangeable.
pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    KNOWN_FIELDS.iter().find(|d| {
        d.name.len() == name.len()
            && d.name.bytes().zip(name.bytes()).all(|(a, b)| {
                let b = b.to_ascii_lowercase();
                a == b || (a == b'-' && b == b'_')
            })
    })
}

/// The Arrow/Parquet column name of a field: the AWS name with `-` replaced by `_`.
pub fn column_name(aws_name: &str) -> String {
    aws_name.replace('-', "_")
}

/// One column of a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The field name as the layout spells it, normalised to the AWS dashed form for
    /// known fields (`log-status`); used in error messages.
    pub name: String,
    pub kind: Kind,
}

/// The ordered fields of one flow-log format and the Arrow schema of its batches.
///
/// A layout can also be *unusable*: what a file's records are read with after a line
/// that looks like a header but is not a valid one. Its records are then rejected
/// (saying why) until the next valid header, rather than misread with the layout
/// before it.
#[derive(Clone, Debug)]
pub struct Layout {
    columns: Arc<[Column]>,
    schema: SchemaRef,
    unusable: Option<LayoutError>,
}

impl PartialEq for Layout {
    fn eq(&self, other: &Self) -> bool {
        self.columns == other.columns && self.unusable == other.unusable
    }
}

impl Eq for Layout {}

/// Why a header line or `--fields` value is not a usable layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("no field names given")]
    Empty,
    #[error("field {0:?} is named twice")]
    Duplicate(String),
    #[error("{0:?} is not a field name")]
    BadName(String),
}

impl Layout {
    /// Builds a layout from field names, known or not. Names are case-insensitive
    /// (`VERSION` is `version`); `_` and `-` are interchangeable.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Layout, LayoutError> {
        let mut columns: Vec<Column> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for raw in names {
            let name = strip_template(raw).to_ascii_lowercase();
            if !is_name_like(name.as_bytes()) {
                return Err(LayoutError::BadName(raw.to_string()));
            }
            let column = match lookup(&name) {
                Some(def) => Column {
                    name: def.name.to_string(),
                    kind: def.kind,
                },
                None => Column {
                    name,
                    kind: Kind::Str,
                },
            };
            if !seen.insert(column_name(&column.name)) {
                return Err(LayoutError::Duplicate(column.name));
            }
            columns.push(column);
        }
        if columns.is_empty() {
            return Err(LayoutError::Empty);
        }
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(column_name(&c.name), c.kind.data_type(), true))
            .collect();
        Ok(Layout {
            columns: columns.into(),
            schema: Arc::new(Schema::new(fields)),
            unusable: None,
        })
    }

    /// The unusable layout that follows an invalid header line (see [`Layout`]).
    pub fn unusable(why: LayoutError) -> Layout {
        Layout {
            columns: Arc::from([]),
            schema: Arc::new(Schema::empty()),
            unusable: Some(why),
        }
    }

    /// Why the layout is unusable, if it is.
    pub fn unusable_because(&self) -> Option<&LayoutError> {
        self.unusable.as_ref()
    }

    /// Parses a `--fields` value: names separated by spaces or commas, plain
    /// (`version srcaddr`) or in the AWS `${version} ${srcaddr}` syntax.
    pub fn parse_spec(spec: &str) -> Result<Layout, LayoutError> {
        Layout::new(
            spec.split(|c: char| c.is_ascii_whitespace() || c == ',')
                .filter(|s| !s.is_empty()),
        )
    }

    /// The AWS default v2 format.
    pub fn default_v2() -> Layout {
        Layout::parse_spec(DEFAULT_V2).expect("the default format is valid")
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The index of a column by its Arrow name (`log_status`) or AWS name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        let wanted = column_name(name);
        self.columns
            .iter()
            .position(|c| column_name(&c.name) == wanted)
    }
}

/// `${name}` -> `name`; anything else unchanged.
fn strip_template(s: &str) -> &str {
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s)
}

/// A lowercase identifier made of letters, digits, `-` and `_`, starting with a letter.
/// Whether `s` can be a field name in a header line (lowercase letters, digits, `-`,
/// `_`, a letter first): a name the tool does not know is kept as a text column.
pub fn is_field_name(s: &str) -> bool {
    is_name_like(s.as_bytes())
}

fn is_name_like(s: &[u8]) -> bool {
    matches!(s.first(), Some(b'a'..=b'z'))
        && s.iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A header token as a lowercase name (`${Version}` -> `version`), if it is name-like.
fn header_name(t: &[u8]) -> Option<String> {
    let t = t
        .strip_prefix(b"${")
        .and_then(|r| r.strip_suffix(b"}"))
        .unwrap_or(t);
    let lower = t.to_ascii_lowercase();
    is_name_like(&lower).then(|| String::from_utf8(lower).expect("ASCII"))
}

/// What a line whose first token starts with a letter or `$` is, given the layout in
/// force (see [`classify`]).
#[derive(Debug, PartialEq, Eq)]
pub enum LineClass {
    /// A valid header line: the new layout.
    Header(Layout),
    /// A line that is meant as a header but is not a valid one.
    BadHeader(LayoutError),
    /// A record (valid or not) of the current layout.
    Record,
}

/// Tells a header line from a record of `current`. A header must name fields in a way
/// no record of the current layout could:
/// - every token is a field-name-like identifier (any case, plain or `${...}`), at least
///   one is a known field, and either the line has another number of tokens than the
///   layout, or some token is not a valid value of its column (`version` where a number
///   is expected), or every token is a known field name. A record whose values happen
///   to be field names (a service named `start` in a string column) stays a record.
/// - a line that begins with a known field name and of which at least half the tokens
///   are known field names, but that is not a valid header (an invalid or repeated
///   name), is a bad header, unless `valid_record` says it is a record of `current`.
pub fn classify(
    line: &[u8],
    spans: &[(u32, u32)],
    current: &Layout,
    valid_record: impl Fn() -> bool,
) -> LineClass {
    let token = |&(s, e): &(u32, u32)| &line[s as usize..e as usize];
    let tokens = || spans.iter().map(token);
    let Some(first) = tokens().next() else {
        return LineClass::Record;
    };
    let first_known = is_known(first);
    // The common case, a record whose first value is a word (`eni-0a1 10.0.0.1 ...`),
    // is told apart at its first token that is not a name, without allocating.
    let all_names = tokens().all(is_name_token);
    if !all_names && !first_known {
        return LineClass::Record;
    }
    let known = tokens().filter(|t| is_known(t)).count();
    if known == 0 {
        return LineClass::Record;
    }
    if all_names {
        let record_possible = current.unusable.is_none()
            && spans.len() == current.len()
            && known < spans.len()
            && current
                .columns()
                .iter()
                .all(|c| matches!(c.kind, Kind::Dict | Kind::Str));
        if record_possible {
            return LineClass::Record;
        }
        return match header_layout(line, || tokens().filter_map(header_name).collect()) {
            Ok(layout) => LineClass::Header(layout),
            Err(e) => LineClass::BadHeader(e),
        };
    }
    if known * 2 >= spans.len() && !valid_record() {
        let bad = tokens()
            .find(|t| !is_name_token(t))
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default();
        return LineClass::BadHeader(LayoutError::BadName(bad));
    }
    LineClass::Record
}

/// A token that is field-name-like in any case, plain or `${...}`.
fn is_name_token(t: &[u8]) -> bool {
    let t = t
        .strip_prefix(b"${")
        .and_then(|r| r.strip_suffix(b"}"))
        .unwrap_or(t);
    matches!(t.first(), Some(b) if b.is_ascii_alphabetic())
        && t.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A token that names a known field, in any case, plain or `${...}`.
fn is_known(t: &[u8]) -> bool {
    let t = t
        .strip_prefix(b"${")
        .and_then(|r| r.strip_suffix(b"}"))
        .unwrap_or(t);
    std::str::from_utf8(t).ok().and_then(lookup).is_some()
}

/// The layout of a header line: built from `names`, or taken from a small per-thread
/// cache keyed by the line's bytes (every S3 object starts with the same header, and a
/// scan of many small objects would otherwise build the same layout for each).
fn header_layout(line: &[u8], names: impl FnOnce() -> Vec<String>) -> Result<Layout, LayoutError> {
    type Cache = Vec<(Box<[u8]>, Result<Layout, LayoutError>)>;
    thread_local! {
        static RECENT: std::cell::RefCell<Cache> = const { std::cell::RefCell::new(Vec::new()) };
    }
    const ENTRIES: usize = 8;
    if let Some(hit) =
        RECENT.with_borrow(|c| c.iter().find(|(k, _)| **k == *line).map(|(_, v)| v.clone()))
    {
        return hit;
    }
    let names = names();
    let layout = Layout::new(names.iter().map(String::as_str));
    RECENT.with_borrow_mut(|c| {
        if c.len() == ENTRIES {
            let _ = c.remove(0);
        }
        c.push((line.into(), layout.clone()));
    });
    layout
}

/// The layout of a line if it is a header line when no layout is in force yet (the
/// first line of a file): every token field-name-like and at least one a known field.
/// Used to guess the layout of later chunks of a file.
pub fn first_header(line: &[u8]) -> Option<Layout> {
    let mut spans = Vec::new();
    split_spaces(line, &mut spans);
    match classify(line, &spans, &Layout::unusable(LayoutError::Empty), || {
        false
    }) {
        LineClass::Header(layout) => Some(layout),
        _ => None,
    }
}

/// Splits on runs of spaces into `(start, end)` token spans.
pub fn split_spaces(line: &[u8], spans: &mut Vec<(u32, u32)>) {
    let mut start = 0usize;
    for i in memchr::memchr_iter(b' ', line) {
        if i > start {
            spans.push((start as u32, i as u32));
        }
        start = i + 1;
    }
    if line.len() > start {
        spans.push((start as u32, line.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_unique_and_named_like_aws() {
        for (i, a) in KNOWN_FIELDS.iter().enumerate() {
            assert!(is_name_like(a.name.as_bytes()), "{}", a.name);
            assert!(!a.name.contains('_'), "{}", a.name);
            for b in &KNOWN_FIELDS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn spec_accepts_plain_and_template_syntax() {
        let a = Layout::parse_spec("version srcaddr log-status").unwrap();
        let b = Layout::parse_spec("${version} ${srcaddr} ${log-status}").unwrap();
        let c = Layout::parse_spec("version,srcaddr,log_status").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        let names: Vec<_> = a
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["version", "srcaddr", "log_status"]);
        assert_eq!(a.columns()[2].name, "log-status");
    }

    #[test]
    fn spec_errors() {
        assert_eq!(Layout::parse_spec("  "), Err(LayoutError::Empty));
        assert_eq!(
            Layout::parse_spec("version srcaddr version"),
            Err(LayoutError::Duplicate("version".into()))
        );
        assert_eq!(
            Layout::parse_spec("version log_status log-status"),
            Err(LayoutError::Duplicate("log-status".into()))
        );
        assert_eq!(
            Layout::parse_spec("version 2"),
            Err(LayoutError::BadName("2".into()))
        );
    }

    #[test]
    fn unknown_names_are_strings() {
        let l = Layout::parse_spec("version my-custom-thing").unwrap();
        assert_eq!(l.columns()[1].kind, Kind::Str);
        assert_eq!(l.schema().field(1).name(), "my_custom_thing");
        assert_eq!(l.schema().field(1).data_type(), &DataType::Utf8);
    }

    #[test]
    fn header_detection() {
        let h = |s: &'static str| first_header(s.as_bytes()).is_some();
        assert!(h(DEFAULT_V2));
        assert!(h("${version} ${srcaddr}"));
        assert!(!h(
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1 2 - NODATA"
        ));
        assert!(!h("i-0123 eni-0abc us-east-1"));
        assert!(!h(
            "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5"
        ));
        assert_eq!(
            first_header(b"VERSION ${Srcaddr} Log-Status"),
            Layout::parse_spec("version srcaddr log-status").ok()
        );
    }
}
