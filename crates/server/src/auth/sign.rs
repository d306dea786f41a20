//! The client side of SigV4 (header form), for `stowage` subcommands that
//! call a running server's admin endpoint with the API's credentials. Built
//! from the same canonical-request and key-derivation code the server
//! verifies with.

use axum::http::{HeaderMap, HeaderValue, Uri};

use super::canonical::{self, CanonicalInput};
use super::date::AmzDate;
use super::query::QueryParams;
use super::{signing, SERVICE};

/// A key to sign with.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Session token, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// Region of the credential scope.
    pub region: String,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Adds `host`, `x-amz-date`, the session token (if any) and
/// `authorization` to `headers` for a request `method uri` with `body`,
/// signed at `now_ms`. `host` is the URI's authority.
pub fn sign(
    credentials: &SigningCredentials,
    method: &str,
    uri: &Uri,
    headers: &mut HeaderMap,
    body: &[u8],
    now_ms: u64,
) {
    let amz_date = AmzDate::from_unix_ms(i64::try_from(now_ms).unwrap_or(i64::MAX)).to_string();
    let date = amz_date.get(..8).unwrap_or_default().to_owned();
    if let Some(Ok(host)) = uri.authority().map(|a| HeaderValue::from_str(a.as_str())) {
        headers.insert(axum::http::header::HOST, host);
    }
    if let Ok(v) = HeaderValue::from_str(&amz_date) {
        headers.insert("x-amz-date", v);
    }
    let mut signed_headers = vec!["host".to_owned(), "x-amz-date".to_owned()];
    if let Some(token) = &credentials.session_token {
        if let Ok(v) = HeaderValue::from_str(token) {
            headers.insert("x-amz-security-token", v);
            signed_headers.push("x-amz-security-token".to_owned());
        }
    }
    let canonical_query = QueryParams::parse(uri.query()).canonical(&[]);
    let payload_hash = signing::sha256_hex(body);
    let canonical_request = canonical::request(&CanonicalInput {
        method,
        raw_path: uri.path(),
        canonical_query: &canonical_query,
        headers,
        authority: uri.authority().map(|a| a.as_str()),
        signed_headers: &signed_headers,
        payload_hash: &payload_hash,
    });
    let scope = format!(
        "{date}/{}/{SERVICE}/{}",
        credentials.region,
        signing::TERMINATOR
    );
    let string_to_sign = signing::string_to_sign(&amz_date, &scope, &canonical_request);
    let key = signing::signing_key(
        &credentials.secret_access_key,
        &date,
        &credentials.region,
        SERVICE,
    );
    let signature = signing::signature(&key, &string_to_sign);
    let authorization = format!(
        "{} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        signing::ALGORITHM,
        credentials.access_key_id,
        signed_headers.join(";")
    );
    if let Ok(v) = HeaderValue::from_str(&authorization) {
        headers.insert(axum::http::header::AUTHORIZATION, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{verify, AuthConfig, Credential};

    fn config() -> AuthConfig {
        AuthConfig {
            credentials: vec![Credential {
                access_key_id: "AKIDADMIN".into(),
                secret_access_key: "admin-secret".into(),
                account_id: "123456789012".into(),
                session_token: None,
            }],
            ..AuthConfig::default()
        }
    }

    fn signed(secret: &str) -> (Uri, HeaderMap) {
        let uri: Uri = "http://127.0.0.1:9324/_stowage/admin/v1".parse().unwrap();
        let mut headers = HeaderMap::new();
        let credentials = SigningCredentials {
            access_key_id: "AKIDADMIN".into(),
            secret_access_key: secret.into(),
            session_token: None,
            region: "eu-west-1".into(),
        };
        sign(
            &credentials,
            "POST",
            &uri,
            &mut headers,
            b"{}",
            1_767_225_600_000,
        );
        (uri, headers)
    }

    #[test]
    fn the_server_accepts_what_the_client_signs() {
        let (uri, headers) = signed("admin-secret");
        // The server sees only the path and query of the request target.
        let target: Uri = uri.path().parse().unwrap();
        let principal = verify(
            &config(),
            "POST",
            &target,
            &headers,
            b"{}",
            1_767_225_600_000,
        )
        .unwrap();
        assert_eq!(principal.account_id, "123456789012");
        assert!(verify(
            &config(),
            "POST",
            &target,
            &headers,
            b"{ }",
            1_767_225_600_000
        )
        .is_err());
        let (_, wrong) = signed("other-secret");
        assert!(verify(&config(), "POST", &target, &wrong, b"{}", 1_767_225_600_000).is_err());
    }
}
