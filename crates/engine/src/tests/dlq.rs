//! Dead-letter queues, redrive policies and move tasks.

use super::*;

fn redrive(dlq_arn: &str, max: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":{max}}}"#)
}

/// E6: the receive that would exceed maxReceiveCount moves the message atomically.
#[tokio::test]
async fn moves_at_exactly_max_receive_count() {
    let h = Harness::new().await;
    let dlq = h.create("dlq", &[]).await;
    let arn = h.engine.queue_arn(&dlq);
    let src = h
        .create(
            "src",
            &[
                ("VisibilityTimeout", "1"),
                ("RedrivePolicy", &redrive(&arn, 2)),
            ],
        )
        .await;
    let sent = h.send(&src, "poison").await;
    for n in 1..=2 {
        let got = h.receive(&src, 1).await;
        assert_eq!(got.len(), 1, "receive {n}");
        h.advance_s(1);
    }
    assert!(
        h.receive(&src, 1).await.is_empty(),
        "third receive moves instead"
    );
    assert_eq!(h.counts(&src).await, (0, 0, 0));
    let moved = h.receive(&dlq, 1).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].message_id, sent.message_id);
    assert_eq!(moved[0].body, "poison");
    assert_eq!(moved[0].attributes["SentTimestamp"], T0.to_string());
    assert_eq!(
        moved[0].attributes["DeadLetterQueueSourceArn"],
        h.engine.queue_arn(&src)
    );
    let sources = h
        .engine
        .list_dead_letter_source_queues(&h.caller, &dlq, None, None)
        .await
        .unwrap();
    assert_eq!(sources.items, vec![src.clone()]);
    let g = h.engine.queue_gauges().await.unwrap();
    assert_eq!(
        g.iter()
            .find(|g| g.queue == src)
            .unwrap()
            .dead_lettered_total,
        1
    );
}

#[tokio::test]
async fn redrive_policy_validation() {
    let h = Harness::new().await;
    let std_dlq = h.create("std-dlq", &[]).await;
    let fifo_dlq = h.create("f-dlq.fifo", &[("FifoQueue", "true")]).await;
    let src = h.create("src", &[]).await;
    let set = |value: String| {
        let engine = h.engine.clone();
        let (caller, q) = (h.caller.clone(), src.clone());
        async move {
            engine
                .set_queue_attributes(&caller, &q, [("RedrivePolicy".to_string(), value)].into())
                .await
        }
    };
    assert!(
        set(redrive("arn:aws:sqs:us-east-1:000000000000:missing", 1))
            .await
            .is_err()
    );
    assert!(
        set(redrive(&h.engine.queue_arn(&fifo_dlq), 1))
            .await
            .is_err(),
        "standard → FIFO refused"
    );
    assert!(set(redrive(&h.engine.queue_arn(&std_dlq), 0))
        .await
        .is_err());
    assert!(set(redrive(&h.engine.queue_arn(&std_dlq), 1001))
        .await
        .is_err());
    assert!(set(format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"5"}}"#,
        h.engine.queue_arn(&std_dlq)
    ))
    .await
    .is_ok());
    assert_eq!(
        h.attribute(&src, "RedrivePolicy").await,
        redrive(&h.engine.queue_arn(&std_dlq), 5)
    );
    // RedriveAllowPolicy on the target.
    let deny = h
        .create(
            "deny-dlq",
            &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
        )
        .await;
    assert!(set(redrive(&h.engine.queue_arn(&deny), 1)).await.is_err());
    let allow_other = format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{}"]}}"#,
        h.engine.queue_arn(&std_dlq)
    );
    let by_queue = h
        .create("byq-dlq", &[("RedriveAllowPolicy", &allow_other)])
        .await;
    assert!(set(redrive(&h.engine.queue_arn(&by_queue), 1))
        .await
        .is_err());
    let allow_src = format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{}"]}}"#,
        h.engine.queue_arn(&src)
    );
    let ok_dlq = h
        .create("ok-dlq", &[("RedriveAllowPolicy", &allow_src)])
        .await;
    assert!(set(redrive(&h.engine.queue_arn(&ok_dlq), 1)).await.is_ok());
    // Removing the policy.
    assert!(set(String::new()).await.is_ok());
    assert_eq!(h.attribute(&src, "RedrivePolicy").await, "");
}

