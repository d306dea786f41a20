//! Send / receive / delete / visibility / attributes on standard queues.

use super::*;

#[tokio::test]
async fn send_receive_delete_round_trip() {
    let h = Harness::new().await;
    let q = h.create("orders", &[]).await;
    let sent = h.send(&q, "hello").await;
    assert_eq!(sent.md5_of_body, "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(sent.sequence_number, None);
    assert_eq!(h.counts(&q).await, (1, 0, 0));
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "hello");
    assert_eq!(got[0].message_id, sent.message_id);
    assert_eq!(got[0].attributes["ApproximateReceiveCount"], "1");
    assert_eq!(got[0].attributes["SenderId"], "AIDTEST");
    assert_eq!(got[0].attributes["SentTimestamp"], T0.to_string());
    assert_eq!(h.counts(&q).await, (0, 1, 0));
    assert!(
        h.receive(&q, 10).await.is_empty(),
        "in flight messages are not handed out again"
    );
    h.delete(&q, &got[0].receipt_handle).await;
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    // Deleting again is idempotent.
    h.delete(&q, &got[0].receipt_handle).await;
}

#[tokio::test]
async fn visibility_timeout_returns_message_on_time() {
    let h = Harness::new().await;
    let q = h.create("vis", &[("VisibilityTimeout", "10")]).await;
    h.send(&q, "m").await;
    let first = h.receive(&q, 1).await;
    h.advance_s(9);
    assert!(h.receive(&q, 1).await.is_empty());
    h.advance_s(1);
    let second = h.receive(&q, 1).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(
        second[0].attributes["ApproximateFirstReceiveTimestamp"],
        first[0].attributes["ApproximateFirstReceiveTimestamp"]
    );
    assert_ne!(first[0].receipt_handle, second[0].receipt_handle);
}

/// E1 on a standard queue: only the latest delivery's handle acts. An earlier
/// delivery's handle answers success and changes nothing (delete and
/// visibility change); the latest one still deletes, or hides the message
/// again, after its timeout expired; a deleted message's handle cannot
/// change visibility.
#[tokio::test]
async fn stale_receipt_handle_rules() {
    let h = Harness::new().await;
    let q = h.create("stale", &[("VisibilityTimeout", "5")]).await;
    h.send(&q, "m").await;
    let old = h.receive(&q, 1).await.remove(0);
    h.advance_s(5);
    let new = h.receive(&q, 1).await.remove(0);
    // Delete with the old handle: success, no effect.
    h.delete(&q, &old.receipt_handle).await;
    assert_eq!(h.counts(&q).await, (0, 1, 0));
    // Change visibility with the old handle: success, no effect either (SQS
    // would apply it to the newer delivery; that one is not this handle's).
    h.engine
        .change_message_visibility(&h.caller, &q, &old.receipt_handle, 0)
        .await
        .unwrap();
    assert_eq!(
        h.counts(&q).await,
        (0, 1, 0),
        "the newer delivery stays hidden"
    );
    // The new handle works.
    h.engine
        .change_message_visibility(&h.caller, &q, &new.receipt_handle, 100)
        .await
        .unwrap();
    h.advance_s(99);
    assert!(h.receive(&q, 1).await.is_empty());
    // Its timeout expires and nobody receives it: the latest handle hides it
    // again with a new timeout (same delivery: count and handle unchanged)…
    h.advance_s(1);
    assert_eq!(h.counts(&q).await, (1, 0, 0));
    h.engine
        .change_message_visibility(&h.caller, &q, &new.receipt_handle, 30)
        .await
        .unwrap();
    assert_eq!(h.counts(&q).await, (0, 1, 0));
    h.advance_s(29);
    assert!(h.receive(&q, 1).await.is_empty());
    h.advance_s(1);
    // …and, expired again, still deletes it on a standard queue.
    assert_eq!(h.counts(&q).await, (1, 0, 0));
    h.delete(&q, &new.receipt_handle).await;
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    // The message is gone: its handles still delete (idempotent) but cannot
    // change visibility.
    h.delete(&q, &new.receipt_handle).await;
    for handle in [&old.receipt_handle, &new.receipt_handle] {
        let err = h
            .engine
            .change_message_visibility(&h.caller, &q, handle, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(ref m)
                if m == &format!("Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.")),
            "{err:?}"
        );
    }
    // Garbage and forged handles.
    for bad in ["", "garbage", &new.receipt_handle[1..]] {
        let err = h
            .engine
            .delete_message(&h.caller, &q, bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::ReceiptHandleIsInvalid(_)),
            "{err:?}"
        );
    }
    // A handle of another queue.
    let other = h.create("other", &[]).await;
    h.send(&other, "x").await;
    let foreign = h.receive(&other, 1).await.remove(0);
    let err = h
        .engine
        .delete_message(&h.caller, &q, &foreign.receipt_handle)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::ReceiptHandleIsInvalid(_)));
}

