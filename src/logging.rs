//! tracing-subscriber set up from `[log]`: text or JSON lines on stderr, coloured only on a terminal.
//! Lines at INFO and below (one per request) are written in batches, WARN and ERROR at once.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, Once};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let no_color = std::env::var_os("NO_COLOR");
    let colour = use_colour(std::io::stderr().is_terminal(), no_color.as_deref());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(Batched).with_ansi(colour);
    let _ = if log.format == LogFormat::Json { builder.json().try_init() } else { builder.try_init() };
}

/// How long an INFO line may wait in the buffer before a background thread writes it.
const BATCH_INTERVAL: Duration = Duration::from_millis(20);
/// Write at once when this much is waiting.
const BATCH_BYTES: usize = 32 * 1024;

/// The log lines waiting to be written to stderr. A request's access line is formatted into it
/// and costs no system call of its own; a background thread writes what is waiting every
/// `BATCH_INTERVAL`. A WARN or ERROR line writes everything waiting, itself included, at once
/// (in order: the buffer is written under its lock), and `flush` does so at exit.
static WAITING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The writer of the subscriber: a `Line` per event, into `WAITING`.
struct Batched;

/// One event's line; `urgent` for WARN and ERROR.
pub struct Line {
    urgent: bool,
}

impl Write for Line {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        static FLUSHER: Once = Once::new();
        FLUSHER.call_once(|| {
            let _ = std::thread::Builder::new().name("log-writer".into()).spawn(|| loop {
                std::thread::sleep(BATCH_INTERVAL);
                flush();
            });
        });
        let mut waiting = WAITING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        waiting.extend_from_slice(line);
        if self.urgent || waiting.len() >= BATCH_BYTES {
            write_out(&mut waiting);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        Line { urgent: *meta.level() <= Level::WARN }
    }
}

fn write_out(waiting: &mut Vec<u8>) {
    if !waiting.is_empty() {
        let _ = std::io::stderr().write_all(waiting);
        waiting.clear();
    }
}

/// Write every line still waiting (the binary calls this before it exits).
pub fn flush() {
    write_out(&mut WAITING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
}

/// ANSI colour only for a person at a terminal: never into a pipe, a file or `docker logs`,
/// and never when `NO_COLOR` is set to anything but the empty string (https://no-color.org).
pub fn use_colour(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))), "an empty NO_COLOR does not count");
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(true, Some(OsStr::new("0"))), "any non-empty value, even 0");
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new(""))));
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }
}