async fn dead_letter_three(h: &Harness) -> (QueueRef, QueueRef) {
    let dlq = h.create("dlq", &[]).await;
    let src = h
        .create(
            "src",
            &[
                ("VisibilityTimeout", "0"),
                ("RedrivePolicy", &redrive(&h.engine.queue_arn(&dlq), 1)),
            ],
        )
        .await;
    for i in 0..3 {
        h.send(&src, &format!("m{i}")).await;
    }
    for _ in 0..2 {
        h.receive(&src, 10).await;
    }
    assert_eq!(h.counts(&dlq).await.0, 3);
    (src, dlq)
}

#[tokio::test]
async fn move_task_returns_messages_to_their_source() {
    let h = Harness::new().await;
    let (src, dlq) = dead_letter_three(&h).await;
    let dlq_arn = h.engine.queue_arn(&dlq);
    let err = h
        .engine
        .start_message_move_task(&h.caller, &h.engine.queue_arn(&src), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InvalidParameterValue(_)),
        "source must be a DLQ: {err:?}"
    );
    assert!(matches!(
        h.engine
            .start_message_move_task(
                &h.caller,
                "arn:aws:sqs:us-east-1:000000000000:nope",
                None,
                None
            )
            .await,
        Err(EngineError::ResourceNotFound(_))
    ));
    assert!(h
        .engine
        .start_message_move_task(&h.caller, &dlq_arn, None, Some(501))
        .await
        .is_err());
    let handle = h
        .engine
        .start_message_move_task(&h.caller, &dlq_arn, None, Some(100))
        .await
        .unwrap();
    let second = h
        .engine
        .start_message_move_task(&h.caller, &dlq_arn, None, None)
        .await;
    assert!(
        matches!(second, Err(EngineError::InvalidParameterValue(ref m))
            if m.ends_with("Only one active task is allowed for a source queue arn at a given time.")),
        "{second:?}"
    );
    // The handle is SQS's: base64 of {"taskId": <uuid>, "sourceArn": <arn>}.
    let decoded: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &handle).unwrap(),
    )
    .unwrap();
    assert_eq!(decoded["sourceArn"], dlq_arn.as_str());
    assert!(uuid::Uuid::parse_str(decoded["taskId"].as_str().unwrap()).is_ok());
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, None)
        .await
        .unwrap();
    assert_eq!(listed[0].status, "RUNNING");
    assert_eq!(listed[0].task_handle.as_deref(), Some(handle.as_str()));
    assert_eq!(listed[0].approximate_number_of_messages_to_move, Some(3));
    h.advance_s(1);
    h.engine.tick().await.unwrap();
    h.engine.tick().await.unwrap();
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, Some(10))
        .await
        .unwrap();
    assert_eq!(listed[0].status, "COMPLETED");
    assert_eq!(listed[0].approximate_number_of_messages_moved, 3);
    assert_eq!(listed[0].task_handle, None);
    assert_eq!(h.counts(&dlq).await, (0, 0, 0));
    assert_eq!(h.counts(&src).await.0, 3);
    let back = h.receive(&src, 10).await;
    assert_eq!(back[0].attributes["ApproximateReceiveCount"], "1");
    assert!(!back[0].attributes.contains_key("DeadLetterQueueSourceArn"));
}

