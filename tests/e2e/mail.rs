//! Running the Debian packages mail operators put in front of dnsbl: Unbound as the
//! recursive resolver, with the stub zones of deploy/unbound/dnsbl.conf. Each instance has
//! its own configuration in a temporary directory and listens on loopback only.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::query_message;

/// Maximum wait for Unbound or Postfix to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Returns whether `program` can be run. When it cannot, prints a skip message naming the
/// Debian package, or panics under CI (`CI` set), where `.ci/run` installs every package.
pub fn installed(program: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install {program} (Debian package {package})"
        );
        eprintln!("{program} is not installed (Debian package {package}); skipping");
    }
    found
}

/// The text of a file under the repository's deploy/ directory.
pub fn deploy_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A loopback port free for both UDP and TCP at the time of the call.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Runs a command to completion and panics with its output if it fails.
pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sends SIGTERM, so that a daemon stops the processes it started, then reaps it.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// One UDP query with a short timeout; `None` when nothing came back.
pub fn try_query(addr: SocketAddr, name: &str, rtype: RecordType) -> Option<Message> {
    let socket = UdpSocket::bind((addr.ip(), 0)).ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let request = query_message(name, rtype);
    socket.send_to(&request.to_vec().unwrap(), addr).ok()?;
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).ok()?;
    Message::from_vec(&buffer[..len]).ok()
}

/// A running Unbound, stopped on drop.
pub struct Unbound {
    child: Child,
    /// Where it answers on a high port, for clients that take a port.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Unbound {
    /// Starts Unbound with deploy/unbound/dnsbl.conf pointing at the dnsbl server `dnsbl`.
    pub fn start(dnsbl: SocketAddr) -> Unbound {
        Unbound::start_inner(dnsbl, None)
    }

    /// Like [`Unbound::start`], and also listening on `addr:53`. Binding port 53 needs
    /// root; the address is one of 127.0.0.0/8 so that nothing else on the machine is
    /// taken.
    pub fn start_with_port_53(dnsbl: SocketAddr, addr: Ipv4Addr) -> Unbound {
        Unbound::start_inner(dnsbl, Some(addr))
    }

    fn start_inner(dnsbl: SocketAddr, addr_53: Option<Ipv4Addr>) -> Unbound {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let stub = deploy_file("unbound/dnsbl.conf").replace(
            "stub-addr: 127.0.0.1@5300",
            &format!("stub-addr: {}@{}", dnsbl.ip(), dnsbl.port()),
        );
        assert!(
            stub.contains(&format!("@{}", dnsbl.port())),
            "stub-addr substituted"
        );
        let snippet = dir.path().join("dnsbl.conf");
        std::fs::write(&snippet, stub).unwrap();
        let extra_interface = addr_53
            .map(|addr| format!("    interface: {addr}@53\n"))
            .unwrap_or_default();
        // The root stub zone keeps every query on loopback: a name outside the DNSBL
        // zones goes to dnsbl too, which refuses it, instead of to the root servers.
        let config = format!(
            "server:\n\
             \x20   interface: 127.0.0.1@{port}\n\
             {extra_interface}\
             \x20   access-control: 127.0.0.0/8 allow\n\
             \x20   do-daemonize: no\n\
             \x20   username: \"\"\n\
             \x20   chroot: \"\"\n\
             \x20   directory: \"{dir}\"\n\
             \x20   pidfile: \"\"\n\
             \x20   use-syslog: no\n\
             \x20   logfile: \"\"\n\
             \x20   verbosity: 0\n\
             \x20   module-config: \"iterator\"\n\
             \x20   qname-minimisation: yes\n\
             \x20   harden-below-nxdomain: yes\n\
             \x20   num-threads: 1\n\
             stub-zone:\n\
             \x20   name: \".\"\n\
             \x20   stub-addr: {dnsbl_ip}@{dnsbl_port}\n\
             include: \"{snippet}\"\n",
            dir = dir.path().display(),
            dnsbl_ip = dnsbl.ip(),
            dnsbl_port = dnsbl.port(),
            snippet = snippet.display(),
        );
        let config_path = dir.path().join("unbound.conf");
        std::fs::write(&config_path, config).unwrap();
        run(Command::new("unbound-checkconf").arg(&config_path));
        let child = Command::new("unbound")
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unbound starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut unbound = Unbound {
            child,
            addr,
            _dir: dir,
        };
        unbound.wait_until_answering();
        unbound
    }

    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("unbound exited at start: {status}");
            }
            if try_query(self.addr, "bl.example", RecordType::SOA).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("unbound did not answer within {START_TIMEOUT:?}");
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}
