//! The HTTP API (axum): start runs, list them, one run's state and events, decisions about
//! it; `/healthz` and `/readyz`. Every `/api` request carries a bearer token; what it may do
//! is its role's. Errors are JSON (`{"error": "..."}`) saying what to do.

use super::auth::{Holder, Role, Tokens};
use super::runs::Runs;
use crate::journal::Record;
use crate::live::decide::Kind;
use crate::live::Error;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest request body taken: a plan's text sent with its inputs fits many times over.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares.
pub struct Api {
    pub runs: Arc<Runs>,
    pub tokens: Tokens,
    /// Whether a start may send a plan's text rather than name one in the plans directory.
    pub accept_sent: bool,
}

/// An error as the API answers it.
#[derive(Debug)]
pub struct Refused {
    status: StatusCode,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, message: impl Into<String>) -> Refused {
        Refused {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.message }));
        if self.status == StatusCode::UNAUTHORIZED {
            return (
                self.status,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"rollgate\"")],
                body,
            )
                .into_response();
        }
        (self.status, body).into_response()
    }
}

impl From<Error> for Refused {
    fn from(e: Error) -> Refused {
        match e {
            Error::Invalid {
                path,
                source,
                diagnostics,
            } => Refused::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                crate::diagnostics::render_human(&path, &source, &diagnostics),
            ),
            Error::Usage(m) => Refused::new(StatusCode::BAD_REQUEST, m),
            Error::Failed(m) => Refused::new(StatusCode::CONFLICT, m),
            Error::Io(e) => {
                Refused::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the store: {e}"))
            }
        }
    }
}

impl From<JsonRejection> for Refused {
    fn from(r: JsonRejection) -> Refused {
        Refused::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for Refused {
    fn from(r: QueryRejection) -> Refused {
        Refused::new(r.status(), r.body_text())
    }
}

impl From<BytesRejection> for Refused {
    fn from(r: BytesRejection) -> Refused {
        Refused::new(r.status(), r.body_text())
    }
}

/// The API's description (OpenAPI 3), as the tests check the service against it.
pub const OPENAPI: &str = include_str!("../../schemas/openapi.json");

pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(super) async fn nowhere() -> Refused {
    Refused::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: `GET /openapi.json` describes them",
    )
}

/// The token a signed-in browser's cookie carries.
fn from_cookie(headers: &HeaderMap) -> Option<&[u8]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .find_map(|pair| {
            pair.trim_ascii()
                .strip_prefix(super::auth::COOKIE.as_bytes())?
                .strip_prefix(b"=")
        })
}

/// Who is asking, if their token allows `needed`: a bearer token, or a signed-in browser's
/// cookie (which must come with `X-Rollgate-Page` to act, so another site cannot act with it).
pub(super) fn authorize(api: &Api, headers: &HeaderMap, needed: Role) -> Result<Holder, Refused> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let presented = match (bearer, from_cookie(headers)) {
        (Some(token), _) => token,
        (None, Some(token)) if needed == Role::Read || headers.contains_key("x-rollgate-page") => token,
        (None, Some(_)) => {
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                "a signed-in browser acts only from the status page (`X-Rollgate-Page`)",
            ))
        }
        (None, None) => {
            return Err(Refused::new(
                StatusCode::UNAUTHORIZED,
                "no bearer token: send `Authorization: Bearer TOKEN` with a token from the service's tokens",
            ))
        }
    };
    let holder = api.tokens.holder(presented).ok_or_else(|| {
        Refused::new(
            StatusCode::UNAUTHORIZED,
            "this bearer token is not one of the service's tokens",
        )
    })?;
    if holder.role < needed {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} has a `{}` token; this needs an `{}` one",
                holder.name,
                holder.role.word(),
                needed.word()
            ),
        ));
    }
    Ok(holder.clone())
}

pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers.
pub(super) async fn readyz(State(api): State<Arc<Api>>) -> Result<Json<Value>, Refused> {
    let store = api.runs.store().clone();
    let asked = tokio::task::spawn_blocking(move || store.read("readyz").map(|_| ()))
        .await
        .map_err(|e| Refused::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    match asked {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store does not answer: {e}"),
        )),
        _ => Ok(Json(json!({
            "ready": true,
            "driving": api.runs.driving(),
            "unadoptable": api.runs.unadoptable(),
        }))),
    }
}

