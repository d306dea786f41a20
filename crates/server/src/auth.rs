//! SigV4 request authentication and the configured credentials.
//!
//! The HTTP layer calls [`check_headers`] once per API request before it
//! reads the body, then [`HeadersChecked::verify_body`] with the exact body
//! ([`verify`] does both).
//!
//! Verification (when credentials are configured), in order (1–3 need no
//! body, so an unauthenticated client never makes the server buffer one):
//! 1. `parse`: find the signature (`Authorization` header or presigned
//!    `X-Amz-*` query parameters) and check its structure, the credential
//!    scope (`<key>/<YYYYMMDD>/<region>/sqs/aws4_request`, date equal to the
//!    date of `X-Amz-Date`) and that `host` is signed →
//!    `MissingAuthenticationToken` / `IncompleteSignature`.
//! 2. Time: more than [`MAX_CLOCK_SKEW_MS`] between `X-Amz-Date` and now, or
//!    a presigned URL past `X-Amz-Date + X-Amz-Expires` → `RequestExpired`.
//! 3. The access key must be configured, and the session token must match
//!    the key's (or be absent when the key has none) → `InvalidClientTokenId`.
//! 4. `canonical` + `signing`: rebuild the canonical request from the raw
//!    bytes, derive the signing key, compare in constant time →
//!    `SignatureDoesNotMatch`.
//!
//! The payload hash is always recomputed from the exact body: a client's
//! `X-Amz-Content-SHA256` is not trusted, so `UNSIGNED-PAYLOAD` is accepted
//! only for presigned requests with an empty body.

mod anonymous;
mod canonical;
pub(crate) mod date;
mod parse;
mod query;
mod sign;
mod signing;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use sign::{sign, SigningCredentials};

pub(crate) use date::AmzDate;
use parse::{Form, SignedRequest};
use query::QueryParams;

/// Signing name of SQS; the only service accepted in a credential scope.
pub const SERVICE: &str = "sqs";

/// Access key id reported for anonymous callers that claim none.
pub const ANONYMOUS_ACCESS_KEY_ID: &str = "anonymous";

/// Largest accepted difference between `X-Amz-Date` and the server clock
/// (15 minutes, as SQS). Also how long a signed request can be replayed.
pub const MAX_CLOCK_SKEW_MS: u64 = 15 * 60 * 1_000;

/// Payload hash that presigned URLs may use instead of the body's SHA-256.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// One configured credential: an access key mapped to its secret and account.
///
/// `Debug` redacts the secret and the session token, so logging a config is safe.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// Access key id (`AKIA…`).
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Account id (12 digits) the key belongs to.
    pub account_id: String,
    /// Session token required with this key, if any (temporary credentials).
    #[serde(default)]
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account_id", &self.account_id)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `[auth]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Credentials. Empty: any signature is accepted (local-emulator mode), and
    /// the server then only listens on loopback unless `allow_anonymous`.
    /// Default: empty.
    pub credentials: Vec<Credential>,
    /// Allow listening on a non-loopback address without credentials.
    /// Default: false.
    pub allow_anonymous: bool,
    /// Account id of anonymous callers (no credentials configured).
    /// Default: `000000000000`.
    pub anonymous_account_id: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            credentials: Vec::new(),
            allow_anonymous: false,
            anonymous_account_id: "000000000000".into(),
        }
    }
}

