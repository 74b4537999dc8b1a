//! Exim rejecting listed clients and sender domains with the ACL statements of
//! deploy/exim/dnsbl.conf, asking dnsbl through Unbound.
//!
//! Exim runs in host checking mode (`exim4 -bh ADDRESS`): a complete SMTP session on
//! standard input, with the ACLs, DNS lookups and replies of a real connection from
//! ADDRESS. A daemon on loopback could only be reached from 127.0.0.0/8 addresses, and
//! Exim 4.96 has no XCLIENT to pretend otherwise. Like Postfix, Exim reads its resolvers
//! from /etc/resolv.conf, so it runs in its own mount namespace with a generated file
//! bind-mounted there (see postfix.rs), naming an Unbound on port 53 of a free loopback
//! address. Needs root.
//!
//! The Debian package exim4-daemon-light conflicts with postfix, so `.ci/run` unpacks its
//! binary into [`UNPACKED_EXIM`] instead of installing it. An installed `exim4` on the
//! PATH is used first. The binary looks up its compiled-in user Debian-exim at start,
//! which `.ci/run` creates when missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::mail::{Unbound, deploy_file, installed};
use crate::postfix::{free_address_for_port_53, is_root};
use crate::support::{Server, repo_zones};

/// Where `.ci/run` unpacks the exim4 binary of exim4-daemon-light.
const UNPACKED_EXIM: &str = "/opt/dnsbl-test/exim4/usr/sbin/exim4";

/// Returns the exim4 binary to run, or `None` (with a skip message) when there is none
/// or the test cannot run as this user. Under CI a missing binary fails the test.
fn exim_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("exim4"))
            .find(|candidate| candidate.is_file())
    });
    let binary = on_path.or_else(|| Some(PathBuf::from(UNPACKED_EXIM)).filter(|p| p.is_file()));
    let Some(binary) = binary else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must unpack exim4-daemon-light into {UNPACKED_EXIM}"
        );
        eprintln!("exim4 is not installed (Debian package exim4-daemon-light); skipping");
        return None;
    };
    if !installed("unbound", "unbound") {
        return None;
    }
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Exim test needs root under CI"
        );
        eprintln!("the Exim test needs root for its mount namespace; skipping");
        return None;
    }
    Some(binary)
}

/// Writes an Exim configuration whose RCPT ACL is the deploy/ snippet followed by an
/// accept for the local domain, and returns its path.
fn write_config(dir: &Path) -> PathBuf {
    let config = format!(
        "primary_hostname = mx.example.net\n\
         domainlist local_domains = example.net\n\
         spool_directory = {root}/spool\n\
         log_file_path = {root}/%slog\n\
         keep_environment =\n\
         acl_smtp_rcpt = acl_check_rcpt\n\
         \n\
         begin acl\n\
         \n\
         acl_check_rcpt:\n\
         {snippet}\n\
         \x20 accept  domains = +local_domains\n\
         \x20 deny    message = relay not permitted\n",
        root = dir.display(),
        snippet = deploy_file("exim/dnsbl.conf"),
    );
    let path = dir.join("exim.conf");
    std::fs::write(&path, config).unwrap();
    path
}

/// Runs one SMTP session from `client` with sender `sender` and returns Exim's reply to
/// RCPT TO.
fn rcpt_reply(
    exim: &Path,
    config: &Path,
    resolv_conf: &Path,
    client: &str,
    sender: &str,
) -> String {
    let mut child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$1\" /etc/resolv.conf && exec \"$2\" -C \"$3\" -bh \"$4\"")
        .arg("sh")
        .arg(resolv_conf)
        .arg(exim)
        .arg(config)
        .arg(client)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare starts");
    let session = format!(
        "EHLO client.example.org\r\n\
         MAIL FROM:<{sender}>\r\n\
         RCPT TO:<postmaster@example.net>\r\n\
         QUIT\r\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(session.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // The replies in order: greeting, EHLO, MAIL, RCPT, QUIT.
    let replies = smtp_replies(&stdout);
    assert_eq!(
        replies.len(),
        5,
        "one reply per command from {client}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    replies[3].clone()
}

/// Splits SMTP output into replies. The lines of a multi-line reply (`550-text`, then
/// `550 text`) are joined with a space, because Exim wraps a long message at a space.
fn smtp_replies(output: &str) -> Vec<String> {
    let mut replies = Vec::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        let (Some(code), Some(separator)) = (line.get(..3), line.get(3..4)) else {
            continue;
        };
        let text = &line[4..];
        match current.as_mut() {
            Some(reply) => {
                reply.push(' ');
                reply.push_str(text);
            }
            None => current = Some(format!("{code} {text}")),
        }
        if separator == " " {
            replies.extend(current.take());
        }
    }
    replies
}

#[test]
fn exim_rejects_listed_clients_and_senders() {
    let Some(exim) = exim_binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let resolver = free_address_for_port_53();
    let _unbound = Unbound::start_with_port_53(server.addr, resolver);
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!("nameserver {resolver}\noptions timeout:2 attempts:2\n"),
    )
    .unwrap();
    let config = write_config(dir.path());

    let cases = [
        (
            "5.10.100.7",
            "sender@example.org",
            "550 5.10.100.7 is listed in bl.example: 5.10.100.7 is listed: SoftLayer \
             Technologies Inc. (AS36351) is a hosting provider that sends spam to its customers",
        ),
        ("192.0.2.10", "sender@example.org", "250 Accepted"),
        // Just outside the IBM Cloud range 5.10.96.0-5.10.127.255.
        ("5.10.128.0", "sender@example.org", "250 Accepted"),
        (
            "192.0.2.10",
            "billing@mail.hostgator.com",
            "550 sender domain mail.hostgator.com is listed in dbl.example: \
             mail.hostgator.com is listed: hostgator.com (hostgator.com) is a hosting provider \
             that sends spam to its customers",
        ),
    ];
    for (client, sender, expected) in cases {
        assert_eq!(
            rcpt_reply(&exim, &config, &resolv_conf, client, sender),
            expected,
            "client {client}, sender {sender}"
        );
    }
}
