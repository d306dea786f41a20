//! DeleteMessage and ChangeMessageVisibility (single and batch), keyed by
//! receipt handle.
//!
//! Which handles act (invariant E1 in ARCHITECTURE.md): a handle names one
//! delivery (queue, message, epoch). Only the handle of the message's latest
//! delivery acts; a handle from an earlier delivery never deletes, hides or
//! extends the message, because since then it was delivered to someone else.
//!
//! | handle | DeleteMessage | ChangeMessageVisibility |
//! |---|---|---|
//! | latest delivery, in flight | deletes | new timeout |
//! | latest delivery, timeout expired, not received since | standard: deletes; FIFO: `InvalidParameterValue` (expired) | new timeout (hidden again) |
//! | earlier delivery (received again since) | standard: success, no effect; FIFO: `InvalidParameterValue` (expired) | success, no effect |
//! | message gone (deleted, expired, purged, moved) | success, no effect | `InvalidParameterValue` (does not exist) |
//! | forged, garbled, other queue | `ReceiptHandleIsInvalid` | `ReceiptHandleIsInvalid` |

use storage::{Append, Record, RecordPos};

use crate::api::{BatchFailure, BatchResult, Caller, DeleteEntry, QueueRef, VisibilityEntry};
use crate::limits::*;
use crate::messages::NO_POS;
use crate::queue::{Counters, QueueInner};
use crate::receipt::Receipt;
use crate::shared::Shared;
use crate::{validate, EngineError};

fn decode(inner: &QueueInner, queue_id: u64, handle: &str) -> Result<Receipt, EngineError> {
    Receipt::decode(handle, queue_id, &inner.key)
        .ok_or_else(|| EngineError::ReceiptHandleIsInvalid(handle.to_string()))
}

/// Outcome of one delete under the lock.
enum Deleted {
    /// Removed: a record to log, positions to release, and the message's
    /// own record (which may stay held for deduplication).
    Removed(Box<Record>, Vec<RecordPos>, RecordPos),
    /// Nothing to do (already gone, or a stale handle).
    NoEffect,
}

