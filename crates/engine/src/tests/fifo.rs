//! FIFO queues: ordering, group blocking, dedup, sequence numbers, attempts.

use super::*;

async fn fifo(h: &Harness, name: &str, extra: &[(&str, &str)]) -> QueueRef {
    let mut attributes = vec![("FifoQueue", "true")];
    attributes.extend_from_slice(extra);
    h.create(name, &attributes).await
}

/// E2: no message of a group is handed out while an earlier one is in flight.
#[tokio::test]
async fn group_order_and_blocking() {
    let h = Harness::new().await;
    let q = fifo(&h, "g.fifo", &[]).await;
    for i in 0..3 {
        h.send_fifo(&q, &format!("a{i}"), "A", &format!("a{i}"))
            .await;
    }
    h.send_fifo(&q, "b0", "B", "b0").await;
    let first = h.receive(&q, 1).await;
    assert_eq!(first[0].body, "a0");
    // A is blocked behind a0; B is served.
    let next = h.receive(&q, 10).await;
    assert_eq!(
        next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["b0"]
    );
    assert!(h.receive(&q, 10).await.is_empty());
    h.delete(&q, &first[0].receipt_handle).await;
    let rest = h.receive(&q, 10).await;
    assert_eq!(
        rest.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["a1", "a2"]
    );
}

#[tokio::test]
async fn in_flight_expiry_redelivers_in_order() {
    let h = Harness::new().await;
    let q = fifo(&h, "r.fifo", &[("VisibilityTimeout", "5")]).await;
    for i in 0..3 {
        h.send_fifo(&q, &format!("m{i}"), "G", &format!("d{i}"))
            .await;
    }
    let got = h.receive(&q, 2).await;
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["m0", "m1"]
    );
    h.delete(&q, &got[1].receipt_handle).await; // m0 still in flight
    assert!(h.receive(&q, 10).await.is_empty());
    h.advance_s(5);
    let again = h.receive(&q, 10).await;
    assert_eq!(
        again.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["m0", "m2"]
    );
}

#[tokio::test]
async fn dedup_returns_original_even_after_delete_until_window_ends() {
    let h = Harness::new().await;
    let q = fifo(&h, "d.fifo", &[]).await;
    let first = h.send_fifo(&q, "x", "G", "dup").await;
    let second = h.send_fifo(&q, "y", "G", "dup").await;
    assert_eq!(first.message_id, second.message_id);
    assert_eq!(first.sequence_number, second.sequence_number);
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    h.delete(&q, &got[0].receipt_handle).await;
    let third = h.send_fifo(&q, "z", "G", "dup").await;
    assert_eq!(third.message_id, first.message_id);
    assert!(h.receive(&q, 10).await.is_empty());
    h.advance_s(300);
    h.engine.tick().await.unwrap();
    let fourth = h.send_fifo(&q, "w", "G", "dup").await;
    assert_ne!(fourth.message_id, first.message_id);
    assert!(
        fourth.sequence_number.unwrap().parse::<u128>().unwrap()
            > first.sequence_number.unwrap().parse::<u128>().unwrap()
    );
    let gauges = h.engine.queue_gauges().await.unwrap();
    assert_eq!(
        gauges
            .iter()
            .find(|g| g.queue == q)
            .unwrap()
            .deduplicated_total,
        2
    );
}

