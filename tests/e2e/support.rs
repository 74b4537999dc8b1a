//! Starting the real binary and asking it DNS questions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

/// Maximum wait for the server to load its data and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Maximum wait for one DNS response.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The repository's zones/ directory.
pub fn repo_zones() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones")
}

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dnsbl"))
}

/// A running `dnsbl serve` on a free loopback port, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Log lines after the listening line, for tests that wait for a reload.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `dnsbl serve` with the given zones directory and database file.
    pub fn start(zones: &Path, db: &Path) -> Server {
        Server::start_with(zones, db, &[])
    }

    /// Starts `dnsbl serve` with extra arguments.
    pub fn start_with(zones: &Path, db: &Path, extra: &[&std::ffi::OsStr]) -> Server {
        Server::start_command(binary(), zones, db, extra)
    }

    /// Starts `dnsbl serve` through `command`, which may carry environment settings.
    pub fn start_command(
        mut command: Command,
        zones: &Path,
        db: &Path,
        extra: &[&std::ffi::OsStr],
    ) -> Server {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--poll-seconds", "1"])
            .args(["--admin-listen", "127.0.0.1:0"])
            .arg("--zones")
            .arg(zones)
            .arg("--db")
            .arg(db)
            .args(extra)
            .env(
                "RUST_LOG",
                "info,hickory_server=warn,hickory_net=warn,sqlx=warn",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the dnsbl binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[dnsbl] {line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match receiver.recv_timeout(remaining) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "dnsbl serve did not log its listening address within {START_TIMEOUT:?}"
                    );
                }
            };
            if line.contains("DNS listening")
                && let Some(addr) = field(&line, "address")
            {
                let addr = addr.parse().expect("the logged address parses");
                return Server {
                    child,
                    addr,
                    log: receiver,
                };
            }
        }
    }

    /// Process id of the server, for sending signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP, which makes the server read zones/ again.
    pub fn hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -HUP succeeded");
    }

    /// Waits until the server exits by itself and returns its exit status. Kills it and
    /// panics after `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("dnsbl serve still running after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a log line contains `text`.
    pub fn wait_for_log(&self, text: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(remaining) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => continue,
                Err(_) => panic!("no log line containing {text:?} within {timeout:?}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=value` in a tracing log line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    line[start..].split_whitespace().next()
}

pub fn query_message(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(
        Name::from_ascii(name).expect("valid query name"),
        rtype,
    ));
    message
}

/// Sends one query over UDP and returns the decoded response.
pub fn query_udp(addr: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let request = query_message(name, rtype);
    let bytes = exchange_udp(addr, &request.to_vec().unwrap())
        .unwrap_or_else(|e| panic!("no UDP response for {name} {rtype}: {e}"));
    let response = Message::from_vec(&bytes).expect("the response decodes");
    assert_eq!(response.metadata.id, request.metadata.id, "response id");
    response
}

/// Sends one query over TCP (RFC 1035 §4.2.2 length prefix) and returns the response.
pub fn query_tcp(addr: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let request = query_message(name, rtype).to_vec().unwrap();
    Message::from_vec(&exchange_tcp(addr, &request)).expect("the response decodes")
}

/// Sends `request` in one UDP datagram and returns the bytes of the response datagram.
pub fn exchange_udp(addr: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    socket.set_read_timeout(Some(QUERY_TIMEOUT)).unwrap();
    socket.send_to(request, addr).unwrap();
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer)?;
    Ok(buffer[..len].to_vec())
}

/// Sends `request` over TCP with its length prefix and returns the bytes of the response.
pub fn exchange_tcp(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, QUERY_TIMEOUT).expect("TCP connects");
    stream.set_read_timeout(Some(QUERY_TIMEOUT)).unwrap();
    let mut framed = (request.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(request);
    stream.write_all(&framed).unwrap();
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(length) as usize];
    stream.read_exact(&mut body).unwrap();
    body
}

/// A values in the answer section, in order.
pub fn a_values(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// TXT values in the answer section, the character-strings of each record joined.
pub fn txt_values(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// Types of the records in the authority section.
pub fn authority_types(message: &Message) -> Vec<RecordType> {
    message
        .authorities
        .iter()
        .map(|record| record.record_type())
        .collect()
}

/// The reversed-nibble name of an IPv6 address under `zone` (RFC 5782 §2.4).
pub fn nibble_name(addr: Ipv6Addr, zone: &str) -> String {
    let hex = format!("{:032x}", u128::from(addr));
    let mut labels: Vec<String> = hex.chars().rev().map(String::from).collect();
    labels.push(zone.to_string());
    labels.join(".")
}

/// Whether `dig` is installed; CI installs it, a developer machine may not have it.
pub fn dig_available() -> bool {
    Command::new("dig")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `dig @addr -p port ARGS +short` and returns its output lines.
pub fn dig_short(addr: SocketAddr, args: &[&str]) -> Vec<String> {
    let output = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args([
            "-p",
            &addr.port().to_string(),
            "+short",
            "+time=5",
            "+tries=1",
        ])
        .args(args)
        .output()
        .expect("dig runs");
    assert!(output.status.success(), "dig {args:?} failed: {output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}
