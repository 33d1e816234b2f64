//! The crate's error types. They say what went wrong as data (kinds, positions, the
//! offending text); the English sentences users read are written by the output layer
//! (`output::messages`), and exit codes follow from the kinds, never from the text.

use std::io;

use crate::format::LayoutError;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line or an option's value is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// An input could not be read at all, or `--strict` met a bad line (exit 2).
    #[error("{0}")]
    Input(String),
    /// Writing the output failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// True when the output's reader went away (`vpcflow cat | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// A line that could not be parsed, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line number, counting header and blank lines.
    pub line: u64,
    /// Offset of the line's first byte in the (decompressed) stream.
    pub byte_offset: u64,
    pub kind: RejectKind,
}

impl Reject {
    /// The message users read, e.g. `field srcport: "70000" is out of range (0 to 65535)`.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// Why a line was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectKind {
    /// The line has another number of fields than its layout.
    FieldCount { expected: usize, found: usize },
    /// A field's value is not valid for the field's type.
    Field {
        /// The field's name as the layout spells it (`srcport`, `log-status`).
        field: String,
        problem: FieldProblem,
        text: Excerpt,
    },
    /// A line that looks like a header but is not a usable layout.
    Header(LayoutError),
    /// A record after an invalid header line: there is no layout to read it with.
    NoLayout(LayoutError),
    /// A line longer than the limit (`--max-line-bytes`).
    TooLong { max: usize },
    /// The last line of a file whose reading broke off inside it: what arrived of it
    /// (`bytes`) is not the whole line.
    Cut { bytes: usize },
    /// The fields are separated by tabs rather than spaces.
    Tabs,
    /// An OCSF record (a JSON line or a Parquet row) that is not a flow-log record of
    /// Network Activity, or that holds a value its flow-log field cannot: what is wrong.
    Ocsf(String),
    /// A CloudWatch Logs event without a `message` string.
    NoMessage,
}

impl RejectKind {
    /// Whether the line has another number of fields than its layout.
    pub fn is_field_count(&self) -> bool {
        matches!(self, RejectKind::FieldCount { .. })
    }
}

/// What is wrong with a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    NotANumber,
    /// A number above the field's maximum.
    OutOfRange {
        max: u64,
    },
    NotAnAddress,
    InvalidUtf8,
    /// A unix time outside the years 2000 to 2200 in every unit.
    NotATime,
}

/// The start of an offending value, as bytes: at most [`Excerpt::MAX`] of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    pub bytes: Vec<u8>,
    /// Whether the value was longer than what is kept.
    pub cut: bool,
}

impl Excerpt {
    /// Longest piece of offending text kept.
    pub const MAX: usize = 60;

    pub fn of(token: &[u8]) -> Excerpt {
        Excerpt {
            bytes: token[..token.len().min(Excerpt::MAX)].to_vec(),
            cut: token.len() > Excerpt::MAX,
        }
    }
}

/// A file that could not be read, or whose reading broke off.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be opened or read at all: it contributed nothing.
    Unreadable(io::Error),
    /// Reading stopped in the middle (a truncated or corrupt `.gz`): the records before
    /// the damage were kept.
    Interrupted {
        /// Lines read and used before the damage.
        line: u64,
        /// Bytes of text read and used before the damage.
        byte: u64,
        error: io::Error,
        /// Lines decoded from the gzip member that failed its check, and dropped.
        dropped: LineCounts,
        /// Records of that member that were used before the damage was found (a
        /// member too large to hold back).
        unverified: u64,
    },
}

/// What happened to the lines consumed so far. Always
/// `lines == records + rejected + headers + blanks`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LineCounts {
    pub lines: u64,
    pub records: u64,
    pub rejected: u64,
    pub headers: u64,
    pub blanks: u64,
}

impl std::ops::Sub for LineCounts {
    type Output = LineCounts;
    fn sub(self, o: LineCounts) -> LineCounts {
        LineCounts {
            lines: self.lines - o.lines,
            records: self.records - o.records,
            rejected: self.rejected - o.rejected,
            headers: self.headers - o.headers,
            blanks: self.blanks - o.blanks,
        }
    }
}

impl std::ops::AddAssign for LineCounts {
    fn add_assign(&mut self, o: LineCounts) {
        self.lines += o.lines;
        self.records += o.records;
        self.rejected += o.rejected;
        self.headers += o.headers;
        self.blanks += o.blanks;
    }
}
