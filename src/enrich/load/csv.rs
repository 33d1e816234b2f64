//! The canonical map CSV: one row per address of an ENI for one window, with the header
//! [`CSV_HEADER`] (the form `vpcflow map` writes, see [`crate::enrich::write`]). Rows are
//! taken as written; each error names the file, the line and the column
//! (`map.csv:4: valid_from: "yesterday" is not a time (RFC 3339 or unix seconds)`).

use crate::enrich::{MapRow, PeerKind};
use crate::net;

/// The canonical CSV header. The last two columns are optional when reading.
pub const CSV_HEADER: [&str; 14] = [
    "eni_id",
    "kind",
    "private_ip",
    "task_arn",
    "cluster",
    "service",
    "task_family",
    "security_groups",
    "subnet_id",
    "vpc_id",
    "valid_from",
    "valid_to",
    "load_balancer",
    "source",
];

/// How many of [`CSV_HEADER`]'s columns a map CSV must have.
const REQUIRED_COLUMNS: usize = 12;

/// A map CSV that cannot be read; `at` is `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// What the CSV reader says (an I/O error, a quote left open).
    #[error("{at}: {what}")]
    Unreadable { at: String, what: String },
    #[error("{at}: column {column} appears twice")]
    Twice { at: String, column: String },
    #[error("{at}: unknown column {column:?}; the header is {}", CSV_HEADER.join(","))]
    UnknownColumn { at: String, column: String },
    #[error("{at}: missing column {column}; the header is {}", CSV_HEADER.join(","))]
    MissingColumn { at: String, column: &'static str },
    #[error("{at}: expected {expected} columns, found {found}")]
    Columns {
        at: String,
        expected: usize,
        found: u64,
    },
    #[error("{at}: invalid UTF-8")]
    Utf8 { at: String },
    #[error("{at}: eni_id: is empty")]
    NoEni { at: String },
    #[error("{at}: kind: {text:?} is not one of {}", PeerKind::eni_names())]
    Kind { at: String, text: String },
    #[error("{at}: private_ip: {text:?} is not an IP address")]
    Address { at: String, text: String },
    #[error("{at}: {column}: {text:?} is not a time (RFC 3339 or unix seconds)")]
    Time {
        at: String,
        column: &'static str,
        text: String,
    },
    #[error("{at}: valid_to: {to:?} is not after valid_from {from:?}")]
    Window {
        at: String,
        from: String,
        to: String,
    },
}

/// Where each of [`CSV_HEADER`]'s columns is in a file (`usize::MAX`: absent).
type Columns = [usize; CSV_HEADER.len()];

/// Parses the canonical CSV; `name` is used in messages.
pub fn csv_rows(name: &str, text: &[u8]) -> Result<Vec<MapRow>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| CsvError::Unreadable {
            at: format!("{name}:1"),
            what: e.to_string(),
        })?
        .clone();
    let index = columns(name, &header)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| record_error(name, header.len(), &e))?;
        rows.push(row(name, &index, &record)?);
    }
    Ok(rows)
}

/// Where each known column is in `header`: every name known, none twice, every
/// required one there.
fn columns(name: &str, header: &csv::StringRecord) -> Result<Columns, CsvError> {
    let at = || format!("{name}:1");
    let mut index = [usize::MAX; CSV_HEADER.len()];
    for (i, h) in header.iter().enumerate() {
        let column = h.to_string();
        match CSV_HEADER.iter().position(|c| *c == h) {
            Some(c) if index[c] == usize::MAX => index[c] = i,
            Some(_) => return Err(CsvError::Twice { at: at(), column }),
            None => return Err(CsvError::UnknownColumn { at: at(), column }),
        }
    }
    if let Some((column, _)) = CSV_HEADER[..REQUIRED_COLUMNS]
        .iter()
        .zip(index)
        .find(|(_, i)| *i == usize::MAX)
    {
        return Err(CsvError::MissingColumn { at: at(), column });
    }
    Ok(index)
}

/// A record the CSV reader refused, at its line.
fn record_error(name: &str, columns: usize, e: &csv::Error) -> CsvError {
    let at = format!("{name}:{}", e.position().map_or(0, |p| p.line()));
    match e.kind() {
        csv::ErrorKind::UnequalLengths { len, .. } => CsvError::Columns {
            at,
            expected: columns,
            found: *len,
        },
        csv::ErrorKind::Utf8 { .. } => CsvError::Utf8 { at },
        _ => CsvError::Unreadable {
            at,
            what: e.to_string(),
        },
    }
}

/// One record as a map row, its values checked.
fn row(name: &str, index: &Columns, record: &csv::StringRecord) -> Result<MapRow, CsvError> {
    let at = format!("{name}:{}", record.position().map_or(0, |p| p.line()));
    let get = |c: usize| {
        if index[c] == usize::MAX {
            ""
        } else {
            record.get(index[c]).unwrap_or("")
        }
    };
    let opt = |c: usize| Some(get(c).to_string()).filter(|s| !s.is_empty());
    let eni_id = get(0);
    if eni_id.is_empty() {
        return Err(CsvError::NoEni { at });
    }
    let Some(kind) = PeerKind::parse_eni(get(1)) else {
        let text = get(1).to_string();
        return Err(CsvError::Kind { at, text });
    };
    let Some(private_ip) = net::addr(get(2)) else {
        let text = get(2).to_string();
        return Err(CsvError::Address { at, text });
    };
    let time = |c: usize, column: &'static str| -> Result<Option<i64>, CsvError> {
        let text = get(c);
        if text.is_empty() {
            return Ok(None);
        }
        crate::time::parse_time(text)
            .map(Some)
            .map_err(|_| CsvError::Time {
                at: at.clone(),
                column,
                text: text.to_string(),
            })
    };
    let valid_from = time(10, "valid_from")?;
    let valid_to = time(11, "valid_to")?;
    if let (Some(f), Some(t)) = (valid_from, valid_to) {
        if f >= t {
            let (from, to) = (get(10).to_string(), get(11).to_string());
            return Err(CsvError::Window { at, from, to });
        }
    }
    Ok(MapRow {
        eni_id: eni_id.to_string(),
        kind,
        private_ip,
        task_arn: opt(3),
        cluster: opt(4),
        service: opt(5),
        task_family: opt(6),
        security_groups: get(7)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        subnet_id: opt(8),
        vpc_id: opt(9),
        valid_from,
        valid_to,
        load_balancer: opt(12),
        source: get(13).to_string(),
        origin: at,
    })
}
