//! The query log: one line per query and its response, written by a thread of its own so
//! that the answer path never waits for a disk or a pipe.
//!
//! A line has six fields separated by one space:
//!
//! ```text
//! 2026-12-04T17:54:54.123456Z 127.0.0.1:53211 7.100.10.5.bl.example. A NOERROR 127.0.0.2
//! ```
//!
//! - the time the response was built, just before it is sent (RFC 3339, UTC,
//!   microseconds);
//! - the client's address and port;
//! - the query name as the client wrote it, in presentation form. Spaces and control
//!   bytes are escaped with a backslash, so a line cannot be split (hickory-proto 0.26
//!   writes the escape in octal, `\040` for a space);
//! - the query type, `TYPEn` (RFC 3597) for types without a mnemonic;
//! - the response code, `RCODEn` for codes without a mnemonic;
//! - the A records of the answer section joined by commas, or `-` when there are none.
//!
//! A request without a question is logged with `-` as name and type. A zone transfer is
//! logged with its response code and `-`.
//!
//! [`QueryLog::record`] and [`QueryLog::record_response`] copy what they need into a
//! bounded channel and return. When the channel is full the line is dropped and counted
//! in [`QueryCounters::query_log_dropped`], and the writer thread logs the count at warn
//! level at most every [`DROP_REPORT_INTERVAL`].
//!
//! [`QueryLog::reopen`] sends the writer thread a request to open the file at its path
//! again, after logrotate or an operator renamed it. The request goes through the same
//! channel, so lines recorded before it go to the old file and lines recorded after it
//! to the new one. When the channel is full, the request is kept in a flag that the
//! writer thread checks between runs of lines instead, so the lines queued around the
//! request may go to either file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use dnsbl_core::QueryCounters;
use hickory_server::proto::op::Query;
use hickory_server::proto::rr::{RData, Record, RecordType};
use tracing::{error, info, warn};

use line::format_line;

mod line;

/// Lines waiting for the writer thread. At 100,000 queries a second this is 40 ms of
/// traffic, which covers a short stall of the disk.
pub const CHANNEL_CAPACITY: usize = 4096;

/// How often the writer thread at most reports dropped lines.
pub const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// A handle to the query log; cloning it is cheap. The disabled log, the default,
/// records nothing and costs one branch per query.
#[derive(Clone, Debug, Default)]
pub struct QueryLog {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    sender: SyncSender<Message>,
    /// The counters of the DNS listeners; the log counts its dropped lines there.
    counters: Arc<QueryCounters>,
    /// A reopen request that did not fit in the full channel. The writer thread checks it
    /// after each run of lines, so lines queued before it may go to the new file.
    reopen_pending: AtomicBool,
}

/// A request to the writer thread.
enum Message {
    Line(Entry),
    /// Open the file at the log's path again. The lines queued before it go to the old file.
    Reopen,
}

/// A query waiting to be written.
pub(super) struct Entry {
    pub(super) time: SystemTime,
    pub(super) client: SocketAddr,
    pub(super) content: Content,
}

pub(super) enum Content {
    /// A response in wire form, decoded by the writer thread.
    Wire(Vec<u8>),
    /// The fields of a response of the record path.
    Fields {
        question: Option<(String, RecordType)>,
        rcode: u16,
        codes: Vec<Ipv4Addr>,
    },
}

impl QueryLog {
    /// Opens the query log at `path`, appending to the file (created if missing), or on
    /// standard output when `path` is `-`, and starts its writer thread. Dropped lines
    /// are counted in `counters`.
    pub fn open(path: &Path, counters: Arc<QueryCounters>) -> io::Result<Self> {
        if path == Path::new("-") {
            return Self::start(Box::new(io::stdout()), counters);
        }
        let file = open_append(path)?;
        let output = Output::new(Box::new(file), Some(path.to_path_buf()));
        Self::spawn(output, counters)
    }

    /// Starts the writer thread on `output`, which [`reopen`](Self::reopen) leaves as it
    /// is. The thread ends once every clone of the returned handle is dropped and the
    /// queued lines are written.
    pub fn start(output: Box<dyn Write + Send>, counters: Arc<QueryCounters>) -> io::Result<Self> {
        Self::spawn(Output::new(output, None), counters)
    }

