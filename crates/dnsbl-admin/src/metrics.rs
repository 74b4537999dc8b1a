//! `/metrics` in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use dnsbl_core::{QueryCounters, Snapshot};

use crate::AppState;
use crate::error::ErrorBody;

/// Counters of the admin API.
#[derive(Debug, Default)]
pub struct AdminMetrics {
    /// Requests rejected with 401.
    pub failed_auth: AtomicU64,
    /// Writes that changed the listings and triggered a snapshot rebuild.
    pub listing_writes: AtomicU64,
    /// Duration of the last expansion of the register after such a write, in microseconds.
    pub last_expansion_micros: AtomicU64,
}

/// Returns the metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
    )
)]
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.snapshot.load();
    let mut text = String::new();
    let gauges = [
        (
            "dnsbl_snapshot_serial",
            "Serial of the snapshot being served.",
            u64::from(snapshot.serial),
        ),
        (
            "dnsbl_snapshot_listings",
            "Listings in the snapshot being served.",
            snapshot.listings.len() as u64,
        ),
        (
            "dnsbl_snapshot_segments",
            "Address segments in the snapshot being served.",
            snapshot.segment_count() as u64,
        ),
        (
            "dnsbl_snapshot_domains",
            "Listed domains in the snapshot being served.",
            snapshot.domain_count() as u64,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let counters = [
        (
            "dnsbl_admin_failed_auth_total",
            "Admin API requests rejected for a missing or invalid token.",
            &state.metrics.failed_auth,
        ),
        (
            "dnsbl_admin_listing_writes_total",
            "Admin API writes that changed the listings.",
            &state.metrics.listing_writes,
        ),
    ];
    let counters = counters
        .map(|(name, help, value)| (name, help, value.load(Ordering::Relaxed)))
        .into_iter()
        .chain(state.queries.limits.series());
    for (name, help, value) in counters {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let expansion = state.metrics.last_expansion_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(
        text,
        "# HELP dnsbl_admin_last_expansion_seconds Duration of the last expansion of the \
         register after an admin API write, 0 before the first.\n\
         # TYPE dnsbl_admin_last_expansion_seconds gauge\n\
         dnsbl_admin_last_expansion_seconds {expansion}"
    );
    render_queries(&mut text, &state.queries, &snapshot);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Writes the DNS response counters. Only non-zero series are written. The `zone` label is
/// empty for queries outside every zone.
///
/// NOTE: counters are kept by zone index, so after a reload that adds or removes zones in
/// the middle of zones.toml, earlier counts appear under the zone now at that index.
fn render_queries(text: &mut String, queries: &QueryCounters, snapshot: &Snapshot) {
    let zone_name = |zone: Option<usize>| match zone {
        Some(index) => snapshot
            .zones
            .get(index)
            .map_or_else(|| format!("#{index}"), |zone| zone.spec.name.clone()),
        None => String::new(),
    };
    let _ = writeln!(
        text,
        "# HELP dnsbl_dns_responses_total DNS responses by zone, query type and response code.\n\
         # TYPE dnsbl_dns_responses_total counter"
    );
    for cell in queries.responses() {
        let _ = writeln!(
            text,
            "dnsbl_dns_responses_total{{zone=\"{}\",type=\"{}\",rcode=\"{}\"}} {}",
            escape_label(&zone_name(cell.zone)),
            cell.qtype,
            cell.rcode,
            cell.count
        );
    }
    let _ = writeln!(
        text,
        "# HELP dnsbl_dns_listed_responses_total DNS responses that reported a listing.\n\
         # TYPE dnsbl_dns_listed_responses_total counter"
    );
    for (zone, count) in queries.listed() {
        let _ = writeln!(
            text,
            "dnsbl_dns_listed_responses_total{{zone=\"{}\"}} {count}",
            escape_label(&zone_name(zone))
        );
    }
}

/// Escapes a label value as the text format requires: backslash, double quote, newline.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
