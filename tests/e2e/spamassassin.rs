//! SpamAssassin scoring with the rules of deploy/spamassassin/dnsbl.cf, asking dnsbl
//! through Unbound (`dns_server`). The rules directory holds only those rules and the
//! two plugins they need, so no other network test runs.

use std::process::{Command, Stdio};

use crate::mail::{Unbound, installed};
use crate::support::{Server, repo_zones};

/// A message whose only relay outside the trusted loopback is `relay`.
fn message(relay: &str) -> String {
    format!(
        "Received: from relay.example.org (relay.example.org [{relay}])\n\
         \tby mx.example.net (Postfix) with ESMTP id 4D1A2B3C\n\
         \tfor <postmaster@example.net>; Fri, 4 Dec 2026 10:00:00 +0000 (UTC)\n\
         From: sender@example.org\n\
         To: postmaster@example.net\n\
         Subject: quarterly report\n\
         Date: Fri, 4 Dec 2026 10:00:00 +0000\n\
         Message-ID: <report-1@example.org>\n\
         \n\
         The report is attached.\n"
    )
}

/// The X-Spam-Status header SpamAssassin adds, unfolded.
fn spam_status(rules: &std::path::Path, site: &std::path::Path, relay: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("spamassassin")
        .arg("--nocreate-prefs")
        .arg(format!("--configpath={}", rules.display()))
        .arg(format!("--siteconfigpath={}", site.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spamassassin starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message(relay).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "spamassassin failed: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut status = String::new();
    for line in text
        .lines()
        .skip_while(|l| !l.starts_with("X-Spam-Status:"))
    {
        if status.is_empty() {
            status.push_str(line.trim_start_matches("X-Spam-Status:").trim());
        } else if line.starts_with([' ', '\t']) {
            status.push(' ');
            status.push_str(line.trim());
        } else {
            break;
        }
    }
    assert!(
        !status.is_empty(),
        "no X-Spam-Status header in:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    status
}

#[test]
fn spamassassin_scores_mail_from_a_listed_relay() {
    if !installed("spamassassin", "spamassassin") || !installed("unbound", "unbound") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &dir.path().join("dnsbl.sqlite"));
    let unbound = Unbound::start(server.addr);

    let rules = dir.path().join("rules");
    let site = dir.path().join("site");
    std::fs::create_dir(&rules).unwrap();
    std::fs::create_dir(&site).unwrap();
    std::fs::write(
        rules.join("00_plugins.cf"),
        "loadplugin Mail::SpamAssassin::Plugin::Check\n\
         loadplugin Mail::SpamAssassin::Plugin::DNSEval\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("dnsbl.cf"),
        crate::mail::deploy_file("spamassassin/dnsbl.cf"),
    )
    .unwrap();
    std::fs::write(
        site.join("local.cf"),
        format!(
            "dns_available yes\n\
             dns_server {}\n\
             required_score 5.0\n\
             report_safe 0\n\
             clear_headers\n\
             add_header all Status \"_YESNO_, score=_SCORE_ required=_REQD_ tests=_TESTS_\"\n\
             util_rb_tld net org com\n",
            unbound.addr
        ),
    )
    .unwrap();

    assert_eq!(
        spam_status(&rules, &site, "5.10.100.7"),
        "Yes, score=5.0 required=5.0 tests=RCVD_IN_DNSBL, RCVD_IN_DNSBL_PROVIDER"
    );
    assert_eq!(
        spam_status(&rules, &site, "192.0.2.10"),
        "No, score=0.0 required=5.0 tests=none"
    );
}
