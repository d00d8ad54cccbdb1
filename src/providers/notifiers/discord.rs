//! Discord webhooks: one embed, green or red by the news.

use super::{Message, Notifier, Request};
use serde_json::json;

pub struct Discord {
    url: String,
}

impl Discord {
    pub fn new(url: String) -> Discord {
        Discord { url }
    }
}

impl Notifier for Discord {
    fn request(&self, m: &Message) -> Request {
        let color = match m.good {
            Some(true) => 0x2e_cc71,
            Some(false) => 0xe7_4c3c,
            None => 0x95_a5a6,
        };
        Request::json(
            &self.url,
            json!({
                "embeds": [{ "title": m.title, "description": m.text, "color": color }],
                "allowed_mentions": { "parse": [] }
            }),
        )
    }
}
