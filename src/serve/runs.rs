//! The runs a service drives: each started from a plan in its plans directory, or taken over
//! from a process that is gone, driven on a task of its own through the same library as
//! `rollgate run` ([`crate::live`]), so one that fails or panics never disturbs another;
//! decisions about any run in the store; and handing every run over when the service stops.

use super::telemetry::Telemetry;
use crate::journal::Store;
use crate::live::decide::{decide, Decided, Decision, Kind};
use crate::live::{self, Error, LiveRun, NewRun, Resumable, Signals, Then};
use futures_util::FutureExt;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where the service finds plans and keeps runs.
pub struct Runs {
    store: Arc<dyn Store>,
    plans: PathBuf,
    environment: String,
    /// The runs this process drives now, by id.
    driving: Mutex<BTreeSet<String>>,
    /// Runs found orphaned that could not be taken over, and why: not tried again.
    unadoptable: Mutex<BTreeMap<String, String>>,
    /// Set when the service stops: every run hands itself over.
    hand_over: tokio::sync::watch::Sender<bool>,
    pub telemetry: Arc<Telemetry>,
}

/// Forgets a run once its task ends, however it ends (a panic included).
struct Driven {
    runs: Arc<Runs>,
    id: String,
}

impl Drop for Driven {
    fn drop(&mut self) {
        self.runs
            .driving
            .lock()
            .expect("not poisoned")
            .remove(&self.id);
    }
}

