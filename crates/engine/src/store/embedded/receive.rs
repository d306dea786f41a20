//! Receive, in three steps so that no disk read happens under a queue lock:
//! 1. *decide* (queue locked): due timers, a remembered
//!    ReceiveRequestAttemptId, the in-flight limit, then pick up to `max`
//!    visible messages and **reserve** them (no other receive or move picks
//!    a reserved message; a FIFO group is blocked behind it);
//! 2. *read* (unlocked): each picked message's record — if compaction moved
//!    it meanwhile, the index gives the new position;
//! 3. *commit* (queue and dead-letter queue locked, in queue-id order): a
//!    message still reserved is delivered (new epoch, count, deadline; one
//!    `MessageReceived`) or, when its receive count already reached
//!    maxReceiveCount, moved to the dead-letter queue (one `MessageMoved`);
//!    one append for all of it; a message deleted, expired or purged while
//!    it was read is simply skipped.
//!
//! Then the append is awaited, dead-lettered copies become receivable, and
//! the answer carries the bodies read in step 2 (moved, not copied).

use std::sync::Arc;

use storage::{Append, Record, RecordPos};

use super::messages::{Msg, NewMsg, NO_POS};
use super::queue::{lock_pair, Arrival, Queue};
use super::records::stored_message;
use super::state::EmbeddedStore;
use crate::store::{MessageId, QueueCtx, ReceiveOutcome, ReceiveSpec, StoreError, StoredMessage};

/// A message reserved in step 1.
struct Reserved {
    slot: u32,
    gen: u32,
    id: MessageId,
    pos: RecordPos,
}

/// What step 1 decided.
enum Plan {
    /// A remembered attempt: its deliveries that are still current, with
    /// their state and when they were received.
    Replay(Vec<(Msg, u64)>),
    /// Messages reserved for this receive.
    Fresh(Vec<Reserved>),
    /// Nothing to deliver.
    Answer(ReceiveOutcome),
}

/// Receives (and dead-letters) per `spec`.
pub(super) async fn receive(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    spec: &ReceiveSpec,
    now: u64,
) -> Result<ReceiveOutcome, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let (plan, woke) = decide(store, &queue, spec, now)?;
    if woke {
        store.wake(queue.id);
    }
    match plan {
        Plan::Answer(outcome) => Ok(outcome),
        Plan::Replay(current) => {
            let mut delivered = Vec::with_capacity(current.len());
            for (msg, received_at) in current {
                if let Some(record) = store.read_current(&queue, &msg.id, msg.pos)? {
                    delivered.push(stored_message(record, &msg, received_at));
                }
            }
            Ok(ReceiveOutcome::Delivered {
                delivered,
                dead_lettered: 0,
            })
        }
        Plan::Fresh(reserved) => {
            let mut read = Vec::with_capacity(reserved.len());
            for r in &reserved {
                match store.read_current(&queue, &r.id, r.pos) {
                    Ok(Some(record)) => read.push(Some(record)),
                    Ok(None) => read.push(None), // gone meanwhile
                    Err(e) => {
                        let all: Vec<(u32, u32)> =
                            reserved.iter().map(|r| (r.slot, r.gen)).collect();
                        queue.lock().messages.unreserve(&all);
                        return Err(e);
                    }
                }
            }
            commit(store, &queue, ctx, spec, reserved, read, now).await
        }
    }
}

