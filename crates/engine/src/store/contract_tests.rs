//! The [`QueueStore`] contract as tests every backend must pass: each test
//! is an `async fn(Arc<dyn QueueStore>)` run on a fresh, empty store, and
//! talks to the store only through the trait (time is passed in; nothing
//! waits for a wall clock).
//!
//! [`store_contract_tests!`] turns the whole list into `#[tokio::test]`s for
//! one backend, given an async function that returns a fresh store and a
//! value to keep alive while it runs (a temporary directory, a database),
//! or `None` when the backend is not available (the tests then pass
//! without running):
//!
//! ```ignore
//! mod contract {
//!     async fn fresh() -> Option<(Arc<dyn QueueStore>, tempfile::TempDir)> { … }
//!     crate::store::contract_tests::store_contract_tests!(fresh);
//! }
//! ```
//!
//! The embedded store runs them at the end of this file.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

/// Start of the tests' time: 2026-01-01T00:00:00Z.
pub(crate) const T0: u64 = 1_767_225_600_000;
/// The owner of the test queues.
pub(crate) const ACCOUNT: &str = "000000000000";
/// The 12-hour cap of ChangeMessageVisibility.
const CAP_MS: u64 = 43_200_000;
/// The default retention (4 days).
const RETENTION_DEFAULT_MS: u64 = 345_600_000;

/// Generates one `#[tokio::test]` per contract test for the backend that
/// `$fresh` (an async fn returning `Option<(Arc<dyn QueueStore>,
/// keep_alive)>`) opens.
macro_rules! store_contract_tests {
    ($fresh:path) => {
        $crate::store::contract_tests::store_contract_tests!(@tests $fresh;
            queues_are_created_found_listed_updated_and_deleted,
            standard_messages_are_stored_delivered_and_redelivered,
            a_batch_is_stored_whole,
            delayed_messages_wait_and_next_visible_at_says_until_when,
            deletes_are_conditional_on_the_delivery_epoch,
            visibility_changes_are_conditional_on_the_delivery_epoch,
            fifo_groups_deliver_in_order_and_block_behind_a_delivery,
            fifo_deduplicates_inside_the_window,
            deduplication_per_message_group,
            deduplication_entries_keep_their_scope,
            a_repeated_receive_attempt_returns_the_same_deliveries,
            the_in_flight_limit_stops_receives,
            a_receive_past_max_receive_count_dead_letters,
            purge_forgets_messages_and_deduplication_ids,
            retention_removes_old_messages,
            peek_pages_in_queue_order_and_changes_nothing,
            delete_by_id_deletes_whatever_the_state,
            move_tasks_move_and_record_their_progress,
            move_tasks_return_messages_to_their_source,
            the_waker_is_called_when_messages_become_receivable,
            a_deleted_queue_takes_no_messages,
        );
    };
    (@tests $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some((store, _keep)) = $fresh().await else {
                    return; // the backend is not available here
                };
                $crate::store::contract_tests::$name(store).await;
            }
        )*
    };
}
pub(crate) use store_contract_tests;

// ---- helpers ----

pub(crate) type Store = Arc<dyn QueueStore>;

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn def(account: &str, name: &str, pairs: &[(&str, &str)], now: u64) -> QueueDef {
    QueueDef {
        queue_id: 0,
        account: account.into(),
        name: name.into(),
        attributes: attributes(pairs),
        tags: BTreeMap::new(),
        created_ms: now,
        last_modified_ms: now,
    }
}

/// What the front derives from a definition.
fn ctx_of(record: &QueueRecord) -> QueueCtx {
    let d = &record.def;
    QueueCtx {
        queue_id: d.queue_id,
        arn: format!("arn:aws:sqs:us-east-1:{}:{}", d.account, d.name),
        fifo: d.name.ends_with(".fifo"),
        retention_ms: d
            .attributes
            .get("MessageRetentionPeriod")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(RETENTION_DEFAULT_MS, |s| s * 1000),
        dedup_per_group: d
            .attributes
            .get("DeduplicationScope")
            .is_some_and(|v| v == "messageGroup"),
    }
}

pub(crate) async fn create(store: &Store, name: &str, pairs: &[(&str, &str)]) -> QueueCtx {
    let mut pairs = pairs.to_vec();
    if name.ends_with(".fifo") {
        pairs.push(("FifoQueue", "true"));
    }
    match store
        .create_queue(def(ACCOUNT, name, &pairs, T0), 0, 1000)
        .await
        .unwrap()
    {
        CreateOutcome::Created(record) => ctx_of(&record),
        other => panic!("create {name}: {other:?}"),
    }
}

pub(crate) fn message(body: &str) -> NewMessage {
    NewMessage {
        message_id: *uuid::Uuid::new_v4().as_bytes(),
        body: body.into(),
        attributes: BTreeMap::new(),
        trace_header: None,
        sender_id: "AIDTEST".into(),
        group_id: None,
        dedup_id: None,
        delay_ms: 0,
    }
}

fn fifo_message(body: &str, group: &str, dedup: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        dedup_id: Some(dedup.into()),
        ..message(body)
    }
}

