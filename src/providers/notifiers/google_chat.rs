//! Google Chat incoming webhooks: a text message, the title in bold.

use super::{Message, Notifier, Request};
use serde_json::json;

pub struct GoogleChat {
    url: String,
}

impl GoogleChat {
    pub fn new(url: String) -> GoogleChat {
        GoogleChat { url }
    }
}

impl Notifier for GoogleChat {
    fn request(&self, m: &Message) -> Request {
        Request::json(
            &self.url,
            json!({ "text": format!("*{}*\n{}", m.title, m.text) }),
        )
    }
}
