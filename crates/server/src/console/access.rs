//! Who may use the console, checked before any console handler runs.
//!
//! - [`network_guard`] (every console route, the login page and the assets
//!   included): in anonymous mode (no credentials configured) only loopback
//!   peers, with a loopback `Host` (no DNS rebinding) and no proxy
//!   forwarding headers; every POST must come from the console's own origin
//!   (`Origin` / `Sec-Fetch-Site`). Adds the security headers (CSP without
//!   inline scripts or styles, no framing, no sniffing, no referrer to
//!   other sites).
//! - [`require_session`] (every route except login and assets): a live
//!   session cookie — with credentials, made by signing in with an access key
//!   id and its secret; in anonymous mode, made on the first page load. Every
//!   POST must carry the session's CSRF token (form field `csrf` or header
//!   `x-csrf-token`), and in read-only mode every POST but sign-out is refused.
//! - [`login`] checks the access key id and the secret (constant time) against
//!   `[[auth.credentials]]`; a failure waits a second before answering.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::html::{self, esc, Frame};
use super::session::{cookie_value, set_cookie, Operator, Scope, COOKIE};
use super::Shared;

/// Headers that show a request was forwarded by a proxy.
const FORWARDING_HEADERS: &[&str] = &["forwarded", "x-forwarded-for", "x-real-ip"];

/// Content-Security-Policy of every console response: only the console's
/// own scripts and styles, nothing inline, no framing, forms post only here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// How long a failed sign-in waits before answering (slows guessing).
const LOGIN_FAILURE_DELAY: Duration = if cfg!(test) {
    Duration::from_millis(20)
} else {
    Duration::from_secs(1)
};

/// Network-level checks and security headers (see the module docs).
pub(crate) async fn network_guard(
    State(console): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    if let Err(why) = check_network(&console, &request) {
        tracing::info!(path = %request.uri().path(), "console request refused: {why}");
        return with_security_headers(html::error_page(StatusCode::FORBIDDEN, "Forbidden", why));
    }
    with_security_headers(next.run(request).await)
}

fn check_network(console: &Shared, request: &Request) -> Result<(), &'static str> {
    let headers = request.headers();
    if console.anonymous() {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        if !peer.is_some_and(|ip| ip.is_loopback()) {
            return Err(
                "Without configured credentials the console answers loopback clients only.",
            );
        }
        if FORWARDING_HEADERS.iter().any(|h| headers.contains_key(*h)) {
            return Err(
                "Without configured credentials the console does not answer forwarded requests.",
            );
        }
        if !request_host(request).is_some_and(is_loopback_host) {
            return Err("Without configured credentials the console answers only requests addressed to localhost or a loopback address.");
        }
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        same_origin(headers, request_host(request))?;
    }
    Ok(())
}

/// The `Host` header, or the authority of an HTTP/2 request.
fn request_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
pub(super) fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A state-changing request must not come from another site: a browser's
/// `Sec-Fetch-Site` must say same-origin (or none: typed by the user), and an
/// `Origin` must be this host.
fn same_origin(headers: &HeaderMap, host: Option<&str>) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return Err("Cross-site request refused.");
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => {}
            _ => return Err("Cross-origin request refused."),
        }
    }
    Ok(())
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it, browsers send `Origin: null` on form posts,
    // and the same-origin check needs the real origin.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Session, CSRF and read-only checks (see the module docs); puts the
