//! Why a map file cannot be used: one variant per kind of problem, each naming the
//! file and, where there is one, the line or document and the JSON path
//! (`map.csv:4: valid_from: "yesterday" is not a time (RFC 3339 or unix seconds)`).

use super::csv::CsvError;
use crate::s3::S3Error;

/// A map file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The file, directory or stream cannot be read.
    #[error("{name}: cannot read: {error}")]
    Read { name: String, error: std::io::Error },
    #[error("{0}: the file is empty")]
    Empty(String),
    #[error("{0}: the file holds only blanks")]
    Blank(String),
    #[error("{0}: binary data that is no map (neither JSON nor the canonical CSV, plain or gzip)")]
    Binary(String),
    #[error("{0}: the directory holds no map file")]
    EmptyDirectory(String),
    /// An `s3://` location under which nothing is stored.
    #[error("{0}: no object there")]
    NoObject(String),
    #[error(transparent)]
    S3(#[from] S3Error),
    /// A line of the canonical CSV.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// JSON that does not parse; `line` is the file's line.
    #[error("{name}: invalid JSON at line {line} column {column}: {what}")]
    Json {
        name: String,
        line: usize,
        column: usize,
        what: String,
    },
    #[error("{name}:{line}: invalid UTF-8")]
    Utf8 { name: String, line: usize },
    /// A document that parses but says something unusable (a task without `taskArn`),
    /// at a JSON path where it is known.
    #[error("{name}:{line}: {}{what}", path_prefix(.path))]
    Document {
        name: String,
        line: usize,
        path: Option<String>,
        what: String,
    },
    /// A JSON object of no kind this tool reads, with its first keys.
    #[error(
        "{at}: JSON that is no map source this tool reads (describe-tasks, \
         describe-network-interfaces, ECS task state change events, CloudTrail \
         records or lookup-events, Config configuration items, filter-log-events \
         output): its keys are {}",
        keys_text(.keys)
    )]
    NotASource { at: String, keys: Vec<String> },
    #[error("{0}: a JSON value that is no object or array")]
    NotAnObject(String),
    /// A file of JSON documents none of which is of a kind this tool reads; `skipped`
    /// is the first kind of part skipped, with its count and first place.
    #[error("{name}: the file holds no map source{}", skipped_text(.skipped))]
    NoSource {
        name: String,
        skipped: Option<(usize, &'static str, String)>,
    },
}

impl MapError {
    /// An invalid-JSON error of a document that starts on file line `line`.
    pub(crate) fn json(name: &str, line: usize, e: &serde_json::Error) -> MapError {
        // The error's position counts from the document's start.
        MapError::Json {
            name: name.to_string(),
            line: line + e.line().saturating_sub(1),
            column: e.column(),
            what: strip_position(&e.to_string()),
        }
    }

    /// A read error of the file `name`.
    pub(crate) fn read(name: &str) -> impl Fn(std::io::Error) -> MapError + '_ {
        move |error| MapError::Read {
            name: name.to_string(),
            error,
        }
    }
}

fn path_prefix(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default()
}

fn keys_text(keys: &[String]) -> String {
    if keys.is_empty() {
        "none".to_string()
    } else {
        keys.join(", ")
    }
}

fn skipped_text(skipped: &Option<(usize, &'static str, String)>) -> String {
    match skipped {
        Some((n, what, first)) => format!(" ({n} {what}, first at {first})"),
        None => String::new(),
    }
}

/// serde_json's message without its " at line L column C" tail (the caller says where).
pub(crate) fn strip_position(e: &str) -> String {
    match e.rfind(" at line ") {
        Some(i) => e[..i].to_string(),
        None => e.to_string(),
    }
}
