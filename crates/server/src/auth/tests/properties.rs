//! Properties: arbitrary input never panics and never authenticates; any
//! change to a signed body is caught; query strings encoded by a different
//! encoder than ours still verify.

use axum::http::{HeaderValue, Uri};
use proptest::prelude::*;

use super::super::query::uri_encode;
use super::super::{canonical, signing, AuthConfig, AuthError};
use super::{alice, config, ms, signed_send_message, Request, T0};

/// Authorization values close enough to the real shape to get past the
/// first checks, with every part possibly broken.
fn either(fixed: &'static str, pattern: &'static str) -> BoxedStrategy<String> {
    prop_oneof![Just(fixed.to_owned()), pattern].boxed()
}

fn authorization_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            either("AWS4-HMAC-SHA256", "[ -~]{0,12}"),
            Just("AWS4".to_owned())
        ],
        "[ ,]{0,3}",
        either("AKIAALICE0000000001", "[A-Z0-9]{0,20}"),
        either("20260115", "[0-9]{0,9}"),
        either("us-east-1", "[a-z0-9 /-]{0,12}"),
        either("sqs", "[a-z0-9]{0,4}"),
        either("aws4_request", "[a-z0-9_]{0,13}"),
        either("host;x-amz-date", "[a-z;:,=-]{0,24}"),
        "[0-9a-fA-F=,]{0,66}",
        "[ -~]{0,8}",
    )
        .prop_map(
            |(alg, sep, akid, date, region, service, term, signed, sig, junk)| {
                format!(
                    "{alg}{sep}Credential={akid}/{date}/{region}/{service}/{term},{sep}\
                     SignedHeaders={signed},{sep}Signature={sig}{junk}"
                )
            },
        )
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[ -~]{0,40}",
        (
            "/[a-z0-9/._%-]{0,20}",
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("X-Amz-Algorithm".to_owned()),
                        Just("X-Amz-Credential".to_owned()),
                        Just("X-Amz-Date".to_owned()),
                        Just("X-Amz-Expires".to_owned()),
                        Just("X-Amz-SignedHeaders".to_owned()),
                        Just("X-Amz-Signature".to_owned()),
                        Just("X-Amz-Security-Token".to_owned()),
                        "[A-Za-z%+]{1,8}",
                    ],
                    "[ -~]{0,30}",
                ),
                0..8,
            ),
        )
            .prop_map(|(path, params)| {
                let query: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.replace(['&', '#', ' '], "%")))
                    .collect();
                format!("{path}?{}", query.join("&"))
            }),
    ]
}

fn check_never_authenticates(
    method: &str,
    target: &str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: &[u8],
    now_ms: u64,
) {
    let Ok(uri) = target.parse::<Uri>() else {
        return;
    };
    let mut map = axum::http::HeaderMap::new();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            map.append(name, value);
        }
    }
    // Anonymous mode accepts everything, with a sane principal.
    let principal = super::super::verify(&AuthConfig::default(), method, &uri, &map, body, now_ms)
        .expect("anonymous mode accepts every request");
    assert!(principal.access_key_id.len() <= 128);
    // With credentials, garbage never authenticates.
    let config = config(vec![alice()]);
    let result = super::super::verify(&config, method, &uri, &map, body, now_ms);
    assert!(result.is_err(), "{result:?}");
    // Every refusal but the signature itself is decided before the body is read.
    let early = super::super::check_headers(&config, &uri, &map, now_ms);
    match (result, early) {
        (Err(AuthError::SignatureDoesNotMatch), Ok(_)) => {}
        (Err(late), Err(early)) => assert_eq!(late, early),
        (Err(late), Ok(_)) => panic!("{late:?} only found once the body was read"),
        (Ok(p), _) => panic!("authenticated: {p:?}"),
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_in_auth_headers_never_panic_or_authenticate(
        authorization in proptest::collection::vec(any::<u8>(), 0..200),
        amz_date in proptest::collection::vec(any::<u8>(), 0..24),
        token in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        target in target(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        now_ms in any::<u64>(),
    ) {
        let mut headers = vec![
            ("host", b"127.0.0.1:9324".to_vec()),
            ("authorization", authorization),
            ("x-amz-date", amz_date),
        ];
        if let Some(token) = token {
            headers.push(("x-amz-security-token", token));
        }
        check_never_authenticates("POST", &target, headers, &body, now_ms);
    }

    #[test]
    fn near_miss_authorization_headers_never_panic_or_authenticate(
        authorization in authorization_like(),
        amz_date in prop_oneof![Just(T0.to_owned()), "[0-9TZ]{0,17}"],
        target in target(),
        now_ms in prop_oneof![Just(ms(T0)), any::<u64>()],
    ) {
        let headers = vec![
            ("host", b"127.0.0.1:9324".to_vec()),
            ("authorization", authorization.into_bytes()),
            ("x-amz-date", amz_date.into_bytes()),
        ];
        check_never_authenticates("GET", &target, headers, b"", now_ms);
    }

    #[test]
    fn presigned_looking_queries_never_panic_or_authenticate(
        target in target(),
        now_ms in prop_oneof![Just(ms(T0)), any::<u64>()],
    ) {
        check_never_authenticates("GET", &target, vec![("host", b"h".to_vec())], b"", now_ms);
    }

    #[test]
    fn any_change_to_a_signed_body_is_signature_does_not_match(
        index in any::<prop::sample::Index>(),
        xor in 1..=255u8,
    ) {
        let config = config(vec![alice()]);
        let mut request = signed_send_message();
        prop_assert!(request.verify(&config, ms(T0)).is_ok());
        let i = index.index(request.body.len());
        request.body[i] ^= xor;
        prop_assert_eq!(request.verify(&config, ms(T0)), Err(AuthError::SignatureDoesNotMatch));
    }

    /// The client builds its query string with `form_urlencoded` (space as
    /// `+`, `*` left raw) and signs the RFC 3986 canonical form of the raw
    /// values; the server must reach the same canonical string.
    #[test]
    fn form_encoded_query_strings_verify(
        params in proptest::collection::vec(("[a-zA-Z0-9._~ *+&=%é€-]{1,10}", "\\PC{0,16}"), 0..6),
        path in "(/[a-zA-Z0-9._~-]{1,8}){0,3}",
    ) {
        let path = if path.is_empty() { "/".to_owned() } else { path };
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let mut request = Request::new("GET", &target);
        request.header("x-amz-date", T0);

        let mut encoded: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (uri_encode(k.as_bytes()), uri_encode(v.as_bytes())))
            .collect();
        encoded.sort();
        let canonical_query = encoded
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let signed_headers = ["host".to_owned(), "x-amz-date".to_owned()];
        let canonical_request = canonical::request(&canonical::CanonicalInput {
            method: "GET",
            raw_path: &path,
            canonical_query: &canonical_query,
            headers: &request.headers,
            authority: None,
            signed_headers: &signed_headers,
            payload_hash: &signing::sha256_hex(b""),
        });
        let scope = "20260115/us-east-1/sqs/aws4_request";
        let string_to_sign = signing::string_to_sign(T0, scope, &canonical_request);
        let key = signing::signing_key(&alice().secret_access_key, "20260115", "us-east-1", "sqs");
        let signature = signing::signature(&key, &string_to_sign);
        request.header(
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-date, \
                 Signature={signature}",
                alice().access_key_id
            ),
        );
        let result = request.verify(&config(vec![alice()]), ms(T0));
        prop_assert!(result.is_ok(), "{} → {:?}", target, result);
    }
}
