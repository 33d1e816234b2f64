//! The English sentences of the crate's typed errors: the one place where rejected
//! lines and file errors become prose (`field dstport: "70000" is out of range (0 to
//! 65535)`). Everything else passes the kinds around.

use std::fmt;

use crate::error::{Excerpt, FieldProblem, FileError, RejectKind};

impl fmt::Display for Excerpt {
    /// The offending text in double quotes, non-printable bytes escaped, long text cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}{}\"",
            self.bytes.escape_ascii(),
            if self.cut { "..." } else { "" }
        )
    }
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectKind::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            RejectKind::Field {
                field,
                problem,
                text,
            } => {
                write!(f, "field {field}: ")?;
                match problem {
                    FieldProblem::NotANumber => write!(f, "{text} is not a number"),
                    FieldProblem::OutOfRange { max } => {
                        write!(f, "{text} is out of range (0 to {max})")
                    }
                    FieldProblem::NotAnAddress => write!(f, "{text} is not an IP address"),
                    FieldProblem::InvalidUtf8 => write!(f, "invalid UTF-8 in {text}"),
                    FieldProblem::NotATime => write!(
                        f,
                        "{text} is not a unix time before the year 2200 (in seconds, \
                         milliseconds, microseconds or nanoseconds)"
                    ),
                }
            }
            RejectKind::Header(e) => write!(f, "invalid header line: {e}"),
            RejectKind::NoLayout(e) => write!(
                f,
                "not read: the header line before it is invalid ({e}), so the field order \
                 is unknown"
            ),
            RejectKind::TooLong { max } => write!(
                f,
                "the line is longer than {max} bytes (--max-line-bytes); skipped"
            ),
            RejectKind::Cut { bytes } => write!(
                f,
                "the line is incomplete: reading stopped {bytes} bytes into it"
            ),
            RejectKind::Tabs => write!(f, "fields are separated by spaces; this line has tabs"),
            RejectKind::Ocsf(problem) => write!(f, "not an OCSF flow-log record: {problem}"),
            RejectKind::NoMessage => write!(f, "a log event without a \"message\" string"),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Unreadable(e) => write!(f, "cannot read: {e}"),
            FileError::Interrupted {
                line,
                byte,
                error,
                dropped,
                unverified,
            } => {
                write!(
                    f,
                    "reading stopped after line {line} (byte {byte}): {error}"
                )?;
                if dropped.lines > 0 {
                    write!(
                        f,
                        "; the {} lines ({} records) decoded from the damaged gzip member \
                         were dropped",
                        dropped.lines, dropped.records
                    )?;
                }
                if *unverified > 0 {
                    write!(
                        f,
                        "; {unverified} records of that member were used before the damage \
                         was found"
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_quote_escape_and_cut() {
        assert_eq!(Excerpt::of(b"a\xffb").to_string(), "\"a\\xffb\"");
        assert_eq!(
            Excerpt::of(&[b'x'; 70]).to_string(),
            format!("\"{}...\"", "x".repeat(60))
        );
        let k = RejectKind::Field {
            field: "bytes".into(),
            problem: FieldProblem::NotANumber,
            text: Excerpt::of(b"x"),
        };
        assert_eq!(k.to_string(), "field bytes: \"x\" is not a number");
    }
}
