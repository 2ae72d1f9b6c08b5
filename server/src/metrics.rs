//! `GET /metrics`: this instance's figures in the Prometheus text format (version 0.0.4).
//!
//! Written by hand: a handful of counters, two gauges read at scrape time and one histogram do
//! not pay for a metrics framework, and the classic text format is what every Prometheus reads.
//! Counters are per process (they start at 0 with it); events from other instances (relayed
//! through Redis) are never counted here, so summing over instances counts each thing once.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use aniworld_core::events::Event;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response, handler};

use crate::app::AppState;
use crate::error::ApiError;

/// Upper bounds of the scan duration buckets, seconds.
const SCAN_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

/// The route label of a request no route matched.
const UNMATCHED: &str = "unmatched";

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bound of [`SCAN_BUCKETS`].
    buckets: [u64; SCAN_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The counters of one process.
#[derive(Default)]
pub struct Metrics {
    /// (method, route template, status) → requests.
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
    downloads_completed: AtomicU64,
    downloads_failed: AtomicU64,
    download_bytes: AtomicU64,
    /// Bytes of each running download as last reported (the first report is where it resumed).
    download_position: Mutex<HashMap<i64, u64>>,
    scans: Mutex<Histogram>,
    scans_failed: AtomicU64,
    websocket_clients: AtomicI64,
}

impl Metrics {
    /// Counts what this instance's own events say (downloads, scans).
    pub fn observe(&self, event: &Event) {
        match event {
            Event::DownloadStarted { item_id, .. } => {
                self.positions().remove(item_id);
            }
            Event::DownloadProgress { progress, .. } => {
                self.advance(progress.item_id, progress.bytes);
            }
            Event::DownloadCompleted { item_id, size, .. } => {
                self.advance(*item_id, *size);
                self.positions().remove(item_id);
                self.downloads_completed.fetch_add(1, Ordering::Relaxed);
            }
            Event::DownloadFailed { item_id, .. } => {
                self.positions().remove(item_id);
                self.downloads_failed.fetch_add(1, Ordering::Relaxed);
            }
            Event::ScanCompleted { duration_ms, .. } => {
                let secs = *duration_ms as f64 / 1000.0;
                let mut scans = self.scans.lock().expect("metrics lock");
                for (bucket, bound) in scans.buckets.iter_mut().zip(SCAN_BUCKETS) {
                    if secs <= bound {
                        *bucket += 1;
                    }
                }
                scans.count += 1;
                scans.sum += secs;
            }
            Event::ScanFailed { .. } => {
                self.scans_failed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn positions(&self) -> std::sync::MutexGuard<'_, HashMap<i64, u64>> {
        self.download_position.lock().expect("metrics lock")
    }

    /// Counts the bytes a download moved forward since its last report; its first report only
    /// sets where it starts (a resumed download's earlier bytes were counted before, or by
    /// another run).
    fn advance(&self, item_id: i64, bytes: u64) {
        let mut positions = self.positions();
        if let Some(last) = positions.insert(item_id, bytes) {
            self.download_bytes
                .fetch_add(bytes.saturating_sub(last), Ordering::Relaxed);
        }
    }

    pub fn websocket_connected(&self) -> WebSocketGuard<'_> {
        self.websocket_clients.fetch_add(1, Ordering::Relaxed);
        WebSocketGuard(self)
    }

    fn record_request(&self, method: &str, route: &str, status: StatusCode) {
        *self
            .http
            .lock()
            .expect("metrics lock")
            .entry((method.to_owned(), route.to_owned(), status.as_u16()))
            .or_default() += 1;
    }
}

/// Counts a connected WebSocket client for as long as it lives.
pub struct WebSocketGuard<'a>(&'a Metrics);

impl Drop for WebSocketGuard<'_> {
    fn drop(&mut self) {
        self.0.websocket_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition of `state`'s instance.
pub async fn render(state: &AppState) -> String {
    let metrics = state.metrics();
    let mut out = String::with_capacity(4096);

    header(
        &mut out,
        "aniworld_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route template and status.",
    );
    for ((method, route, status), n) in metrics.http.lock().expect("metrics lock").iter() {
        let _ = writeln!(
            out,
            "aniworld_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
            label(method),
            label(route)
        );
    }

    if let Some(queue) = state.queue() {
        match queue.counts().await {
            Ok(counts) => {
                header(
                    &mut out,
                    "aniworld_queue_items",
                    "gauge",
                    "Download queue items by status.",
                );
                for (status, n) in [
                    ("pending", counts.pending),
                    ("downloading", counts.downloading),
                    ("paused", counts.paused),
                    ("completed", counts.completed),
                    ("failed", counts.failed),
                    ("cancelled", counts.cancelled),
                ] {
                    let _ = writeln!(out, "aniworld_queue_items{{status=\"{status}\"}} {n}");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the queue counts are left out of /metrics"),
        }
    }

    for (name, help, value) in [
        (
            "aniworld_downloads_completed_total",
            "Downloads this instance completed.",
            &metrics.downloads_completed,
        ),
        (
            "aniworld_downloads_failed_total",
            "Downloads this instance gave up on.",
            &metrics.downloads_failed,
        ),
        (
            "aniworld_download_bytes_total",
            "Bytes this instance downloaded into episode files.",
            &metrics.download_bytes,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
    }

    let sites = state.network().request_counts();
    header(
        &mut out,
        "aniworld_provider_requests_total",
        "counter",
        "Requests to provider sites (one per page or search, however many retries), by site.",
    );
    for s in &sites {
        let _ = writeln!(
            out,
            "aniworld_provider_requests_total{{site=\"{}\"}} {}",
            label(&s.site),
            s.requests
        );
    }
    header(
        &mut out,
        "aniworld_provider_errors_total",
        "counter",
        "Provider site requests that failed (unreachable, blocked, down, bad answer), by site.",
    );
    for s in &sites {
        let _ = writeln!(
            out,
            "aniworld_provider_errors_total{{site=\"{}\"}} {}",
            label(&s.site),
            s.errors
        );
    }

    header(
        &mut out,
        "aniworld_scan_duration_seconds",
        "histogram",
        "How long completed library scans took.",
    );
    {
        let scans = metrics.scans.lock().expect("metrics lock");
        for (bound, n) in SCAN_BUCKETS.iter().zip(scans.buckets) {
            let _ = writeln!(
                out,
                "aniworld_scan_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "aniworld_scan_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            scans.count
        );
        let _ = writeln!(out, "aniworld_scan_duration_seconds_sum {}", scans.sum);
        let _ = writeln!(out, "aniworld_scan_duration_seconds_count {}", scans.count);
    }
    header(
        &mut out,
        "aniworld_scans_failed_total",
        "counter",
        "Library scans that failed.",
    );
    let _ = writeln!(
        out,
        "aniworld_scans_failed_total {}",
        metrics.scans_failed.load(Ordering::Relaxed)
    );

    header(
        &mut out,
        "aniworld_websocket_clients",
        "gauge",
        "WebSocket clients connected to this instance.",
    );
    let _ = writeln!(
        out,
        "aniworld_websocket_clients {}",
        metrics.websocket_clients.load(Ordering::Relaxed).max(0)
    );
    out
}

/// `GET /metrics`: a bearer token unless `server.metrics_public`.
#[handler]
pub async fn endpoint(req: &Request, state: Data<&AppState>) -> poem::Result<Response> {
    if !state.config().server.metrics_public {
        let token = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::unauthorized(
                "GET /metrics needs Authorization: Bearer <token> (or server.metrics_public = true)",
            )
            .into());
        };
        state.auth().verify(token).await?;
    }
    Ok(Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render(&state).await))
}

/// The route template a request matched, handed from [`route_of`] to [`count_requests`].
#[derive(Clone, Default)]
struct MatchedRoute(std::sync::Arc<Mutex<Option<String>>>);

/// Outermost: counts every answer by method, route template and status (also those the limits
/// and error middlewares make).
pub async fn count_requests<E: Endpoint>(
    ep: std::sync::Arc<E>,
    mut req: Request,
    metrics: std::sync::Arc<Metrics>,
) -> poem::Result<Response> {
    let method = req.method().as_str().to_owned();
    let slot = MatchedRoute::default();
    req.set_data(slot.clone());
    let result = ep.call(req).await.map(IntoResponse::into_response);
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(e) => e.status(),
    };
    let route = slot
        .0
        .lock()
        .expect("metrics lock")
        .take()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    metrics.record_request(&method, &route, status);
    result
}

/// The path template of every API operation, by operation id, as the OpenAPI document writes it
/// (`/api/anime/{id}`).
pub fn operation_paths(spec: &serde_json::Value) -> HashMap<String, String> {
    let mut paths = HashMap::new();
    if let Some(items) = spec.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in items {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(id) = operation.get("operationId").and_then(|v| v.as_str()) {
                    paths.insert(id.to_owned(), path.clone());
                }
            }
        }
    }
    paths
}

/// Innermost (around the routes): notes the matched route template for [`count_requests`]: the
/// OpenAPI path of an API operation, else the router's pattern.
pub async fn route_of<E: Endpoint>(
    ep: std::sync::Arc<E>,
    req: Request,
    operations: std::sync::Arc<HashMap<String, String>>,
) -> poem::Result<Response> {
    let slot = req.data::<MatchedRoute>().cloned();
    let result = ep.call(req).await.map(IntoResponse::into_response);
    if let Some(slot) = slot {
        let (operation, pattern) = match &result {
            Ok(resp) => (
                resp.data::<poem_openapi::OperationId>().copied(),
                resp.data::<poem::PathPattern>().map(|p| p.0.to_string()),
            ),
            Err(e) => (
                e.data::<poem_openapi::OperationId>().copied(),
                e.data::<poem::PathPattern>().map(|p| p.0.to_string()),
            ),
        };
        let route = operation
            .and_then(|id| operations.get(id.0).cloned())
            .or(pattern);
        if let Some(route) = route {
            *slot.0.lock().expect("metrics lock") = Some(route);
        }
    }
    result
}
