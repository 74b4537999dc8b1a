//! Replays the committed fuzz corpus of the `export` target (`fuzz/corpus/export`,
//! including every crash the fuzzer found) through the function the target calls, so CI
//! checks them on a stable compiler without libFuzzer.

use std::path::{Path, PathBuf};

/// Returns the files of `fuzz/corpus/export`, sorted; panics when there are none, so a moved
/// corpus cannot pass silently.
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/export");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
}

#[test]
fn export_corpus_replays() {
    for path in corpus() {
        let data = std::fs::read(&path).unwrap();
        eprintln!("{}", path.display());
        let _ = dnsbl_export::fuzz_entry::export_round_trip(&data);
    }
}

#[test]
fn export_seeds_build_snapshots() {
    // The seeds are valid programs: each builds a snapshot and exports all four zones
    // (master and rbldnsd files: 3 address zones x 3 files + 1 domain zone x 2 files).
    for path in corpus() {
        let name = path.file_name().unwrap().to_string_lossy();
        if name.starts_with("crash-") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        assert_eq!(
            dnsbl_export::fuzz_entry::export_round_trip(&data),
            Some(11),
            "{name}"
        );
    }
}
