//! Compaction from the store's side: for each segment storage offers, every
//! record still live there that is the current state of something is
//! re-appended (a message as a fresh `MessageSent` carrying its current
//! receive state; a queue's `QueueUpserted`; a move task's latest update),
//! releasing the old copies; then storage deletes segments left empty.
//! Records are read outside the queue locks (a message's content never
//! changes while it lives in a queue, so a copy read before the lock is
//! current); a record that stopped being current meanwhile is skipped.

use storage::{Append, Record, RecordPos, StoredMessage};

use super::messages::NO_POS;
use super::queue::read_message;
use super::records::task_state;
use super::state::EmbeddedStore;
use crate::store::{MessageId, QueueId, StoreError};

/// One compaction pass; returns the bytes storage reclaimed.
pub(super) async fn compact(store: &EmbeddedStore) -> Result<u64, StoreError> {
    // Releases take effect only once their appends are synced: sync first so
    // the live fractions are current (this matters with `never`/`interval`).
    store.storage.sync().await?;
    let candidates = store.storage.compaction_candidates();
    if candidates.is_empty() {
        return Ok(0);
    }
    for segment in candidates {
        let mut tickets = Vec::new();
        for pos in store.storage.live_records(segment) {
            if let Some(ticket) = relocate(store, pos)? {
                tickets.push(ticket);
            }
        }
        for ticket in tickets {
            ticket.wait().await?;
        }
    }
    // Releases take effect once the releasing appends are synced.
    store.storage.sync().await?;
    Ok(store.storage.collect_garbage()?)
}

/// Reads the record at `pos`. Only a position released (and reclaimed)
/// since it was listed may be skipped: any other failure surfaces.
fn read_live(store: &EmbeddedStore, pos: RecordPos) -> Result<Option<Record>, StoreError> {
    match store.storage.read(pos) {
        Ok(record) => Ok(Some(record)),
        Err(storage::StorageError::BadPosition { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn relocate(store: &EmbeddedStore, pos: RecordPos) -> Result<Option<storage::Ticket>, StoreError> {
    let Some(record) = read_live(store, pos)? else {
        return Ok(None); // released and gone meanwhile
    };
    let (queue_id, message_id, sent) = match record {
        Record::MessageSent(m) => (m.queue_id, m.message_id, Some(m)),
        Record::MessageMoved { message, .. } => {
            (message.queue_id, message.message_id, Some(message))
        }
        Record::MessageReceived {
            queue_id,
            message_id,
            ..
        }
        | Record::VisibilityChanged {
            queue_id,
            message_id,
            ..
        } => (queue_id, message_id, None),
        Record::QueueUpserted(meta) => return relocate_queue(store, meta.queue_id, pos),
        Record::MoveTaskUpdated(state) => return relocate_task(store, &state, pos),
        _ => return Ok(None),
    };
    // A state record: its message's own record is read first, unlocked
    // (and only if the state record is still the message's current one).
    let (stored, message_pos) = match sent {
        Some(stored) => (stored, pos),
        None => {
            let Some(message_pos) = current_message_pos(store, queue_id, &message_id, pos) else {
                return Ok(None);
            };
            (read_message(&store.storage, message_pos)?, message_pos)
        }
    };
    let Some(queue) = store.registry.by_id(queue_id) else {
        return Ok(None);
    };
    let mut inner = queue.lock();
    let Some(slot) = inner.messages.slot_of(&message_id) else {
        return Ok(None);
    };
    let Some(msg) = inner.messages.get(slot).cloned() else {
        return Ok(None);
    };
    let current = if message_pos == pos {
        msg.pos == pos || msg.state_pos == pos
    } else {
        msg.state_pos == pos && msg.pos == message_pos
    };
    if !current {
        return Ok(None); // e.g. held for FIFO deduplication: released when the window ends
    }
    let relocated = StoredMessage {
        visible_at_ms: msg.visible_at_ms,
        receive_count: msg.receive_count,
        first_receive_ms: msg.first_receive_ms(),
        receipt_epoch: msg.epoch,
        ..stored
    };
    let mut release = vec![msg.pos];
    if msg.state_pos != NO_POS {
        release.push(msg.state_pos);
    }
    let ticket = store.storage.submit(Append {
        records: vec![Record::MessageSent(relocated)],
        release,
    })?;
    if let Some(m) = inner.messages.get_mut(slot) {
        m.pos = ticket.positions.first().copied().unwrap_or(m.pos);
        m.state_pos = NO_POS;
    }
    Ok(Some(ticket))
}

/// The position of a message's own record, if the state record at
/// `state_pos` is still its current one.
fn current_message_pos(
    store: &EmbeddedStore,
    queue_id: QueueId,
    id: &MessageId,
    state_pos: RecordPos,
) -> Option<RecordPos> {
    let queue = store.registry.by_id(queue_id)?;
    let inner = queue.lock();
    let slot = inner.messages.slot_of(id)?;
    inner
        .messages
        .get(slot)
        .filter(|m| m.state_pos == state_pos)
        .map(|m| m.pos)
}

fn relocate_queue(
    store: &EmbeddedStore,
    queue_id: QueueId,
    pos: RecordPos,
) -> Result<Option<storage::Ticket>, StoreError> {
    let Some(queue) = store.registry.by_id(queue_id) else {
        return Ok(None);
    };
    let mut inner = queue.lock();
    if inner.meta_pos != pos || inner.deleted {
        return Ok(None);
    }
    let ticket = store.storage.submit(Append {
        records: vec![Record::QueueUpserted(inner.meta.clone())],
        release: vec![pos],
    })?;
    // Same definition, same version: only its record moved.
    inner.meta_pos = ticket.positions.first().copied().unwrap_or(pos);
    Ok(Some(ticket))
}

fn relocate_task(
    store: &EmbeddedStore,
    state: &storage::MoveTaskState,
    pos: RecordPos,
) -> Result<Option<storage::Ticket>, StoreError> {
    let mut tasks = store.tasks.lock().unwrap_or_else(|e| e.into_inner());
    let Some(entry) = tasks.tasks.iter_mut().find(|t| t.pos == pos) else {
        return Ok(None);
    };
    if task_state(&entry.task).task_handle != state.task_handle {
        return Ok(None);
    }
    let ticket = store.storage.submit(Append {
        records: vec![Record::MoveTaskUpdated(task_state(&entry.task))],
        release: vec![pos],
    })?;
    entry.pos = ticket.positions.first().copied().unwrap_or(pos);
    Ok(Some(ticket))
}
