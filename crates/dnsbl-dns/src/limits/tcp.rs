//! The TCP listener (RFC 7766): its own accept loop around the hickory-server handler,
//! with limits that hickory-server 0.26.3's `Server::register_listener` lacks. That
//! listener takes only an idle timeout; it accepts every connection and reads requests
//! of any size.
//!
//! Each connection runs in its own task and handles its requests one after another. A
//! connection is closed when it sends no complete request within the idle timeout,
//! announces a request larger than the maximum, or does not take a response within the
//! idle timeout. New connections beyond the total or per-client maximum are closed at
//! once, so a client holding many idle connections cannot lock out others.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dnsbl_core::acl::canonical;
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{
    Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder,
};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::fallback;
use crate::handler::DnsblHandler;

/// Pause after a failed accept.
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Limits of the TCP listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Open connections over all clients.
    pub max_connections: usize,
    /// Open connections from one client address.
    pub max_connections_per_client: usize,
    /// Time a connection may take to send one complete request, or to take one response.
    pub idle_timeout: Duration,
    /// Largest request accepted, in bytes; a longer one closes the connection.
    pub max_request_size: u16,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 1024,
            max_connections_per_client: 16,
            // Long enough for a resolver to reuse the connection for its next queries,
            // short enough that idle connections do not pile up.
            idle_timeout: Duration::from_secs(10),
            // A DNSBL query is a few dozen bytes; 4096 leaves room for EDNS options.
            max_request_size: 4096,
        }
    }
}

/// Open connections per client address, and their total.
#[derive(Default)]
struct Connections {
    per_client: HashMap<IpAddr, usize>,
    total: usize,
}

/// One counted connection; dropping it releases the count.
struct ConnectionSlot {
    connections: Arc<Mutex<Connections>>,
    client: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut connections = lock(&self.connections);
        connections.total -= 1;
        if let Some(count) = connections.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                connections.per_client.remove(&self.client);
            }
        }
    }
}

fn lock(connections: &Mutex<Connections>) -> std::sync::MutexGuard<'_, Connections> {
    connections
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes a connection slot for `client`, or returns `None` when a maximum is reached.
fn acquire(
    connections: &Arc<Mutex<Connections>>,
    limits: &TcpLimits,
    client: IpAddr,
) -> Option<ConnectionSlot> {
    let mut guard = lock(connections);
    let from_client = guard.per_client.get(&client).copied().unwrap_or(0);
    if guard.total >= limits.max_connections || from_client >= limits.max_connections_per_client {
        return None;
    }
    guard.total += 1;
    *guard.per_client.entry(client).or_insert(0) += 1;
    Some(ConnectionSlot {
        connections: connections.clone(),
        client,
    })
}

/// Accepts connections until `stop` turns true, then ends every open connection.
pub(crate) async fn serve(
    listener: TcpListener,
    handler: Arc<DnsblHandler>,
    limits: TcpLimits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let connections = Arc::new(Mutex::new(Connections::default()));
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        };
        let (stream, src) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_per_connection(&error) => {
                warn!(%error, "TCP accept failed; the listener goes on");
                if is_out_of_descriptors(&error) {
                    // accept fails at once until a connection closes, so pause instead
                    // of spinning.
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        while tasks.try_join_next().is_some() {}
        let client = canonical(src.ip());
        let Some(slot) = acquire(&connections, &limits, client) else {
            debug!(%src, "TCP connection closed: connection limit reached");
            continue;
        };
        let handler = handler.clone();
        let limits = limits.clone();
        tasks.spawn(async move {
            connection(stream, src, &handler, &limits).await;
            drop(slot);
        });
    }
}

/// Accept errors that concern one connection, not the listening socket.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || is_out_of_descriptors(error)
}

/// EMFILE or ENFILE: the process or the system is out of file descriptors, and the
/// listener recovers when connections close.
fn is_out_of_descriptors(error: &io::Error) -> bool {
    error
        .raw_os_error()
        .is_some_and(|code| code == 24 || code == 23)
}