#[tokio::test]
async fn change_visibility_zero_and_not_in_flight() {
    let h = Harness::new().await;
    let q = h.create("cv", &[]).await;
    h.send(&q, "m").await;
    let m = h.receive(&q, 1).await.remove(0);
    h.engine
        .change_message_visibility(&h.caller, &q, &m.receipt_handle, 0)
        .await
        .unwrap();
    assert_eq!(h.counts(&q).await, (1, 0, 0));
    // Visible again: a zero timeout from the same handle leaves it visible.
    h.engine
        .change_message_visibility(&h.caller, &q, &m.receipt_handle, 0)
        .await
        .unwrap();
    assert_eq!(h.counts(&q).await, (1, 0, 0));
    let again = h.receive(&q, 1).await.remove(0);
    let err = h
        .engine
        .change_message_visibility(&h.caller, &q, &again.receipt_handle, 43_201)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidParameterValue(_)));
}

#[tokio::test]
async fn delays_queue_and_message_level() {
    let h = Harness::new().await;
    let q = h.create("delay", &[("DelaySeconds", "5")]).await;
    h.send(&q, "queue-delay").await;
    let entry = SendEntry {
        body: "msg-delay".into(),
        delay_seconds: Some(0),
        ..Default::default()
    };
    h.engine.send_message(&h.caller, &q, entry).await.unwrap();
    assert_eq!(h.counts(&q).await, (1, 0, 1));
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "msg-delay");
    h.advance_s(5);
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "queue-delay");
}

/// E3: nothing past retention is returned.
#[tokio::test]
async fn retention_expires_visible_in_flight_and_delayed() {
    let h = Harness::new().await;
    let q = h
        .create(
            "ret",
            &[
                ("MessageRetentionPeriod", "60"),
                ("VisibilityTimeout", "600"),
            ],
        )
        .await;
    h.send(&q, "visible").await;
    h.send(&q, "in-flight").await;
    let entry = SendEntry {
        body: "delayed".into(),
        delay_seconds: Some(900),
        ..Default::default()
    };
    h.engine.send_message(&h.caller, &q, entry).await.unwrap();
    let got = h.receive(&q, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(h.counts(&q).await, (1, 1, 1));
    h.advance_s(60);
    h.engine.tick().await.unwrap();
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    assert!(h.receive(&q, 10).await.is_empty());
}

#[tokio::test]
async fn batches_keep_order_and_report_per_entry_failures() {
    let h = Harness::new().await;
    let q = h.create("batch", &[]).await;
    let entries = vec![
        SendEntry {
            id: "a".into(),
            body: "1".into(),
            ..Default::default()
        },
        SendEntry {
            id: "b".into(),
            body: "\u{0}".into(),
            ..Default::default()
        },
        SendEntry {
            id: "c".into(),
            body: "3".into(),
            ..Default::default()
        },
    ];
    let result = h
        .engine
        .send_message_batch(&h.caller, &q, entries)
        .await
        .unwrap();
    assert_eq!(
        result
            .successful
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "c"]
    );
    assert_eq!(result.failed.len(), 1);
    assert_eq!(result.failed[0].id, "b");
    assert!(matches!(
        result.failed[0].error,
        EngineError::InvalidMessageContents(_)
    ));
    let got = h.receive(&q, 10).await;
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["1", "3"]
    );
    let entries = vec![
        DeleteEntry {
            id: "x".into(),
            receipt_handle: got[0].receipt_handle.clone(),
        },
        DeleteEntry {
            id: "y".into(),
            receipt_handle: "bad".into(),
        },
    ];
    let result = h
        .engine
        .delete_message_batch(&h.caller, &q, entries)
        .await
        .unwrap();
    assert_eq!(result.successful, ["x"]);
    assert_eq!(result.failed[0].id, "y");
    let entries = vec![VisibilityEntry {
        id: "v".into(),
        receipt_handle: got[1].receipt_handle.clone(),
        visibility_timeout: Some(0),
    }];
    let result = h
        .engine
        .change_message_visibility_batch(&h.caller, &q, entries)
        .await
        .unwrap();
    assert_eq!(result.successful, ["v"]);
    assert_eq!(h.counts(&q).await, (1, 0, 0));
}