#[tokio::test]
async fn content_based_dedup_and_group_scope() {
    let h = Harness::new().await;
    let q = fifo(&h, "c.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let e = |group: &str| SendEntry {
        body: "same".into(),
        group_id: Some(group.into()),
        ..Default::default()
    };
    let a = h.engine.send_message(&h.caller, &q, e("A")).await.unwrap();
    let b = h.engine.send_message(&h.caller, &q, e("B")).await.unwrap();
    assert_eq!(
        a.message_id, b.message_id,
        "queue scope: same body is a duplicate across groups"
    );
    let per_group = fifo(
        &h,
        "p.fifo",
        &[
            ("ContentBasedDeduplication", "true"),
            ("DeduplicationScope", "messageGroup"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ],
    )
    .await;
    let a = h
        .engine
        .send_message(&h.caller, &per_group, e("A"))
        .await
        .unwrap();
    let b = h
        .engine
        .send_message(&h.caller, &per_group, e("B"))
        .await
        .unwrap();
    let a2 = h
        .engine
        .send_message(&h.caller, &per_group, e("A"))
        .await
        .unwrap();
    assert_ne!(a.message_id, b.message_id);
    assert_eq!(a.message_id, a2.message_id);
}

#[tokio::test]
async fn fifo_parameter_rules() {
    let h = Harness::new().await;
    let q = fifo(&h, "rules.fifo", &[]).await;
    let no_group = SendEntry {
        body: "x".into(),
        dedup_id: Some("d".into()),
        ..Default::default()
    };
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, no_group).await,
        Err(EngineError::MissingParameter(_))
    ));
    let no_dedup = SendEntry {
        body: "x".into(),
        group_id: Some("g".into()),
        ..Default::default()
    };
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, no_dedup).await,
        Err(EngineError::InvalidParameterValue(_))
    ));
    let delayed = SendEntry {
        body: "x".into(),
        group_id: Some("g".into()),
        dedup_id: Some("d".into()),
        delay_seconds: Some(1),
        ..Default::default()
    };
    assert!(matches!(
        h.engine.send_message(&h.caller, &q, delayed).await,
        Err(EngineError::InvalidParameterValue(_))
    ));
    let bad_group = SendEntry {
        body: "x".into(),
        group_id: Some("a b".into()),
        dedup_id: Some("d".into()),
        ..Default::default()
    };
    assert!(h
        .engine
        .send_message(&h.caller, &q, bad_group)
        .await
        .is_err());
    // Name and FifoQueue must agree.
    assert!(h
        .engine
        .create_queue(&h.caller, "nofifo.fifo", BTreeMap::new(), BTreeMap::new())
        .await
        .is_err());
    let attrs: BTreeMap<String, String> = [("FifoQueue".to_string(), "true".to_string())].into();
    assert!(h
        .engine
        .create_queue(&h.caller, "plain", attrs, BTreeMap::new())
        .await
        .is_err());
    let attrs: BTreeMap<String, String> = [
        (
            "FifoThroughputLimit".to_string(),
            "perMessageGroupId".to_string(),
        ),
        ("FifoQueue".to_string(), "true".to_string()),
    ]
    .into();
    assert!(matches!(
        h.engine
            .create_queue(&h.caller, "ht.fifo", attrs, BTreeMap::new())
            .await,
        Err(EngineError::InvalidAttributeValue(_))
    ));
    // Standard queues reject a dedup id.
    let std_q = h.create("std", &[]).await;
    let with_dedup = SendEntry {
        body: "x".into(),
        dedup_id: Some("d".into()),
        ..Default::default()
    };
    assert!(h
        .engine
        .send_message(&h.caller, &std_q, with_dedup)
        .await
        .is_err());
}

