//! Progress reports of an ingest run, for a caller that draws them (the `dnsbl ingest` command
//! draws a bar). The library itself stays silent.

/// Receives the progress of [`ingest_with_progress`](crate::ingest_with_progress) and [`ingest_tracked`](crate::ingest_tracked). Every
/// method does nothing by default; they are called from the runtime's threads and from a
/// blocking thread that reads the files.
pub trait ProgressReporter: Send + Sync {
    /// Starts the reading phase, with the total size of all files in bytes.
    fn start_reading(&self, _total_bytes: u64) {}

    /// Adds `bytes` read and parsed.
    fn add_read(&self, _bytes: u64) {}

    /// Starts a phase whose length is not known in advance, such as the database write.
    fn start_phase(&self, _message: &str) {}
}

/// Progress that is not shown anywhere.
pub struct NoProgress;

impl ProgressReporter for NoProgress {}
