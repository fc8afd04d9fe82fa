//! Operations: request ids, structured request logs, Prometheus metrics,
//! security headers, health and readiness, and the embedded static assets.

use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::auth::RequestId;
use crate::error::problem;
use crate::state::AppState;

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process.
pub fn install_metrics() {
    METRICS.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok().map(|()| handle)
    });
}

fn town_of(path: &str) -> &str {
    let rest = path
        .strip_prefix("/t/")
        .or_else(|| path.strip_prefix("/api/v1/towns/"))
        .unwrap_or("");
    rest.split('/').next().unwrap_or("")
}

/// Assigns a request id, logs the request with its town, records metrics and
/// adds security headers.
pub async fn track(mut req: Request, next: Next) -> Response {
    // NUL characters have no use in any path or query and PostgreSQL cannot
    // store them; refuse them before anything reads them.
    if req.uri().to_string().to_ascii_lowercase().contains("%00") {
        return if req.uri().path().starts_with("/api/") {
            problem(
                StatusCode::BAD_REQUEST,
                "invalid-url",
                "The address may not contain NUL characters (%00).",
                None,
            )
        } else {
            (
                StatusCode::BAD_REQUEST,
                "The address may not contain NUL characters (%00).",
            )
                .into_response()
        };
    }
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let town = town_of(req.uri().path()).to_owned();
    let span =
        tracing::info_span!("request", request_id = %id, %method, route = %route, town = %town);
    let start = Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    span.in_scope(|| tracing::info!(status, micros, "served"));
    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route).record(elapsed.as_secs_f64());
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    resp
}

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database and object store answer.
pub async fn readyz(State(st): State<AppState>) -> Response {
    if let Err(e) = st.db.ping().await {
        tracing::warn!(error = %e, "database not ready");
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "The database does not answer.",
            None,
        );
    }
    if let Err(e) = st.blobs.ping().await {
        tracing::warn!(error = %e, "object store not ready");
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "The object store does not answer.",
            None,
        );
    }
    "ready".into_response()
}

/// Prometheus metrics.
pub async fn metrics() -> Response {
    match METRICS.get().and_then(Option::as_ref) {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed in this process",
        )
            .into_response(),
    }
}

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Serves an embedded static file.
pub async fn asset(Path(path): Path<String>) -> Response {
    let Some(file) = Assets::get(&path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mime = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(Body::from(file.data.into_owned()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
