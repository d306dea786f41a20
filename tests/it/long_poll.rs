//! Long polling: a receive waiting up to 10 s returns as soon as a concurrent send lands, not
//! when the wait expires. (Not a timing benchmark: only "well before the wait ran out".)

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName as A;

use crate::common::*;
use crate::harness::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_returns_soon_after_a_concurrent_send() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "poll").await;

    let rx_client = client.clone();
    let rx_url = url.clone();
    let started = Instant::now();
    let receiver = tokio::spawn(async move {
        let out = rx_client
            .receive_message()
            .queue_url(&rx_url)
            .wait_time_seconds(10)
            .send()
            .await
            .unwrap();
        (out.messages().to_vec(), Instant::now())
    });
    // Let the receive start waiting first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !receiver.is_finished(),
        "an empty long poll returned immediately"
    );
    let sent_at = Instant::now();
    client
        .send_message()
        .queue_url(&url)
        .message_body("wake up")
        .send()
        .await
        .unwrap();
    let (msgs, returned_at) = receiver.await.unwrap();
    assert_eq!(msgs.len(), 1, "the long poll missed the message");
    assert_eq!(msgs[0].body(), Some("wake up"));
    let after_send = returned_at.saturating_duration_since(sent_at);
    assert!(
        after_send < Duration::from_secs(5) && started.elapsed() < Duration::from_secs(8),
        "long poll returned {after_send:?} after the send ({:?} in all): it waited for the timeout",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_long_poll_waits_and_queue_default_applies() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(
        &client,
        "poll-default",
        &[(A::ReceiveMessageWaitTimeSeconds, "1")],
    )
    .await;
    // No WaitTimeSeconds on the request: the queue's 1 s applies.
    let t = Instant::now();
    let out = client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "queue ReceiveMessageWaitTimeSeconds=1 ignored: returned after {:?}",
        t.elapsed()
    );
    // WaitTimeSeconds=0 overrides it: a short poll.
    let t = Instant::now();
    let out = client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(0)
        .send()
        .await
        .unwrap();
    assert!(out.messages().is_empty());
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "short poll waited {:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_waiters_each_get_a_message() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "poll-many").await;
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let c = client.clone();
        let u = url.clone();
        waiters.push(tokio::spawn(async move {
            c.receive_message()
                .queue_url(&u)
                .wait_time_seconds(10)
                .send()
                .await
                .unwrap()
                .messages()
                .len()
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    let mut total = 0;
    for w in waiters {
        total += w.await.unwrap();
    }
    assert_eq!(total, 3, "every message reached a waiter, none twice");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "waiters slept through the sends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_second_long_poll_completes() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "poll-20").await;
    let t = Instant::now();
    let out = client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(20)
        .send()
        .await
        .expect("a 20 s long poll must not be cut by a server timeout");
    assert!(out.messages().is_empty());
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(19) && waited < Duration::from_secs(30),
        "an empty 20 s long poll returned after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_get_each_message_once() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(&client, "many", &[(A::VisibilityTimeout, "600")]).await;
    let total = 300;
    for chunk in 0..total / 10 {
        let entries = (0..10)
            .map(|i| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(format!("m{}", chunk * 10 + i))
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .send_message_batch()
            .queue_url(&url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
    }
    let mut consumers = Vec::new();
    for _ in 0..6 {
        let c = client.clone();
        let u = url.clone();
        consumers.push(tokio::spawn(async move {
            let mut bodies = Vec::new();
            let mut empty = 0;
            while empty < 2 {
                let got = c
                    .receive_message()
                    .queue_url(&u)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                if got.messages().is_empty() {
                    empty += 1;
                }
                bodies.extend(got.messages().iter().map(|m| m.body().unwrap().to_string()));
            }
            bodies
        }));
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), total, "some messages were never delivered");
    assert_eq!(
        all.len(),
        total,
        "some messages were delivered twice while in flight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_queue_ends_its_long_polls() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "poll-delete").await;
    let c = client.clone();
    let u = url.clone();
    let poll = tokio::spawn(async move {
        let t = Instant::now();
        let res = c
            .receive_message()
            .queue_url(&u)
            .wait_time_seconds(20)
            .send()
            .await;
        (res.map(|o| o.messages().len()), t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.delete_queue().queue_url(&url).send().await.unwrap();
    let (res, waited) = poll.await.unwrap();
    if let Ok(n) = res {
        assert_eq!(n, 0);
    }
    assert!(
        waited < Duration::from_secs(15),
        "a long poll on a deleted queue kept waiting ({waited:?})"
    );
}

/// Starts a 10 s long poll in the background and returns its handle.
fn spawn_poll(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> tokio::task::JoinHandle<(Vec<aws_sdk_sqs::types::Message>, Instant)> {
    let c = client.clone();
    let u = url.to_string();
    tokio::spawn(async move {
        let out = c
            .receive_message()
            .queue_url(&u)
            .max_number_of_messages(10)
            .wait_time_seconds(10)
            .send()
            .await
            .unwrap();
        (out.messages().to_vec(), Instant::now())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_wake_when_a_delay_ends() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "wake-delay").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("delayed")
        .delay_seconds(2)
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let (msgs, done) = spawn_poll(&client, &url).await.unwrap();
    assert_eq!(
        msgs.len(),
        1,
        "the delayed message never reached the waiting poll"
    );
    let waited = done - started;
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "poll returned after {waited:?}; the delay was 2 s and the wait 10 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_wake_when_a_visibility_timeout_expires() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue(&client, "wake-vis").await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("again")
        .send()
        .await
        .unwrap();
    let first = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.messages().len(), 1);
    let started = Instant::now();
    let (msgs, done) = spawn_poll(&client, &url).await.unwrap();
    assert_eq!(
        msgs.len(),
        1,
        "the message whose visibility expired never reached the poll"
    );
    let waited = done - started;
    assert!(
        waited < Duration::from_secs(6),
        "poll returned after {waited:?}; visibility was 2 s and the wait 10 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_long_polls_wake_when_the_group_unblocks() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(
        &client,
        "wake.fifo",
        &[
            (A::FifoQueue, "true"),
            (A::ContentBasedDeduplication, "true"),
        ],
    )
    .await;
    for body in ["first", "second"] {
        client
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .message_group_id("g")
            .send()
            .await
            .unwrap();
    }
    let first = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(1)
        .send()
        .await
        .unwrap();
    assert_eq!(first.messages()[0].body(), Some("first"));
    let poll = spawn_poll(&client, &url);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !poll.is_finished(),
        "group g is blocked: the poll must wait"
    );
    let deleted_at = Instant::now();
    client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first.messages()[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    let (msgs, done) = poll.await.unwrap();
    let bodies: Vec<_> = msgs.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["second"]);
    assert!(
        done - deleted_at < Duration::from_secs(5),
        "the poll slept {:?} after the group unblocked",
        done - deleted_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_wake_when_a_move_task_refills_the_source() {
    let server = TestServer::start_default();
    let client = server.client();
    let dlq = create_queue(&client, "wake-dlq").await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).to_string();
    let src = create_queue_with(&client, "wake-src", &[(A::RedrivePolicy, policy.as_str())]).await;
    client
        .send_message()
        .queue_url(&src)
        .message_body("bounce")
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        client
            .receive_message()
            .queue_url(&src)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        queue_attr(&client, &dlq, A::ApproximateNumberOfMessages).await,
        "1"
    );
    let poll = spawn_poll(&client, &src);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    client
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap();
    let (msgs, done) = poll.await.unwrap();
    assert_eq!(
        msgs.len(),
        1,
        "the moved message never reached the waiting poll"
    );
    assert!(
        done - started < Duration::from_secs(5),
        "poll woke {:?} after the move",
        done - started
    );
}
