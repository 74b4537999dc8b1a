//! Progress of one ingest, shared with a reader while it runs (the admin API shows it in
//! its ingest run resource), and the options of an ingest started by the admin API.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::reporter::{NoProgress, ProgressReporter};

/// The step an ingest is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum IngestStage {
    /// Started, before any file is read.
    Queued = 0,
    /// Downloading the routing files from their URLs (done by the caller).
    Downloading = 1,
    /// Reading and checking the routing files.
    Parsing = 2,
    /// Replacing the stored routing data and expanding the register.
    Storing = 3,
    /// Finished, committed or rolled back.
    Finished = 4,
}

impl IngestStage {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestStage::Queued => "queued",
            IngestStage::Downloading => "downloading",
            IngestStage::Parsing => "parsing",
            IngestStage::Storing => "storing",
            IngestStage::Finished => "finished",
        }
    }
}

/// Counters of a running ingest. Every field is updated with relaxed atomics, so a reader
/// sees each value as of some recent moment, not the whole set at one instant.
#[derive(Debug, Default)]
pub struct IngestProgress {
    stage: AtomicU8,
    /// Bytes downloaded so far, over every URL.
    pub bytes_downloaded: AtomicU64,
    /// Routing rows read and checked, counted per file once the file is parsed.
    pub rows_read: AtomicU64,
    /// Listed ranges written by the expansion, both families.
    pub ranges_stored: AtomicU64,
}

impl IngestProgress {
    pub fn stage(&self) -> IngestStage {
        match self.stage.load(Ordering::Relaxed) {
            1 => IngestStage::Downloading,
            2 => IngestStage::Parsing,
            3 => IngestStage::Storing,
            4 => IngestStage::Finished,
            _ => IngestStage::Queued,
        }
    }

    pub fn set_stage(&self, stage: IngestStage) {
        self.stage.store(stage as u8, Ordering::Relaxed);
    }
}

/// Settings of the run record that [`crate::ingest_tracked`] writes.
#[derive(Default)]
pub struct Tracking<'a> {
    /// The `running` row from `Store::start_run` that the run completes; `None` inserts a
    /// new row at the end.
    pub run_id: Option<i64>,
    pub progress: Option<&'a IngestProgress>,
    /// Names recorded and shown in errors in place of the file paths, one per file, for
    /// files downloaded from a URL to a temporary path. Empty keeps the paths.
    pub source_names: Vec<PathBuf>,
    /// Receiver of the bytes read and of each phase, for display such as a progress bar.
    pub reporter: Option<Arc<dyn ProgressReporter>>,
}

impl Tracking<'_> {
    pub(crate) fn stage(&self, stage: IngestStage) {
        if let Some(progress) = self.progress {
            progress.set_stage(stage);
        }
    }

    pub(crate) fn add(&self, counter: impl Fn(&IngestProgress) -> &AtomicU64, value: u64) {
        if let Some(progress) = self.progress {
            counter(progress).fetch_add(value, Ordering::Relaxed);
        }
    }

    /// Returns the bytes downloaded before the ingest, or 0 without progress counters.
    pub(crate) fn bytes_downloaded(&self) -> u64 {
        self.progress.map_or(0, |progress| {
            progress.bytes_downloaded.load(Ordering::Relaxed)
        })
    }

    pub(crate) fn reporter(&self) -> Arc<dyn ProgressReporter> {
        match &self.reporter {
            Some(reporter) => reporter.clone(),
            None => Arc::new(NoProgress),
        }
    }

    /// Returns the recorded name of each file.
    pub(crate) fn names(&self, files: &[PathBuf]) -> Vec<PathBuf> {
        if self.source_names.len() == files.len() {
            self.source_names.clone()
        } else {
            files.to_vec()
        }
    }

    /// Replaces each file path in an error message with its recorded name.
    pub(crate) fn rename_in(&self, files: &[PathBuf], message: String) -> String {
        let mut message = message;
        if self.source_names.len() != files.len() {
            return message;
        }
        for (path, name) in files.iter().zip(&self.source_names) {
            let path = path.display().to_string();
            if !path.is_empty() {
                message = message.replace(&path, &name.display().to_string());
            }
        }
        message
    }
}
