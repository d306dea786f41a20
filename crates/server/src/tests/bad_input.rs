//! The bad-input catalogue of SQS-SPEC.md: each gets its SQS error (in the
//! request's protocol), nothing 5xx, and the server keeps serving.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use super::TestApp;

#[tokio::test]
async fn protocol_level_garbage() {
    let t = TestApp::new().await;
    // Malformed JSON (#4).
    let r = t.json_raw("ListQueues", "{\"QueueNamePrefix\": \"a").await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "SerializationException")
    );
    assert_eq!(
        r.headers["x-amzn-query-error"],
        "SerializationException;Sender"
    );
    // Invalid UTF-8 inside a JSON string (#5).
    let r = t
        .json_raw("CreateQueue", &b"{\"QueueName\": \"\xff\"}"[..])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "SerializationException")
    );
    // Empty body (#6).
    let r = t.json_raw("SendMessage", "").await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "MissingRequiredParameterException")
    );
    assert_eq!(r.headers["x-amzn-query-error"], "MissingParameter;Sender");
    // Unknown target (#7), and a JSON content type without a target.
    let r = t.json_raw("Frobnicate", "{}").await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "InvalidAction")
    );
    let r = t
        .send(
            Request::post("/")
                .header("content-type", "application/x-amz-json-1.0")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "MissingAction")
    );
    // Wrong types, deep nesting (#22).
    let r = t
        .json(
            "ReceiveMessage",
            json!({"QueueUrl": "/000000000000/x", "MaxNumberOfMessages": "10"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "SerializationException")
    );
    let r = t
        .json(
            "ReceiveMessage",
            json!({"QueueUrl": "/000000000000/x", "MaxNumberOfMessages": 1.5}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = t
        .json("ListQueues", json!({"QueueNamePrefix": ["a"]}))
        .await;
    assert_eq!(r.status, 400);
    let r = t
        .json_raw(
            "ListQueues",
            format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000)),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "SerializationException")
    );
    // Content-Encoding (#19).
    let r = t
        .send(
            Request::post("/")
                .header("x-amz-target", "AmazonSQS.ListQueues")
                .header("content-type", "application/x-amz-json-1.0")
                .header("content-encoding", "gzip")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 415);
    // Content-Length over the cap (#18): refused before reading.
    let r = t
        .send(
            Request::post("/")
                .header("x-amz-target", "AmazonSQS.ListQueues")
                .header("content-type", "application/x-amz-json-1.0")
                .header("content-length", (64u64 << 20).to_string())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (413, "RequestEntityTooLarge")
    );
    // A chunked body over the cap (no Content-Length).
    let big = vec![b' '; 5 << 20];
    let stream = futures_like_stream(big);
    let r = t
        .send(
            Request::post("/")
                .header("x-amz-target", "AmazonSQS.ListQueues")
                .header("content-type", "application/x-amz-json-1.0")
                .body(stream)
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, 413);
    // Still serving.
    let r = t.json("ListQueues", json!({})).await;
    assert_eq!(r.status, 200);
}

/// A body without a known length (chunked), delivered in 64 KiB frames.
fn futures_like_stream(data: Vec<u8>) -> Body {
    Body::new(Chunked(
        data.chunks(64 * 1024)
            .map(axum::body::Bytes::copy_from_slice)
            .collect::<Vec<_>>()
            .into_iter(),
    ))
}

struct Chunked(std::vec::IntoIter<axum::body::Bytes>);

