//! FIFO queues: order within groups, group blocking while in flight, deduplication (explicit
//! and content-based), sequence numbers, FIFO-specific validation.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::{
    MessageSystemAttributeName as S, QueueAttributeName as A, SendMessageBatchRequestEntry,
};

use crate::common::*;
use crate::harness::TestServer;

async fn fifo_queue(client: &aws_sdk_sqs::Client, name: &str, content_dedup: bool) -> String {
    create_queue_with(
        client,
        name,
        &[
            (A::FifoQueue, "true"),
            (
                A::ContentBasedDeduplication,
                if content_dedup { "true" } else { "false" },
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn order_within_groups_and_sequence_numbers() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "orders.fifo", false).await;
    assert_eq!(queue_attr(&client, &url, A::FifoQueue).await, "true");

    // Interleave two groups; remember each group's sequence numbers.
    let mut seqs: HashMap<&str, Vec<u128>> = HashMap::new();
    for i in 0..6 {
        let group = if i % 2 == 0 { "g1" } else { "g2" };
        let out = client
            .send_message()
            .queue_url(&url)
            .message_body(format!("{group}-{i}"))
            .message_group_id(group)
            .message_deduplication_id(format!("d{i}"))
            .send()
            .await
            .unwrap();
        let seq: u128 = out
            .sequence_number()
            .expect("FIFO send returns SequenceNumber")
            .parse()
            .expect("SequenceNumber is a decimal number");
        seqs.entry(group).or_default().push(seq);
    }
    for (group, s) in &seqs {
        assert!(
            s.windows(2).all(|w| w[0] < w[1]),
            "{group}: {s:?} not increasing"
        );
    }

    // Batch sends keep entry order.
    let entries: Vec<_> = (6..9)
        .map(|i| {
            SendMessageBatchRequestEntry::builder()
                .id(format!("e{i}"))
                .message_body(format!("g1-{i}"))
                .message_group_id("g1")
                .message_deduplication_id(format!("d{i}"))
                .build()
                .unwrap()
        })
        .collect();
    let out = client
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 3, "{out:?}");
    assert!(out
        .successful()
        .iter()
        .all(|e| e.sequence_number().is_some()));

    // Drain, deleting as we go; each group's bodies must come out in send order.
    let mut by_group: HashMap<String, Vec<String>> = HashMap::new();
    for _ in 0..20 {
        let got = receive(&client, &url, 10, 1).await;
        if got.is_empty() && by_group.values().map(Vec::len).sum::<usize>() == 9 {
            break;
        }
        for m in &got {
            let group = sys_attr(m, S::MessageGroupId)
                .expect("MessageGroupId")
                .to_string();
            assert!(sys_attr(m, S::SequenceNumber).is_some());
            assert!(sys_attr(m, S::MessageDeduplicationId).is_some());
            by_group
                .entry(group)
                .or_default()
                .push(m.body().unwrap().to_string());
            delete(&client, &url, m).await;
        }
    }
    assert_eq!(
        by_group["g1"],
        ["g1-0", "g1-2", "g1-4", "g1-6", "g1-7", "g1-8"]
    );
    assert_eq!(by_group["g2"], ["g2-1", "g2-3", "g2-5"]);
}

#[tokio::test]
async fn group_is_blocked_while_a_message_is_in_flight() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "block.fifo", true).await;
    for body in ["a1", "a2", "a3"] {
        client
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .message_group_id("A")
            .send()
            .await
            .unwrap();
    }
    client
        .send_message()
        .queue_url(&url)
        .message_body("b1")
        .message_group_id("B")
        .send()
        .await
        .unwrap();

    let first = receive(&client, &url, 1, 0).await;
    assert_eq!(first.len(), 1);
    let first_group = sys_attr(&first[0], S::MessageGroupId).unwrap().to_string();
    // While the first message is in flight, nothing later from its group is returned.
    let rest = receive(&client, &url, 10, 0).await;
    for m in &rest {
        assert_ne!(
            sys_attr(m, S::MessageGroupId),
            Some(first_group.as_str()),
            "group {first_group} delivered {:?} while {:?} is in flight",
            m.body(),
            first[0].body()
        );
    }
    // Make the first visible again: it (not a later one) comes back first for its group.
    client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(first[0].receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = receive(&client, &url, 10, 0).await;
    let again_bodies: Vec<_> = again
        .iter()
        .filter(|m| sys_attr(m, S::MessageGroupId) == Some(first_group.as_str()))
        .map(|m| m.body().unwrap())
        .collect();
    assert_eq!(
        again_bodies.first().copied(),
        first[0].body(),
        "{again_bodies:?}"
    );
}