/// The service's telemetry in Prometheus' text format, for a `read` token.
pub(super) async fn metrics(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    authorize(&api, &headers, Role::Read)?;
    let runs = every_run(&api).await?;
    let text = api.runs.telemetry.encode(&runs, api.runs.driving());
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Start {
    /// A plan in the plans directory, by file name with or without `.yaml`.
    plan: Option<String>,
    /// A plan's YAML text, where the service takes plans sent (`--accept-sent-plans`).
    source: Option<String>,
    #[serde(default)]
    inputs: BTreeMap<String, String>,
}

pub(super) async fn start(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: Result<Json<Start>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), Refused> {
    let who = authorize(&api, &headers, Role::Operate)?;
    let Json(asked) = body?;
    let inputs = asked
        .inputs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let id = match (asked.plan, asked.source) {
        (Some(name), None) => {
            let plan = api
                .runs
                .plan(&name)
                .map_err(|no| Refused::new(StatusCode::NOT_FOUND, no))?;
            api.runs.start(&plan, inputs).await?
        }
        (None, Some(_)) if !api.accept_sent => {
            return Err(Refused::new(
                StatusCode::FORBIDDEN,
                "this service starts plans from its plans directory only: send `{\"plan\": NAME}`; a service started with `--accept-sent-plans` takes a plan's text in `source`",
            ))
        }
        (None, Some(source)) => {
            let id = api.runs.start_sent(&source, inputs).await?;
            tracing::info!(run_id = %id, by = %who.name, "started a run of a plan sent in the request");
            id
        }
        _ => {
            return Err(Refused::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "send either `plan` (a plan's name in the plans directory) or `source` (a plan's YAML text), not both or neither",
            ))
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({ "run": id, "url": format!("/api/runs/{id}") })),
    ))
}

/// Every run in the store, or those whose plan (`?plan=`, its file name without `.yaml`)
/// or state (`?state=`, how `history` begins it: `running`, `promoted`, `stopped`, ...) match.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filter {
    plan: Option<String>,
    state: Option<String>,
}

pub(super) async fn list(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Result<Json<Value>, Refused> {
    authorize(&api, &headers, Role::Read)?;
    let Query(filter) = filter?;
    let runs = every_run(&api).await?;
    let kept: Vec<Record> = runs
        .into_iter()
        .filter(|r| filter.plan.as_ref().is_none_or(|p| r.plan_name() == *p))
        .filter(|r| {
            filter
                .state
                .as_ref()
                .is_none_or(|s| crate::report::status::state(r).starts_with(s.as_str()))
        })
        .collect();
    Ok(Json(crate::report::status::history_json(&kept)))
}

/// Rollouts by plan: started, running, how they ended and what rolled them back
/// ([`super::stats`]), from the store, so every replica answers the same.
pub(super) async fn stats(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
) -> Result<Json<super::stats::Stats>, Refused> {
    authorize(&api, &headers, Role::Read)?;
    let runs = every_run(&api).await?;
    Ok(Json(super::stats::stats(&runs)))
}

/// Every run in the store.
pub(super) async fn every_run(api: &Api) -> Result<Vec<Record>, Refused> {
    let store = api.runs.store().clone();
    Ok(tokio::task::spawn_blocking(move || store.list())
        .await
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(Error::from)?)
}

/// Run `id` as the store tells it; an id no run can have is no run.
pub(super) async fn record(api: &Api, id: String) -> Result<Record, Refused> {
    let plain = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            format!("no run `{id}`; `GET /api/runs` lists them"),
        ));
    }
    let store = api.runs.store().clone();
    let read = tokio::task::spawn_blocking(move || store.read(&id).map_err(|e| (id, e)))
        .await
        .map_err(|e| Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    read.map_err(|(id, e)| match e.kind() {
        std::io::ErrorKind::NotFound => Refused::new(
            StatusCode::NOT_FOUND,
            format!("no run `{id}`; `GET /api/runs` lists them"),
        ),
        _ => Error::from(e).into(),
    })
}

pub(super) async fn one(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Refused> {
    authorize(&api, &headers, Role::Read)?;
    let r = record(&api, id).await?;
    Ok(Json(crate::report::status::status_json(&r)))
}

/// Its journal so far as JSON; or, asked for `text/event-stream`, every event as it comes
/// ([`stream::events`]).
pub(super) async fn events(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    authorize(&api, &headers, Role::Read)?;
    let run = record(&api, id.clone()).await?;
    let streamed = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if !streamed {
        return Ok(Json(Value::from(run.events)).into_response());
    }
    // After the one the client saw last, when it reconnects.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    Ok(super::stream::events(api.runs.store().clone(), id, after).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Decide {
    /// The gate (step id or phase name) it is for; any the run waits at when absent.
    gate: Option<String>,
}

pub(super) async fn decision(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Refused> {
    let who = authorize(&api, &headers, Role::Operate)?;
    let body = body?;
    // The body is optional: none decides at whatever gate the run waits at.
    let asked: Decide = if body.iter().all(u8::is_ascii_whitespace) {
        Decide::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Refused::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the body: {e}; send `{{\"gate\": STEP}}` or nothing"),
            )
        })?
    };
    let kind = match decision.as_str() {
        "approve" => Kind::Approve,
        "reject" => Kind::Reject,
        "continue" => Kind::Continue,
        "rollback" => Kind::Rollback { promoted: false },
        other => {
            return Err(Refused::new(
                StatusCode::NOT_FOUND,
                format!("no decision `{other}`: approve, reject, continue or rollback"),
            ))
        }
    };
    record(&api, id.clone()).await?;
    let gate = asked.gate;
    let said = api.runs.decide(&id, kind, gate, &who.name).await?;
    Ok(Json(json!({ "message": said })))
}
