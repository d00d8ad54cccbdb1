//! One failure type for every command: its exit code and what it prints, printed in one place
//! ([`super::run`]). A command that ran returns its exit code; one that could not returns this.

use super::exit;
use crate::diagnostics::{self, Diagnostic};
use crate::report::markdown;
use crate::report::validation::{self, Printed, Stream};

#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    /// What it prints: `rollgate: <why>`, a file's diagnostics, or text naming its file.
    pub printed: Printed,
    /// Why, for a job summary, when a step's plan, fixture or inputs were refused (exit 2):
    /// in an Actions job the step still says `outcome=invalid` and lists the problems.
    pub invalid: Option<String>,
}

impl Failure {
    /// Bad usage, or an input that cannot be used: exit 2.
    pub fn usage(message: impl std::fmt::Display) -> Failure {
        let mut f = Failure::text(exit::INVALID, format!("rollgate: {message}\n"));
        f.invalid = Some(markdown::escaped(&message.to_string()) + "\n");
        f
    }

    /// Anything else that stopped the command: exit 1.
    pub fn failed(message: impl std::fmt::Display) -> Failure {
        Failure::text(exit::FAILURE, format!("rollgate: {message}\n"))
    }

    /// Text as it is, already naming its file.
    pub fn text(code: i32, text: String) -> Failure {
        let printed = vec![(Stream::Err, text)];
        Failure {
            code,
            printed,
            invalid: None,
        }
    }

    /// An invalid plan: its diagnostics (and in an Actions job, annotations): exit 2.
    pub fn invalid(path: &str, source: &str, diagnostics: Vec<Diagnostic>) -> Failure {
        let printed = validation::diagnostics(path, source, &diagnostics, super::annotating());
        Failure {
            code: exit::INVALID,
            printed,
            invalid: Some(diagnostics::render_markdown(path, &diagnostics)),
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
