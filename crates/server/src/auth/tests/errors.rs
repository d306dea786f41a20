//! Every way a request can fail verification, and the edges that must pass.

use super::super::AuthError;
use super::{alice, bob, config, ms, signed_send_message, Request, SignWith, MINUTE_MS, T0};

fn incomplete(result: Result<super::Principal, AuthError>) -> String {
    match result {
        Err(AuthError::IncompleteSignature(message)) => message,
        other => panic!("expected IncompleteSignature, got {other:?}"),
    }
}

#[test]
fn a_request_signed_by_a_configured_key_yields_its_account() {
    let config = config(vec![bob(), alice()]);
    let principal = signed_send_message().verify(&config, ms(T0)).unwrap();
    assert_eq!(principal.account_id, "111111111111");
    assert_eq!(principal.access_key_id, alice().access_key_id);
    assert_eq!(principal.region.as_deref(), Some("us-east-1"));

    let mut request = Request::new("POST", "/222222222222/q");
    request.body(b"Action=SendMessage&MessageBody=x");
    SignWith {
        region: "eu-north-1",
        ..SignWith::sqs(&bob(), T0)
    }
    .header_form(&mut request);
    let principal = request.verify(&config, ms(T0)).unwrap();
    assert_eq!(principal.account_id, "222222222222");
    assert_eq!(principal.region.as_deref(), Some("eu-north-1"));
}

#[test]
fn no_authorization_and_no_presigned_parameters_is_missing_token() {
    let config = config(vec![alice()]);
    let mut request = Request::new("POST", "/?Action=ListQueues");
    request.header("x-amz-date", T0);
    assert_eq!(
        request.verify(&config, ms(T0)),
        Err(AuthError::MissingAuthenticationToken)
    );
    // X-Amz-Date or a token alone is not an attempt at signing either.
    request.header("x-amz-security-token", "t");
    assert_eq!(
        request.verify(&config, ms(T0)),
        Err(AuthError::MissingAuthenticationToken)
    );
}

#[test]
fn garbage_authorization_headers_are_incomplete_signature() {
    let config = config(vec![alice()]);
    let valid = signed_send_message();
    let authorization = valid.headers["authorization"].to_str().unwrap().to_owned();
    let garbage = [
        "",
        "garbage",
        "Bearer abc.def.ghi",
        "AWS AKIAALICE0000000001:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential",
        "AWS4-ECDSA-P256-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "aws4-hmac-sha256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, Signature=00",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request/x, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/2026011/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115//sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us east/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_reques, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260114/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host;;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request SignedHeaders=host Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request, SignedHeaders, Signature=00",
    ];
    for value in garbage {
        let mut request = valid.clone();
        request.set_header("authorization", value);
        let message = incomplete(request.verify(&config, ms(T0)));
        assert!(!message.is_empty(), "{value:?}");
    }
    // Missing parts are all named at once.
    let mut request = valid.clone();
    request.headers.remove("x-amz-date");
    request.set_header("authorization", "AWS4-HMAC-SHA256 SignedHeaders=host");
    let message = incomplete(request.verify(&config, ms(T0)));
    for part in ["'Credential'", "'Signature'", "'X-Amz-Date'"] {
        assert!(message.contains(part), "{message}");
    }
    // The valid header with a damaged or missing X-Amz-Date.
    for date in [
        "",
        "2026-01-15T09:30:00Z",
        "20260115T093000",
        "20260132T093000Z",
    ] {
        let mut request = valid.clone();
        request.set_header("x-amz-date", date);
        assert!(
            incomplete(request.verify(&config, ms(T0))).contains("X-Amz-Date"),
            "{date:?}"
        );
    }
    let mut request = valid.clone();
    request.headers.remove("x-amz-date");
    assert!(incomplete(request.verify(&config, ms(T0))).contains("X-Amz-Date"));
    // Non-ASCII bytes, and two Authorization headers.
    let mut request = valid.clone();
    request.headers.insert(
        "authorization",
        axum::http::HeaderValue::from_bytes(b"AWS4-HMAC-SHA256 Credential=\xff").unwrap(),
    );
    incomplete(request.verify(&config, ms(T0)));
    let mut request = valid.clone();
    request.header("authorization", &authorization);
    incomplete(request.verify(&config, ms(T0)));
}

#[test]
fn components_may_come_in_any_order_with_any_spacing() {
    let config = config(vec![alice()]);
    let valid = signed_send_message();
    let authorization = valid.headers["authorization"].to_str().unwrap().to_owned();
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ").unwrap();
    let mut parts: Vec<&str> = rest.split(", ").collect();
    parts.reverse();
    let mut request = valid.clone();
    request.set_header(
        "authorization",
        &format!("  AWS4-HMAC-SHA256   {} ", parts.join(" ,  ")),
    );
    assert!(request.verify(&config, ms(T0)).is_ok());
}

