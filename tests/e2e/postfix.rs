//! Postfix rejecting listed clients and senders with deploy/postfix/main.cf.snippet,
//! asking dnsbl through Unbound, driven by swaks.
//!
//! Postfix resolves names with the C library, which reads the resolvers from
//! /etc/resolv.conf and has no setting for another file or a port. The test leaves the
//! machine's file alone: it starts the Postfix master in its own mount namespace
//! (`unshare --mount`, private propagation) where a generated resolv.conf is bind-mounted
//! over /etc/resolv.conf, naming an Unbound that listens on port 53 of an otherwise
//! unused address in 127.0.0.0/8. Postfix's own configuration, queue and log live in a
//! temporary directory (`master -c DIR -d`, in the foreground). Needs root, as Postfix
//! itself does.

use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mail::{Unbound, deploy_file, free_port, installed, run, terminate};
use crate::support::{Server, repo_zones};

const MASTER: &str = "/usr/lib/postfix/sbin/master";

/// The services a Postfix instance needs to take a message, none of them chrooted.
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// An address in 127.0.0.0/8 whose port 53 is free, for a resolv.conf entry.
pub fn free_address_for_port_53() -> Ipv4Addr {
    let seed = std::process::id();
    for attempt in 0..200u32 {
        let n = seed.wrapping_add(attempt.wrapping_mul(7919));
        let addr = Ipv4Addr::new(127, 53, (n >> 8) as u8, (n as u8).max(1));
        let udp = UdpSocket::bind((addr, 53));
        let tcp = std::net::TcpListener::bind((addr, 53));
        if udp.is_ok() && tcp.is_ok() {
            return addr;
        }
    }
    panic!("no address in 127.53.0.0/16 has port 53 free");
}

/// A Postfix master in its own mount namespace, stopped on drop.
struct Postfix {
    master: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Postfix {
    fn start(resolver: Ipv4Addr) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Postfix's unprivileged processes must reach the queue and the log.
        run(Command::new("chmod").arg("755").arg(root));
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        run(Command::new("chown").arg("postfix").arg(root.join("data")));
        let port = free_port();
        let main_cf = format!(
            "compatibility_level = 3.7\n\
             queue_directory = {root}/queue\n\
             data_directory = {root}/data\n\
             maillog_file = {root}/maillog\n\
             maillog_file_prefixes = {root}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = mx.example.net\n\
             mydomain = example.net\n\
             mydestination = example.net\n\
             local_recipient_maps =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             smtpd_authorized_xclient_hosts = 127.0.0.0/8\n\
             \n{snippet}",
            root = root.display(),
            snippet = deploy_file("postfix/main.cf.snippet"),
        );
        std::fs::write(root.join("etc/main.cf"), main_cf).unwrap();
        let master_cf = format!("127.0.0.1:{port} inet n - n - - smtpd\n{MASTER_CF}");
        std::fs::write(root.join("etc/master.cf"), master_cf).unwrap();
        std::fs::write(
            root.join("resolv.conf"),
            format!("nameserver {resolver}\noptions timeout:2 attempts:2\n"),
        )
        .unwrap();
        // Creates the queue directories with their owners and checks the configuration.
        run(Command::new("postfix")
            .arg("-c")
            .arg(root.join("etc"))
            .arg("check"));
        let master = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount --bind \"$1\" /etc/resolv.conf && exec \"$2\" -c \"$3\" -d")
            .arg("sh")
            .arg(root.join("resolv.conf"))
            .arg(MASTER)
            .arg(root.join("etc"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare starts");
        let mut postfix = Postfix { master, port, dir };
        postfix.wait_until_listening();
        postfix
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.master.try_wait() {
                panic!("postfix master exited at start: {status}\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postfix did not listen within 20 s\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// One SMTP session up to RCPT TO, the client address set with XCLIENT; returns
    /// the server's reply to RCPT TO (or to the first command it refused).
    fn rcpt_reply(&self, client: &str, sender: &str) -> String {
        let output = Command::new("swaks")
            .args(["--server", &format!("127.0.0.1:{}", self.port)])
            .args(["--xclient-addr", client])
            .args(["--from", sender, "--to", "postmaster@example.net"])
            .args(["--quit-after", "RCPT", "--timeout", "20"])
            .output()
            .expect("swaks runs");
        let transcript = String::from_utf8_lossy(&output.stdout).into_owned();
        transcript
            .lines()
            .skip_while(|line| !line.contains("RCPT TO:"))
            .nth(1)
            .map(|line| line.trim_start_matches(['<', '*', '-', ' ']).to_string())
            .unwrap_or_else(|| {
                panic!(
                    "no reply to RCPT TO in the swaks transcript:\n{transcript}\n{}\n{}",
                    String::from_utf8_lossy(&output.stderr),
                    self.log()
                )
            })
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        terminate(&mut self.master);
    }
}

fn postfix_available() -> bool {
    let tools = installed("postfix", "postfix")
        && installed("swaks", "swaks")
        && installed("unbound", "unbound");
    if !tools || !Path::new(MASTER).exists() {
        return false;
    }
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Postfix test needs root under CI"
        );
        eprintln!("Postfix needs root to start; skipping");
        return false;
    }
    true
}

#[test]
fn postfix_rejects_listed_clients_and_senders() {
    if !postfix_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let resolver = free_address_for_port_53();
    let _unbound = Unbound::start_with_port_53(server.addr, resolver);
    let postfix = Postfix::start(resolver);

    let cases = [
        (
            "5.10.100.7",
            "sender@example.org",
            "554 5.7.1 Service unavailable; Client host [5.10.100.7] blocked using bl.example; \
             5.10.100.7 is listed: SoftLayer Technologies Inc. (AS36351) is a hosting provider \
             that sends spam to its customers",
        ),
        ("192.0.2.10", "sender@example.org", "250 2.1.5 Ok"),
        // Just outside the IBM Cloud range 5.10.96.0-5.10.127.255.
        ("5.10.128.0", "sender@example.org", "250 2.1.5 Ok"),
        (
            "192.0.2.10",
            "billing@mail.hostgator.com",
            "554 5.7.1 Service unavailable; Sender address [billing@mail.hostgator.com] blocked \
             using dbl.example; mail.hostgator.com is listed: hostgator.com (hostgator.com) is a \
             hosting provider that sends spam to its customers",
        ),
    ];
    for (client, sender, expected) in cases {
        assert_eq!(
            postfix.rcpt_reply(client, sender),
            expected,
            "client {client}, sender {sender}"
        );
    }
}
