//! Prometheus metrics in the text exposition format: requests and latencies per route, index
//! and report counts, updater status and age, matcher index size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Latency histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters shared by the handlers.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// Index reports computed (layers fetched and scanned or answered from the store).
    pub index_reports: AtomicU64,
    /// Index requests that failed.
    pub index_errors: AtomicU64,
    /// Vulnerability reports served.
    pub vulnerability_reports: AtomicU64,
    /// Layers downloaded.
    pub layers_fetched: AtomicU64,
    /// Layers answered from the cache without a download.
    pub layers_cached: AtomicU64,
    /// The API listens on a non-loopback address without authentication (the config asked
    /// for it).
    pub unauthenticated_public: AtomicBool,
    /// Indexing requests refused by the indexing limit (429 or 503).
    pub index_limited: AtomicU64,
}

impl Metrics {
    /// Count one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l
                .entry((method.to_string(), route.to_string()))
                .or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// The text exposition, with `extra` lines (gauges computed by the caller) appended.
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(
            "# HELP clair_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE clair_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((m, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "clair_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    esc(m),
                    esc(route)
                );
            }
        }
        out.push_str(
            "# HELP clair_http_request_duration_seconds HTTP request latency by method and route.\n",
        );
        out.push_str("# TYPE clair_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for ((m, route), h) in l.iter() {
                let labels = format!("method=\"{}\",route=\"{}\"", esc(m), esc(route));
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "clair_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "clair_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "clair_http_request_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "clair_http_request_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        for (name, help, v) in [
            (
                "clair_index_reports_total",
                "Index reports produced.",
                &self.index_reports,
            ),
            (
                "clair_index_errors_total",
                "Index requests that failed.",
                &self.index_errors,
            ),
            (
                "clair_vulnerability_reports_total",
                "Vulnerability reports served.",
                &self.vulnerability_reports,
            ),
            (
                "clair_layers_fetched_total",
                "Layers downloaded by URL.",
                &self.layers_fetched,
            ),
            (
                "clair_layers_cached_total",
                "Layers answered from the layer cache without a download.",
                &self.layers_cached,
            ),
            (
                "clair_index_limited_total",
                "Indexing requests refused because the indexing limit and its queue were full.",
                &self.index_limited,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP clair_api_unauthenticated_public 1 when the API listens on a non-loopback \
             address without authentication.\n# TYPE clair_api_unauthenticated_public gauge\n\
             clair_api_unauthenticated_public {}",
            u8::from(self.unauthenticated_public.load(Ordering::Relaxed))
        );
        out.push_str(extra);
        out
    }
}

/// The `method` label: the standard methods by name, anything else (a client may send any
/// token, before authentication) as `other`, so the label set stays fixed.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: count and time every request by a fixed method label and its route pattern
/// (never the raw path, so digests and probes do not grow the label space; paths no route
/// matches are `unmatched`).
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    m.observe(
        method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// Gauges about the data: records in the matcher index, updaters' last success and error.
pub fn data_gauges(state: &crate::AppState) -> String {
    let mut out = String::new();
    let idx = state.live.current();
    let _ = writeln!(
        out,
        "# HELP clair_matcher_index_records Vulnerability records in the in-memory matcher index.\n\
         # TYPE clair_matcher_index_records gauge\nclair_matcher_index_records {}",
        idx.len()
    );
    let _ = writeln!(
        out,
        "# HELP clair_index_jobs_running Indexing jobs holding a slot of the indexing limit.\n\
         # TYPE clair_index_jobs_running gauge\nclair_index_jobs_running {}\n\
         # HELP clair_index_jobs_waiting Indexing requests waiting for a slot.\n\
         # TYPE clair_index_jobs_waiting gauge\nclair_index_jobs_waiting {}",
        state.index_limit.running(),
        state.index_limit.waiting()
    );
    if let Some(p) = state.store.pool_stats() {
        let _ = writeln!(
            out,
            "# HELP clair_db_pool_connections Database pool connections by state.\n\
             # TYPE clair_db_pool_connections gauge\n\
             clair_db_pool_connections{{state=\"idle\"}} {}\n\
             clair_db_pool_connections{{state=\"in_use\"}} {}\n\
             # HELP clair_db_pool_max_connections Most connections the pool opens.\n\
             # TYPE clair_db_pool_max_connections gauge\n\
             clair_db_pool_max_connections {}",
            p.idle,
            p.connections.saturating_sub(p.idle),
            p.max
        );
    }
    if let Ok(statuses) = state.store.updater_status() {
        let now = jiff::Timestamp::now();
        out.push_str(
            "# HELP clair_updater_success Whether the updater's last run succeeded.\n\
             # TYPE clair_updater_success gauge\n",
        );
        let mut ages = String::new();
        for s in &statuses {
            let ok = u8::from(s.last_error.is_none());
            let _ = writeln!(
                out,
                "clair_updater_success{{updater=\"{}\"}} {ok}",
                s.updater
            );
            if let Some(t) = s.last_success {
                let age = now.duration_since(t).as_secs_f64().max(0.0);
                let _ = writeln!(
                    ages,
                    "clair_updater_last_success_age_seconds{{updater=\"{}\"}} {age}",
                    s.updater
                );
            }
        }
        out.push_str(
            "# HELP clair_updater_last_success_age_seconds Seconds since the updater last succeeded.\n\
             # TYPE clair_updater_last_success_age_seconds gauge\n",
        );
        out.push_str(&ages);
    }
    out
}
