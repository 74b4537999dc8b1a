//! The HTTP/1 connection loop of the admin API, in place of `axum::serve`. axum 0.8.9's
//! `serve` sets no header read timeout, so a client that sent part of its request headers
//! held its connection and task open for as long as it liked.

use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Time a client has to send the headers of a request, counted from the connection's
/// start or from the end of the previous response, before its connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Time a handler waits for the whole body of a request, counted from when it starts
/// reading it. A body not complete by then gets a 408 and its connection is closed.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The body read timeout of the connection loop, stored in each request's extensions for
/// [`crate::body::JsonBody`], which uses [`BODY_READ_TIMEOUT`] when it is missing.
#[derive(Clone, Copy, Debug)]
pub struct BodyReadTimeout(pub Duration);

/// Connections served at once. Further clients wait in the kernel's listen backlog until
/// a connection closes.
pub const MAX_CONNECTIONS: usize = 256;

/// Limits of the connection loop. The server uses [`ConnectionLimits::DEFAULT`].
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        header_read_timeout: HEADER_READ_TIMEOUT,
        body_read_timeout: BODY_READ_TIMEOUT,
        max_connections: MAX_CONNECTIONS,
    };
}

/// Accepts connections on `listener` and serves `app` on each, forever. A failed accept is
/// logged and retried.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnectionLimits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let app = app.layer(Extension(BodyReadTimeout(limits.body_read_timeout)));
    loop {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // The error belongs to one connection, such as one reset before it was
            // accepted.
            Err(error) if is_connection_error(&error) => {
                tracing::debug!(%error, "admin API accept failed");
                continue;
            }
            // Other errors, such as a lack of file descriptors, end when connections close.
            Err(error) => {
                tracing::warn!(%error, "admin API accept failed, retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "admin API connection ended with an error");
            }
            drop(permit);
        });
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use axum::routing::{get, post};

    use crate::body::JsonBody;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(300);
    const PARTIAL: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    const COMPLETE: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

    async fn start(max_connections: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/", get(|| async { "ok" })).route(
            "/echo",
            post(|JsonBody(value): JsonBody<serde_json::Value>| async move { value.to_string() }),
        );
        let limits = ConnectionLimits {
            header_read_timeout: TIMEOUT,
            body_read_timeout: TIMEOUT,
            max_connections,
        };
        tokio::spawn(serve(listener, app, limits));
        addr
    }

    /// Sends `request` and reads until the server closes the connection.
    async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
        stream.write_all(request).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
            .await
            .expect("the server closes the connection within 5 s")
            .unwrap();
        String::from_utf8(response).unwrap()
    }

    #[tokio::test]
    async fn partial_headers_time_out() {
        let addr = start(4).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let started = Instant::now();
        let response = exchange(&mut stream, PARTIAL).await;
        assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
        assert!(!response.starts_with("HTTP/1.1 200"), "{response}");

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let response = exchange(&mut stream, COMPLETE).await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nok"), "{response}");
    }

    #[tokio::test]
    async fn idle_keep_alive_times_out() {
        let addr = start(4).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let keep_alive = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        stream.write_all(keep_alive).await.unwrap();
        let mut first = [0u8; 17];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200 OK\r\n");
        let started = Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("the server closes the idle connection within 5 s")
            .unwrap();
        assert!(started.elapsed() >= TIMEOUT - Duration::from_millis(60));
        assert!(String::from_utf8(rest).unwrap().ends_with("\r\n\r\nok"));
    }

    #[tokio::test]
    async fn stalled_body_times_out() {
        let addr = start(1).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let stalled = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\
            Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
        let started = Instant::now();
        let response = exchange(&mut stream, stalled).await;
        assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
        assert!(
            response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{response}"
        );
        let body = response.split_once("\r\n\r\n").unwrap().1;
        assert_eq!(
            body,
            concat!(
                r#"{"error":{"code":"body_timeout","message":"timed out reading the request "#,
                r#"body: it must arrive within 0.3 s of the headers; send the whole body at "#,
                r#"once"}}"#
            )
        );

        // The only connection slot is free again.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let complete = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
            Content-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"a\": 1}";
        let response = exchange(&mut stream, complete).await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\n{\"a\":1}"), "{response}");
    }

    #[tokio::test]
    async fn connections_over_max_wait() {
        let addr = start(1).await;
        let mut holder = TcpStream::connect(addr).await.unwrap();
        holder.write_all(PARTIAL).await.unwrap();
        // Let the server accept the first connection before the second one connects.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        let mut waiting = TcpStream::connect(addr).await.unwrap();
        let response = exchange(&mut waiting, COMPLETE).await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        let waited = started.elapsed();
        assert!(waited >= TIMEOUT - Duration::from_millis(60), "{waited:?}");
    }
}
