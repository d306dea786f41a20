//! Two `PgStore`s ("nodes") on one database.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_receivers_on_two_nodes_never_share_a_delivery() {
    let url = database!();
    let a = Arc::new(open(&url).await);
    let b = Arc::new(open(&url).await);
    let q = create(&a, "shared", &[]).await;
    let total = 300;
    for chunk in 0..total / 10 {
        let batch = (0..10)
            .map(|i| msg(&format!("m{}", chunk * 10 + i)))
            .collect();
        a.send(&q, batch, T0).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..6 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let q = q.clone();
        workers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut empty = 0;
            while empty < 3 {
                // A long visibility timeout: every message is delivered once.
                let batch = receive(&store, &q, &spec(10, 600_000), T0 + 1).await;
                if batch.is_empty() {
                    empty += 1;
                    continue;
                }
                let deliveries: Vec<Delivery> = batch.iter().map(delivery).collect();
                let outcomes = store.delete(&q, &deliveries, true, T0 + 2).await.unwrap();
                assert!(outcomes.iter().all(|o| *o == DeleteOutcome::Deleted));
                got.extend(batch.into_iter().map(|m| m.body));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), total, "every message delivered exactly once");
    assert_eq!(unique.len(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_groups_are_locked_across_nodes_and_handles_work_anywhere() {
    let url = database!();
    let a = open(&url).await;
    let b = open(&url).await;
    let q = create(&a, "lock.fifo", &[("FifoQueue", "true")]).await;
    a.send(
        &q,
        vec![
            fifo_msg("g-1", "g", "1"),
            fifo_msg("g-2", "g", "2"),
            fifo_msg("h-1", "h", "3"),
        ],
        T0,
    )
    .await
    .unwrap();
    let on_a = receive(&a, &q, &spec(1, 30_000), T0).await;
    assert_eq!(bodies(&on_a), ["g-1"]);
    let on_b = receive(&b, &q, &spec(10, 30_000), T0 + 1).await;
    assert_eq!(bodies(&on_b), ["h-1"], "g is locked by node A's delivery");
    // Node A's handle deletes on node B; g unlocks for node B.
    assert_eq!(
        b.delete(&q, &[delivery(&on_a[0])], false, T0 + 2)
            .await
            .unwrap(),
        [DeleteOutcome::Deleted]
    );
    let next = receive(&b, &q, &spec(10, 30_000), T0 + 3).await;
    assert_eq!(bodies(&next), ["g-2"]);
    // And a visibility change made on A applies to B's delivery.
    let change = VisibilityChange {
        delivery: delivery(&next[0]),
        visible_at_ms: T0 + 4,
    };
    assert_eq!(
        a.change_visibility(&q, &[change], 43_200_000, T0 + 4)
            .await
            .unwrap(),
        [VisibilityOutcome::Changed]
    );
    assert_eq!(
        bodies(&receive(&a, &q, &spec(10, 30_000), T0 + 5).await),
        ["g-2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fifo_receivers_keep_group_order() {
    let url = database!();
    let a = Arc::new(open(&url).await);
    let b = Arc::new(open(&url).await);
    let q = create(&a, "order.fifo", &[("FifoQueue", "true")]).await;
    let groups = 4;
    let per_group = 30;
    for i in 0..per_group {
        let batch = (0..groups)
            .map(|g| fifo_msg(&format!("{g}:{i}"), &format!("g{g}"), &format!("{g}-{i}")))
            .collect();
        a.send(&q, batch, T0).await.unwrap();
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        let (q, seen) = (q.clone(), seen.clone());
        workers.push(tokio::spawn(async move {
            let mut empty = 0;
            while empty < 5 {
                let batch = receive(&store, &q, &spec(3, 600_000), T0 + 1).await;
                if batch.is_empty() {
                    empty += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                empty = 0;
                // Record before deleting: the group is locked until the delete.
                seen.lock()
                    .unwrap()
                    .extend(batch.iter().map(|m| m.body.clone()));
                let deliveries: Vec<Delivery> = batch.iter().map(delivery).collect();
                let outcomes = store.delete(&q, &deliveries, false, T0 + 2).await.unwrap();
                assert!(outcomes.iter().all(|o| *o == DeleteOutcome::Deleted));
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), groups * per_group);
    for g in 0..groups {
        let order: Vec<usize> = seen
            .iter()
            .filter_map(|b| b.strip_prefix(&format!("{g}:")))
            .map(|i| i.parse().unwrap())
            .collect();
        assert_eq!(
            order,
            (0..per_group).collect::<Vec<_>>(),
            "group {g} in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_on_one_node_wakes_long_polls_on_the_other() {
    let url = database!();
    let a = open(&url).await;
    let b = open(&url).await;
    let q = create(&a, "wake", &[]).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    b.set_waker(Arc::new(move |queue| {
        let _ = tx.send(queue);
    }));
    // B's listener may still be connecting: send until B hears of it.
    let heard = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            a.send(&q, vec![msg("ping")], T0).await.unwrap();
            if let Ok(Some(queue)) =
                tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
            {
                return queue;
            }
        }
    })
    .await
    .expect("node B is woken by node A's send");
    assert_eq!(heard, q.queue_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_task_steps_and_sweeps_run_once_across_nodes() {
    let url = database!();
    let a = Arc::new(open(&url).await);
    let b = Arc::new(open(&url).await);
    let dlq = create(&a, "dlq", &[]).await;
    let dst = create(&a, "dst", &[]).await;
    let total = 120;
    for chunk in 0..total / 10 {
        let batch = (0..10)
            .map(|i| msg(&format!("m{}", chunk * 10 + i)))
            .collect();
        a.send(&dlq, batch, T0).await.unwrap();
    }
    let task = MoveTask {
        task_id: "task".into(),
        source_arn: dlq.arn.clone(),
        destination_arn: Some(dst.arn.clone()),
        max_messages_per_second: None,
        status: MoveTaskStatus::Running,
        moved: 0,
        to_move: total as u64,
        failure_reason: None,
        started_ms: T0,
    };
    assert!(a.start_move_task(task.clone()).await.unwrap());
    assert!(!b
        .start_move_task(MoveTask {
            task_id: "other".into(),
            ..task
        })
        .await
        .unwrap());
    // Both nodes step the same task at once, as a lost lease would let them.
    let mut steppers = Vec::new();
    for store in [a.clone(), b.clone(), a.clone(), b.clone()] {
        let (dlq, dst) = (dlq.clone(), dst.clone());
        steppers.push(tokio::spawn(async move {
            let mut moved = 0;
            loop {
                let step = store
                    .move_messages(
                        "task",
                        &dlq,
                        &MoveDestination::Queue(dst.clone()),
                        7,
                        T0 + 1,
                    )
                    .await
                    .unwrap();
                moved += step.moved;
                if step.source_drained {
                    return moved;
                }
            }
        }));
    }
    let mut moved = 0;
    for s in steppers {
        moved += s.await.unwrap();
    }
    assert_eq!(moved, total as u64);
    let tasks = a.move_tasks(Some(&dlq.arn)).await.unwrap();
    assert_eq!(
        tasks[0].moved, total as u64,
        "progress counted once per message"
    );
    let landed = a.peek(&dst, None, 1000, T0 + 2).await.unwrap();
    let unique: HashSet<MessageId> = landed.iter().map(|e| e.message.message_id).collect();
    assert_eq!((landed.len(), unique.len()), (total, total));

    // The sweep lease: only one node does the writes.
    assert!(a
        .lease("stowage.sweep", a.node_name(), 600_000, T0)
        .await
        .unwrap());
    let r = create(&a, "ret", &[("MessageRetentionPeriod", "60")]).await;
    a.send(&r, vec![msg("old")], T0).await.unwrap();
    b.sweep(T0 + 61_000).await.unwrap();
    assert_eq!(
        a.peek(&r, None, 10, T0).await.unwrap().len(),
        1,
        "B does not hold the lease"
    );
    a.sweep(T0 + 61_000).await.unwrap();
    assert!(
        a.peek(&r, None, 10, T0).await.unwrap().is_empty(),
        "A swept"
    );
}
