//! The daemon's own log (not the event log): to stderr, for a terminal or for systemd's
//! journal.

use std::fmt;
use std::os::unix::fs::MetadataExt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Logs to stderr at `EBPH_LOG` (default `info`). Under systemd (stderr is the journal's
/// stream, as `JOURNAL_STREAM` says), each line starts with its syslog level (`<3>` error to
/// `<7>` debug), which the journal reads as the message's priority, and carries no time:
/// the journal stamps every line itself.
pub fn init() {
    let filter = EnvFilter::try_from_env("EBPH_LOG").unwrap_or_else(|_| "info".into());
    let journal = std::env::var("JOURNAL_STREAM")
        .ok()
        .and_then(|stream| stream_id(&stream))
        .is_some_and(|id| stderr_id() == Some(id));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if journal {
        builder.event_format(JournalFormat).init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// `DEVICE:INODE`, as systemd writes `JOURNAL_STREAM`.
fn stream_id(text: &str) -> Option<(u64, u64)> {
    let (dev, ino) = text.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// The device and inode of this process's stderr.
fn stderr_id() -> Option<(u64, u64)> {
    let meta = std::fs::metadata("/proc/self/fd/2").ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The syslog priority of a level (sd-daemon(3)'s `SD_ERR` to `SD_DEBUG`).
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// `<PRIORITY>target: message fields`, one line per event.
struct JournalFormat;

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>{}: ", priority(meta.level()), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_streams_are_read_as_systemd_writes_them() {
        assert_eq!(stream_id("8:12345"), Some((8, 12345)));
        assert_eq!(stream_id("8"), None);
        assert_eq!(stream_id("a:1"), None);
        assert_eq!(stream_id(""), None);
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(
            [
                Level::ERROR,
                Level::WARN,
                Level::INFO,
                Level::DEBUG,
                Level::TRACE
            ]
            .map(|l| priority(&l)),
            [3, 4, 6, 7, 7]
        );
    }
}
