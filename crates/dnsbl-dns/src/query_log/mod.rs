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
//! bounded channel and return. When the channel is full the line is dropped and counted,
//! and the writer thread logs the count at warn level at most every
//! [`DROP_REPORT_INTERVAL`].

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use hickory_server::proto::op::Query;
use hickory_server::proto::rr::{RData, Record, RecordType};
use tracing::warn;

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
    sender: SyncSender<Entry>,
    dropped: AtomicU64,
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
    /// standard output when `path` is `-`, and starts its writer thread.
    pub fn open(path: &Path) -> io::Result<Self> {
        let output: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(io::stdout())
        } else {
            Box::new(OpenOptions::new().create(true).append(true).open(path)?)
        };
        Self::start(output)
    }

    /// Starts the writer thread on `output`. The thread ends once every clone of the
    /// returned handle is dropped and the queued lines are written.
    pub fn start(output: Box<dyn Write + Send>) -> io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            sender,
            dropped: AtomicU64::new(0),
        });
        let counter = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("query-log".to_string())
            .spawn(move || write_lines(&receiver, BufWriter::new(output), &counter))?;
        Ok(QueryLog {
            shared: Some(shared),
        })
    }

    /// Returns whether lines are recorded.
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// Returns how many lines were dropped because the writer thread fell behind.
    pub fn dropped(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |shared| shared.dropped.load(Ordering::Relaxed))
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
            let question = query.map(|query| (query.name().to_string(), query.query_type()));
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
        match self.sender.try_send(entry) {
            Ok(()) => {}
            // Disconnected only if the writer thread panicked; counting keeps the answer
            // path going either way.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
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

/// Writes each entry on the writer thread, and flushes whenever the channel is empty, so
/// a line reaches the file right after its query even at low rates.
fn write_lines(
    receiver: &Receiver<Entry>,
    mut output: BufWriter<Box<dyn Write + Send>>,
    shared: &std::sync::Weak<Shared>,
) {
    let mut line = String::with_capacity(160);
    let mut reported_drops = 0;
    let mut last_report: Option<Instant> = None;
    let mut write_failures = 0u64;
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(entry) = next {
            line.clear();
            format_line(&entry, &mut line);
            if let Err(error) = output.write_all(line.as_bytes()) {
                write_failures += 1;
                if write_failures == 1 || write_failures.is_power_of_two() {
                    warn!(%error, failures = write_failures, "failed to write the query log");
                }
            }
            next = receiver.try_recv().ok();
        }
        if let Err(error) = output.flush() {
            write_failures += 1;
            if write_failures == 1 || write_failures.is_power_of_two() {
                warn!(%error, failures = write_failures, "failed to write the query log");
            }
        }
        let dropped = shared.upgrade().map_or(reported_drops, |shared| {
            shared.dropped.load(Ordering::Relaxed)
        });
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
        let log = QueryLog::start(Box::new(output.clone())).unwrap();
        log.record("[::1]:5353".parse().unwrap(), Some(&query), 3, &[]);
        drop(log);
        let text = wait_for_text(&output);
        let fields: Vec<&str> = text.trim_end().split(' ').collect();
        assert_eq!(
            fields[1..],
            [
                "[::1]:5353",
                "a\\040b\\012.bl.example.",
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
        let log = QueryLog::start(Box::new(Blocked(gate.clone()))).unwrap();
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
        drop(gate_guard);
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
