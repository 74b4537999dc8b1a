//! Progress bars on stderr for the long runs of `dnsbl ingest` and `dnsbl export`.
//!
//! A bar is drawn only when stderr is a terminal, so tests, pipes and systemd get the log
//! lines alone. Log lines go through [`LogWriter`], which clears the bar while it writes
//! a line and draws it again below, so a bar never ends up inside a log line.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The bar being drawn, if any; [`LogWriter`] suspends it around each log line.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How often a spinner moves while a phase of unknown length runs.
const TICK: Duration = Duration::from_millis(120);

/// A progress bar that is drawn while it lives, and cleared when dropped.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// Starts a bar, drawn only if stderr is a terminal, with a spinner and `message`.
    pub fn start(message: &str) -> Bar {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        let bar = Bar { bar };
        bar.spinner(message);
        if !bar.bar.is_hidden() {
            *lock() = Some(bar.bar.clone());
        }
        bar
    }

    /// Turns the bar into a spinner with `message`, for a phase of unknown length.
    pub fn spinner(&self, message: &str) {
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .expect("the template is valid"),
        );
        self.bar.set_message(message.to_string());
        self.bar.enable_steady_tick(TICK);
    }

    /// Turns the bar into a byte counter out of `total` bytes, with `message`.
    pub fn bytes(&self, total: u64, message: &str) {
        self.bar.disable_steady_tick();
        self.bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:20}] {bytes}/{total_bytes}, {eta} left")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        self.bar.set_message(message.to_string());
        self.bar.set_length(total);
        self.bar.set_position(0);
    }

    /// Turns the bar into a step counter out of `total` steps, with `message`.
    pub fn steps(&self, total: u64, message: &str) {
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{pos}/{len}] ({elapsed})")
                .expect("the template is valid"),
        );
        self.bar.set_message(message.to_string());
        self.bar.set_length(total);
        self.bar.enable_steady_tick(TICK);
    }

    /// Moves the bar to `position` with `message`.
    pub fn set(&self, position: u64, message: &str) {
        self.bar.set_position(position);
        self.bar.set_message(message.to_string());
    }

    /// Adds `delta` to the position.
    pub fn add(&self, delta: u64) {
        self.bar.inc(delta);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        *lock() = None;
        self.bar.finish_and_clear();
    }
}

impl dnsbl_ingest::ProgressReporter for Bar {
    fn start_reading(&self, total_bytes: u64) {
        self.bytes(total_bytes, "reading routing data");
    }

    fn add_read(&self, bytes: u64) {
        self.add(bytes);
    }

    fn start_phase(&self, message: &str) {
        self.spinner(message);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    // A panic while the lock was held leaves the Option itself intact.
    ACTIVE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The writer of the log subscriber: stderr, with the active bar cleared while a line
/// is written.
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::with_capacity(256))
    }
}

/// One formatted log event, written to stderr as a whole when dropped.
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let active = lock().clone();
        // Nothing is left to report a failed write to stderr to.
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        match active {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}