#[test]
fn clock_skew_beyond_fifteen_minutes_either_way_is_request_expired() {
    let config = config(vec![alice()]);
    let request = signed_send_message();
    let signed_at = ms(T0);
    for now in [
        signed_at,
        signed_at + 14 * MINUTE_MS,
        signed_at + 15 * MINUTE_MS,
        signed_at - 14 * MINUTE_MS,
        signed_at - 15 * MINUTE_MS,
    ] {
        assert!(request.verify(&config, now).is_ok(), "now = {now}");
    }
    let Err(AuthError::RequestExpired(late)) = request.verify(&config, signed_at + 16 * MINUTE_MS)
    else {
        panic!("16 min late must expire");
    };
    assert!(
        late.contains("more than 15 minutes after the date stamp"),
        "{late}"
    );
    assert!(
        late.contains("20260115T093000Z") && late.contains("20260115T094600Z"),
        "{late}"
    );
    let Err(AuthError::RequestExpired(early)) = request.verify(&config, signed_at - 16 * MINUTE_MS)
    else {
        panic!("16 min early must be refused");
    };
    assert!(
        early.contains("more than 15 minutes in the future"),
        "{early}"
    );
    assert!(matches!(
        request.verify(&config, 0),
        Err(AuthError::RequestExpired(_))
    ));
    assert!(matches!(
        request.verify(&config, u64::MAX),
        Err(AuthError::RequestExpired(_))
    ));
}

