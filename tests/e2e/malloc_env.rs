//! `dnsbl serve` executes itself again with glibc's malloc settings unless the caller
//! chose them.

use std::collections::HashMap;

use crate::support::{Server, binary, repo_zones};

const MALLOC_VARIABLES: [&str; 4] = [
    "MALLOC_ARENA_MAX",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "GLIBC_TUNABLES",
];

/// Returns the environment of process `pid` as `/proc/PID/environ` shows it.
fn environment(pid: u32) -> HashMap<String, String> {
    let bytes = std::fs::read(format!("/proc/{pid}/environ")).expect("environ is readable");
    bytes
        .split(|&byte| byte == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (name, value) = entry.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Starts the server on the repository's zones with the malloc variables removed, then
/// `set` added, and returns the server's environment.
fn serve_environment(set: &[(&str, &str)]) -> HashMap<String, String> {
    let temp = tempfile::tempdir().unwrap();
    let mut command = binary();
    for name in MALLOC_VARIABLES {
        command.env_remove(name);
    }
    command.envs(set.iter().copied());
    let server = Server::start_command(
        command,
        &repo_zones(),
        &temp.path().join("dnsbl.sqlite"),
        &[],
    );
    environment(server.pid())
}

#[test]
#[cfg(target_env = "gnu")]
fn malloc_settings_added_when_unset() {
    let environment = serve_environment(&[]);
    for (name, value) in [
        ("MALLOC_ARENA_MAX", "1"),
        ("MALLOC_TRIM_THRESHOLD_", "131072"),
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ] {
        assert_eq!(
            environment.get(name).map(String::as_str),
            Some(value),
            "{name}"
        );
    }
}

#[test]
fn malloc_settings_of_caller_kept() {
    let environment = serve_environment(&[("MALLOC_ARENA_MAX", "4")]);
    assert_eq!(
        environment.get("MALLOC_ARENA_MAX").map(String::as_str),
        Some("4")
    );
    assert_eq!(environment.get("MALLOC_MMAP_THRESHOLD_"), None);
    assert_eq!(environment.get("MALLOC_TRIM_THRESHOLD_"), None);
}
