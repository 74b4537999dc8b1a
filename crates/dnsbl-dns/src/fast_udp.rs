//! The UDP listener: one blocking thread per CPU the process may run on, each with a
//! socket of its own on the same address (`SO_REUSEPORT`, so the kernel spreads clients
//! over the threads). A thread receives a batch of datagrams, answers each into a reused
//! buffer and sends the responses as one batch ([`udp_batch`](crate::udp_batch)). Under
//! steady load it waits up to 150 µs after a short batch, so batches grow. Before
//! responding to a batch it reads ahead the table data the answers need
//! ([`WireAnswerer::read_ahead`]), so that the cache misses of the batch overlap.
//!
//! Plain queries are answered by [`WireAnswerer`] without building DNS messages; every
//! other datagram goes to [`fallback::respond`], hickory-server's parser and the
//! handler, so both kinds get the answers the record path would give. Each thread checks
//! the current snapshot before each batch and prepares the wire forms of a new one,
//! which costs one empty slot per listing (TXT data is rendered on first use), so a
//! reload does not pause answers.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use dnsbl_core::answer::{WireAnswerer, WireOutcome, WireScratch};
use dnsbl_core::{QueryCounters, Snapshot, ZoneSlot};
use rustix::net::sockopt::{self, Ipv4PathMtuDiscovery, Ipv6PathMtuDiscovery};
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, warn};

use crate::fallback;
use crate::handler::DnsblHandler;
use crate::limits::{self, ClientLimits};
use crate::query_log::QueryLog;
use crate::udp_batch::Batch;

/// How often a blocked thread wakes to see whether it should stop.
const STOP_POLL: Duration = Duration::from_millis(100);
/// Two receives in a row of at least 2 datagrams each but fewer than this, at most
/// [`STEADY_GAP`] apart, mean steady load. The thread then waits [`COALESCE_WAIT`] and
/// takes the datagrams queued meanwhile, up to [`COALESCE_ROUNDS`] times while the batch
/// contains fewer than [`COALESCE_TARGET`], so that one pair of `recvmmsg` and `sendmmsg`
/// calls carries more queries. It also sends the client fewer, larger bursts of
/// responses, each of which may have to wake it. A lone datagram, and a burst of a few
/// on an otherwise idle server (a mail server asking for A and TXT at once), get their
/// responses at once.
const COALESCE_BELOW: usize = crate::udp_batch::BATCH / 2;
/// The wait of a coalescing receive. It is small next to the milliseconds a mail server
/// allows a DNSBL lookup. In four alternating runs under dnsperf load on a 2-vCPU VM it
/// cut CPU per query by 0 to 12% (see docs/benchmarks.md).
const COALESCE_WAIT: Duration = Duration::from_micros(50);
/// The batch size at which a coalescing receive stops waiting.
const COALESCE_TARGET: usize = crate::udp_batch::BATCH * 3 / 4;
/// Maximum number of waits of one coalescing receive: 150 µs in all.
const COALESCE_ROUNDS: usize = 3;
/// The maximum gap between two receives of steady load.
const STEADY_GAP: Duration = Duration::from_millis(1);
/// How often a UDP thread at most reports truncated and failed sends.
const SEND_REPORT_INTERVAL: Duration = Duration::from_secs(10);
/// Timer slack of a UDP thread in nanoseconds (`PR_SET_TIMERSLACK`), so that the
/// coalescing wait ends close to [`COALESCE_WAIT`].
const TIMER_SLACK_NS: u64 = 5_000;