/// Step 1, under the queue lock. Also returns whether due timers made
/// something visible (the queue is woken once unlocked).
fn decide(
    store: &EmbeddedStore,
    queue: &Queue,
    spec: &ReceiveSpec,
    now: u64,
) -> Result<(Plan, bool), StoreError> {
    let mut src = queue.lock_live()?;
    let woke = store.run_due_locked(&mut src, now);
    if let (true, Some(id)) = (queue.fifo, &spec.attempt_id) {
        if let Some(attempt) = src.fifo.attempt(id, now) {
            let current = attempt
                .deliveries
                .iter()
                .filter_map(|(id, epoch)| {
                    let slot = src.messages.slot_of(id)?;
                    let msg = src.messages.get(slot).filter(|m| m.epoch == *epoch)?;
                    let received_at = src.messages.delivered_at_ms(slot).unwrap_or(0);
                    Some((msg.clone(), received_at))
                })
                .collect();
            return Ok((Plan::Replay(current), woke));
        }
    }
    let in_flight = src.messages.in_flight_count();
    if in_flight >= spec.in_flight_limit {
        let outcome = if queue.fifo {
            ReceiveOutcome::Delivered {
                delivered: vec![],
                dead_lettered: 0,
            }
        } else {
            ReceiveOutcome::OverLimit
        };
        return Ok((Plan::Answer(outcome), woke));
    }
    let max = spec.max.min(spec.in_flight_limit - in_flight);
    let retention_ms = src.retention_ms;
    let mut reserved = Vec::with_capacity(max);
    for slot in src.messages.pick(max) {
        if src.messages.expired(slot, now, retention_ms) {
            if let Some(m) = src.messages.remove(slot) {
                let list = src.release_list(&m, now);
                store.release(&list);
            }
            continue;
        }
        let Some((id, pos)) = src.messages.get(slot).map(|m| (m.id, m.pos)) else {
            continue;
        };
        if let Some(gen) = src.messages.reserve(slot) {
            reserved.push(Reserved { slot, gen, id, pos });
        }
    }
    if reserved.is_empty() {
        let nothing = ReceiveOutcome::Delivered {
            delivered: vec![],
            dead_lettered: 0,
        };
        return Ok((Plan::Answer(nothing), woke));
    }
    Ok((Plan::Fresh(reserved), woke))
}