#[tokio::test]
async fn batch_keeps_entry_order_and_sequence_numbers_increase() {
    let h = Harness::new().await;
    let q = fifo(&h, "b.fifo", &[]).await;
    let entries: Vec<SendEntry> = (0..10)
        .map(|i| SendEntry {
            id: format!("e{i}"),
            body: format!("m{i}"),
            group_id: Some("G".into()),
            dedup_id: Some(format!("d{i}")),
            ..Default::default()
        })
        .collect();
    let result = h
        .engine
        .send_message_batch(&h.caller, &q, entries)
        .await
        .unwrap();
    let seqs: Vec<u128> = result
        .successful
        .iter()
        .map(|r| r.sequence_number.clone().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let got = h.receive(&q, 10).await;
    assert_eq!(
        got.iter().map(|m| m.body.clone()).collect::<Vec<_>>(),
        (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    assert_eq!(got[3].attributes["SequenceNumber"], seqs[3].to_string());
    assert_eq!(got[3].attributes["MessageDeduplicationId"], "d3");
    assert_eq!(got[3].attributes["MessageGroupId"], "G");
}

#[tokio::test]
async fn delayed_messages_do_not_block_their_group() {
    let h = Harness::new().await;
    let q = fifo(&h, "delay.fifo", &[]).await;
    h.engine
        .set_queue_attributes(
            &h.caller,
            &q,
            [("DelaySeconds".to_string(), "10".to_string())].into(),
        )
        .await
        .unwrap();
    h.send_fifo(&q, "late", "G", "1").await;
    h.engine
        .set_queue_attributes(
            &h.caller,
            &q,
            [("DelaySeconds".to_string(), "0".to_string())].into(),
        )
        .await
        .unwrap();
    h.send_fifo(&q, "now", "G", "2").await;
    let got = h.receive(&q, 10).await;
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["now"]
    );
}

#[tokio::test]
async fn receive_request_attempt_id_returns_same_messages() {
    let h = Harness::new().await;
    let q = fifo(&h, "a.fifo", &[]).await;
    h.send_fifo(&q, "m0", "G", "0").await;
    h.send_fifo(&q, "m1", "H", "1").await;
    let request = ReceiveRequest {
        max_number_of_messages: Some(1),
        receive_request_attempt_id: Some("attempt-1".into()),
        ..Default::default()
    };
    let first = h
        .engine
        .receive_message(&h.caller, &q, request.clone())
        .await
        .unwrap();
    let retry = h
        .engine
        .receive_message(&h.caller, &q, request.clone())
        .await
        .unwrap();
    assert_eq!(first, retry);
    h.advance_s(301);
    let later = h
        .engine
        .receive_message(&h.caller, &q, request)
        .await
        .unwrap();
    assert_ne!(later, first);
}

/// E4: sequence numbers are never reused after a restart.
#[tokio::test]
async fn sequence_numbers_and_dedup_survive_restart() {
    let mut h = Harness::new().await;
    let q = fifo(&h, "s.fifo", &[]).await;
    let before = h.send_fifo(&q, "x", "G", "dup").await;
    let got = h.receive(&q, 1).await;
    h.delete(&q, &got[0].receipt_handle).await;
    h.restart().await;
    let duplicate = h.send_fifo(&q, "y", "G", "dup").await;
    assert_eq!(
        duplicate.message_id, before.message_id,
        "dedup survives delete + restart"
    );
    let after = h.send_fifo(&q, "z", "G", "new").await;
    let seq = |r: &SendResult| r.sequence_number.clone().unwrap().parse::<u128>().unwrap();
    assert!(seq(&after) > seq(&before));
}

/// Deleting the in-flight head of a FIFO group wakes a long poll waiting for that group.
#[tokio::test]
async fn delete_of_group_head_wakes_long_poll() {
    let h = Harness::new().await;
    let q = fifo(&h, "wake.fifo", &[]).await;
    h.send_fifo(&q, "first", "G", "1").await;
    h.send_fifo(&q, "second", "G", "2").await;
    let head = h.receive(&q, 1).await.remove(0);
    let waiter = h.long_poll(&q).await;
    h.delete(&q, &head.receipt_handle).await;
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "second");
}

fn fifo_entry(id: &str, group: Option<&str>, dedup: Option<&str>) -> SendEntry {
    SendEntry {
        id: id.into(),
        body: format!("body-{id}"),
        group_id: group.map(str::to_string),
        dedup_id: dedup.map(str::to_string),
        ..Default::default()
    }
}

/// An explicit `DelaySeconds=0` is no per-message delay: accepted (single and
/// batch entry), and the queue's own delay applies.
#[tokio::test]
async fn explicit_zero_delay_is_accepted_and_the_queue_delay_applies() {
    let h = Harness::new().await;
    let q = fifo(&h, "z.fifo", &[("DelaySeconds", "5")]).await;
    let mut single = fifo_entry("", Some("g"), Some("d1"));
    single.delay_seconds = Some(0);
    h.engine.send_message(&h.caller, &q, single).await.unwrap();
    let mut entry = fifo_entry("e", Some("g"), Some("d2"));
    entry.delay_seconds = Some(0);
    let batch = h
        .engine
        .send_message_batch(&h.caller, &q, vec![entry])
        .await
        .unwrap();
    assert!(batch.failed.is_empty(), "{:?}", batch.failed);
    assert_eq!(h.counts(&q).await, (0, 0, 2), "the queue's delay applies");
    h.advance_s(5);
    assert_eq!(h.receive(&q, 10).await.len(), 2);
    let mut delayed = fifo_entry("", Some("g"), Some("d3"));
    delayed.delay_seconds = Some(2);
    let err = h
        .engine
        .send_message(&h.caller, &q, delayed)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(ref m)
            if m == "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."),
        "{err:?}"
    );
}

