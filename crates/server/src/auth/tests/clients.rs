//! Requests signed by real clients, replayed byte for byte:
//! - `fixtures/botocore.json`, made by `fixtures/generate.py` (boto3's full
//!   JSON-protocol pipeline, and botocore's SigV4Auth / SigV4QueryAuth for
//!   the Query protocol and presigned URLs). Each case carries the canonical
//!   request botocore logged, so a mismatch shows which line differs.
//! - `fixtures/aws_sdk_sqs.json`, made by `fixtures/aws-sdk-sqs-gen` (the
//!   Rust SDK with its aws-sigv4 signer; it also signs `content-length` and
//!   `x-amz-user-agent`).

use base64::Engine as _;
use serde::Deserialize;

use super::super::query::QueryParams;
use super::super::{canonical, signing, AuthConfig, AuthError, Credential};
use super::{config, Request, MINUTE_MS};

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body_base64: String,
    now_ms: u64,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    account_id: String,
    canonical_request: Option<String>,
}

impl Case {
    fn request(&self) -> Request {
        let mut request = Request {
            method: self.method.clone(),
            target: self.target.clone(),
            headers: axum::http::HeaderMap::new(),
            body: base64::engine::general_purpose::STANDARD
                .decode(&self.body_base64)
                .unwrap(),
        };
        for (name, value) in &self.headers {
            request.header(&name.to_ascii_lowercase(), value);
        }
        request
    }

    fn credential(&self) -> Credential {
        Credential {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            account_id: self.account_id.clone(),
            session_token: self.session_token.clone(),
        }
    }

    fn config(&self) -> AuthConfig {
        config(vec![self.credential()])
    }

    fn is_presigned(&self) -> bool {
        self.target.contains("X-Amz-Signature=")
    }

    /// Region from the signature (header or query form).
    fn region(&self) -> String {
        let marker = if self.is_presigned() { "%2F" } else { "/" };
        let text = if self.is_presigned() {
            self.target.split("X-Amz-Credential=").nth(1).unwrap()
        } else {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v.split("Credential=").nth(1).unwrap())
                .unwrap()
        };
        text.split(marker).nth(2).unwrap().to_owned()
    }
}

fn cases() -> Vec<Case> {
    let botocore: Vec<Case> =
        serde_json::from_str(include_str!("../fixtures/botocore.json")).unwrap();
    assert_eq!(botocore.len(), 8, "fixture file lost cases");
    let rust_sdk: Vec<Case> =
        serde_json::from_str(include_str!("../fixtures/aws_sdk_sqs.json")).unwrap();
    assert_eq!(rust_sdk.len(), 3, "fixture file lost cases");
    botocore.into_iter().chain(rust_sdk).collect()
}

#[test]
fn every_botocore_request_verifies_with_the_right_principal() {
    for case in cases() {
        let principal = case
            .request()
            .verify(&case.config(), case.now_ms)
            .unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
        assert_eq!(principal.account_id, case.account_id, "{}", case.name);
        assert_eq!(principal.access_key_id, case.access_key_id, "{}", case.name);
        assert_eq!(principal.region, Some(case.region()), "{}", case.name);
    }
}

#[test]
fn our_canonical_request_is_byte_identical_to_botocores() {
    for case in cases() {
        let Some(expected) = &case.canonical_request else {
            continue;
        };
        let request = case.request();
        let uri = request.uri();
        let query = QueryParams::parse(uri.query());
        let signed_headers: Vec<String> = if case.is_presigned() {
            vec!["host".to_owned()]
        } else {
            let authorization = request.headers["authorization"].to_str().unwrap();
            let list = authorization.split("SignedHeaders=").nth(1).unwrap();
            list.split(',')
                .next()
                .unwrap()
                .split(';')
                .map(str::to_owned)
                .collect()
        };
        let ours = canonical::request(&canonical::CanonicalInput {
            method: &request.method,
            raw_path: uri.path(),
            canonical_query: &query.canonical(if case.is_presigned() {
                &["X-Amz-Signature"]
            } else {
                &[]
            }),
            headers: &request.headers,
            authority: None,
            signed_headers: &signed_headers,
            payload_hash: &signing::sha256_hex(&request.body),
        });
        assert_eq!(&String::from_utf8(ours).unwrap(), expected, "{}", case.name);
    }
}

#[test]
fn wrong_secret_is_signature_does_not_match() {
    for case in cases() {
        let mut credential = case.credential();
        credential.secret_access_key.push('x');
        assert_eq!(
            case.request()
                .verify(&config(vec![credential]), case.now_ms),
            Err(AuthError::SignatureDoesNotMatch),
            "{}",
            case.name
        );
    }
}

