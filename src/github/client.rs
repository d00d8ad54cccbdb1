//! The GitHub REST calls rollgate makes, through octocrab over rollgate's own HTTP client.
//! octocrab's rate-limit handling retries 5xx, 429, and a 403 that carries `Retry-After` or
//! `x-ratelimit-remaining: 0` (GitHub's secondary and primary limits), waiting as told; any
//! other 4xx is an answer, not a reason to retry.

use super::context::Context;
use chrono::{DateTime, Utc};
use octocrab::service::middleware::retry::{NoOpRateLimitMetrics, RetryConfig};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Retries after the first attempt, for 5xx and rate limits.
const RETRIES: usize = 4;
/// A 429 without `Retry-After` waits this long, as GitHub's docs ask.
const RATE_LIMIT_WAIT_SECS: u64 = 60;
/// Comments per page when listing (GitHub's maximum).
const PER_PAGE: usize = 100;

/// A call that failed, in words that never carry the token.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    /// The HTTP status, when GitHub answered.
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "GitHub answered {s}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl From<octocrab::Error> for Error {
    fn from(e: octocrab::Error) -> Error {
        match e {
            octocrab::Error::GitHub { source, .. } => Error {
                status: Some(source.status_code.as_u16()),
                message: source.message,
            },
            // The request went nowhere (or its answer was not what GitHub sends); octocrab's
            // text for these names the URL at most.
            other => Error {
                status: None,
                message: format!("the GitHub API could not be reached: {other}"),
            },
        }
    }
}

/// A comment on a pull request.
#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    pub user: User,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub login: String,
    /// `User` or `Bot` (an app's installation, as the job's token is).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// Who the token is, as GitHub says: a user (a personal token) or an app's bot (the job's
/// `GITHUB_TOKEN` is `github-actions[bot]`; an app's installation token, `<app>[bot]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub login: String,
    pub bot: bool,
}

impl Identity {
    /// Whether `user` (a comment's author, from the REST API) is this identity. GraphQL names
    /// a bot without the `[bot]` that REST gives it; where REST says the kind, it must agree,
    /// so a person whose login is an app's name is not taken for the app.
    pub fn is(&self, user: &User) -> bool {
        let plain = |l: &str| l.strip_suffix("[bot]").unwrap_or(l).to_lowercase();
        let kind_agrees = user
            .kind
            .as_deref()
            .is_none_or(|k| (k == "Bot") == self.bot);
        plain(&user.login) == plain(&self.login) && kind_agrees
    }
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    state: String,
}

#[derive(Deserialize)]
struct Status {
    state: String,
}

/// One repository's API.
pub struct Client {
    octo: octocrab::Octocrab,
    repo: String,
    /// GraphQL is asked directly: octocrab would put it under a GitHub Enterprise server's
    /// `/api/v3`, where it is not.
    http: reqwest::Client,
    graphql_url: String,
    token: String,
}

