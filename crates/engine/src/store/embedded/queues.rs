//! Queue definitions (create, compare-and-set update, delete), purge, and
//! the read-only views (counts, next visibility).

use std::sync::Arc;

use storage::{Append, Record};

use super::messages::NO_POS;
use super::queue::Queue;
use super::records::queue_state;
use super::state::EmbeddedStore;
use crate::attributes::LAST_PURGE_ATTRIBUTE;
use crate::store::{
    CreateOutcome, PurgeOutcome, QueueCounts, QueueCtx, QueueDef, QueueId, StoreError,
    UpdateOutcome,
};

/// CreateQueue (see [`crate::store::QueueStore::create_queue`]). The store
/// draws the queue id: time-based (`created_ms`) and strictly increasing.
pub(super) async fn create(
    store: &EmbeddedStore,
    mut def: QueueDef,
    recreate_guard_ms: u64,
    max_queues: usize,
) -> Result<CreateOutcome, StoreError> {
    let _admin = store.admin.lock().await;
    if let Some(existing) = store.registry.get(&def.account, &def.name) {
        if let Some(record) = existing.record() {
            return Ok(CreateOutcome::Exists(record));
        }
    }
    let now = def.created_ms;
    if recreate_guard_ms > 0
        && store
            .registry
            .deleted_at(&def.account, &def.name)
            .is_some_and(|at| now < at.saturating_add(recreate_guard_ms))
    {
        return Ok(CreateOutcome::DeletedRecently);
    }
    if store.registry.count_for(&def.account) >= max_queues {
        return Ok(CreateOutcome::QuotaReached);
    }
    def.queue_id = store.registry.next_id(now);
    let meta = queue_state(def);
    let ticket = store.storage.submit(Append {
        records: vec![Record::QueueUpserted(meta.clone())],
        release: vec![],
    })?;
    let pos = ticket.positions.first().copied().unwrap_or(NO_POS);
    ticket.wait().await?;
    let queue = Arc::new(Queue::new(meta, pos));
    let record = queue.lock().record();
    store.registry.insert(queue);
    Ok(CreateOutcome::Created(record))
}

/// Replaces a definition if its version is still `expected_version`.
pub(super) async fn update(
    store: &EmbeddedStore,
    def: QueueDef,
    expected_version: u64,
) -> Result<UpdateOutcome, StoreError> {
    let Some(queue) = store.registry.by_id(def.queue_id) else {
        return Ok(UpdateOutcome::Gone);
    };
    let (ticket, record) = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Ok(UpdateOutcome::Gone);
        }
        if inner.version != expected_version {
            return Ok(UpdateOutcome::Conflict(inner.record()));
        }
        // Identity and creation time are the queue's, whatever `def` says.
        let meta = storage::QueueState {
            queue_id: queue.id,
            account: queue.account.clone(),
            name: queue.name.clone(),
            created_ms: inner.meta.created_ms,
            ..queue_state(def)
        };
        let ticket = store.storage.submit(Append {
            records: vec![Record::QueueUpserted(meta.clone())],
            release: vec![inner.meta_pos],
        })?;
        let pos = ticket.positions.first().copied().unwrap_or(inner.meta_pos);
        inner.set_meta(meta, pos);
        (ticket, inner.record())
    };
    ticket.wait().await?;
    Ok(UpdateOutcome::Updated(record))
}

/// DeleteQueue: one tombstone; its messages go with it.
pub(super) async fn delete(
    store: &EmbeddedStore,
    queue_id: QueueId,
    now: u64,
) -> Result<bool, StoreError> {
    let _admin = store.admin.lock().await;
    let Some(queue) = store.registry.by_id(queue_id) else {
        return Ok(false);
    };
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Ok(false);
        }
        let mut release = vec![inner.meta_pos];
        for msg in inner.messages.clear() {
            release.push(msg.pos);
            if msg.state_pos != NO_POS {
                release.push(msg.state_pos);
            }
        }
        release.extend(inner.fifo.held_positions());
        let record = Record::QueueDeleted {
            queue_id: queue.id,
            account: queue.account.clone(),
            name: queue.name.clone(),
            at_ms: now,
        };
        let ticket = store.storage.submit(Append {
            records: vec![record],
            release,
        })?;
        inner.deleted = true;
        ticket
    };
    store.registry.remove(queue.id, now);
    // Long polls on it answer at once (they find it gone).
    store.wake(queue.id);
    ticket.wait().await?;
    Ok(true)
}

/// PurgeQueue: one tombstone for everything sent so far; the purge time
/// rides in the queue's (live) definition record.
pub(super) async fn purge(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    min_interval_ms: u64,
    now: u64,
) -> Result<PurgeOutcome, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let ticket = {
        let mut inner = queue.lock_live()?;
        if let Some(at) = inner.last_purge_ms {
            if min_interval_ms > 0 && now < at.saturating_add(min_interval_ms) {
                return Ok(PurgeOutcome::TooSoon { last_purge_ms: at });
            }
        }
        // A purge also ends every deduplication window (SQS: a send with a
        // dedup id seen before the purge is delivered), so nothing stays held.
        let mut release = vec![inner.meta_pos];
        release.extend(inner.fifo.clear_dedup());
        for msg in inner.messages.clear() {
            release.extend(inner.release_list(&msg, now));
        }
        let mut meta = inner.meta.clone();
        meta.attributes
            .insert(LAST_PURGE_ATTRIBUTE.into(), now.to_string());
        let ticket = store.storage.submit(Append {
            records: vec![
                Record::QueuePurged {
                    queue_id: queue.id,
                    at_ms: now,
                },
                Record::QueueUpserted(meta.clone()),
            ],
            release,
        })?;
        let meta_pos = ticket.positions.get(1).copied().unwrap_or(inner.meta_pos);
        inner.set_meta(meta, meta_pos);
        inner.last_purge_ms = Some(now);
        inner.fifo.forget_attempts();
        ticket
    };
    ticket.wait().await?;
    Ok(PurgeOutcome::Purged)
}

/// Message counts at `now` (due timers run first).
pub(super) fn counts(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    now: u64,
) -> Result<QueueCounts, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let (counts, woke) = {
        let mut inner = queue.lock_live()?;
        let woke = store.run_due_locked(&mut inner, now);
        let c = inner.messages.counts();
        let counts = QueueCounts {
            visible: c.visible,
            in_flight: c.in_flight,
            delayed: c.delayed,
            oldest_sent_ms: inner.messages.oldest_sent_ms(),
        };
        (counts, woke)
    };
    if woke {
        store.wake(queue.id);
    }
    Ok(counts)
}

/// The earliest time a delayed or in-flight message becomes visible.
pub(super) fn next_visible_at(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    _now: u64,
) -> Result<Option<u64>, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let inner = queue.lock_live()?;
    Ok(inner.messages.next_due())
}