#[tokio::test]
async fn move_task_honours_rate_and_cancel() {
    let h = Harness::new().await;
    let (_src, dlq) = dead_letter_three(&h).await;
    let dlq_arn = h.engine.queue_arn(&dlq);
    let other = h.create("elsewhere", &[]).await;
    let handle = h
        .engine
        .start_message_move_task(
            &h.caller,
            &dlq_arn,
            Some(&h.engine.queue_arn(&other)),
            Some(1),
        )
        .await
        .unwrap();
    h.engine.tick().await.unwrap();
    assert_eq!(h.counts(&other).await.0, 1, "1 message per second");
    let moved = h
        .engine
        .cancel_message_move_task(&h.caller, &handle)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    h.advance_s(10);
    h.engine.tick().await.unwrap();
    assert_eq!(h.counts(&other).await.0, 1);
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, None)
        .await
        .unwrap();
    assert_eq!(listed[0].status, "CANCELLED");
    assert!(matches!(
        h.engine.cancel_message_move_task(&h.caller, &handle).await,
        Err(EngineError::ResourceNotFound(_))
    ));
    // A handle that does not decode is an invalid parameter; one that
    // decodes but names no task of its source is not found.
    for garbage in ["no-such-task", "e30=", "bm90IGpzb24="] {
        let err = h
            .engine
            .cancel_message_move_task(&h.caller, garbage)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::InvalidParameterValue(ref m) if m == "Value for parameter TaskHandle is invalid."),
            "{garbage}: {err:?}"
        );
    }
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!(
            r#"{{"taskId":"{}","sourceArn":"{dlq_arn}"}}"#,
            uuid::Uuid::new_v4()
        ),
    );
    assert!(matches!(
        h.engine.cancel_message_move_task(&h.caller, &forged).await,
        Err(EngineError::ResourceNotFound(_))
    ));
}

/// A task whose destination queue is deleted fails with SQS's reason, the
/// QueueDoesNotExist error code.
#[tokio::test]
async fn move_task_fails_when_its_destination_is_deleted() {
    let h = Harness::new().await;
    let (_src, dlq) = dead_letter_three(&h).await;
    let dlq_arn = h.engine.queue_arn(&dlq);
    let other = h.create("doomed", &[]).await;
    h.engine
        .start_message_move_task(
            &h.caller,
            &dlq_arn,
            Some(&h.engine.queue_arn(&other)),
            Some(1),
        )
        .await
        .unwrap();
    h.engine.tick().await.unwrap();
    h.engine.delete_queue(&h.caller, &other).await.unwrap();
    h.advance_s(5);
    h.engine.tick().await.unwrap();
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, None)
        .await
        .unwrap();
    assert_eq!(listed[0].status, "FAILED");
    assert_eq!(
        listed[0].failure_reason,
        Some(MoveTaskFailure::QueueDoesNotExist)
    );
    assert_eq!(h.counts(&dlq).await.0, 2, "nothing lost");
}

/// E1: a message that a move task brings back to the queue that delivered it
/// starts a new delivery epoch, so a handle from before the move does nothing.
#[tokio::test]
async fn handles_from_before_a_move_back_do_not_act() {
    let h = Harness::new().await;
    let dlq = h.create("dlq", &[]).await;
    let src = h
        .create(
            "src",
            &[
                ("VisibilityTimeout", "1"),
                ("RedrivePolicy", &redrive(&h.engine.queue_arn(&dlq), 1)),
            ],
        )
        .await;
    h.send(&src, "m").await;
    let before = h.receive(&src, 1).await.remove(0);
    h.advance_s(1);
    assert!(h.receive(&src, 1).await.is_empty(), "moved to the DLQ");
    h.engine
        .start_message_move_task(&h.caller, &h.engine.queue_arn(&dlq), None, None)
        .await
        .unwrap();
    h.engine.tick().await.unwrap();
    assert_eq!(h.counts(&src).await, (1, 0, 0), "back in its source");
    h.delete(&src, &before.receipt_handle).await;
    h.engine
        .change_message_visibility(&h.caller, &src, &before.receipt_handle, 60)
        .await
        .unwrap();
    assert_eq!(
        h.counts(&src).await,
        (1, 0, 0),
        "the old handle did nothing"
    );
}

/// SQS accepts a queue as its own dead-letter queue; Stowage then just
/// delivers its messages again (no move, no deadlock on its own lock).
#[tokio::test]
async fn a_queue_may_be_its_own_dead_letter_queue() {
    let h = Harness::new().await;
    let arn = "arn:aws:sqs:us-east-1:000000000000:selfish";
    let q = h
        .create(
            "selfish",
            &[
                ("VisibilityTimeout", "0"),
                ("RedrivePolicy", &redrive(arn, 1)),
            ],
        )
        .await;
    let other = h.create("other", &[]).await;
    h.set_attributes(
        &other,
        &[("RedrivePolicy", &redrive(&h.engine.queue_arn(&other), 3))],
    )
    .await
    .unwrap();
    h.send(&q, "m").await;
    for n in 1..=3 {
        let got = h.receive(&q, 1).await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].attributes["ApproximateReceiveCount"], n.to_string());
    }
    let sources = h
        .engine
        .list_dead_letter_source_queues(&h.caller, &q, None, None)
        .await
        .unwrap();
    assert_eq!(sources.items, vec![q.clone()]);
}

