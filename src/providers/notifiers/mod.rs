//! Chat notifiers: each kind turns a message into its service's webhook request; one transport
//! ([`Transport`]) delivers them all, retrying what may pass. A notifier that keeps failing is
//! reported and never holds up or changes the rollout.

mod discord;
mod google_chat;
mod slack;
mod teams;
mod transport;
mod webhook;

pub use discord::Discord;
pub use google_chat::GoogleChat;
pub use slack::Slack;
pub use teams::Teams;
pub use transport::{Http, Transport};
pub use webhook::Webhook;

use serde::Serialize;

/// What to tell people.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// The plan's `notify` event it tells of (`rolled-back`...), or `step` for a notify step's.
    pub event: String,
    /// The notify step that sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub plan: String,
    /// One line: "checkout-api canary rolled back".
    pub title: String,
    /// The details, in plain text with line breaks.
    pub text: String,
    /// Good news (promoted) or bad (rolled back); neither for the rest.
    pub good: Option<bool>,
}

/// An HTTP POST of a JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub url: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    fn json(url: &str, body: serde_json::Value) -> Request {
        Request {
            url: url.to_string(),
            body: body.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
        }
    }
}

/// A chat service's way of receiving a message.
pub trait Notifier: Send + Sync {
    fn request(&self, m: &Message) -> Request;
}
