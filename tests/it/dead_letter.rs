//! Dead-letter queues: maxReceiveCount → DLQ, ListDeadLetterSourceQueues, message move tasks
//! (Start, List, Cancel) back to the source queue.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName as S, QueueAttributeName as A};
use aws_sdk_sqs::Client;

use crate::common::*;
use crate::harness::TestServer;

/// Receives with visibility 0 (so the message is visible again at once) until the queue
/// stops returning it; returns how many deliveries there were.
async fn receive_until_gone(client: &Client, url: &str) -> usize {
    let mut deliveries = 0;
    for _ in 0..20 {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty() {
            return deliveries;
        }
        deliveries += out.messages().len();
    }
    panic!("messages never moved to the dead-letter queue ({deliveries} deliveries)");
}

/// A dead-letter queue `<name>-dlq` and a source `<name>-src` redriving to it
/// after `max_receives`: (dlq url, dlq arn, source url).
async fn redrive_pair(client: &Client, name: &str, max_receives: u32) -> (String, String, String) {
    let dlq = create_queue(client, &format!("{name}-dlq")).await;
    let dlq_arn = queue_arn(client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives})
            .to_string();
    let src = create_queue_with(
        client,
        &format!("{name}-src"),
        &[(A::RedrivePolicy, policy.as_str())],
    )
    .await;
    (dlq, dlq_arn, src)
}

#[tokio::test]
async fn max_receive_count_moves_to_dlq_and_move_task_brings_back() {
    let server = TestServer::start_default();
    let client = server.client();
    let dlq = create_queue(&client, "work-dlq").await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
    let src = create_queue_with(&client, "work", &[(A::RedrivePolicy, policy.as_str())]).await;
    let src_arn = queue_arn(&client, &src).await;

    let stored: serde_json::Value =
        serde_json::from_str(&queue_attr(&client, &src, A::RedrivePolicy).await).unwrap();
    assert_eq!(stored["deadLetterTargetArn"], dlq_arn.as_str());
    assert_eq!(stored["maxReceiveCount"].to_string().trim_matches('"'), "2");

    let sent_ids: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..3 {
            let out = client
                .send_message()
                .queue_url(&src)
                .message_body(format!("poison-{i}"))
                .message_attributes("k", string_attr("v"))
                .send()
                .await
                .unwrap();
            ids.push(out.message_id().unwrap().to_string());
        }
        ids
    };
    // Each message is delivered exactly maxReceiveCount = 2 times, then moved.
    assert_eq!(receive_until_gone(&client, &src).await, 6);
    wait_for_visible(&client, &dlq, "3").await;
    assert_eq!(
        queue_attr(&client, &src, A::ApproximateNumberOfMessages).await,
        "0"
    );

    // The DLQ knows its source.
    let sources = client
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls(), std::slice::from_ref(&src));
    let none = client
        .list_dead_letter_source_queues()
        .queue_url(&src)
        .send()
        .await
        .unwrap();
    assert!(none.queue_urls().is_empty());

    // Messages in the DLQ keep their id, body and attributes, and name their source.
    let moved = client
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .message_attribute_names("All")
        .message_system_attribute_names(S::All)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.messages().len(), 3, "{moved:?}");
    for m in moved.messages() {
        assert!(sent_ids.contains(&m.message_id().unwrap().to_string()));
        assert!(m.body().unwrap().starts_with("poison-"));
        assert_eq!(
            m.message_attributes()
                .and_then(|a| a.get("k"))
                .and_then(|v| v.string_value()),
            Some("v")
        );
        assert_eq!(
            sys_attr(m, S::DeadLetterQueueSourceArn),
            Some(src_arn.as_str()),
            "DeadLetterQueueSourceArn"
        );
    }

    // Move task back to the source (no DestinationArn ⇒ original source).
    let handle = client
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .send()
        .await
        .unwrap()
        .task_handle()
        .expect("TaskHandle")
        .to_string();
    assert!(!handle.is_empty());
    wait_for_visible(&client, &src, "3").await;
    wait_for_visible(&client, &dlq, "0").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tasks = client
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap();
        let t = tasks.results().first().expect("the task is listed");
        assert_eq!(t.source_arn(), Some(dlq_arn.as_str()));
        if t.status() == Some("COMPLETED") {
            assert_eq!(t.approximate_number_of_messages_moved(), 3);
            assert!(
                t.task_handle().is_none(),
                "handle only while RUNNING: {t:?}"
            );
            break;
        }
        assert_eq!(t.status(), Some("RUNNING"), "{t:?}");
        assert!(
            Instant::now() < deadline,
            "move task never completed: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Moved messages are receivable from the source again.
    let back = receive_n(&client, &src, 3, Duration::from_secs(5)).await;
    assert_eq!(back.len(), 3);
}