    fn spawn(output: Output, counters: Arc<QueryCounters>) -> io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            sender,
            counters,
            reopen_pending: AtomicBool::new(false),
        });
        let counter = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("query-log".to_string())
            .spawn(move || write_lines(&receiver, output, &counter))?;
        Ok(QueryLog {
            shared: Some(shared),
        })
    }

    /// Sends the writer thread a request to close the log file and open (or create) the
    /// file at the log's path again, as after logrotate renamed it, and returns at once.
    /// Lines recorded before the call go to the old file, unless the channel is full (see
    /// the module documentation). When the path cannot be opened, the writer thread logs
    /// an error with the path and keeps writing to the old file. A log on standard output
    /// is left as it is.
    pub fn reopen(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        match shared.sender.try_send(Message::Reopen) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => shared.reopen_pending.store(true, Ordering::Relaxed),
        }
    }

    /// Returns whether lines are recorded.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Returns how many lines were dropped because the writer thread fell behind. The
    /// count is that of the counters given at the start, shared with every log started
    /// with them.
    pub fn dropped(&self) -> u64 {
        self.shared.as_ref().map_or(0, |shared| {
            shared.counters.query_log_dropped.load(Ordering::Relaxed)
        })
    }

    /// Records a response of the wire path: `response` is the message as sent to
    /// `client`.
    ///
    /// NOTE: the cost per query when enabled (one allocation, one copy and a channel
    /// send) has not been measured against the wire path's rate yet.
    pub fn record_response(&self, client: SocketAddr, response: &[u8]) {
        if let Some(shared) = &self.shared {
            shared.send(client, Content::Wire(response.to_vec()));
        }
    }

    /// Records a response of the record path: the question (if the request had one), the
    /// response code, and the answer records as sent.
    pub fn record(
        &self,
        client: SocketAddr,
        query: Option<&Query>,
        rcode: u16,
        answers: &[Record],
    ) {
        if let Some(shared) = &self.shared {
            let question =
                query.map(|query| (line::presentation_name(query.name()), query.query_type()));
            let codes = answers.iter().filter_map(a_value).collect();
            let content = Content::Fields {
                question,
                rcode,
                codes,
            };
            shared.send(client, content);
        }
    }
}

