//! SigV4 request authentication and the configured credentials.
//!
//! Contract (owned by the SigV4 work; the HTTP layer only calls [`verify`]).
#![allow(unused_variables)]

use serde::{Deserialize, Serialize};

/// One configured credential: an access key mapped to its secret and account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub fn verify(
    config: &AuthConfig,
    method: &str,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<Principal, AuthError> {
    unimplemented!()
}
