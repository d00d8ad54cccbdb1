//! A router that only remembers: what a dry-run shifts instead of a real router. It starts
//! with all traffic on stable and records every routing it is given.

use super::{TrafficError, TrafficRouter};
use crate::event::Route;
use crate::event::RouterState;
use async_trait::async_trait;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Simulated {
    state: Mutex<(RouterState, Vec<Route>)>,
}

impl Simulated {
    /// All traffic on stable.
    pub fn new() -> Simulated {
        Simulated::default()
    }

    /// Every routing applied so far, in order (restores appear as weights).
    pub fn history(&self) -> Vec<Route> {
        self.state.lock().expect("not poisoned").1.clone()
    }
}

#[async_trait]
impl TrafficRouter for Simulated {
    async fn state(&self) -> Result<RouterState, TrafficError> {
        Ok(self.state.lock().expect("not poisoned").0.clone())
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        let mut s = self.state.lock().expect("not poisoned");
        // Mirroring and header matches leave the weighted split as it is.
        if let Route::Weight { percent } = route {
            s.0.canary_weight = *percent;
        }
        s.1.push(route.clone());
        Ok(())
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        let mut s = self.state.lock().expect("not poisoned");
        s.0 = state.clone();
        s.1.push(Route::Weight {
            percent: state.canary_weight,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_every_routing_including_restores() {
        let r = Simulated::new();
        let before = r.state().await.unwrap();
        r.apply(&Route::Weight { percent: 25 }).await.unwrap();
        r.apply(&Route::Mirror { percent: 100 }).await.unwrap();
        assert_eq!(
            r.state().await.unwrap().canary_weight,
            25,
            "mirroring leaves the split as it is"
        );
        r.restore(&before).await.unwrap();
        assert_eq!(
            r.history(),
            vec![
                Route::Weight { percent: 25 },
                Route::Mirror { percent: 100 },
                Route::Weight { percent: 0 }
            ]
        );
    }
}
