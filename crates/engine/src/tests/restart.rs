//! State survives restarts exactly: messages, receive state, timers, retention.

use super::*;

#[tokio::test]
async fn messages_and_receive_state_survive_restart() {
    let mut h = Harness::new().await;
    let q = h.create("keep", &[("VisibilityTimeout", "600")]).await;
    h.send(&q, "a").await;
    h.send(&q, "b").await;
    let entry = SendEntry {
        body: "c".into(),
        delay_seconds: Some(60),
        ..Default::default()
    };
    h.engine.send_message(&h.caller, &q, entry).await.unwrap();
    let got = h.receive(&q, 1).await.remove(0);
    let deleted = h.receive(&q, 1).await.remove(0);
    h.delete(&q, &deleted.receipt_handle).await;
    h.restart().await;
    assert_eq!(h.counts(&q).await, (0, 1, 1));
    // The receipt handle from before the restart still works.
    h.engine
        .change_message_visibility(&h.caller, &q, &got.receipt_handle, 0)
        .await
        .unwrap();
    let again = h.receive(&q, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, got.body);
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    // Stale handle after restart: no effect.
    h.delete(&q, &got.receipt_handle).await;
    assert_eq!(h.counts(&q).await, (0, 1, 1));
    h.advance_s(60);
    let delayed = h.receive(&q, 10).await;
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].body, "c");
}

#[tokio::test]
async fn visibility_expiring_while_down_is_visible_after_restart() {
    let mut h = Harness::new().await;
    let q = h.create("vis", &[("VisibilityTimeout", "30")]).await;
    h.send(&q, "a").await;
    h.receive(&q, 1).await;
    h.advance_s(31);
    h.restart().await;
    assert_eq!(h.counts(&q).await, (1, 0, 0));
}

/// E3 across a restart: messages whose retention ended while down are gone.
#[tokio::test]
async fn retention_expiry_across_restart() {
    let mut h = Harness::new().await;
    let q = h.create("ret", &[("MessageRetentionPeriod", "60")]).await;
    h.send(&q, "old").await;
    h.advance_s(30);
    h.send(&q, "young").await;
    h.restart().await;
    h.advance_s(40);
    h.restart().await;
    assert_eq!(h.counts(&q).await, (1, 0, 0));
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "young");
}

#[tokio::test]
async fn queue_metadata_purge_and_delete_survive_restart() {
    let mut h = Harness::new().await;
    let q = h.create("meta", &[("DelaySeconds", "3")]).await;
    h.engine
        .tag_queue(&h.caller, &q, [("k".to_string(), "v".to_string())].into())
        .await
        .unwrap();
    h.send(&q, "purged").await;
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    let gone = h.create("gone", &[]).await;
    h.send(&gone, "x").await;
    h.engine.delete_queue(&h.caller, &gone).await.unwrap();
    h.restart().await;
    assert_eq!(h.attribute(&q, "DelaySeconds").await, "3");
    assert_eq!(
        h.engine.list_queue_tags(&h.caller, &q).await.unwrap()["k"],
        "v"
    );
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    assert!(matches!(
        h.engine.purge_queue(&h.caller, &q).await,
        Err(EngineError::PurgeQueueInProgress(_))
    ));
    assert!(matches!(
        h.engine.get_queue_url(&h.caller, "gone", None).await,
        Err(EngineError::QueueDoesNotExist)
    ));
    assert!(matches!(
        h.engine
            .create_queue(&h.caller, "gone", BTreeMap::new(), BTreeMap::new())
            .await,
        Err(EngineError::QueueDeletedRecently)
    ));
}

/// Compaction relocates live records; everything still replays the same.
#[tokio::test]
async fn compaction_keeps_state_and_reclaims_space() {
    let config = StorageConfig {
        durability: Durability::Never,
        segment_size_bytes: 8192,
        ..Default::default()
    };
    let mut h = Harness::with_storage(config).await;
    let q = h.create("compact", &[("VisibilityTimeout", "600")]).await;
    let keep = h.send(&q, "keeper").await;
    let kept = h.receive(&q, 1).await.remove(0);
    for round in 0..20 {
        let entries = (0..10)
            .map(|i| SendEntry {
                id: format!("e{i}"),
                body: format!("{round}-{i}-{}", "x".repeat(200)),
                ..Default::default()
            })
            .collect();
        h.engine
            .send_message_batch(&h.caller, &q, entries)
            .await
            .unwrap();
        for m in h.receive(&q, 10).await {
            h.delete(&q, &m.receipt_handle).await;
        }
    }
    let before = h.engine.storage().unwrap().stats().disk_bytes;
    h.engine.tick().await.unwrap();
    let after = h.engine.storage().unwrap().stats().disk_bytes;
    assert!(
        after < before,
        "compaction reclaimed space: {before} → {after}"
    );
    h.restart().await;
    assert_eq!(h.counts(&q).await, (0, 1, 0));
    h.engine
        .change_message_visibility(&h.caller, &q, &kept.receipt_handle, 0)
        .await
        .unwrap();
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, keep.message_id);
    assert_eq!(got[0].body, "keeper");
}