#[tokio::test]
async fn message_attributes_filters_and_md5() {
    let h = Harness::new().await;
    let q = h.create("attrs", &[]).await;
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "a".to_string(),
        AttributeValue {
            data_type: "String".into(),
            value: b"v".to_vec(),
        },
    );
    attributes.insert(
        "b.x".to_string(),
        AttributeValue {
            data_type: "Number.int".into(),
            value: b"5".to_vec(),
        },
    );
    attributes.insert(
        "c".to_string(),
        AttributeValue {
            data_type: "Binary".into(),
            value: vec![0, 1, 2],
        },
    );
    let mut system = BTreeMap::new();
    system.insert(
        "AWSTraceHeader".to_string(),
        AttributeValue {
            data_type: "String".into(),
            value: b"Root=1".to_vec(),
        },
    );
    let entry = SendEntry {
        body: "b".into(),
        attributes: attributes.clone(),
        system_attributes: system,
        ..Default::default()
    };
    let sent = h.engine.send_message(&h.caller, &q, entry).await.unwrap();
    assert_eq!(
        sent.md5_of_message_attributes,
        crate::md5::md5_of_attributes(&attributes)
    );
    assert!(sent.md5_of_message_system_attributes.is_some());
    let request = ReceiveRequest {
        message_attribute_names: vec!["b.*".into(), "a".into()],
        system_attribute_names: vec!["AWSTraceHeader".into(), "SenderId".into()],
        ..Default::default()
    };
    let got = h
        .engine
        .receive_message(&h.caller, &q, request)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        got.message_attributes.keys().collect::<Vec<_>>(),
        ["a", "b.x"]
    );
    let mut expected = attributes.clone();
    expected.remove("c");
    assert_eq!(
        got.md5_of_message_attributes,
        crate::md5::md5_of_attributes(&expected)
    );
    assert_eq!(
        got.attributes.keys().collect::<Vec<_>>(),
        ["AWSTraceHeader", "SenderId"]
    );
    assert_eq!(got.attributes["AWSTraceHeader"], "Root=1");
}

#[tokio::test]
async fn long_poll_is_woken_by_a_send() {
    let h = Harness::new().await;
    let q = h.create("poll", &[]).await;
    let waiter = h.long_poll(&q).await;
    h.send(&q, "wake").await;
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "wake");
}

#[tokio::test]
async fn shutdown_ends_long_polls() {
    let h = Harness::new().await;
    let q = h.create("poll", &[]).await;
    let waiter = h.long_poll(&q).await;
    h.engine.shutdown().await.unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(got.is_empty());
}