impl Shared {
    fn send(&self, client: SocketAddr, content: Content) {
        let entry = Entry {
            time: SystemTime::now(),
            client,
            content,
        };
        match self.sender.try_send(Message::Line(entry)) {
            Ok(()) => {}
            // Disconnected only if the writer thread panicked; counting keeps the answer
            // path going either way.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters
                    .query_log_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

pub(super) fn a_value(record: &Record) -> Option<Ipv4Addr> {
    match &record.data {
        RData::A(a) => Some(a.0),
        _ => None,
    }
}

/// Opens `path` for appending, creating it if missing.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The writer thread's output and its write failures.
struct Output {
    writer: BufWriter<Box<dyn Write + Send>>,
    /// The file's path, which a reopen opens again; `None` for outputs that are not
    /// reopened (standard output, test outputs).
    path: Option<PathBuf>,
    write_failures: u64,
}

impl Output {
    fn new(output: Box<dyn Write + Send>, path: Option<PathBuf>) -> Self {
        Output {
            writer: BufWriter::new(output),
            path,
            write_failures: 0,
        }
    }

    fn write_line(&mut self, line: &str) {
        if let Err(error) = self.writer.write_all(line.as_bytes()) {
            self.count_failure(&error);
        }
    }

    fn flush(&mut self) {
        if let Err(error) = self.writer.flush() {
            self.count_failure(&error);
        }
    }

    /// Logs the first write failure and then every one whose count is a power of two.
    fn count_failure(&mut self, error: &io::Error) {
        self.write_failures += 1;
        let failures = self.write_failures;
        if failures == 1 || failures.is_power_of_two() {
            warn!(%error, failures, "failed to write the query log");
        }
    }

    /// Flushes the current file and replaces it with the file at `path`, or keeps it when
    /// that cannot be opened.
    fn reopen(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        match open_append(path) {
            Ok(file) => {
                // The buffered lines were recorded before the request was handled, so they
                // belong to the old file.
                let path = path.clone();
                self.flush();
                self.writer = BufWriter::new(Box::new(file));
                info!(path = %path.display(), "query log reopened");
            }
            Err(error) => {
                error!(
                    path = %path.display(),
                    %error,
                    "failed to reopen the query log; still writing to the file opened before"
                );
            }
        }
    }
}

/// Writes each line on the writer thread, and flushes whenever the channel is empty, so
/// a line reaches the file right after its query even at low rates.
fn write_lines(receiver: &Receiver<Message>, mut output: Output, shared: &std::sync::Weak<Shared>) {
    let mut line = String::with_capacity(160);
    let mut reported_drops = 0;
    let mut last_report: Option<Instant> = None;
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Line(entry) => {
                    line.clear();
                    format_line(&entry, &mut line);
                    output.write_line(&line);
                }
                Message::Reopen => output.reopen(),
            }
            next = receiver.try_recv().ok();
        }
        output.flush();
        let Some(shared) = shared.upgrade() else {
            continue;
        };
        if shared.reopen_pending.swap(false, Ordering::Relaxed) {
            output.reopen();
        }
        let dropped = shared.counters.query_log_dropped.load(Ordering::Relaxed);
        let due = last_report.is_none_or(|at| at.elapsed() >= DROP_REPORT_INTERVAL);
        if dropped > reported_drops && due {
            warn!(
                dropped_total = dropped,
                dropped_since_last_report = dropped - reported_drops,
                "query log lines dropped because the writer fell behind"
            );
            reported_drops = dropped;
            last_report = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use hickory_server::proto::rr::Name;

    use super::*;

    /// An output that tests can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn unusual_name_bytes_are_escaped() {
        let name = Name::from_labels([&b"a b\n"[..], b"bl", b"example"]).unwrap();
        let query = Query::query(name, RecordType::A);
        let output = Captured::default();
        let log = QueryLog::start(Box::new(output.clone()), Arc::default()).unwrap();
        log.record("[::1]:5353".parse().unwrap(), Some(&query), 3, &[]);
        drop(log);
        let text = wait_for_text(&output);
        let fields: Vec<&str> = text.trim_end().split(' ').collect();
        assert_eq!(
            fields[1..],
            [
                "[::1]:5353",
                "a\\032b\\010.bl.example.",
                "A",
                "NXDOMAIN",
                "-"
            ]
        );
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn disabled_log_records_nothing() {
        let log = QueryLog::default();
        assert!(!log.is_enabled());
        log.record_response("127.0.0.1:1".parse().unwrap(), &[0; 12]);
        assert_eq!(log.dropped(), 0);
    }

    /// An output that blocks until the test lets it go, so the channel fills.
    struct Blocked(Arc<Mutex<()>>);

    impl Write for Blocked {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            drop(self.0.lock().unwrap());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn full_channel_drops_and_counts() {
        let gate = Arc::new(Mutex::new(()));
        let gate_guard = gate.lock().unwrap();
        let counters = Arc::new(QueryCounters::default());
        let log = QueryLog::start(Box::new(Blocked(gate.clone())), counters.clone()).unwrap();
        let client = "127.0.0.1:1".parse().unwrap();
        // BufWriter buffers 8 KiB before it writes, so the first lines never block. Four
        // times the capacity is enough for the writer to block and the channel to fill.
        let sent = CHANNEL_CAPACITY * 4;
        for _ in 0..sent {
            log.record(client, None, 0, &[]);
        }
        let dropped = log.dropped();
        assert!(dropped > 0, "some lines dropped");
        assert!(dropped < sent as u64, "not every line dropped: {dropped}");
        assert_eq!(
            counters.query_log_dropped.load(Ordering::Relaxed),
            dropped,
            "the shared counter of /metrics"
        );
        drop(gate_guard);
    }

    /// Waits until the file at `path` has `count` complete lines and returns them.
    fn wait_for_lines(path: &Path, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= count && text.ends_with('\n') || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn names(lines: &[String]) -> Vec<&str> {
        lines
            .iter()
            .map(|line| line.split(' ').nth(2).unwrap_or(""))
            .collect()
    }

    fn query(name: &str) -> Query {
        Query::query(Name::from_ascii(name).unwrap(), RecordType::A)
    }

    #[test]
    fn reopen_after_rename_writes_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.log");
        let rotated = dir.path().join("queries.log.1");
        let log = QueryLog::open(&path, Arc::default()).unwrap();
        let client = "127.0.0.1:1".parse().unwrap();
        log.record(client, Some(&query("before.bl.example.")), 0, &[]);
        assert_eq!(names(&wait_for_lines(&path, 1)), ["before.bl.example."]);

        std::fs::rename(&path, &rotated).unwrap();
        log.record(client, Some(&query("queued.bl.example.")), 0, &[]);
        log.reopen();
        log.record(client, Some(&query("after.bl.example.")), 0, &[]);
        drop(log);

        assert_eq!(names(&wait_for_lines(&path, 1)), ["after.bl.example."]);
        assert_eq!(
            names(&wait_for_lines(&rotated, 2)),
            ["before.bl.example.", "queued.bl.example."]
        );
    }

    #[test]
    fn failed_reopen_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        let path = dir.path().join("logs/queries.log");
        let log = QueryLog::open(&path, Arc::default()).unwrap();
        let client = "127.0.0.1:1".parse().unwrap();
        log.record(client, Some(&query("before.bl.example.")), 0, &[]);

        // With its directory renamed, the path cannot be opened again.
        std::fs::rename(dir.path().join("logs"), dir.path().join("moved")).unwrap();
        log.reopen();
        log.record(client, Some(&query("after.bl.example.")), 0, &[]);
        drop(log);

        let moved = dir.path().join("moved/queries.log");
        assert_eq!(
            names(&wait_for_lines(&moved, 2)),
            ["before.bl.example.", "after.bl.example."]
        );
        assert!(!path.exists(), "no file created at {}", path.display());
    }

    #[test]
    fn reopen_of_other_output_keeps_it() {
        let output = Captured::default();
        let log = QueryLog::start(Box::new(output.clone()), Arc::default()).unwrap();
        let client = "127.0.0.1:1".parse().unwrap();
        log.record(client, Some(&query("before.bl.example.")), 0, &[]);
        log.reopen();
        log.record(client, Some(&query("after.bl.example.")), 0, &[]);
        drop(log);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut lines = Vec::new();
        while lines.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            let text = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
            lines = text.lines().map(str::to_string).collect();
        }
        assert_eq!(names(&lines), ["before.bl.example.", "after.bl.example."]);
    }

    #[test]
    fn reopen_with_full_channel_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.log");
        let gate = Arc::new(Mutex::new(()));
        let gate_guard = gate.lock().unwrap();
        let output = Output::new(Box::new(Blocked(gate.clone())), Some(path.clone()));
        let log = QueryLog::spawn(output, Arc::default()).unwrap();
        let client = "127.0.0.1:1".parse().unwrap();
        for _ in 0..CHANNEL_CAPACITY * 4 {
            log.record(client, Some(&query("before.bl.example.")), 0, &[]);
        }
        assert!(log.dropped() > 0, "the channel is full");
        log.reopen();
        drop(gate_guard);

        // The writer thread creates the file when it takes the request from the flag.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !path.exists() {
            assert!(Instant::now() < deadline, "{} not created", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
        log.record(client, Some(&query("after.bl.example.")), 0, &[]);
        drop(log);
        // The writer thread may have taken the flag while the queued lines were still
        // to be written, so they can be in either file.
        let mut lines = wait_for_lines(&path, 1);
        while !lines.last().is_some_and(|line| line.contains(" after.")) {
            assert!(Instant::now() < deadline, "no line after the reopen");
            std::thread::sleep(Duration::from_millis(5));
            lines = wait_for_lines(&path, 1);
        }
        let names = names(&lines);
        let (last, queued) = names.split_last().unwrap();
        assert_eq!(*last, "after.bl.example.");
        assert!(
            queued.iter().all(|name| *name == "before.bl.example."),
            "{queued:?}"
        );
    }

    fn wait_for_text(output: &Captured) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = String::from_utf8(output.0.lock().unwrap().clone()).unwrap();
            if text.ends_with('\n') || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
