//! A log that refuses writes (a write or fsync failed; here injected through the storage's
//! fault-injecting file system): writes and ReceiveMessage get 503 `ServiceUnavailable`
//! naming the cause, the actions that write nothing keep working, and `/health/live` fails
//! so a supervisor restarts the process. (A real full disk: `tests/it/full_disk.rs`.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use storage::io::{FaultOp, FaultyFs};

use super::{Reply, TestApp};

async fn health(t: &TestApp, which: &str) -> Reply {
    t.send(
        Request::get(format!("/health/{which}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[track_caller]
fn assert_unavailable(r: &Reply, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.error_type().as_str()),
        (503, "ServiceUnavailable"),
        "{what}: {}",
        r.text()
    );
    assert_eq!(
        r.headers["x-amzn-query-error"], "ServiceUnavailable;Receiver",
        "{what}"
    );
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("write or fsync"), "{what}: {message}");
}

#[tokio::test]
async fn a_poisoned_log_is_503_for_writes_and_liveness_but_reads_keep_working() {
    let fs = FaultyFs::new();
    let t = TestApp::with_fs(Arc::new(fs.clone())).await;
    let url = t.create("q").await;
    let r = t
        .json("TagQueue", json!({"QueueUrl": url, "Tags": {"team": "a"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "kept"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(health(&t, "live").await.status, 200);

    fs.fail_nth(FaultOp::Append, 1);
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "lost"}),
        )
        .await;
    assert_unavailable(&r, "the send whose write failed");
    let r = t
        .json(
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "later"}),
        )
        .await;
    assert_unavailable(&r, "a later send");
    // ReceiveMessage writes a delivery record: it cannot work either.
    let r = t.json("ReceiveMessage", json!({"QueueUrl": url})).await;
    assert_unavailable(&r, "ReceiveMessage");
    let r = t.json("CreateQueue", json!({"QueueName": "other"})).await;
    assert_unavailable(&r, "CreateQueue");

    // Actions that write nothing keep working.
    for (action, body) in [
        ("ListQueues", json!({})),
        ("GetQueueUrl", json!({"QueueName": "q"})),
        (
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["All"]}),
        ),
        ("ListQueueTags", json!({"QueueUrl": url})),
    ] {
        let r = t.json(action, body).await;
        assert_eq!(r.status, 200, "{action}: {}", r.text());
    }
    // Only the acknowledged message exists (the failed receive left it in flight in memory;
    // a restart recovers it from disk as visible).
    let r = t
        .json(
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["All"]}),
        )
        .await;
    let attributes = &r.json()["Attributes"];
    let count = |name: &str| {
        attributes[name]
            .as_str()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {attributes}"))
    };
    assert_eq!(
        count("ApproximateNumberOfMessages") + count("ApproximateNumberOfMessagesNotVisible"),
        1,
        "{attributes}"
    );
    // The Query protocol answers the same 503.
    let r = t
        .form("/000000000000/q", "Action=SendMessage&MessageBody=x")
        .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text()
            .contains("<Type>Receiver</Type><Code>ServiceUnavailable</Code>"),
        "{}",
        r.text()
    );

    // Liveness fails with the reason (a restart is the way back); so does readiness.
    for which in ["live", "ready"] {
        let r = health(&t, which).await;
        assert_eq!(r.status, 503, "{which}: {}", r.text());
        assert!(r.text().contains("injected Append failure"), "{}", r.text());
    }
}
