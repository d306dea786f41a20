//! The optional access log (`log.requests = true`): one line per HTTP
//! request at info level under the target `stowage::access`, with method,
//! path, SQS action (when the request was an API call), status and duration.
//! Never the body, never the query string (presigned signatures live there).

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// The SQS action of an API response, set by the API handler for this log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionName(pub(crate) &'static str);

/// Middleware: runs the request, then logs one line.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let action = response
        .extensions()
        .get::<ActionName>()
        .map_or("-", |a| a.0);
    tracing::info!(
        target: "stowage::access",
        method = %method,
        path = %path,
        action,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
