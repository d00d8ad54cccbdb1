//! The rules of a Kubernetes route that split traffic between stable and canary, found by what
//! they are (a name, or matches and backends) rather than where they sit, so a rule another
//! writer moved mid-run is still the rule a rollback puts back.

use super::TrafficError;
use crate::event::{RouterState, RuleIdentity, RuleWeights};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A rule that sends traffic to both stable and canary: where it sits now, where its two
/// backends sit in it, and which rule it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub at: usize,
    pub stable: usize,
    pub canary: usize,
    pub identity: RuleIdentity,
}

/// Gives each of `splits` alike in name, matches and backends its place among them, so every
/// rule has an identity of its own.
pub fn number(splits: &mut [Split]) {
    for i in 0..splits.len() {
        let (before, rest) = splits.split_at_mut(i);
        let this = &mut rest[0].identity;
        this.occurrence = before
            .iter()
            .filter(|s| {
                s.identity.name == this.name
                    && s.identity.matches == this.matches
                    && s.identity.backends == this.backends
            })
            .count() as u32;
    }
}

/// Records a split rule's two weights in `state`; the first rule recorded gives its share.
pub fn capture(state: &mut RouterState, object: &str, split: &Split, stable: u32, canary: u32) {
    let rule = RuleWeights {
        object: object.to_string(),
        rule: split.identity.clone(),
        stable,
        canary,
    };
    if state.rules.is_empty() {
        state.canary_weight = rule.share();
    }
    state.rules.push(rule);
}

/// What a restore of `object` could not find: the captured rules none of `found` is.
fn unfound(state: &RouterState, object: &str, found: &[Split]) -> Vec<String> {
    state
        .rules
        .iter()
        .filter(|r| r.object == object && !found.iter().any(|s| s.identity == r.rule))
        .map(|r| {
            format!(
                "{object} has no {} any more (captured at {}/{})",
                r.rule.said(),
                r.stable,
                r.canary
            )
        })
        .collect()
}

/// Sets every rule of `object` that `state` captured back to its captured weights with `set`
/// (given the rule as found now, stable's and canary's weights), and notes in `missed` the
/// captured rules none of `splits` is.
pub fn put_back(
    state: &RouterState,
    object: &str,
    splits: &[Split],
    missed: &Missed,
    mut set: impl FnMut(&Split, u32, u32),
) {
    for s in splits {
        if let Some(r) = state.rule(object, &s.identity) {
            set(s, r.stable, r.canary);
        }
    }
    missed.note(object, unfound(state, object, splits));
}

/// Refuses a state captured by position (an older rollgate's `servers` keys), which cannot
/// be put back by identity.
pub fn by_identity(state: &RouterState) -> Result<(), TrafficError> {
    if state.rules.is_empty() && !state.servers.is_empty() {
        return Err(TrafficError::refused(format!(
            "the captured weights ({}) were kept by rule position by an older rollgate, which cannot tell a moved rule: put them back by hand",
            state
                .servers
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// What a restore missed, gathered across its writes, said as one refusal.
#[derive(Default)]
pub struct Missed(Mutex<BTreeMap<String, Vec<String>>>);

impl Missed {
    /// Replaces what `object`'s latest write attempt missed (a write may be re-applied).
    pub fn note(&self, object: &str, missed: Vec<String>) {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(object.to_string(), missed);
    }

    /// Replaces what `object`'s latest write attempt found rollgate had added and could not
    /// take out (its rule or route changed since): `left`, as the annotation lists it.
    pub fn note_left(&self, object: &str, left: &[serde_json::Value]) {
        let said = left
            .iter()
            .map(|a| format!("{object}: rollgate's {a}, in a rule that changed since"))
            .collect();
        self.note(&format!("{object} (added)"), said);
    }

    pub fn into_result(self) -> Result<(), TrafficError> {
        let missed: Vec<String> = self
            .0
            .into_inner()
            .expect("not poisoned")
            .into_values()
            .flatten()
            .collect();
        if missed.is_empty() {
            return Ok(());
        }
        Err(TrafficError::refused(format!(
            "{}: another writer changed or removed it during the run, so rollgate cannot tell where its weights go; set them back by hand",
            missed.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(at: usize, name: Option<&str>) -> Split {
        Split {
            at,
            stable: 0,
            canary: 1,
            identity: RuleIdentity {
                name: name.map(str::to_string),
                matches: json!([{ "path": "/" }]),
                backends: vec!["a".into(), "b".into()],
                occurrence: 0,
            },
        }
    }

    #[test]
    fn alike_rules_are_told_apart_by_their_place_among_them() {
        let mut s = vec![split(0, None), split(1, Some("x")), split(2, None)];
        number(&mut s);
        assert_eq!(
            s.iter().map(|s| s.identity.occurrence).collect::<Vec<_>>(),
            [0, 0, 1]
        );
        let mut state = RouterState::default();
        capture(&mut state, "HTTPRoute a/b", &s[0], 90, 10);
        capture(&mut state, "HTTPRoute a/b", &s[2], 1, 1);
        assert_eq!(state.canary_weight, 10);
        assert!(unfound(&state, "HTTPRoute a/b", &s).is_empty());
        assert_eq!(unfound(&state, "HTTPRoute a/b", &s[..2]).len(), 1);
        assert_eq!(state.highest_share(), 50);
    }
}
