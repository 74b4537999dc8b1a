//! Progress bars of `dnsbl ingest` and `dnsbl export`: drawn on a terminal, with log lines
//! never on the same line as the bar, and absent when stderr is a pipe.
//!
//! The terminal is a pseudo-terminal from `script` (Debian package bsdutils, which every
//! Debian system has).

use std::path::Path;
use std::process::Command;

use crate::mail::installed;
use crate::support::{binary, repo_zones};

/// Lists the bundled routing data files.
fn bundled_data() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo_zones().join("data"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .collect();
    files.sort();
    files
}

/// Returns the arguments of an ingest of the bundled data into `db`.
fn ingest_args(db: &Path) -> Vec<String> {
    let mut args = vec![
        "ingest".to_string(),
        "--zones".to_string(),
        repo_zones().display().to_string(),
        "--db".to_string(),
        db.display().to_string(),
        "--asn-data".to_string(),
    ];
    args.extend(bundled_data().iter().map(|path| path.display().to_string()));
    args
}

fn export_args(db: &Path, dir: &Path) -> Vec<String> {
    vec![
        "export".to_string(),
        "--zones".to_string(),
        repo_zones().display().to_string(),
        "--db".to_string(),
        db.display().to_string(),
        "--dir".to_string(),
        dir.display().to_string(),
    ]
}

/// Runs dnsbl with `args` on a pseudo-terminal and returns everything it wrote there.
fn run_on_terminal(args: &[String]) -> String {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_dnsbl").to_string())
        .chain(args.iter().cloned())
        .map(|arg| format!("'{}'", arg.replace('\'', "'\\''")))
        .collect();
    let output = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(quoted.join(" "))
        .arg("/dev/null")
        .env("RUST_LOG", "info")
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "dnsbl {args:?} failed:\n{text}");
    text
}

/// Splits terminal output into the pieces a terminal shows on separate lines.
fn screen_lines(text: &str) -> Vec<&str> {
    text.split(['\r', '\n']).collect()
}

/// Checks that a bar with `bar_text` was drawn and that no piece of the output contains both a
/// log line and the bar.
fn assert_bar_apart_from_logs(text: &str, bar_text: &str, log_text: &str) {
    let lines = screen_lines(text);
    assert!(
        lines.iter().any(|line| line.contains(bar_text)),
        "no progress bar with {bar_text:?}:\n{text}"
    );
    let log_lines: Vec<&&str> = lines.iter().filter(|line| line.contains("INFO")).collect();
    assert!(
        log_lines.iter().any(|line| line.contains(log_text)),
        "no log line with {log_text:?}:\n{text}"
    );
    for line in log_lines {
        assert!(
            !line.contains(bar_text),
            "a log line contains the bar: {line:?}"
        );
    }
}

#[test]
fn ingest_and_export_draw_bars_on_terminal() {
    if !installed("script", "bsdutils") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");

    let text = run_on_terminal(&ingest_args(&db));
    assert_bar_apart_from_logs(&text, "reading routing data [", "ingest finished");
    assert!(
        text.contains("routing rows from"),
        "summary printed:\n{text}"
    );

    let text = run_on_terminal(&export_args(&db, &dir.path().join("export")));
    assert_bar_apart_from_logs(&text, "building the records of", "export written");
    assert!(
        text.contains("bl.example.zone"),
        "file list printed:\n{text}"
    );
}

#[test]
fn no_bars_without_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let runs = [
        ingest_args(&db),
        export_args(&db, &dir.path().join("export")),
    ];
    for args in runs {
        let output = binary()
            .args(&args)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        assert!(output.status.success(), "dnsbl {args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.is_empty(), "log lines on stderr");
        for line in stderr.lines() {
            assert!(line.contains(" INFO "), "only log lines: {line:?}");
            assert!(!line.contains('\r'), "no carriage return: {line:?}");
            assert!(!line.contains('\x1b'), "no escape sequence: {line:?}");
        }
    }
}
