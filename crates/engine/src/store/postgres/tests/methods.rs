//! Every trait method's outcomes on one node.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_definitions_create_update_delete_guard_and_quota() {
    let url = database!();
    let store = open(&url).await;
    let created = match store
        .create_queue(def("a", &[("VisibilityTimeout", "40")]), 60_000, 2)
        .await
        .unwrap()
    {
        CreateOutcome::Created(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(created.version, 1);
    assert_eq!(created.def.attributes["VisibilityTimeout"], "40");
    let id = created.def.queue_id;
    assert!(matches!(
        store.create_queue(def("a", &[]), 60_000, 2).await.unwrap(),
        CreateOutcome::Exists(r) if r == created
    ));
    assert_eq!(
        store.queue(ACCOUNT, "a").await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.queue_by_id(id).await.unwrap(), Some(created.clone()));
    create(&store, "b", &[]).await;
    // Quota: two queues in this account.
    assert_eq!(
        store.create_queue(def("c", &[]), 60_000, 2).await.unwrap(),
        CreateOutcome::QuotaReached
    );
    // Another account is not affected.
    let mut other = def("c", &[]);
    other.account = "111111111111".into();
    assert!(matches!(
        store.create_queue(other, 60_000, 2).await.unwrap(),
        CreateOutcome::Created(_)
    ));
    // Listing: per account, by prefix, after a name, limited.
    let names = |v: Vec<QueueRecord>| v.into_iter().map(|r| r.def.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            store
                .list_queues(Some(ACCOUNT), "", None, 10)
                .await
                .unwrap()
        ),
        ["a", "b"]
    );
    assert_eq!(
        names(
            store
                .list_queues(Some(ACCOUNT), "b", None, 10)
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(
            store
                .list_queues(Some(ACCOUNT), "", Some("a"), 10)
                .await
                .unwrap()
        ),
        ["b"]
    );
    assert_eq!(
        names(store.list_queues(None, "", None, 10).await.unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        names(store.list_queues(None, "", None, 1).await.unwrap()),
        ["a"]
    );
    // Compare-and-set updates.
    let mut changed = created.def.clone();
    changed.attributes.insert("DelaySeconds".into(), "5".into());
    changed.last_modified_ms = T0 + 5;
    let updated = match store.update_queue(changed.clone(), 1).await.unwrap() {
        UpdateOutcome::Updated(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(updated.version, 2);
    assert_eq!(updated.def.attributes["DelaySeconds"], "5");
    assert_eq!(
        store.update_queue(changed.clone(), 1).await.unwrap(),
        UpdateOutcome::Conflict(updated.clone())
    );
    // Delete, the recently-deleted guard, and the quota freed.
    assert!(store.delete_queue(id, T0 + 1_000).await.unwrap());
    assert!(!store.delete_queue(id, T0 + 1_000).await.unwrap());
    assert_eq!(store.queue(ACCOUNT, "a").await.unwrap(), None);
    assert_eq!(
        store.update_queue(changed, 2).await.unwrap(),
        UpdateOutcome::Gone
    );
    let mut again = def("a", &[]);
    again.created_ms = T0 + 30_000;
    assert_eq!(
        store.create_queue(again.clone(), 60_000, 2).await.unwrap(),
        CreateOutcome::DeletedRecently
    );
    again.created_ms = T0 + 61_000;
    let recreated = match store.create_queue(again, 60_000, 2).await.unwrap() {
        CreateOutcome::Created(r) => r,
        other => panic!("{other:?}"),
    };
    assert_ne!(recreated.def.queue_id, id, "queue ids are never reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_send_receive_delete_and_epochs() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "std", &[]).await;
    let mut delayed = msg("delayed");
    delayed.delay_ms = 5_000;
    let sent = store
        .send(&q, vec![msg("one"), msg("two"), delayed], T0)
        .await
        .unwrap();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|o| matches!(o, SendOutcome::Stored { .. })));
    let counts = store.counts(&q, T0).await.unwrap();
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (2, 0, 1)
    );
    assert_eq!(counts.oldest_sent_ms, Some(T0));
    assert_eq!(
        store.next_visible_at(&q, T0).await.unwrap(),
        Some(T0 + 5_000)
    );

    let got = receive(&store, &q, &spec(10, 30_000), T0 + 1).await;
    assert_eq!(bodies(&got), ["one", "two"]);
    for m in &got {
        assert_eq!((m.epoch, m.receive_count), (1, 1));
        assert_eq!(
            (m.first_receive_ms, m.received_at_ms, m.visible_at_ms),
            (T0 + 1, T0 + 1, T0 + 30_001)
        );
        assert_eq!(m.sequence_number, None);
    }
    assert!(receive(&store, &q, &spec(10, 30_000), T0 + 2)
        .await
        .is_empty());
    let counts = store.counts(&q, T0 + 2).await.unwrap();
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (0, 2, 1)
    );

    // Vesting order: the delayed message (visible since T0 + 5 s) comes
    // before the two whose timeout passed at T0 + 30 s; they come again
    // with epoch 2.
    let late = receive(&store, &q, &spec(2, 30_000), T0 + 40_000).await;
    assert_eq!(bodies(&late), ["delayed", "one"]);
    let again = late[1..].to_vec();
    assert_eq!(
        (
            again[0].epoch,
            again[0].receive_count,
            again[0].first_receive_ms
        ),
        (2, 2, T0 + 1)
    );
    let late = receive(&store, &q, &spec(10, 30_000), T0 + 40_000).await;
    assert_eq!(bodies(&late), ["two"]);

    let outcomes = store
        .delete(
            &q,
            &[delivery(&got[0]), delivery(&again[0]), delivery(&again[0])],
            true,
            T0 + 40_001,
        )
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            DeleteOutcome::Superseded,
            DeleteOutcome::Deleted,
            DeleteOutcome::Deleted
        ]
    );
    assert_eq!(
        store
            .delete(&q, &[delivery(&again[0])], true, T0 + 40_002)
            .await
            .unwrap(),
        [DeleteOutcome::Gone]
    );
    // Expired handles: refused without allow_expired, accepted with it.
    let two = &late[0];
    let delayed = store.peek(&q, None, 10, T0 + 80_000).await.unwrap();
    let delayed = delayed
        .iter()
        .find(|e| e.message.body == "delayed")
        .unwrap();
    assert_eq!(
        store
            .delete(&q, &[delivery(two)], false, T0 + 80_000)
            .await
            .unwrap(),
        [DeleteOutcome::Expired]
    );
    assert_eq!(
        store
            .delete(&q, &[delivery(two)], true, T0 + 80_000)
            .await
            .unwrap(),
        [DeleteOutcome::Deleted]
    );
    assert!(store
        .delete_by_id(&q, delayed.message.message_id, T0 + 80_000)
        .await
        .unwrap());
    assert!(!store
        .delete_by_id(&q, delayed.message.message_id, T0 + 80_000)
        .await
        .unwrap());
    assert_eq!(
        store.counts(&q, T0 + 80_000).await.unwrap(),
        QueueCounts::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_changes_and_their_outcomes() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "vis", &[]).await;
    let woken = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let w = woken.clone();
    store.set_waker(std::sync::Arc::new(move |_| {
        w.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    store
        .send(&q, vec![msg("a"), msg("never")], T0)
        .await
        .unwrap();
    let got = receive(&store, &q, &spec(1, 30_000), T0).await;
    let d = delivery(&got[0]);
    let cap = 43_200_000;
    let change = |delivery, visible_at_ms| VisibilityChange {
        delivery,
        visible_at_ms,
    };
    assert_eq!(
        store
            .change_visibility(&q, &[change(d, T0 + 60_000)], cap, T0 + 1)
            .await
            .unwrap(),
        [VisibilityOutcome::Changed]
    );
    assert!(receive(&store, &q, &spec(10, 1_000), T0 + 40_000)
        .await
        .iter()
        .all(|m| m.body == "never"));
    assert_eq!(
        store
            .change_visibility(&q, &[change(d, T0 + cap + 1)], cap, T0 + 2)
            .await
            .unwrap(),
        [VisibilityOutcome::CapExceeded]
    );
    // After its timeout passed (and no new receive), a change still applies.
    assert_eq!(
        store
            .change_visibility(&q, &[change(d, T0 + 70_000)], cap, T0 + 65_000)
            .await
            .unwrap(),
        [VisibilityOutcome::Changed]
    );
    // Visibility 0: visible at once, and long polls are woken.
    let before = woken.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        store
            .change_visibility(&q, &[change(d, T0 + 66_000)], cap, T0 + 66_000)
            .await
            .unwrap(),
        [VisibilityOutcome::Changed]
    );
    assert!(woken.load(std::sync::atomic::Ordering::SeqCst) > before);
    let again = receive(&store, &q, &spec(10, 30_000), T0 + 66_000).await;
    assert!(again.iter().any(|m| m.body == "a"));
    let stale = store
        .change_visibility(&q, &[change(d, T0 + 70_000)], cap, T0 + 66_001)
        .await
        .unwrap();
    assert_eq!(stale, [VisibilityOutcome::Superseded]);
    // A message never received has no delivery to change.
    let sent = store
        .send(&q, vec![msg("fresh")], T0 + 66_002)
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    let fresh = store.peek(&q, None, 10, T0 + 66_002).await.unwrap();
    let fresh = fresh.iter().find(|e| e.message.body == "fresh").unwrap();
    let never = Delivery {
        message_id: fresh.message.message_id,
        epoch: 0,
    };
    assert_eq!(
        store
            .change_visibility(&q, &[change(never, T0 + 70_000)], cap, T0 + 66_003)
            .await
            .unwrap(),
        [VisibilityOutcome::NotInFlight]
    );
    let gone = Delivery {
        message_id: [9; 16],
        epoch: 1,
    };
    assert_eq!(
        store
            .change_visibility(&q, &[change(gone, T0 + 70_000)], cap, T0 + 66_003)
            .await
            .unwrap(),
        [VisibilityOutcome::Gone]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_sequences_dedup_and_group_order() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "f.fifo", &[("FifoQueue", "true")]).await;
    let batch = vec![
        fifo_msg("g1-a", "g1", "d1"),
        fifo_msg("g1-b", "g1", "d2"),
        fifo_msg("dup-in-batch", "g1", "d1"),
        fifo_msg("g2-a", "g2", "d3"),
    ];
    let first_id = batch[0].message_id;
    let out = store.send(&q, batch, T0).await.unwrap();
    let seq = |o: &SendOutcome| match *o {
        SendOutcome::Stored { sequence } | SendOutcome::Duplicate { sequence, .. } => sequence,
    };
    assert!(matches!(out[0], SendOutcome::Stored { .. }));
    assert!(seq(&out[0]) < seq(&out[1]) && seq(&out[1]) < seq(&out[3]));
    assert_eq!(
        out[2],
        SendOutcome::Duplicate {
            message_id: first_id,
            sequence: seq(&out[0])
        }
    );
    assert!(
        seq(&out[0]) >= u128::from(T0) << 20,
        "sequence numbers follow time"
    );
    // A later duplicate inside the window answers the original.
    let dup = store
        .send(&q, vec![fifo_msg("again", "g9", "d1")], T0 + 1_000)
        .await
        .unwrap();
    assert_eq!(
        dup,
        [SendOutcome::Duplicate {
            message_id: first_id,
            sequence: seq(&out[0])
        }]
    );
    // Sequence numbers keep increasing even when the clock goes back.
    let later = store
        .send(&q, vec![fifo_msg("g3-a", "g3", "d4")], T0 - 10_000)
        .await
        .unwrap();
    assert!(seq(&later[0]) > seq(&out[3]));

    // Group order: g1's head is delivered with its successor; g1 is then locked.
    let got = receive(&store, &q, &spec(2, 30_000), T0 + 1).await;
    assert_eq!(bodies(&got), ["g1-a", "g1-b"]);
    assert_eq!(got[0].sequence_number, Some(seq(&out[0])));
    let next = receive(&store, &q, &spec(10, 30_000), T0 + 2).await;
    assert_eq!(bodies(&next), ["g2-a", "g3-a"]);
    assert!(receive(&store, &q, &spec(10, 30_000), T0 + 3)
        .await
        .is_empty());
    // Deleting g1's messages unblocks nothing more (g1 is empty), and the
    // deduplication id outlives the delete.
    let deleted = store
        .delete(&q, &[delivery(&got[0]), delivery(&got[1])], false, T0 + 4)
        .await
        .unwrap();
    assert_eq!(deleted, [DeleteOutcome::Deleted, DeleteOutcome::Deleted]);
    let dup = store
        .send(&q, vec![fifo_msg("after-delete", "g1", "d1")], T0 + 5)
        .await
        .unwrap();
    assert!(matches!(dup[0], SendOutcome::Duplicate { .. }));
    // After the window (5 minutes) the id is new again.
    let fresh = store
        .send(&q, vec![fifo_msg("new-window", "g1", "d1")], T0 + 300_001)
        .await
        .unwrap();
    assert!(matches!(fresh[0], SendOutcome::Stored { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_group_blocks_behind_in_flight_but_not_behind_delayed() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "g.fifo", &[("FifoQueue", "true")]).await;
    let mut delayed = fifo_msg("delayed-head", "g", "0");
    delayed.delay_ms = 10_000;
    store
        .send(
            &q,
            vec![delayed, fifo_msg("m1", "g", "1"), fifo_msg("m2", "g", "2")],
            T0,
        )
        .await
        .unwrap();
    let got = receive(&store, &q, &spec(1, 30_000), T0).await;
    assert_eq!(
        bodies(&got),
        ["m1"],
        "a delayed message does not block its group"
    );
    assert!(
        receive(&store, &q, &spec(10, 30_000), T0 + 1)
            .await
            .is_empty(),
        "m1 in flight locks g"
    );
    // m1's timeout passed and the delayed head is visible: group order.
    let again = receive(&store, &q, &spec(10, 30_000), T0 + 31_000).await;
    assert_eq!(bodies(&again), ["delayed-head", "m1", "m2"]);
    // FIFO refuses an expired handle; an older delivery is superseded.
    assert_eq!(
        store
            .delete(
                &q,
                &[delivery(&again[1]), delivery(&got[0])],
                false,
                T0 + 62_000
            )
            .await
            .unwrap(),
        [DeleteOutcome::Expired, DeleteOutcome::Superseded]
    );
    // Dedup scope per group: the same id in two groups is two messages.
    let p = create(
        &store,
        "p.fifo",
        &[
            ("FifoQueue", "true"),
            ("DeduplicationScope", "messageGroup"),
        ],
    )
    .await;
    let out = store
        .send(
            &p,
            vec![fifo_msg("x", "a", "same"), fifo_msg("y", "b", "same")],
            T0,
        )
        .await
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, SendOutcome::Stored { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_moves_happen_in_the_receive() {
    let url = database!();
    let store = open(&url).await;
    for fifo in [false, true] {
        let suffix = if fifo { ".fifo" } else { "" };
        let attrs: &[(&str, &str)] = if fifo { &[("FifoQueue", "true")] } else { &[] };
        let dlq = create(&store, &format!("dlq{suffix}"), attrs).await;
        let src = create(&store, &format!("src{suffix}"), attrs).await;
        let mut s = spec(10, 1_000);
        s.redrive = Some(RedriveSpec {
            dlq: dlq.clone(),
            max_receive_count: 2,
        });
        let m = if fifo {
            fifo_msg("poison", "g", "p")
        } else {
            msg("poison")
        };
        let id = m.message_id;
        store.send(&src, vec![m], T0).await.unwrap();
        assert_eq!(receive(&store, &src, &s, T0).await.len(), 1);
        assert_eq!(receive(&store, &src, &s, T0 + 2_000).await.len(), 1);
        match store.receive(&src, &s, T0 + 4_000).await.unwrap() {
            ReceiveOutcome::Delivered {
                delivered,
                dead_lettered,
            } => {
                assert!(delivered.is_empty());
                assert_eq!(dead_lettered, 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            store.counts(&src, T0 + 4_000).await.unwrap(),
            QueueCounts::default()
        );
        let moved = receive(&store, &dlq, &spec(10, 1_000), T0 + 4_000).await;
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].message_id, id);
        assert_eq!(
            moved[0].dead_letter_source_arn.as_deref(),
            Some(src.arn.as_str())
        );
        assert_eq!(moved[0].receive_count, 3);
        assert_eq!(moved[0].sent_ms, T0);
        assert_eq!(moved[0].sequence_number.is_some(), fifo);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_attempt_ids_repeat_their_answer_until_purge() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "r.fifo", &[("FifoQueue", "true")]).await;
    store
        .send(
            &q,
            vec![fifo_msg("a", "g", "1"), fifo_msg("b", "h", "2")],
            T0,
        )
        .await
        .unwrap();
    let mut s = spec(1, 30_000);
    s.attempt_id = Some("attempt-1".into());
    let first = receive(&store, &q, &s, T0).await;
    assert_eq!(first.len(), 1);
    let repeat = receive(&store, &q, &s, T0 + 1_000).await;
    assert_eq!(repeat, first, "same messages, same deliveries");
    // The purge forgets attempts (and is refused again within a minute).
    assert_eq!(
        store.purge(&q, 60_000, T0 + 2_000).await.unwrap(),
        PurgeOutcome::Purged
    );
    assert_eq!(
        store.purge(&q, 60_000, T0 + 3_000).await.unwrap(),
        PurgeOutcome::TooSoon {
            last_purge_ms: T0 + 2_000
        }
    );
    assert!(receive(&store, &q, &s, T0 + 4_000).await.is_empty());
    // Purge also forgot the deduplication ids.
    let out = store
        .send(&q, vec![fifo_msg("a", "g", "1")], T0 + 5_000)
        .await
        .unwrap();
    assert!(matches!(out[0], SendOutcome::Stored { .. }));
    assert_eq!(
        store.purge(&q, 60_000, T0 + 62_001).await.unwrap(),
        PurgeOutcome::Purged
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_sweep_peek_and_fair_tenants() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "ret", &[("MessageRetentionPeriod", "60")]).await;
    store.send(&q, vec![msg("old")], T0).await.unwrap();
    store.send(&q, vec![msg("new")], T0 + 30_000).await.unwrap();
    // Past retention: never returned or counted, then swept.
    let counts = store.counts(&q, T0 + 60_000).await.unwrap();
    assert_eq!(counts.visible, 1);
    let peeked = store.peek(&q, None, 10, T0 + 60_000).await.unwrap();
    assert_eq!(
        peeked
            .iter()
            .map(|e| e.message.body.as_str())
            .collect::<Vec<_>>(),
        ["new"]
    );
    store.sweep(T0 + 60_000).await.unwrap();
    let all = store.peek(&q, None, 10, T0).await.unwrap();
    assert_eq!(all.len(), 1, "the sweep deleted the expired message");
    // Peek pages by order and changes nothing.
    store
        .send(&q, vec![msg("x"), msg("y")], T0 + 30_001)
        .await
        .unwrap();
    let page = store.peek(&q, None, 2, T0 + 30_002).await.unwrap();
    let rest = store
        .peek(&q, Some(page[1].order), 2, T0 + 30_002)
        .await
        .unwrap();
    assert_eq!(page.len() + rest.len(), 3);
    assert!(page[0].order < page[1].order && page[1].order < rest[0].order);
    assert!(page
        .iter()
        .chain(&rest)
        .all(|e| e.message.receive_count == 0));

    // Fair queues: a quiet tenant is served despite a noisy backlog.
    let fair = create(&store, "fair", &[]).await;
    let noisy: Vec<NewMessage> = (0..50)
        .map(|i| NewMessage {
            group_id: Some("noisy".into()),
            ..msg(&format!("noisy-{i}"))
        })
        .collect();
    store.send(&fair, noisy, T0).await.unwrap();
    let quiet = NewMessage {
        group_id: Some("quiet".into()),
        ..msg("quiet")
    };
    store.send(&fair, vec![quiet], T0 + 1).await.unwrap();
    let got = receive(&store, &fair, &spec(2, 30_000), T0 + 2).await;
    assert_eq!(bodies(&got), ["noisy-0", "quiet"]);
    // Rotation goes on across receives.
    let one = receive(&store, &fair, &spec(1, 30_000), T0 + 3).await;
    assert_eq!(one[0].group_id.as_deref(), Some("noisy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_limit() {
    let url = database!();
    let store = open(&url).await;
    let q = create(&store, "lim", &[]).await;
    let f = create(&store, "lim.fifo", &[("FifoQueue", "true")]).await;
    store
        .send(&q, vec![msg("1"), msg("2"), msg("3")], T0)
        .await
        .unwrap();
    store
        .send(
            &f,
            vec![
                fifo_msg("1", "a", "1"),
                fifo_msg("2", "b", "2"),
                fifo_msg("3", "c", "3"),
            ],
            T0,
        )
        .await
        .unwrap();
    let mut s = spec(10, 30_000);
    s.in_flight_limit = 2;
    assert_eq!(receive(&store, &q, &s, T0).await.len(), 2);
    assert_eq!(
        store.receive(&q, &s, T0 + 1).await.unwrap(),
        ReceiveOutcome::OverLimit
    );
    assert_eq!(receive(&store, &f, &s, T0).await.len(), 2);
    assert!(receive(&store, &f, &s, T0 + 1).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_tasks_and_leases() {
    let url = database!();
    let store = open(&url).await;
    let src = create(&store, "src", &[]).await;
    let dlq = create(&store, "dlq", &[]).await;
    let dst = create(&store, "dst", &[]).await;
    let task = |id: &str, started_ms| MoveTask {
        task_id: id.into(),
        source_arn: dlq.arn.clone(),
        destination_arn: None,
        max_messages_per_second: Some(10),
        status: MoveTaskStatus::Running,
        moved: 0,
        to_move: 3,
        failure_reason: None,
        started_ms,
    };
    assert!(store.start_move_task(task("t1", T0)).await.unwrap());
    assert!(
        !store.start_move_task(task("t2", T0 + 1)).await.unwrap(),
        "one running task per source"
    );
    // Three messages dead-lettered from `src`, one moved by hand to `dst`'s ARN.
    let mut s = spec(10, 0);
    s.redrive = Some(RedriveSpec {
        dlq: dlq.clone(),
        max_receive_count: 1,
    });
    store
        .send(&src, vec![msg("a"), msg("b"), msg("c")], T0)
        .await
        .unwrap();
    assert_eq!(receive(&store, &src, &s, T0).await.len(), 3);
    match store.receive(&src, &s, T0 + 1).await.unwrap() {
        ReceiveOutcome::Delivered { dead_lettered, .. } => assert_eq!(dead_lettered, 3),
        other => panic!("{other:?}"),
    }
    // Back to the original source, two at a time.
    let step = store
        .move_messages("t1", &dlq, &MoveDestination::OriginalSource, 2, T0 + 2)
        .await
        .unwrap();
    assert_eq!(
        (step.moved, step.source_drained, step.failure.clone()),
        (2, false, None)
    );
    let back = receive(&store, &src, &spec(10, 30_000), T0 + 3).await;
    assert_eq!(back.len(), 2);
    assert!(back
        .iter()
        .all(|m| m.receive_count == 1 && m.dead_letter_source_arn.is_none()));
    // To a named queue.
    let step = store
        .move_messages("t1", &dlq, &MoveDestination::Queue(dst.clone()), 10, T0 + 4)
        .await
        .unwrap();
    assert_eq!(step.moved, 1);
    let step = store
        .move_messages("t1", &dlq, &MoveDestination::Queue(dst.clone()), 10, T0 + 5)
        .await
        .unwrap();
    assert!(step.source_drained);
    let tasks = store.move_tasks(Some(&dlq.arn)).await.unwrap();
    assert_eq!(tasks[0].moved, 3);
    // Compare-and-set status changes.
    let mut done = tasks[0].clone();
    done.status = MoveTaskStatus::Completed;
    assert!(store
        .update_move_task(done.clone(), MoveTaskStatus::Running)
        .await
        .unwrap());
    assert!(!store
        .update_move_task(done, MoveTaskStatus::Running)
        .await
        .unwrap());
    // A step of a task that is not running does nothing.
    store.send(&dlq, vec![msg("late")], T0 + 6).await.unwrap();
    let step = store
        .move_messages("t1", &dlq, &MoveDestination::Queue(dst.clone()), 10, T0 + 7)
        .await
        .unwrap();
    assert_eq!(step.moved, 0);
    // A missing destination fails the task.
    assert!(store.start_move_task(task("t3", T0 + 8)).await.unwrap());
    store.delete_queue(dst.queue_id, T0 + 8).await.unwrap();
    let step = store
        .move_messages("t3", &dlq, &MoveDestination::Queue(dst.clone()), 10, T0 + 9)
        .await
        .unwrap();
    assert_eq!(
        step.failure.as_deref(),
        Some("AWS.SimpleQueueService.NonExistentQueue")
    );
    assert_eq!(step.moved, 0);
    // At most ten tasks per source are kept.
    for i in 0..12u64 {
        let mut t = task(&format!("x{i}"), T0 + 100 + i);
        t.source_arn = "arn:aws:sqs:us-east-1:000000000000:other".into();
        assert!(store.start_move_task(t.clone()).await.unwrap());
        t.status = MoveTaskStatus::Cancelled;
        assert!(store
            .update_move_task(t, MoveTaskStatus::Running)
            .await
            .unwrap());
    }
    let kept = store
        .move_tasks(Some("arn:aws:sqs:us-east-1:000000000000:other"))
        .await
        .unwrap();
    assert_eq!(kept.len(), 10);
    assert_eq!(kept[0].task_id, "x11", "most recent first");

    // Leases: exclusive until they expire; renewed by their holder.
    assert!(store.lease("l", "a", 1_000, T0).await.unwrap());
    assert!(!store.lease("l", "b", 1_000, T0 + 500).await.unwrap());
    assert!(store.lease("l", "a", 1_000, T0 + 900).await.unwrap());
    assert!(!store.lease("l", "b", 1_000, T0 + 1_800).await.unwrap());
    assert!(store.lease("l", "b", 1_000, T0 + 1_900).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_idempotent_and_refuse_a_newer_schema() {
    let url = database!();
    // Several nodes starting at once on an empty database.
    let (a, b, c) = tokio::join!(open(&url), open(&url), open(&url));
    let versions =
        a.db.query("SELECT version FROM stowage_schema_version", &[])
            .await
            .unwrap();
    assert_eq!(versions.len(), 1);
    drop((b, c));
    a.db.execute("INSERT INTO stowage_schema_version VALUES (999, 0)", &[])
        .await
        .unwrap();
    let config = PgStoreConfig {
        url: url.clone(),
        ..PgStoreConfig::default()
    };
    let error = PgStore::open(config, T0).await.unwrap_err();
    assert!(error.to_string().contains("newer"), "{error}");
}
