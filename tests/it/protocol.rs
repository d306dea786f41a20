//! Hand-built HTTP requests for what the SDKs never send: the Query/XML protocol in all its
//! forms (POST to `/`, POST to the queue path, GET), JSON error shapes, health endpoints and
//! the bad-input catalogue of SQS-SPEC.md (the server answers 4xx and keeps serving).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::{RawResponse, TestServer, ACCOUNT};

const JSON: &str = "application/x-amz-json-1.0";
const FORM: &str = "application/x-www-form-urlencoded";

/// `YYYYMMDDTHHMMSSZ` for now.
fn amz_date() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    crate::common::amz_date(secs)
}

/// Headers of a (syntactically) SigV4-signed request; anonymous mode accepts any signature.
fn auth_headers() -> Vec<(String, String)> {
    let date = amz_date();
    let day = &date[..8];
    vec![
        ("X-Amz-Date".into(), date.clone()),
        (
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=test/{day}/us-east-1/sqs/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature={}",
                "0".repeat(64)
            ),
        ),
    ]
}

fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let auth = auth_headers();
    let mut headers: Vec<(&str, &str)> =
        auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    headers.extend_from_slice(extra);
    server.http(method, path, &headers, body)
}

fn json_call(server: &TestServer, action: &str, body: &str) -> RawResponse {
    let target = format!("AmazonSQS.{action}");
    send(
        server,
        "POST",
        "/",
        &[("Content-Type", JSON), ("X-Amz-Target", &target)],
        body.as_bytes(),
    )
}

fn query_call(server: &TestServer, path: &str, form: &str) -> RawResponse {
    send(
        server,
        "POST",
        path,
        &[("Content-Type", FORM)],
        form.as_bytes(),
    )
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[track_caller]
fn assert_request_id(r: &RawResponse) {
    assert!(
        r.header("x-amzn-requestid").is_some_and(|v| !v.is_empty()),
        "no x-amzn-RequestId: {r:?}"
    );
}

#[track_caller]
fn assert_client_error(r: &RawResponse, what: &str) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: expected a 4xx, got {} {}",
        r.status,
        r.text()
    );
}

fn json_body(r: &RawResponse) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

#[test]
fn health_endpoints() {
    let server = TestServer::start_default();
    let ready = server.http("GET", "/health/ready", &[], b"");
    assert_eq!(ready.status, 200, "{}", ready.text());
    let live = server.http("GET", "/health/live", &[], b"");
    assert_eq!(live.status, 200, "{}", live.text());
}

