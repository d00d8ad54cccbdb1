//! The command line. Each subcommand lives in its own file; this one parses and dispatches.

mod action;
mod decide;
mod dry_run;
mod graph;
mod on_github;
mod record;
mod resume;
mod run;
mod schema;
mod status;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;

/// The environment of a run or preview that names none.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// Exit codes scripts and the GitHub Action rely on.
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
    after_help = "Examples:\n  rollgate validate workflows/*.yaml\n  rollgate validate plan.yaml --format json\n  rollgate graph workflows/haproxy-canary.yaml --format mermaid\n  rollgate schema > rollout.schema.json\n\nExit codes: 0 valid, 2 invalid plan or bad usage, 1 other failure."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check plans: YAML, schema, references, units, expressions; report every problem.
    #[command(
        after_help = "Examples:\n  rollgate validate workflows/*.yaml\n  rollgate validate plan.yaml --format json"
    )]
    Validate {
        /// Plan files.
        #[arg(required = true)]
        plans: Vec<String>,
        /// `human`: path:line:col with the source line; `json`: a list for editors and CI.
        #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
        format: DiagFormat,
    },
    /// Validate a plan and print the DAG it compiles to.
    #[command(
        after_help = "Examples:\n  rollgate graph workflows/haproxy-canary.yaml\n  rollgate graph plan.yaml --format dot | dot -Tsvg > plan.svg"
    )]
    Graph {
        /// The plan file.
        plan: String,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print the plan's JSON Schema (draft 2020-12), for editors and other tools.
    Schema,
    /// What the GitHub Action (`action.yml`) calls: `run` or `dry-run` with the step's inputs,
    /// read from ROLLGATE_PLAN, ROLLGATE_MODE, ROLLGATE_FIXTURE, ROLLGATE_INPUTS (one
    /// NAME=VALUE per line) and ROLLGATE_ENVIRONMENT.
    Action,
    /// Rehearse a plan against a fixture of recorded metrics, in virtual time: routers are
    /// simulated, commands and messages are only recorded.
    #[command(
        after_help = "Examples:\n  rollgate dry-run workflows/haproxy-canary.yaml --fixture fixtures/metrics/haproxy-canary/healthy.yaml\n  rollgate dry-run plan.yaml --fixture f.yaml --approve none --json\n\nExit codes: 0 promoted, 3 rolled back, 4 aborted, 2 invalid plan or fixture, 1 other failure."
    )]
    /// Run a plan for real, in wall time, against its routers and metric sources; journaled,
    /// and rolled back on SIGINT/SIGTERM or `rollgate rollback`. Today: `haproxy` and
    /// `traffic-command` routers, `prometheus` and `metrics-command` sources, gates decided by
    /// `rollgate approve|reject`; not yet notifications, PR-comment gates, kubectl.
    #[command(
        after_help = "Examples:\n  rollgate run workflows/linear.yaml\n  rollgate run plan.yaml --input release=v1.4.2 --json\n\nExit codes: 0 promoted, 3 rolled back, 4 aborted, 5 a router refused a shift (rolled back as far as it allowed), 2 invalid plan or one run cannot do yet, 1 other failure (a held concurrency group)."
    )]
    Run {
        /// The plan file.
        plan: String,
        /// A plan input, NAME=VALUE; repeat for several.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// One JSON event per line.
        #[arg(long)]
        json: bool,
        /// Where runs are journaled.
        #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
        state_dir: String,
        /// The deployment environment (GitHub deployment and PR comment), for `github`
        /// providers that name none.
        #[arg(long, default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
    },
    /// Take over a run that stopped without finishing and put its routers back as they were
    /// before its first shift.
    Resume {
        /// The run's id (see `rollgate history`).
        run: String,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
        state_dir: String,
    },
    /// Show a run (the latest when none is named): its state, last step and routers.
    Status {
        run: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
        state_dir: String,
    },
    /// Save metric answers as a fixture: a run's own (`--run RUN`, finished or still going),
    /// or a plan's queries over a past range of Prometheus (`PLAN --from T --to T`). A dry-run
    /// on the fixture replays them; from a run, it expects the run's outcome.
    #[command(
        after_help = "Examples:\n  rollgate record --run 20260301T120000Z-4242 --out fixtures/metrics/incident.yaml\n  rollgate record plan.yaml --from now-1h --to now --out last-hour.yaml\n  rollgate record plan.yaml --from 2026-03-01T12:00:00Z --to 2026-03-01T13:00:00Z --step 30s\n\nExit codes: 0 recorded, 2 bad usage or invalid plan, 1 nothing to record or Prometheus failed."
    )]
    Record {
        /// The plan whose queries to read over `--from`..`--to`.
        #[arg(conflicts_with = "run", required_unless_present = "run")]
        plan: Option<String>,
        /// A run's id (see `rollgate history`): record the answers it got.
        #[arg(long)]
        run: Option<String>,
        /// Start of the range: `now`, `now-1h`, or RFC 3339.
        #[arg(long, requires = "plan", conflicts_with = "run")]
        from: Option<String>,
        /// End of the range.
        #[arg(long, requires = "plan", conflicts_with = "run")]
        to: Option<String>,
        /// Time between samples in the range [default: the plan's `interval`].
        #[arg(long, requires = "plan", conflicts_with = "run")]
        step: Option<String>,
        /// A plan input, NAME=VALUE, for queries that use `${{ inputs.* }}`.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Where to write the fixture (a new file) [default: stdout].
        #[arg(long, short)]
        out: Option<String>,
        #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
        state_dir: String,
    },
    /// Approve the gate a running run waits at (the latest running run when none is named).
    Approve(GateDecision),
    /// Reject the gate a running run waits at: the gate's rejection rolls it back.
    Reject(GateDecision),
    /// Continue a paused run (the latest running run when none is named): the rollout goes
    /// on from where it held.
    Continue(GateDecision),
    /// Put a run's routers back as they were before it: a running run rolls back now,
    /// whatever it is doing; a run that stopped or ended with a router off that state is
    /// taken over and put back.
    #[command(
        after_help = "Examples:\n  rollgate rollback\n  rollgate rollback 20260301T120000Z-4242 --by alice\n  rollgate rollback 20260301T120000Z-4242 --promoted\n\nExit codes: 0 asked (a running run) or nothing to put back, 3 put back, 5 a router refused, 1 other failure."
    )]
    Rollback {
        run: Option<String>,
        /// Who asks [default: $USER].
        #[arg(long)]
        by: Option<String>,
        /// Also put back a run that was promoted (its routers go back to before it).
        #[arg(long)]
        promoted: bool,
        #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
        state_dir: String,
    },
    /// List the runs journaled here.
    History {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
        state_dir: String,
    },
    DryRun {
        /// The plan file.
        plan: String,
        /// The metrics (and scripted events) to replay.
        #[arg(long)]
        fixture: String,
        /// What happens at gates the fixture's events do not decide: approve at once, or let
        /// them time out [default: the fixture's `approve`, else all].
        #[arg(long, value_enum)]
        approve: Option<Approve>,
        /// A plan input, NAME=VALUE; repeat for several.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// One JSON event per line instead of the report.
        #[arg(long)]
        json: bool,
        /// Write what a GitHub Actions job would produce into DIR: the step's outputs, the job
        /// summary and the pull-request comment.
        #[arg(long, value_name = "DIR")]
        github_preview: Option<String>,
        /// The environment the pull-request comment is for (one comment per plan and environment).
        #[arg(long, default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
    },
}

