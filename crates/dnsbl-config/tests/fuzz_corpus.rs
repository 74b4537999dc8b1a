//! Replays the committed fuzz corpus `fuzz/corpus/zones` (including every crash the fuzzer
//! found) through the call of the `zones` fuzz target, so CI checks them on a stable
//! compiler without libFuzzer. An input is zones.toml, a NUL byte, and register.toml.

use std::path::{Path, PathBuf};

#[test]
fn zones_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/zones");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&data);
        let (zones, register) = text.split_once('\0').unwrap_or((&text, ""));
        let result = dnsbl_config::ZonesDir::from_texts(Path::new("zones"), zones, register);
        let name = path.file_name().unwrap().to_string_lossy();
        if name == "repo" || name == "small" {
            assert!(result.is_ok(), "{name}: {:?}", result.err());
        }
    }
}
