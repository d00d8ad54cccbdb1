//! Why a real run could not be started or taken over, or a decision about a run could not be
//! made. Each message says what to do; the command line prints it and exits with its code.

use crate::diagnostics::Diagnostic;

#[derive(Debug)]
pub enum Error {
    /// The plan is not valid: its diagnostics, to be shown against its source.
    Invalid {
        path: String,
        source: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// What was asked cannot be done as asked: a bad input, a plan a real run cannot run, a
    /// run that does not exist.
    Usage(String),
    /// Refused or failed: a held concurrency group, a rollback rate limit, GitHub unreachable.
    Failed(String),
    /// The journal could not be written or read.
    Io(std::io::Error),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

/// In one line, for logs: an invalid plan is named, its diagnostics shown where it is read.
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Usage(m) | Error::Failed(m) => f.write_str(m),
            Error::Invalid { path, .. } => write!(f, "{path} does not validate"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}
