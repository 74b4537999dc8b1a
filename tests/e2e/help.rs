//! `dnsbl --help` and the help of every subcommand: each exits 0, each option has a
//! description, and each optional option states its default.

use crate::support::binary;

/// Every subcommand path, with default values its help must show.
const COMMANDS: [(&[&str], &[&str]); 10] = [
    (&[], &["[default: text]"]),
    (
        &["serve"],
        &[
            "[default: zones]",
            "[default: data/dnsbl.sqlite]",
            "[default: 127.0.0.1:5300]",
            "[default: 2]",
            "[default: 127.0.0.1:8053]",
            "[default: 6]",
            "[default: 16]",
        ],
    ),
    (&["ingest"], &["[default: 6]", "[default: 16]"]),
    (&["export"], &["[default: zones]"]),
    (&["check"], &["[default: data/dnsbl.sqlite]"]),
    (&["lookup"], &["[default: zones]"]),
    (&["token"], &[]),
    (&["token", "create"], &["[default: data/dnsbl.sqlite]"]),
    (&["token", "revoke"], &["[default: data/dnsbl.sqlite]"]),
    (&["token", "list"], &["[default: data/dnsbl.sqlite]"]),
];

/// Returns the help text of `command`, failing unless it exits 0.
fn help(command: &[&str]) -> String {
    let output = binary().args(command).arg("--help").output().unwrap();
    assert!(
        output.status.success(),
        "dnsbl {command:?} --help: {output:?}"
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Returns the option lines of a help text as (flag, description) pairs. clap writes a
/// description after the flag on the same line, or on the next lines when a flag is too
/// wide for one column.
fn options(text: &str) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = Vec::new();
    let lines = text
        .lines()
        .skip_while(|line| line.trim() != "Options:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty());
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') {
            let (flag, description) = match trimmed.split_once("  ") {
                Some((flag, description)) => (flag, description.trim()),
                None => (trimmed, ""),
            };
            options.push((flag.to_string(), description.to_string()));
        } else if let Some((_, description)) = options.last_mut() {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(trimmed);
        }
    }
    options
}

#[test]
fn every_help_states_defaults() {
    for (command, defaults) in COMMANDS {
        let text = help(command);
        let usage = text
            .lines()
            .find(|line| line.starts_with("Usage:"))
            .unwrap_or_else(|| panic!("no usage line in dnsbl {command:?} --help"));
        for default in defaults {
            assert!(
                text.contains(default),
                "dnsbl {command:?} --help lacks {default}:\n{text}"
            );
        }
        let options = options(&text);
        assert!(
            !options.is_empty(),
            "no options in dnsbl {command:?} --help"
        );
        for (flag, description) in options {
            assert!(
                !description.is_empty(),
                "dnsbl {command:?} --help: {flag} has no description"
            );
            let name = flag
                .split_whitespace()
                .find(|part| part.starts_with("--"))
                .unwrap_or_default();
            if matches!(name, "--help" | "--version") || usage.contains(name) {
                // Required options appear in the usage line and have no default.
                continue;
            }
            let lower = description.to_lowercase();
            assert!(
                description.contains("[default: ")
                    || lower.contains("by default")
                    || lower.contains("without it"),
                "dnsbl {command:?} --help: {flag} states no default: {description}"
            );
        }
    }
}