impl axum::body::HttpBody for Chunked {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.next().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

#[tokio::test]
async fn message_level_bad_inputs() {
    let t = TestApp::new().await;
    let url = t.create("bad").await;
    // #1 / #2: over 1 MiB in bytes.
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "a".repeat(1_048_577)}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "InvalidParameterValueException"),
        "{}",
        r.text()
    );
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "é".repeat(600_000)}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // #3: forbidden characters, including a lone surrogate escape.
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "a\u{0}b"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "InvalidMessageContents")
    );
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "a\u{FFFF}b"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "InvalidMessageContents")
    );
    let r = t
        .json_raw(
            "SendMessage",
            format!("{{\"QueueUrl\":\"{url}\",\"MessageBody\":\"a\\ud800b\"}}"),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (400, "InvalidMessageContents")
    );
    // #8 / #9: attributes.
    let many: serde_json::Map<String, serde_json::Value> = (0..11)
        .map(|i| {
            (
                format!("a{i}"),
                json!({"DataType": "String", "StringValue": "v"}),
            )
        })
        .collect();
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "x", "MessageAttributes": many}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    for attrs in [
        json!({"a": {"DataType": "Blob", "StringValue": "v"}}),
        json!({"AWS.x": {"DataType": "String", "StringValue": "v"}}),
        json!({"a..b": {"DataType": "String", "StringValue": "v"}}),
        json!({"a": {"DataType": "Number", "StringValue": "1e999"}}),
        json!({"a": {"DataType": "String"}}),
        json!({"a": {"DataType": "Binary", "BinaryValue": "!!"}}),
    ] {
        let r = t
            .json(
                "SendMessage",
                json!({"QueueUrl": url, "MessageBody": "x", "MessageAttributes": attrs}),
            )
            .await;
        assert_eq!(r.status, 400, "{attrs}: {}", r.text());
    }
    // #10: ranges.
    for (action, body) in [
        (
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "x", "DelaySeconds": 901}),
        ),
        (
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "x", "DelaySeconds": -1}),
        ),
        (
            "ReceiveMessage",
            json!({"QueueUrl": url, "WaitTimeSeconds": 21}),
        ),
        (
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": 11}),
        ),
        (
            "ReceiveMessage",
            json!({"QueueUrl": url, "VisibilityTimeout": 43_201}),
        ),
    ] {
        let r = t.json(action, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.error_type().as_str()),
            (400, "InvalidParameterValueException"),
            "{body}"
        );
    }
    // #11: batches.
    let entries: Vec<_> = (0..11)
        .map(|i| json!({"Id": format!("e{i}"), "MessageBody": "x"}))
        .collect();
    let r = t
        .json(
            "SendMessageBatch",
            json!({"QueueUrl": url, "Entries": entries}),
        )
        .await;
    assert_eq!(r.error_type(), "TooManyEntriesInBatchRequest");
    let r = t
        .json("SendMessageBatch", json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]}))
        .await;
    assert_eq!(r.error_type(), "BatchEntryIdsNotDistinct");
    let r = t
        .json(
            "SendMessageBatch",
            json!({"QueueUrl": url, "Entries": [{"Id": "bad!", "MessageBody": "x"}]}),
        )
        .await;
    assert_eq!(r.error_type(), "InvalidBatchEntryId");
    let half = "a".repeat(600_000);
    let r = t
        .json("SendMessageBatch", json!({"QueueUrl": url, "Entries": [{"Id": "a", "MessageBody": half}, {"Id": "b", "MessageBody": half}]}))
        .await;
    assert_eq!(r.error_type(), "BatchRequestTooLong");
    // #12: receipt handles.
    for handle in [
        "",
        "garbage",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = t
            .json(
                "DeleteMessage",
                json!({"QueueUrl": url, "ReceiptHandle": handle}),
            )
            .await;
        assert!(r.status == 404 || r.status == 400, "{handle}: {}", r.text());
        assert!(r.status.as_u16() < 500);
    }
    // #23: queue names.
    for name in [
        "a".repeat(81),
        "bad name".into(),
        "x.fifo".into(),
        String::new(),
    ] {
        let r = t.json("CreateQueue", json!({"QueueName": name})).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
    }
    // Missing required members.
    let r = t.json("SendMessage", json!({"QueueUrl": url})).await;
    assert_eq!(r.error_type(), "MissingRequiredParameterException");
    let r = t
        .json(
            "ChangeMessageVisibility",
            json!({"QueueUrl": url, "ReceiptHandle": "x"}),
        )
        .await;
    assert_eq!(r.error_type(), "MissingRequiredParameterException");
    // A QueueUrl that names no queue: the queue does not exist (as SQS).
    for nothing in ["http://host:1/", "http://whatever-incorrect-queue-address"] {
        let r = t.json("DeleteQueue", json!({"QueueUrl": nothing})).await;
        assert_eq!(
            (r.status.as_u16(), r.error_type().as_str()),
            (400, "QueueDoesNotExist"),
            "{nothing}"
        );
    }
    // Nothing was stored by any of the above; the server still works.
    let r = t
        .json(
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]}),
        )
        .await;
    assert_eq!(r.json()["Attributes"]["ApproximateNumberOfMessages"], "0");
}
