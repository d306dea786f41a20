//! `/health/live` (the process answers) and `/health/ready` (recovery is
//! done and the write-ahead log accepts appends).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use engine::store::StoreHealth;

use crate::AppState;

/// Always 200 while the process serves HTTP.
pub(crate) async fn live() -> (StatusCode, &'static str) {
    (StatusCode::OK, "live\n")
}

/// 200 once recovery finished and while the log is healthy, else 503.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    if !state.inner.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "recovering\n".into());
    }
    match state.inner.engine.health() {
        StoreHealth::Ok => (StatusCode::OK, "ready\n".into()),
        StoreHealth::Failed(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}
