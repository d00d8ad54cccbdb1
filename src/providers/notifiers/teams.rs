//! Microsoft Teams workflow webhooks ("post to a channel when a webhook request is received"):
//! a message carrying one Adaptive Card.

use super::{Message, Notifier, Request};
use serde_json::json;

pub struct Teams {
    url: String,
}

impl Teams {
    pub fn new(url: String) -> Teams {
        Teams { url }
    }
}

impl Notifier for Teams {
    fn request(&self, m: &Message) -> Request {
        let color = match m.good {
            Some(true) => "Good",
            Some(false) => "Attention",
            None => "Default",
        };
        Request::json(
            &self.url,
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            { "type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true },
                            { "type": "TextBlock", "text": m.text, "wrap": true }
                        ]
                    }
                }]
            }),
        )
    }
}
