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
    let before = h.counts(&q);

    let first = h.engine.peek_messages(&q, None, 4).unwrap();
    assert_eq!(first.items.len(), 4);
    let token = first.next_token.clone().expect("a second page");
    let second = h.engine.peek_messages(&q, Some(&token), 4).unwrap();
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
    assert_eq!(h.counts(&q), before);
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
    let page = h.engine.peek_messages(&q, None, 10).unwrap();
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
        h.engine.peek_messages(&missing, None, 10),
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine.peek_messages(&q, Some("x"), 10),
        Err(EngineError::InvalidParameterValue(_))
    ));
}
