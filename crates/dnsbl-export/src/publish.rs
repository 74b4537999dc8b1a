//! Atomic publication of an export directory as whole file sets.
//!
//! Each publication writes a complete set into a fresh directory `DIR/.sets/SERIAL-GEN`
//! (`GEN` counts publications, so two sets of one serial never share a name): the zone
//! files, then `SHA256SUMS`, then `manifest.json`, each fsynced, then the set directory
//! fsynced. Only then does the symlink `DIR/current` move to the new set: a temporary
//! symlink `DIR/.current.tmp` is created and renamed over `current`, which POSIX
//! `rename(2)` makes atomic, and `DIR` is fsynced. A reader that resolves `current` once
//! (an rsync daemon does when a session starts, by a chroot or chdir into the module
//! path) reads one complete set, old or new, never a mix. A failure or a kill before the switch
//! leaves `current` on the previous set; the unfinished set directory is removed by the
//! next publication.
//!
//! The set `current` pointed at before the switch is kept for readers still inside it;
//! every older set is removed. A file whose content equals the one in the previous set
//! is hard-linked from it instead of rewritten, so it keeps its modification time and
//! rsync's quick check (size and time) skips it although its directory changed.
//!
//! NOTE: files that an earlier flat layout wrote directly into `DIR` are left there;
//! mirrors pull `DIR/current` and never see them.

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
    #[error("failed to create the export directory {path}: {error}")]
    CreateDir { path: PathBuf, error: io::Error },
    #[error("failed to write {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
    #[error("failed to rename {from} to {to}: {error}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        error: io::Error,
    },
}

/// Directory inside the export directory that contains the file sets.
pub const SETS: &str = ".sets";
/// Symlink inside the export directory naming the published set.
pub const CURRENT: &str = "current";

/// Writes `files`, `SHA256SUMS` and `manifest.json` as a new set in `dir` and switches
/// `dir/current` to it, as described in the module documentation; returns the manifest.
pub fn publish(dir: &Path, serial: u32, files: &[ExportFile]) -> Result<Manifest, PublishError> {
    let sets = dir.join(SETS);
    fs::create_dir_all(&sets).map_err(|error| PublishError::CreateDir {
        path: sets.clone(),
        error,
    })?;
    let previous = current_set(dir);
    let generation = list_sets(&sets)
        .iter()
        .filter_map(|name| name.rsplit_once('-')?.1.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let name = format!("{serial}-{generation}");
    let set = sets.join(&name);
    fs::create_dir(&set).map_err(|error| PublishError::CreateDir {
        path: set.clone(),
        error,
    })?;
    let manifest = match write_set(
        &set,
        previous.as_deref().map(|p| sets.join(p)),
        serial,
        files,
    ) {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = fs::remove_dir_all(&set);
            return Err(error);
        }
    };
    switch_current(dir, &name)?;
    for old in list_sets(&sets) {
        if old != name && Some(old.as_str()) != previous.as_deref() {
            let _ = fs::remove_dir_all(sets.join(old));
        }
    }
    Ok(manifest)
}

/// Name of the set `dir/current` points at, if any.
pub fn current_set(dir: &Path) -> Option<String> {
    let target = fs::read_link(dir.join(CURRENT)).ok()?;
    let name = target.strip_prefix(SETS).ok()?;
    Some(name.to_str()?.to_string())
}

fn list_sets(sets: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(sets) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect()
}

/// Writes the files of one set into the empty directory `set`, hard-linking unchanged
/// files from `previous`, then the checksums and the manifest, and fsyncs `set`.
fn write_set(
    set: &Path,
    previous: Option<PathBuf>,
    serial: u32,
    files: &[ExportFile],
) -> Result<Manifest, PublishError> {
    let mut manifest = Manifest {
        serial,
        files: Vec::with_capacity(files.len()),
    };
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
        let target = set.join(&file.name);
        if let Some(old) = previous.as_ref().map(|dir| dir.join(&file.name))
            && existing_digest(&old).as_deref() == Some(digest.as_str())
            && fs::hard_link(&old, &target).is_ok()
        {
            continue;
        }
        write_file(&target, file.contents.as_bytes())?;
    }
    let mut checksums = String::new();
    for file in &manifest.files {
        checksums.push_str(&format!("{}  {}\n", file.sha256, file.file));
    }
    let mut json = serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
    json.push('\n');
    write_file(&set.join(CHECKSUMS), checksums.as_bytes())?;
    write_file(&set.join(MANIFEST), json.as_bytes())?;
    sync_dir(set)?;
    Ok(manifest)
}

/// Points `dir/current` at `.sets/NAME` with a temporary symlink renamed over it.
fn switch_current(dir: &Path, name: &str) -> Result<(), PublishError> {
    let temporary = dir.join(".current.tmp");
    let _ = fs::remove_file(&temporary);
    std::os::unix::fs::symlink(Path::new(SETS).join(name), &temporary).map_err(|error| {
        PublishError::Write {
            path: temporary.clone(),
            error,
        }
    })?;
    rename(&temporary, &dir.join(CURRENT))?;
    sync_dir(dir)
}

/// Writes `contents` to `path` and fsyncs it.
fn write_file(path: &Path, contents: &[u8]) -> Result<(), PublishError> {
    let write = || -> io::Result<()> {
        let mut file = File::create(path)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|error| PublishError::Write {
        path: path.to_path_buf(),
        error,
    })
}

fn rename(from: &Path, to: &Path) -> Result<(), PublishError> {
    fs::rename(from, to).map_err(|error| PublishError::Rename {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        error,
    })
}

