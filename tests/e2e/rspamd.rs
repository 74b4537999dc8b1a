//! rspamd scoring with deploy/rspamd/rbl.conf and deploy/rspamd/rbl_group.conf, asking
//! dnsbl through Unbound, and rspamc submitting the messages.
//!
//! The configuration is generated in a temporary directory and loads only the rbl plugin
//! (and the DKIM module the domain rule depends on), so no other rule sends a request
//! anywhere. The shipped configuration would fetch maps over HTTPS. The snippets are
//! included where the shipped rspamd.conf includes local.d/rbl.conf and
//! local.d/rbl_group.conf. A short list of public suffixes and no Hyperscan keep the
//! start near one second.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mail::{Unbound, free_port, installed, terminate};
use crate::postfix::is_root;
use crate::support::{Server, repo_zones};

/// The rbl plugin of the Debian package rspamd.
const RBL_PLUGIN: &str = "/usr/share/rspamd/plugins/rbl.lua";

/// Maximum wait for the rspamd worker to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running rspamd main process with one normal worker, stopped on drop.
struct Rspamd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Rspamd {
    fn start(resolver: std::net::SocketAddr) -> Rspamd {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let plugins = root.join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::os::unix::fs::symlink(RBL_PLUGIN, plugins.join("rbl.lua")).unwrap();
        std::fs::write(root.join("tld.dat"), "com\nnet\norg\nexample\n").unwrap();

        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rspamd");
        let port = free_port();
        let config = format!(
            "options {{\n\
             \x20 pidfile = \"{root}/rspamd.pid\";\n\
             \x20 url_tld = \"{root}/tld.dat\";\n\
             \x20 disable_hyperscan = true;\n\
             \x20 dns {{ nameserver = [\"{resolver}\"]; timeout = 2s; retransmits = 2; }}\n\
             }}\n\
             logging {{ type = \"file\"; filename = \"{root}/rspamd.log\"; level = \"info\"; }}\n\
             worker \"normal\" {{ bind_socket = \"127.0.0.1:{port}\"; count = 1; }}\n\
             modules {{ path = \"{plugins}\"; }}\n\
             actions {{ reject = 15; add_header = 6; }}\n\
             dkim {{ }}\n\
             group \"rbl\" {{ .include \"{deploy}/rbl_group.conf\" }}\n\
             rbl {{ .include \"{deploy}/rbl.conf\" }}\n",
            root = root.display(),
            plugins = plugins.display(),
            deploy = deploy.display(),
        );
        let config_path = root.join("rspamd.conf");
        std::fs::write(&config_path, config).unwrap();

        let check = Command::new("rspamadm")
            .args(["configtest", "-c"])
            .arg(&config_path)
            .output()
            .expect("rspamadm runs");
        let check_output = String::from_utf8_lossy(&check.stdout).into_owned()
            + &String::from_utf8_lossy(&check.stderr);
        // rspamadm exits 0 even when it disables a rule with invalid settings.
        assert!(
            check.status.success() && !check_output.contains("invalid config"),
            "rspamadm configtest rejected the configuration:\n{check_output}"
        );

        let mut command = Command::new("rspamd");
        command.arg("--no-fork").arg("-c").arg(&config_path);
        if is_root() {
            // rspamd refuses to run its workers as root without this.
            command.arg("--insecure");
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rspamd starts");
        let mut rspamd = Rspamd { child, port, dir };
        rspamd.wait_until_listening();
        rspamd
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rspamd exited at start: {status}\n{}", self.log());
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "rspamd did not listen within {START_TIMEOUT:?}\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rspamd.log")).unwrap_or_default()
    }

    /// Scans `message` as received from `client` and returns the `Symbol:` lines of the
    /// dnsbl rules, as rspamc prints them.
    fn dnsbl_symbols(&self, client: &str, message: &str) -> Vec<String> {
        let path = self.dir.path().join("message.eml");
        std::fs::write(&path, message).unwrap();
        let output = Command::new("rspamc")
            .args(["-h", &format!("127.0.0.1:{}", self.port)])
            .args(["--ip", client, "--timeout", "10"])
            .arg(&path)
            .output()
            .expect("rspamc runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success() && stdout.contains("Score:"),
            "rspamc failed for {client}:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log()
        );
        stdout
            .lines()
            .filter(|line| {
                line.starts_with("Symbol: RBL_DNSBL") || line.starts_with("Symbol: DBL_DNSBL")
            })
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Rspamd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

fn message(body: &str) -> String {
    message_via("", body)
}

/// A message with `received` (Received header fields, each ending in a newline) on top.
fn message_via(received: &str, body: &str) -> String {
    format!(
        "{received}From: sender@example.org\n\
         To: postmaster@example.net\n\
         Subject: quarterly report\n\
         Date: Fri, 4 Dec 2026 10:00:00 +0000\n\
         Message-ID: <report-1@example.org>\n\
         \n\
         {body}\n"
    )
}

#[test]
fn rspamd_scores_listed_clients_and_domains() {
    if !installed("rspamd", "rspamd") || !installed("unbound", "unbound") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let unbound = Unbound::start(server.addr);
    let rspamd = Rspamd::start(unbound.addr);

    let plain = message("The report is attached.");
    let with_address = message("Questions go to billing@mail.hostgator.com.");
    // The client is unlisted, but the relay before it is listed.
    let relayed = message_via(
        "Received: from relay.example.org (relay.example.org [5.10.128.0])\n\
         \tby mx.example.net with ESMTP; Fri, 4 Dec 2026 10:00:01 +0000\n\
         Received: from origin.example.org (origin.example.org [5.10.100.7])\n\
         \tby relay.example.org with ESMTP; Fri, 4 Dec 2026 10:00:00 +0000\n",
        "The report is attached.",
    );
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "5.10.100.7",
            &plain,
            &["Symbol: RBL_DNSBL_PROVIDER (4.00)[5.10.100.7:from]"],
        ),
        ("192.0.2.10", &plain, &[]),
        // Just outside the IBM Cloud range 5.10.96.0-5.10.127.255.
        ("5.10.128.0", &plain, &[]),
        (
            "5.10.128.0",
            &with_address,
            &["Symbol: DBL_DNSBL_PROVIDER (4.00)[hostgator.com:email]"],
        ),
        (
            "5.10.100.7",
            &with_address,
            &[
                "Symbol: DBL_DNSBL_PROVIDER (4.00)[hostgator.com:email]",
                "Symbol: RBL_DNSBL_PROVIDER (4.00)[5.10.100.7:from]",
            ],
        ),
        (
            "5.10.128.0",
            &relayed,
            &["Symbol: RBL_DNSBL_PROVIDER (4.00)[5.10.100.7:received]"],
        ),
    ];
    for (client, message, expected) in cases {
        assert_eq!(
            rspamd.dnsbl_symbols(client, message),
            expected,
            "client {client}, message {message:?}"
        );
    }
}
