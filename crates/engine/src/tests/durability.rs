//! Durability across compaction, segment reclamation and repeated restarts
//! with small segments: nothing acknowledged is lost, nothing deleted comes
//! back.

use storage::{Durability, StorageConfig};

use super::*;

/// Harness with 4 KiB segments, so a few messages rotate the log.
async fn small() -> Harness {
    Harness::with_storage(StorageConfig {
        durability: Durability::Never,
        segment_size_bytes: 4096,
        ..Default::default()
    })
    .await
}

fn big(tag: &str) -> String {
    format!("{tag}-{}", "x".repeat(1200))
}

/// A body small next to the churn, so its segment becomes a compaction
/// candidate once the churn around it is deleted.
fn small_body(tag: &str) -> String {
    format!("{tag}-{}", "y".repeat(200))
}

/// Fills several segments with messages on `scratch` and deletes them again,
/// so older segments become garbage or compaction candidates, then runs the
/// background round (timers, compaction, GC) twice.
async fn churn(h: &Harness, scratch: &QueueRef) {
    for i in 0..8 {
        h.send(scratch, &big(&format!("churn{i}"))).await;
    }
    loop {
        let got = h.receive(scratch, 10).await;
        if got.is_empty() {
            break;
        }
        for m in got {
            h.delete(scratch, &m.receipt_handle).await;
        }
    }
    h.engine.tick().await.unwrap();
    h.engine.tick().await.unwrap();
}

#[tokio::test]
async fn deleted_message_stays_deleted_after_compaction_and_two_restarts() {
    let mut h = small().await;
    let q = h.create("q", &[]).await;
    let scratch = h.create("scratch", &[]).await;
    h.send(&q, &small_body("keep")).await;
    h.send(&q, &small_body("gone")).await;
    let got = h.receive(&q, 10).await;
    assert_eq!(got.len(), 2);
    churn(&h, &scratch).await; // relocates both (with their receive state)
    let gone = got.iter().find(|m| m.body.starts_with("gone")).unwrap();
    h.delete(&q, &gone.receipt_handle).await;
    churn(&h, &scratch).await;
    churn(&h, &scratch).await;
    for _ in 0..2 {
        h.restart().await;
        churn(&h, &scratch).await;
        assert_eq!(h.counts(&q).await, (0, 1, 0));
    }
    h.advance_s(31);
    let left = h.receive(&q, 10).await;
    assert_eq!(left.len(), 1);
    assert!(left[0].body.starts_with("keep"));
}

#[tokio::test]
async fn purge_survives_compaction_and_two_restarts() {
    let mut h = small().await;
    let q = h.create("q", &[]).await;
    let scratch = h.create("scratch", &[]).await;
    for i in 0..5 {
        h.send(&q, &big(&format!("m{i}"))).await;
    }
    h.receive(&q, 2).await;
    churn(&h, &scratch).await;
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    h.send(&q, &big("after")).await;
    for _ in 0..2 {
        churn(&h, &scratch).await;
        h.restart().await;
        assert_eq!(h.counts(&q).await, (1, 0, 0));
    }
}

#[tokio::test]
async fn deleted_queue_stays_deleted_after_compaction_and_two_restarts() {
    let mut h = small().await;
    let q = h.create("doomed", &[]).await;
    let scratch = h.create("scratch", &[]).await;
    for i in 0..4 {
        h.send(&q, &big(&format!("m{i}"))).await;
    }
    churn(&h, &scratch).await;
    h.engine.delete_queue(&h.caller, &q).await.unwrap();
    for _ in 0..2 {
        churn(&h, &scratch).await;
        h.restart().await;
        assert!(matches!(
            h.engine
                .get_queue_attributes(&h.caller, &q, &["All".to_string()])
                .await,
            Err(EngineError::QueueDoesNotExist)
        ));
    }
    h.advance_s(61);
    let again = h.create("doomed", &[]).await;
    assert_eq!(h.counts(&again).await, (0, 0, 0));
    h.restart().await;
    assert_eq!(h.counts(&again).await, (0, 0, 0));
}