/// Makes the renames durable: a directory fsync persists its entries.
fn sync_dir(dir: &Path) -> Result<(), PublishError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| PublishError::Write {
            path: dir.to_path_buf(),
            error,
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
    use std::sync::atomic::{AtomicBool, Ordering};

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
        fs::read_to_string(dir.join(CURRENT).join(name)).unwrap()
    }

    fn sets(dir: &Path) -> Vec<String> {
        let mut names = list_sets(&dir.join(SETS));
        names.sort();
        names
    }

    #[test]
    fn publish_writes_set_and_switches_current() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = publish(
            dir.path(),
            7,
            &[file("a.zone", "A\n"), file("b.zone", "B\n")],
        )
        .expect("publish succeeds");
        assert_eq!(current_set(dir.path()).as_deref(), Some("7-1"));
        assert_eq!(
            fs::read_link(dir.path().join(CURRENT)).unwrap(),
            Path::new(".sets/7-1")
        );
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
        let mut top: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, [SETS, CURRENT], "only the sets and the symlink");
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
        // A name in a directory that does not exist makes the second write fail after
        // a.zone has been written into the new set.
        let result = publish(
            dir.path(),
            2,
            &[file("a.zone", "new A\n"), file("no/b.zone", "new B\n")],
        );
        assert!(
            matches!(result, Err(PublishError::Write { .. })),
            "publish fails: {result:?}"
        );
        assert_eq!(current_set(dir.path()).as_deref(), Some("1-1"));
        assert_eq!(read(dir.path(), "a.zone"), "old A\n");
        assert_eq!(read(dir.path(), "b.zone"), "old B\n");
        assert_eq!(read(dir.path(), MANIFEST), old_manifest);
        assert_eq!(sets(dir.path()), ["1-1"], "the unfinished set is removed");
    }

    #[test]
    fn publish_removes_unfinished_and_old_sets() {
        let dir = tempfile::tempdir().unwrap();
        for serial in 1..=3 {
            publish(
                dir.path(),
                serial,
                &[file("a.zone", &format!("{serial}\n"))],
            )
            .unwrap();
        }
        assert_eq!(sets(dir.path()), ["2-2", "3-3"], "the previous set is kept");
        // A publication killed before its switch leaves a set directory behind.
        fs::create_dir(dir.path().join(SETS).join("4-4")).unwrap();
        fs::write(dir.path().join(SETS).join("4-4/a.zone"), "half").unwrap();
        publish(dir.path(), 5, &[file("a.zone", "5\n")]).unwrap();
        assert_eq!(sets(dir.path()), ["3-3", "5-5"]);
        assert_eq!(read(dir.path(), "a.zone"), "5\n");
    }

    #[test]
    fn publish_links_unchanged_files() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        publish(dir.path(), 1, &[file("a.zone", "same\n")]).unwrap();
        let before = fs::metadata(dir.path().join(CURRENT).join("a.zone")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        publish(dir.path(), 2, &[file("a.zone", "same\n")]).unwrap();
        let after = fs::metadata(dir.path().join(CURRENT).join("a.zone")).unwrap();
        assert_eq!(current_set(dir.path()).as_deref(), Some("2-2"));
        assert_eq!(before.ino(), after.ino(), "an unchanged file is linked");
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    }

    /// Copies the set `current` names, as an rsync daemon session does: the symlink is
    /// resolved once. Returns the serial of every file, or `None` when the set was
    /// removed while being read.
    fn copy_current(dir: &Path) -> Option<Vec<String>> {
        let set = dir.join(SETS).join(current_set(dir)?);
        let sums = fs::read_to_string(set.join(CHECKSUMS)).ok()?;
        let mut serials = Vec::new();
        for line in sums.lines() {
            let (digest, name) = line.split_once("  ").unwrap();
            let contents = fs::read(set.join(name)).ok()?;
            assert_eq!(hex(&Sha256::digest(&contents)), digest, "{name} matches");
            let text = String::from_utf8(contents).unwrap();
            serials.push(text.lines().next().unwrap().to_string());
        }
        Some(serials)
    }

    #[test]
    fn reader_always_gets_one_complete_set() {
        let dir = tempfile::tempdir().unwrap();
        let set_of = |serial: u32| -> Vec<ExportFile> {
            ["a.zone", "b.ip4set", "c.dnset"]
                .iter()
                .map(|name| {
                    let body = format!("serial {serial}\n{}", "x\n".repeat(serial as usize * 50));
                    file(name, &body)
                })
                .collect()
        };
        publish(dir.path(), 1, &set_of(1)).unwrap();
        let done = AtomicBool::new(false);
        let (copies, seen) = std::thread::scope(|scope| {
            scope.spawn(|| {
                for serial in 2..=40 {
                    publish(dir.path(), serial, &set_of(serial)).unwrap();
                }
                done.store(true, Ordering::SeqCst);
            });
            let mut copies = 0;
            let mut seen = std::collections::BTreeSet::new();
            while !done.load(Ordering::SeqCst) {
                if let Some(serials) = copy_current(dir.path()) {
                    assert_eq!(serials.len(), 3);
                    assert!(
                        serials.iter().all(|serial| *serial == serials[0]),
                        "one serial in a copy: {serials:?}"
                    );
                    seen.insert(serials[0].clone());
                    copies += 1;
                }
            }
            (copies, seen)
        });
        assert!(copies > 0, "the reader copied a set");
        assert_eq!(copy_current(dir.path()).unwrap()[0], "serial 40");
        assert!(!seen.is_empty());
    }
}
