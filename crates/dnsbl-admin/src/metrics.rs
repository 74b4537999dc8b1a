//! `/metrics` in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use dnsbl_core::QueryCounters;

use crate::AppState;
use crate::error::ErrorResponse;

/// Counters of the admin API.
#[derive(Debug, Default)]
pub struct AdminMetrics {
    /// Requests rejected with 401.
    pub failed_auth: AtomicU64,
    /// Writes that changed the listings and triggered a snapshot rebuild.
    pub listing_writes: AtomicU64,
    /// Duration of the last expansion of the register after such a write, in microseconds.
    pub last_expansion_micros: AtomicU64,
    /// Ingests started through `POST /v1/ingest` that committed.
    pub ingests_succeeded: AtomicU64,
    /// Ingests started through `POST /v1/ingest` that failed and changed nothing.
    pub ingests_failed: AtomicU64,
    /// Sum of the durations of those ingests (download included), in microseconds.
    pub ingest_micros_sum: AtomicU64,
    /// Duration of the last of those ingests, in microseconds.
    pub last_ingest_micros: AtomicU64,
}

impl AdminMetrics {
    /// Counts one finished ingest of `seconds`.
    pub fn record_ingest(&self, succeeded: bool, seconds: f64) {
        let counter = if succeeded {
            &self.ingests_succeeded
        } else {
            &self.ingests_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let micros = (seconds * 1e6) as u64;
        self.ingest_micros_sum.fetch_add(micros, Ordering::Relaxed);
        self.last_ingest_micros.store(micros, Ordering::Relaxed);
    }
}

/// Snapshot reloads of the process. They are counted in statics, because the reload loop
/// of `dnsbl serve` runs outside the admin API and also without it (`--no-admin`).
static RELOADS_SUCCEEDED: AtomicU64 = AtomicU64::new(0);
static RELOADS_FAILED: AtomicU64 = AtomicU64::new(0);

/// Counts one snapshot reload: a new snapshot swapped in, or a failed attempt after which
/// the previous snapshot keeps answering.
pub fn record_reload(succeeded: bool) {
    let counter = if succeeded {
        &RELOADS_SUCCEEDED
    } else {
        &RELOADS_FAILED
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Returns the metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 401, description = "Missing or invalid token", body = ErrorResponse),
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
        (
            "dnsbl_dns_query_log_dropped_total",
            "Query log lines dropped because the log's writer thread fell behind.",
            &state.queries.query_log_dropped,
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
    render_ingests(&mut text, &state.metrics);
    let expansion = state.metrics.last_expansion_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(
        text,
        "# HELP dnsbl_admin_last_expansion_seconds Duration of the last expansion of the \
         register after an admin API write, 0 before the first.\n\
         # TYPE dnsbl_admin_last_expansion_seconds gauge\n\
         dnsbl_admin_last_expansion_seconds {expansion}"
    );
    render_queries(&mut text, &state.queries);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Writes the reload counters and the ingest counters and durations.
fn render_ingests(text: &mut String, metrics: &AdminMetrics) {
    let _ = writeln!(
        text,
        "# HELP dnsbl_snapshot_reloads_total Snapshot reloads after a change of the data or \
         SIGHUP, by result; a failed one keeps the previous snapshot.\n\
         # TYPE dnsbl_snapshot_reloads_total counter\n\
         dnsbl_snapshot_reloads_total{{result=\"ok\"}} {}\n\
         dnsbl_snapshot_reloads_total{{result=\"failed\"}} {}",
        RELOADS_SUCCEEDED.load(Ordering::Relaxed),
        RELOADS_FAILED.load(Ordering::Relaxed),
    );
    let succeeded = metrics.ingests_succeeded.load(Ordering::Relaxed);
    let failed = metrics.ingests_failed.load(Ordering::Relaxed);
    let sum = metrics.ingest_micros_sum.load(Ordering::Relaxed) as f64 / 1e6;
    let last = metrics.last_ingest_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(
        text,
        "# HELP dnsbl_admin_ingests_total Ingests started through POST /v1/ingest, by result.\n\
         # TYPE dnsbl_admin_ingests_total counter\n\
         dnsbl_admin_ingests_total{{result=\"ok\"}} {succeeded}\n\
         dnsbl_admin_ingests_total{{result=\"failed\"}} {failed}\n\
         # HELP dnsbl_admin_ingest_duration_seconds Durations of the ingests started through \
         POST /v1/ingest, download included.\n\
         # TYPE dnsbl_admin_ingest_duration_seconds summary\n\
         dnsbl_admin_ingest_duration_seconds_sum {sum}\n\
         dnsbl_admin_ingest_duration_seconds_count {}\n\
         # HELP dnsbl_admin_last_ingest_seconds Duration of the last ingest started through \
         POST /v1/ingest, 0 before the first.\n\
         # TYPE dnsbl_admin_last_ingest_seconds gauge\n\
         dnsbl_admin_last_ingest_seconds {last}",
        succeeded + failed,
    );
}

/// Writes the DNS response counters. Only non-zero series are written. The `zone` label is
/// empty for queries outside every zone. Counts follow the zone name across reloads, and a
/// zone removed from zones.toml keeps its series at the last value until the restart.
fn render_queries(text: &mut String, queries: &QueryCounters) {
    let _ = writeln!(
        text,
        "# HELP dnsbl_dns_responses_total DNS responses by zone, query type and response code.\n\
         # TYPE dnsbl_dns_responses_total counter"
    );
    for cell in queries.responses() {
        let _ = writeln!(
            text,
            "dnsbl_dns_responses_total{{zone=\"{}\",type=\"{}\",rcode=\"{}\"}} {}",
            escape_label(cell.zone.unwrap_or_default()),
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
            escape_label(zone.unwrap_or_default())
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