/// [`Operator`] into the request for the handlers.
pub(crate) async fn require_session(
    State(console): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let token = cookie_value(request.headers(), COOKIE).map(str::to_owned);
    let existing = token.as_deref().and_then(|t| console.sessions.get(t));
    let changing = request.method() != Method::GET && request.method() != Method::HEAD;
    let (operator, new_cookie) = match existing {
        Some(operator) => (operator, None),
        None if console.anonymous() && !changing => {
            let operator = console.sessions.create(
                Scope::AllAccounts,
                crate::auth::ANONYMOUS_ACCESS_KEY_ID.to_owned(),
                "anonymous (loopback)".to_owned(),
                false,
            );
            let cookie = set_cookie(&operator.token, console.secure_cookie);
            (operator, Some(cookie))
        }
        None if changing => {
            return html::error_page(
                StatusCode::FORBIDDEN,
                "Session expired",
                "Your console session has ended. Reload the page (or sign in again) and retry.",
            );
        }
        None => return html::redirect("/console/login"),
    };
    let request = if changing {
        match check_post(&console, &operator, request).await {
            Ok(request) => request,
            Err(response) => return response,
        }
    } else {
        request
    };
    let mut request = request;
    request.extensions_mut().insert(operator);
    let mut response = next.run(request).await;
    if let Some(cookie) = new_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// CSRF token and read-only mode; returns the request with its body restored.
async fn check_post(
    console: &Shared,
    operator: &Operator,
    request: Request,
) -> Result<Request, Response> {
    let signing_out = request.uri().path() == "/console/logout";
    if console.config.read_only && !signing_out {
        return Err(html::error_page(
            StatusCode::FORBIDDEN,
            "Read-only console",
            "This console is read-only (console.read_only = true): nothing can be changed here.",
        ));
    }
    let (parts, body) = request.into_parts();
    let bytes = match http_body_util::Limited::new(body, console.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(html::error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                "The form is larger than limits.max_request_bytes.",
            ))
        }
    };
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sent = header_token.or_else(|| {
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
    });
    let valid = sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(operator.csrf.as_bytes())));
    if !valid {
        return Err(html::error_page(
            StatusCode::FORBIDDEN,
            "Invalid form token",
            "The form's CSRF token is missing or wrong. Reload the page and retry.",
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// `GET /console/login`.
pub(crate) async fn login_form(State(console): State<Shared>) -> Response {
    if console.anonymous() {
        return html::redirect("/console/");
    }
    login_page(StatusCode::OK, None, "")
}

fn login_page(status: StatusCode, error: Option<&str>, key: &str) -> Response {
    let error_html = error.map_or(String::new(), |e| {
        format!("<p class=\"flash error\" role=\"alert\">{}</p>", esc(e))
    });
    let body = format!(
        "{error_html}<form method=\"post\" action=\"/console/login\" class=\"card login\">\
         <p>Sign in with an access key configured in <code>[[auth.credentials]]</code>.</p>\
         <label for=\"access_key_id\">Access key ID</label>\
         <input id=\"access_key_id\" name=\"access_key_id\" autocomplete=\"username\" required value=\"{key}\">\
         <label for=\"secret_access_key\">Secret access key</label>\
         <input id=\"secret_access_key\" name=\"secret_access_key\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        key = esc(key)
    );
    let frame = Frame {
        title: "Sign in",
        operator: None,
        read_only: false,
        flash: None,
    };
    html::page_with_status(status, &frame, &body)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    secret_access_key: String,
}

/// `POST /console/login`: a credential → a new session cookie.
pub(crate) async fn login(State(console): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    if console.anonymous() {
        return html::redirect("/console/");
    }
    let found = console
        .auth
        .credentials
        .iter()
        .find(|c| c.access_key_id == form.access_key_id);
    // Compare a secret even for an unknown key, so both failures take as long.
    let expected = found.map_or(&[0u8; 32][..], |c| c.secret_access_key.as_bytes());
    let secret_ok = bool::from(form.secret_access_key.as_bytes().ct_eq(expected));
    let Some(credential) = found.filter(|c| secret_ok && !c.secret_access_key.is_empty()) else {
        tracing::info!(access_key_id = %form.access_key_id, "console sign-in failed");
        tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
        return login_page(
            StatusCode::UNAUTHORIZED,
            Some("Unknown access key ID or wrong secret access key."),
            &form.access_key_id,
        );
    };
    tracing::info!(access_key_id = %credential.access_key_id, "console sign-in");
    let operator = console.sessions.create(
        Scope::Account(credential.account_id.clone()),
        credential.access_key_id.clone(),
        format!(
            "{} (account {})",
            credential.access_key_id, credential.account_id
        ),
        true,
    );
    let mut response = html::redirect("/console/");
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie(&operator.token, console.secure_cookie)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /console/logout`.
pub(crate) async fn logout(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
) -> Response {
    console.sessions.remove(&operator.token);
    let mut response = html::redirect(if console.anonymous() {
        "/console/"
    } else {
        "/console/login"
    });
    if let Ok(cookie) = HeaderValue::from_str(&set_cookie("", console.secure_cookie)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Any other path under `/console/` (after the session check).
pub(crate) async fn not_found() -> Response {
    html::error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such console page.",
    )
    .into_response()
}