#[test]
fn tampered_body_query_or_signed_header_is_signature_does_not_match() {
    for case in cases() {
        let config = case.config();
        let original = case.request();
        let mut tampered = Vec::new();
        if !original.body.is_empty() {
            let mut r = original.clone();
            let last = r.body.len() - 1;
            r.body[last] ^= 0x01;
            tampered.push(("body: last byte flipped", r));
            let mut r = original.clone();
            r.body.push(b' ');
            tampered.push(("body: one byte appended", r));
        }
        let mut r = original.clone();
        r.body = b"Action=PurgeQueue".to_vec();
        tampered.push(("body: replaced", r));
        let mut r = original.clone();
        r.set_header("host", "evil.example:9324");
        tampered.push(("signed host header changed", r));
        let mut r = original.clone();
        r.target = r.target.replacen("/", "/x", 1);
        tampered.push(("path changed", r));
        let mut r = original.clone();
        r.method = if r.method == "GET" { "POST" } else { "GET" }.to_owned();
        tampered.push(("method changed", r));
        if case.is_presigned() {
            let mut r = original.clone();
            r.target = r
                .target
                .replacen("Version=2012-11-05", "Version=2012-11-06", 1);
            tampered.push(("query value changed", r));
            let mut r = original.clone();
            r.target = r.target.replacen("?", "?Extra=1&", 1);
            tampered.push(("query parameter added", r));
        } else if original.headers.contains_key("x-amz-target") {
            let mut r = original.clone();
            r.set_header("x-amz-target", "AmazonSQS.DeleteQueue");
            tampered.push(("signed x-amz-target changed", r));
        }
        for (what, request) in tampered {
            assert_eq!(
                request.verify(&config, case.now_ms),
                Err(AuthError::SignatureDoesNotMatch),
                "{}: {what}",
                case.name
            );
        }
        // Unsigned headers may change freely (proxies add them).
        let mut r = original.clone();
        r.set_header("user-agent", "something-else/1.0");
        r.header("x-forwarded-for", "10.0.0.1");
        assert!(r.verify(&config, case.now_ms).is_ok(), "{}", case.name);
    }
}

#[test]
fn unknown_access_key_is_invalid_client_token_id() {
    for case in cases() {
        let mut other = case.credential();
        other.access_key_id = "AKIASOMEONEELSE00000".to_owned();
        assert_eq!(
            case.request().verify(&config(vec![other]), case.now_ms),
            Err(AuthError::InvalidClientTokenId),
            "{}",
            case.name
        );
    }
}

#[test]
fn session_tokens_must_match_the_configured_one_exactly() {
    for case in cases() {
        let request = case.request();
        let sent_token = case.session_token.is_some();
        // Configured key without a token: a sent token is refused.
        let mut without = case.credential();
        without.session_token = None;
        let result = request.verify(&config(vec![without]), case.now_ms);
        if sent_token {
            assert_eq!(
                result,
                Err(AuthError::InvalidClientTokenId),
                "{}",
                case.name
            );
        } else {
            assert!(result.is_ok(), "{}", case.name);
        }
        // Configured token the request does not carry (or differs from).
        let mut other = case.credential();
        other.session_token = Some("a-different-token".to_owned());
        assert_eq!(
            request.verify(&config(vec![other]), case.now_ms),
            Err(AuthError::InvalidClientTokenId),
            "{}",
            case.name
        );
    }
}

#[test]
fn botocore_requests_age_out_after_fifteen_minutes_or_their_expiry() {
    for case in cases() {
        let request = case.request();
        let config = case.config();
        let signed_at = case.now_ms - 2_000;
        if case.is_presigned() {
            let expires = if case.target.contains("X-Amz-Expires=300") {
                300_000
            } else {
                3_600_000
            };
            assert!(
                request.verify(&config, signed_at + expires).is_ok(),
                "{}",
                case.name
            );
            assert!(
                matches!(
                    request.verify(&config, signed_at + expires + 1),
                    Err(AuthError::RequestExpired(m)) if m.contains("expiration date")
                ),
                "{}",
                case.name
            );
        } else {
            assert!(
                request.verify(&config, signed_at + 15 * MINUTE_MS).is_ok(),
                "{}",
                case.name
            );
            assert!(
                matches!(
                    request.verify(&config, signed_at + 15 * MINUTE_MS + 1),
                    Err(AuthError::RequestExpired(m)) if m.contains("more than 15 minutes after")
                ),
                "{}",
                case.name
            );
        }
    }
}