#[tokio::test]
async fn move_task_cancel_and_errors() {
    let server = TestServer::start_default();
    let client = server.client();
    let (dlq, dlq_arn, src) = redrive_pair(&client, "c", 1).await;
    for i in 0..10 {
        client
            .send_message()
            .queue_url(&src)
            .message_body(format!("m{i}"))
            .send()
            .await
            .unwrap();
    }
    receive_until_gone(&client, &src).await;
    wait_for_visible(&client, &dlq, "10").await;

    // Slow task (1 msg/s), cancelled right away.
    let handle = client
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap()
        .task_handle()
        .unwrap()
        .to_string();
    // SQS's handle: base64 of {"taskId": <uuid>, "sourceArn": <arn>}.
    let decoded: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &handle)
            .expect("base64 handle"),
    )
    .expect("JSON handle");
    assert_eq!(decoded["sourceArn"], dlq_arn.as_str(), "{decoded}");
    assert!(decoded["taskId"].is_string(), "{decoded}");
    // Only one active task per source.
    let info = assert_sqs_error(
        client
            .start_message_move_task()
            .source_arn(&dlq_arn)
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert!(
        info.message.as_deref().is_some_and(|m| m
            .ends_with("Only one active task is allowed for a source queue arn at a given time.")),
        "{info:?}"
    );
    let cancelled = client
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap();
    let moved = cancelled.approximate_number_of_messages_moved();
    assert!((0..10).contains(&moved), "cancelled task moved {moved}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tasks = client
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap();
        let status = tasks
            .results()
            .first()
            .and_then(|t| t.status())
            .unwrap_or("")
            .to_string();
        if status == "CANCELLED" {
            break;
        }
        assert_eq!(status, "CANCELLING", "{tasks:?}");
        assert!(Instant::now() < deadline, "task never cancelled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let in_src: i64 = queue_attr(&client, &src, A::ApproximateNumberOfMessages)
        .await
        .parse()
        .unwrap();
    let in_dlq: i64 = queue_attr(&client, &dlq, A::ApproximateNumberOfMessages)
        .await
        .parse()
        .unwrap();
    assert_eq!(
        in_src + in_dlq,
        10,
        "no message lost or duplicated by a cancelled task"
    );
    assert!(
        in_dlq > 0,
        "a 1 msg/s task cancelled at once must not have moved everything"
    );

    // Errors: a handle that does not decode, a handle of no task, unknown
    // source, rate above 500.
    let info = assert_sqs_error(
        client
            .cancel_message_move_task()
            .task_handle("no-such-task")
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message.as_deref(),
        Some("Value for parameter TaskHandle is invalid.")
    );
    let unknown = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!(r#"{{"taskId":"00000000-0000-0000-0000-000000000000","sourceArn":"{dlq_arn}"}}"#),
    );
    assert_sqs_error(
        client
            .cancel_message_move_task()
            .task_handle(unknown)
            .send()
            .await,
        404,
        "ResourceNotFoundException",
        "ResourceNotFoundException",
    );
    assert_client_error(
        client
            .start_message_move_task()
            .source_arn("arn:aws:sqs:us-east-1:000000000000:does-not-exist")
            .send()
            .await,
        &[
            "ResourceNotFoundException",
            "QueueDoesNotExist",
            "InvalidParameterValueException",
        ],
    );
    assert_client_error(
        client
            .start_message_move_task()
            .source_arn(&dlq_arn)
            .max_number_of_messages_per_second(501)
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
}

#[tokio::test]
async fn redrive_policy_validation() {
    let server = TestServer::start_default();
    let client = server.client();
    let fifo_dlq = create_queue_with(&client, "d.fifo", &[(A::FifoQueue, "true")]).await;
    let fifo_arn = queue_arn(&client, &fifo_dlq).await;
    // A standard queue cannot use a FIFO DLQ.
    let policy =
        serde_json::json!({"deadLetterTargetArn": fifo_arn, "maxReceiveCount": 3}).to_string();
    assert_client_error(
        client
            .create_queue()
            .queue_name("std-src")
            .attributes(A::RedrivePolicy, policy)
            .send()
            .await,
        &["InvalidParameterValueException", "InvalidAttributeValue"],
    );
    // Not JSON.
    assert_client_error(
        client
            .create_queue()
            .queue_name("std-src2")
            .attributes(A::RedrivePolicy, "{not json")
            .send()
            .await,
        &["InvalidParameterValueException", "InvalidAttributeValue"],
    );
}

#[tokio::test]
async fn redrive_policy_removal_and_redrive_allow_policy() {
    let server = TestServer::start_default();
    let client = server.client();
    let (dlq, _, src) = redrive_pair(&client, "r", 3).await;
    let listed = client
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.queue_urls().len(), 1);

    // An empty RedrivePolicy removes it.
    client
        .set_queue_attributes()
        .queue_url(&src)
        .attributes(A::RedrivePolicy, "")
        .send()
        .await
        .unwrap();
    let attrs = client
        .get_queue_attributes()
        .queue_url(&src)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    assert!(
        attrs
            .attributes()
            .and_then(|a| a.get(&A::RedrivePolicy))
            .is_none_or(|p| p.is_empty()),
        "{attrs:?}"
    );
    let listed = client
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert!(listed.queue_urls().is_empty(), "{listed:?}");

    // A DLQ that denies all sources cannot be named in a RedrivePolicy.
    let closed = create_queue_with(
        &client,
        "closed-dlq",
        &[(A::RedriveAllowPolicy, r#"{"redrivePermission":"denyAll"}"#)],
    )
    .await;
    let closed_arn = queue_arn(&client, &closed).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": closed_arn, "maxReceiveCount": 3}).to_string();
    assert_client_error(
        client
            .set_queue_attributes()
            .queue_url(&src)
            .attributes(A::RedrivePolicy, policy)
            .send()
            .await,
        &["InvalidParameterValueException", "InvalidAttributeValue"],
    );
    // A policy naming a queue that does not exist is refused.
    let ghost = serde_json::json!({
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:ghost",
        "maxReceiveCount": 3
    })
    .to_string();
    assert_client_error(
        client
            .set_queue_attributes()
            .queue_url(&src)
            .attributes(A::RedrivePolicy, ghost)
            .send()
            .await,
        &[
            "InvalidParameterValueException",
            "InvalidAttributeValue",
            "QueueDoesNotExist",
        ],
    );
}

/// A task whose destination queue was deleted fails with FailureReason
/// `AWS.SimpleQueueService.NonExistentQueue`; a source that is no dead-letter
/// queue is SQS's InvalidParameterValue.
#[tokio::test]
async fn move_task_failure_reason_and_non_dlq_source() {
    let server = TestServer::start_default();
    let client = server.client();
    let (dlq, dlq_arn, src) = redrive_pair(&client, "f", 1).await;
    let src_arn = queue_arn(&client, &src).await;
    assert_sqs_error(
        client
            .start_message_move_task()
            .source_arn(&src_arn)
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    for body in ["m0", "m1", "m2"] {
        send_text(&client, &src, body).await;
    }
    receive_until_gone(&client, &src).await;
    wait_for_visible(&client, &dlq, "3").await;
    let doomed = create_queue(&client, "f-doomed").await;
    let doomed_arn = queue_arn(&client, &doomed).await;
    client
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(&doomed_arn)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap();
    client
        .delete_queue()
        .queue_url(&doomed)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tasks = client
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap();
        let t = tasks.results().first().expect("the task is listed");
        if t.status() == Some("FAILED") {
            assert_eq!(
                t.failure_reason(),
                Some("AWS.SimpleQueueService.NonExistentQueue")
            );
            break;
        }
        assert!(Instant::now() < deadline, "task never failed: {t:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