#[tokio::test]
async fn deduplication() {
    let server = TestServer::start_default();
    let client = server.client();

    // Explicit ids.
    let url = fifo_queue(&client, "dedup.fifo", false).await;
    let a = client
        .send_message()
        .queue_url(&url)
        .message_body("one")
        .message_group_id("g")
        .message_deduplication_id("same")
        .send()
        .await
        .unwrap();
    let b = client
        .send_message()
        .queue_url(&url)
        .message_body("two")
        .message_group_id("g")
        .message_deduplication_id("same")
        .send()
        .await
        .unwrap();
    assert_eq!(
        a.message_id(),
        b.message_id(),
        "a duplicate answers with the original's MessageId"
    );
    // Missing dedup id without content-based dedup is an error.
    assert_client_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("three")
            .message_group_id("g")
            .send()
            .await,
        &[
            "InvalidParameterValueException",
            "MissingRequiredParameterException",
        ],
    );
    // Missing group id is an error on FIFO queues; DelaySeconds per message too.
    assert_client_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("four")
            .message_deduplication_id("x")
            .send()
            .await,
        &[
            "InvalidParameterValueException",
            "MissingRequiredParameterException",
        ],
    );
    assert_client_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("five")
            .message_group_id("g")
            .message_deduplication_id("y")
            .delay_seconds(5)
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    let got = receive_n(&client, &url, 1, Duration::from_secs(3)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body(), Some("one"));
    // The dedup id is still remembered after the message is deleted.
    delete(&client, &url, &got[0]).await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("one again")
        .message_group_id("g")
        .message_deduplication_id("same")
        .send()
        .await
        .unwrap();
    assert!(
        receive(&client, &url, 10, 1).await.is_empty(),
        "dedup window ignored"
    );

    // Content-based: same body → duplicate; an explicit id overrides.
    let url = fifo_queue(&client, "content.fifo", true).await;
    for _ in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body("same body")
            .message_group_id("g")
            .send()
            .await
            .unwrap();
    }
    client
        .send_message()
        .queue_url(&url)
        .message_body("same body")
        .message_group_id("g")
        .message_deduplication_id("explicit")
        .send()
        .await
        .unwrap();
    let got = receive_n(&client, &url, 2, Duration::from_secs(3)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "0"
    );
}

#[tokio::test]
async fn fifo_attributes_and_standard_queue_rejects_fifo_only_params() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(
        &client,
        "ht.fifo",
        &[
            (A::FifoQueue, "true"),
            (A::DeduplicationScope, "messageGroup"),
            (A::FifoThroughputLimit, "perMessageGroupId"),
        ],
    )
    .await;
    assert_eq!(
        queue_attr(&client, &url, A::DeduplicationScope).await,
        "messageGroup"
    );
    // messageGroup scope: the same dedup id in different groups is not a duplicate.
    for g in ["g1", "g2"] {
        client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_group_id(g)
            .message_deduplication_id("d")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "2"
    );

    // A standard queue rejects a dedup id (a group id is allowed: fair queues).
    let std_url = create_queue(&client, "plain").await;
    assert_client_error(
        client
            .send_message()
            .queue_url(&std_url)
            .message_body("x")
            .message_deduplication_id("d")
            .send()
            .await,
        &["InvalidParameterValueException"],
    );
    client
        .send_message()
        .queue_url(&std_url)
        .message_body("tenant")
        .message_group_id("tenant-1")
        .send()
        .await
        .expect("MessageGroupId on a standard queue names a fair-queue tenant");
}

