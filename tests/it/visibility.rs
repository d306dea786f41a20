//! Visibility timeouts: queue default, per-receive override, ChangeMessageVisibility.
//! Small timeouts (1–2 s); the waits are long polls, so they end as soon as the message is back.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName as S, QueueAttributeName as A};

use crate::common::*;
use crate::harness::TestServer;

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
        &["InvalidParameterValue"],
    );
    // After delete, the handle's message is gone: changing it is an error (or a no-op).
    delete(&client, &url, &back[0]).await;
    let res = client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&h)
        .visibility_timeout(0)
        .send()
        .await;
    if res.is_err() {
        assert_client_error(
            res,
            &[
                "MessageNotInflight",
                "InvalidParameterValue",
                "ReceiptHandleIsInvalid",
            ],
        );
    }
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
        &["InvalidParameterValue"],
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