/// A FIFO message deleted inside its deduplication window: its record is
/// held (so the dedup id survives a restart), and the delete must survive
/// the reclamation of the segment holding the `MessageDeleted` record.
#[tokio::test]
async fn fifo_delete_inside_dedup_window_survives_compaction_and_restarts() {
    let mut h = small().await;
    let q = h.create("f.fifo", &[("FifoQueue", "true")]).await;
    let scratch = h.create("scratch", &[]).await;
    let sent = h.send_fifo(&q, &small_body("a"), "g", "dedup-a").await;
    let got = h.receive(&q, 1).await.remove(0);
    // Relocate the message (its receive state folds into the new copy).
    churn(&h, &scratch).await;
    churn(&h, &scratch).await;
    // Rotate so the delete lands in another segment than the copy.
    for i in 0..3 {
        h.send(&scratch, &big(&format!("rotate{i}"))).await;
    }
    h.delete(&q, &got.receipt_handle).await;
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    churn(&h, &scratch).await;
    churn(&h, &scratch).await;
    for _ in 0..2 {
        h.restart().await;
        assert_eq!(
            h.counts(&q).await,
            (0, 0, 0),
            "deleted FIFO message came back"
        );
        // Still deduplicated (well inside 5 minutes).
        let dup = h.send_fifo(&q, &big("a2"), "g", "dedup-a").await;
        assert_eq!(dup.message_id, sent.message_id);
        assert_eq!(h.counts(&q).await, (0, 0, 0));
        churn(&h, &scratch).await;
    }
    // After the window the dedup id is free and the held record is gone.
    h.advance_s(301);
    churn(&h, &scratch).await;
    h.restart().await;
    assert_eq!(h.counts(&q).await, (0, 0, 0));
    let fresh = h.send_fifo(&q, &big("a3"), "g", "dedup-a").await;
    assert_ne!(fresh.message_id, sent.message_id);
    assert_eq!(h.counts(&q).await, (1, 0, 0));
}

/// The 60 s purge guard survives the reclamation of the `QueuePurged`
/// record's segment and a restart (the record is a tombstone, never live).
#[tokio::test]
async fn purge_in_progress_survives_compaction_and_restart() {
    let mut h = small().await;
    let q = h.create("p.fifo", &[("FifoQueue", "true")]).await;
    let scratch = h.create("scratch", &[]).await;
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    for _ in 0..3 {
        churn(&h, &scratch).await;
    }
    h.restart().await;
    assert!(matches!(
        h.engine.purge_queue(&h.caller, &q).await,
        Err(EngineError::PurgeQueueInProgress(_))
    ));
    h.advance_s(60);
    h.engine.purge_queue(&h.caller, &q).await.unwrap();
    // The internal attribute stays internal.
    let all = h
        .engine
        .get_queue_attributes(&h.caller, &q, &["All".to_string()])
        .await
        .unwrap();
    assert!(all.keys().all(|k| !k.starts_with("__")), "{all:?}");
}

fn redrive(dlq_arn: &str, max: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":{max}}}"#)
}

/// Dead-letters one message (one receive allowed); returns its id.
async fn dead_letter(h: &Harness, src: &QueueRef, fifo: bool) -> String {
    let sent = if fifo {
        h.send_fifo(src, &small_body("poison"), "g", "dedup-poison")
            .await
    } else {
        h.send(src, &small_body("poison")).await
    };
    assert_eq!(h.receive(src, 1).await.len(), 1);
    h.advance_s(1);
    assert!(h.receive(src, 1).await.is_empty(), "moved instead");
    sent.message_id
}

async fn dead_letter_then_compact_and_restart(fifo: bool) {
    let mut h = small().await;
    let suffix = if fifo { ".fifo" } else { "" };
    let fifo_attr: &[(&str, &str)] = if fifo { &[("FifoQueue", "true")] } else { &[] };
    let dlq = h.create(&format!("dlq{suffix}"), fifo_attr).await;
    let arn = h.engine.queue_arn(&dlq);
    let policy = redrive(&arn, 1);
    let mut attrs = vec![
        ("VisibilityTimeout", "1"),
        ("RedrivePolicy", policy.as_str()),
    ];
    attrs.extend_from_slice(fifo_attr);
    let src = h.create(&format!("src{suffix}"), &attrs).await;
    let scratch = h.create("scratch", &[]).await;
    let sent = if fifo {
        h.send_fifo(&src, &small_body("poison"), "g", "dedup-poison")
            .await
    } else {
        h.send(&src, &small_body("poison")).await
    };
    let id = sent.message_id;
    assert_eq!(h.receive(&src, 1).await.len(), 1);
    // Relocate it (receive state folded in), then rotate so the move lands
    // in another segment than the copy.
    churn(&h, &scratch).await;
    churn(&h, &scratch).await;
    for i in 0..3 {
        h.send(&scratch, &big(&format!("rotate{i}"))).await;
    }
    h.advance_s(1);
    assert!(h.receive(&src, 1).await.is_empty(), "moved instead");
    for _ in 0..3 {
        churn(&h, &scratch).await;
    }
    for _ in 0..2 {
        h.restart().await;
        assert_eq!(h.counts(&src).await, (0, 0, 0), "not back in the source");
        assert_eq!(h.counts(&dlq).await, (1, 0, 0), "in the DLQ once");
        churn(&h, &scratch).await;
    }
    let moved = h.receive(&dlq, 10).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].message_id, id);
    assert!(moved[0].body.starts_with("poison"));
    h.delete(&dlq, &moved[0].receipt_handle).await;
    for _ in 0..3 {
        churn(&h, &scratch).await;
    }
    for _ in 0..2 {
        h.restart().await;
        assert_eq!(
            h.counts(&src).await,
            (0, 0, 0),
            "deleted: not in the source"
        );
        assert_eq!(h.counts(&dlq).await, (0, 0, 0), "deleted: not in the DLQ");
        churn(&h, &scratch).await;
    }
}

