//! Slack incoming webhooks: `text` (the notification's fallback) and Block Kit blocks.

use super::{Message, Notifier, Request};
use serde_json::json;

pub struct Slack {
    url: String,
}

impl Slack {
    pub fn new(url: String) -> Slack {
        Slack { url }
    }
}

impl Notifier for Slack {
    fn request(&self, m: &Message) -> Request {
        Request::json(
            &self.url,
            json!({
                "text": m.title,
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": m.title } },
                    { "type": "section", "text": { "type": "mrkdwn", "text": m.text } }
                ]
            }),
        )
    }
}