#[tokio::test]
async fn receive_request_attempt_id_replays_the_same_receive() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "attempt.fifo", true).await;
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("a{i}"))
            .message_group_id("g")
            .send()
            .await
            .unwrap();
    }
    let rx = || {
        client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(2)
            .receive_request_attempt_id("attempt-1")
    };
    let first = rx().send().await.unwrap();
    assert_eq!(first.messages().len(), 2, "{first:?}");
    // A retry with the same attempt id (e.g. after a lost response) returns the same messages
    // with the same receipt handles.
    let retry = rx().send().await.unwrap();
    let ids = |o: &aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput| {
        o.messages()
            .iter()
            .map(|m| {
                (
                    m.message_id().unwrap().to_string(),
                    m.receipt_handle().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&retry), ids(&first));
    // A different attempt id gets nothing: the group is blocked by the in-flight messages.
    let other = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .receive_request_attempt_id("attempt-2")
        .send()
        .await
        .unwrap();
    assert!(other.messages().is_empty(), "{other:?}");
}

#[tokio::test]
async fn fifo_batches_per_entry_validation_and_in_batch_dedup() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "fbatch.fifo", false).await;
    let e = |id: &str, body: &str, group: Option<&str>, dedup: Option<&str>| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(body)
            .set_message_group_id(group.map(str::to_string))
            .set_message_deduplication_id(dedup.map(str::to_string))
            .build()
            .unwrap()
    };
    // An entry without MessageGroupId, or without MessageDeduplicationId
    // while content-based deduplication is off, fails the whole request.
    for (bad, message) in [
        (
            e("c", "no group", None, Some("d2")),
            "The request must contain the parameter MessageGroupId.",
        ),
        (
            e("d", "no dedup", Some("g"), None),
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        ),
    ] {
        let info = assert_sqs_error(
            client
                .send_message_batch()
                .queue_url(&url)
                .entries(e("a", "first", Some("g"), Some("d1")))
                .entries(bad)
                .send()
                .await,
            400,
            "InvalidParameterValueException",
            "InvalidParameterValue",
        );
        assert_eq!(info.message.as_deref(), Some(message));
    }
    // Other entry errors stay per entry.
    let out = client
        .send_message_batch()
        .queue_url(&url)
        .entries(e("a", "first", Some("g"), Some("d1")))
        .entries(e("b", "same dedup", Some("g"), Some("d1")))
        .entries(e("c", "bad group", Some("a b"), Some("d2")))
        .entries(e("d", "bad dedup", Some("g"), Some("")))
        .entries(e("f", "second", Some("g"), Some("d3")))
        .send()
        .await
        .unwrap();
    let ok: HashMap<_, _> = out
        .successful()
        .iter()
        .map(|s| (s.id().to_string(), s.message_id().to_string()))
        .collect();
    let failed: Vec<_> = out.failed().iter().map(|f| f.id().to_string()).collect();
    assert_eq!(ok.len(), 3, "{out:?}");
    assert_eq!(
        ok["a"], ok["b"],
        "in-batch duplicate answers the original's id"
    );
    let mut failed_sorted = failed.clone();
    failed_sorted.sort();
    assert_eq!(failed_sorted, ["c", "d"], "{out:?}");
    let got = receive_n(&client, &url, 2, Duration::from_secs(3)).await;
    let bodies: Vec<_> = got.iter().map(|m| m.body().unwrap()).collect();
    assert_eq!(bodies, ["first", "second"]);
}