#[tokio::test]
async fn dead_lettered_message_survives_compaction_and_restarts() {
    dead_letter_then_compact_and_restart(false).await;
}

/// FIFO: the source record is held for deduplication after the move, so the
/// `MessageMoved` must outlive it (else the message reappears in the source).
#[tokio::test]
async fn fifo_dead_lettered_message_survives_compaction_and_restarts() {
    dead_letter_then_compact_and_restart(true).await;
}

/// A move task's progress records are relocated by compaction and the task
/// resumes after restarts: every message ends up in the source exactly once.
#[tokio::test]
async fn move_task_progress_survives_relocation_and_restarts() {
    let mut h = small().await;
    let dlq = h.create("dlq", &[]).await;
    let dlq_arn = h.engine.queue_arn(&dlq);
    let policy = redrive(&dlq_arn, 1);
    let src = h
        .create(
            "src",
            &[
                ("VisibilityTimeout", "1"),
                ("RedrivePolicy", policy.as_str()),
            ],
        )
        .await;
    let scratch = h.create("scratch", &[]).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(dead_letter(&h, &src, false).await);
    }
    assert_eq!(h.counts(&dlq).await, (6, 0, 0));
    h.engine
        .start_message_move_task(&h.caller, &dlq_arn, None, Some(1))
        .await
        .unwrap();
    for round in 0..3 {
        h.advance_s(1);
        churn(&h, &scratch).await; // one move per tick at 1/s, plus relocation
        h.restart().await;
        let listed = h
            .engine
            .list_message_move_tasks(&h.caller, &dlq_arn, None)
            .await
            .unwrap();
        let moved = listed[0].approximate_number_of_messages_moved;
        assert!(moved > round, "progress kept: {listed:?}");
        assert_eq!(listed[0].approximate_number_of_messages_to_move, Some(6));
        let (s, d) = (h.counts(&src).await, h.counts(&dlq).await);
        assert_eq!(s.0 + s.1 + d.0 + d.1, 6, "no message lost or doubled");
        assert_eq!(s.0, moved, "moved count matches the source");
    }
    for _ in 0..10 {
        h.advance_s(1);
        h.engine.tick().await.unwrap();
    }
    h.restart().await;
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, None)
        .await
        .unwrap();
    assert_eq!(listed[0].status, "COMPLETED");
    assert_eq!(listed[0].approximate_number_of_messages_moved, 6);
    let mut back: Vec<String> = h
        .receive(&src, 10)
        .await
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    back.sort();
    ids.sort();
    assert_eq!(back, ids);
    assert_eq!(h.counts(&dlq).await, (0, 0, 0));
}

/// ChangeMessageVisibility releases the message's `MessageReceived`: the
/// record that replaces it must keep the receive count, first-receive time
/// and delivery epoch once the released record's segment is reclaimed.
#[tokio::test]
async fn receive_state_survives_visibility_change_and_reclamation() {
    // No compaction (it would fold the state into a new copy): only
    // segments with nothing live are reclaimed.
    let mut h = Harness::with_storage(StorageConfig {
        durability: Durability::Never,
        segment_size_bytes: 4096,
        compaction_live_ratio: 0.0,
        ..Default::default()
    })
    .await;
    let q = h.create("q", &[]).await;
    let keep = h.create("keep", &[]).await;
    let scratch = h.create("scratch", &[]).await;
    // The message's segment stays (mostly live), so it is not compacted.
    h.send(&q, &small_body("m")).await;
    h.send(&keep, &big("k1")).await;
    h.send(&keep, &big("k2")).await;
    for i in 0..3 {
        h.send(&scratch, &big(&format!("r{i}"))).await;
    }
    let got = h.receive(&q, 1).await.remove(0);
    for i in 3..6 {
        h.send(&scratch, &big(&format!("r{i}"))).await;
    }
    h.engine
        .change_message_visibility(&h.caller, &q, &got.receipt_handle, 300)
        .await
        .unwrap();
    churn(&h, &scratch).await;
    churn(&h, &scratch).await;
    for _ in 0..2 {
        h.restart().await;
        assert_eq!(
            h.counts(&q).await,
            (0, 1, 0),
            "still in flight, not delayed"
        );
    }
    // The handle of the current delivery still works after the restarts.
    h.engine
        .change_message_visibility(&h.caller, &q, &got.receipt_handle, 0)
        .await
        .unwrap();
    let again = h.receive(&q, 1).await;
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(
        again[0].attributes["ApproximateFirstReceiveTimestamp"],
        got.attributes["ApproximateFirstReceiveTimestamp"]
    );
}