/// E5: concurrent consumers never get the same visible message twice within its visibility window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_never_share_a_message() {
    let h = Harness::new().await;
    let q = h.create("many", &[("VisibilityTimeout", "600")]).await;
    for chunk in 0..20 {
        let entries = (0..10)
            .map(|i| SendEntry {
                id: format!("e{i}"),
                body: format!("{chunk}-{i}"),
                ..Default::default()
            })
            .collect();
        h.engine
            .send_message_batch(&h.caller, &q, entries)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let engine = h.engine.clone();
        let (caller, queue) = (h.caller.clone(), q.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let request = ReceiveRequest {
                    max_number_of_messages: Some(3),
                    ..Default::default()
                };
                let got = engine
                    .receive_message(&caller, &queue, request)
                    .await
                    .unwrap();
                if got.is_empty() {
                    return ids;
                }
                ids.extend(got.into_iter().map(|m| m.message_id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(unique.len(), 200);
}

#[tokio::test]
async fn fair_queue_tenants_are_served_round_robin() {
    let h = Harness::new().await;
    let q = h.create("fair", &[]).await;
    for i in 0..50 {
        let entry = SendEntry {
            body: format!("noisy-{i}"),
            group_id: Some("noisy".into()),
            ..Default::default()
        };
        h.engine.send_message(&h.caller, &q, entry).await.unwrap();
    }
    let entry = SendEntry {
        body: "quiet".into(),
        group_id: Some("quiet".into()),
        ..Default::default()
    };
    h.engine.send_message(&h.caller, &q, entry).await.unwrap();
    let got = h.receive(&q, 2).await;
    assert!(
        got.iter().any(|m| m.body == "quiet"),
        "the quiet tenant is served despite the backlog"
    );
    assert_eq!(got[0].attributes["MessageGroupId"], "noisy");
}

#[tokio::test]
async fn queue_lifecycle_and_attributes() {
    let h = Harness::new().await;
    let q = h.create("life", &[("VisibilityTimeout", "40")]).await;
    // Idempotent create with equal attributes; QueueNameExists otherwise.
    assert_eq!(h.create("life", &[("VisibilityTimeout", "40")]).await, q);
    let err = h
        .engine
        .create_queue(
            &h.caller,
            "life",
            [("VisibilityTimeout".to_string(), "41".to_string())].into(),
            BTreeMap::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::QueueNameExists(ref a) if a == "VisibilityTimeout"));
    let all = h
        .engine
        .get_queue_attributes(&h.caller, &q, &["All".into()])
        .await
        .unwrap();
    assert_eq!(all["VisibilityTimeout"], "40");
    assert_eq!(all["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:life");
    assert_eq!(all["CreatedTimestamp"], (T0 / 1000).to_string());
    assert!(!all.keys().any(|k| k.starts_with("__")));
    assert!(h
        .engine
        .get_queue_attributes(&h.caller, &q, &[])
        .await
        .unwrap()
        .is_empty());
    let err = h
        .engine
        .get_queue_attributes(&h.caller, &q, &["Nope".into()])
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidAttributeName(_)));
    h.advance_s(2);
    h.engine
        .set_queue_attributes(
            &h.caller,
            &q,
            [("DelaySeconds".to_string(), "7".to_string())].into(),
        )
        .await
        .unwrap();
    assert_eq!(h.attribute(&q, "DelaySeconds").await, "7");
    assert_eq!(
        h.attribute(&q, "LastModifiedTimestamp").await,
        (T0 / 1000 + 2).to_string()
    );
    // Tags.
    h.engine
        .tag_queue(
            &h.caller,
            &q,
            [("team".to_string(), "a".to_string())].into(),
        )
        .await
        .unwrap();
    assert_eq!(
        h.engine.list_queue_tags(&h.caller, &q).await.unwrap()["team"],
        "a"
    );
    h.engine
        .untag_queue(&h.caller, &q, vec!["team".into()])
        .await
        .unwrap();
    assert!(h
        .engine
        .list_queue_tags(&h.caller, &q)
        .await
        .unwrap()
        .is_empty());
    let many: BTreeMap<String, String> = (0..51)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    assert!(h.engine.tag_queue(&h.caller, &q, many).await.is_err());
    // Purge once per minute.
    h.send(&q, "x").await;
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    let err = h.engine.purge_queue(&h.caller, &q).await.unwrap_err();
    assert!(matches!(err, EngineError::PurgeQueueInProgress(_)));
    h.advance_s(60);
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    // Delete, then QueueDeletedRecently for 60 s.
    h.engine.delete_queue(&h.caller, &q).await.unwrap();
    assert!(matches!(
        h.engine.get_queue_url(&h.caller, "life", None).await,
        Err(EngineError::QueueDoesNotExist)
    ));
    let err = h
        .engine
        .create_queue(&h.caller, "life", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::QueueDeletedRecently));
    h.advance_s(60);
    h.create("life", &[]).await;
}

