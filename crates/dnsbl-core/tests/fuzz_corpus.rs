//! Replays the committed fuzz corpus (`fuzz/corpus/answer`, `fuzz/corpus/netblock` and
//! `fuzz/corpus/request`, including every crash the fuzzer found) through the functions
//! the fuzz targets call, so CI checks them on a stable compiler without libFuzzer.

use std::path::{Path, PathBuf};

/// The files of `fuzz/corpus/TARGET`, sorted; panics when there are none, so a moved
/// corpus cannot pass silently.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

#[test]
fn answer_corpus_replays() {
    for path in corpus("answer") {
        let data = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        let _ = dnsbl_core::fuzz_entry::answer_packet(&data);
    }
}

#[test]
fn netblock_corpus_replays() {
    for path in corpus("netblock") {
        let data = std::fs::read(&path).unwrap();
        if let Ok(text) = std::str::from_utf8(&data) {
            dnsbl_core::fuzz_entry::netblock_round_trip(text);
        }
    }
}

#[test]
fn answer_seeds_are_answered() {
    // The seeds are real queries: each decodes and gets an encoded response.
    for path in corpus("answer") {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("crash-") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        assert!(
            dnsbl_core::fuzz_entry::answer_packet(&data).is_some(),
            "{name} does not decode"
        );
    }
}

#[test]
fn request_corpus_replays() {
    for path in corpus("request") {
        let data = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        let _ = dnsbl_core::fuzz_entry::compare_request_parsers(&data);
    }
}

#[test]
fn request_seeds_reach_comparison() {
    // Seeds named `plain-*` are queries the wire path answers, so both parsers read them;
    // `other-*` seeds are left to the record path.
    for path in corpus("request") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let compared = dnsbl_core::fuzz_entry::compare_request_parsers(&data);
        if name.starts_with("plain-") {
            assert!(compared, "{name} is not read by the wire parser");
        } else if name.starts_with("other-") {
            assert!(!compared, "{name} is read by the wire parser");
        }
    }
}