/// Binds a UDP socket with `SO_REUSEPORT`, so that each listener thread can bind one more
/// on the same address. Only sockets of the same user with that option set can share the
/// port. The TCP listener is bound first and without it, so a second server fails there.
pub(crate) fn bind_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    if let Err(error) = set_dont_fragment(&socket, addr) {
        warn!(%error, %addr, "setting DF on a UDP socket failed, so responses larger than the MTU may be fragmented");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Sets DF on IPv4 responses and turns off IPv6 fragmentation, because fragmented DNS
/// answers are easy to spoof and often lost (RFC 9715, IP fragmentation avoidance in DNS
/// over UDP). BIND 9 sets DF on its UDP sockets as well. In the probe mode the kernel sizes
/// datagrams by the interface MTU and ignores path MTU learned from ICMP, which an
/// off-path attacker could forge to make responses fail. A response larger than the
/// interface MTU is sent truncated instead (see [`Batch::send`]). Linux also gives an IPv4
/// datagram of an unconnected socket that must not be fragmented the IP ID 0
/// (`ip_select_ident_segs` in include/net/ip.h), which spares hashing an ID per response.
fn set_dont_fragment(socket: &Socket, addr: SocketAddr) -> io::Result<()> {
    // The IPv4 option also applies to IPv4 clients of a dual-stack IPv6 socket.
    sockopt::set_ip_mtu_discover(socket, Ipv4PathMtuDiscovery::PROBE)?;
    if addr.is_ipv6() {
        sockopt::set_ipv6_mtu_discover(socket, Ipv6PathMtuDiscovery::PROBE)?;
    }
    Ok(())
}

/// The running UDP threads.
pub(crate) struct UdpWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl UdpWorkers {
    /// Starts one thread per available CPU: the first on `socket` (bound with
    /// [`bind_socket`]), each other one on a new socket bound to the same address.
    pub(crate) fn spawn(
        socket: UdpSocket,
        snapshot: Arc<ArcSwap<Snapshot>>,
        counters: Arc<QueryCounters>,
        query_log: QueryLog,
        limits: Arc<ClientLimits>,
    ) -> io::Result<Self> {
        let local_addr = socket.local_addr()?;
        let count = std::thread::available_parallelism().map_or(1, |count| count.get());
        let mut sockets = Vec::with_capacity(count);
        sockets.push(socket);
        for _ in 1..count {
            sockets.push(bind_socket(local_addr)?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(count);
        for (index, socket) in sockets.into_iter().enumerate() {
            socket.set_nonblocking(false)?;
            socket.set_read_timeout(Some(STOP_POLL))?;
            let snapshot = snapshot.clone();
            let stop = stop.clone();
            let counters = counters.clone();
            let query_log = query_log.clone();
            let limits = limits.clone();
            let thread = std::thread::Builder::new()
                .name(format!("dns-udp-{index}"))
                .spawn(move || serve(&socket, &snapshot, counters, query_log, &limits, &stop))?;
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
    query_log: QueryLog,
    limits: &Arc<ClientLimits>,
    stop: &AtomicBool,
) {
    let mut responder = Responder {
        handler: DnsblHandler::new(snapshot.clone())
            .with_counters(counters.clone())
            .with_query_log(query_log.clone())
            .with_limits(limits.clone()),
        answerer: WireAnswerer::new(snapshot.load_full()),
        zone_slots: Vec::new(),
        scratch: WireScratch::default(),
        counters,
        query_log,
        limits: limits.clone(),
    };
    responder.count_zones();
    let mut batch = Batch::new();
    let mut problems = SendProblems::default();
    // When the last receive of several datagrams returned.
    let mut previous: Option<Instant> = None;
    // The default slack of 50 µs would double the coalescing wait.
    if let Err(error) = rustix::thread::set_current_timer_slack(NonZeroU64::new(TIMER_SLACK_NS)) {
        debug!(%error, "setting the timer slack of a UDP thread failed");
    }
    while !stop.load(Ordering::Relaxed) {
        let received = batch.receive(socket);
        // Also checked when the receive timed out, so that an idle thread lets go of a
        // replaced snapshot within one poll interval instead of keeping it in memory.
        let current = snapshot.load();
        if !Arc::ptr_eq(&current, responder.answerer.snapshot()) {
            responder.answerer = WireAnswerer::new(arc_swap::Guard::into_inner(current));
            responder.count_zones();
        }
        match received {
            Ok(count) => {
                let now = Instant::now();
                let several = (2..COALESCE_BELOW).contains(&count);
                let steady = several && previous.is_some_and(|at| now - at <= STEADY_GAP);
                previous = several.then_some(now);
                if steady {
                    coalesce(&mut batch, socket);
                }
            }
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
        }
        if batch.received() > 1 {
            responder.answerer.read_ahead(batch.requests());
        }
        batch
            .respond_each(|request, client, response| responder.respond(request, client, response));
        let truncated = batch.send(socket, |error, client| problems.failed(error, client));
        problems.truncated += truncated as u64;
        problems.report_if_due();
    }
}

/// Responses of one UDP thread that were truncated or not sent, reported at warn level at
/// most every [`SEND_REPORT_INTERVAL`] so that a flood of them does not flood the log.
#[derive(Default)]
struct SendProblems {
    /// Responses sent truncated because the interface MTU was too small for them.
    truncated: u64,
    /// Responses the kernel rejected, and the last error with its client.
    failed: u64,
    last_failure: Option<(io::Error, SocketAddr)>,
    last_report: Option<Instant>,
}

impl SendProblems {
    fn failed(&mut self, error: io::Error, client: SocketAddr) {
        self.failed += 1;
        self.last_failure = Some((error, client));
    }

    fn report_if_due(&mut self) {
        if self.truncated == 0 && self.failed == 0 {
            return;
        }
        if self
            .last_report
            .is_some_and(|at| at.elapsed() < SEND_REPORT_INTERVAL)
        {
            return;
        }
        if self.truncated > 0 {
            warn!(
                responses = self.truncated,
                "UDP responses larger than the interface MTU were sent truncated, so their \
                 clients retry over TCP; the query log and counters show them as answered"
            );
        }
        if let Some((error, client)) = self.last_failure.take() {
            warn!(
                responses = self.failed,
                %error,
                last_client = %client,
                "UDP responses could not be sent"
            );
        }
        self.truncated = 0;
        self.failed = 0;
        self.last_report = Some(Instant::now());
    }
}

/// Waits [`COALESCE_WAIT`] and takes the datagrams queued meanwhile, until the batch contains
/// [`COALESCE_TARGET`] or after [`COALESCE_ROUNDS`] waits.
fn coalesce(batch: &mut Batch, socket: &UdpSocket) {
    for _ in 0..COALESCE_ROUNDS {
        std::thread::sleep(COALESCE_WAIT);
        match batch.receive_queued(socket) {
            Ok(count) if count >= COALESCE_TARGET => return,
            Ok(_) => {}
            // WouldBlock only means that nothing arrived during the wait.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => {
                debug!(%error, "UDP receive after the coalescing wait failed");
                return;
            }
        }
    }
}

/// What one listener thread needs to answer a datagram.
struct Responder {
    handler: DnsblHandler,
    answerer: WireAnswerer,
    /// The counter slot of each zone of the answerer's snapshot, by zone index.
    zone_slots: Vec<ZoneSlot>,
    scratch: WireScratch,
    counters: Arc<QueryCounters>,
    query_log: QueryLog,
    limits: Arc<ClientLimits>,
}

impl Responder {
    /// Looks up the counter slots of the zones of the answerer's snapshot.
    fn count_zones(&mut self) {
        let zones = &self.answerer.snapshot().zones;
        self.zone_slots = self
            .counters
            .zone_slots(zones.iter().map(|zone| zone.spec.name.as_str()));
    }

    /// Answers one request from `client` into `response`. Returns whether a response is
    /// to be sent: `false` for a datagram that gets none (a response message, or fewer
    /// than 12 bytes). Every UDP request passes through here, whichever path answers it.
    fn respond(&mut self, request: &[u8], client: SocketAddr, response: &mut Vec<u8>) -> bool {
        match self.answerer.answer(request, &mut self.scratch, response) {
            WireOutcome::Answered => {
                let (qtype, zone) = self.scratch.last_query();
                let snapshot = self.answerer.snapshot();
                if !limits::wire::apply(&self.limits, snapshot, client.ip(), zone, qtype, response)
                {
                    return false;
                }
                record_wire(&self.counters, &self.zone_slots, &self.scratch, response);
                self.query_log.record_response(client, response);
                true
            }
            WireOutcome::Fallback => match fallback::respond(&self.handler, request, client) {
                Some(bytes) => {
                    response.clear();
                    response.extend_from_slice(&bytes);
                    true
                }
                None => false,
            },
        }
    }
}

/// Counts a response of the wire path, which has at least a header. Its answers are
/// always listings, because names at a zone apex go to the record path.
///
/// NOTE: all UDP threads add to the same counters, so at high rates their cache lines
/// move between CPUs; the cost per query has not been measured yet.
fn record_wire(
    counters: &QueryCounters,
    zone_slots: &[ZoneSlot],
    scratch: &WireScratch,
    response: &[u8],
) {
    let (qtype, zone) = scratch.last_query();
    let slot = zone.and_then(|index| zone_slots.get(index).copied());
    let rcode = u16::from(response[3] & 0x0f);
    let answers = u16::from_be_bytes([response[6], response[7]]);
    counters.record_in(slot, qtype, rcode, rcode == 0 && answers > 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_socket_sets_dont_fragment() {
        let socket = bind_socket(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let mode = sockopt::ip_mtu_discover(&socket).unwrap();
        assert_eq!(mode, Ipv4PathMtuDiscovery::PROBE);
    }

    #[test]
    fn ipv6_socket_sets_dont_fragment() {
        let Ok(socket) = bind_socket("[::1]:0".parse().unwrap()) else {
            // A machine without IPv6 on loopback cannot bind ::1.
            return;
        };
        let v6_mode = sockopt::ipv6_mtu_discover(&socket).unwrap();
        assert_eq!(v6_mode, Ipv6PathMtuDiscovery::PROBE);
        let v4_mode = sockopt::ip_mtu_discover(&socket).unwrap();
        assert_eq!(v4_mode, Ipv4PathMtuDiscovery::PROBE);
    }
}
