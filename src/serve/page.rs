//! The status page: server-made HTML (handlebars, escaped) with a little script. `/` lists
//! every run, refreshed every two seconds; `/runs/ID` shows one run, its routers, each check's
//! latest canary and baseline values with a chart, its timeline and its rollback reason, all
//! updated live from the run's event stream, with approve, reject, continue and roll back
//! buttons for operators. A browser signs in once with a token (`/login`), kept in an
//! HttpOnly, SameSite=Strict cookie; a decision made with the cookie must also carry
//! `X-Rollgate-Page`, which another site's form cannot send.

use super::api::{authorize, Api};
use super::auth::{Role, COOKIE};
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The page templates, parsed once for every request.
static ENGINE: std::sync::LazyLock<Handlebars<'static>> = std::sync::LazyLock::new(engine);

fn engine() -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(false);
    for (name, text) in [
        ("style", include_str!("../../templates/page/style.css.hbs")),
        ("login", include_str!("../../templates/page/login.html.hbs")),
        ("index", include_str!("../../templates/page/index.html.hbs")),
        ("run", include_str!("../../templates/page/run.html.hbs")),
    ] {
        h.register_template_string(name, text)
            .expect("the shipped page templates parse");
    }
    h
}

fn page(name: &str, data: &serde_json::Value) -> Html<String> {
    Html(
        ENGINE
            .render(name, data)
            .expect("the page templates render their data"),
    )
}

pub async fn login_form() -> Html<String> {
    page("login", &json!({}))
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// Signs a browser in with a token: the cookie, then the runs.
pub async fn login(State(api): State<Arc<Api>>, Form(form): Form<Login>) -> Response {
    if api.tokens.holder(form.token.as_bytes()).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            page(
                "login",
                &json!({ "error": "That is not one of the service's tokens." }),
            ),
        )
            .into_response();
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", form.token),
        )],
        Redirect::to("/"),
    )
        .into_response()
}

pub async fn logout() -> Response {
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

/// Every run, newest first.
pub async fn index(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let Ok(who) = authorize(&api, &headers, Role::Read) else {
        return Redirect::to("/login").into_response();
    };
    let runs = match super::api::every_run(&api).await {
        Ok(runs) => runs,
        Err(refused) => return refused.into_response(),
    };
    let mut listed = crate::report::status::history_json(&runs);
    if let Some(list) = listed.as_array_mut() {
        list.reverse();
    }
    page(
        "index",
        &json!({ "who": who.name, "role": who.role.word(), "runs": listed }),
    )
    .into_response()
}

/// One run.
pub async fn run(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Ok(who) = authorize(&api, &headers, Role::Read) else {
        return Redirect::to("/login").into_response();
    };
    let record = match super::api::record(&api, id).await {
        Ok(r) => r,
        Err(refused) => return refused.into_response(),
    };
    let status = crate::report::status::status_json(&record);
    let reason = record
        .finished()
        .and_then(|e| e["reason"]["message"].as_str())
        .unwrap_or_default()
        .to_string();
    let routers: Vec<serde_json::Value> = status["routers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut r| {
            if r["last_set"].is_null() {
                r["last_set"] = r["before"].clone();
            }
            r
        })
        .collect();
    page(
        "run",
        &json!({
            "run": record.header.run_id,
            "plan": record.header.plan,
            "state": status["state"],
            "last_step": status["last_step"],
            "waiting": status["waiting"]["step"],
            "approvers": status["waiting"]["approvers"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", ")),
            "reason": reason,
            "routers": routers,
            "operator": who.role >= Role::Operate,
        }),
    )
    .into_response()
}
