//! What someone watching a real run sees on its output: a line per event a person needs
//! ([`terminal::Lines`]) or one JSON object per event (`--json`), and on a terminal a status
//! line under them, redrawn every second.

use super::terminal::{Lines, StatusLine};
use super::{json, Reporter};
use crate::event::Stamped;
use std::io::Write;
use std::time::Instant;

/// Clears the status line before each event line; it is drawn again after it.
const CLEAR: &str = "\r\x1b[2K";

pub struct Console<'a> {
    out: &'a mut (dyn Write + Send),
    json: bool,
    /// Whether `out` is a terminal that shows the status line (never with `--json`).
    live: bool,
    lines: Lines,
    status: StatusLine,
    started: Instant,
}

impl<'a> Console<'a> {
    /// `tty`: whether `out` is a terminal.
    pub fn new(out: &'a mut (dyn Write + Send), json: bool, tty: bool) -> Console<'a> {
        Console {
            out,
            json,
            live: tty && !json,
            lines: Lines::default(),
            status: StatusLine::default(),
            started: Instant::now(),
        }
    }

    /// Shows `e` (when there is one) and redraws the status line. Output that cannot be
    /// written is not the run's problem: the journal has every event.
    fn show(&mut self, e: Option<&Stamped>) {
        if self.live {
            let _ = write!(self.out, "{CLEAR}");
        }
        if let Some(e) = e {
            let line = if self.json {
                Some(json::line(e))
            } else {
                self.lines.line(e)
            };
            if let Some(l) = line {
                let _ = writeln!(self.out, "{l}");
            }
            self.status.update(e);
        }
        if self.live {
            let elapsed = self.started.elapsed().as_secs_f64();
            let _ = write!(self.out, "{}", self.status.line(elapsed));
        }
        let _ = self.out.flush();
    }
}

impl Reporter for Console<'_> {
    fn on(&mut self, e: &Stamped) {
        self.show(Some(e));
    }

    fn tick(&mut self) {
        if self.live {
            self.show(None);
        }
    }

    fn finish(&mut self, _: &[Stamped]) -> std::io::Result<()> {
        if self.live {
            write!(self.out, "{CLEAR}")?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Mode};

    fn at(t: f64, event: Event) -> Stamped {
        Stamped {
            t,
            at: chrono::DateTime::UNIX_EPOCH,
            event,
        }
    }

    #[test]
    fn a_pipe_gets_lines_and_no_status_line() {
        let mut out = Vec::new();
        let mut c = Console::new(&mut out, false, false);
        let started = at(
            0.0,
            Event::RunStarted {
                plan: "p".into(),
                mode: Mode::Run,
                steps: 3,
                fixture: None,
            },
        );
        c.on(&started);
        c.tick();
        c.finish(&[]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(!text.contains('\r') && !text.contains('▶'), "{text:?}");
    }

    #[test]
    fn a_terminal_gets_a_status_line_cleared_at_the_end() {
        let mut out = Vec::new();
        let mut c = Console::new(&mut out, false, true);
        c.tick();
        c.finish(&[]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(CLEAR) && text.contains("▶ 0s"), "{text:?}");
        assert!(text.ends_with(CLEAR), "{text:?}");
    }

    #[test]
    fn json_is_one_object_per_event_even_on_a_terminal() {
        let mut out = Vec::new();
        let mut c = Console::new(&mut out, true, true);
        c.on(&at(
            1.5,
            Event::RollbackFinished {
                verified: Some(true),
            },
        ));
        c.tick();
        c.finish(&[]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["event"], "rollback-finished");
        assert_eq!(v["t"], 1.5);
    }
}
