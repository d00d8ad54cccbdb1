use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A router's split, as captured before the run's first shift so a rollback can restore it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterState {
    /// The canary's share of requests, 0–100.
    pub canary_weight: u8,
    /// Each server's own weight, for routers that have them (HAProxy), so that restoring is exact.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, u32>,
    /// Each rule that splits traffic between stable and canary (Kubernetes routes), named by
    /// what it is rather than where it sits, so a rule another writer moved is still found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleWeights>,
}

/// One split rule's two weights, and which rule it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleWeights {
    /// The object holding it: `HTTPRoute shop/web`, `VirtualService shop/web`.
    pub object: String,
    pub rule: RuleIdentity,
    pub stable: u32,
    pub canary: u32,
}

/// Which rule of an object: its `name` where it has one; else its matches and the backends it
/// sends to, and, among rules alike in both, which of them (0 for the first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub matches: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub occurrence: u32,
}

impl RuleWeights {
    /// The canary's share of the rule's two weights, in percent.
    pub fn share(&self) -> u8 {
        let total = u64::from(self.stable) + u64::from(self.canary);
        if total == 0 {
            return 0;
        }
        ((u64::from(self.canary) * 100 + total / 2) / total) as u8
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RuleIdentity {
    /// How messages name it: "rule `main`", or "the rule matching {…} to a, b".
    pub fn said(&self) -> String {
        if let Some(name) = &self.name {
            return format!("rule `{name}`");
        }
        let matches = match &self.matches {
            Value::Null => "everything".to_string(),
            m => m.to_string(),
        };
        let nth = match self.occurrence {
            0 => String::new(),
            n => format!(" (#{} of its kind)", n + 1),
        };
        format!(
            "the rule matching {matches} to {}{nth}",
            self.backends.join(", ")
        )
    }
}

impl RouterState {
    /// A split known only as the canary's share.
    pub fn share(canary_weight: u8) -> RouterState {
        RouterState {
            canary_weight,
            ..RouterState::default()
        }
    }

    /// The largest share any part of the router sends the canary: its split rules' highest,
    /// or its share.
    pub fn highest_share(&self) -> u8 {
        self.rules
            .iter()
            .map(RuleWeights::share)
            .max()
            .unwrap_or(self.canary_weight)
            .max(self.canary_weight)
    }

    /// The captured rule `rule` of `object`, if this state has it.
    pub fn rule(&self, object: &str, rule: &RuleIdentity) -> Option<&RuleWeights> {
        self.rules
            .iter()
            .find(|r| r.object == object && r.rule == *rule)
    }

    /// How `now` differs from this captured state, one line per difference, for everything
    /// captured: every rule's two weights (a captured rule `now` lacks is a difference), every
    /// server's weight, and, for a router known by its share alone, the share. Empty when `now`
    /// is back where this was.
    pub fn differences(&self, now: &RouterState) -> Vec<String> {
        let mut off = Vec::new();
        for r in &self.rules {
            match now.rule(&r.object, &r.rule) {
                None => off.push(format!(
                    "{} has no {} any more (captured at {}/{})",
                    r.object,
                    r.rule.said(),
                    r.stable,
                    r.canary
                )),
                Some(n) if (n.stable, n.canary) != (r.stable, r.canary) => off.push(format!(
                    "{} {}: {}/{}, captured {}/{}",
                    r.object,
                    r.rule.said(),
                    n.stable,
                    n.canary,
                    r.stable,
                    r.canary
                )),
                Some(_) => {}
            }
        }
        for (server, w) in &self.servers {
            match now.servers.get(server) {
                Some(n) if n == w => {}
                Some(n) => off.push(format!("server {server}: weight {n}, captured {w}")),
                None => off.push(format!("server {server} is gone (captured weight {w})")),
            }
        }
        if self.rules.is_empty()
            && self.servers.is_empty()
            && self.canary_weight != now.canary_weight
        {
            off.push(format!(
                "canary at {}%, captured {}%",
                now.canary_weight, self.canary_weight
            ));
        }
        off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(name: Option<&str>, stable: u32, canary: u32) -> RuleWeights {
        RuleWeights {
            object: "HTTPRoute shop/web".into(),
            rule: RuleIdentity {
                name: name.map(str::to_string),
                matches: json!([{ "path": { "value": "/" } }]),
                backends: vec!["web-canary:80".into(), "web-stable:80".into()],
                occurrence: 0,
            },
            stable,
            canary,
        }
    }

    #[test]
    fn differences_cover_every_captured_rule_wherever_it_sits() {
        let before = RouterState {
            canary_weight: 10,
            rules: vec![rule(Some("main"), 90, 10), rule(None, 3, 1)],
            ..RouterState::default()
        };
        // The same rules in another order, plus one captured by nobody: no difference.
        let moved = RouterState {
            canary_weight: 25,
            rules: vec![
                rule(None, 3, 1),
                rule(Some("other"), 1, 1),
                rule(Some("main"), 90, 10),
            ],
            ..RouterState::default()
        };
        assert!(before.differences(&moved).is_empty());
        // The second rule off while the first share is right: still a difference.
        let off = RouterState {
            canary_weight: 10,
            rules: vec![rule(Some("main"), 90, 10), rule(None, 90, 10)],
            ..RouterState::default()
        };
        let d = before.differences(&off);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].ends_with(": 90/10, captured 3/1"), "{d:?}");
        let gone = RouterState {
            rules: vec![rule(None, 3, 1)],
            ..RouterState::default()
        };
        assert_eq!(
            before.differences(&gone),
            ["HTTPRoute shop/web has no rule `main` any more (captured at 90/10)"]
        );
        assert_eq!(
            RouterState::share(0).differences(&RouterState::share(10)),
            ["canary at 10%, captured 0%"]
        );
    }

    #[test]
    fn a_state_without_rules_reads_as_before() {
        let old: RouterState =
            serde_json::from_value(json!({ "canary_weight": 5, "servers": { "b/s": 1 } })).unwrap();
        assert!(old.rules.is_empty());
        assert_eq!(
            serde_json::to_value(RouterState::share(3)).unwrap(),
            json!({ "canary_weight": 3 })
        );
    }
}