#[test]
fn expiry_is_checked_before_the_key_so_a_replay_gets_request_expired() {
    let config = config(vec![bob()]);
    let request = signed_send_message(); // signed by alice, not configured
    assert_eq!(
        request.verify(&config, ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
    assert!(matches!(
        request.verify(&config, ms(T0) + 16 * MINUTE_MS),
        Err(AuthError::RequestExpired(_))
    ));
}

#[test]
fn signature_must_be_the_exact_lower_case_hex() {
    let config = config(vec![alice()]);
    let valid = signed_send_message();
    let authorization = valid.headers["authorization"].to_str().unwrap().to_owned();
    let (head, signature) = authorization.rsplit_once("Signature=").unwrap();
    for bad in [
        signature.to_ascii_uppercase(),
        signature[..63].to_owned(),
        format!("{signature}0"),
        "0".repeat(64),
    ] {
        let mut request = valid.clone();
        request.set_header("authorization", &format!("{head}Signature={bad}"));
        assert_eq!(
            request.verify(&config, ms(T0)),
            Err(AuthError::SignatureDoesNotMatch)
        );
    }
}

#[test]
fn host_may_come_from_the_uri_authority_as_with_http2() {
    let config = config(vec![alice()]);
    let mut request = signed_send_message();
    request.headers.remove("host");
    assert_eq!(
        request.verify(&config, ms(T0)),
        Err(AuthError::SignatureDoesNotMatch)
    );
    request.target = "http://127.0.0.1:9324/".to_owned();
    assert!(request.verify(&config, ms(T0)).is_ok());
}

#[test]
fn header_form_session_tokens() {
    let mut with_token = alice();
    with_token.session_token = Some("FwoGZXIvYXdzE//token==".to_owned());
    let mut request = signed_send_message();
    SignWith::sqs(&with_token, T0).header_form(&mut request);
    assert!(request
        .verify(&config(vec![with_token.clone()]), ms(T0))
        .is_ok());
    // The configured key has no token → a sent token is invalid.
    assert_eq!(
        request.verify(&config(vec![alice()]), ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
    // Token dropped from the request (even if the signature still covered it).
    let mut dropped = request.clone();
    dropped.headers.remove("x-amz-security-token");
    assert_eq!(
        dropped.verify(&config(vec![with_token.clone()]), ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
    // Wrong token, and a repeated token header.
    let mut wrong = request.clone();
    wrong.set_header("x-amz-security-token", "FwoGZXIvYXdzE//token=!");
    assert_eq!(
        wrong.verify(&config(vec![with_token.clone()]), ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
    let mut twice = request.clone();
    twice.header("x-amz-security-token", "FwoGZXIvYXdzE//token==");
    incomplete(twice.verify(&config(vec![with_token]), ms(T0)));
}

#[test]
fn presigned_urls_verify_until_they_expire() {
    let config = config(vec![alice()]);
    let mut request = Request::new(
        "GET",
        "/111111111111/q?Action=ReceiveMessage&Version=2012-11-05",
    );
    SignWith::sqs(&alice(), T0).presign(&mut request, 60);
    let principal = request.verify(&config, ms(T0)).unwrap();
    assert_eq!(principal.account_id, "111111111111");
    assert!(request.verify(&config, ms(T0) + 60_000).is_ok());
    let Err(AuthError::RequestExpired(message)) = request.verify(&config, ms(T0) + 60_001) else {
        panic!("must expire");
    };
    assert!(message.contains("20260115T093100Z"), "{message}");
    // Not valid yet when dated more than 15 minutes ahead.
    assert!(matches!(
        request.verify(&config, ms(T0) - 16 * MINUTE_MS),
        Err(AuthError::RequestExpired(_))
    ));
    assert!(request.verify(&config, ms(T0) - 14 * MINUTE_MS).is_ok());
    // A long-lived URL is fine long after the 15-minute header window.
    let mut week = Request::new("GET", "/?Action=ListQueues");
    SignWith::sqs(&alice(), T0).presign(&mut week, 604_800);
    assert!(week.verify(&config, ms(T0) + 604_800_000).is_ok());
    assert!(matches!(
        week.verify(&config, ms(T0) + 604_800_001),
        Err(AuthError::RequestExpired(_))
    ));
}

#[test]
fn presigned_urls_accept_unsigned_payload_only_without_a_body() {
    use super::super::{canonical, query::QueryParams, signing};
    let config = config(vec![alice()]);
    let mut request = Request::new("GET", "/?Action=ListQueues");
    let params = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        (
            "X-Amz-Credential",
            "AKIAALICE0000000001/20260115/us-east-1/sqs/aws4_request",
        ),
        ("X-Amz-Date", T0),
        ("X-Amz-Expires", "60"),
        ("X-Amz-SignedHeaders", "host"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    super::append_query(&mut request, &params);
    let uri = request.uri();
    let canonical_request = canonical::request(&canonical::CanonicalInput {
        method: "GET",
        raw_path: "/",
        canonical_query: &QueryParams::parse(uri.query()).canonical(&[]),
        headers: &request.headers,
        authority: None,
        signed_headers: &["host".to_owned()],
        payload_hash: "UNSIGNED-PAYLOAD",
    });
    let string_to_sign = signing::string_to_sign(
        T0,
        "20260115/us-east-1/sqs/aws4_request",
        &canonical_request,
    );
    let key = signing::signing_key(&alice().secret_access_key, "20260115", "us-east-1", "sqs");
    super::append_query(
        &mut request,
        &[(
            "X-Amz-Signature".to_owned(),
            signing::signature(&key, &string_to_sign),
        )],
    );
    assert!(request.verify(&config, ms(T0)).is_ok());
    request.body(b"Action=DeleteQueue");
    assert_eq!(
        request.verify(&config, ms(T0)),
        Err(AuthError::SignatureDoesNotMatch)
    );
}

#[test]
fn malformed_presigned_parameters_are_incomplete_signature() {
    let config = config(vec![alice()]);
    let mut valid = Request::new("GET", "/?Action=ListQueues");
    SignWith::sqs(&alice(), T0).presign(&mut valid, 300);
    assert!(valid.verify(&config, ms(T0)).is_ok());
    let edits: [(&str, &str); 12] = [
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA1",
        ),
        ("X-Amz-Algorithm=AWS4-HMAC-SHA256&", ""),
        ("X-Amz-Expires=300", "X-Amz-Expires=0"),
        ("X-Amz-Expires=300", "X-Amz-Expires=604801"),
        ("X-Amz-Expires=300", "X-Amz-Expires=-5"),
        ("X-Amz-Expires=300", "X-Amz-Expires=3e2"),
        ("X-Amz-Expires=300&", ""),
        ("X-Amz-Date=20260115T093000Z", "X-Amz-Date=20260115"),
        ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date"),
        ("%2Fsqs%2F", "%2Fsns%2F"),
        ("X-Amz-Signature=", "X-Amz-Signature=a&X-Amz-Signature="),
        ("X-Amz-Credential=", "X-Amz-Credential=%FF"),
    ];
    for (from, to) in edits {
        let mut request = valid.clone();
        assert!(request.target.contains(from), "{from}");
        request.target = request.target.replacen(from, to, 1);
        incomplete(request.verify(&config, ms(T0)));
    }
    // Both mechanisms at once.
    let mut both = valid.clone();
    both.header("authorization", "AWS4-HMAC-SHA256 Credential=x");
    assert!(incomplete(both.verify(&config, ms(T0))).contains("Only one auth mechanism"));
    // A lone X-Amz-Signature still counts as an attempt.
    let lone = Request::new("GET", "/?Action=ListQueues&X-Amz-Signature=00");
    assert!(incomplete(lone.verify(&config, ms(T0))).contains("X-Amz-Algorithm"));
}

#[test]
fn presigned_session_tokens() {
    let mut with_token = alice();
    with_token.session_token = Some("tok/en+=".to_owned());
    let mut request = Request::new("GET", "/?Action=ListQueues");
    SignWith::sqs(&with_token, T0).presign(&mut request, 300);
    assert!(request
        .verify(&config(vec![with_token.clone()]), ms(T0))
        .is_ok());
    assert_eq!(
        request.verify(&config(vec![alice()]), ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
    let mut other = with_token.clone();
    other.session_token = Some("tok/en+!".to_owned());
    assert_eq!(
        request.verify(&config(vec![other]), ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
    let mut no_token = Request::new("GET", "/?Action=ListQueues");
    SignWith::sqs(&alice(), T0).presign(&mut no_token, 300);
    assert_eq!(
        no_token.verify(&config(vec![with_token]), ms(T0)),
        Err(AuthError::InvalidClientTokenId)
    );
}