impl Runs {
    pub fn new(store: Arc<dyn Store>, plans: PathBuf, environment: String) -> Arc<Runs> {
        Arc::new(Runs {
            store,
            plans,
            environment,
            driving: Mutex::new(BTreeSet::new()),
            unadoptable: Mutex::new(BTreeMap::new()),
            hand_over: tokio::sync::watch::channel(false).0,
            telemetry: Arc::default(),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// How many runs this process drives now.
    pub fn driving(&self) -> usize {
        self.driving.lock().expect("not poisoned").len()
    }

    /// The plan file `name` (with or without `.yaml`/`.yml`) in the plans directory, or why
    /// there is none.
    pub fn plan(&self, name: &str) -> Result<PathBuf, String> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !name.starts_with('.');
        let found = plain
            .then(|| {
                [
                    name.to_string(),
                    format!("{name}.yaml"),
                    format!("{name}.yml"),
                ]
                .into_iter()
                .map(|f| self.plans.join(f))
                .find(|p| p.is_file())
            })
            .flatten();
        found.ok_or_else(|| {
            format!(
                "no plan `{name}` in {}; plans there: {}",
                self.plans.display(),
                plans_in(&self.plans).join(", ")
            )
        })
    }

    /// Starts a run of the plan at `path` (from [`Runs::plan`]) with `inputs` (`NAME=VALUE`);
    /// its id once it is journaled and holds its lease and lock.
    pub async fn start(
        self: &Arc<Self>,
        path: &Path,
        inputs: Vec<String>,
    ) -> Result<String, Error> {
        let path = path.display().to_string();
        let (v, contexts) = live::validated(&path, &inputs)?;
        let asked = NewRun {
            plan: &path,
            source: None,
            inputs: &inputs,
            store: self.store.clone(),
            environment: &self.environment,
        };
        let live = live::start(&asked, v, contexts).await?;
        Ok(self.drive(live))
    }

    /// Starts a run of a plan sent as text (`source`), kept with the run so any replica can
    /// take it over; its diagnostics name it `SENT_PLAN`.
    pub async fn start_sent(
        self: &Arc<Self>,
        source: &str,
        inputs: Vec<String>,
    ) -> Result<String, Error> {
        let (v, contexts) = live::validated_text(SENT_PLAN, source, &inputs)?;
        let name = v.plan.name.clone();
        let asked = NewRun {
            plan: &name,
            source: Some(source),
            inputs: &inputs,
            store: self.store.clone(),
            environment: &self.environment,
        };
        let live = live::start(&asked, v, contexts).await?;
        Ok(self.drive(live))
    }

    /// Decides about run `id` as `by`: for a running run, written for it to read; a run that
    /// is not running is taken over here (to be rolled back or put back). What came of it.
    pub async fn decide(
        self: &Arc<Self>,
        id: &str,
        kind: Kind,
        gate: Option<String>,
        by: &str,
    ) -> Result<String, Error> {
        let (store, run, by_) = (self.store.clone(), id.to_string(), by.to_string());
        let decided = tokio::task::spawn_blocking(move || {
            decide(&Decision {
                kind,
                run: Some(&run),
                gate: gate.as_deref(),
                by: &by_,
                store: store.as_ref(),
            })
        })
        .await
        .map_err(|e| Error::Failed(format!("deciding failed unexpectedly: {e}")))??;
        match decided {
            Decided::Said(said) => Ok(said),
            Decided::TakeOver { run_id, then } => {
                match live::take_over(&run_id, self.store.clone(), then).await? {
                    Resumable::Finished(said) => Ok(said),
                    Resumable::Live(live) => {
                        self.drive(*live);
                        Ok(format!(
                            "run {run_id} was not running: taken over to put its routers back, as {by}"
                        ))
                    }
                }
            }
        }
    }

    /// Takes over every run nobody drives (its lease ran out or was given up, its process is
    /// gone) and drives it: one handed over carries on, one whose process was lost goes as its
    /// plan's `resume` says (by default, rolled back). Another process may take a run first
    /// (its lease then says so); a run that cannot be taken over (its plan changed) is left,
    /// and said in `unadoptable`.
    pub async fn adopt(self: &Arc<Self>) {
        let store = self.store.clone();
        let Ok(Ok(runs)) = tokio::task::spawn_blocking(move || store.list()).await else {
            return;
        };
        for r in runs {
            let id = r.header.run_id.clone();
            let skip = r.outcome().is_some()
                || r.driven()
                || self.driving.lock().expect("not poisoned").contains(&id)
                || self
                    .unadoptable
                    .lock()
                    .expect("not poisoned")
                    .contains_key(&id);
            if skip {
                continue;
            }
            match live::take_over(&id, self.store.clone(), Then::Resume).await {
                Ok(Resumable::Live(live)) => {
                    tracing::info!(run_id = %id, handed_over = r.handed_over(), "taking over a run nobody drives");
                    self.telemetry.taken_over();
                    self.drive(*live);
                }
                Ok(Resumable::Finished(_)) => {}
                // Taken first by another process.
                Err(Error::Failed(why)) if why.contains("is owned by another process") => {}
                Err(e) => {
                    let why = e.to_string();
                    tracing::warn!(run_id = %id, why = %why, "cannot take over a run nobody drives");
                    self.unadoptable
                        .lock()
                        .expect("not poisoned")
                        .insert(id, why);
                }
            }
        }
    }

    /// The runs found orphaned that could not be taken over, and why.
    pub fn unadoptable(&self) -> BTreeMap<String, String> {
        self.unadoptable.lock().expect("not poisoned").clone()
    }

    /// Hands every run over (see [`LiveRun::drive_until`]) and waits, up to `within`, until
    /// each has; how many there were.
    pub async fn hand_over(&self, within: std::time::Duration) -> usize {
        let count = self.driving();
        tracing::info!(runs = count, "handing every run over");
        self.telemetry.handed_over(count);
        self.hand_over.send_replace(true);
        let start = tokio::time::Instant::now();
        while self.driving() > 0 && start.elapsed() < within {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        count
    }

    /// Drives a run on a task of its own; its id.
    fn drive(self: &Arc<Self>, live: LiveRun) -> String {
        self.drive_once(live, false)
    }

    /// The same; `recovering` a run whose first task panicked, which is not recovered twice.
    fn drive_once(self: &Arc<Self>, mut live: LiveRun, recovering: bool) -> String {
        live.append_timing = Some(self.telemetry.append_timing());
        let id = live.run_id.clone();
        let mut hand_over = self.hand_over.subscribe();
        let observed = self.telemetry.reporter(live.plan.name.clone());
        let run = async move {
            let told = async move {
                let _ = hand_over.wait_for(|h| *h).await;
            };
            // What it did is in its journal; a failure to finish it is the run's own.
            let _ = live
                .drive_until(vec![observed], Signals::Ignored, told)
                .await;
        };
        self.isolate(id.clone(), run, recovering);
        id
    }

    /// Runs `run`, the driving of run `id`, on a task of its own, so that however it ends it
    /// ends alone: forgotten once done; if it panicked, taken back over here and rolled back,
    /// since no other process would find it orphaned while this one lives.
    fn isolate(
        self: &Arc<Self>,
        id: String,
        run: impl Future<Output = ()> + Send + 'static,
        recovering: bool,
    ) {
        self.driving
            .lock()
            .expect("not poisoned")
            .insert(id.clone());
        let forget = Driven {
            runs: self.clone(),
            id: id.clone(),
        };
        let runs = self.clone();
        tokio::spawn(async move {
            let Err(panic) = AssertUnwindSafe(run).catch_unwind().await else {
                return;
            };
            let said = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            runs.telemetry.panicked();
            let why = format!("the task driving it in `rollgate serve` panicked: {said}");
            if recovering {
                tracing::error!(run_id = %id, panic = %said, "rolling a run back panicked too: its routers may be left where they were");
                runs.unadoptable.lock().expect("not poisoned").insert(
                    id.clone(),
                    format!("{why}, twice; `rollgate rollback {id}` puts its routers back"),
                );
                return;
            }
            tracing::error!(run_id = %id, panic = %said, "a run's task panicked: taking it back over to roll it back");
            // Still counted as driven meanwhile, so this service's reaping leaves it alone.
            let taken = live::take_over(&id, runs.store.clone(), Then::Recover(why)).await;
            drop(forget);
            match taken {
                Ok(Resumable::Live(live)) => {
                    runs.drive_once(*live, true);
                }
                Ok(Resumable::Finished(_)) => {}
                Err(e) => {
                    let why = e.to_string();
                    tracing::error!(run_id = %id, why = %why, "cannot take back a run whose task panicked");
                    runs.unadoptable
                        .lock()
                        .expect("not poisoned")
                        .insert(id, why);
                }
            }
        });
    }
}

/// What a plan sent in a request is called in its diagnostics (`request:3:7: ...`).
pub const SENT_PLAN: &str = "request";

/// The plans in `dir`, by the names the API takes.
fn plans_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().to_string();
                let stem = name
                    .strip_suffix(".yaml")
                    .or_else(|| name.strip_suffix(".yml"))?;
                Some(stem.to_string())
            })
            .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::dir::Dir;
    use std::time::Duration;