impl Client {
    pub fn new(ctx: &Context, token: &str) -> Result<Client, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        let graphql = http.clone();
        let octo = octocrab::Octocrab::builder()
            .base_uri(ctx.api_url.as_str())
            .map_err(|_| format!("GITHUB_API_URL `{}` is not a URL", ctx.api_url))?
            .personal_token(token.to_string())
            .add_retry_config(RetryConfig::HandleRateLimits {
                metrics: Arc::new(NoOpRateLimitMetrics),
                max_retries: RETRIES,
                min_wait_seconds: RATE_LIMIT_WAIT_SECS,
                retry_on_forbidden: false,
            })
            .build_with_reqwest(http)
            .map_err(|e| format!("cannot make a GitHub client: {e}"))?;
        Ok(Client {
            octo,
            repo: format!("/repos/{}/{}", ctx.owner, ctx.repo),
            http: graphql,
            graphql_url: ctx.graphql_url.clone(),
            token: token.to_string(),
        })
    }

    /// Who the token is. GraphQL's `viewer` answers for personal tokens and app installation
    /// tokens alike (REST's `GET /user` refuses the latter).
    pub async fn identity(&self) -> Result<Identity, Error> {
        let unreachable = |e: reqwest::Error| Error {
            status: None,
            message: format!("the GitHub API could not be reached: {}", e.without_url()),
        };
        let resp = self
            .http
            .post(&self.graphql_url)
            .bearer_auth(&self.token)
            .header("user-agent", "rollgate")
            .json(&json!({ "query": "query { viewer { login __typename } }" }))
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.map_err(unreachable)?;
        let viewer = &body["data"]["viewer"];
        match viewer["login"].as_str() {
            Some(login) if status == 200 => Ok(Identity {
                login: login.to_string(),
                bot: viewer["__typename"] == "Bot",
            }),
            _ => Err(Error {
                status: Some(status),
                message: body["message"]
                    .as_str()
                    .or(body["errors"][0]["message"].as_str())
                    .unwrap_or("no viewer in GraphQL's answer")
                    .to_string(),
            }),
        }
    }

    /// The head commit of pull request `pr`, as it is now.
    pub async fn pull_head(&self, pr: u64) -> Result<String, Error> {
        let pull: Value = self
            .octo
            .get(format!("{}/pulls/{pr}", self.repo), None::<&()>)
            .await?;
        pull["head"]["sha"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error {
                status: None,
                message: format!("pull request #{pr} has no head commit in GitHub's answer"),
            })
    }

    /// The pull requests that contain `sha`, open ones first.
    pub async fn pulls_for_commit(&self, sha: &str) -> Result<Vec<u64>, Error> {
        let mut pulls: Vec<Pull> = self
            .octo
            .get(format!("{}/commits/{sha}/pulls", self.repo), None::<&()>)
            .await?;
        pulls.sort_by_key(|p| p.state != "open");
        Ok(pulls.into_iter().map(|p| p.number).collect())
    }

    /// The pull request's comments, oldest first; with `since`, only those updated since.
    pub async fn comments(
        &self,
        pr: u64,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Comment>, Error> {
        let mut all = Vec::new();
        for page in 1.. {
            let mut q = vec![
                ("per_page", PER_PAGE.to_string()),
                ("page", page.to_string()),
            ];
            if let Some(s) = since {
                q.push((
                    "since",
                    s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ));
            }
            let got: Vec<Comment> = self
                .octo
                .get(format!("{}/issues/{pr}/comments", self.repo), Some(&q))
                .await?;
            let last = got.len() < PER_PAGE;
            all.extend(got);
            if last {
                break;
            }
        }
        Ok(all)
    }

    pub async fn create_comment(&self, pr: u64, body: &str) -> Result<u64, Error> {
        let c: Id = self
            .octo
            .post(
                format!("{}/issues/{pr}/comments", self.repo),
                Some(&json!({ "body": body })),
            )
            .await?;
        Ok(c.id)
    }

    pub async fn edit_comment(&self, id: u64, body: &str) -> Result<(), Error> {
        let _: Value = self
            .octo
            .patch(
                format!("{}/issues/comments/{id}", self.repo),
                Some(&json!({ "body": body })),
            )
            .await?;
        Ok(())
    }

    /// `user`'s permission on the repository: `admin`, `write` (maintainers too), `read`
    /// (triagers too) or `none`; someone who is not a collaborator has `none`.
    pub async fn permission(&self, user: &str) -> Result<String, Error> {
        let got: Result<Value, Error> = self
            .octo
            .get(
                format!("{}/collaborators/{user}/permission", self.repo),
                None::<&()>,
            )
            .await
            .map_err(Error::from);
        match got {
            Ok(v) => Ok(v["permission"].as_str().unwrap_or("none").to_string()),
            Err(e) if e.status == Some(404) => Ok("none".into()),
            Err(e) => Err(e),
        }
    }

    /// Whether `user` is an active member of `org/team` (the token needs `read:org`).
    pub async fn in_team(&self, org: &str, team: &str, user: &str) -> Result<bool, Error> {
        let got: Result<Value, Error> = self
            .octo
            .get(
                format!("/orgs/{org}/teams/{team}/memberships/{user}"),
                None::<&()>,
            )
            .await
            .map_err(Error::from);
        match got {
            Ok(v) => Ok(v["state"] == "active"),
            Err(e) if e.status == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The environment's deployments, newest first (the few most recent), each with the
    /// rollgate run that made it, if one did.
    pub async fn deployments(
        &self,
        environment: &str,
    ) -> Result<Vec<(u64, Option<String>)>, Error> {
        let got: Vec<Value> = self
            .octo
            .get(
                format!("{}/deployments", self.repo),
                Some(&[("environment", environment), ("per_page", "10")]),
            )
            .await?;
        Ok(got
            .iter()
            .filter_map(|d| {
                let run = d["payload"]["rollgate"]["run-id"]
                    .as_str()
                    .map(str::to_string);
                Some((d["id"].as_u64()?, run))
            })
            .collect())
    }

    /// A deployment's latest status, if it has any.
    pub async fn latest_status(&self, deployment: u64) -> Result<Option<String>, Error> {
        let got: Vec<Status> = self
            .octo
            .get(
                format!("{}/deployments/{deployment}/statuses", self.repo),
                Some(&[("per_page", "1")]),
            )
            .await?;
        Ok(got.into_iter().next().map(|s| s.state))
    }

    /// Creates a deployment of `sha` to `environment`, with no merge and no required status
    /// checks (the rollout itself is the check).
    pub async fn create_deployment(
        &self,
        sha: &str,
        environment: &str,
        description: &str,
        payload: Value,
    ) -> Result<u64, Error> {
        let d: Id = self
            .octo
            .post(
                format!("{}/deployments", self.repo),
                Some(&json!({
                    "ref": sha,
                    "environment": environment,
                    "description": description,
                    "auto_merge": false,
                    "required_contexts": [],
                    "payload": payload,
                })),
            )
            .await?;
        Ok(d.id)
    }

    /// Posts a deployment status. `auto_inactive` is off: rollgate marks the replaced
    /// deployment inactive itself, and only once the new one succeeded.
    pub async fn post_status(
        &self,
        deployment: u64,
        state: &str,
        description: &str,
        log_url: Option<&str>,
    ) -> Result<(), Error> {
        let mut body = json!({
            "state": state,
            "description": truncate(description, 140),
            "auto_inactive": false,
        });
        if let Some(url) = log_url {
            body["log_url"] = json!(url);
        }
        let _: Value = self
            .octo
            .post(
                format!("{}/deployments/{deployment}/statuses", self.repo),
                Some(&body),
            )
            .await?;
        Ok(())
    }
}

/// GitHub refuses a status description over 140 characters.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::{Identity, User};

    #[test]
    fn the_tokens_identity_matches_its_own_comments_only() {
        let user = |login: &str, kind: Option<&str>| User {
            login: login.into(),
            kind: kind.map(str::to_string),
        };
        let bot = Identity {
            login: "github-actions".into(),
            bot: true,
        };
        assert!(bot.is(&user("github-actions[bot]", Some("Bot"))));
        assert!(bot.is(&user("GitHub-Actions[bot]", None)));
        assert!(
            !bot.is(&user("github-actions", Some("User"))),
            "a person named like the app"
        );
        assert!(!bot.is(&user("mallory", Some("User"))));
        let person = Identity {
            login: "alice".into(),
            bot: false,
        };
        assert!(person.is(&user("alice", Some("User"))));
        assert!(!person.is(&user("alice[bot]", Some("Bot"))));
    }

    #[test]
    fn descriptions_fit_githubs_limit() {
        assert_eq!(super::truncate("short", 140), "short");
        let long = "x".repeat(200);
        let t = super::truncate(&long, 140);
        assert_eq!(t.chars().count(), 140);
        assert!(t.ends_with('…'));
    }
}
