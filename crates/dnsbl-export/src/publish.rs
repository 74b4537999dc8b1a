//! Atomic publication of an export directory.
//!
//! Publication runs in three steps. First every changed file is written to a temporary
//! name in the target directory (`.NAME.tmp`) and fsynced. Almost all the time goes into
//! this step, and a failure or a kill in it leaves every published file as it was. Then
//! each temporary file is renamed over its target, which POSIX `rename(2)` makes atomic,
//! so a reader sees the old or the new file and never a torn one. Last come `SHA256SUMS`
//! and `manifest.json`, written the same way, then an fsync of the directory.
//!
//! A mirror that copies during the rename step can get files of two serials. Each file
//! names its serial in its SOA, and `sha256sum -c SHA256SUMS` fails on such a copy, so a
//! mirror checks it and pulls again. Files whose content is unchanged are not rewritten,
//! so their modification time stays and rsync skips them.
//!
//! NOTE: files of a zone that is no longer exported stay in the directory; the manifest
//! lists only the current ones.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Name of the manifest, written last.
pub const MANIFEST: &str = "manifest.json";
/// Name of the checksum list in `sha256sum` format, written just before the manifest.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// One file of an export.
#[derive(Clone, Debug)]
pub struct ExportFile {
    /// File name inside the export directory.
    pub name: String,
    /// The zone apex the file serves.
    pub zone: String,
    /// `master` (RFC 1035 master file) or the rbldnsd dataset type.
    pub format: &'static str,
    pub serial: u32,
    /// Records (master file) or data lines (rbldnsd) in the file.
    pub records: usize,
    pub contents: String,
}

/// The manifest entry of one file.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub file: String,
    pub zone: String,
    pub format: String,
    pub serial: u32,
    pub records: usize,
    pub sha256: String,
    pub bytes: usize,
}

/// The contents of `manifest.json`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Manifest {
    pub serial: u32,
    pub files: Vec<ManifestFile>,
}

/// Errors from publishing an export.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("failed to create the export directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("failed to write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("failed to rename {from} to {to}: {source}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: io::Error,
    },
}

/// Writes `files`, `SHA256SUMS` and `manifest.json` into `dir` atomically, as described in
/// the module documentation, and returns the manifest.
pub fn publish(dir: &Path, serial: u32, files: &[ExportFile]) -> Result<Manifest, PublishError> {
    fs::create_dir_all(dir).map_err(|source| PublishError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut manifest = Manifest {
        serial,
        files: Vec::with_capacity(files.len()),
    };
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| {
        for file in files {
            let digest = hex(&Sha256::digest(file.contents.as_bytes()));
            manifest.files.push(ManifestFile {
                file: file.name.clone(),
                zone: file.zone.clone(),
                format: file.format.to_string(),
                serial: file.serial,
                records: file.records,
                sha256: digest.clone(),
                bytes: file.contents.len(),
            });
            let target = dir.join(&file.name);
            if existing_digest(&target).as_deref() == Some(digest.as_str()) {
                continue;
            }
            let temporary = write_temporary(dir, &file.name, file.contents.as_bytes())?;
            staged.push((temporary, target));
        }
        Ok(())
    })();
    if let Err(error) = result {
        for (temporary, _) in &staged {
            let _ = fs::remove_file(temporary);
        }
        return Err(error);
    }
    for (temporary, target) in &staged {
        rename(temporary, target)?;
    }

    let mut checksums = String::new();
    for file in &manifest.files {
        checksums.push_str(&format!("{}  {}\n", file.sha256, file.file));
    }
    let mut json = serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
    json.push('\n');
    for (name, contents) in [(CHECKSUMS, checksums), (MANIFEST, json)] {
        let temporary = write_temporary(dir, name, contents.as_bytes())?;
        rename(&temporary, &dir.join(name))?;
    }
    sync_dir(dir)?;
    Ok(manifest)
}

/// Writes `contents` to `.NAME.tmp` in `dir` and fsyncs it.
fn write_temporary(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf, PublishError> {
    let path = dir.join(format!(".{name}.tmp"));
    let write = || -> io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&path);
        PublishError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

fn rename(from: &Path, to: &Path) -> Result<(), PublishError> {
    fs::rename(from, to).map_err(|source| PublishError::Rename {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    })
}

/// Makes the renames durable: a directory fsync persists its entries.
fn sync_dir(dir: &Path) -> Result<(), PublishError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|source| PublishError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

/// Hashes a file with SHA-256, or returns `None` when it cannot be read.
fn existing_digest(path: &Path) -> Option<String> {
    let contents = fs::read(path).ok()?;
    Some(hex(&Sha256::digest(&contents)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, contents: &str) -> ExportFile {
        ExportFile {
            name: name.to_string(),
            zone: "bl.example".to_string(),
            format: "master",
            serial: 1,
            records: 1,
            contents: contents.to_string(),
        }
    }

    fn read(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn publish_writes_files_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = publish(
            dir.path(),
            7,
            &[file("a.zone", "A\n"), file("b.zone", "B\n")],
        )
        .expect("publish succeeds");
        assert_eq!(read(dir.path(), "a.zone"), "A\n");
        assert_eq!(read(dir.path(), "b.zone"), "B\n");
        assert_eq!(manifest.serial, 7);
        assert_eq!(
            manifest.files[0].sha256,
            "06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0"
        );
        let json: serde_json::Value =
            serde_json::from_str(&read(dir.path(), MANIFEST)).expect("manifest is JSON");
        assert_eq!(json["files"][1]["file"], "b.zone");
        assert_eq!(
            read(dir.path(), CHECKSUMS),
            format!(
                "{}  a.zone\n{}  b.zone\n",
                manifest.files[0].sha256, manifest.files[1].sha256
            )
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn publish_failing_midway_keeps_previous_set() {
        let dir = tempfile::tempdir().unwrap();
        publish(
            dir.path(),
            1,
            &[file("a.zone", "old A\n"), file("b.zone", "old B\n")],
        )
        .unwrap();
        let old_manifest = read(dir.path(), MANIFEST);
        // A directory where the temporary file of b.zone goes makes its write fail after
        // a.zone has been staged.
        fs::create_dir(dir.path().join(".b.zone.tmp")).unwrap();
        let result = publish(
            dir.path(),
            2,
            &[file("a.zone", "new A\n"), file("b.zone", "new B\n")],
        );
        assert!(
            matches!(result, Err(PublishError::Write { .. })),
            "publish fails: {result:?}"
        );
        assert_eq!(read(dir.path(), "a.zone"), "old A\n");
        assert_eq!(read(dir.path(), "b.zone"), "old B\n");
        assert_eq!(read(dir.path(), MANIFEST), old_manifest);
        assert!(
            !dir.path().join(".a.zone.tmp").exists(),
            "staged file removed"
        );
    }

    #[test]
    fn publish_keeps_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        publish(dir.path(), 1, &[file("a.zone", "same\n")]).unwrap();
        let before = fs::metadata(dir.path().join("a.zone"))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        publish(dir.path(), 2, &[file("a.zone", "same\n")]).unwrap();
        let after = fs::metadata(dir.path().join("a.zone"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "an unchanged file is not rewritten");
    }
}
