//! The API handler: one request from bytes to response. Reads the body
//! (size cap, deadline), detects the protocol, authenticates, decodes the
//! parameters, runs the action and renders the answer or the error — with a
//! request id, a tracing span and one metrics record per request.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use http_body_util::BodyExt;
use tracing::Instrument;

use crate::actions::{self, Ctx};
use crate::body_budget::Reservation;
use crate::error::SqsError;
use crate::protocol::{self, json, query, Action, Detected, Out, Params};
use crate::queue_url::{self, UrlBase};
use crate::AppState;

/// Label used in metrics when the action is unknown.
const UNKNOWN_ACTION: &str = "Unknown";

/// Decrements the in-flight gauge when the request ends (or is dropped).
struct InFlight;

impl InFlight {
    fn start() -> InFlight {
        crate::metrics::http_in_flight(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        crate::metrics::http_in_flight(-1.0);
    }
}

/// Serves every API request (any path, any method except the health and
/// metrics routes).
pub(crate) async fn api(State(state): State<AppState>, request: Request) -> Response {
    let _in_flight = InFlight::start();
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        action = tracing::field::Empty,
        queue = tracing::field::Empty,
        account = tracing::field::Empty,
    );
    let detected = protocol::detect(request.headers());
    let protocol = protocol::answer_protocol(&detected, request.headers());
    async move {
        // The request runs in its own task so that a bug (a panic) costs one
        // 500 answer, not the connection, and is logged with the request span.
        let task = tokio::spawn(
            async move { handle(&state, detected, request).await }
                .instrument(tracing::Span::current()),
        );
        let (action, result) = match task.await {
            Ok(done) => done,
            Err(e) => (
                None,
                Err(SqsError::Internal(format!("request task failed: {e}"))),
            ),
        };
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.code().shape,
        };
        crate::metrics::record_request(
            action.map_or(UNKNOWN_ACTION, Action::as_str),
            outcome,
            started.elapsed().as_secs_f64(),
        );
        match &result {
            Ok(_) => tracing::debug!(status = 200, "done"),
            Err(e) => {
                let code = e.code();
                tracing::info!(
                    status = code.status.as_u16(),
                    code = code.shape,
                    "error: {e}"
                );
            }
        }
        let mut response = protocol::respond::respond(protocol, action, &result, &request_id);
        response
            .extensions_mut()
            .insert(crate::access_log::ActionName(
                action.map_or(UNKNOWN_ACTION, Action::as_str),
            ));
        response
    }
    .instrument(span)
    .await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `Content-Length` a request declares, if any.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads a request body under every limit: a declared length over
/// `max_request_bytes` is 413 before a byte is read; the bytes come out of
/// the global body budget (the returned reservation holds them until it is
/// dropped; 503 when no room frees in time); all of it within
/// `body_read_timeout_ms`. Authenticate what can be before calling this.
pub(crate) async fn read_limited_body(
    state: &AppState,
    declared: Option<u64>,
    body: Body,
) -> Result<(Bytes, Reservation), SqsError> {
    let max = state.inner.limits.max_request_bytes;
    if declared.is_some_and(|n| n > max) {
        return Err(SqsError::RequestTooLarge(max));
    }
    let mut reservation = state.inner.body_budget.reservation();
    reservation
        .cover(declared.unwrap_or(0))
        .await
        .map_err(|_| SqsError::BodyBudgetExhausted)?;
    let body = read_body(state, body, declared, &mut reservation).await?;
    Ok((body, reservation))
}

