//! A real run's GitHub side: before the run, the pull request each used `github` provider
//! reports on; while it runs, the PR comment, the deployment, and the watcher of `/rollgate`
//! commands that decides its gates and can roll it back; and a rehearsal's PR comment.

use crate::delivery::{Deliveries, Teller};
use crate::github::commands::Commands;
use crate::github::Link;
use crate::plan::Plan;
use crate::providers::approvals::{Approvals, Github};
use crate::report::Reporter;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A `github` provider connected to its pull request.
pub struct Connected {
    pub name: String,
    pub link: Arc<Link>,
    /// The pull request it comments on and reads commands from, when there is one.
    pub pr: Option<u64>,
    /// In the plan's `notify.to`: keeps the PR comment and the deployment.
    pub reports: bool,
    /// The commit its deployment is of; none when GitHub could not say (no deployment then).
    pub commit: Option<String>,
}

/// Finds each used `github` provider's pull request: the event's, else one containing the
/// commit. A gate that reads PR comments needs one; without it the run does not start.
/// Returns the connections and warnings for what will be left out (the providers' notes first).
pub async fn connect(
    plan: &Plan,
    graph: &crate::graph::StepGraph,
    providers: &crate::providers::Providers,
) -> Result<(Vec<Connected>, Vec<String>), String> {
    let mut out = Vec::new();
    // What the run leaves out comes first: the providers' own notes.
    let mut warnings = providers.notes.clone();
    for (name, link) in &providers.github {
        let gates = graph.gates_via(name);
        let reports = plan.notifies(name);
        let sha = &link.context.sha;
        let pr = link
            .pull_request()
            .await
            .map_err(|e| format!("cannot look up the pull request of commit {sha}: {e}"));
        let pr = match (pr, gates.first()) {
            (Ok(Some(pr)), _) => Some(pr),
            (Ok(None), Some(gate)) => {
                return Err(format!("gate `{gate}` reads its decision from pull-request comments (`via: {name}`), and no pull request contains commit {sha}; run it from a pull request, or use `via: cli`"))
            }
            (Err(e), Some(gate)) => return Err(format!("gate `{gate}` reads its decision from pull-request comments (`via: {name}`): {e}")),
            (Ok(None), None) => {
                warnings.push(format!("no pull request contains commit {sha}: `{name}` posts deployment statuses only"));
                None
            }
            (Err(e), None) => {
                warnings.push(format!("{e}: `{name}` posts deployment statuses only"));
                None
            }
        };
        let commit = if reports {
            match link.commit().await {
                Ok(c) => Some(c),
                Err(e) => {
                    warnings.push(format!(
                        "cannot find the head commit of PR #{}: {e}; `{name}` makes no deployment",
                        pr.unwrap_or_default()
                    ));
                    None
                }
            }
        } else {
            None
        };
        out.push(Connected {
            name: name.clone(),
            link: link.clone(),
            pr,
            reports,
            commit,
        });
    }
    Ok((out, warnings))
}

/// What the GitHub side adds to a running run.
#[derive(Default)]
pub struct Started {
    pub reporters: Vec<Box<dyn Reporter>>,
    /// Approval sources by provider name.
    pub approvals: BTreeMap<String, Arc<dyn Approvals>>,
    /// Each PR's commands, whose rollback requests cancel the run.
    pub commands: Vec<Arc<Commands>>,
    /// The comment watchers, stopped when the run ends.
    pub watchers: Vec<tokio::task::AbortHandle>,
}

/// Whom and what a run is, for its GitHub side.
pub struct RunInfo<'a> {
    pub plan: &'a Plan,
    pub run_id: &'a str,
    /// The Action's `environment` input (or `--environment`), for providers that name none.
    pub environment: &'a str,
}

/// Starts the PR comment, the deployment and the command watchers. Inside the run's runtime.
pub fn start(connected: &[Connected], run: &RunInfo<'_>, deliveries: &Deliveries) -> Started {
    let mut s = Started::default();
    for c in connected {
        let environment = c
            .link
            .environment
            .clone()
            .unwrap_or_else(|| run.environment.to_string());
        let client = c.link.client.clone();
        let ctx = &c.link.context;
        let teller = Teller::new(&c.name, deliveries);
        if let Some(pr) = c.pr {
            let repo = format!("{}/{}", ctx.owner, ctx.repo);
            let commands = Commands::new(client.clone(), &repo, pr, teller.clone());
            let watcher = tokio::spawn(commands.clone().watch(chrono::Utc::now(), c.link.poll));
            s.watchers.push(watcher.abort_handle());
            s.approvals
                .insert(c.name.clone(), Arc::new(Github::new(commands.clone())));
            s.commands.push(commands);
            if c.reports {
                s.reporters
                    .push(Box::new(crate::report::pr_comment::PrComment::start(
                        client.clone(),
                        pr,
                        run.plan,
                        &environment,
                        teller.clone(),
                    )));
            }
        }
        if let (true, Some(sha)) = (c.reports, &c.commit) {
            s.reporters
                .push(Box::new(crate::report::deployment::Deployment::start(
                    client,
                    crate::report::deployment::Deployed {
                        sha: sha.clone(),
                        environment,
                        plan: run.plan.name.clone(),
                        run_id: run.run_id.to_string(),
                        log_url: ctx.log_url.clone(),
                    },
                    teller,
                )));
        }
    }
    s
}

/// A rehearsal in an Actions job: its PR comment (the preview, marked as a dry-run) goes on the
/// pull request, where the real run's comment will later replace it. Returns what happened,
/// one line per `github` provider; a failure is said and does not change the rehearsal.
pub async fn post_preview(
    plan: &Plan,
    contexts: &serde_json::Value,
    environment: &str,
    view: &crate::report::view::RunView,
) -> Vec<String> {
    let links = match crate::providers::github_reporters(plan, contexts) {
        Ok(links) => links,
        Err(e) => return vec![format!("the rehearsal's PR comment is not posted: {e}")],
    };
    let mut said = Vec::new();
    for (name, link) in links {
        let environment = link.environment.clone().unwrap_or(environment.to_string());
        let sha = link.context.sha.clone();
        let body = |now: Option<&str>| {
            crate::report::markdown::preview_comment(now, view, &environment, &sha)
        };
        let marker = crate::report::markdown::marker(&plan.name, &environment);
        let posted = async {
            let pr = match link.pull_request().await {
                Ok(Some(pr)) => pr,
                Ok(None) => {
                    let sha = &link.context.sha;
                    return Err(format!("no pull request contains commit {sha}"));
                }
                Err(e) => return Err(e.to_string()),
            };
            crate::report::pr_comment::Sticky::new(link.client.clone(), pr, marker)
                .put_with(body)
                .await
                .map(|_| pr)
                .map_err(|e| e.to_string())
        };
        said.push(match posted.await {
            Ok(pr) => format!("the rehearsal's comment is on PR #{pr} (`{name}`)"),
            Err(e) => format!("the rehearsal's PR comment is not posted (`{name}`): {e}"),
        });
    }
    said
}
