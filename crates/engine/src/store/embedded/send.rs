//! Send: under the queue lock deduplicate (FIFO), assign sequence numbers,
//! submit one append for the whole batch and insert the messages as pending;
//! once the append is durable, make them receivable and wake the queue.
//! Bodies move from the request into the log records (never copied).

use storage::{Append, Record};

use super::fifo::{dedup_expiry, DedupEntry, QUEUE_SCOPE};
use super::messages::{NewMsg, NO_POS};
use super::state::EmbeddedStore;
use crate::store::{NewMessage, QueueCtx, SendOutcome, StoreError};

/// Stores `messages` atomically.
pub(super) async fn send(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    messages: Vec<NewMessage>,
    now: u64,
) -> Result<Vec<SendOutcome>, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut inserted = Vec::new(); // (slot, message id)
    let ticket = {
        let mut inner = queue.lock_live()?;
        let mut records = Vec::with_capacity(messages.len());
        let mut pending = Vec::with_capacity(messages.len());
        for m in messages {
            let group = m
                .group_id
                .as_deref()
                .map(|g| inner.fifo.intern(g))
                .unwrap_or(0);
            if let Some(dedup_id) = &m.dedup_id {
                if let Some(existing) = inner.fifo.dedup_find(group, dedup_id, now) {
                    outcomes.push(SendOutcome::Duplicate {
                        message_id: existing.message_id,
                        sequence: u128::from(existing.sequence),
                    });
                    continue;
                }
            }
            let order = inner.fifo.next_sequence(now);
            if let Some(dedup_id) = &m.dedup_id {
                let scope = if inner.dedup_per_group {
                    group
                } else {
                    QUEUE_SCOPE
                };
                inner.fifo.dedup_insert(
                    scope,
                    dedup_id.clone(),
                    DedupEntry {
                        message_id: m.message_id,
                        sequence: order,
                        expires_ms: dedup_expiry(now),
                        held: None,
                    },
                );
            }
            let visible_at_ms = now + m.delay_ms;
            outcomes.push(SendOutcome::Stored {
                sequence: u128::from(order),
            });
            pending.push(NewMsg {
                id: m.message_id,
                pos: NO_POS,
                state_pos: NO_POS,
                order,
                sent_ms: now,
                visible_at_ms,
                first_receive_ms: 0,
                receive_count: 0,
                epoch: 0,
                group,
            });
            records.push(Record::MessageSent(storage::StoredMessage {
                queue_id: queue.id,
                message_id: m.message_id,
                body: m.body,
                attributes: m.attributes,
                trace_header: m.trace_header,
                sender_id: m.sender_id,
                sent_ms: now,
                visible_at_ms,
                expires_at_ms: now + inner.retention_ms,
                group_id: m.group_id,
                dedup_id: m.dedup_id,
                sequence_number: queue.fifo.then_some(u128::from(order)),
                dead_letter_source_arn: None,
                receive_count: 0,
                first_receive_ms: 0,
                receipt_epoch: 0,
            }));
        }
        if records.is_empty() {
            None
        } else {
            let ticket = store.storage.submit(Append {
                records,
                release: vec![],
            })?;
            for (mut new, pos) in pending.into_iter().zip(ticket.positions.iter().copied()) {
                new.pos = pos;
                let id = new.id;
                let slot = inner.messages.insert_pending(new, now);
                inserted.push((slot, id));
            }
            Some(ticket)
        }
    };
    if let Some(ticket) = ticket {
        let outcome = ticket.wait().await;
        let mut inner = queue.lock();
        if let Err(error) = outcome {
            for (slot, id) in &inserted {
                if inner.messages.get(*slot).is_some_and(|m| m.id == *id) {
                    inner.messages.remove(*slot);
                }
            }
            return Err(error.into());
        }
        let mut visible = false;
        for (slot, id) in &inserted {
            visible |= inner.messages.finish_pending(*slot, id);
        }
        drop(inner);
        if visible {
            store.wake(queue.id);
        }
    }
    Ok(outcomes)
}