#[tokio::test]
async fn list_queues_with_prefix_and_pages() {
    let h = Harness::new().await;
    for name in ["a1", "a2", "a3", "b1"] {
        h.create(name, &[]).await;
    }
    let page = h
        .engine
        .list_queues(&h.caller, Some("a"), Some(2), None)
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    let next = page.next_token.unwrap();
    let page = h
        .engine
        .list_queues(&h.caller, Some("a"), Some(2), Some(&next))
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["a3"]
    );
    assert_eq!(page.next_token, None);
    assert_eq!(
        h.engine
            .list_queues(&h.caller, None, None, None)
            .await
            .unwrap()
            .items
            .len(),
        4
    );
    assert!(h
        .engine
        .list_queues(&h.caller, None, Some(0), None)
        .await
        .is_err());
    assert!(h
        .engine
        .list_queues(&h.caller, None, Some(1001), None)
        .await
        .is_err());
    let other = Caller {
        account: "111111111111".into(),
        sender_id: "x".into(),
    };
    assert!(h
        .engine
        .list_queues(&other, None, None, None)
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn permissions_gate_other_accounts() {
    let h = Harness::new().await;
    let q = h.create("shared", &[]).await;
    let other = Caller {
        account: "222222222222".into(),
        sender_id: "OTHER".into(),
    };
    let entry = SendEntry {
        body: "x".into(),
        ..Default::default()
    };
    let err = h
        .engine
        .send_message(&other, &q, entry.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::AccessDenied(_)));
    h.engine
        .add_permission(
            &h.caller,
            &q,
            "send",
            vec!["222222222222".into()],
            vec!["SendMessage".into()],
        )
        .await
        .unwrap();
    h.engine
        .send_message(&other, &q, entry.clone())
        .await
        .unwrap();
    let request = ReceiveRequest::default();
    assert!(matches!(
        h.engine.receive_message(&other, &q, request).await,
        Err(EngineError::AccessDenied(_))
    ));
    h.engine
        .remove_permission(&h.caller, &q, "send")
        .await
        .unwrap();
    assert!(h.engine.send_message(&other, &q, entry).await.is_err());
    assert!(!h
        .engine
        .get_queue_attributes(&h.caller, &q, &["All".into()])
        .await
        .unwrap()
        .contains_key("Policy"));
}

#[tokio::test]
async fn gauges_match_attributes() {
    let h = Harness::new().await;
    let q = h.create("g", &[]).await;
    h.send(&q, "a").await;
    h.send(&q, "b").await;
    h.receive(&q, 1).await;
    let gauges = h.engine.queue_gauges().await.unwrap();
    let g = gauges.iter().find(|g| g.queue == q).unwrap();
    assert_eq!((g.visible, g.not_visible, g.delayed), h.counts(&q).await);
    assert_eq!(g.sent_total, 2);
    assert_eq!(g.received_total, 1);
}

/// The background task makes delayed messages visible and wakes long polls
/// (time moves only through the manual clock; the test waits on the result).
#[tokio::test]
async fn background_sweep_wakes_long_poll_for_delayed_message() {
    let h = Harness::new().await;
    let q = h.create("bg", &[("DelaySeconds", "5")]).await;
    let background = h.engine.spawn_background();
    h.send(&q, "later").await;
    let waiter = h.long_poll(&q).await;
    h.advance_s(5);
    let got = tokio::time::timeout(std::time::Duration::from_secs(15), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "later");
    h.engine.shutdown().await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), background)
        .await
        .unwrap()
        .unwrap();
}

/// With no sweep and nothing calling the store's waker, a long poll still
/// wakes when the store's `next_visible_at` comes (a store shared by several
/// nodes may not notice time-based changes at once).
#[tokio::test]
async fn long_poll_wakes_at_next_visible_at_without_a_sweep() {
    let h = Harness::new().await;
    let q = h.create("fallback", &[("DelaySeconds", "1")]).await;
    h.send(&q, "soon").await;
    // The poll is waiting (for 1 s: the message's delay) before time moves.
    let waiter = h.long_poll(&q).await;
    h.advance_s(1);
    let got = tokio::time::timeout(std::time::Duration::from_secs(15), waiter)
        .await
        .expect("woken before the 20 s wait ended")
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "soon");
}

#[tokio::test]
async fn lowering_retention_expires_existing_messages() {
    let h = Harness::new().await;
    let q = h.create("lower", &[]).await;
    h.send(&q, "old").await;
    h.advance_s(120);
    h.send(&q, "new").await;
    h.engine
        .set_queue_attributes(
            &h.caller,
            &q,
            [("MessageRetentionPeriod".to_string(), "60".to_string())].into(),
        )
        .await
        .unwrap();
    let got = h.receive(&q, 10).await;
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["new"]
    );
}

