//! Delete and visibility changes, each conditional on the delivery epoch
//! the receipt handle carries (the front decoded it), and the operator's
//! delete by id. Due timers run first: whether a delivery's timeout has
//! passed decides what a handle may still do.

use storage::{Append, Record};

use super::messages::NO_POS;
use super::state::EmbeddedStore;
use crate::store::{
    DeleteOutcome, Delivery, MessageId, QueueCtx, StoreError, VisibilityChange, VisibilityOutcome,
};

/// Deletes deliveries (see [`crate::store::QueueStore::delete`]).
pub(super) async fn delete(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    deliveries: &[Delivery],
    allow_expired: bool,
    now: u64,
) -> Result<Vec<DeleteOutcome>, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let mut outcomes = Vec::with_capacity(deliveries.len());
    let (ticket, woke) = {
        let mut inner = queue.lock_live()?;
        let woke = store.run_due_locked(&mut inner, now);
        let mut records = Vec::new();
        let mut release = Vec::new();
        let mut ended = Vec::new();
        for delivery in deliveries {
            let Some(slot) = inner.messages.slot_of(&delivery.message_id) else {
                outcomes.push(DeleteOutcome::Gone);
                continue;
            };
            let Some(msg) = inner.messages.get(slot) else {
                outcomes.push(DeleteOutcome::Gone);
                continue;
            };
            if msg.epoch != delivery.epoch {
                outcomes.push(DeleteOutcome::Superseded);
                continue;
            }
            if !allow_expired && !msg.in_flight() {
                outcomes.push(DeleteOutcome::Expired);
                continue;
            }
            let Some(msg) = inner.messages.remove(slot) else {
                outcomes.push(DeleteOutcome::Gone);
                continue;
            };
            release.extend(inner.release_list(&msg, now));
            ended.push(msg.pos);
            records.push(Record::MessageDeleted {
                queue_id: queue.id,
                message_id: msg.id,
            });
            outcomes.push(DeleteOutcome::Deleted);
        }
        let ticket = if records.is_empty() {
            None
        } else {
            let ticket = store.storage.submit(Append { records, release })?;
            store.pin_ended(&ended, &ticket);
            Some(ticket)
        };
        (ticket, woke)
    };
    let removed = ticket.is_some();
    if let Some(ticket) = ticket {
        ticket.wait().await?;
    }
    // A delete can unblock a FIFO group (its in-flight head is gone) or
    // free in-flight capacity: let long polls look again.
    if woke || removed {
        store.wake(queue.id);
    }
    Ok(outcomes)
}

/// Changes visibility of deliveries (see
/// [`crate::store::QueueStore::change_visibility`]).
pub(super) async fn change_visibility(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    changes: &[VisibilityChange],
    cap_ms: u64,
    now: u64,
) -> Result<Vec<VisibilityOutcome>, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut woke = false;
    let ticket = {
        let mut inner = queue.lock_live()?;
        woke |= store.run_due_locked(&mut inner, now);
        let mut records = Vec::new();
        let mut release = Vec::new();
        let mut slots = Vec::new();
        for change in changes {
            let delivery = change.delivery;
            let Some(slot) = inner.messages.slot_of(&delivery.message_id) else {
                outcomes.push(VisibilityOutcome::Gone);
                continue;
            };
            let Some(msg) = inner.messages.get(slot) else {
                outcomes.push(VisibilityOutcome::Gone);
                continue;
            };
            if msg.epoch != delivery.epoch {
                // An earlier delivery: the message was received again since,
                // and the newer delivery is not this handle's to change.
                outcomes.push(VisibilityOutcome::Superseded);
                continue;
            }
            let in_flight = msg.in_flight();
            let old_state = (msg.state_pos != NO_POS).then_some(msg.state_pos);
            let (receive_count, first_receive_ms) = (msg.receive_count, msg.first_receive_ms());
            let visible_at_ms = change.visible_at_ms;
            if in_flight {
                if inner
                    .messages
                    .delivered_at_ms(slot)
                    .is_some_and(|at| visible_at_ms > at + cap_ms)
                {
                    outcomes.push(VisibilityOutcome::CapExceeded);
                    continue;
                }
                inner.messages.change_visibility(slot, now, visible_at_ms);
                woke |= visible_at_ms <= now;
            } else if visible_at_ms <= now {
                // Its timeout expired and nobody received it since: it is
                // visible, and a deadline of now leaves it so.
                outcomes.push(VisibilityOutcome::Changed);
                continue;
            } else if !inner.messages.rehide(slot, visible_at_ms) {
                outcomes.push(VisibilityOutcome::NotInFlight);
                continue;
            }
            // The new state record replaces the message's last
            // `MessageReceived` (which is released), so it carries the whole
            // delivery state: once the released record's segment is
            // reclaimed, a restart still knows the receive count,
            // first-receive time and delivery epoch.
            records.push(Record::MessageReceived {
                queue_id: queue.id,
                message_id: delivery.message_id,
                receipt_epoch: delivery.epoch,
                visible_at_ms,
                receive_count,
                first_receive_ms,
            });
            release.extend(old_state);
            slots.push(slot);
            outcomes.push(VisibilityOutcome::Changed);
        }
        if records.is_empty() {
            None
        } else {
            let ticket = store.storage.submit(Append { records, release })?;
            for (slot, pos) in slots.into_iter().zip(ticket.positions.iter().copied()) {
                if let Some(m) = inner.messages.get_mut(slot) {
                    m.state_pos = pos;
                }
            }
            Some(ticket)
        }
    };
    if let Some(ticket) = ticket {
        ticket.wait().await?;
    }
    if woke {
        store.wake(queue.id);
    }
    Ok(outcomes)
}

/// Deletes a message by id whatever its state; false when absent.
pub(super) async fn delete_by_id(
    store: &EmbeddedStore,
    ctx: &QueueCtx,
    id: MessageId,
    now: u64,
) -> Result<bool, StoreError> {
    let queue = store.live(ctx.queue_id)?;
    let ticket = {
        let mut inner = queue.lock_live()?;
        let Some(slot) = inner.messages.slot_of(&id) else {
            return Ok(false);
        };
        if inner.messages.get(slot).is_none_or(|m| m.pending()) {
            return Ok(false);
        }
        let Some(msg) = inner.messages.remove(slot) else {
            return Ok(false);
        };
        let release = inner.release_list(&msg, now);
        let ticket = store.storage.submit(Append {
            records: vec![Record::MessageDeleted {
                queue_id: queue.id,
                message_id: id,
            }],
            release,
        })?;
        store.pin_ended(&[msg.pos], &ticket);
        ticket
    };
    ticket.wait().await?;
    store.wake(queue.id);
    Ok(true)
}
