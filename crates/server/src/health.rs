//! `/health/live` (the process answers and its log is not poisoned) and
//! `/health/ready` (recovery is done and the store accepts changes: the
//! write-ahead log, or the connection to PostgreSQL).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use engine::store::StoreHealth;

use crate::AppState;

/// 200 while the process serves HTTP, 503 (with the reason) once the log is
/// poisoned: a failed write or fsync is never retried, so only a restart
/// (which recovers from disk) brings writes back, and a liveness probe that
/// fails makes the supervisor do it. A node over PostgreSQL stays live while
/// the database is unreachable: it reconnects by itself, and a restart would
/// not help (readiness reports it).
pub(crate) async fn live(State(state): State<AppState>) -> (StatusCode, String) {
    let engine = &state.inner.engine;
    match engine.health() {
        StoreHealth::Failed(reason) if engine.storage().is_some() => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{reason}; restart required\n"),
        ),
        _ => (StatusCode::OK, "live\n".into()),
    }
}

/// 200 once recovery finished and while the store is healthy (the log
/// accepts appends; PostgreSQL is reachable), else 503 with the reason.
pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    if !state.inner.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "recovering\n".into());
    }
    match state.inner.engine.health() {
        StoreHealth::Ok => (StatusCode::OK, "ready\n".into()),
        StoreHealth::Failed(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}
