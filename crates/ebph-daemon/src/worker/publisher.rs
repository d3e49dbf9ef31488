//! Where events go: the event log (JSON lines, `log-execs` deciding on execs), the latest
//! events `ebph logs` shows, and the live stream of `ebph logs -f`.

use std::path::PathBuf;

use anyhow::Result;
use ebph_api::event::{Event, EventKind};

use crate::config::Config;
use crate::event_log::{self, EventLog};
use crate::mailbox::Outputs;
use crate::recent::RecentEvents;

/// The event log and the outputs to clients.
pub(super) struct Publisher {
    log: EventLog,
    /// Where the log is, for messages.
    path: PathBuf,
    outputs: Outputs,
    /// Execs go to the log too (they are most events).
    log_execs: bool,
    /// Writing the log failed, and was said.
    failing: bool,
}

impl Publisher {
    /// Opens the event log of `config`, and gives `ebph logs` the latest events across
    /// restarts: the log's tail (read from its end, however large it is), long enough that
    /// a flood of delays at its end leaves the events before it.
    pub(super) fn open(config: &Config, outputs: Outputs) -> Result<Publisher> {
        let path = config.event_log();
        {
            let mut recent = outputs.recent.lock().unwrap_or_else(|e| e.into_inner());
            for line in event_log::tail(&path, 10 * RecentEvents::EACH) {
                if let Ok(event) = serde_json::from_str::<Event>(&line) {
                    recent.push(event);
                }
            }
        }
        Ok(Publisher {
            log: EventLog::open(&path, config.log_max_size, config.log_files)?,
            path,
            outputs,
            log_execs: config.log_execs,
            failing: false,
        })
    }

    /// Sends an event to the log (execs only with `log-execs`), `ebph logs` and the live
    /// stream; the log is written out by [`Publisher::flush`].
    pub(super) fn publish(&mut self, event: Event) {
        let logged = self.log_execs || !matches!(event.kind, EventKind::Exec);
        if logged {
            if let Ok(line) = serde_json::to_string(&event) {
                if let Err(e) = self.log.write_line(&line) {
                    self.failed(e);
                }
            }
        }
        {
            let mut recent = self
                .outputs
                .recent
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            recent.push(event.clone());
        }
        let _ = self.outputs.events.send(event);
    }

    /// Writes out what was published.
    pub(super) fn flush(&mut self) {
        if let Err(e) = self.log.flush() {
            self.failed(e);
        }
    }

    /// Follows the log's path: logrotate may have moved the file.
    pub(super) fn follow_path(&mut self) {
        match self.log.follow_path() {
            Ok(true) => tracing::info!("{} was moved away: writing a new one", self.path.display()),
            Ok(false) => {}
            Err(e) => self.failed(e),
        }
    }

    /// Says once that the event log cannot be written.
    fn failed(&mut self, e: anyhow::Error) {
        if !self.failing {
            tracing::error!(
                "writing {} failed: {e:#}; events still reach `ebph logs`",
                self.path.display()
            );
            self.failing = true;
        }
    }
}