async fn send_one(store: &Store, q: &QueueCtx, m: NewMessage, now: u64) -> SendOutcome {
    let mut outcomes = store.send(q, vec![m], now).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

fn spec(max: usize, visibility_ms: u64) -> ReceiveSpec {
    ReceiveSpec {
        max,
        visibility_ms,
        in_flight_limit: 120_000,
        redrive: None,
        attempt_id: None,
    }
}

/// Receives with `spec`; the deliveries (panics on OverLimit or moves).
async fn receive_with(
    store: &Store,
    q: &QueueCtx,
    spec: &ReceiveSpec,
    now: u64,
) -> Vec<StoredMessage> {
    match store.receive(q, spec, now).await.unwrap() {
        ReceiveOutcome::Delivered {
            delivered,
            dead_lettered: 0,
        } => delivered,
        other => panic!("receive: {other:?}"),
    }
}

/// Receives with a 1 s visibility that moves a message to `dlq` on its
/// second receive.
fn redrive_to(dlq: &QueueCtx) -> ReceiveSpec {
    ReceiveSpec {
        redrive: Some(RedriveSpec {
            dlq: dlq.clone(),
            max_receive_count: 1,
        }),
        ..spec(10, 1_000)
    }
}

async fn receive(store: &Store, q: &QueueCtx, max: usize, now: u64) -> Vec<StoredMessage> {
    receive_with(store, q, &spec(max, 30_000), now).await
}

fn bodies(messages: &[StoredMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

/// Deletes one delivery; its outcome.
async fn delete(
    store: &Store,
    q: &QueueCtx,
    m: &StoredMessage,
    allow_expired: bool,
    now: u64,
) -> DeleteOutcome {
    let mut outcomes = store
        .delete(q, &[delivery(m)], allow_expired, now)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

fn delivery(m: &StoredMessage) -> Delivery {
    Delivery {
        message_id: m.message_id,
        epoch: m.epoch,
    }
}

async fn total(store: &Store, q: &QueueCtx, now: u64) -> u64 {
    let c = store.counts(q, now).await.unwrap();
    c.visible + c.in_flight + c.delayed
}

// ---- queues ----

/// Definitions: created once per name (the store draws the id), found by
/// name and id, listed in (account, name) order, changed by compare-and-set,
/// deleted, guarded against quick re-creation, limited per account.
pub(crate) async fn queues_are_created_found_listed_updated_and_deleted(store: Store) {
    let created = store
        .create_queue(
            def(ACCOUNT, "cq-a", &[("VisibilityTimeout", "7")], T0),
            0,
            100,
        )
        .await
        .unwrap();
    let CreateOutcome::Created(a) = created else {
        panic!("{created:?}");
    };
    assert_eq!(a.def.name, "cq-a");
    assert_eq!(a.def.account, ACCOUNT);
    assert_eq!(a.def.attributes, attributes(&[("VisibilityTimeout", "7")]));
    assert_eq!(a.def.created_ms, T0);
    let id = a.def.queue_id;
    assert_eq!(store.queue(ACCOUNT, "cq-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.queue_by_id(id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.queue(ACCOUNT, "nope").await.unwrap(), None);

    // The same name again: the existing queue, unchanged.
    let again = store
        .create_queue(
            def(ACCOUNT, "cq-a", &[("VisibilityTimeout", "9")], T0 + 1),
            0,
            100,
        )
        .await
        .unwrap();
    assert_eq!(again, CreateOutcome::Exists(a.clone()));

    for name in ["cq-c", "cq-b", "other"] {
        store
            .create_queue(def(ACCOUNT, name, &[], T0 + 1), 0, 100)
            .await
            .unwrap();
    }
    store
        .create_queue(def("111111111111", "cq-a", &[], T0 + 1), 0, 100)
        .await
        .unwrap();
    let names = |records: Vec<QueueRecord>| -> Vec<String> {
        records
            .into_iter()
            .map(|r| format!("{}/{}", r.def.account, r.def.name))
            .collect()
    };
    let listed = store
        .list_queues(Some(ACCOUNT), "cq-", None, 10)
        .await
        .unwrap();
    assert_eq!(
        names(listed),
        [
            "000000000000/cq-a",
            "000000000000/cq-b",
            "000000000000/cq-c"
        ]
    );
    let after = store
        .list_queues(Some(ACCOUNT), "cq-", Some("cq-a"), 10)
        .await
        .unwrap();
    assert_eq!(names(after), ["000000000000/cq-b", "000000000000/cq-c"]);
    let limited = store
        .list_queues(Some(ACCOUNT), "cq-", None, 2)
        .await
        .unwrap();
    assert_eq!(names(limited), ["000000000000/cq-a", "000000000000/cq-b"]);
    let everyone = store.list_queues(None, "cq-", None, 10).await.unwrap();
    assert_eq!(
        names(everyone),
        [
            "000000000000/cq-a",
            "000000000000/cq-b",
            "000000000000/cq-c",
            "111111111111/cq-a"
        ]
    );

    // Compare-and-set updates.
    let mut changed = a.def.clone();
    changed.attributes.insert("DelaySeconds".into(), "3".into());
    changed.last_modified_ms = T0 + 2;
    let updated = match store
        .update_queue(changed.clone(), a.version)
        .await
        .unwrap()
    {
        UpdateOutcome::Updated(r) => r,
        other => panic!("{other:?}"),
    };
    assert_ne!(updated.version, a.version);
    assert_eq!(
        updated
            .def
            .attributes
            .get("DelaySeconds")
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(updated.def.last_modified_ms, T0 + 2);
    assert_eq!(updated.def.queue_id, id);
    assert_eq!(
        store.queue(ACCOUNT, "cq-a").await.unwrap(),
        Some(updated.clone())
    );
    let stale = store
        .update_queue(changed.clone(), a.version)
        .await
        .unwrap();
    assert_eq!(stale, UpdateOutcome::Conflict(updated.clone()));

    // Delete, then the guard against quick re-creation.
    assert!(store.delete_queue(id, T0 + 3).await.unwrap());
    assert!(!store.delete_queue(id, T0 + 3).await.unwrap());
    assert_eq!(store.queue(ACCOUNT, "cq-a").await.unwrap(), None);
    assert_eq!(store.queue_by_id(id).await.unwrap(), None);
    assert_eq!(
        store.update_queue(changed, updated.version).await.unwrap(),
        UpdateOutcome::Gone
    );
    let guarded = store
        .create_queue(def(ACCOUNT, "cq-a", &[], T0 + 4), 60_000, 100)
        .await
        .unwrap();
    assert_eq!(guarded, CreateOutcome::DeletedRecently);
    let after_guard = store
        .create_queue(def(ACCOUNT, "cq-a", &[], T0 + 3 + 60_000), 60_000, 100)
        .await
        .unwrap();
    let CreateOutcome::Created(reborn) = after_guard else {
        panic!("{after_guard:?}");
    };
    assert_ne!(reborn.def.queue_id, id, "ids are never reused");

    // The account has cq-a, cq-b, cq-c and other.
    let full = store
        .create_queue(def(ACCOUNT, "cq-d", &[], T0 + 70_000), 0, 4)
        .await
        .unwrap();
    assert_eq!(full, CreateOutcome::QuotaReached);
    let room = store
        .create_queue(def(ACCOUNT, "cq-d", &[], T0 + 70_000), 0, 5)
        .await
        .unwrap();
    assert!(matches!(room, CreateOutcome::Created(_)), "{room:?}");
}

// ---- messages ----

/// Standard queues: what was sent comes back whole, oldest first, with a
/// new delivery state; a delivery hides the message until its timeout.
pub(crate) async fn standard_messages_are_stored_delivered_and_redelivered(store: Store) {
    let q = create(&store, "std", &[]).await;
    let first = NewMessage {
        attributes: BTreeMap::from([(
            "colour".to_string(),
            AttributeValue {
                data_type: "String".into(),
                value: b"blue".to_vec(),
            },
        )]),
        trace_header: Some("Root=1-abc".into()),
        ..message("m1")
    };
    let sent = [first.clone(), message("m2"), message("m3")];
    for (i, m) in sent.iter().enumerate() {
        let outcome = send_one(&store, &q, m.clone(), T0 + i as u64).await;
        assert!(matches!(outcome, SendOutcome::Stored { .. }), "{outcome:?}");
    }
    let got = receive(&store, &q, 2, T0 + 10).await;
    assert_eq!(bodies(&got), ["m1", "m2"], "oldest first");
    let m1 = &got[0];
    assert_eq!(m1.message_id, first.message_id);
    assert_eq!(m1.attributes, first.attributes);
    assert_eq!(m1.trace_header.as_deref(), Some("Root=1-abc"));
    assert_eq!(m1.sender_id, "AIDTEST");
    assert_eq!(m1.sent_ms, T0);
    assert_eq!(m1.group_id, None);
    assert_eq!(m1.dedup_id, None);
    assert_eq!(
        m1.sequence_number, None,
        "no sequence number on a standard queue"
    );
    assert_eq!(m1.dead_letter_source_arn, None);
    assert_eq!(m1.receive_count, 1);
    assert_eq!(m1.first_receive_ms, T0 + 10);
    assert!(m1.epoch >= 1);
    assert_eq!(m1.visible_at_ms, T0 + 10 + 30_000);
    assert_eq!(m1.received_at_ms, T0 + 10);

    assert_eq!(bodies(&receive(&store, &q, 10, T0 + 11).await), ["m3"]);
    assert!(receive(&store, &q, 10, T0 + 12).await.is_empty());
    let counts = store.counts(&q, T0 + 12).await.unwrap();
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (0, 3, 0)
    );
    assert_eq!(counts.oldest_sent_ms, Some(T0));

    // The timeout passes: delivered again, with a new epoch.
    let again = receive(&store, &q, 10, T0 + 10 + 30_000).await;
    assert_eq!(bodies(&again), ["m1", "m2"]);
    assert_eq!(again[0].receive_count, 2);
    assert!(again[0].epoch > m1.epoch);
    assert_eq!(again[0].first_receive_ms, T0 + 10);
}

/// One `send` of many messages stores them all, in order, or (FIFO)
/// deduplicates inside the batch too.
pub(crate) async fn a_batch_is_stored_whole(store: Store) {
    let q = create(&store, "batch", &[]).await;
    let batch: Vec<NewMessage> = (0..10).map(|i| message(&format!("b{i}"))).collect();
    let outcomes = store.send(&q, batch, T0).await.unwrap();
    assert_eq!(outcomes.len(), 10);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, SendOutcome::Stored { .. })));
    let got = receive(&store, &q, 10, T0 + 1).await;
    let mut got = bodies(&got);
    got.sort_unstable();
    let expected: Vec<String> = (0..10).map(|i| format!("b{i}")).collect();
    assert_eq!(got, expected);

    let f = create(&store, "batch.fifo", &[]).await;
    let x = fifo_message("x", "G", "same");
    let outcomes = store
        .send(&f, vec![x.clone(), fifo_message("y", "G", "same")], T0)
        .await
        .unwrap();
    let SendOutcome::Stored { sequence } = outcomes[0] else {
        panic!("{outcomes:?}");
    };
    assert_eq!(
        outcomes[1],
        SendOutcome::Duplicate {
            message_id: x.message_id,
            sequence
        }
    );
}

/// A delayed message is invisible until its time; `next_visible_at` names it.
pub(crate) async fn delayed_messages_wait_and_next_visible_at_says_until_when(store: Store) {
    let q = create(&store, "delayed", &[]).await;
    assert_eq!(store.next_visible_at(&q, T0).await.unwrap(), None);
    send_one(
        &store,
        &q,
        NewMessage {
            delay_ms: 5_000,
            ..message("later")
        },
        T0,
    )
    .await;
    let counts = store.counts(&q, T0).await.unwrap();
    assert_eq!(
        (counts.visible, counts.in_flight, counts.delayed),
        (0, 0, 1)
    );
    assert!(receive(&store, &q, 10, T0 + 1).await.is_empty());
    assert_eq!(
        store.next_visible_at(&q, T0 + 1).await.unwrap(),
        Some(T0 + 5_000)
    );
    let got = receive(&store, &q, 10, T0 + 5_000).await;
    assert_eq!(bodies(&got), ["later"]);
    assert_eq!(
        store.next_visible_at(&q, T0 + 5_000).await.unwrap(),
        Some(T0 + 5_000 + 30_000),
        "in flight until then"
    );
}

/// A delete acts only on the delivery it names (E1).
pub(crate) async fn deletes_are_conditional_on_the_delivery_epoch(store: Store) {
    let q = create(&store, "deletes", &[]).await;
    send_one(&store, &q, message("m"), T0).await;
    let first = receive_with(&store, &q, &spec(1, 1_000), T0).await;
    let second = receive_with(&store, &q, &spec(1, 30_000), T0 + 1_000).await;
    assert_eq!(second[0].message_id, first[0].message_id);
    assert!(second[0].epoch > first[0].epoch);
    assert_eq!(
        delete(&store, &q, &first[0], true, T0 + 1_001).await,
        DeleteOutcome::Superseded
    );
    assert_eq!(
        delete(&store, &q, &second[0], false, T0 + 1_002).await,
        DeleteOutcome::Deleted
    );
    assert_eq!(
        delete(&store, &q, &second[0], false, T0 + 1_003).await,
        DeleteOutcome::Gone
    );

    // The latest delivery after its timeout: only with `allow_expired`.
    send_one(&store, &q, message("n"), T0 + 2_000).await;
    let n = receive_with(&store, &q, &spec(1, 1_000), T0 + 2_000).await;
    assert_eq!(
        delete(&store, &q, &n[0], false, T0 + 3_001).await,
        DeleteOutcome::Expired
    );
    assert_eq!(
        delete(&store, &q, &n[0], true, T0 + 3_002).await,
        DeleteOutcome::Deleted
    );

    // One outcome per delivery, in order.
    store
        .send(&q, vec![message("a"), message("b")], T0 + 4_000)
        .await
        .unwrap();
    let both = receive(&store, &q, 10, T0 + 4_000).await;
    assert_eq!(both.len(), 2);
    let (a, b) = (delivery(&both[0]), delivery(&both[1]));
    let outcomes = store
        .delete(&q, &[a, a, b], false, T0 + 4_001)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], DeleteOutcome::Deleted);
    assert!(
        matches!(outcomes[1], DeleteOutcome::Deleted | DeleteOutcome::Gone),
        "the same delivery twice deletes once: {outcomes:?}"
    );
    assert_eq!(outcomes[2], DeleteOutcome::Deleted);
    assert_eq!(total(&store, &q, T0 + 4_002).await, 0);
}

/// A visibility change acts only on the delivery it names, within the cap.
pub(crate) async fn visibility_changes_are_conditional_on_the_delivery_epoch(store: Store) {
    let q = create(&store, "visibility", &[]).await;
    send_one(&store, &q, message("m"), T0).await;
    let first = receive(&store, &q, 1, T0).await;
    let change = |m: &StoredMessage, at: u64| VisibilityChange {
        delivery: delivery(m),
        visible_at_ms: at,
    };
    let extended = store
        .change_visibility(&q, &[change(&first[0], T0 + 60_000)], CAP_MS, T0 + 1)
        .await
        .unwrap();
    assert_eq!(extended, [VisibilityOutcome::Changed]);
    assert!(
        receive(&store, &q, 10, T0 + 31_000).await.is_empty(),
        "hidden until the new deadline"
    );
    let now_visible = store
        .change_visibility(&q, &[change(&first[0], T0 + 31_000)], CAP_MS, T0 + 31_000)
        .await
        .unwrap();
    assert_eq!(now_visible, [VisibilityOutcome::Changed]);
    let second = receive(&store, &q, 1, T0 + 31_000).await;
    assert_eq!(bodies(&second), ["m"]);
    let stale = store
        .change_visibility(&q, &[change(&first[0], T0 + 40_000)], CAP_MS, T0 + 31_001)
        .await
        .unwrap();
    assert_eq!(stale, [VisibilityOutcome::Superseded]);
    let too_far = store
        .change_visibility(
            &q,
            &[change(&second[0], T0 + 31_000 + CAP_MS + 1)],
            CAP_MS,
            T0 + 31_002,
        )
        .await
        .unwrap();
    assert_eq!(too_far, [VisibilityOutcome::CapExceeded]);
    // Its timeout passes and nobody receives it: the handle hides it again.
    let rehidden = store
        .change_visibility(&q, &[change(&second[0], T0 + 70_000)], CAP_MS, T0 + 65_000)
        .await
        .unwrap();
    assert_eq!(rehidden, [VisibilityOutcome::Changed]);
    assert!(receive(&store, &q, 10, T0 + 65_000).await.is_empty());
    let third = receive(&store, &q, 10, T0 + 70_000).await;
    assert_eq!(bodies(&third), ["m"]);
    store
        .delete(&q, &[delivery(&third[0])], false, T0 + 70_001)
        .await
        .unwrap();
    let gone = store
        .change_visibility(&q, &[change(&third[0], T0 + 80_000)], CAP_MS, T0 + 70_002)
        .await
        .unwrap();
    assert_eq!(gone, [VisibilityOutcome::Gone]);
}

/// FIFO: sequence numbers increase; a group is served in order and never
/// past a message of it that is in flight (E2).
pub(crate) async fn fifo_groups_deliver_in_order_and_block_behind_a_delivery(store: Store) {
    let q = create(&store, "order.fifo", &[]).await;
    let mut sequences = Vec::new();
    for (i, (body, group)) in [("a1", "G"), ("a2", "G"), ("b1", "H"), ("b2", "H")]
        .into_iter()
        .enumerate()
    {
        let m = fifo_message(body, group, &format!("d{i}"));
        match send_one(&store, &q, m, T0 + i as u64).await {
            SendOutcome::Stored { sequence } => sequences.push(sequence),
            other => panic!("{other:?}"),
        }
    }
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    let first = receive(&store, &q, 1, T0 + 10).await;
    assert_eq!(first.len(), 1);
    let group = first[0].group_id.clone();
    let (head, next) = if group.as_deref() == Some("G") {
        ("a1", "a2")
    } else {
        ("b1", "b2")
    };
    assert_eq!(first[0].body, head, "a group's head comes first");
    assert_eq!(
        first[0].sequence_number,
        Some(sequences[if head == "a1" { 0 } else { 2 }])
    );
    let other = receive(&store, &q, 10, T0 + 11).await;
    assert!(
        other.iter().all(|m| m.group_id != group),
        "nothing of a group with a message in flight: {:?}",
        bodies(&other)
    );
    assert_eq!(other.len(), 2, "the other group, both, in order");
    store
        .delete(&q, &[delivery(&first[0])], false, T0 + 12)
        .await
        .unwrap();
    let rest = receive(&store, &q, 10, T0 + 13).await;
    assert_eq!(bodies(&rest), [next]);
}

/// FIFO: a deduplication id seen in the last five minutes stores nothing and
/// answers the original message's id and sequence number.
pub(crate) async fn fifo_deduplicates_inside_the_window(store: Store) {
    let q = create(&store, "dedup.fifo", &[]).await;
    let original = fifo_message("x", "G", "d");
    let SendOutcome::Stored { sequence } = send_one(&store, &q, original.clone(), T0).await else {
        panic!("not stored");
    };
    let duplicate = send_one(&store, &q, fifo_message("y", "H", "d"), T0 + 299_999).await;
    assert_eq!(
        duplicate,
        SendOutcome::Duplicate {
            message_id: original.message_id,
            sequence
        }
    );
    // Also after the original was deleted.
    let got = receive(&store, &q, 10, T0 + 1).await;
    store
        .delete(&q, &[delivery(&got[0])], false, T0 + 2)
        .await
        .unwrap();
    let still = send_one(&store, &q, fifo_message("z", "G", "d"), T0 + 3).await;
    assert!(matches!(still, SendOutcome::Duplicate { .. }), "{still:?}");
    let later = send_one(&store, &q, fifo_message("w", "G", "d"), T0 + 300_001).await;
    match later {
        SendOutcome::Stored { sequence: newer } => assert!(newer > sequence),
        other => panic!("{other:?}"),
    }
}

/// DeduplicationScope=messageGroup: the same id in two groups is two messages.
pub(crate) async fn deduplication_per_message_group(store: Store) {
    let q = create(
        &store,
        "scoped.fifo",
        &[
            ("DeduplicationScope", "messageGroup"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ],
    )
    .await;
    assert!(q.dedup_per_group);
    let g = send_one(&store, &q, fifo_message("g", "G", "d"), T0).await;
    let h = send_one(&store, &q, fifo_message("h", "H", "d"), T0 + 1).await;
    let again = send_one(&store, &q, fifo_message("g2", "G", "d"), T0 + 2).await;
    assert!(matches!(g, SendOutcome::Stored { .. }), "{g:?}");
    assert!(matches!(h, SendOutcome::Stored { .. }), "{h:?}");
    assert!(matches!(again, SendOutcome::Duplicate { .. }), "{again:?}");
}

/// Deduplication entries keep the scope they were recorded under: after
/// DeduplicationScope changes from `queue` to `messageGroup` an id seen
/// before still deduplicates in every group (until its window ends), and
/// after the change back an id recorded for a group still does in it.
pub(crate) async fn deduplication_entries_keep_their_scope(store: Store) {
    let q = create(&store, "rescoped.fifo", &[]).await;
    assert!(!q.dedup_per_group);
    let rescope = |scope: &'static str| {
        let store = store.clone();
        async move {
            let record = store
                .queue(ACCOUNT, "rescoped.fifo")
                .await
                .unwrap()
                .unwrap();
            let mut def = record.def.clone();
            def.attributes
                .insert("DeduplicationScope".into(), scope.into());
            match store.update_queue(def, record.version).await.unwrap() {
                UpdateOutcome::Updated(r) => ctx_of(&r),
                other => panic!("{other:?}"),
            }
        }
    };
    let seen = send_one(&store, &q, fifo_message("a", "G", "seen"), T0).await;
    let SendOutcome::Stored { sequence } = seen else {
        panic!("{seen:?}")
    };
    let q = rescope("messageGroup").await;
    assert!(q.dedup_per_group);
    match send_one(&store, &q, fifo_message("b", "H", "seen"), T0 + 1).await {
        SendOutcome::Duplicate { sequence: s, .. } => assert_eq!(s, sequence),
        other => panic!("a queue-wide id no longer deduplicates in another group: {other:?}"),
    }
    let g = send_one(&store, &q, fifo_message("c", "G", "new"), T0 + 2).await;
    let h = send_one(&store, &q, fifo_message("d", "H", "new"), T0 + 3).await;
    assert!(matches!(g, SendOutcome::Stored { .. }), "{g:?}");
    assert!(matches!(h, SendOutcome::Stored { .. }), "{h:?}");
    let q = rescope("queue").await;
    let again = send_one(&store, &q, fifo_message("e", "H", "new"), T0 + 4).await;
    assert!(matches!(again, SendOutcome::Duplicate { .. }), "{again:?}");
}

/// FIFO: a receive repeated with its ReceiveRequestAttemptId answers the
/// same deliveries (same epochs) and delivers nothing new.
pub(crate) async fn a_repeated_receive_attempt_returns_the_same_deliveries(store: Store) {
    let q = create(&store, "attempt.fifo", &[]).await;
    send_one(&store, &q, fifo_message("a", "G", "1"), T0).await;
    send_one(&store, &q, fifo_message("b", "H", "2"), T0 + 1).await;
    let attempt = |id: &str| ReceiveSpec {
        attempt_id: Some(id.into()),
        ..spec(1, 30_000)
    };
    let first = receive_with(&store, &q, &attempt("x"), T0 + 2).await;
    assert_eq!(first.len(), 1);
    let retry = receive_with(&store, &q, &attempt("x"), T0 + 3).await;
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].message_id, first[0].message_id);
    assert_eq!(retry[0].epoch, first[0].epoch);
    assert_eq!(retry[0].receive_count, 1, "not delivered again");
    assert_eq!(retry[0].body, first[0].body);
    let other = receive_with(&store, &q, &attempt("y"), T0 + 4).await;
    assert_eq!(other.len(), 1);
    assert_ne!(other[0].message_id, first[0].message_id);
}