/// Reads the whole body within `limits.body_read_timeout_ms` and
/// `max_request_bytes`, keeping `reservation` (already covering the declared
/// length) at least as large as what has been read.
async fn read_body(
    state: &AppState,
    body: Body,
    declared: Option<u64>,
    reservation: &mut Reservation,
) -> Result<Bytes, SqsError> {
    let limits = &state.inner.limits;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(limits.body_read_timeout_ms);
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(0));
    let mut buf = Vec::with_capacity(capacity);
    let mut body = body;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(SqsError::RequestTimeout),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(SqsError::IncompleteBody(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let total = (buf.len() + data.len()) as u64;
        if total > limits.max_request_bytes {
            return Err(SqsError::RequestTooLarge(limits.max_request_bytes));
        }
        reservation
            .cover(total)
            .await
            .map_err(|_| SqsError::BodyBudgetExhausted)?;
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

/// Everything up to the action's result; the protocol is known first so that
/// even the earliest errors are answered in the client's protocol.
async fn handle(
    state: &AppState,
    detected: Detected,
    request: Request,
) -> (Option<Action>, Result<Out, SqsError>) {
    let (parts, body) = request.into_parts();
    let mut action = None;
    let result = async {
        if let Some(encoding) = parts.headers.get(header::CONTENT_ENCODING) {
            let encoding = encoding.to_str().unwrap_or("?").trim();
            if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity") {
                return Err(SqsError::UnsupportedContentEncoding(encoding.to_owned()));
            }
        }
        let declared = declared_length(&parts.headers);
        if declared.is_some_and(|n| n > state.inner.limits.max_request_bytes) {
            return Err(SqsError::RequestTooLarge(
                state.inner.limits.max_request_bytes,
            ));
        }
        // JSON names its action in a header: an unknown one is refused first,
        // as before. (Query names it in the body.)
        if let Detected::Json(name) = &detected {
            let parsed = parse_action(name.clone(), false)?;
            action = Some(parsed);
            tracing::Span::current().record("action", parsed.as_str());
        }
        // Everything the signature check can decide without the body is
        // decided before a byte of it is read; then the body's bytes come out
        // of the global budget.
        let headers_checked =
            crate::auth::check_headers(&state.inner.auth, &parts.uri, &parts.headers, now_ms())?;
        let (body, reservation) = read_limited_body(state, declared, body).await?;

        // Query parameters come from the URI query string and the form body.
        let query_tree = match detected {
            Detected::Query => {
                let mut pairs =
                    query::parse_pairs(parts.uri.query().unwrap_or_default().as_bytes())?;
                pairs.extend(query::parse_pairs(&body)?);
                Some(query::tree(pairs))
            }
            Detected::Json(_) => None,
        };
        let path_queue_url = match detected {
            Detected::Query => queue_url::from_path(parts.uri.path()),
            Detected::Json(_) => None,
        };
        let parsed = match (action, &query_tree) {
            (Some(parsed), _) => parsed,
            (None, tree) => {
                let name = match tree.as_ref().and_then(|t| t.get("Action")) {
                    Some(protocol::query::Node::Leaf(a)) => Some(a.clone()),
                    _ => None,
                };
                let parsed = parse_action(name, path_queue_url.is_some())?;
                action = Some(parsed);
                tracing::Span::current().record("action", parsed.as_str());
                parsed
            }
        };

        let principal = headers_checked.verify_body(
            parts.method.as_str(),
            &parts.uri,
            &parts.headers,
            &body,
        )?;
        tracing::Span::current().record("account", principal.account_id.as_str());
        let ctx = Ctx {
            engine: &state.inner.engine,
            // SenderId is a principal id, never the access key id (half of
            // a credential): the caller's account id in every auth mode.
            caller: engine::Caller {
                sender_id: principal.account_id.clone(),
                account: principal.account_id,
            },
            base: UrlBase::for_request(
                state.inner.public_base_url.as_deref(),
                &parts.headers,
                &parts.uri,
                &state.inner.listen,
            ),
            path_queue_url,
            trace_header: parts
                .headers
                .get("x-amzn-trace-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        };
        let result = match &query_tree {
            Some(tree) => actions::dispatch(&ctx, parsed, Params::Query(tree)).await,
            None => {
                let map = json::decode(&body)?;
                actions::dispatch(&ctx, parsed, Params::Json(&map)).await
            }
        };
        // The body and what was decoded from it are in memory until here.
        drop(reservation);
        result
    }
    .await;
    (action, result)
}

/// The action a request names: missing/empty → `MissingAction` (or
/// `UnknownOperation` for a Query request to a queue URL: SQS does not know
/// the operation there), unknown → `InvalidAction`; the actions that take no
/// queue are not valid on a queue URL.
fn parse_action(name: Option<String>, on_queue_url: bool) -> Result<Action, SqsError> {
    let parsed: Action = match name.filter(|n| !n.is_empty()) {
        None if on_queue_url => return Err(SqsError::UnknownOperation),
        None => return Err(SqsError::MissingAction),
        Some(n) => n.parse().map_err(|_| SqsError::InvalidAction(n))?,
    };
    if on_queue_url && matches!(parsed, Action::CreateQueue | Action::ListQueues) {
        return Err(SqsError::InvalidAction(parsed.as_str().to_owned()));
    }
    Ok(parsed)
}