/// A decision on the gate a running run waits at.
#[derive(clap::Args, Debug)]
struct GateDecision {
    /// The run (see `rollgate history`); the latest running run when absent.
    run: Option<String>,
    /// The gate (step id or phase name) this is for; refused if the run waits elsewhere.
    #[arg(long)]
    gate: Option<String>,
    /// Who decides; one of the gate's approvers [default: $USER].
    #[arg(long)]
    by: Option<String>,
    #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
    state_dir: String,
}

impl GateDecision {
    fn args(&self, kind: decide::Kind) -> decide::Args<'_> {
        decide::Args {
            kind,
            run: self.run.as_deref(),
            gate: self.gate.as_deref(),
            by: self.by.as_deref(),
            state_dir: &self.state_dir,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiagFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Approve {
    All,
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Json,
}

/// Where a command writes: real stdout/stderr, or buffers in tests.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    /// Whether `out` is a terminal (a live status line is drawn there).
    pub tty: bool,
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
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    let tty = std::io::IsTerminal::is_terminal(&stdout);
    let mut io = Io {
        out: &mut stdout.lock(),
        err: &mut stderr.lock(),
        tty,
    };
    run(cli, &mut io)
}

pub fn run(cli: Cli, io: &mut Io<'_>) -> i32 {
    let code = match cli.command {
        Command::Validate { plans, format } => validate::run(&plans, format, io),
        Command::Graph { plan, format } => graph::run(&plan, format, io),
        Command::Schema => schema::run(io),
        Command::Action => action::run(io),
        Command::Approve(d) => decide::run(d.args(decide::Kind::Approve), io),
        Command::Reject(d) => decide::run(d.args(decide::Kind::Reject), io),
        Command::Continue(d) => decide::run(d.args(decide::Kind::Continue), io),
        Command::Rollback {
            run,
            by,
            promoted,
            state_dir,
        } => decide::run(
            decide::Args {
                kind: decide::Kind::Rollback { promoted },
                run: run.as_deref(),
                gate: None,
                by: by.as_deref(),
                state_dir: &state_dir,
            },
            io,
        ),
        Command::Run {
            plan,
            inputs,
            json,
            state_dir,
            environment,
        } => run::run(
            run::Args {
                plan: &plan,
                inputs: &inputs,
                json,
                state_dir: &state_dir,
                environment: &environment,
            },
            io,
        ),
        Command::Resume {
            run,
            json,
            state_dir,
        } => resume::run(&run, &state_dir, json, io),
        Command::Status {
            run,
            json,
            state_dir,
        } => status::status(run.as_deref(), &state_dir, json, io),
        Command::History { json, state_dir } => status::history(&state_dir, json, io),
        Command::Record {
            plan,
            run,
            from,
            to,
            step,
            inputs,
            out,
            state_dir,
        } => record::run(
            record::Args {
                plan: plan.as_deref(),
                run: run.as_deref(),
                from: from.as_deref(),
                to: to.as_deref(),
                step: step.as_deref(),
                inputs: &inputs,
                out: out.as_deref(),
                state_dir: &state_dir,
            },
            io,
        ),
        Command::DryRun {
            plan,
            fixture,
            approve,
            inputs,
            json,
            github_preview,
            environment,
        } => dry_run::run(
            dry_run::Args {
                plan: &plan,
                fixture: &fixture,
                approve: approve.map(|a| match a {
                    Approve::All => crate::providers::approvals::ApprovePolicy::All,
                    Approve::None => crate::providers::approvals::ApprovePolicy::None,
                }),
                inputs: &inputs,
                json,
                github_preview: github_preview.as_deref(),
                environment: &environment,
            },
            io,
        ),
    };
    code.unwrap_or_else(|e| {
        let _ = writeln!(io.err, "rollgate: cannot write output: {e}");
        exit::FAILURE
    })
}

/// The validated plan at `path`, or `None` after printing why it is not valid.
fn validated(path: &str, io: &mut Io<'_>) -> std::io::Result<Option<crate::validate::Validated>> {
    match crate::validate::validate_file(path) {
        Ok(v) => Ok(Some(v)),
        Err(diags) => {
            report(
                path,
                &std::fs::read_to_string(path).unwrap_or_default(),
                &diags,
                io,
            )?;
            Ok(None)
        }
    }
}

/// Prints one file's diagnostics for a person, on stderr.
fn report(
    path: &str,
    source: &str,
    diags: &[crate::diagnostics::Diagnostic],
    io: &mut Io<'_>,
) -> std::io::Result<()> {
    // In a GitHub Actions job, each problem also shows on its line of the plan.
    if crate::report::actions::Actions::from_env().is_some() {
        write!(io.out, "{}", crate::diagnostics::render_github(path, diags))?;
    }
    write!(
        io.err,
        "{}",
        crate::diagnostics::render_human(path, source, diags)
    )
}