/// A standard queue at its in-flight limit answers OverLimit; a FIFO queue
/// answers nothing.
pub(crate) async fn the_in_flight_limit_stops_receives(store: Store) {
    let limited = ReceiveSpec {
        in_flight_limit: 1,
        ..spec(10, 30_000)
    };
    let q = create(&store, "limit", &[]).await;
    store
        .send(&q, vec![message("a"), message("b")], T0)
        .await
        .unwrap();
    assert_eq!(receive_with(&store, &q, &limited, T0 + 1).await.len(), 1);
    assert_eq!(
        store.receive(&q, &limited, T0 + 2).await.unwrap(),
        ReceiveOutcome::OverLimit
    );
    let f = create(&store, "limit.fifo", &[]).await;
    store
        .send(
            &f,
            vec![fifo_message("a", "G", "1"), fifo_message("b", "H", "2")],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(receive_with(&store, &f, &limited, T0 + 1).await.len(), 1);
    assert!(receive_with(&store, &f, &limited, T0 + 2).await.is_empty());
}

/// The receive that would exceed maxReceiveCount moves the message to the
/// dead-letter queue instead (one atomic step), keeping its identity.
pub(crate) async fn a_receive_past_max_receive_count_dead_letters(store: Store) {
    let src = create(&store, "dl-src", &[]).await;
    let dlq = create(&store, "dl-dlq", &[]).await;
    let redrive = redrive_to(&dlq);
    let sent = message("poison");
    send_one(&store, &src, sent.clone(), T0).await;
    let first = receive_with(&store, &src, &redrive, T0).await;
    assert_eq!(bodies(&first), ["poison"]);
    match store.receive(&src, &redrive, T0 + 1_000).await.unwrap() {
        ReceiveOutcome::Delivered {
            delivered,
            dead_lettered,
        } => {
            assert!(delivered.is_empty());
            assert_eq!(dead_lettered, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(total(&store, &src, T0 + 1_001).await, 0);
    let moved = receive(&store, &dlq, 10, T0 + 1_001).await;
    assert_eq!(bodies(&moved), ["poison"]);
    assert_eq!(moved[0].message_id, sent.message_id);
    assert_eq!(moved[0].sent_ms, T0, "SentTimestamp is kept");
    assert_eq!(
        moved[0].dead_letter_source_arn.as_deref(),
        Some(src.arn.as_str())
    );
}

/// A purge removes what was sent before it and forgets deduplication ids; a
/// second one inside the minimum interval is refused.
pub(crate) async fn purge_forgets_messages_and_deduplication_ids(store: Store) {
    let q = create(&store, "purged.fifo", &[]).await;
    send_one(&store, &q, fifo_message("x", "G", "d"), T0).await;
    assert_eq!(
        store.purge(&q, 60_000, T0 + 1).await.unwrap(),
        PurgeOutcome::Purged
    );
    assert_eq!(total(&store, &q, T0 + 1).await, 0);
    assert!(receive(&store, &q, 10, T0 + 1).await.is_empty());
    assert_eq!(
        store.purge(&q, 60_000, T0 + 2).await.unwrap(),
        PurgeOutcome::TooSoon {
            last_purge_ms: T0 + 1
        }
    );
    let again = send_one(&store, &q, fifo_message("x", "G", "d"), T0 + 3).await;
    assert!(matches!(again, SendOutcome::Stored { .. }), "{again:?}");
    assert_eq!(
        store.purge(&q, 0, T0 + 4).await.unwrap(),
        PurgeOutcome::Purged
    );
    assert_eq!(total(&store, &q, T0 + 4).await, 0);
}

/// Nothing past retention is delivered or counted (E3), in flight or not.
pub(crate) async fn retention_removes_old_messages(store: Store) {
    let q = create(&store, "retained", &[("MessageRetentionPeriod", "60")]).await;
    assert_eq!(q.retention_ms, 60_000);
    send_one(&store, &q, message("old"), T0).await;
    send_one(&store, &q, message("young"), T0 + 30_000).await;
    let got = receive(&store, &q, 10, T0 + 60_000).await;
    assert_eq!(bodies(&got), ["young"]);
    store.sweep(T0 + 90_000).await.unwrap();
    assert_eq!(total(&store, &q, T0 + 90_000).await, 0);
}

/// Peek pages through a queue in order and changes nothing.
pub(crate) async fn peek_pages_in_queue_order_and_changes_nothing(store: Store) {
    let q = create(&store, "peeked", &[]).await;
    for (i, body) in ["a", "b", "c"].into_iter().enumerate() {
        send_one(&store, &q, message(body), T0 + i as u64).await;
    }
    let received = receive(&store, &q, 1, T0 + 3).await;
    assert_eq!(bodies(&received), ["a"]);
    let page = store.peek(&q, None, 10, T0 + 4).await.unwrap();
    let peeked: Vec<&str> = page.iter().map(|e| e.message.body.as_str()).collect();
    assert_eq!(peeked, ["a", "b", "c"]);
    assert!(page.windows(2).all(|w| w[0].order < w[1].order));
    assert_eq!(page[0].message.receive_count, 1);
    assert_eq!(page[1].message.receive_count, 0);
    let rest = store
        .peek(&q, Some(page[0].order), 10, T0 + 4)
        .await
        .unwrap();
    let rest: Vec<&str> = rest.iter().map(|e| e.message.body.as_str()).collect();
    assert_eq!(rest, ["b", "c"]);
    assert_eq!(store.peek(&q, None, 2, T0 + 4).await.unwrap().len(), 2);
    let got = receive(&store, &q, 10, T0 + 5).await;
    assert_eq!(bodies(&got), ["b", "c"]);
    assert!(
        got.iter().all(|m| m.receive_count == 1),
        "peek received nothing"
    );
}

/// The operator's delete by id, whatever the message's state.
pub(crate) async fn delete_by_id_deletes_whatever_the_state(store: Store) {
    let q = create(&store, "by-id", &[]).await;
    let visible = message("visible");
    let in_flight = message("in-flight");
    send_one(&store, &q, in_flight.clone(), T0).await;
    receive(&store, &q, 1, T0 + 1).await;
    send_one(&store, &q, visible.clone(), T0 + 2).await;
    for id in [visible.message_id, in_flight.message_id] {
        assert!(store.delete_by_id(&q, id, T0 + 3).await.unwrap());
        assert!(!store.delete_by_id(&q, id, T0 + 3).await.unwrap());
    }
    assert!(!store.delete_by_id(&q, [7; 16], T0 + 3).await.unwrap());
    assert_eq!(total(&store, &q, T0 + 4).await, 0);
}

fn task(task_id: &str, source: &QueueCtx, destination: Option<&QueueCtx>) -> MoveTask {
    MoveTask {
        task_id: task_id.into(),
        source_arn: source.arn.clone(),
        destination_arn: destination.map(|d| d.arn.clone()),
        max_messages_per_second: None,
        status: MoveTaskStatus::Running,
        moved: 0,
        to_move: 3,
        failure_reason: None,
        started_ms: T0,
    }
}

/// Whether the step that moved a source's last messages said it was
/// drained, or the next one (which then moves nothing) does.
async fn drained(
    store: &Store,
    task_id: &str,
    source: &QueueCtx,
    to: &MoveDestination,
    now: u64,
) -> bool {
    let step = store
        .move_messages(task_id, source, to, 10, now)
        .await
        .unwrap();
    step.moved == 0 && step.source_drained && step.failure.is_none()
}

/// Move tasks: one running per source; each step moves messages and
/// records the progress together; status changes are conditional.
pub(crate) async fn move_tasks_move_and_record_their_progress(store: Store) {
    let dlq = create(&store, "mt-dlq", &[]).await;
    let dst = create(&store, "mt-dst", &[]).await;
    for (i, body) in ["1", "2", "3"].into_iter().enumerate() {
        send_one(&store, &dlq, message(body), T0 + i as u64).await;
    }
    assert!(store
        .start_move_task(task("t1", &dlq, Some(&dst)))
        .await
        .unwrap());
    assert!(
        !store
            .start_move_task(task("t2", &dlq, Some(&dst)))
            .await
            .unwrap(),
        "one running task per source"
    );
    let to = MoveDestination::Queue(dst.clone());
    let step = store
        .move_messages("t1", &dlq, &to, 2, T0 + 10)
        .await
        .unwrap();
    assert_eq!(
        (step.moved, step.source_drained, step.failure.clone()),
        (2, false, None)
    );
    let listed = store.move_tasks(Some(&dlq.arn)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].moved, listed[0].status),
        (2, MoveTaskStatus::Running)
    );
    let step = store
        .move_messages("t1", &dlq, &to, 10, T0 + 11)
        .await
        .unwrap();
    assert_eq!(step.moved, 1);
    assert!(drained(&store, "t1", &dlq, &to, T0 + 11).await);
    let moved = receive(&store, &dst, 10, T0 + 12).await;
    let mut moved = bodies(&moved);
    moved.sort_unstable();
    assert_eq!(moved, ["1", "2", "3"]);
    assert_eq!(total(&store, &dlq, T0 + 12).await, 0);

    let mut done = store.move_tasks(Some(&dlq.arn)).await.unwrap().remove(0);
    assert_eq!(done.moved, 3);
    done.status = MoveTaskStatus::Completed;
    assert!(store
        .update_move_task(done.clone(), MoveTaskStatus::Running)
        .await
        .unwrap());
    assert!(
        !store
            .update_move_task(done, MoveTaskStatus::Running)
            .await
            .unwrap(),
        "no longer running"
    );
    // A new task may start; once cancelled, its steps move nothing.
    send_one(&store, &dlq, message("4"), T0 + 20).await;
    let second = MoveTask {
        started_ms: T0 + 21,
        ..task("t2", &dlq, Some(&dst))
    };
    assert!(store.start_move_task(second.clone()).await.unwrap());
    let all = store.move_tasks(None).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["t2", "t1"], "most recent first");
    let cancelled = MoveTask {
        status: MoveTaskStatus::Cancelled,
        ..second
    };
    assert!(store
        .update_move_task(cancelled, MoveTaskStatus::Running)
        .await
        .unwrap());
    let step = store
        .move_messages("t2", &dlq, &to, 10, T0 + 22)
        .await
        .unwrap();
    assert_eq!(step.moved, 0);
    assert_eq!(total(&store, &dlq, T0 + 23).await, 1);
}

/// A task without a destination returns each message to the queue it was
/// dead-lettered from.
pub(crate) async fn move_tasks_return_messages_to_their_source(store: Store) {
    let src = create(&store, "back-src", &[]).await;
    let dlq = create(&store, "back-dlq", &[]).await;
    let redrive = redrive_to(&dlq);
    let sent = message("round trip");
    send_one(&store, &src, sent.clone(), T0).await;
    let first = receive_with(&store, &src, &redrive, T0).await;
    store.receive(&src, &redrive, T0 + 1_000).await.unwrap();
    assert_eq!(total(&store, &dlq, T0 + 1_001).await, 1);
    assert!(store
        .start_move_task(task("back", &dlq, None))
        .await
        .unwrap());
    let to = MoveDestination::OriginalSource;
    let step = store
        .move_messages("back", &dlq, &to, 10, T0 + 2_000)
        .await
        .unwrap();
    assert_eq!((step.moved, step.failure), (1, None));
    assert!(drained(&store, "back", &dlq, &to, T0 + 2_000).await);
    let back = receive_with(&store, &src, &spec(10, 30_000), T0 + 2_001).await;
    assert_eq!(bodies(&back), ["round trip"]);
    assert_eq!(back[0].message_id, sent.message_id);
    assert_eq!(back[0].dead_letter_source_arn, None);
    // A handle from before the move names an earlier delivery.
    let stale = store
        .delete(&src, &[delivery(&first[0])], true, T0 + 2_002)
        .await
        .unwrap();
    assert_ne!(stale, [DeleteOutcome::Deleted]);
}

/// Waits (on the real clock: a store may call its waker from another task)
/// until `calls` holds `queue_id`.
async fn woken(calls: &Mutex<Vec<QueueId>>, queue_id: QueueId) -> bool {
    for _ in 0..500 {
        if calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&queue_id)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// The waker hears of a send and of a visibility change to now. (Changes
/// that only time brings need no wake-up: long polls also wait until
/// `next_visible_at`.)
pub(crate) async fn the_waker_is_called_when_messages_become_receivable(store: Store) {
    let calls: Arc<Mutex<Vec<QueueId>>> = Arc::default();
    let recorder = calls.clone();
    store.set_waker(Arc::new(move |queue_id| {
        recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(queue_id);
    }));
    let clear = || calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let q = create(&store, "woken", &[]).await;
    send_one(&store, &q, message("m"), T0).await;
    assert!(woken(&calls, q.queue_id).await, "a send wakes");
    let got = receive(&store, &q, 1, T0).await;
    clear();
    let outcome = store
        .change_visibility(
            &q,
            &[VisibilityChange {
                delivery: delivery(&got[0]),
                visible_at_ms: T0 + 1,
            }],
            CAP_MS,
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(outcome, [VisibilityOutcome::Changed]);
    assert!(
        woken(&calls, q.queue_id).await,
        "a visibility change to now wakes"
    );
}

/// Operations on a queue deleted after the lookup.
pub(crate) async fn a_deleted_queue_takes_no_messages(store: Store) {
    let q = create(&store, "doomed", &[]).await;
    assert!(store.delete_queue(q.queue_id, T0 + 1).await.unwrap());
    let sent = store.send(&q, vec![message("late")], T0 + 2).await;
    assert!(matches!(sent, Err(StoreError::QueueGone)), "{sent:?}");
}

/// The contract, run against the embedded store.
mod embedded_store {
    use super::*;
    use crate::store::embedded::EmbeddedStore;

    async fn fresh() -> Option<(Arc<dyn QueueStore>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let config = storage::StorageConfig {
            durability: storage::Durability::Never,
            ..Default::default()
        };
        let (storage, _) = storage::Storage::open(dir.path(), &config).unwrap();
        let store = EmbeddedStore::open(storage, "us-east-1", T0).unwrap();
        Some((Arc::new(store), dir))
    }

    store_contract_tests!(fresh);

    /// Beyond the contract: the embedded store also wakes a queue whose
    /// delayed message its sweep made visible.
    #[tokio::test]
    async fn a_sweep_wakes_queues_whose_messages_became_visible() {
        let Some((store, _dir)) = fresh().await else {
            return;
        };
        let calls: Arc<Mutex<Vec<QueueId>>> = Arc::default();
        let recorder = calls.clone();
        store.set_waker(Arc::new(move |queue_id| {
            recorder
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(queue_id);
        }));
        let q = create(&store, "woken-later", &[]).await;
        let later = NewMessage {
            delay_ms: 1_000,
            ..message("later")
        };
        send_one(&store, &q, later, T0).await;
        calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        store.sweep(T0 + 999).await.unwrap();
        assert!(calls.lock().unwrap_or_else(|e| e.into_inner()).is_empty());
        store.sweep(T0 + 1_000).await.unwrap();
        assert!(woken(&calls, q.queue_id).await);
    }
}