/// `InvalidParameterValue` for a handle whose delivery is over.
fn expired(handle: &str) -> EngineError {
    EngineError::InvalidParameterValue(format!(
        "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    ))
}

fn delete_locked(
    queue_id: u64,
    fifo: bool,
    inner: &mut QueueInner,
    handle: &str,
    now: u64,
) -> Result<Deleted, EngineError> {
    let receipt = decode(inner, queue_id, handle)?;
    let Some(slot) = inner.messages.slot_of(&receipt.message_id) else {
        return Ok(Deleted::NoEffect);
    };
    let Some(msg) = inner.messages.get(slot) else {
        return Ok(Deleted::NoEffect);
    };
    let latest = msg.epoch == receipt.epoch;
    // FIFO refuses any handle whose visibility timeout is over (its group
    // may already be served past it); a standard queue still deletes with
    // the latest delivery's handle, and ignores older ones.
    if fifo && !(latest && msg.in_flight()) {
        return Err(expired(handle));
    }
    if !latest {
        return Ok(Deleted::NoEffect);
    }
    let Some(msg) = inner.messages.remove(slot) else {
        return Ok(Deleted::NoEffect);
    };
    let release = inner.release_list(&msg, now);
    Ok(Deleted::Removed(
        Box::new(Record::MessageDeleted {
            queue_id,
            message_id: msg.id,
        }),
        release,
        msg.pos,
    ))
}

/// DeleteMessage.
pub(crate) async fn delete_one(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    handle: &str,
) -> Result<(), EngineError> {
    let result = delete(
        shared,
        caller,
        queue_ref,
        vec![DeleteEntry {
            id: String::new(),
            receipt_handle: handle.to_string(),
        }],
        false,
    )
    .await?;
    match result.failed.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(()),
    }
}

/// DeleteMessageBatch.
pub(crate) async fn delete_batch(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<DeleteEntry>,
) -> Result<BatchResult<String>, EngineError> {
    delete(shared, caller, queue_ref, entries, true).await
}

async fn delete(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<DeleteEntry>,
    batch: bool,
) -> Result<BatchResult<String>, EngineError> {
    let queue = shared.queue(caller, queue_ref, "DeleteMessage")?;
    if batch {
        validate::batch_ids(
            "DeleteMessageBatchRequestEntry",
            entries.iter().map(|e| e.id.as_str()),
        )?;
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut removed = 0u64;
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let now = shared.now();
        // Expire due visibility timeouts first: whether a FIFO handle has
        // expired depends on it.
        crate::timers::run_due_locked(shared, &queue, &mut inner, now);
        let mut records = Vec::new();
        let mut release = Vec::new();
        let mut ended = Vec::new();
        for entry in entries {
            match delete_locked(queue.id, queue.fifo, &mut inner, &entry.receipt_handle, now) {
                Ok(Deleted::Removed(record, positions, pos)) => {
                    records.push(*record);
                    release.extend(positions);
                    ended.push(pos);
                    removed += 1;
                    successful.push(entry.id);
                }
                Ok(Deleted::NoEffect) => successful.push(entry.id),
                Err(error) => failed.push(BatchFailure {
                    id: entry.id,
                    error,
                }),
            }
        }
        if records.is_empty() {
            None
        } else {
            let ticket = shared.storage.submit(Append { records, release })?;
            shared.pin_ended(&ended, &ticket);
            Some(ticket)
        }
    };
    if let Some(ticket) = ticket {
        ticket.wait().await?;
    }
    if removed > 0 {
        // A delete can unblock a FIFO group (its in-flight head is gone) or
        // free in-flight capacity: let long polls look again.
        queue.notify.notify_waiters();
    }
    Counters::add(&queue.counters.deleted, removed);
    Ok(BatchResult { successful, failed })
}

/// A visibility change to log: the record, the state record it replaces,
/// and the message's slot.
type Changed = (Record, Option<RecordPos>, u32);

fn change_locked(
    queue_id: u64,
    inner: &mut QueueInner,
    handle: &str,
    timeout: Option<i64>,
    now: u64,
) -> Result<Option<Changed>, EngineError> {
    let timeout = validate::int_range(
        "VisibilityTimeout",
        timeout.unwrap_or(0),
        0,
        VISIBILITY_TIMEOUT_MAX_SECONDS,
    )?;
    let receipt = decode(inner, queue_id, handle)?;
    let gone = || {
        EngineError::InvalidParameterValue(format!(
            "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
        ))
    };
    let slot = inner
        .messages
        .slot_of(&receipt.message_id)
        .ok_or_else(gone)?;
    let msg = inner.messages.get(slot).ok_or_else(gone)?;
    if msg.epoch != receipt.epoch {
        // An earlier delivery: the message was received again since, and the
        // newer delivery is not this handle's to extend or end (E1).
        return Ok(None);
    }
    let in_flight = msg.in_flight();
    let old_state = (msg.state_pos != NO_POS).then_some(msg.state_pos);
    let (receipt_epoch, receive_count, first_receive_ms) =
        (msg.epoch, msg.receive_count, msg.first_receive_ms());
    let visible_at_ms = now + timeout as u64 * 1000;
    if in_flight {
        let cap_ms = VISIBILITY_TIMEOUT_MAX_SECONDS as u64 * 1000;
        if inner
            .messages
            .delivered_at_ms(slot)
            .is_some_and(|at| visible_at_ms > at + cap_ms)
        {
            return Err(EngineError::InvalidParameterValue(format!(
                "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [{VISIBILITY_TIMEOUT_MAX_SECONDS} seconds]."
            )));
        }
        inner.messages.change_visibility(slot, now, visible_at_ms);
    } else if timeout == 0 || !inner.messages.rehide(slot, visible_at_ms) {
        // Its timeout expired and nobody received it since: it is visible,
        // and a zero timeout leaves it so.
        return Ok(None);
    }
    // The new state record replaces the message's last `MessageReceived`
    // (which is released), so it must carry the whole delivery state: a
    // `VisibilityChanged` holds only the deadline, and once the released
    // `MessageReceived`'s segment was reclaimed a restart lost the receive
    // count, first-receive time and delivery epoch (live receipt handles
    // then failed as expired, and maxReceiveCount restarted from zero).
    Ok(Some((
        Record::MessageReceived {
            queue_id,
            message_id: receipt.message_id,
            receipt_epoch,
            visible_at_ms,
            receive_count,
            first_receive_ms,
        },
        old_state,
        slot,
    )))
}

/// ChangeMessageVisibility.
pub(crate) async fn change_visibility_one(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    handle: &str,
    timeout: i64,
) -> Result<(), EngineError> {
    let entry = VisibilityEntry {
        id: String::new(),
        receipt_handle: handle.to_string(),
        visibility_timeout: Some(timeout),
    };
    let result = change_visibility(shared, caller, queue_ref, vec![entry], false).await?;
    match result.failed.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(()),
    }
}

/// ChangeMessageVisibilityBatch.
pub(crate) async fn change_visibility_batch(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<VisibilityEntry>,
) -> Result<BatchResult<String>, EngineError> {
    change_visibility(shared, caller, queue_ref, entries, true).await
}

async fn change_visibility(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<VisibilityEntry>,
    batch: bool,
) -> Result<BatchResult<String>, EngineError> {
    let queue = shared.queue(caller, queue_ref, "ChangeMessageVisibility")?;
    if batch {
        validate::batch_ids(
            "ChangeMessageVisibilityBatchRequestEntry",
            entries.iter().map(|e| e.id.as_str()),
        )?;
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut became_visible = false;
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let now = shared.now();
        crate::timers::run_due_locked(shared, &queue, &mut inner, now);
        let mut records = Vec::new();
        let mut release = Vec::new();
        let mut slots = Vec::new();
        for entry in entries {
            match change_locked(
                queue.id,
                &mut inner,
                &entry.receipt_handle,
                entry.visibility_timeout,
                now,
            ) {
                Ok(Some((record, old, slot))) => {
                    became_visible |= entry.visibility_timeout.unwrap_or(0) == 0;
                    records.push(record);
                    release.extend(old);
                    slots.push(slot);
                    successful.push(entry.id);
                }
                Ok(None) => successful.push(entry.id),
                Err(error) => failed.push(BatchFailure {
                    id: entry.id,
                    error,
                }),
            }
        }
        if records.is_empty() {
            None
        } else {
            let ticket = shared.storage.submit(Append { records, release })?;
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
    if became_visible {
        queue.notify.notify_waiters();
    }
    Ok(BatchResult { successful, failed })
}
