use crate::event::Stamped;

/// A consumer of a run's events, as the run fans them out: the terminal or JSON lines, the job
/// summary, the pull-request comment, the deployment, chat. `on` sees every event in order
/// and must not block the run: a reporter that talks to a service sends in the background.
pub trait Reporter: Send {
    /// One event of the run.
    fn on(&mut self, e: &Stamped);

    /// About once a second while the run goes, for a reporter that shows time passing.
    fn tick(&mut self) {}

    /// Once, after the run's last event; `events` are all of them. What it writes can fail.
    fn finish(&mut self, events: &[Stamped]) -> std::io::Result<()> {
        let _ = events;
        Ok(())
    }
}
