//! A router driven by the user's programs: the escape hatch to any router or cloud CLI.
//! `set` runs with the target routing in its environment; `get` prints the canary's weight.

use super::{TrafficError, TrafficRouter};
use crate::event::Route;
use crate::event::RouterState;
use crate::plan::provider::TrafficCommand;
use crate::providers::shell;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Command {
    /// As the plan wrote it, for messages.
    spec: TrafficCommand,
    /// `set` and `get` as they run, their `${{ }}` bound to variables.
    set: shell::Script,
    get: Option<shell::Script>,
    /// Where its commands run.
    cwd: Option<PathBuf>,
}

impl Command {
    pub fn new(
        spec: TrafficCommand,
        (set, get): (shell::Script, Option<shell::Script>),
        cwd: Option<PathBuf>,
    ) -> Command {
        Command {
            spec,
            set,
            get,
            cwd,
        }
    }

    async fn set(&self, route: BTreeMap<String, String>) -> Result<(), TrafficError> {
        self.set
            .run(route, self.cwd.as_deref())
            .await
            .map(|_| ())
            .map_err(TrafficError::transient)
    }
}

/// The environment `set` sees for a routing.
pub fn route_env(route: &Route) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    match route {
        Route::Weight { percent } => {
            env.insert("ROLLGATE_CANARY_WEIGHT".into(), percent.to_string());
            env.insert(
                "ROLLGATE_STABLE_WEIGHT".into(),
                (100 - percent.min(&100)).to_string(),
            );
        }
        Route::Mirror { percent } => {
            env.insert("ROLLGATE_MIRROR_PERCENT".into(), percent.to_string());
        }
        Route::HeaderMatch { header, value } => {
            env.insert("ROLLGATE_MATCH_HEADER".into(), header.clone());
            env.insert("ROLLGATE_MATCH_VALUE".into(), value.clone());
        }
    }
    env
}

#[async_trait]
impl TrafficRouter for Command {
    async fn state(&self) -> Result<RouterState, TrafficError> {
        // Without `get`, the split before the run is taken to be all traffic on stable.
        let (Some(get), Some(script)) = (&self.spec.get, &self.get) else {
            return Ok(RouterState::default());
        };
        let out = script
            .run(BTreeMap::new(), self.cwd.as_deref())
            .await
            .map_err(TrafficError::transient)?;
        let w: u8 = out
            .trim()
            .parse()
            .ok()
            .filter(|w| *w <= 100)
            .ok_or_else(|| {
                TrafficError::refused(format!(
                    "`{get}` printed `{}`; it must print the canary's weight, 0 to 100",
                    out.trim()
                ))
            })?;
        Ok(RouterState::share(w))
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        self.set(route_env(route)).await?;
        // Confirm, when the router can tell: never report a shift that did not happen.
        if let (Route::Weight { percent }, Some(_)) = (route, &self.spec.get) {
            let now = self.state().await?;
            if now.canary_weight != *percent {
                return Err(TrafficError::transient(format!(
                    "after setting {percent}%, `get` reports {}%",
                    now.canary_weight
                )));
            }
        }
        Ok(())
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        self.apply(&Route::Weight {
            percent: state.canary_weight,
        })
        .await
    }

    fn readable(&self) -> bool {
        self.spec.get.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A router of `spec` as written, nothing bound.
    fn plain(spec: TrafficCommand) -> Command {
        let scripts = (
            shell::Script::plain(&spec.set),
            spec.get.as_deref().map(shell::Script::plain),
        );
        Command::new(spec, scripts, None)
    }

    #[tokio::test]
    async fn sets_confirms_and_restores_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("w");
        std::fs::write(&f, "0").unwrap();
        let spec = TrafficCommand {
            set: format!("echo $ROLLGATE_CANARY_WEIGHT > {}", f.display()),
            get: Some(format!("cat {}", f.display())),
            supports: vec![],
        };
        let r = plain(spec);
        assert_eq!(r.state().await.unwrap().canary_weight, 0);
        r.apply(&Route::Weight { percent: 25 }).await.unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap().trim(), "25");
        r.restore(&RouterState::share(0)).await.unwrap();
        assert_eq!(r.state().await.unwrap().canary_weight, 0);
        let liar = plain(TrafficCommand {
            set: "true".into(),
            get: Some("echo 7".into()),
            supports: vec![],
        });
        assert_eq!(
            liar.apply(&Route::Weight { percent: 25 })
                .await
                .unwrap_err()
                .message,
            "after setting 25%, `get` reports 7%"
        );
    }
}
