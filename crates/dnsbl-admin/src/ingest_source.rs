//! The routing data sources of `POST /v1/ingest` and the limits of an ingest through the
//! admin API, set by `dnsbl serve --ingest-source` and its companions.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use dnsbl_core::RangeLimit;

use crate::download::DownloadLimits;

/// One routing data source of `POST /v1/ingest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestSource {
    File(PathBuf),
    Url(reqwest::Url),
}

impl FromStr for IngestSource {
    type Err = String;

    /// Reads `http://...` and `https://...` as URLs and anything without `://` as a path.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = reqwest::Url::parse(text)
                .map_err(|error| format!("invalid URL {text:?}: {error}"))?;
            return Ok(IngestSource::Url(url));
        }
        if text.contains("://") {
            return Err(format!(
                "unsupported ingest source {text:?}: expected a file path or an http:// or \
                 https:// URL"
            ));
        }
        if text.is_empty() {
            return Err("empty ingest source: expected a file path or a URL".into());
        }
        Ok(IngestSource::File(PathBuf::from(text)))
    }
}

impl std::fmt::Display for IngestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestSource::File(path) => write!(f, "{}", path.display()),
            IngestSource::Url(url) => write!(f, "{url}"),
        }
    }
}

/// The ingest settings of `dnsbl serve`.
#[derive(Clone, Debug)]
pub struct IngestSettings {
    /// Read together, they replace the stored routing data. Empty disables `POST /v1/ingest`.
    pub sources: Vec<IngestSource>,
    /// Maximum width of one routing row.
    pub limit: RangeLimit,
    pub download: DownloadLimits,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            sources: Vec::new(),
            limit: RangeLimit::DEFAULT,
            download: DownloadLimits {
                max_bytes: 512 * 1024 * 1024,
                timeout: Duration::from_secs(600),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_syntax() {
        let cases = [
            (
                "zones/data/asn.csv",
                Ok(IngestSource::File("zones/data/asn.csv".into())),
            ),
            (
                "https://127.0.0.1/asn-ipv4.csv",
                Ok(IngestSource::Url(
                    reqwest::Url::parse("https://127.0.0.1/asn-ipv4.csv").unwrap(),
                )),
            ),
            (
                "HTTP://127.0.0.1:8080/a.csv",
                Ok(IngestSource::Url(
                    reqwest::Url::parse("http://127.0.0.1:8080/a.csv").unwrap(),
                )),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<IngestSource>(), expected, "source {text}");
        }
        for bad in ["ftp://127.0.0.1/a.csv", "", "http://"] {
            assert!(bad.parse::<IngestSource>().is_err(), "source {bad:?}");
        }
    }
}
