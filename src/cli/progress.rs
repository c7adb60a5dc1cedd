//! Progress for long commands (`search reindex`, exports, imports): on a
//! terminal one line redrawn in place with a bar, rate and ETA; otherwise
//! (a log, a pipe) a plain line at most every few seconds and at the end.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    what: &'static str,
    started: Instant,
    last: Option<Instant>,
    tty: bool,
    /// Said after the numbers (e.g. the import's queue).
    note: Option<String>,
}

/// A plain line is written at most this often when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(what: &'static str) -> Self {
        Progress {
            what,
            started: Instant::now(),
            last: None,
            tty: std::io::stderr().is_terminal(),
            note: None,
        }
    }

    /// Say this after the numbers from now on.
    pub fn set_note(&mut self, note: String) {
        self.note = Some(note);
    }

    /// `done` of `total` (total 0 when unknown).
    pub fn update(&mut self, done: u64, total: u64) {
        let now = Instant::now();
        let finished = total > 0 && done >= total;
        let due = match self.last {
            None => true,
            Some(t) if self.tty => now - t >= Duration::from_millis(100),
            Some(t) => now - t >= PLAIN_EVERY,
        };
        if !due && !finished {
            return;
        }
        self.last = Some(now);
        let mut line = self.line(done, total, now);
        if let Some(note) = &self.note {
            line.push_str("; ");
            line.push_str(note);
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            if finished {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn line(&self, done: u64, total: u64, now: Instant) -> String {
        let secs = (now - self.started).as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        if total == 0 {
            return format!("{}: {done} ({rate:.0}/s)", self.what);
        }
        let frac = (done as f64 / total as f64).min(1.0);
        let eta = if rate > 0.0 {
            format!("{:.0}s", (total.saturating_sub(done)) as f64 / rate)
        } else {
            "?".to_owned()
        };
        let width = 30;
        let filled = (frac * width as f64).round() as usize;
        let bar = if self.tty {
            format!("[{}{}] ", "#".repeat(filled), "-".repeat(width - filled))
        } else {
            String::new()
        };
        format!(
            "{}: {bar}{done}/{total} ({:.0}%) {rate:.0}/s ETA {eta}",
            self.what,
            frac * 100.0
        )
    }
}