#[tokio::test]
async fn fifo_dead_letter_queue_keeps_order() {
    let server = TestServer::start_default();
    let client = server.client();
    let dlq = fifo_queue(&client, "fdlq.fifo", true).await;
    let dlq_arn = queue_arn(&client, &dlq).await;
    let policy =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}).to_string();
    let src = create_queue_with(
        &client,
        "fsrc.fifo",
        &[
            (A::FifoQueue, "true"),
            (A::ContentBasedDeduplication, "true"),
            (A::RedrivePolicy, policy.as_str()),
        ],
    )
    .await;
    // A standard DLQ for a FIFO source is refused.
    let std_dlq = create_queue(&client, "std-dlq").await;
    let std_arn = queue_arn(&client, &std_dlq).await;
    let bad = serde_json::json!({"deadLetterTargetArn": std_arn, "maxReceiveCount": 1}).to_string();
    assert_client_error(
        client
            .set_queue_attributes()
            .queue_url(&src)
            .attributes(A::RedrivePolicy, bad)
            .send()
            .await,
        &["InvalidParameterValueException", "InvalidAttributeValue"],
    );
    for i in 0..4 {
        client
            .send_message()
            .queue_url(&src)
            .message_body(format!("p{i}"))
            .message_group_id("g")
            .send()
            .await
            .unwrap();
    }
    // Deliver each once with visibility 0, so each exceeds maxReceiveCount on the next try.
    for _ in 0..12 {
        let out = client
            .receive_message()
            .queue_url(&src)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        if out.messages().is_empty()
            && queue_attr(&client, &src, A::ApproximateNumberOfMessages).await == "0"
        {
            break;
        }
    }
    let mut bodies = Vec::new();
    for _ in 0..10 {
        for m in receive(&client, &dlq, 10, 1).await {
            bodies.push(m.body().unwrap().to_string());
            delete(&client, &dlq, &m).await;
        }
        if bodies.len() == 4 {
            break;
        }
    }
    assert_eq!(
        bodies,
        ["p0", "p1", "p2", "p3"],
        "FIFO DLQ must keep group order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_keep_each_group_in_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "fconc.fifo", true).await;
    let groups = 5;
    let per_group = 20;
    for i in 0..per_group {
        let entries = (0..groups)
            .map(|g| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("g{g}"))
                    .message_body(format!("{g}:{i}"))
                    .message_group_id(format!("group-{g}"))
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
    // Each consumer receives, records (global order, group, index), then deletes. A later
    // message of a group can only be handed out after the earlier one is deleted, so the
    // recorded order per group must be 0, 1, 2, …
    let clock = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::<(usize, usize, usize)>::new()));
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let c = client.clone();
        let u = url.clone();
        let clock = Arc::clone(&clock);
        let log = Arc::clone(&log);
        consumers.push(tokio::spawn(async move {
            let mut empty = 0;
            while empty < 3 {
                let out = c
                    .receive_message()
                    .queue_url(&u)
                    .max_number_of_messages(3)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                if out.messages().is_empty() {
                    empty += 1;
                    continue;
                }
                empty = 0;
                for m in out.messages() {
                    let (g, i) = m.body().unwrap().split_once(':').unwrap();
                    let t = clock.fetch_add(1, Ordering::SeqCst);
                    log.lock()
                        .unwrap()
                        .push((t, g.parse().unwrap(), i.parse().unwrap()));
                }
                for m in out.messages() {
                    c.delete_message()
                        .queue_url(&u)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
        }));
    }
    for c in consumers {
        c.await.unwrap();
    }
    let mut log = log.lock().unwrap().clone();
    log.sort();
    assert_eq!(log.len(), groups * per_group, "every message exactly once");
    for g in 0..groups {
        let order: Vec<usize> = log.iter().filter(|e| e.1 == g).map(|e| e.2).collect();
        assert_eq!(
            order,
            (0..per_group).collect::<Vec<_>>(),
            "group {g} out of order"
        );
    }
}

