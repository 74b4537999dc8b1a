//! Bearer tokens never reach the logs: the server runs with every log level on, takes
//! requests with a valid and an invalid token, and its whole stderr is searched for them.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::http::request;
use crate::support::{binary, field, repo_zones};

#[test]
fn tokens_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let created = binary()
        .args([
            "token", "create", "--name", "ops", "--role", "admin", "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.len() >= 32, "token {token:?} is short");
    let create_stderr = String::from_utf8_lossy(&created.stderr);
    assert!(
        !create_stderr.contains(&token),
        "token create logged the token"
    );
    // A wrong token that differs from the real one in its last character.
    let mut wrong = token.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'a' { 'b' } else { 'a' });

    let mut child = binary()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(&db)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = sender.send(line);
        }
    });
    let admin = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(90))
            .expect("the server logs its admin address");
        if line.contains("admin API listening")
            && let Some(address) = field(&line, "address")
        {
            break address.trim_matches('"').parse().unwrap();
        }
    };

    let body = r#"{"name":"secret-test","category":"bad-service-provider","netblocks":["198.51.100.0/24"]}"#;
    let write = request(admin, "POST", "/v1/providers", Some(&token), Some(body));
    assert_eq!(write.status, 201, "{}", write.body);
    let read = request(admin, "GET", "/v1/providers?limit=1", Some(&token), None);
    assert_eq!(read.status, 200, "{}", read.body);
    let denied = request(admin, "GET", "/v1/providers", Some(&wrong), None);
    assert_eq!(denied.status, 401, "{}", denied.body);
    let oversized = "x".repeat(2 * 1024 * 1024);
    let too_large = request(
        admin,
        "POST",
        "/v1/providers",
        Some(&token),
        Some(&oversized),
    );
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    let metrics = request(admin, "GET", "/metrics", Some(&token), None);
    assert!(
        metrics.body.contains("dnsbl_admin_failed_auth_total 1"),
        "{}",
        metrics.body
    );

    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let log: Vec<String> = lines.try_iter().collect();
    assert!(
        log.len() > 10,
        "trace logging wrote only {} lines",
        log.len()
    );
    for line in &log {
        assert!(!line.contains(&token), "the token is logged: {line}");
        assert!(!line.contains(&wrong), "the wrong token is logged: {line}");
        assert!(
            !line.contains("Bearer"),
            "an Authorization header is logged: {line}"
        );
    }
}