impl AuthConfig {
    /// Checks the credentials: every access key id non-empty and unique,
    /// every secret non-empty, session tokens (if set) non-empty, and every
    /// account id (including `anonymous_account_id`) exactly 12 ASCII digits.
    /// The message names the offending key (never a secret).
    pub fn validate(&self) -> Result<(), String> {
        let is_account_id = |id: &str| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
        if !is_account_id(&self.anonymous_account_id) {
            return Err(format!(
                "auth.anonymous_account_id `{}` must be 12 digits",
                self.anonymous_account_id
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, credential) in self.credentials.iter().enumerate() {
            let key = &credential.access_key_id;
            if key.is_empty() || key.contains(['/', ',', ' ', '=']) {
                return Err(format!(
                    "auth.credentials[{i}].access_key_id must be non-empty, without '/', ',', '=' or spaces"
                ));
            }
            if !seen.insert(key.as_str()) {
                return Err(format!(
                    "auth.credentials: access key id `{key}` is configured more than once"
                ));
            }
            if credential.secret_access_key.is_empty() {
                return Err(format!(
                    "auth.credentials[{i}] (`{key}`): secret_access_key must not be empty"
                ));
            }
            if credential.session_token.as_deref() == Some("") {
                return Err(format!(
                    "auth.credentials[{i}] (`{key}`): session_token must be omitted or non-empty"
                ));
            }
            if !is_account_id(&credential.account_id) {
                return Err(format!(
                    "auth.credentials[{i}] (`{key}`): account_id `{}` must be 12 digits",
                    credential.account_id
                ));
            }
        }
        Ok(())
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Account id.
    pub account_id: String,
    /// Access key id used (or `anonymous`).
    pub access_key_id: String,
    /// Region from the credential scope, if signed.
    pub region: Option<String>,
}

/// Why a request was not authenticated. Mapped to SQS errors in `error.rs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No Authorization header and no presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The signature is malformed or lacks a part.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Unknown access key, or wrong/missing session token.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// The signature does not match.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    SignatureDoesNotMatch,
    /// More than 15 minutes of clock skew, or a presigned URL past its expiry.
    #[error("{0}")]
    RequestExpired(String),
}

/// Verifies a request. `uri` is the request target as received (path and
/// raw query), `body` the exact body bytes, `now_ms` the wall clock.
/// Equivalent to [`check_headers`] followed by [`HeadersChecked::verify_body`].
pub fn verify(
    config: &AuthConfig,
    method: &str,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<Principal, AuthError> {
    check_headers(config, uri, headers, now_ms)?.verify_body(method, uri, headers, body)
}

/// Steps 1–3 of verification, which need no body: a missing, malformed,
/// expired or unknown-key signature is refused here, before the server
/// reads (and buffers) a single byte of the body.
pub fn check_headers<'a>(
    config: &'a AuthConfig,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    now_ms: u64,
) -> Result<HeadersChecked<'a>, AuthError> {
    if config.credentials.is_empty() {
        return Ok(HeadersChecked(Checked::Anonymous(anonymous::principal(
            config, uri, headers,
        ))));
    }
    check_signed_headers(config, SERVICE, uri, headers, now_ms)
        .map(|signed| HeadersChecked(Checked::Signed(signed)))
}

/// A request whose signature parameters, date, access key and session token
/// passed [`check_headers`]; only the signature over the body remains.
#[derive(Debug)]
pub struct HeadersChecked<'a>(Checked<'a>);

#[derive(Debug)]
enum Checked<'a> {
    /// No credentials configured: nothing to verify.
    Anonymous(Principal),
    /// Credentials configured.
    Signed(SignedHeaders<'a>),
}

/// What [`check_signed_headers`] found.
#[derive(Debug)]
struct SignedHeaders<'a> {
    query: QueryParams,
    signed: SignedRequest,
    credential: &'a Credential,
}

impl HeadersChecked<'_> {
    /// Step 4: the signature over the canonical request, whose payload hash
    /// is computed from `body`. Pass the same method, target and headers
    /// [`check_headers`] saw.
    pub fn verify_body(
        self,
        method: &str,
        uri: &axum::http::Uri,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Principal, AuthError> {
        match self.0 {
            Checked::Anonymous(principal) => Ok(principal),
            Checked::Signed(signed) => signed.verify_body(method, uri, headers, body),
        }
    }
}

/// [`verify`] with credentials configured, for a scope naming `service`
/// (tests use the AWS test-suite service name `service`).
#[cfg(test)]
fn verify_signed(
    config: &AuthConfig,
    service: &str,
    method: &str,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<Principal, AuthError> {
    check_signed_headers(config, service, uri, headers, now_ms)?
        .verify_body(method, uri, headers, body)
}

/// Steps 1–3 with credentials configured.
fn check_signed_headers<'a>(
    config: &'a AuthConfig,
    service: &str,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    now_ms: u64,
) -> Result<SignedHeaders<'a>, AuthError> {
    let query = QueryParams::parse(uri.query());
    let signed = parse::signed_request(headers, &query, service)?;
    check_time(&signed, now_ms)?;
    let credential = config
        .credentials
        .iter()
        .find(|c| c.access_key_id == signed.credential.access_key_id)
        .ok_or(AuthError::InvalidClientTokenId)?;
    check_session_token(credential, signed.security_token.as_deref())?;
    Ok(SignedHeaders {
        query,
        signed,
        credential,
    })
}