#[test]
fn json_protocol_shapes() {
    let server = TestServer::start_default();
    let r = json_call(
        &server,
        "CreateQueue",
        r#"{"QueueName":"j","tags":{"a":"b"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_request_id(&r);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with(JSON)),
        "{r:?}"
    );
    let url = json_body(&r)["QueueUrl"].as_str().unwrap().to_string();
    assert_eq!(url, server.queue_url("j"));

    // A charset suffix on the Content-Type is tolerated.
    let r = send(
        &server,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0; charset=utf-8"),
            ("X-Amz-Target", "AmazonSQS.ListQueueTags"),
        ],
        format!(r#"{{"QueueUrl":"{url}"}}"#).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_body(&r)["Tags"]["a"], "b");

    // QueueDoesNotExist: 400, __type + x-amzn-query-error.
    let r = json_call(&server, "GetQueueUrl", r#"{"QueueName":"missing"}"#);
    assert_eq!(r.status, 400);
    assert_request_id(&r);
    assert_eq!(
        json_body(&r)["__type"],
        "com.amazonaws.sqs#QueueDoesNotExist"
    );
    assert!(json_body(&r)["message"].is_string(), "{}", r.text());
    assert_eq!(
        r.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );

    // ReceiptHandleIsInvalid: 404.
    let r = json_call(
        &server,
        "DeleteMessage",
        &format!(r#"{{"QueueUrl":"{url}","ReceiptHandle":"junk"}}"#),
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        json_body(&r)["__type"],
        "com.amazonaws.sqs#ReceiptHandleIsInvalid"
    );
    assert_eq!(
        r.header("x-amzn-query-error"),
        Some("ReceiptHandleIsInvalid;Sender")
    );

    // ListDeadLetterSourceQueues answers `queueUrls` in lower camel case.
    let r = json_call(
        &server,
        "ListDeadLetterSourceQueues",
        &format!(r#"{{"QueueUrl":"{url}"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let body = json_body(&r);
    assert!(
        body.get("QueueUrls").is_none(),
        "member must be `queueUrls`: {body}"
    );
}

#[test]
fn query_protocol_all_forms() {
    let server = TestServer::start_default();
    // POST / CreateQueue with attributes and a tag.
    let r = query_call(
        &server,
        "/",
        "Action=CreateQueue&Version=2012-11-05&QueueName=xmlq\
         &Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=7\
         &Tag.1.Key=team&Tag.1.Value=core",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_request_id(&r);
    let text = r.text();
    assert!(text.contains("<CreateQueueResponse"), "{text}");
    assert!(
        text.contains("http://queue.amazonaws.com/doc/2012-11-05/"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "<QueueUrl>{}</QueueUrl>",
            server.queue_url("xmlq")
        )),
        "{text}"
    );
    assert!(text.contains("<RequestId>"), "{text}");

    // POST to the queue path (older SDKs), with XML-special characters in the body.
    let path = format!("/{ACCOUNT}/xmlq");
    let body = "a < b && c > \"d\" 'é'";
    let r = query_call(
        &server,
        &path,
        &format!(
            "Action=SendMessage&Version=2012-11-05&MessageBody={}\
             &MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String\
             &MessageAttribute.1.Value.StringValue=v",
            enc(body)
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("<SendMessageResponse"), "{text}");
    assert!(
        text.contains(
            "<MD5OfMessageAttributes>a18cbb58171ebf4ce88d9fb787f9210b</MD5OfMessageAttributes>"
        ),
        "{text}"
    );
    assert!(text.contains("<MessageId>"), "{text}");

    // GET with a query string.
    let r = send(
        &server,
        "GET",
        &format!(
            "/?Action=GetQueueAttributes&Version=2012-11-05&QueueUrl={}&AttributeName.1=All",
            enc(&server.queue_url("xmlq"))
        ),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("<Name>VisibilityTimeout</Name>"), "{text}");
    assert!(text.contains("<Value>7</Value>"), "{text}");

    // Receive over Query: the body comes back escaped and intact.
    let r = query_call(
        &server,
        &path,
        "Action=ReceiveMessage&Version=2012-11-05&MaxNumberOfMessages=10\
         &AttributeName.1=All&MessageAttributeName.1=All",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("<Body>a &lt; b &amp;&amp; c &gt;"),
        "body not XML-escaped: {text}"
    );
    assert!(text.contains("<ReceiptHandle>"), "{text}");
    assert!(text.contains("<Name>SentTimestamp</Name>"), "{text}");

    // Errors: ErrorResponse with the legacy code and Sender type.
    let r = query_call(
        &server,
        "/",
        "Action=GetQueueUrl&Version=2012-11-05&QueueName=missing",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_request_id(&r);
    let text = r.text();
    assert!(text.contains("<ErrorResponse"), "{text}");
    assert!(text.contains("<Type>Sender</Type>"), "{text}");
    assert!(
        text.contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
        "{text}"
    );
    assert!(text.contains("<RequestId>"), "{text}");
}

#[test]
fn bad_inputs_get_client_errors_and_server_keeps_serving() {
    let server = TestServer::start_default();
    let r = json_call(&server, "CreateQueue", r#"{"QueueName":"victim"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let url = server.queue_url("victim");

    // Truncated JSON.
    let r = json_call(&server, "SendMessage", r#"{"QueueUrl":"#);
    assert_client_error(&r, "truncated JSON");
    // Invalid UTF-8 inside a JSON string.
    let mut bad = format!(r#"{{"QueueUrl":"{url}","MessageBody":""#).into_bytes();
    bad.extend_from_slice(&[0xff, 0xfe]);
    bad.extend_from_slice(b"\"}");
    let target = "AmazonSQS.SendMessage";
    let r = send(
        &server,
        "POST",
        "/",
        &[("Content-Type", JSON), ("X-Amz-Target", target)],
        &bad,
    );
    assert_client_error(&r, "invalid UTF-8");
    // Empty body.
    let r = json_call(&server, "SendMessage", "");
    assert_client_error(&r, "empty JSON body");
    // Wrong type.
    let r = json_call(
        &server,
        "ReceiveMessage",
        &format!(r#"{{"QueueUrl":"{url}","MaxNumberOfMessages":"10"}}"#),
    );
    assert_client_error(&r, "string where an integer belongs");
    // Deep nesting.
    let deep = format!(
        r#"{{"QueueUrl":"{url}","MessageBody":"x","MessageAttributes":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let r = json_call(&server, "SendMessage", &deep);
    assert_client_error(&r, "deeply nested JSON");
    // Missing required parameter.
    let r = json_call(
        &server,
        "SendMessage",
        &format!(r#"{{"QueueUrl":"{url}"}}"#),
    );
    assert_client_error(&r, "missing MessageBody");
    // Unknown action, both protocols.
    let r = json_call(&server, "FlyToTheMoon", "{}");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("InvalidAction"), "{}", r.text());
    let r = query_call(&server, "/", "Action=FlyToTheMoon&Version=2012-11-05");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("<Code>InvalidAction</Code>"),
        "{}",
        r.text()
    );
    // Bad percent-escape in a Query body.
    let r = query_call(
        &server,
        &format!("/{ACCOUNT}/victim"),
        "Action=SendMessage&Version=2012-11-05&MessageBody=%ZZ",
    );
    assert_client_error(&r, "bad percent escape");
    // No action at all.
    let r = query_call(&server, "/", "Version=2012-11-05");
    assert_client_error(&r, "missing Action");
    // Unknown content encoding.
    let r = send(
        &server,
        "POST",
        "/",
        &[
            ("Content-Type", JSON),
            ("X-Amz-Target", "AmazonSQS.ListQueues"),
            ("Content-Encoding", "gzip"),
        ],
        b"\x1f\x8b\x08\x00garbage",
    );
    assert_client_error(&r, "gzip body");

    // JSON escapes: a surrogate pair is one character; a lone surrogate is not allowed.
    let r = json_call(
        &server,
        "SendMessage",
        &format!(r#"{{"QueueUrl":"{url}","MessageBody":"\ud800"}}"#),
    );
    assert_client_error(&r, "lone surrogate escape");
    let r = json_call(
        &server,
        "SendMessage",
        &format!(r#"{{"QueueUrl":"{url}","MessageBody":"smile \ud83d\ude00 \u00e9\n"}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        json_body(&r)["MD5OfMessageBody"],
        crate::common::md5_hex("smile \u{1F600} \u{e9}\n".as_bytes()).as_str(),
        "escaped JSON body decoded wrongly"
    );
    let r = json_call(
        &server,
        "ReceiveMessage",
        &format!(r#"{{"QueueUrl":"{url}","VisibilityTimeout":0}}"#),
    );
    assert_eq!(
        json_body(&r)["Messages"][0]["Body"],
        "smile \u{1F600} \u{e9}\n"
    );
    let r = json_call(&server, "PurgeQueue", &format!(r#"{{"QueueUrl":"{url}"}}"#));
    assert_eq!(r.status, 200, "{}", r.text());

    // The server still works and nothing was stored.
    let r = json_call(
        &server,
        "GetQueueAttributes",
        &format!(r#"{{"QueueUrl":"{url}","AttributeNames":["ApproximateNumberOfMessages"]}}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        json_body(&r)["Attributes"]["ApproximateNumberOfMessages"],
        "0"
    );
}

#[test]
fn oversized_body_is_refused_before_it_is_read() {
    let server = TestServer::start_default();
    let mut stream =
        TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {JSON}\r\n\
         X-Amz-Target: AmazonSQS.SendMessage\r\nContent-Length: {}\r\n",
        server.addr(),
        64 * 1024 * 1024
    );
    for (k, v) in auth_headers() {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // Send only a little of the promised 64 MiB: the answer must come without the rest.
    let _ = stream.write_all(&[b'x'; 1024]);
    let mut buf = [0u8; 512];
    let n = stream
        .read(&mut buf)
        .expect("server answers without reading 64 MiB");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    drop(stream);
    let ready = server.http("GET", "/health/ready", &[], b"");
    assert_eq!(ready.status, 200);
}

#[test]
fn slow_headers_are_cut_off_and_huge_headers_refused() {
    // A short header-read timeout so the test does not wait for the 30 s default.
    let server = TestServer::start(crate::harness::ServerOptions {
        env: vec![(
            "STOWAGE_LIMITS_HEADER_READ_TIMEOUT_MS".into(),
            "2000".into(),
        )],
        ..Default::default()
    });
    // Slowloris: half a request line, then silence. The header-read timeout (2 s here) must
    // close the connection; we give it 25 s.
    let mut slow =
        TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5)).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(25)))
        .expect("timeout");
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("write");
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let res = slow.read_to_end(&mut buf);
    assert!(
        res.is_ok() && started.elapsed() < Duration::from_secs(15),
        "a connection trickling headers was not closed by the server: {res:?} after {:?}",
        started.elapsed()
    );

    // A 1 MiB header: refused (431/400) or the connection closed, never served or a 5xx.
    let mut big =
        TcpStream::connect_timeout(&server.addr(), Duration::from_secs(5)).expect("connect");
    big.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!(
        "GET /health/ready HTTP/1.1\r\nHost: {}\r\nX-Big: ",
        server.addr()
    );
    req.push_str(&"a".repeat(1024 * 1024));
    req.push_str("\r\nConnection: close\r\n\r\n");
    let _ = big.write_all(req.as_bytes());
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431") || text.starts_with("HTTP/1.1 400"),
        "huge header: {}",
        text.lines().next().unwrap_or_default()
    );
    // Still serving.
    assert_eq!(server.http("GET", "/health/ready", &[], b"").status, 200);
}

/// The Query protocol as SQS answers it: its own QueueDoesNotExist wording, a
/// QueueUrl that names no queue, requests to a queue URL without an action or
/// with an action that takes no queue, and JSON answers for `Accept:
/// application/json`.
#[test]
fn query_endpoints_and_wording() {
    let server = TestServer::start_default();
    let r = query_call(&server, "/", "Action=CreateQueue&QueueName=qe");
    assert_eq!(r.status, 200, "{}", r.text());
    let path = format!("/{ACCOUNT}/qe");

    let r = query_call(&server, "/", "Action=GetQueueUrl&QueueName=missing");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains(
            "<Message>The specified queue does not exist for this wsdl version.</Message>"
        ),
        "{}",
        r.text()
    );
    // The JSON protocol keeps its own wording.
    let r = json_call(&server, "GetQueueUrl", r#"{"QueueName":"missing"}"#);
    assert_eq!(
        json_body(&r)["message"],
        "The specified queue does not exist."
    );

    // A QueueUrl that is no queue URL: the queue does not exist (both protocols).
    let nowhere = "http://whatever-incorrect-queue-address";
    let r = query_call(
        &server,
        "/",
        &format!("Action=SendMessage&MessageBody=x&QueueUrl={}", enc(nowhere)),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
        "{}",
        r.text()
    );
    let r = json_call(
        &server,
        "SendMessage",
        &format!(r#"{{"QueueUrl":"{nowhere}","MessageBody":"x"}}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        json_body(&r)["__type"],
        "com.amazonaws.sqs#QueueDoesNotExist"
    );

    // A queue URL without an action: 404 <UnknownOperationException/>.
    for method in ["GET", "POST"] {
        let r = send(&server, method, &path, &[("Content-Type", FORM)], b"");
        assert_eq!(r.status, 404, "{method}: {}", r.text());
        assert_eq!(r.text(), "<UnknownOperationException/>", "{method}");
        assert_request_id(&r);
    }
    // Actions that take no queue are not valid on a queue URL.
    for action in ["CreateQueue", "ListQueues"] {
        let r = query_call(&server, &path, &format!("Action={action}&QueueName=x"));
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains("<Code>InvalidAction</Code>"),
            "{}",
            r.text()
        );
        assert!(
            r.text().contains(&format!(
                "<Message>The action {action} is not valid for this endpoint.</Message>"
            )),
            "{}",
            r.text()
        );
    }
    // The queue's own actions still work there.
    let r = query_call(&server, &path, "Action=SendMessage&MessageBody=hello");
    assert_eq!(r.status, 200, "{}", r.text());

    // Accept: application/json → the same answer in AWS JSON.
    let accept_json = [("Content-Type", FORM), ("Accept", "application/json")];
    let r = send(
        &server,
        "POST",
        "/",
        &accept_json,
        b"Action=GetQueueUrl&QueueName=qe",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with(JSON)),
        "{r:?}"
    );
    assert_eq!(json_body(&r)["QueueUrl"], server.queue_url("qe"));
    let r = send(
        &server,
        "POST",
        &path,
        &accept_json,
        b"Action=ReceiveMessage&AttributeName.1=All",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_body(&r)["Messages"][0]["Body"], "hello");
    let r = send(
        &server,
        "POST",
        "/",
        &accept_json,
        b"Action=GetQueueUrl&QueueName=missing",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        json_body(&r)["__type"],
        "com.amazonaws.sqs#QueueDoesNotExist"
    );
    assert_eq!(
        r.header("x-amzn-query-error"),
        Some("AWS.SimpleQueueService.NonExistentQueue;Sender")
    );
}

/// Unmodeled validation errors over raw JSON: `__type` is the `…Exception`
/// name, `x-amzn-query-error` the short code; over Query `<Code>` is the
/// short code.
#[test]
fn unmodeled_errors_carry_exception_types() {
    let server = TestServer::start_default();
    let r = json_call(&server, "CreateQueue", r#"{"QueueName":"shapes"}"#);
    let url = json_body(&r)["QueueUrl"].as_str().unwrap().to_string();
    for (action, body, shape, code) in [
        (
            "SendMessage",
            format!(r#"{{"QueueUrl":"{url}","MessageBody":""}}"#),
            "MissingRequiredParameterException",
            "MissingParameter",
        ),
        (
            "SendMessage",
            format!(r#"{{"QueueUrl":"{url}"}}"#),
            "MissingRequiredParameterException",
            "MissingParameter",
        ),
        (
            "ReceiveMessage",
            format!(r#"{{"QueueUrl":"{url}","MaxNumberOfMessages":11}}"#),
            "InvalidParameterValueException",
            "InvalidParameterValue",
        ),
    ] {
        let r = json_call(&server, action, &body);
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(
            json_body(&r)["__type"],
            format!("com.amazonaws.sqs#{shape}"),
            "{body}"
        );
        assert_eq!(
            r.header("x-amzn-query-error"),
            Some(format!("{code};Sender").as_str()),
            "{body}"
        );
    }
    let r = query_call(
        &server,
        &format!("/{ACCOUNT}/shapes"),
        "Action=ReceiveMessage&MaxNumberOfMessages=11",
    );
    assert!(
        r.text().contains("<Code>InvalidParameterValue</Code>"),
        "{}",
        r.text()
    );
}

/// SQS's JSON omits empty lists (`Failed`, `Successful`, `queueUrls`,
/// `Results`, `QueueUrls`) in every batch and list answer.
#[test]
fn json_answers_omit_empty_lists() {
    let server = TestServer::start_default();
    let r = json_call(&server, "CreateQueue", r#"{"QueueName":"lists"}"#);
    let url = json_body(&r)["QueueUrl"].as_str().unwrap().to_string();
    let arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:lists");
    let ok = |action: &str, body: String| {
        let r = json_call(&server, action, &body);
        assert_eq!(r.status, 200, "{action}: {}", r.text());
        json_body(&r)
    };
    let sent = ok(
        "SendMessageBatch",
        format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"a","MessageBody":"x"}}]}}"#),
    );
    assert!(sent.get("Failed").is_none(), "{sent}");
    assert_eq!(sent["Successful"].as_array().map(Vec::len), Some(1));
    let all_failed = ok(
        "SendMessageBatch",
        format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"a","MessageBody":"\u0000"}}]}}"#),
    );
    assert!(all_failed.get("Successful").is_none(), "{all_failed}");
    let got = ok(
        "ReceiveMessage",
        format!(r#"{{"QueueUrl":"{url}","WaitTimeSeconds":5}}"#),
    );
    let handle = got["Messages"][0]["ReceiptHandle"]
        .as_str()
        .unwrap()
        .to_string();
    let changed = ok(
        "ChangeMessageVisibilityBatch",
        format!(
            r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"c","ReceiptHandle":"{handle}","VisibilityTimeout":60}}]}}"#
        ),
    );
    assert!(changed.get("Failed").is_none(), "{changed}");
    let deleted = ok(
        "DeleteMessageBatch",
        format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"d","ReceiptHandle":"{handle}"}}]}}"#),
    );
    assert!(deleted.get("Failed").is_none(), "{deleted}");
    for (action, body) in [
        ("ReceiveMessage", format!(r#"{{"QueueUrl":"{url}"}}"#)),
        ("ListQueues", r#"{"QueueNamePrefix":"none"}"#.to_string()),
        (
            "ListDeadLetterSourceQueues",
            format!(r#"{{"QueueUrl":"{url}"}}"#),
        ),
        ("ListQueueTags", format!(r#"{{"QueueUrl":"{url}"}}"#)),
    ] {
        assert_eq!(ok(action, body), serde_json::json!({}), "{action}");
    }
    assert_eq!(
        ok(
            "ListMessageMoveTasks",
            format!(r#"{{"SourceArn":"{arn}"}}"#)
        ),
        serde_json::json!({})
    );
}

/// The Query side of the FIFO and message-attribute rules: an explicit
/// `DelaySeconds=0`, a batch entry without group id failing the request,
/// prefix filters and non-ASCII attribute names, `X-Amzn-Trace-Id`.
#[test]
fn query_fifo_and_attribute_rules() {
    let server = TestServer::start_default();
    let r = query_call(
        &server,
        "/",
        "Action=CreateQueue&QueueName=qf.fifo&Attribute.1.Name=FifoQueue&Attribute.1.Value=true\
         &Attribute.2.Name=ContentBasedDeduplication&Attribute.2.Value=true",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let fifo = format!("/{ACCOUNT}/qf.fifo");
    let r = query_call(
        &server,
        &fifo,
        "Action=SendMessage&MessageBody=x&MessageGroupId=g&DelaySeconds=0",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = query_call(
        &server,
        &fifo,
        "Action=SendMessageBatch\
         &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=a\
         &SendMessageBatchRequestEntry.1.MessageGroupId=g\
         &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=b",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("<Code>InvalidParameterValue</Code>")
            && r.text()
                .contains("The request must contain the parameter MessageGroupId."),
        "{}",
        r.text()
    );

    // Re-creating with no attributes returns the existing FIFO queue.
    let r = query_call(
        &server,
        "/",
        "Action=CreateQueue&QueueName=qf.fifo&Attribute.1.Name=FifoQueue&Attribute.1.Value=true",
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let r = query_call(&server, "/", "Action=CreateQueue&QueueName=qa");
    assert_eq!(r.status, 200, "{}", r.text());
    let path = format!("/{ACCOUNT}/qa");
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
    let r = send(
        &server,
        "POST",
        &path,
        &[("Content-Type", FORM), ("X-Amzn-Trace-Id", trace)],
        format!(
            "Action=SendMessage&MessageBody=m\
             &MessageAttribute.1.Name=Hello&MessageAttribute.1.Value.DataType=String\
             &MessageAttribute.1.Value.StringValue=1\
             &MessageAttribute.2.Name=Help.Me&MessageAttribute.2.Value.DataType=String\
             &MessageAttribute.2.Value.StringValue=2\
             &MessageAttribute.3.Name={}&MessageAttribute.3.Value.DataType=String\
             &MessageAttribute.3.Value.StringValue=3",
            enc("attr.1øßä")
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("<MD5OfMessageSystemAttributes>"),
        "the trace header counts as a system attribute: {}",
        r.text()
    );
    let r = query_call(
        &server,
        &path,
        "Action=ReceiveMessage&AttributeName.1=AWSTraceHeader&MessageAttributeName.1=Hel.*",
    );
    let text = r.text();
    assert!(text.contains("<Name>Hello</Name>"), "{text}");
    assert!(text.contains("<Name>Help.Me</Name>"), "{text}");
    assert!(!text.contains("attr.1"), "{text}");
    assert!(text.contains(&format!("<Value>{trace}</Value>")), "{text}");
}