/// Compaction relocates FIFO and dead-lettered messages; order, group
/// blocking, dedup and the DLQ source survive compaction plus restart.
#[tokio::test]
async fn compaction_of_fifo_and_dead_letter_messages() {
    let config = StorageConfig {
        durability: Durability::Never,
        segment_size_bytes: 4096,
        ..Default::default()
    };
    let mut h = Harness::with_storage(config).await;
    let dlq = h.create("dlq.fifo", &[("FifoQueue", "true")]).await;
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":1}}"#,
        h.engine.queue_arn(&dlq)
    );
    let src = h
        .create(
            "src.fifo",
            &[
                ("FifoQueue", "true"),
                ("VisibilityTimeout", "0"),
                ("RedrivePolicy", &policy),
            ],
        )
        .await;
    let q = h
        .create(
            "main.fifo",
            &[("FifoQueue", "true"), ("VisibilityTimeout", "600")],
        )
        .await;
    let churn = h.create("churn", &[]).await;
    h.send_fifo(&src, "poison", "P", "p").await;
    assert_eq!(h.receive(&src, 1).await[0].body, "poison");
    assert!(h.receive(&src, 1).await.is_empty(), "moved to the DLQ");
    for i in 0..5 {
        h.send_fifo(&q, &format!("g{i}"), "G", &format!("g{i}"))
            .await;
    }
    let first = h.receive(&q, 1).await.remove(0);
    h.delete(&q, &first.receipt_handle).await; // g0 gone, its dedup id still held
                                               // Churn in another queue fills segments with garbage.
    for round in 0..12 {
        let entries = (0..5)
            .map(|i| SendEntry {
                id: format!("e{i}"),
                body: format!("{round}-{i}-{}", "x".repeat(300)),
                ..Default::default()
            })
            .collect();
        h.engine
            .send_message_batch(&h.caller, &churn, entries)
            .await
            .unwrap();
        for m in h.receive(&churn, 10).await {
            h.delete(&churn, &m.receipt_handle).await;
        }
    }
    h.engine.tick().await.unwrap();
    let stats = h.engine.storage().unwrap().stats();
    assert!(stats.reclaimed_bytes > 0, "{stats:?}");
    h.restart().await;
    let moved = h.receive(&dlq, 10).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body, "poison");
    assert_eq!(
        moved[0].attributes["DeadLetterQueueSourceArn"],
        h.engine.queue_arn(&src)
    );
    let got = h.receive(&q, 10).await;
    let bodies: Vec<&str> = got.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["g1", "g2", "g3", "g4"],
        "group order survives relocation"
    );
    let duplicate = h.send_fifo(&q, "again", "G", "g0").await;
    assert_eq!(
        duplicate.message_id, first.message_id,
        "dedup of a deleted message survives"
    );
    assert_eq!(h.counts(&q).await, (0, 4, 0));
}

/// E1 across restarts: a queue whose latest `QueueUpserted` record sits in a
/// later segment than its messages (attributes changed after the sends, the
/// old upsert's segment reclaimed) still gets every message back on replay.
#[tokio::test]
async fn messages_older_than_the_latest_queue_record_survive_restart() {
    let config = StorageConfig {
        durability: Durability::Never,
        segment_size_bytes: 4096,
        ..Default::default()
    };
    let mut h = Harness::with_storage(config).await;
    let q = h.create("late-meta", &[]).await;
    // Fill the first segment with garbage so it can be reclaimed whole.
    let churn = h.create("churn", &[]).await;
    for round in 0..6 {
        let body = format!("{round}-{}", "x".repeat(1500));
        let sent = h.send(&churn, &body).await;
        assert!(!sent.message_id.is_empty());
        for m in h.receive(&churn, 10).await {
            h.delete(&churn, &m.receipt_handle).await;
        }
    }
    let kept = h.send(&q, "survivor").await;
    // Change attributes twice: the queue's live record moves past the message,
    // and compaction/GC may reclaim the segment with the original upsert.
    for timeout in ["45", "46"] {
        h.engine
            .set_queue_attributes(
                &h.caller,
                &q,
                [("VisibilityTimeout".to_string(), timeout.to_string())].into(),
            )
            .await
            .unwrap();
    }
    h.engine.tick().await.unwrap();
    h.engine.tick().await.unwrap();
    h.restart().await;
    assert_eq!(h.attribute(&q, "VisibilityTimeout").await, "46");
    assert_eq!(
        h.counts(&q).await,
        (1, 0, 0),
        "the message sent before the last upsert"
    );
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, kept.message_id);
    h.restart().await;
    assert_eq!(h.counts(&q).await, (0, 1, 0));
}
