//! SigV4 tests: AWS test-suite vectors, requests signed by real botocore
//! (committed fixtures), every error path, anonymous mode and properties.
//!
//! Shared helpers live here: a request value, configs, and a test signer
//! built on the same canonical/signing code (which the vector and botocore
//! tests check independently), used to craft requests at chosen times.

mod anonymous;
mod clients;
mod errors;
mod properties;
mod vectors;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};

use super::date::AmzDate;
use super::query::{uri_encode, QueryParams};
use super::{canonical, signing, AuthConfig, AuthError, Credential, Principal};

/// 2026-01-15T09:30:00Z, the signing time used by most tests.
pub(super) const T0: &str = "20260115T093000Z";

pub(super) fn ms(amz_date: &str) -> u64 {
    let date = AmzDate::parse(amz_date).expect("valid test date");
    u64::try_from(date.unix_ms()).expect("after 1970")
}

pub(super) const MINUTE_MS: u64 = 60_000;

/// A raw request as the HTTP layer would hand it to `verify`.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Request {
    pub(super) fn new(method: &str, target: &str) -> Request {
        let mut request = Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        };
        request.header("host", "127.0.0.1:9324");
        request
    }

    /// Appends a header (keeps existing values of the same name).
    pub(super) fn header(&mut self, name: &str, value: &str) -> &mut Request {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
        self
    }

    /// Replaces every value of a header.
    pub(super) fn set_header(&mut self, name: &str, value: &str) -> &mut Request {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
        self
    }

    pub(super) fn body(&mut self, body: &[u8]) -> &mut Request {
        self.body = body.to_vec();
        self
    }

    pub(super) fn uri(&self) -> Uri {
        self.target.parse().expect("request target")
    }

    /// `verify` for service `sqs`.
    pub(super) fn verify(&self, config: &AuthConfig, now_ms: u64) -> Result<Principal, AuthError> {
        super::verify(
            config,
            &self.method,
            &self.uri(),
            &self.headers,
            &self.body,
            now_ms,
        )
    }

    /// `verify` for another scope service name (AWS test-suite vectors).
    pub(super) fn verify_for(
        &self,
        service: &str,
        config: &AuthConfig,
        now_ms: u64,
    ) -> Result<Principal, AuthError> {
        super::verify_signed(
            config,
            service,
            &self.method,
            &self.uri(),
            &self.headers,
            &self.body,
            now_ms,
        )
    }
}

pub(super) fn credential(access_key_id: &str, secret: &str, account_id: &str) -> Credential {
    Credential {
        access_key_id: access_key_id.to_owned(),
        secret_access_key: secret.to_owned(),
        account_id: account_id.to_owned(),
        session_token: None,
    }
}

pub(super) fn config(credentials: Vec<Credential>) -> AuthConfig {
    AuthConfig {
        credentials,
        ..AuthConfig::default()
    }
}

/// The key most tests sign with.
pub(super) fn alice() -> Credential {
    credential("AKIAALICE0000000001", "alice/secret+KEY", "111111111111")
}

/// Another configured key, in another account.
pub(super) fn bob() -> Credential {
    credential("AKIABOB000000000002", "bob-secret", "222222222222")
}

/// What the test signer signs with.
pub(super) struct SignWith<'a> {
    pub(super) key: &'a Credential,
    pub(super) region: &'a str,
    pub(super) service: &'a str,
    pub(super) amz_date: &'a str,
}

impl<'a> SignWith<'a> {
    pub(super) fn sqs(key: &'a Credential, amz_date: &'a str) -> SignWith<'a> {
        SignWith {
            key,
            region: "us-east-1",
            service: "sqs",
            amz_date,
        }
    }

    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.amz_date.get(..8).unwrap_or_default(),
            self.region,
            self.service
        )
    }

    fn sign(&self, request: &Request, signed_headers: &[String], payload_hash: &str) -> String {
        let uri = request.uri();
        let is_presigned = QueryParams::parse(uri.query()).contains("X-Amz-Signature");
        assert!(!is_presigned, "sign before adding X-Amz-Signature");
        let canonical_query = QueryParams::parse(uri.query()).canonical(&[]);
        let canonical_request = canonical::request(&canonical::CanonicalInput {
            method: &request.method,
            raw_path: uri.path(),
            canonical_query: &canonical_query,
            headers: &request.headers,
            authority: None,
            signed_headers,
            payload_hash,
        });
        let string_to_sign =
            signing::string_to_sign(self.amz_date, &self.scope(), &canonical_request);
        let date = self.amz_date.get(..8).unwrap_or_default();
        let key =
            signing::signing_key(&self.key.secret_access_key, date, self.region, self.service);
        signing::signature(&key, &string_to_sign)
    }

    /// Signs in the header form: sets `X-Amz-Date` (and the session token,
    /// if the key has one), signs every header present, sets `Authorization`.
    pub(super) fn header_form(&self, request: &mut Request) {
        request.set_header("x-amz-date", self.amz_date);
        if let Some(token) = &self.key.session_token {
            request.set_header("x-amz-security-token", token);
        }
        let mut names: Vec<String> = request
            .headers
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name != "authorization" && name != "user-agent")
            .collect();
        names.sort();
        let signature = self.sign(request, &names, &signing::sha256_hex(&request.body));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={signature}",
            self.key.access_key_id,
            self.scope(),
            names.join(";")
        );
        request.set_header("authorization", &authorization);
    }

    /// Presigns: appends the `X-Amz-*` parameters (signing only `host`) and
    /// then `X-Amz-Signature`.
    pub(super) fn presign(&self, request: &mut Request, expires_secs: u64) {
        let mut params = vec![
            ("X-Amz-Algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
            (
                "X-Amz-Credential".to_owned(),
                format!("{}/{}", self.key.access_key_id, self.scope()),
            ),
            ("X-Amz-Date".to_owned(), self.amz_date.to_owned()),
            ("X-Amz-Expires".to_owned(), expires_secs.to_string()),
            ("X-Amz-SignedHeaders".to_owned(), "host".to_owned()),
        ];
        if let Some(token) = &self.key.session_token {
            params.push(("X-Amz-Security-Token".to_owned(), token.clone()));
        }
        append_query(request, &params);
        let signature = self.sign(
            request,
            &["host".to_owned()],
            &signing::sha256_hex(&request.body),
        );
        append_query(request, &[("X-Amz-Signature".to_owned(), signature)]);
    }
}

/// Appends `name=value` pairs, `UriEncode`d, to the request target.
pub(super) fn append_query(request: &mut Request, params: &[(String, String)]) {
    for (name, value) in params {
        let separator = if request.target.contains('?') {
            '&'
        } else {
            '?'
        };
        request.target = format!(
            "{}{separator}{}={}",
            request.target,
            uri_encode(name.as_bytes()),
            uri_encode(value.as_bytes())
        );
    }
}

/// A JSON-protocol `SendMessage` signed by [`alice`] at [`T0`].
pub(super) fn signed_send_message() -> Request {
    let mut request = Request::new("POST", "/");
    request
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .body(br#"{"QueueUrl":"http://127.0.0.1:9324/111111111111/q","MessageBody":"hi"}"#);
    SignWith::sqs(&alice(), T0).header_form(&mut request);
    request
}
