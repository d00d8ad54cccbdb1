//! The command line: clap arguments, one file per command, each parsing its arguments and
//! calling the library. A command returns its exit code or a [`Failure`], printed here.

mod action;
mod decide;
mod dry_run;
mod failure;
mod graph;
mod logging;
mod reap;
mod record;
mod resume;
mod run;
mod schema;
mod serve;
mod state;
mod status;
mod validate;

pub use failure::{Exit, Failure};

use clap::{Parser, Subcommand};
use std::io::Write;

/// Exit codes scripts and the GitHub Action rely on; a run's own are its outcome's
/// ([`crate::event::Outcome::exit_code`]).
pub mod exit {
    /// Valid (or promoted).
    pub const OK: i32 = 0;
    /// Any failure other than an invalid plan.
    pub const FAILURE: i32 = 1;
    /// An invalid plan, or bad usage.
    pub const INVALID: i32 = 2;
}

#[derive(Parser, Debug)]
#[command(
    name = "rollgate",
    version,
    about = "A declarative workflow runner for progressive rollouts",
    long_about = "A declarative workflow runner for progressive rollouts: validate a plan, rehearse it against recorded metrics in virtual time, run it against real routers and metric sources.",
    after_help = "Examples:\n  rollgate validate workflows/*.yaml\n  rollgate dry-run plan.yaml --fixture healthy.yaml\n  rollgate run plan.yaml --input release=v1.4.2\n  rollgate status\n  rollgate rollback\n\nExit codes: 0 valid or promoted, 3 rolled back, 4 aborted, 5 a router refused (run, dry-run, resume, rollback), 2 invalid plan or bad usage, 1 other failure."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Validate(validate::Args),
    Graph(graph::Args),
    Schema(schema::Args),
    DryRun(dry_run::Args),
    Run(run::Args),
    Resume(resume::Args),
    Reap(reap::Args),
    Status(status::StatusArgs),
    History(status::HistoryArgs),
    /// Approve the gate a running run waits at (the latest running run when none is named)
    #[command(
        after_help = "Examples:\n  rollgate approve\n  rollgate approve 20260301T120000Z-4242 --gate sign-off --by alice\n\nExit codes: 0 approved, 2 no such run, 1 refused (not waiting there, not an approver)."
    )]
    Approve(decide::GateArgs),
    /// Reject the gate a running run waits at, which rolls it back
    #[command(
        after_help = "Examples:\n  rollgate reject\n  rollgate reject 20260301T120000Z-4242 --by alice\n\nExit codes: 0 rejected, 2 no such run, 1 refused (not waiting there, not an approver)."
    )]
    Reject(decide::GateArgs),
    /// Continue a paused run (the latest running run when none is named)
    ///
    /// The rollout goes on from where it held.
    #[command(
        after_help = "Examples:\n  rollgate continue\n  rollgate continue 20260301T120000Z-4242 --by alice\n\nExit codes: 0 continued, 2 no such run, 1 refused (not paused, not an approver)."
    )]
    Continue(decide::GateArgs),
    Rollback(decide::RollbackArgs),
    Record(record::Args),
    Action(action::Args),
    Serve(serve::Args),
}

/// Where a command writes: stdout and stderr, or buffers.
pub struct Io<'a> {
    pub out: &'a mut (dyn Write + Send),
    pub err: &'a mut (dyn Write + Send),
    /// Whether `out` is a terminal (a live status line is drawn there).
    pub tty: bool,
}

impl Io<'_> {
    /// Prints each piece on its stream, in order.
    fn print(&mut self, printed: &crate::report::validation::Printed) -> std::io::Result<()> {
        use crate::report::validation::Stream;
        for (stream, text) in printed {
            match stream {
                Stream::Out => write!(self.out, "{text}")?,
                Stream::Err => write!(self.err, "{text}")?,
            }
        }
        Ok(())
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::INVALID
            } else {
                exit::OK
            };
        }
    };
    logging::init(matches!(cli.command, Command::Serve(_)));
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let tty = std::io::IsTerminal::is_terminal(&stdout);
    let mut io = Io {
        out: &mut stdout,
        err: &mut stderr,
        tty,
    };
    run(cli, &mut io)
}

pub fn run(cli: Cli, io: &mut Io<'_>) -> i32 {
    // The plan of a command that can be a step of an Actions job, which has outputs to write
    // even when it is refused.
    let step_plan = match &cli.command {
        Command::DryRun(a) => Some(a.plan.clone()),
        Command::Run(a) => Some(a.plan.clone()),
        Command::Action(_) => Some(std::env::var("ROLLGATE_PLAN").unwrap_or_default()),
        _ => None,
    };
    let done = match cli.command {
        Command::Validate(a) => validate::run(a, io),
        Command::Graph(a) => graph::run(a, io),
        Command::Schema(_) => schema::run(io),
        Command::DryRun(a) => dry_run::run(a, io),
        Command::Run(a) => run::run(a, io),
        Command::Resume(a) => resume::run(a, io),
        Command::Reap(a) => reap::run(a, io),
        Command::Serve(a) => serve::run(a, io),
        Command::Status(a) => status::status(a, io),
        Command::History(a) => status::history(a, io),
        Command::Approve(a) => a.run(decide::Kind::Approve, io),
        Command::Reject(a) => a.run(decide::Kind::Reject, io),
        Command::Continue(a) => a.run(decide::Kind::Continue, io),
        Command::Rollback(a) => a.run(io),
        Command::Record(a) => record::run(a, io),
        Command::Action(_) => action::run(io),
    };
    match done {
        Ok(code) => code,
        Err(f) => {
            let _ = io.print(&f.printed);
            let job = crate::report::actions::Actions::from_env();
            if let (Some(plan), Some(problems), Some(job)) = (step_plan, &f.invalid, job) {
                let summary = crate::report::markdown::invalid_summary(&plan, problems);
                if let Err(e) = crate::report::actions::write_invalid(&job, summary) {
                    let _ = writeln!(io.err, "rollgate: cannot write the step's outputs: {e}");
                }
            }
            f.code
        }
    }
}

/// The validated plan at `path`, or the failure that shows why it is not valid.
fn validated(path: &str) -> Result<crate::validate::Validated, Failure> {
    crate::validate::validate_file(path).map_err(|diags| {
        let source = std::fs::read_to_string(path).unwrap_or_default();
        Failure::invalid(path, &source, diags)
    })
}

/// Whether diagnostics are also annotations on their lines: in a GitHub Actions job.
fn annotating() -> bool {
    crate::report::actions::Actions::from_env().is_some()
}

/// Who decides or asks: `--by`, else `$USER`.
fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// A current-thread runtime in wall time, for one command.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
