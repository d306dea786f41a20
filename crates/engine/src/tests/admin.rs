//! Operator actions: peek changes nothing and pages in queue order; delete by id.

use super::*;

#[tokio::test]
async fn peek_changes_nothing_and_pages_in_order() {
    let h = Harness::new().await;
    let q = h.create("peeked", &[]).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(h.send(&q, &format!("body-{i}")).await.message_id);
        h.clock.advance(1);
    }
    // One message in flight, one delayed.
    let received = h.receive(&q, 1).await;
    assert_eq!(received.len(), 1);
    let delayed = h
        .engine
        .send_message(
            &h.caller,
            &q,
            SendEntry {
                body: "later".into(),
                delay_seconds: Some(60),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = h.counts(&q).await;

    let first = h.engine.peek_messages(&q, None, 4).await.unwrap();
    assert_eq!(first.items.len(), 4);
    let token = first.next_token.clone().expect("a second page");
    let second = h.engine.peek_messages(&q, Some(&token), 4).await.unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(second.next_token.is_none());
    let ids: Vec<String> = first
        .items
        .iter()
        .chain(second.items.iter())
        .map(|m| m.message_id.clone())
        .collect();
    let mut expected = sent.clone();
    expected.push(delayed.message_id.clone());
    assert_eq!(ids, expected, "queue (send) order");
    let in_flight = &first.items[0];
    assert_eq!(in_flight.body, "body-0");
    assert_eq!(in_flight.receive_count, 1);
    assert!(matches!(in_flight.state, PeekState::InFlight { .. }));
    assert!(matches!(second.items[1].state, PeekState::Delayed { .. }));
    assert_eq!(first.items[1].state, PeekState::Visible);
    assert_eq!(first.items[1].receive_count, 0);
    assert_eq!(
        first.items[1].md5_of_body,
        crate::md5::md5_of_body("body-1")
    );

    // Nothing changed: counts, receive counts, and the next receive still
    // gets the visible messages in order with receive count 1.
    assert_eq!(h.counts(&q).await, before);
    let again = h.receive(&q, 10).await;
    assert_eq!(again.len(), 4);
    for m in &again {
        assert_eq!(m.attributes["ApproximateReceiveCount"], "1");
    }
}

#[tokio::test]
async fn delete_by_id_removes_one_message_and_survives_restart() {
    let mut h = Harness::new().await;
    let q = h
        .create("admin-delete.fifo", &[("FifoQueue", "true")])
        .await;
    let a = h.send_fifo(&q, "a", "g", "d1").await;
    let b = h.send_fifo(&q, "b", "g", "d2").await;
    assert!(h
        .engine
        .delete_message_by_id(&q, &a.message_id)
        .await
        .unwrap());
    assert!(!h
        .engine
        .delete_message_by_id(&q, &a.message_id)
        .await
        .unwrap());
    assert!(!h
        .engine
        .delete_message_by_id(&q, "not-a-uuid")
        .await
        .unwrap());
    h.restart().await;
    let page = h.engine.peek_messages(&q, None, 10).await.unwrap();
    let ids: Vec<&str> = page.items.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, vec![b.message_id.as_str()]);
    assert_eq!(page.items[0].group_id.as_deref(), Some("g"));
    assert_eq!(page.items[0].dedup_id.as_deref(), Some("d2"));
    // The deleted message's dedup id still deduplicates inside its window.
    let again = h.send_fifo(&q, "a", "g", "d1").await;
    assert_eq!(again.message_id, a.message_id);
}

#[tokio::test]
async fn peek_of_a_missing_queue_or_bad_cursor_is_an_error() {
    let h = Harness::new().await;
    let q = h.create("exists", &[]).await;
    let missing = QueueRef {
        account: q.account.clone(),
        name: "nope".into(),
    };
    assert!(matches!(
        h.engine.peek_messages(&missing, None, 10).await,
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine.peek_messages(&q, Some("x"), 10).await,
        Err(EngineError::InvalidParameterValue(_))
    ));
}

#[tokio::test]
async fn reset_deletes_every_queue_and_the_names_are_free_at_once() {
    let h = Harness::new().await;
    let a = h.create("reset-a", &[]).await;
    h.send(&a, "gone").await;
    let other = Caller {
        account: "111111111111".into(),
        sender_id: "AIDOTHER".into(),
    };
    h.engine
        .create_queue(&other, "reset-b", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(h.engine.reset().await.unwrap(), 2);
    assert!(h.engine.queue_gauges().await.unwrap().is_empty());
    // strict_timing is on (the default), yet the name is free again at once.
    let again = h.create("reset-a", &[]).await;
    assert_eq!(h.counts(&again).await, (0, 0, 0));
}

#[tokio::test]
async fn queue_declarations_are_checked_like_create_queue() {
    let h = Harness::new().await;
    let attrs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let none = BTreeMap::new();
    Engine::check_queue_declaration("ok", &attrs(&[("VisibilityTimeout", "45")]), &none).unwrap();
    let err =
        Engine::check_queue_declaration("ok", &attrs(&[("VisibilityTimeout", "99999")]), &none)
            .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidAttributeValue(_)),
        "{err:?}"
    );
    let err =
        Engine::check_queue_declaration("ok", &attrs(&[("Colour", "blue")]), &none).unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidAttributeName(_)),
        "{err:?}"
    );
    assert!(Engine::check_queue_declaration("bad name!", &none, &none).is_err());
    // Nothing was created.
    assert!(h.engine.queue_gauges().await.unwrap().is_empty());
}

#[tokio::test]
async fn relaxed_timing_allows_recreate_and_repeated_purge() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let storage_config = storage::StorageConfig {
        durability: storage::Durability::Never,
        ..Default::default()
    };
    let (storage, _) = storage::Storage::open(dir.path(), &storage_config).unwrap();
    let config = EngineConfig {
        strict_timing: false,
        ..EngineConfig::default()
    };
    let engine = Engine::open(storage, Arc::new(clock.clone()), config)
        .await
        .unwrap();
    let me = caller();
    let q = engine
        .create_queue(&me, "again", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    engine.purge_queue(&me, &q).await.unwrap();
    engine.purge_queue(&me, &q).await.unwrap();
    engine.delete_queue(&me, &q).await.unwrap();
    engine
        .create_queue(&me, "again", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
}
