//! Downloading a routing data file from an HTTP(S) URL to a temporary file, with a size
//! limit and a timeout, for `POST /v1/ingest`.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use dnsbl_ingest::IngestProgress;
use tokio::io::AsyncWriteExt;

/// Errors of [`download`]; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("failed to download {url}: {source}")]
    Request { url: String, source: reqwest::Error },
    #[error("failed to download {url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error(
        "failed to download {url}: the file is larger than the limit of {limit} bytes; \
         raise --ingest-max-bytes"
    )]
    TooLarge { url: String, limit: u64 },
    #[error(
        "failed to download {url}: timed out after {seconds} s; raise --ingest-timeout-seconds"
    )]
    TimedOut { url: String, seconds: u64 },
    #[error("failed to write the download of {url} to {path}: {source}")]
    Write {
        url: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Limits of one download.
#[derive(Clone, Copy, Debug)]
pub struct DownloadLimits {
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Time allowed for the whole download, connection included.
    pub timeout: Duration,
}

/// The file name a download is stored under: the last segment of the URL's path, because
/// the routing parser reads the address family of a numeric file from its name
/// (`asn-ipv6-num.csv`). Falls back to `download-N.csv`.
pub fn file_name(url: &reqwest::Url, index: usize) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or("");
    let safe = !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !segment.starts_with('.');
    if safe {
        format!("{index}-{segment}")
    } else {
        format!("download-{index}.csv")
    }
}

/// Downloads `url` into `path`, adding the received bytes to `progress`. A status other
/// than 2xx, a body larger than `limits.max_bytes` or a download longer than
/// `limits.timeout` fails it.
pub async fn download(
    client: &reqwest::Client,
    url: &reqwest::Url,
    path: &Path,
    limits: DownloadLimits,
    progress: &IngestProgress,
) -> Result<(), DownloadError> {
    let work = fetch(client, url, path, limits, progress);
    match tokio::time::timeout(limits.timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(DownloadError::TimedOut {
            url: url.to_string(),
            seconds: limits.timeout.as_secs(),
        }),
    }
}

async fn fetch(
    client: &reqwest::Client,
    url: &reqwest::Url,
    path: &Path,
    limits: DownloadLimits,
    progress: &IngestProgress,
) -> Result<(), DownloadError> {
    let request_error = |source| DownloadError::Request {
        url: url.to_string(),
        source,
    };
    let write_error = |source| DownloadError::Write {
        url: url.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let too_large = || DownloadError::TooLarge {
        url: url.to_string(),
        limit: limits.max_bytes,
    };
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(DownloadError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > limits.max_bytes)
    {
        return Err(too_large());
    }
    let mut file = tokio::fs::File::create(path).await.map_err(write_error)?;
    let mut received: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        received += chunk.len() as u64;
        if received > limits.max_bytes {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(write_error)?;
        progress
            .bytes_downloaded
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    file.flush().await.map_err(write_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let cases = [
            (
                "http://127.0.0.1/data/asn-ipv6-num.csv",
                "0-asn-ipv6-num.csv",
            ),
            ("https://127.0.0.1/asn.csv?x=1", "0-asn.csv"),
            ("http://127.0.0.1/", "download-0.csv"),
            ("http://127.0.0.1/a%2Fb.csv", "download-0.csv"),
            ("http://127.0.0.1/.hidden", "download-0.csv"),
        ];
        for (url, expected) in cases {
            let url = reqwest::Url::parse(url).unwrap();
            assert_eq!(file_name(&url, 0), expected, "url {url}");
        }
    }
}
