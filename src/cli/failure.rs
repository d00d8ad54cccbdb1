//! One failure type for every command: what to show and the exit code, printed in one place
//! ([`super::run`]). A command that ran returns its exit code; one that could not returns this.

use super::exit;
use crate::diagnostics::Diagnostic;

#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub shown: Shown,
}

/// What a failure shows on stderr.
#[derive(Debug)]
pub enum Shown {
    /// `rollgate: <message>`.
    Said(String),
    /// Text as it is, already naming its file.
    Text(String),
    /// A file's diagnostics, rendered against its source.
    Diagnostics {
        path: String,
        source: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl Failure {
    /// Bad usage, or an input that cannot be used: exit 2.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: exit::INVALID,
            shown: Shown::Said(message.into()),
        }
    }

    /// Anything else that stopped the command: exit 1.
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: exit::FAILURE,
            shown: Shown::Said(message.into()),
        }
    }

    pub fn text(code: i32, text: impl Into<String>) -> Failure {
        Failure {
            code,
            shown: Shown::Text(text.into()),
        }
    }

    /// An invalid plan or fixture: exit 2.
    pub fn invalid(path: &str, source: &str, diagnostics: Vec<Diagnostic>) -> Failure {
        Failure {
            code: exit::INVALID,
            shown: Shown::Diagnostics {
                path: path.to_string(),
                source: source.to_string(),
                diagnostics,
            },
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::failed(format!("cannot write output: {e}"))
    }
}

impl From<crate::live::Error> for Failure {
    fn from(e: crate::live::Error) -> Failure {
        use crate::live::Error;
        match e {
            Error::Invalid {
                path,
                source,
                diagnostics,
            } => Failure::invalid(&path, &source, diagnostics),
            Error::Usage(m) => Failure::usage(m),
            Error::Failed(m) => Failure::failed(m),
            Error::Io(e) => Failure::failed(format!("the journal: {e}")),
        }
    }
}

/// What a command comes to: its exit code, or a failure.
pub type Exit = Result<i32, Failure>;
