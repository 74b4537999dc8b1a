//! Binding UDP and TCP on one address and running hickory-server until shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use dnsbl_core::{QueryCounters, Snapshot};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error};

use crate::fast_udp::{self, UdpWorkers};
use crate::handler::DnsblHandler;
use crate::limits::{self, ClientLimits, RateLimitOptions, TcpLimits};
use crate::query_log::QueryLog;
use crate::xfr::XfrAcl;

/// How many times to pick a new port when `listen` has port 0 and the port the kernel gave
/// the TCP listener is already taken for UDP.
const EPHEMERAL_BIND_ATTEMPTS: usize = 16;

/// Settings of the listeners.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Connection limits and timeouts of the TCP listener.
    pub tcp: TcpLimits,
    /// Response rate limiting on UDP.
    pub rate_limit: RateLimitOptions,
    /// Clients that may transfer zones (AXFR, IXFR) over TCP.
    pub xfr_acl: XfrAcl,
    /// Counters of every response, on UDP and TCP.
    pub query_counters: Arc<QueryCounters>,
    /// Query log with one line per response. Disabled by default.
    pub query_log: QueryLog,
}

/// Errors from binding or running the DNS listeners.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("failed to bind TCP on {addr}: {source}")]
    BindTcp { addr: SocketAddr, source: io::Error },
    #[error("failed to bind UDP on {addr}: {source}")]
    BindUdp { addr: SocketAddr, source: io::Error },
    #[error("a DNS listener stopped: {0}")]
    Listener(String),
}

/// A DNS server answering on UDP and TCP of one address from the current snapshot.
///
/// The listeners run on the Tokio runtime from [`bind`](Self::bind) on; dropping the
/// value without [`shutdown`](Self::shutdown) stops them as well.
pub struct DnsServer {
    /// TCP: the accept loop of `limits::tcp`, stopped through `stop_tcp`.
    tcp: JoinHandle<io::Result<()>>,
    stop_tcp: watch::Sender<bool>,
    /// UDP (the wire path, with hickory-server's parser for unusual requests).
    udp: Option<UdpWorkers>,
    local_addr: SocketAddr,
}

impl DnsServer {
    /// Binds TCP and UDP on `listen` with default [`ServerOptions`] and starts answering.
    ///
    /// With port 0 both sockets share the port the kernel picks, which
    /// [`local_addr`](Self::local_addr) returns.
    pub async fn bind(
        listen: SocketAddr,
        snapshot: Arc<ArcSwap<Snapshot>>,
    ) -> Result<Self, ServerError> {
        Self::bind_with(listen, snapshot, ServerOptions::default()).await
    }

    /// Binds TCP and UDP on `listen` and starts answering.
    pub async fn bind_with(
        listen: SocketAddr,
        snapshot: Arc<ArcSwap<Snapshot>>,
        options: ServerOptions,
    ) -> Result<Self, ServerError> {
        BoundListeners::bind(listen).await?.start(snapshot, options)
    }
}

/// TCP and UDP sockets bound on one address but not read yet. Queries wait in the
/// kernel's socket buffers (and connections in the listen backlog) until
/// [`start`](Self::start). `dnsbl serve` binds before it loads the data, so that a port
/// conflict fails at once, and starts answering when the first snapshot is ready.
pub struct BoundListeners {
    tcp: TcpListener,
    udp: std::net::UdpSocket,
    local_addr: SocketAddr,
}

impl BoundListeners {
    /// Binds TCP and UDP on `listen`; with port 0 both get the same port.
    pub async fn bind(listen: SocketAddr) -> Result<Self, ServerError> {
        let (tcp, udp) = bind_pair(listen).await?;
        let local_addr = tcp.local_addr().map_err(|source| ServerError::BindTcp {
            addr: listen,
            source,
        })?;
        Ok(BoundListeners {
            tcp,
            udp,
            local_addr,
        })
    }

    /// Returns the address both sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts the UDP and TCP listeners on the bound sockets, with answers from `snapshot`.
    pub fn start(
        self,
        snapshot: Arc<ArcSwap<Snapshot>>,
        options: ServerOptions,
    ) -> Result<DnsServer, ServerError> {
        let BoundListeners {
            tcp,
            udp,
            local_addr,
        } = self;
        let limits = Arc::new(ClientLimits::new(
            options.rate_limit,
            options.query_counters.clone(),
        ));
        let udp = UdpWorkers::spawn(
            udp,
            snapshot.clone(),
            options.query_counters.clone(),
            options.query_log.clone(),
            limits.clone(),
        )
        .map_err(|source| ServerError::BindUdp {
            addr: local_addr,
            source,
        })?;
        let handler = DnsblHandler::new(snapshot)
            .with_xfr_acl(options.xfr_acl)
            .with_counters(options.query_counters)
            .with_query_log(options.query_log)
            .with_limits(limits);
        let (stop_tcp, stopped) = watch::channel(false);
        let tcp = tokio::spawn(limits::tcp::serve(
            tcp,
            Arc::new(handler),
            options.tcp,
            stopped,
        ));
        debug!(%local_addr, "DNS listeners started");
        Ok(DnsServer {
            tcp,
            stop_tcp,
            udp: Some(udp),
            local_addr,
        })
    }
}

impl DnsServer {
    /// Returns the address both listeners are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting requests and waits for the listeners to finish. An error of a
    /// listener is logged.
    pub async fn shutdown(mut self) {
        if let Some(udp) = self.udp.take() {
            let _ = tokio::task::spawn_blocking(move || udp.stop()).await;
        }
        let _ = self.stop_tcp.send(true);
        match (&mut self.tcp).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                error!(%error, address = %self.local_addr, "TCP listener failed during shutdown");
            }
            Err(error) => {
                error!(%error, address = %self.local_addr, "TCP listener task failed");
            }
        }
    }

    /// Answers until `signal` completes, then shuts down. Returns an error when a
    /// listener stops on its own, for example after its socket failed.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        let stopped = tokio::select! {
            result = &mut self.tcp => Some(result),
            () = signal => None,
        };
        match stopped {
            Some(result) => {
                let reason = match result {
                    Ok(Ok(())) => "the TCP listener ended".to_string(),
                    Ok(Err(error)) => format!("TCP: {error}"),
                    Err(error) => format!("TCP listener task: {error}"),
                };
                Err(ServerError::Listener(reason))
            }
            None => {
                self.shutdown().await;
                Ok(())
            }
        }
    }
}

/// Binds TCP first and UDP on the same port. With port 0 the port is chosen for TCP, and
/// if UDP cannot take it, a new pair is tried.
async fn bind_pair(listen: SocketAddr) -> Result<(TcpListener, std::net::UdpSocket), ServerError> {
    let attempts = if listen.port() == 0 {
        EPHEMERAL_BIND_ATTEMPTS
    } else {
        1
    };
    let mut last_error = None;
    for _ in 0..attempts {
        let tcp = TcpListener::bind(listen)
            .await
            .map_err(|source| ServerError::BindTcp {
                addr: listen,
                source,
            })?;
        let addr = tcp.local_addr().map_err(|source| ServerError::BindTcp {
            addr: listen,
            source,
        })?;
        match fast_udp::bind_socket(addr) {
            Ok(udp) => return Ok((tcp, udp)),
            Err(source) if source.kind() == io::ErrorKind::AddrInUse && attempts > 1 => {
                last_error = Some(ServerError::BindUdp { addr, source });
            }
            Err(source) => return Err(ServerError::BindUdp { addr, source }),
        }
    }
    Err(last_error.expect("at least one bind attempt ran"))
}
