//! Compaction from the engine's side: for each segment storage offers, every
//! record still live there that is the current state of something is
//! re-appended (a message as a fresh `MessageSent` carrying its current
//! receive state; a queue's `QueueUpserted`; a move task's latest update),
//! releasing the old copies; then storage deletes segments left empty.

use storage::{Append, Record, RecordPos, StoredMessage};

use crate::messages::NO_POS;
use crate::queue::read_message;
use crate::shared::Shared;
use crate::EngineError;

/// One compaction pass; returns the bytes storage reclaimed.
pub(crate) async fn compact(shared: &Shared) -> Result<u64, EngineError> {
    // Releases take effect only once their appends are synced: sync first so
    // the live fractions are current (this matters with `never`/`interval`).
    shared.storage.sync().await?;
    let candidates = shared.storage.compaction_candidates();
    if candidates.is_empty() {
        return Ok(0);
    }
    for segment in candidates {
        let mut tickets = Vec::new();
        for pos in shared.storage.live_records(segment) {
            if let Some(ticket) = relocate(shared, pos)? {
                tickets.push(ticket);
            }
        }
        for ticket in tickets {
            ticket.wait().await?;
        }
    }
    // Releases take effect once the releasing appends are synced.
    shared.storage.sync().await?;
    Ok(shared.storage.collect_garbage()?)
}

fn relocate(shared: &Shared, pos: RecordPos) -> Result<Option<storage::Ticket>, EngineError> {
    let record = match shared.storage.read(pos) {
        Ok(record) => record,
        Err(_) => return Ok(None), // released and gone meanwhile
    };
    let (queue_id, message_id) = match &record {
        Record::MessageSent(m) => (m.queue_id, m.message_id),
        Record::MessageMoved { message, .. } => (message.queue_id, message.message_id),
        Record::MessageReceived {
            queue_id,
            message_id,
            ..
        }
        | Record::VisibilityChanged {
            queue_id,
            message_id,
            ..
        } => (*queue_id, *message_id),
        Record::QueueUpserted(meta) => {
            let Some(queue) = shared.registry.by_id(meta.queue_id) else {
                return Ok(None);
            };
            let mut inner = queue.lock();
            if inner.meta_pos != pos || inner.deleted {
                return Ok(None);
            }
            let ticket = shared.storage.submit(Append {
                records: vec![Record::QueueUpserted(inner.meta.clone())],
                release: vec![pos],
            })?;
            inner.meta_pos = ticket.positions.first().copied().unwrap_or(pos);
            return Ok(Some(ticket));
        }
        Record::MoveTaskUpdated(state) => {
            let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
            let Some(task) = tasks
                .tasks
                .iter_mut()
                .find(|t| t.state.task_handle == state.task_handle)
            else {
                return Ok(None);
            };
            if task.pos != pos {
                return Ok(None);
            }
            let ticket = shared.storage.submit(Append {
                records: vec![Record::MoveTaskUpdated(task.state.clone())],
                release: vec![pos],
            })?;
            task.pos = ticket.positions.first().copied().unwrap_or(pos);
            return Ok(Some(ticket));
        }
        _ => return Ok(None),
    };
    let Some(queue) = shared.registry.by_id(queue_id) else {
        return Ok(None);
    };
    let mut inner = queue.lock();
    let Some(slot) = inner.messages.slot_of(&message_id) else {
        return Ok(None);
    };
    let Some(msg) = inner.messages.get(slot).cloned() else {
        return Ok(None);
    };
    if msg.pos != pos && msg.state_pos != pos {
        return Ok(None); // e.g. held for FIFO deduplication: released when the window ends
    }
    let stored: StoredMessage = match &record {
        Record::MessageSent(m) if msg.pos == pos => m.clone(),
        Record::MessageMoved { message, .. } if msg.pos == pos => message.clone(),
        _ => read_message(&shared.storage, msg.pos)?,
    };
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
    let ticket = shared.storage.submit(Append {
        records: vec![Record::MessageSent(relocated)],
        release,
    })?;
    if let Some(m) = inner.messages.get_mut(slot) {
        m.pos = ticket.positions.first().copied().unwrap_or(m.pos);
        m.state_pos = NO_POS;
    }
    Ok(Some(ticket))
}
