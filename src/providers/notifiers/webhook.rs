//! A generic webhook: the message as JSON, signed with HMAC-SHA256 over the exact body when the
//! plan gives a secret (`X-Rollgate-Signature: sha256=<hex>`, as GitHub signs its webhooks).

use super::{Message, Notifier, Request};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct Webhook {
    url: String,
    secret: Option<String>,
}

impl Webhook {
    pub fn new(url: String, secret: Option<String>) -> Webhook {
        Webhook { url, secret }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

impl Notifier for Webhook {
    fn request(&self, m: &Message) -> Request {
        let mut r = Request::json(
            &self.url,
            serde_json::to_value(m).expect("messages serialize"),
        );
        if let Some(s) = &self.secret {
            r.headers
                .push(("X-Rollgate-Signature".into(), signature(s, &r.body)));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signs_like_rfc_4231() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            super::signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
