//! Replays the committed fuzz corpus `fuzz/corpus/routing` (including every crash the
//! fuzzer found) through the parser calls of the `routing` fuzz target, so CI checks them
//! on a stable compiler without libFuzzer.

use std::path::{Path, PathBuf};

#[test]
fn routing_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/routing");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    for path in files {
        let data = std::fs::read(&path).unwrap();
        for name in ["asn-ipv4.csv", "asn-ipv6-num.csv"] {
            let _ = dnsbl_ingest::parse_routing(&data, Path::new(name));
        }
    }
}