#[tokio::test]
async fn kms_and_sse_attributes() {
    let h = Harness::new().await;
    let plain = h.create("sse", &[]).await;
    assert_eq!(h.attribute(&plain, "SqsManagedSseEnabled").await, "true");
    assert_eq!(h.attribute(&plain, "KmsMasterKeyId").await, "");
    let kms = h
        .create("kms", &[("KmsMasterKeyId", "alias/aws/sqs")])
        .await;
    let all = h
        .engine
        .get_queue_attributes(&h.caller, &kms, &["All".into()])
        .await
        .unwrap();
    assert_eq!(all["KmsMasterKeyId"], "alias/aws/sqs");
    assert_eq!(all["KmsDataKeyReusePeriodSeconds"], "300");
    assert_eq!(all["SqsManagedSseEnabled"], "false");
    let both: BTreeMap<String, String> = [
        ("KmsMasterKeyId".to_string(), "k".to_string()),
        ("SqsManagedSseEnabled".to_string(), "true".to_string()),
    ]
    .into();
    assert!(matches!(
        h.engine
            .create_queue(&h.caller, "both", both, BTreeMap::new())
            .await,
        Err(EngineError::InvalidAttributeValue(_))
    ));
}

#[tokio::test]
async fn queue_url_for_other_owner_and_dead_letter_source_pages() {
    let h = Harness::new().await;
    let dlq = h.create("dlq", &[]).await;
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":3}}"#,
        h.engine.queue_arn(&dlq)
    );
    for name in ["s1", "s2", "s3"] {
        h.create(name, &[("RedrivePolicy", &policy)]).await;
    }
    let page = h
        .engine
        .list_dead_letter_source_queues(&h.caller, &dlq, Some(2), None)
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["s1", "s2"]
    );
    let page = h
        .engine
        .list_dead_letter_source_queues(&h.caller, &dlq, Some(2), page.next_token.as_deref())
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["s3"]
    );
    assert_eq!(page.next_token, None);
    let other = Caller {
        account: "222222222222".into(),
        sender_id: "o".into(),
    };
    assert!(matches!(
        h.engine
            .get_queue_url(&other, "dlq", Some(&h.caller.account))
            .await,
        Err(EngineError::AccessDenied(_))
    ));
    h.engine
        .add_permission(
            &h.caller,
            &dlq,
            "url",
            vec!["222222222222".into()],
            vec!["GetQueueUrl".into()],
        )
        .await
        .unwrap();
    assert_eq!(
        h.engine
            .get_queue_url(&other, "dlq", Some(&h.caller.account))
            .await
            .unwrap(),
        dlq
    );
    assert!(matches!(
        h.engine.get_queue_url(&other, "dlq", None).await,
        Err(EngineError::QueueDoesNotExist)
    ));
}

/// A delivery can stay invisible at most 12 hours counted from its receive.
#[tokio::test]
async fn visibility_is_capped_at_twelve_hours_from_the_receive() {
    let h = Harness::new().await;
    let q = h.create("cap", &[]).await;
    h.send(&q, "m").await;
    let request = ReceiveRequest {
        visibility_timeout: Some(43_200),
        ..Default::default()
    };
    let m = h
        .engine
        .receive_message(&h.caller, &q, request)
        .await
        .unwrap()
        .remove(0);
    h.advance_s(2);
    let err = h
        .engine
        .change_message_visibility(&h.caller, &q, &m.receipt_handle, 43_200)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(ref t) if t.contains("beyond the limit")),
        "{err:?}"
    );
    h.engine
        .change_message_visibility(&h.caller, &q, &m.receipt_handle, 43_198)
        .await
        .unwrap();
    h.engine
        .change_message_visibility(&h.caller, &q, &m.receipt_handle, 60)
        .await
        .unwrap();
    // A new delivery starts a new 12 hours.
    h.advance_s(60);
    let again = h.receive(&q, 1).await.remove(0);
    h.advance_s(2);
    h.engine
        .change_message_visibility(&h.caller, &q, &again.receipt_handle, 43_198)
        .await
        .unwrap();
}

