use serde::Serialize;

/// How a run ended; the process exits with [`Outcome::exit_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Promoted,
    RolledBack,
    Aborted,
    Failed,
    /// A router refused a shift even after its retries; the run rolled back as far as the
    /// routers allowed. Said loudly, with its own exit code: never a silent half-shift.
    RouterFailed,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Promoted => 0,
            Outcome::RolledBack => 3,
            Outcome::Aborted => 4,
            Outcome::Failed => 1,
            Outcome::RouterFailed => 5,
        }
    }
}
