//! The admin endpoint on the API port, for `stowage` subcommands run against
//! a running server, and the reset endpoint for test fixtures:
//!
//! - `POST /_stowage/admin/v1`: one JSON [`ops::Request`] in, one JSON value
//!   out (errors: `{"error":{"code","message"}}` with an HTTP status);
//! - `POST /_stowage/reset` (only with `admin.reset_endpoint`): deletes every
//!   queue and message.
//!
//! Access: with credentials configured, a request must carry a valid SigV4
//! signature of one of them (the same check as the SQS API) and acts on that
//! key's account only; without credentials (anonymous mode) only loopback
//! clients are served, with access to every queue.

pub mod backup;
pub mod export_format;
pub mod ops;

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use engine::EngineError;

use crate::auth::AuthError;
use crate::error::{auth_code, client, engine_code, ErrorCode, INTERNAL};
use crate::AppState;
pub use ops::{execute, Scope};

/// Path of the admin endpoint.
pub const ADMIN_PATH: &str = "/_stowage/admin/v1";
/// Path of the reset endpoint.
pub const RESET_PATH: &str = "/_stowage/reset";

/// Why an operator request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The engine refused (unknown queue, SQS validation, storage failure).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The signature check failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Not allowed: anonymous mode from a non-loopback client, or a queue of
    /// another account.
    #[error("{0}")]
    Forbidden(String),
    /// Malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// The body could not be read within the limits (too large, too slow,
    /// the body budget spent).
    #[error(transparent)]
    Body(crate::error::SqsError),
    /// The endpoint is turned off in the configuration.
    #[error("{0} is disabled in the configuration")]
    Disabled(&'static str),
    /// An answer could not be encoded.
    #[error("cannot encode the answer: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Epoch milliseconds from the wall clock (the server's, not the engine's).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The admin and reset routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(ADMIN_PATH, post(admin))
        .route(RESET_PATH, post(reset))
}

async fn admin(State(state): State<AppState>, request: Request) -> Response {
    let result = async {
        if !state.inner.admin.enabled {
            return Err(AdminError::Disabled("the admin endpoint (admin.enabled)"));
        }
        let (scope, body, _budget) = authorize(&state, request).await?;
        let request: ops::Request = serde_json::from_slice(&body)
            .map_err(|e| AdminError::BadRequest(format!("invalid admin request: {e}")))?;
        tracing::info!(op = ?std::mem::discriminant(&request), scope = ?scope, "admin request");
        ops::execute(&state.inner.engine, &scope, request).await
    }
    .await;
    respond(result)
}

async fn reset(State(state): State<AppState>, request: Request) -> Response {
    let result = async {
        if !state.inner.admin.reset_endpoint {
            return Err(AdminError::Disabled(
                "the reset endpoint (admin.reset_endpoint)",
            ));
        }
        let (_scope, _body, _budget) = authorize(&state, request).await?;
        // Whoever may reach it (loopback, or any configured key) resets all.
        let deleted = state.inner.engine.reset().await?;
        tracing::warn!(
            deleted_queues = deleted,
            "reset: every queue and message deleted"
        );
        Ok(serde_json::json!({ "deleted_queues": deleted }))
    }
    .await;
    respond(result)
}

/// Checks who is calling; returns the scope, the body and the part of the
/// body budget it holds (keep it until the answer).
async fn authorize(
    state: &AppState,
    request: Request,
) -> Result<(Scope, Bytes, crate::body_budget::Reservation), AdminError> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (parts, body) = request.into_parts();
    let auth = &state.inner.auth;
    // Who calls is decided before the body is read (all but the signature
    // over it), so unauthenticated clients cannot make the server buffer it.
    let checked = if auth.credentials.is_empty() {
        match peer {
            Some(peer) if peer.ip().is_loopback() => None,
            _ => {
                return Err(AdminError::Forbidden(
                    "without credentials the admin endpoints serve loopback clients only".into(),
                ))
            }
        }
    } else {
        Some(crate::auth::check_headers(
            auth,
            &parts.uri,
            &parts.headers,
            now_ms(),
        )?)
    };
    let declared = crate::handler::declared_length(&parts.headers);
    let (body, reservation) = crate::handler::read_limited_body(state, declared, body)
        .await
        .map_err(AdminError::Body)?;
    let Some(checked) = checked else {
        return Ok((Scope::All, body, reservation));
    };
    let principal =
        checked.verify_body(parts.method.as_str(), &parts.uri, &parts.headers, &body)?;
    Ok((Scope::Account(principal.account_id), body, reservation))
}

/// The code and status of an admin-endpoint error (engine and signature
/// failures keep their SQS codes).
fn code_of(e: &AdminError) -> ErrorCode {
    match e {
        AdminError::Engine(e) => engine_code(e),
        AdminError::Auth(e) => auth_code(e),
        AdminError::Forbidden(_) => client("AccessDenied", "AccessDenied", 403),
        AdminError::BadRequest(_) => client("InvalidRequest", "InvalidRequest", 400),
        AdminError::Body(e) => e.code(),
        AdminError::Disabled(_) => client("NotFound", "NotFound", 404),
        AdminError::Encode(_) => INTERNAL,
    }
}

fn respond(result: Result<serde_json::Value, AdminError>) -> Response {
    let (status, value) = match result {
        Ok(v) => (axum::http::StatusCode::OK, v),
        Err(e) => {
            let code = code_of(&e);
            if code.status.is_server_error() {
                tracing::error!(error = %e, "admin request failed");
            }
            (
                code.status,
                serde_json::json!({ "error": { "code": code.shape, "message": e.to_string() } }),
            )
        }
    };
    let mut response = (status, Body::from(value.to_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