/// Serves the requests of one connection in order until it closes or breaks a limit.
async fn connection(
    stream: TcpStream,
    src: SocketAddr,
    handler: &DnsblHandler,
    limits: &TcpLimits,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let responder = TcpResponder {
        writer: Arc::new(tokio::sync::Mutex::new(writer)),
        timeout: limits.idle_timeout,
    };
    loop {
        let read = async {
            let mut prefix = [0u8; 2];
            reader.read_exact(&mut prefix).await?;
            let len = u16::from_be_bytes(prefix);
            if len > limits.max_request_size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "request of {len} bytes, over the maximum of {}",
                        limits.max_request_size
                    ),
                ));
            }
            let mut message = vec![0u8; usize::from(len)];
            reader.read_exact(&mut message).await?;
            Ok(message)
        };
        let message = match tokio::time::timeout(limits.idle_timeout, read).await {
            Ok(Ok(message)) => message,
            Ok(Err(error)) => {
                debug!(%src, %error, "TCP connection closed");
                return;
            }
            Err(_) => {
                debug!(%src, "TCP connection closed: idle timeout");
                return;
            }
        };
        let Ok(header) = Header::read(&mut BinDecoder::new(&message)) else {
            debug!(%src, "TCP connection closed: message shorter than a header");
            return;
        };
        match Request::from_bytes(message, src, Protocol::Tcp) {
            Ok(request) if request.metadata.message_type == MessageType::Response => {}
            Ok(request) => {
                handler
                    .handle_request::<_, TokioTime>(&request, responder.clone())
                    .await;
            }
            Err(_) => {
                handler
                    .counters()
                    .record(None, 0, u16::from(ResponseCode::FormErr), false);
                let bytes = fallback::form_error(&header);
                if responder.write(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends responses on a connection, each with its two-byte length (RFC 1035 §4.2.2).
#[derive(Clone)]
struct TcpResponder {
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    timeout: Duration,
}

impl TcpResponder {
    async fn write(&self, message: &[u8]) -> Result<(), NetError> {
        let len = u16::try_from(message.len())
            .map_err(|_| NetError::from("response longer than 65535 bytes"))?;
        let mut framed = Vec::with_capacity(2 + message.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        let mut writer = self.writer.lock().await;
        match tokio::time::timeout(self.timeout, writer.write_all(&framed)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(NetError::from(error)),
            Err(_) => Err(NetError::from("timed out sending a TCP response")),
        }
    }
}

#[async_trait::async_trait]
impl ResponseHandler for TcpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let id = response.metadata().id;
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(u16::MAX);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(error) => {
                // The handler checks the size before building a response, so this is a
                // record that cannot be encoded at all.
                warn!(%error, id, "failed to encode a TCP response; sending SERVFAIL");
                bytes.clear();
                let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata,
                    counts: HeaderCounts::default(),
                };
                header.emit(&mut BinEncoder::new(&mut bytes))?;
                ResponseInfo::from(header)
            }
        };
        self.write(&bytes).await?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_slots_per_client_and_total() {
        let limits = TcpLimits {
            max_connections: 3,
            max_connections_per_client: 2,
            ..TcpLimits::default()
        };
        let connections = Arc::new(Mutex::new(Connections::default()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        let first = acquire(&connections, &limits, a).expect("first from a");
        let second = acquire(&connections, &limits, a).expect("second from a");
        assert!(acquire(&connections, &limits, a).is_none(), "third from a");
        let from_b = acquire(&connections, &limits, b).expect("first from b");
        assert!(
            acquire(&connections, &limits, c).is_none(),
            "over the total"
        );
        drop(first);
        assert!(
            acquire(&connections, &limits, c).is_some(),
            "after a closed one"
        );
        drop((second, from_b));
        assert_eq!(lock(&connections).total, 0);
        assert!(lock(&connections).per_client.is_empty());
    }
}
