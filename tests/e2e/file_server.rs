//! A tiny HTTP/1.1 file server on loopback for the ingest tests: it serves one response
//! per path, which the test changes between requests, and can delay its responses.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Status and body served for one path.
#[derive(Clone)]
struct Resource {
    status: u16,
    body: Vec<u8>,
    delay: Duration,
}

/// The server; it stops when dropped.
pub struct FileServer {
    pub addr: SocketAddr,
    resources: Arc<Mutex<HashMap<String, Resource>>>,
    stop: Arc<AtomicBool>,
}

impl FileServer {
    pub fn start() -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let resources: Arc<Mutex<HashMap<String, Resource>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (resources.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        FileServer {
            addr,
            resources,
            stop,
        }
    }

    /// Returns the URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `body` with `status` at `path` after `delay`.
    pub fn set(&self, path: &str, status: u16, body: &[u8], delay: Duration) {
        self.resources.lock().unwrap().insert(
            path.to_owned(),
            Resource {
                status,
                body: body.to_vec(),
                delay,
            },
        );
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A connection wakes the accept loop, which then reads the flag and stops.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, resources: &Mutex<HashMap<String, Resource>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let resource = resources
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Resource {
            status: 404,
            body: b"not found".to_vec(),
            delay: Duration::ZERO,
        });
    std::thread::sleep(resource.delay);
    let head = format!(
        "HTTP/1.1 {} X\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        resource.status,
        resource.body.len()
    );
    let mut stream = &stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&resource.body);
}
