//! The UDP listener: one blocking thread per CPU the process may run on, each receiving
//! a datagram, answering it into a reused buffer and sending the response.
//!
//! Plain queries are answered by [`WireAnswerer`] without building DNS messages; every
//! other datagram goes to [`fallback::respond`], hickory-server's parser and the
//! handler, so both kinds get the answers the record path would give. Each thread checks
//! the current snapshot before each query and prepares the wire forms of a new one,
//! which costs one empty slot per listing (TXT data is rendered on first use), so a
//! reload does not pause answers.
//!
//! NOTE: each datagram costs one `recvfrom` and one `sendto`. Batching with `recvmmsg`
//! and `sendmmsg` would need `unsafe` or a crate wrapping them, and neither is used yet.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use dnsbl_core::answer::{WireAnswerer, WireOutcome, WireScratch};
use dnsbl_core::{QueryCounters, Snapshot};
use tracing::debug;

use crate::fallback;
use crate::handler::DnsblHandler;
use crate::limits::{self, ClientLimits};

/// How often a blocked thread wakes to see whether it should stop.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Receive buffer: larger than any UDP payload a client may send with EDNS.
const RECEIVE_BUFFER: usize = 65_535;

/// The running UDP threads.
pub(crate) struct UdpWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl UdpWorkers {
    /// Starts one thread per available CPU on clones of `socket`.
    pub(crate) fn spawn(
        socket: UdpSocket,
        snapshot: Arc<ArcSwap<Snapshot>>,
        counters: Arc<QueryCounters>,
        limits: Arc<ClientLimits>,
    ) -> io::Result<Self> {
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(STOP_POLL))?;
        let count = std::thread::available_parallelism().map_or(1, |count| count.get());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let socket = socket.try_clone()?;
            let snapshot = snapshot.clone();
            let stop = stop.clone();
            let counters = counters.clone();
            let limits = limits.clone();
            let thread = std::thread::Builder::new()
                .name(format!("dns-udp-{index}"))
                .spawn(move || serve(&socket, &snapshot, counters, &limits, &stop))?;
            threads.push(thread);
        }
        Ok(UdpWorkers { stop, threads })
    }

    /// Asks the threads to stop and waits for them (at most one poll interval).
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in std::mem::take(&mut self.threads) {
            let _ = thread.join();
        }
    }
}

impl Drop for UdpWorkers {
    /// Stopping without waiting: the threads end at their next wake-up.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    socket: &UdpSocket,
    snapshot: &Arc<ArcSwap<Snapshot>>,
    counters: Arc<QueryCounters>,
    limits: &Arc<ClientLimits>,
    stop: &AtomicBool,
) {
    let handler = DnsblHandler::new(snapshot.clone())
        .with_counters(counters.clone())
        .with_limits(limits.clone());
    let mut answerer = WireAnswerer::new(snapshot.load_full());
    let mut scratch = WireScratch::default();
    let mut packet = vec![0u8; RECEIVE_BUFFER];
    let mut response = Vec::with_capacity(usize::from(crate::MAX_UDP_PAYLOAD));
    while !stop.load(Ordering::Relaxed) {
        let (len, src) = match socket.recv_from(&mut packet) {
            Ok(received) => received,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => {
                debug!(%error, "UDP receive failed");
                continue;
            }
        };
        let current = snapshot.load();
        if !Arc::ptr_eq(&current, answerer.snapshot()) {
            answerer = WireAnswerer::new(arc_swap::Guard::into_inner(current));
        }
        let request = &packet[..len];
        let sent = match answerer.answer(request, &mut scratch, &mut response) {
            WireOutcome::Answered => {
                let (qtype, zone) = scratch.last_query();
                let snapshot = answerer.snapshot();
                let client = src.ip();
                if !limits::wire::apply(limits, snapshot, client, zone, qtype, &mut response) {
                    continue;
                }
                record_wire(&counters, &scratch, &response);
                socket.send_to(&response, src)
            }
            WireOutcome::Fallback => match fallback::respond(&handler, request, src) {
                Some(bytes) => socket.send_to(&bytes, src),
                None => continue,
            },
        };
        if let Err(error) = sent {
            debug!(%error, client = %src, "UDP send failed");
        }
    }
}

/// Counts a response of the wire path, which has at least a header. Its answers are
/// always listings, because names at a zone apex go to the record path.
///
/// NOTE: all UDP threads add to the same counters, so at high rates their cache lines
/// move between CPUs; the cost per query has not been measured yet.
fn record_wire(counters: &QueryCounters, scratch: &WireScratch, response: &[u8]) {
    let (qtype, zone) = scratch.last_query();
    let rcode = u16::from(response[3] & 0x0f);
    let answers = u16::from_be_bytes([response[6], response[7]]);
    counters.record(zone, qtype, rcode, rcode == 0 && answers > 0);
}