/// A FIFO batch with an entry lacking its group id, or its dedup id without
/// content-based deduplication, fails as a whole and stores nothing.
#[tokio::test]
async fn fifo_batch_without_group_or_dedup_fails_as_a_whole() {
    let h = Harness::new().await;
    let q = fifo(&h, "w.fifo", &[]).await;
    let cases = [
        (
            fifo_entry("b", None, Some("d2")),
            "The request must contain the parameter MessageGroupId.",
        ),
        (
            fifo_entry("b", Some("g"), None),
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        ),
    ];
    for (bad, message) in cases {
        let good = fifo_entry("a", Some("g"), Some("d1"));
        let err = h
            .engine
            .send_message_batch(&h.caller, &q, vec![good, bad])
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(ref m) if m == message),
            "{err:?}"
        );
    }
    assert_eq!(h.counts(&q).await, (0, 0, 0), "nothing stored");
    // With content-based deduplication a missing dedup id is fine.
    let cbd = fifo(&h, "cbd.fifo", &[("ContentBasedDeduplication", "true")]).await;
    let ok = h
        .engine
        .send_message_batch(&h.caller, &cbd, vec![fifo_entry("a", Some("g"), None)])
        .await
        .unwrap();
    assert_eq!(ok.successful.len(), 1);
}

/// PurgeQueue ends every deduplication window: the same dedup id right after
/// a purge is a new message, also after a restart.
#[tokio::test]
async fn purge_clears_deduplication_ids() {
    let mut h = Harness::new().await;
    let q = fifo(&h, "p.fifo", &[]).await;
    let first = h.send_fifo(&q, "x", "G", "dup").await;
    let got = h.receive(&q, 1).await;
    h.delete(&q, &got[0].receipt_handle).await; // held for dedup
    let held = h.send_fifo(&q, "y", "G", "held").await;
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    let again = h.send_fifo(&q, "x2", "G", "dup").await;
    assert_ne!(again.message_id, first.message_id);
    let again_held = h.send_fifo(&q, "y2", "G", "held").await;
    assert_ne!(again_held.message_id, held.message_id);
    h.restart().await;
    assert_eq!(
        h.send_fifo(&q, "x3", "G", "dup").await.message_id,
        again.message_id,
        "the post-purge send deduplicates after a restart"
    );
    let bodies: Vec<String> = h
        .receive(&q, 10)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["x2", "y2"]);
}

/// After DeduplicationScope changes from `queue` to `messageGroup`, ids seen
/// under the queue scope keep deduplicating across groups until they expire.
#[tokio::test]
async fn dedup_ids_from_the_queue_scope_survive_a_scope_change() {
    let h = Harness::new().await;
    let q = fifo(&h, "s.fifo", &[]).await;
    let old = h.send_fifo(&q, "x", "A", "seen").await;
    h.set_attributes(&q, &[("DeduplicationScope", "messageGroup")])
        .await
        .unwrap();
    let other_group = h.send_fifo(&q, "y", "B", "seen").await;
    assert_eq!(other_group.message_id, old.message_id, "still a duplicate");
    // New ids are per group now.
    let a = h.send_fifo(&q, "a", "A", "new").await;
    let b = h.send_fifo(&q, "b", "B", "new").await;
    assert_ne!(a.message_id, b.message_id);
    h.advance_s(300);
    h.engine.tick().await.unwrap();
    let later = h.send_fifo(&q, "z", "B", "seen").await;
    assert_ne!(later.message_id, old.message_id, "window over");
}

/// E1 on a FIFO queue: DeleteMessage refuses any handle whose visibility
/// timeout is over (expired, or an earlier delivery), and does nothing.
#[tokio::test]
async fn fifo_delete_with_an_expired_handle_is_refused() {
    let h = Harness::new().await;
    let q = fifo(&h, "e.fifo", &[("VisibilityTimeout", "5")]).await;
    h.send_fifo(&q, "m", "G", "d").await;
    let first = h.receive(&q, 1).await.remove(0);
    h.advance_s(5);
    let expired = |handle: &str| {
        format!("Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.")
    };
    let err = h
        .engine
        .delete_message(&h.caller, &q, &first.receipt_handle)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(ref m) if *m == expired(&first.receipt_handle)),
        "{err:?}"
    );
    assert_eq!(h.counts(&q).await, (1, 0, 0), "not deleted");
    let second = h.receive(&q, 1).await.remove(0);
    let batch = h
        .engine
        .delete_message_batch(
            &h.caller,
            &q,
            vec![DeleteEntry {
                id: "old".into(),
                receipt_handle: first.receipt_handle.clone(),
            }],
        )
        .await
        .unwrap();
    assert!(
        matches!(batch.failed[0].error, EngineError::InvalidParameterValue(_)),
        "{batch:?}"
    );
    assert_eq!(
        h.counts(&q).await,
        (0, 1, 0),
        "the newer delivery is untouched"
    );
    h.delete(&q, &second.receipt_handle).await;
    assert_eq!(h.counts(&q).await, (0, 0, 0));
}