    /// A plan whose router is the file `router` in `dir`, observed for a second at 25%.
    fn plan(dir: &Path, router: &str) -> PathBuf {
        let file = dir.join(router);
        std::fs::write(&file, "0\n").unwrap();
        let f = file.display();
        let text = format!("name: {router}\nproviders:\n  router: {{ kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > {f}', get: 'cat {f}' }}\n  metrics: {{ kind: metrics-command, run: echo 0.001 }}\ninterval: 100ms\nchecks:\n  errors: {{ source: metrics, canary: errors, max: 1% }}\nphases:\n  - {{ name: canary-25, weight: 25, observe: 1s }}\n  - {{ name: full, weight: 100, observe: 200ms }}\n");
        let path = dir.join(format!("{router}.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Polls run `id` until it ended: its last event.
    async fn ended(runs: &Runs, id: &str) -> serde_json::Value {
        for _ in 0..200 {
            let r = runs.store.read(id).unwrap();
            if r.outcome().is_some() {
                return r.events.last().unwrap().clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} did not end")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_whose_task_panics_is_rolled_back_and_disturbs_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(Dir::new(dir.path().join("state")));
        let runs = Runs::new(store.clone(), dir.path().to_path_buf(), "production".into());
        let steady = runs
            .start(&plan(dir.path(), "steady"), vec![])
            .await
            .unwrap();

        // A second run, its task made to panic once it is at 25%, the way any bug would.
        let path = plan(dir.path(), "faulty").display().to_string();
        let (v, contexts) = live::validated(&path, &[]).unwrap();
        let asked = NewRun {
            plan: &path,
            source: None,
            inputs: &[],
            store,
            environment: "production",
        };
        let live = live::start(&asked, v, contexts).await.unwrap();
        let faulty = live.run_id.clone();
        let driving = live.drive_until(vec![], Signals::Ignored, std::future::pending());
        runs.isolate(
            faulty.clone(),
            async move {
                tokio::select! {
                    _ = driving => {}
                    () = tokio::time::sleep(Duration::from_millis(400)) => panic!("injected fault"),
                }
            },
            false,
        );

        let rolled_back = ended(&runs, &faulty).await;
        assert_eq!(rolled_back["outcome"], "rolled-back", "{rolled_back}");
        let why = rolled_back["reason"]["message"].as_str().unwrap();
        assert!(why.contains("panicked: injected fault"), "{why}");
        let events = runs.store.read(&faulty).unwrap().events;
        let shifted = |to: u64| {
            events
                .iter()
                .position(|e| e["event"] == "weight-shifted" && e["to"]["percent"] == to)
        };
        assert!(
            shifted(25) < shifted(0),
            "at 25% when it panicked: {events:?}"
        );
        let router = |name| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(router("faulty"), "0\n", "put back as before the run");
        let promoted = ended(&runs, &steady).await;
        assert_eq!(promoted["outcome"], "promoted", "{promoted}");
        assert_eq!(router("steady"), "100\n");
        assert!(runs.unadoptable().is_empty(), "{:?}", runs.unadoptable());
        assert_eq!(runs.driving(), 0);
    }
}