/// CreateQueue of an existing name compares only the attributes and tags it
/// is given: a start-up `CreateQueue(name)` always gets the URL back.
#[tokio::test]
async fn create_queue_is_idempotent_over_what_it_is_given() {
    let h = Harness::new().await;
    let q = h.create("idem", &[("VisibilityTimeout", "40")]).await;
    let create = |attributes: &[(&str, &str)], tags: &[(&str, &str)]| {
        let engine = h.engine.clone();
        let caller = h.caller.clone();
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        async move { engine.create_queue(&caller, "idem", attributes, tags).await }
    };
    h.set_attributes(&q, &[("DelaySeconds", "7")])
        .await
        .unwrap();
    h.engine
        .tag_queue(
            &h.caller,
            &q,
            [("team".to_string(), "a".to_string())].into(),
        )
        .await
        .unwrap();
    assert_eq!(create(&[], &[]).await.unwrap(), q, "nothing given");
    assert_eq!(create(&[("DelaySeconds", "7")], &[]).await.unwrap(), q);
    assert_eq!(
        create(&[("MaximumMessageSize", "1048576")], &[("team", "a")])
            .await
            .unwrap(),
        q,
        "a given default, a given tag with its value"
    );
    let err = create(&[("DelaySeconds", "0")], &[]).await.unwrap_err();
    assert!(matches!(err, EngineError::QueueNameExists(ref a) if a == "DelaySeconds"));
    let err = create(&[], &[("team", "b")]).await.unwrap_err();
    assert!(matches!(err, EngineError::QueueNameExists(_)), "{err:?}");
    // FIFO-only attributes on a standard queue are unknown, even FifoQueue=false.
    for (name, value) in [
        ("FifoQueue", "false"),
        ("ContentBasedDeduplication", "false"),
        ("DeduplicationScope", "queue"),
        ("FifoThroughputLimit", "perQueue"),
    ] {
        for queue_name in ["idem", "fresh"] {
            let err = h
                .engine
                .create_queue(
                    &h.caller,
                    queue_name,
                    [(name.to_string(), value.to_string())].into(),
                    BTreeMap::new(),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, EngineError::InvalidAttributeName(ref m) if *m == format!("Unknown Attribute {name}.")),
                "{name} on {queue_name}: {err:?}"
            );
        }
    }
    // SetQueueAttributes FifoQueue: a no-op on a FIFO queue, unknown on a standard one.
    let f = h.create("idem.fifo", &[("FifoQueue", "true")]).await;
    let set_fifo = |queue: QueueRef| {
        let engine = h.engine.clone();
        let caller = h.caller.clone();
        async move {
            engine
                .set_queue_attributes(
                    &caller,
                    &queue,
                    [("FifoQueue".to_string(), "true".to_string())].into(),
                )
                .await
        }
    };
    set_fifo(f.clone()).await.unwrap();
    assert_eq!(h.attribute(&f, "FifoQueue").await, "true");
    let err = set_fifo(q.clone()).await.unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidAttributeName(ref m) if m == "Unknown Attribute FifoQueue."),
        "{err:?}"
    );
}

/// GetQueueAttributes shows KmsDataKeyReusePeriodSeconds only with a KMS key.
#[tokio::test]
async fn kms_reuse_period_is_shown_only_with_a_kms_key() {
    let h = Harness::new().await;
    let q = h
        .create("reuse", &[("KmsDataKeyReusePeriodSeconds", "600")])
        .await;
    let all = h
        .engine
        .get_queue_attributes(&h.caller, &q, &["All".into()])
        .await
        .unwrap();
    assert!(!all.contains_key("KmsDataKeyReusePeriodSeconds"), "{all:?}");
    assert!(h
        .engine
        .get_queue_attributes(&h.caller, &q, &["KmsDataKeyReusePeriodSeconds".into()])
        .await
        .unwrap()
        .is_empty());
    h.set_attributes(
        &q,
        &[
            ("KmsMasterKeyId", "alias/aws/sqs"),
            ("SqsManagedSseEnabled", "false"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(h.attribute(&q, "KmsDataKeyReusePeriodSeconds").await, "600");
}

/// A standard-queue message whose visibility expired is offered again before
/// messages sent after it.
#[tokio::test]
async fn expired_messages_come_back_in_send_order() {
    let h = Harness::new().await;
    let q = h.create("order", &[("VisibilityTimeout", "5")]).await;
    h.send(&q, "first").await;
    let got = h.receive(&q, 1).await;
    assert_eq!(got[0].body, "first");
    for i in 0..3 {
        h.send(&q, &format!("later-{i}")).await;
    }
    h.advance_s(5);
    let again = h.receive(&q, 1).await;
    assert_eq!(again[0].body, "first", "the older message comes first");
    // A visibility change to 0 puts it back at its place too.
    h.engine
        .change_message_visibility(&h.caller, &q, &again[0].receipt_handle, 0)
        .await
        .unwrap();
    let bodies: Vec<String> = h
        .receive(&q, 10)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["first", "later-0", "later-1", "later-2"]);
}
