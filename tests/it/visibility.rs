//! Visibility timeouts: queue default, per-receive override, ChangeMessageVisibility.
//! Small timeouts (1–2 s); the waits are long polls, so they end as soon as the message is back.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName as S, QueueAttributeName as A};

use crate::common::*;
use crate::harness::{backend, Backend, TestServer};

#[tokio::test]
async fn message_reappears_after_queue_visibility_timeout() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(&client, "vis", &[(A::VisibilityTimeout, "1")]).await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("again")
        .send()
        .await
        .unwrap();
    let first = receive(&client, &url, 1, 0).await;
    assert_eq!(first.len(), 1);
    let t0 = Instant::now();
    assert!(
        receive(&client, &url, 1, 0).await.is_empty(),
        "still in flight"
    );
    let second = receive_n(&client, &url, 1, Duration::from_secs(10)).await;
    assert_eq!(second.len(), 1, "message did not come back");
    assert!(
        t0.elapsed() >= Duration::from_millis(500),
        "came back too early"
    );
    assert_eq!(second[0].message_id(), first[0].message_id());
    assert_eq!(sys_attr(&second[0], S::ApproximateReceiveCount), Some("2"));
    assert_eq!(
        sys_attr(&second[0], S::ApproximateFirstReceiveTimestamp),
        sys_attr(&first[0], S::ApproximateFirstReceiveTimestamp),
        "first-receive timestamp is kept across deliveries"
    );
}

#[tokio::test]
async fn receive_override_and_change_visibility() {
    let server = TestServer::start_default();
    let client = server.client();
    // Queue default is long; the per-receive override makes it short.
    let url = create_queue(&client, "vis-override").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .send()
        .await
        .unwrap();
    let got = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().len(), 1);
    let back = receive_n(&client, &url, 1, Duration::from_secs(10)).await;
    assert_eq!(back.len(), 1, "override of 1 s did not apply");
    let handle = back[0].receipt_handle().unwrap().to_string();

    // Make it visible right away.
    client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = receive(&client, &url, 1, 0).await;
    assert_eq!(again.len(), 1, "visibility 0 makes the message visible now");

    // Extend: with 30 s default it would stay hidden anyway, so shorten to 1 s and watch it
    // come back, then check that extending to 3600 keeps it hidden.
    let h = again[0].receipt_handle().unwrap().to_string();
    client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&h)
        .visibility_timeout(1)
        .send()
        .await
        .unwrap();
    let back = receive_n(&client, &url, 1, Duration::from_secs(10)).await;
    assert_eq!(back.len(), 1);
    let h = back[0].receipt_handle().unwrap().to_string();
    client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&h)
        .visibility_timeout(3600)
        .send()
        .await
        .unwrap();
    assert!(receive(&client, &url, 1, 2).await.is_empty());

    // Out of range.
    assert_client_error(
        client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(&h)
            .visibility_timeout(43_201)
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    // After delete, the handle's message is gone: changing it is SQS's error.
    delete(&client, &url, &back[0]).await;
    let info = assert_sqs_error(
        client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(&h)
            .visibility_timeout(0)
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message,
        Some(format!("Value {h} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."))
    );
    assert!(
        receive(&client, &url, 1, 0).await.is_empty(),
        "deleted message came back"
    );
}

#[tokio::test]
async fn visibility_is_capped_at_twelve_hours_from_the_receive() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "vis-cap").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .send()
        .await
        .unwrap();
    let got = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(43_200)
        .send()
        .await
        .unwrap();
    let handle = got.messages()[0].receipt_handle().unwrap().to_string();
    // 12 h already granted; 2 s later a new 12 h counted from now would end 2 s past the
    // 12 h limit counted from the receive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_client_error(
        client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(&handle)
            .visibility_timeout(43_200)
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    // Shorter is fine.
    client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(60)
        .send()
        .await
        .unwrap();
}

/// E1 through the SDK: a handle from an earlier delivery answers success and
/// does not touch the newer delivery (single and batch); the latest handle
/// still works after its timeout expired (the message is hidden again).
#[tokio::test]
async fn stale_and_expired_handles_change_visibility_as_sqs_answers() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "vis-stale").await;
    send_text(&client, &url, "m").await;
    let rx = |visibility: i32| {
        client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(visibility)
            .wait_time_seconds(10)
            .send()
    };
    let first = rx(1).await.unwrap();
    let old = first.messages()[0].receipt_handle().unwrap().to_string();
    let second = rx(600).await.unwrap();
    assert_eq!(second.messages().len(), 1, "redelivered after 1 s");
    let cv = |handle: String, timeout: i32| {
        client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(handle)
            .visibility_timeout(timeout)
            .send()
    };
    cv(old.clone(), 0)
        .await
        .expect("an earlier delivery's handle is accepted");
    let batch = client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("old")
                .receipt_handle(&old)
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful().len(), 1, "{batch:?}");
    assert!(batch.failed().is_empty(), "{batch:?}");
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "1",
        "the newer delivery stays hidden"
    );
    // The latest handle after its timeout expired, nobody received it since:
    // accepted, and the message is hidden again with the new timeout.
    let latest = second.messages()[0].receipt_handle().unwrap().to_string();
    cv(latest.clone(), 1).await.unwrap();
    wait_for_visible(&client, &url, "1").await;
    cv(latest.clone(), 600).await.unwrap();
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "1"
    );
    assert!(receive(&client, &url, 1, 0).await.is_empty());
    // The same handle still deletes it.
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(&latest)
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesNotVisible).await,
        "0"
    );
}

/// A standard-queue message whose visibility expired is offered again before
/// the messages sent after it (the embedded store; PostgreSQL offers messages in the order
/// they became visible, README "Running several nodes": there it comes back among them).
#[tokio::test]
async fn expired_messages_come_back_before_later_sends() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "vis-order").await;
    send_text(&client, &url, "first").await;
    let got = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages()[0].body(), Some("first"));
    for body in ["later-0", "later-1", "later-2"] {
        send_text(&client, &url, body).await;
    }
    wait_for_visible(&client, &url, "4").await;
    match backend() {
        Backend::Wal => {
            let again = receive(&client, &url, 1, 0).await;
            assert_eq!(again[0].body(), Some("first"));
        }
        Backend::Postgres => {
            let again = receive_n(&client, &url, 4, Duration::from_secs(10)).await;
            let mut bodies: Vec<_> = again.iter().filter_map(|m| m.body()).collect();
            bodies.sort_unstable();
            assert_eq!(bodies, ["first", "later-0", "later-1", "later-2"]);
        }
    }
}
