//! Real mirror peers from Debian packages, started on free loopback ports in a temporary
//! directory and killed on drop: an rsync daemon (package rsync), rbldnsd (package
//! rbldnsd) and knotd (package knot).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

/// Maximum wait for a peer to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether `program` can be run; CI installs every peer, a developer machine may not.
pub fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Returns whether the test can run, printing why not when a peer is missing outside CI.
pub fn peers_available(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|program| !installed(program))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "peers missing under CI: {missing:?}; .ci/run installs them"
    );
    eprintln!("skipped: {missing:?} not installed (Debian packages rsync, rbldnsd, knot)");
    false
}

/// A port free for both TCP and UDP on 127.0.0.1 at the time of the call.
pub fn free_port() -> u16 {
    for _ in 0..32 {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for TCP and UDP");
}

/// A child process killed on drop.
pub struct Peer {
    child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &'static str, command: &mut Command, log: &Path) -> Peer {
    let log_file = std::fs::File::create(log).unwrap();
    let child = command
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|error| panic!("{name} starts: {error}"));
    Peer { child }
}

/// Starts `rsync --daemon` serving `dir` as module `dnsbl`, with the configuration the
/// deploy/ example uses, and returns it with its port. `dir` is the export directory's
/// `current` symlink, which the daemon resolves once per session.
pub fn rsync_daemon(work: &Path, dir: &Path) -> (Peer, u16) {
    let port = free_port();
    let config = work.join("rsyncd.conf");
    std::fs::write(
        &config,
        format!(
            "use chroot = no\npid file = {pid}\n[dnsbl]\n    path = {dir}\n    read only = yes\n    \
             hosts allow = 127.0.0.1\n    hosts deny = *\n",
            pid = work.join("rsyncd.pid").display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    let peer = spawn(
        "rsync",
        Command::new("rsync")
            .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--config={}", config.display())),
        &work.join("rsyncd.log"),
    );
    wait_for_tcp(port);
    (peer, port)
}

/// Pulls module `dnsbl` into `into` with `rsync -a`, as a mirror does, and returns the
/// names of the files transferred.
pub fn rsync_pull(port: u16, into: &Path) -> Vec<String> {
    let output = Command::new("rsync")
        .args(["-a", "--delete", "--timeout=10", "--out-format=%n"])
        .arg(format!("rsync://127.0.0.1:{port}/dnsbl/"))
        .arg(format!("{}/", into.display()))
        .output()
        .expect("rsync runs");
    assert!(output.status.success(), "rsync pull failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.ends_with('/'))
        .map(str::to_string)
        .collect()
}

/// Starts rbldnsd on the pulled files of `bl.example` and `dbl.example`.
pub fn rbldnsd(work: &Path, data: &Path) -> (Peer, SocketAddr) {
    let port = free_port();
    let peer = spawn(
        "rbldnsd",
        Command::new("rbldnsd")
            .args(["-n", "-q", "-b"])
            .arg(format!("127.0.0.1/{port}"))
            .arg("-w")
            .arg(data)
            .args([
                "bl.example:ip4set:bl.example.ip4set",
                "bl.example:ip6trie:bl.example.ip6trie",
                "dbl.example:dnset:dbl.example.dnset",
            ]),
        &work.join("rbldnsd.log"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_TIMEOUT;
    while soa_serial(addr, "bl.example.").is_none() {
        assert!(
            Instant::now() < deadline,
            "rbldnsd does not answer the SOA of bl.example; log:\n{}",
            log_of(work, "rbldnsd.log")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (peer, addr)
}

/// How knotd gets a zone.
pub enum KnotZone<'a> {
    /// A secondary transferring from `primary`, which may send NOTIFY.
    Secondary { primary: SocketAddr },
    /// A master file loaded from disk.
    File(&'a Path),
}

/// Starts knotd with a generated configuration serving `zones`, and waits until it
/// answers the SOA of each.
pub fn knotd(work: &Path, port: u16, zones: &[(&str, KnotZone)]) -> (Peer, SocketAddr) {
    let run = work.join("knot");
    std::fs::create_dir_all(run.join("db")).unwrap();
    let mut config = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {run}\n\
         database:\n    storage: {db}\n\
         log:\n  - target: stderr\n    any: info\n",
        run = run.display(),
        db = run.join("db").display(),
    );
    let mut remotes = String::new();
    let mut zone_lines = String::new();
    for (index, (apex, zone)) in zones.iter().enumerate() {
        match zone {
            KnotZone::Secondary { primary } => {
                remotes.push_str(&format!(
                    "  - id: primary{index}\n    address: {}@{}\n",
                    primary.ip(),
                    primary.port()
                ));
                zone_lines.push_str(&format!(
                    "  - domain: {apex}\n    storage: {run}\n    file: {apex}.secondary\n    \
                     master: primary{index}\n    acl: notify{index}\n",
                    run = run.display(),
                ));
            }
            KnotZone::File(path) => {
                zone_lines.push_str(&format!(
                    "  - domain: {apex}\n    file: {}\n    zonefile-sync: -1\n    \
                     zonefile-load: whole\n    journal-content: none\n",
                    path.display()
                ));
            }
        }
    }
    let mut acls = String::new();
    for (index, (_, zone)) in zones.iter().enumerate() {
        if let KnotZone::Secondary { primary } = zone {
            acls.push_str(&format!(
                "  - id: notify{index}\n    address: {}\n    action: notify\n",
                primary.ip()
            ));
        }
    }
    if !remotes.is_empty() {
        config.push_str(&format!("remote:\n{remotes}acl:\n{acls}"));
    }
    config.push_str(&format!("zone:\n{zone_lines}"));
    let config_path = work.join("knot.conf");
    std::fs::write(&config_path, config).unwrap();
    let peer = spawn(
        "knotd",
        Command::new("knotd").arg("-c").arg(&config_path),
        &work.join("knotd.log"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for (apex, _) in zones {
        let deadline = Instant::now() + START_TIMEOUT;
        while soa_serial(addr, &format!("{apex}.")).is_none() {
            assert!(
                Instant::now() < deadline,
                "knotd does not answer the SOA of {apex}; configuration:\n{}\nlog:\n{}",
                log_of(work, "knot.conf"),
                log_of(work, "knotd.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    (peer, addr)
}

/// The log file `name` of a peer in `work`, for failure messages.
pub fn log_of(work: &Path, name: &str) -> String {
    std::fs::read_to_string(work.join(name)).unwrap_or_default()
}

fn wait_for_tcp(port: u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on TCP port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The SOA serial `addr` answers for `apex`, or `None` when it does not answer one.
pub fn soa_serial(addr: SocketAddr, apex: &str) -> Option<u32> {
    let socket = UdpSocket::bind("127.0.0.1:0").ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut message = Message::query();
    message.add_query(Query::query(Name::from_ascii(apex).ok()?, RecordType::SOA));
    socket.send_to(&message.to_vec().ok()?, addr).ok()?;
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).ok()?;
    let response = Message::from_vec(&buffer[..len]).ok()?;
    response
        .answers
        .iter()
        .find_map(|record| match &record.data {
            hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
}

/// A temporary directory path joined with `name`, created.
pub fn subdir(root: &Path, name: &str) -> PathBuf {
    let path = root.join(name);
    std::fs::create_dir_all(&path).unwrap();
    path
}