/// Step 3: deliver or dead-letter what is still reserved, in one append.
async fn commit(
    store: &EmbeddedStore,
    queue: &Arc<Queue>,
    ctx: &QueueCtx,
    spec: &ReceiveSpec,
    reserved: Vec<Reserved>,
    read: Vec<Option<storage::StoredMessage>>,
    now: u64,
) -> Result<ReceiveOutcome, StoreError> {
    // A queue that is its own dead-letter queue never moves a message.
    let dlq = spec
        .redrive
        .as_ref()
        .filter(|r| r.dlq.queue_id != queue.id)
        .and_then(|r| store.registry.by_id(r.dlq.queue_id));
    let (ticket, delivered, dead_lettered) = {
        let (mut src, mut dst) = lock_pair(queue, dlq.as_deref());
        if src.deleted {
            return Err(StoreError::QueueGone);
        }
        let max_receives = match (&dst, &spec.redrive) {
            (Some(d), Some(r)) if !d.deleted => Some(r.max_receive_count),
            _ => None,
        };
        let mut chosen = Vec::with_capacity(reserved.len());
        let mut to_move = Vec::new();
        for (r, record) in reserved.into_iter().zip(read) {
            let Some(record) = record else { continue };
            if !src.messages.is_reserved(r.slot, r.gen, &r.id) {
                continue; // deleted, expired or purged while it was read
            }
            let count = src.messages.get(r.slot).map_or(0, |m| m.receive_count);
            match max_receives {
                Some(limit) if count >= limit => to_move.push((r.slot, record)),
                _ => chosen.push((r.slot, record)),
            }
        }
        let visible_at_ms = now + spec.visibility_ms;
        let mut records = Vec::with_capacity(chosen.len() + to_move.len());
        let mut release = Vec::new();
        let mut received: Vec<(u32, Msg, storage::StoredMessage)> =
            Vec::with_capacity(chosen.len());
        for (slot, record) in chosen {
            let Some(msg) = src
                .messages
                .mark_received(slot, now, visible_at_ms)
                .cloned()
            else {
                continue;
            };
            if msg.state_pos != NO_POS {
                release.push(msg.state_pos);
            }
            records.push(Record::MessageReceived {
                queue_id: queue.id,
                message_id: msg.id,
                receipt_epoch: msg.epoch,
                visible_at_ms: msg.visible_at_ms,
                receive_count: msg.receive_count,
                first_receive_ms: msg.first_receive_ms(),
            });
            received.push((slot, msg, record));
        }
        let mut moved_new: Vec<NewMsg> = Vec::new();
        let mut ended = Vec::new();
        if let (Some(dst), Some(dlq)) = (dst.as_mut(), dlq.as_ref()) {
            for (slot, mut record) in to_move {
                let Some(m) = src.messages.remove(slot) else {
                    continue;
                };
                release.extend(src.release_list(&m, now));
                ended.push(m.pos);
                let arrival = Arrival {
                    dead_letter_source_arn: Some(ctx.arn.clone()),
                    receive_count: m.receive_count,
                    first_receive_ms: m.first_receive_ms(),
                    epoch: m.epoch,
                };
                moved_new.push(dlq.arrive(dst, &mut record, arrival, now));
                records.push(Record::MessageMoved {
                    from_queue: queue.id,
                    message: record,
                    task_handle: None,
                });
            }
        }
        if records.is_empty() {
            let nothing = ReceiveOutcome::Delivered {
                delivered: vec![],
                dead_lettered: 0,
            };
            return Ok(nothing);
        }
        let ticket = store.storage.submit(Append { records, release })?;
        store.pin_ended(&ended, &ticket);
        let mut positions = ticket.positions.iter().copied();
        for (slot, _, _) in &received {
            if let (Some(pos), Some(m)) = (positions.next(), src.messages.get_mut(*slot)) {
                m.state_pos = pos;
            }
        }
        let mut dead_lettered = Vec::new();
        if let Some(dst) = dst.as_mut() {
            for (mut new, pos) in moved_new.into_iter().zip(positions) {
                new.pos = pos;
                let id = new.id;
                let slot = dst.messages.insert_pending(new, now);
                dead_lettered.push((slot, id));
            }
        }
        let delivered: Vec<StoredMessage> = received
            .into_iter()
            .map(|(_, msg, record)| stored_message(record, &msg, now))
            .collect();
        if let (true, Some(id), false) = (queue.fifo, &spec.attempt_id, delivered.is_empty()) {
            let deliveries = delivered.iter().map(|m| (m.message_id, m.epoch)).collect();
            src.fifo.remember_attempt(id.clone(), now, deliveries);
        }
        (ticket, delivered, dead_lettered)
    };
    ticket.wait().await?;
    if let Some(dlq) = &dlq {
        if !dead_lettered.is_empty() {
            let visible = {
                let mut inner = dlq.lock();
                let mut visible = false;
                for (slot, id) in &dead_lettered {
                    visible |= inner.messages.finish_pending(*slot, id);
                }
                visible
            };
            if visible {
                store.wake(dlq.id);
            }
        }
    }
    Ok(ReceiveOutcome::Delivered {
        delivered,
        dead_lettered: u32::try_from(dead_lettered.len()).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    //! The three steps with something happening between them, as it can
    //! when other requests run while a receive reads its bodies.

    use std::sync::Arc;

    use super::*;
    use crate::store::contract_tests::{create, message, Store, T0};
    use crate::store::{NewMessage, QueueStore};

    async fn open(segment_size_bytes: u64) -> (Arc<EmbeddedStore>, Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = storage::StorageConfig {
            durability: storage::Durability::Never,
            segment_size_bytes,
            ..Default::default()
        };
        let (storage, _) = storage::Storage::open(dir.path(), &config).unwrap();
        let store = Arc::new(EmbeddedStore::open(storage, "us-east-1", T0).unwrap());
        let as_trait: Store = store.clone();
        (store, as_trait, dir)
    }

    fn spec(in_flight_limit: usize) -> ReceiveSpec {
        ReceiveSpec {
            max: 10,
            visibility_ms: 30_000,
            in_flight_limit,
            redrive: None,
            attempt_id: None,
        }
    }

    /// Steps 2 and 3 of a receive whose step 1 reserved `picked`.
    async fn read_and_commit(
        store: &EmbeddedStore,
        queue: &Arc<Queue>,
        q: &QueueCtx,
        picked: Vec<Reserved>,
        now: u64,
    ) -> Vec<StoredMessage> {
        let read: Vec<_> = picked
            .iter()
            .map(|r| store.read_current(queue, &r.id, r.pos).unwrap())
            .collect();
        match commit(store, queue, q, &spec(100), picked, read, now)
            .await
            .unwrap()
        {
            ReceiveOutcome::Delivered { delivered, .. } => delivered,
            other => panic!("{other:?}"),
        }
    }

    fn reserved(plan: Plan) -> Vec<Reserved> {
        match plan {
            Plan::Fresh(reserved) => reserved,
            _ => panic!("nothing reserved"),
        }
    }

    /// Reserved messages are picked by no other receive and count against
    /// the in-flight limit; one deleted while the receive read it is not
    /// delivered, the others are.
    #[tokio::test]
    async fn a_message_deleted_while_its_body_is_read_is_skipped() {
        let (store, dyn_store, _dir) = open(64 << 20).await;
        let q = create(&dyn_store, "race", &[]).await;
        let (a, b) = (message("a"), message("b"));
        store.send(&q, vec![a.clone()], T0).await.unwrap();
        store.send(&q, vec![b.clone()], T0 + 1).await.unwrap();
        let queue = store.live(q.queue_id).unwrap();
        let picked = reserved(decide(&store, &queue, &spec(100), T0 + 2).unwrap().0);
        assert_eq!(picked.len(), 2);
        match decide(&store, &queue, &spec(100), T0 + 2).unwrap().0 {
            Plan::Answer(ReceiveOutcome::Delivered { delivered, .. }) => {
                assert!(
                    delivered.is_empty(),
                    "reserved messages are not picked twice"
                )
            }
            _ => panic!("picked reserved messages"),
        }
        match decide(&store, &queue, &spec(2), T0 + 2).unwrap().0 {
            Plan::Answer(ReceiveOutcome::OverLimit) => {}
            _ => panic!("reserved messages count against the in-flight limit"),
        }
        assert!(store.delete_by_id(&q, a.message_id, T0 + 3).await.unwrap());
        let delivered = read_and_commit(&store, &queue, &q, picked, T0 + 4).await;
        let ids: Vec<_> = delivered.iter().map(|m| m.message_id).collect();
        assert_eq!(ids, [b.message_id]);
        let counts = store.counts(&q, T0 + 5).await.unwrap();
        assert_eq!((counts.visible, counts.in_flight), (0, 1));
    }

    /// Compaction moves a reserved message's record and reclaims the old
    /// segment before the receive reads it: the read follows the message.
    #[tokio::test]
    async fn a_record_relocated_while_reserved_is_read_at_its_new_place() {
        let (store, dyn_store, _dir) = open(4096).await;
        let q = create(&dyn_store, "moving", &[]).await;
        let scratch = create(&dyn_store, "scratch", &[]).await;
        let target = message(&format!("target-{}", "y".repeat(200)));
        store.send(&q, vec![target.clone()], T0).await.unwrap();
        let churn: Vec<NewMessage> = (0..8)
            .map(|i| message(&format!("churn{i}-{}", "x".repeat(1200))))
            .collect();
        for m in &churn {
            store.send(&scratch, vec![m.clone()], T0 + 1).await.unwrap();
        }
        for m in &churn {
            assert!(store
                .delete_by_id(&scratch, m.message_id, T0 + 2)
                .await
                .unwrap());
        }
        let queue = store.live(q.queue_id).unwrap();
        let picked = reserved(decide(&store, &queue, &spec(100), T0 + 3).unwrap().0);
        assert_eq!(picked.len(), 1);
        let old = picked[0].pos;
        store.maintain().await.unwrap();
        store.maintain().await.unwrap();
        assert!(
            store.storage.read(old).is_err(),
            "compaction moved the record and reclaimed its segment"
        );
        let delivered = read_and_commit(&store, &queue, &q, picked, T0 + 4).await;
        assert_eq!(delivered.len(), 1);
        assert_eq!(delivered[0].message_id, target.message_id);
        assert_eq!(delivered[0].body, target.body);
        assert_eq!(delivered[0].receive_count, 1);
    }
}
