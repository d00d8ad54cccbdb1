//! The run as a GitHub deployment of the commit to the environment: `in_progress` when it
//! starts, `success` when promoted (and then `inactive` for the deployment it replaced),
//! `failure` when rolled back or stopped, `error` when rollgate or a router failed; every
//! status links to the job's log. The deployment's payload names the run, so a resumed run
//! carries on with the same deployment.

use super::Reporter;
use crate::delivery::Teller;
use crate::event::{Event, Outcome, Reason, Stamped};
use crate::github::client::Client;
use serde_json::json;
use std::sync::Arc;

pub struct Deployment {
    finished: Option<tokio::sync::oneshot::Sender<(Outcome, Option<Reason>)>>,
}

/// What a deployment records: the commit deployed to the environment, by which plan and run.
pub struct Deployed {
    pub sha: String,
    pub environment: String,
    pub plan: String,
    pub run_id: String,
    pub log_url: Option<String>,
}

impl Deployment {
    /// Creates the deployment in the background, telling each delivery. Must be called inside
    /// the run's runtime.
    pub fn start(client: Arc<Client>, deployed: Deployed, teller: Teller) -> Deployment {
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(keep(client, deployed, rx, teller));
        Deployment { finished: Some(tx) }
    }
}

impl Reporter for Deployment {
    fn on(&mut self, e: &Stamped) {
        if let Event::RunFinished { outcome, reason } = &e.event {
            if let Some(tx) = self.finished.take() {
                let _ = tx.send((*outcome, reason.as_deref().cloned()));
            }
        }
    }
}

/// The status for an outcome, and its description.
fn status(outcome: Outcome, reason: Option<&Reason>) -> (&'static str, String) {
    let why = reason.map(|r| r.message.as_str()).unwrap_or("");
    match outcome {
        Outcome::Promoted => ("success", "promoted by rollgate".into()),
        Outcome::RolledBack => ("failure", format!("rolled back: {why}")),
        Outcome::Aborted => ("failure", format!("stopped: {why}")),
        Outcome::Failed => ("error", format!("failed: {why}")),
        Outcome::RouterFailed => ("error", format!("a router failed: {why}")),
    }
}

async fn keep(
    client: Arc<Client>,
    deployed: Deployed,
    finished: tokio::sync::oneshot::Receiver<(Outcome, Option<Reason>)>,
    teller: Teller,
) {
    let report = |about: String, result: Result<(), crate::github::client::Error>| {
        teller.tell(about, result.map(|_| 1).map_err(|e| e.to_string()));
    };
    let log = deployed.log_url.as_deref();
    let listed = client
        .deployments(&deployed.environment)
        .await
        .unwrap_or_default();
    // A resumed run carries on with the deployment its first life made.
    let ours = listed
        .iter()
        .find(|(_, run)| run.as_deref() == Some(deployed.run_id.as_str()))
        .map(|(id, _)| *id);
    // The deployment this one replaces: the newest other whose latest status is `success`.
    let mut replaced = None;
    for (id, _) in listed.iter().filter(|(id, _)| Some(*id) != ours) {
        if let Ok(Some(state)) = client.latest_status(*id).await {
            if state == "success" {
                replaced = Some(*id);
                break;
            }
        }
    }
    let id = match ours {
        Some(id) => id,
        None => {
            let description = format!("rollgate: {}", deployed.plan);
            let payload =
                json!({ "rollgate": { "plan": deployed.plan, "run-id": deployed.run_id } });
            match client
                .create_deployment(&deployed.sha, &deployed.environment, &description, payload)
                .await
            {
                Ok(id) => {
                    report(format!("deployment to {}", deployed.environment), Ok(()));
                    id
                }
                Err(e) => return report(format!("deployment to {}", deployed.environment), Err(e)),
            }
        }
    };
    let started = client
        .post_status(
            id,
            "in_progress",
            &format!("{} rolling out", deployed.plan),
            log,
        )
        .await;
    report(format!("deployment {id}: in_progress"), started);
    let (state, text) = match finished.await {
        Ok((outcome, reason)) => status(outcome, reason.as_ref()),
        // The run ended without an outcome (it panicked): say so rather than leave it in progress.
        Err(_) => (
            "error",
            "rollgate stopped before the rollout finished".into(),
        ),
    };
    let ended = client.post_status(id, state, &text, log).await;
    let ok = ended.is_ok();
    report(format!("deployment {id}: {state}"), ended);
    if let (true, "success", Some(old)) = (ok, state, replaced) {
        let r = client
            .post_status(
                old,
                "inactive",
                &format!("replaced by deployment {id}"),
                log,
            )
            .await;
        report(format!("deployment {old}: inactive"), r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_a_status() {
        assert_eq!(status(Outcome::Promoted, None).0, "success");
        let r = Reason::says("error-rate 15% > 5%");
        assert_eq!(
            status(Outcome::RolledBack, Some(&r)),
            ("failure", "rolled back: error-rate 15% > 5%".into())
        );
        assert_eq!(status(Outcome::Aborted, None).0, "failure");
        assert_eq!(status(Outcome::RouterFailed, None).0, "error");
        assert_eq!(status(Outcome::Failed, None).0, "error");
    }
}