/// A move task interrupted by a restart resumes; nothing is lost or duplicated.
#[tokio::test]
async fn move_task_resumes_after_restart() {
    let mut h = Harness::new().await;
    let (src, dlq) = dead_letter_three(&h).await;
    let dlq_arn = h.engine.queue_arn(&dlq);
    h.engine
        .start_message_move_task(&h.caller, &dlq_arn, None, Some(1))
        .await
        .unwrap();
    h.engine.tick().await.unwrap();
    assert_eq!(h.counts(&src).await.0, 1);
    h.restart().await;
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, None)
        .await
        .unwrap();
    assert_eq!(listed[0].status, "RUNNING");
    assert_eq!(listed[0].approximate_number_of_messages_moved, 1);
    assert_eq!((h.counts(&src).await.0, h.counts(&dlq).await.0), (1, 2));
    h.advance_s(5);
    h.engine.tick().await.unwrap();
    h.engine.tick().await.unwrap();
    let listed = h
        .engine
        .list_message_move_tasks(&h.caller, &dlq_arn, None)
        .await
        .unwrap();
    assert_eq!(listed[0].status, "COMPLETED");
    assert_eq!((h.counts(&src).await.0, h.counts(&dlq).await.0), (3, 0));
    let bodies: std::collections::BTreeSet<String> = h
        .receive(&src, 10)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies.len(), 3);
}

#[tokio::test]
async fn fifo_dead_letter_to_fifo() {
    let h = Harness::new().await;
    let dlq = h.create("d.fifo", &[("FifoQueue", "true")]).await;
    let src = h
        .create(
            "s.fifo",
            &[
                ("FifoQueue", "true"),
                ("VisibilityTimeout", "0"),
                ("RedrivePolicy", &redrive(&h.engine.queue_arn(&dlq), 1)),
            ],
        )
        .await;
    h.send_fifo(&src, "a", "G", "1").await;
    h.send_fifo(&src, "b", "G", "2").await;
    assert_eq!(h.receive(&src, 1).await[0].body, "a");
    let next = h.receive(&src, 1).await;
    assert_eq!(next[0].body, "b", "a moved to the DLQ, b is next");
    let moved = h.receive(&dlq, 10).await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body, "a");
    assert_eq!(moved[0].attributes["MessageGroupId"], "G");
}

/// E9: two queues that are each other's DLQ, received from concurrently,
/// never deadlock (locks are taken in queue-id order) and never lose or
/// duplicate a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mutual_dead_letter_queues_do_not_deadlock() {
    let h = Harness::new().await;
    let a = h.create("a", &[("VisibilityTimeout", "0")]).await;
    let b = h.create("b", &[("VisibilityTimeout", "0")]).await;
    for (src, dst) in [(&a, &b), (&b, &a)] {
        let policy = redrive(&h.engine.queue_arn(dst), 1);
        h.engine
            .set_queue_attributes(
                &h.caller,
                src,
                [("RedrivePolicy".to_string(), policy)].into(),
            )
            .await
            .unwrap();
    }
    for i in 0..20 {
        h.send(&a, &format!("a{i}")).await;
        h.send(&b, &format!("b{i}")).await;
    }
    let mut tasks = Vec::new();
    for q in [a.clone(), b.clone(), a.clone(), b.clone()] {
        let engine = h.engine.clone();
        let caller = h.caller.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..200 {
                let request = ReceiveRequest {
                    max_number_of_messages: Some(10),
                    ..Default::default()
                };
                engine.receive_message(&caller, &q, request).await.unwrap();
            }
        }));
    }
    for t in tasks {
        tokio::time::timeout(std::time::Duration::from_secs(60), t)
            .await
            .expect("no deadlock")
            .unwrap();
    }
    let (va, fa, da) = h.counts(&a).await;
    let (vb, fb, db) = h.counts(&b).await;
    assert_eq!(
        va + fa + da + vb + fb + db,
        40,
        "every message is in exactly one queue"
    );
}
