//! The crate's error type.

use std::io;

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