impl SignedHeaders<'_> {
    fn verify_body(
        self,
        method: &str,
        uri: &axum::http::Uri,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Principal, AuthError> {
        let SignedHeaders {
            query,
            signed,
            credential,
        } = self;
        let canonical_query = match signed.form {
            Form::Header => query.canonical(&[]),
            Form::Presigned { .. } => query.canonical(&[parse::Q_SIGNATURE]),
        };
        let body_hash = signing::sha256_hex(body);
        let mut payload_hashes = vec![body_hash.as_str()];
        if matches!(signed.form, Form::Presigned { .. }) && body.is_empty() {
            payload_hashes.push(UNSIGNED_PAYLOAD);
        }
        let scope = signed.credential.scope();
        let key = signing::signing_key(
            &credential.secret_access_key,
            &signed.credential.date,
            &signed.credential.region,
            &signed.credential.service,
        );
        let authority = uri.authority().map(|a| a.as_str());
        let mut matched = false;
        for payload_hash in payload_hashes {
            let canonical_request = canonical::request(&canonical::CanonicalInput {
                method,
                raw_path: uri.path(),
                canonical_query: &canonical_query,
                headers,
                authority,
                signed_headers: &signed.signed_headers,
                payload_hash,
            });
            let string_to_sign =
                signing::string_to_sign(&signed.amz_date, &scope, &canonical_request);
            let expected = signing::signature(&key, &string_to_sign);
            // Evaluate every candidate so the work done does not depend on which matched.
            matched |= signing::constant_time_eq(expected.as_bytes(), signed.signature.as_bytes());
        }
        if !matched {
            tracing::debug!(
                access_key_id = %signed.credential.access_key_id,
                canonical_uri = %canonical::uri(uri.path()),
                signed_headers = %signed.signed_headers.join(";"),
                payload_hash = %body_hash,
                "SigV4 signature mismatch"
            );
            return Err(AuthError::SignatureDoesNotMatch);
        }
        Ok(Principal {
            account_id: credential.account_id.clone(),
            access_key_id: credential.access_key_id.clone(),
            region: Some(signed.credential.region),
        })
    }
}

/// Clock skew (both forms) and presigned expiry.
fn check_time(signed: &SignedRequest, now_ms: u64) -> Result<(), AuthError> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let date_ms = signed.date.unix_ms();
    let skew = i64::try_from(MAX_CLOCK_SKEW_MS).unwrap_or(i64::MAX);
    let server_time = AmzDate::from_unix_ms(now);
    if date_ms.saturating_sub(now) > skew {
        return Err(AuthError::RequestExpired(format!(
            "Request is not yet valid: the date stamp on the request is more than 15 minutes \
             in the future (X-Amz-Date {}, server time {server_time}).",
            signed.amz_date
        )));
    }
    match signed.form {
        Form::Header if now.saturating_sub(date_ms) > skew => {
            Err(AuthError::RequestExpired(format!(
                "Request has expired: the request reached the service more than 15 minutes \
                 after the date stamp on the request (X-Amz-Date {}, server time {server_time}).",
                signed.amz_date
            )))
        }
        Form::Presigned { expires_secs } => {
            let expires_ms = i64::try_from(expires_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000);
            let expiry = date_ms.saturating_add(expires_ms);
            if now > expiry {
                Err(AuthError::RequestExpired(format!(
                    "Request has expired: the request reached the service after the request \
                     expiration date (X-Amz-Date {} + X-Amz-Expires {expires_secs} s = {}, \
                     server time {server_time}).",
                    signed.amz_date,
                    AmzDate::from_unix_ms(expiry)
                )))
            } else {
                Ok(())
            }
        }
        Form::Header => Ok(()),
    }
}

/// A key with a session token requires exactly that token; a key without
/// one rejects any token (as AWS does for long-term keys).
fn check_session_token(credential: &Credential, sent: Option<&[u8]>) -> Result<(), AuthError> {
    let ok = match (credential.session_token.as_deref(), sent) {
        (None, None) => true,
        (Some(expected), Some(sent)) => signing::constant_time_eq(expected.as_bytes(), sent),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::InvalidClientTokenId)
    }
}
