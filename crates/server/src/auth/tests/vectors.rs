//! The published AWS SigV4 test suite (`aws-sig-v4-test-suite`): key
//! AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service `service`. The
//! expected signatures are the suite's; botocore 1.43.11 reproduces each
//! one. Plus unit checks of the building blocks.

use super::super::date::AmzDate;
use super::super::query::QueryParams;
use super::super::{canonical, signing, AuthError};
use super::{config, credential, ms, Request};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const DATE: &str = "20150830T123600Z";

fn suite_request(
    method: &str,
    target: &str,
    extra_headers: &[(&str, &str)],
    signed: &str,
    signature: &str,
) -> Request {
    let mut request = Request::new(method, target);
    request.set_header("host", "example.amazonaws.com");
    for (name, value) in extra_headers {
        request.header(name, value);
    }
    request.header("x-amz-date", DATE);
    request.header(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/service/aws4_request, \
             SignedHeaders={signed}, Signature={signature}"
        ),
    );
    request
}

#[test]
fn get_vanilla_canonical_request_string_to_sign_and_signature() {
    let request = suite_request(
        "GET",
        "/",
        &[],
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    let signed_headers = ["host".to_owned(), "x-amz-date".to_owned()];
    let canonical_request = canonical::request(&canonical::CanonicalInput {
        method: "GET",
        raw_path: "/",
        canonical_query: "",
        headers: &request.headers,
        authority: None,
        signed_headers: &signed_headers,
        payload_hash: &signing::sha256_hex(b""),
    });
    assert_eq!(
        String::from_utf8(canonical_request.clone()).unwrap(),
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let string_to_sign = signing::string_to_sign(
        DATE,
        "20150830/us-east-1/service/aws4_request",
        &canonical_request,
    );
    assert_eq!(
        string_to_sign,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
    let key = signing::signing_key(SECRET, "20150830", "us-east-1", "service");
    assert_eq!(
        signing::signature(&key, &string_to_sign),
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn suite_requests_verify_and_one_flipped_signature_digit_does_not() {
    let cases = [
        suite_request(
            "GET",
            "/",
            &[],
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        // get-vanilla-query-order-key-case
        suite_request(
            "GET",
            "/?Param2=value2&Param1=value1",
            &[],
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        // get-vanilla-query-order-value
        suite_request(
            "GET",
            "/?Param1=value2&Param1=Value1",
            &[],
            "host;x-amz-date",
            "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
        ),
        // get-vanilla-query-unreserved
        suite_request(
            "GET",
            "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz=\
             -._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
            &[],
            "host;x-amz-date",
            "c0e2549664ab6caf8a0e49ec520df161cca33ec1de41067db4994a4467d458ff",
        ),
        // get-header-value-trim
        suite_request(
            "GET",
            "/",
            &[("my-header1", " value1"), ("my-header2", " \"a   b   c\"")],
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        ),
        // post-vanilla
        suite_request(
            "POST",
            "/",
            &[],
            "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        // post-x-www-form-urlencoded
        {
            let mut request = suite_request(
                "POST",
                "/",
                &[("content-type", "application/x-www-form-urlencoded")],
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            );
            request.body(b"Param1=value1");
            request
        },
    ];
    let config = config(vec![credential(AKID, SECRET, "123456789012")]);
    for request in cases {
        let principal = request
            .verify_for("service", &config, ms(DATE))
            .unwrap_or_else(|e| panic!("{} {}: {e:?}", request.method, request.target));
        assert_eq!(principal.account_id, "123456789012");
        assert_eq!(principal.access_key_id, AKID);
        assert_eq!(principal.region.as_deref(), Some("us-east-1"));

        // The same request fails as soon as one digit of the signature changes.
        let mut tampered = request.clone();
        let authorization = tampered.headers["authorization"]
            .to_str()
            .unwrap()
            .to_owned();
        let last = authorization.chars().last().unwrap();
        let flipped = if last == '0' { '1' } else { '0' };
        let authorization = format!("{}{flipped}", &authorization[..authorization.len() - 1]);
        tampered.set_header("authorization", &authorization);
        assert_eq!(
            tampered.verify_for("service", &config, ms(DATE)),
            Err(AuthError::SignatureDoesNotMatch)
        );
        // And the public entry point refuses the scope's service name.
        assert!(matches!(
            request.verify(&config, ms(DATE)),
            Err(AuthError::IncompleteSignature(m)) if m.contains("'sqs'")
        ));
    }
}

#[test]
fn signing_key_matches_the_aws_documentation_example() {
    let key = signing::signing_key(SECRET, "20150830", "us-east-1", "iam");
    assert_eq!(
        hex::encode(key),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
}

#[test]
fn canonical_uri_removes_dot_segments_and_encodes_the_received_path_once_more() {
    assert_eq!(canonical::uri(""), "/");
    assert_eq!(canonical::uri("/"), "/");
    assert_eq!(canonical::uri("/./"), "/");
    assert_eq!(canonical::uri("/a/../.."), "/");
    assert_eq!(
        canonical::uri("/123456789012/orders"),
        "/123456789012/orders"
    );
    assert_eq!(canonical::uri("/a//b/./c/../d/"), "/a/b/d/");
    assert_eq!(canonical::uri("/q%20x"), "/q%2520x");
    assert_eq!(canonical::uri("/-_.~!*'()"), "/-_.~%21%2A%27%28%29");
    assert_eq!(canonical::uri("/é"), "/%C3%A9");
}

#[test]
fn canonical_query_decodes_then_encodes_and_sorts_by_encoded_name_then_value() {
    let query = QueryParams::parse(Some("b=2&a=z&a=y&c&&A=1&sp+ace=x%20y+z&star=*&bad=%ZZ%4"));
    assert_eq!(
        query.canonical(&[]),
        "A=1&a=y&a=z&b=2&bad=%25ZZ%254&c=&sp%20ace=x%20y%20z&star=%2A"
    );
    assert_eq!(
        query.canonical(&["a", "bad"]),
        "A=1&b=2&c=&sp%20ace=x%20y%20z&star=%2A"
    );
    assert_eq!(QueryParams::parse(None).canonical(&[]), "");
    assert_eq!(QueryParams::parse(Some("")).canonical(&[]), "");
    assert_eq!(
        QueryParams::parse(Some("k=%E2%82%AC%2b%2F%3d")).canonical(&[]),
        "k=%E2%82%AC%2B%2F%3D"
    );
}

#[test]
fn repeated_headers_are_joined_with_commas_after_trimming() {
    let mut request = Request::new("GET", "/");
    request
        .header("x-multi", "  a  b ")
        .header("x-multi", "c\t\td");
    assert_eq!(
        canonical::header_value(&request.headers, "x-multi", None),
        b"a b,c d"
    );
    assert_eq!(
        canonical::header_value(&request.headers, "x-absent", None),
        b""
    );
    let no_host = axum::http::HeaderMap::new();
    assert_eq!(
        canonical::header_value(&no_host, "host", Some("h:1")),
        b"h:1"
    );
}

#[test]
fn amz_date_parses_strictly_and_round_trips() {
    let date = AmzDate::parse("20150830T123600Z").unwrap();
    assert_eq!(date.unix_secs, 1_440_938_160);
    assert_eq!(date.to_string(), "20150830T123600Z");
    assert_eq!(AmzDate::parse("19700101T000000Z").unwrap().unix_secs, 0);
    assert_eq!(
        AmzDate::parse("20240229T235959Z").unwrap().to_string(),
        "20240229T235959Z"
    );
    assert_eq!(
        AmzDate::from_unix_ms(ms("20991231T235959Z") as i64 + 999).to_string(),
        "20991231T235959Z"
    );
    for bad in [
        "",
        "20150830T123600",
        "20150830 123600Z",
        "2015-08-30T12:36:00Z",
        "20230229T000000Z",
        "21000229T000000Z",
        "20151301T000000Z",
        "20150800T000000Z",
        "20150431T000000Z",
        "20150830T243600Z",
        "20150830T126000Z",
        "20150830T123660Z",
        "2015083OT123600Z",
        "+0150830T123600Z",
        "20150830T1236000Z",
        "２0150830T12360Z",
    ] {
        assert_eq!(AmzDate::parse(bad), None, "{bad:?}");
    }
}