/// Bad FIFO parameters are SQS's unmodeled InvalidParameterValue: JSON
/// `__type` `…#InvalidParameterValueException`, `x-amzn-query-error`
/// `InvalidParameterValue;Sender`.
#[tokio::test]
async fn bad_fifo_parameters_have_sqs_error_shapes() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "shapes.fifo", false).await;
    let long = "a".repeat(129);
    for (group, dedup) in [
        ("", "d"),
        (long.as_str(), "d"),
        ("with space", "d"),
        ("g", ""),
        ("g", long.as_str()),
        ("g", "with space"),
    ] {
        assert_sqs_error(
            client
                .send_message()
                .queue_url(&url)
                .message_body("x")
                .message_group_id(group)
                .message_deduplication_id(dedup)
                .send()
                .await,
            400,
            "InvalidParameterValueException",
            "InvalidParameterValue",
        );
    }
    let info = assert_sqs_error(
        client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_group_id("g")
            .message_deduplication_id("d")
            .delay_seconds(2)
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message.as_deref(),
        Some("Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.")
    );
}

/// `DelaySeconds=0` on a FIFO send (single and batch entry) is accepted; the
/// queue's own DelaySeconds then applies.
#[tokio::test]
async fn fifo_accepts_an_explicit_zero_delay() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = create_queue_with(
        &client,
        "zero.fifo",
        &[(A::FifoQueue, "true"), (A::DelaySeconds, "600")],
    )
    .await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("single")
        .message_group_id("g")
        .message_deduplication_id("d1")
        .delay_seconds(0)
        .send()
        .await
        .unwrap();
    let out = client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("e")
                .message_body("entry")
                .message_group_id("g")
                .message_deduplication_id("d2")
                .delay_seconds(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.failed().is_empty(), "{out:?}");
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessagesDelayed).await,
        "2",
        "the queue's delay applies"
    );
}

/// PurgeQueue clears the deduplication cache: the same dedup id right after
/// a purge is a new message.
#[tokio::test]
async fn purge_forgets_deduplication_ids() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "purged.fifo", false).await;
    let send = |body: &'static str| {
        client
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .message_group_id("g")
            .message_deduplication_id("same")
            .send()
    };
    let before = send("before").await.unwrap();
    client.purge_queue().queue_url(&url).send().await.unwrap();
    let after = send("after").await.unwrap();
    assert_ne!(after.message_id(), before.message_id());
    let got = receive_n(&client, &url, 1, Duration::from_secs(5)).await;
    assert_eq!(got[0].body(), Some("after"));
}

/// After DeduplicationScope changes from `queue` to `messageGroup`, ids seen
/// before keep deduplicating across groups.
#[tokio::test]
async fn dedup_ids_survive_a_change_to_message_group_scope() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "scope.fifo", false).await;
    let send = |group: &'static str, dedup: &'static str| {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("{group}-{dedup}"))
            .message_group_id(group)
            .message_deduplication_id(dedup)
            .send()
    };
    let old = send("a", "seen").await.unwrap();
    client
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(A::DeduplicationScope, "messageGroup")
        .send()
        .await
        .unwrap();
    let other_group = send("b", "seen").await.unwrap();
    assert_eq!(other_group.message_id(), old.message_id());
    let a = send("a", "new").await.unwrap();
    let b = send("b", "new").await.unwrap();
    assert_ne!(a.message_id(), b.message_id(), "new ids are per group");
}

/// On a FIFO queue DeleteMessage refuses a handle whose visibility timeout
/// expired; the message stays.
#[tokio::test]
async fn fifo_delete_with_an_expired_handle_is_refused() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = fifo_queue(&client, "expired.fifo", true).await;
    client
        .send_message()
        .queue_url(&url)
        .message_body("m")
        .message_group_id("g")
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
    let handle = got.messages()[0].receipt_handle().unwrap().to_string();
    wait_for_visible(&client, &url, "1").await;
    let info = assert_sqs_error(
        client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(&handle)
            .send()
            .await,
        400,
        "InvalidParameterValueException",
        "InvalidParameterValue",
    );
    assert_eq!(
        info.message,
        Some(format!(
            "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
        ))
    );
    assert_eq!(
        queue_attr(&client, &url, A::ApproximateNumberOfMessages).await,
        "1"
    );
}
