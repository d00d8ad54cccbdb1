//! Where a run stands on GitHub: the repository, the commit, the pull request and the job's
//! log, read from the environment a GitHub Actions runner sets (and its event payload).
//! Outside Actions the same variables can be set by hand.

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    /// `GITHUB_API_URL`: `https://api.github.com`, or a GitHub Enterprise server's API.
    pub api_url: String,
    /// `GITHUB_GRAPHQL_URL`, else the GraphQL endpoint beside `api_url` (`/api/graphql` on a
    /// GitHub Enterprise server, whose REST API is under `/api/v3`).
    pub graphql_url: String,
    pub owner: String,
    pub repo: String,
    /// The commit being deployed: the pull request's head for PR events, else `GITHUB_SHA`.
    /// A comment on a pull request carries no head: see `head_from_event`.
    pub sha: String,
    /// Whether `sha` is the head the event's pull request names; when the event names a PR
    /// but not its head (`issue_comment`), the head is asked of GitHub.
    pub head_from_event: bool,
    /// The pull request named by the event payload, if it names one.
    pub pr: Option<u64>,
    /// The job's log page, for deployment statuses.
    pub log_url: Option<String>,
}

/// Reads the context from `vars` (the process environment, in practice).
pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Context, String> {
    let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let repository = get("GITHUB_REPOSITORY").ok_or(
        "GITHUB_REPOSITORY is not set: the GitHub provider needs to know the repository (Actions sets it; elsewhere set it to OWNER/REPO)",
    )?;
    let (owner, repo) = repository
        .split_once('/')
        .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| format!("GITHUB_REPOSITORY is `{repository}`; it should be OWNER/REPO"))?;
    let event = match get("GITHUB_EVENT_PATH") {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read the event payload {path} (GITHUB_EVENT_PATH): {e}")
            })?;
            serde_json::from_str(&text)
                .map_err(|e| format!("the event payload {path} is not JSON: {e}"))?
        }
        None => Value::Null,
    };
    let head = event["pull_request"]["head"]["sha"].as_str();
    let sha = head
        .or(get("GITHUB_SHA"))
        .ok_or("GITHUB_SHA is not set: the GitHub provider needs the commit being deployed")?
        .to_string();
    let server = get("GITHUB_SERVER_URL").unwrap_or("https://github.com");
    let log_url = get("GITHUB_RUN_ID").map(|id| {
        let attempt = get("GITHUB_RUN_ATTEMPT")
            .map(|a| format!("/attempts/{a}"))
            .unwrap_or_default();
        format!("{server}/{owner}/{repo}/actions/runs/{id}{attempt}")
    });
    let api_url = get("GITHUB_API_URL")
        .unwrap_or("https://api.github.com")
        .trim_end_matches('/')
        .to_string();
    let graphql_url = match get("GITHUB_GRAPHQL_URL") {
        Some(url) => url.to_string(),
        None => match api_url.strip_suffix("/api/v3") {
            Some(server) => format!("{server}/api/graphql"),
            None => format!("{api_url}/graphql"),
        },
    };
    Ok(Context {
        api_url,
        graphql_url,
        owner: owner.to_string(),
        repo: repo.to_string(),
        sha,
        head_from_event: head.is_some(),
        pr: pr_of(&event),
        log_url,
    })
}

/// The pull request an event is about: `pull_request` events, and comments on a PR.
fn pr_of(event: &Value) -> Option<u64> {
    event["pull_request"]["number"].as_u64().or_else(|| {
        let issue = &event["issue"];
        issue["pull_request"]
            .is_object()
            .then(|| issue["number"].as_u64())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_a_pull_request_event() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            r#"{"pull_request": {"number": 42, "head": {"sha": "abc123"}}}"#,
        )
        .unwrap();
        let c = from_vars(&vars(&[
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "merge999"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_RUN_ID", "77"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ]))
        .unwrap();
        assert_eq!((c.owner.as_str(), c.repo.as_str()), ("acme", "shop"));
        assert_eq!(c.sha, "abc123", "a PR event deploys the PR's head");
        assert_eq!(c.pr, Some(42));
        assert_eq!(
            c.log_url.as_deref(),
            Some("https://github.com/acme/shop/actions/runs/77/attempts/2")
        );
        assert_eq!(c.api_url, "https://api.github.com");
        assert_eq!(c.graphql_url, "https://api.github.com/graphql");
        assert!(c.head_from_event);
    }

    #[test]
    fn a_comment_on_a_pr_names_no_head_and_an_enterprise_server_has_graphql_beside_v3() {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(&event, r#"{"issue": {"number": 7, "pull_request": {}}}"#).unwrap();
        let c = from_vars(&vars(&[
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "main111"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_API_URL", "https://ghe.example/api/v3/"),
        ]))
        .unwrap();
        assert_eq!(
            (c.pr, c.sha.as_str(), c.head_from_event),
            (Some(7), "main111", false)
        );
        assert_eq!(c.api_url, "https://ghe.example/api/v3");
        assert_eq!(c.graphql_url, "https://ghe.example/api/graphql");
    }

    #[test]
    fn a_push_has_no_pr_in_its_payload_and_a_comment_on_an_issue_is_not_a_pr() {
        let c = from_vars(&vars(&[
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_SHA", "s"),
        ]))
        .unwrap();
        assert_eq!(c.pr, None);
        assert_eq!(c.log_url, None);
        let issue = serde_json::json!({"issue": {"number": 5}});
        assert_eq!(pr_of(&issue), None);
        let on_pr = serde_json::json!({"issue": {"number": 5, "pull_request": {}}});
        assert_eq!(pr_of(&on_pr), Some(5));
    }

    #[test]
    fn says_what_is_missing() {
        let e = from_vars(&vars(&[])).unwrap_err();
        assert!(e.contains("GITHUB_REPOSITORY"), "{e}");
        let e = from_vars(&vars(&[("GITHUB_REPOSITORY", "shop")])).unwrap_err();
        assert!(e.contains("OWNER/REPO"), "{e}");
        let e = from_vars(&vars(&[("GITHUB_REPOSITORY", "a/b")])).unwrap_err();
        assert!(e.contains("GITHUB_SHA"), "{e}");
    }
}
