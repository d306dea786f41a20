//! DeleteMessage and ChangeMessageVisibility (single and batch), keyed by
//! receipt handle: the front checks each handle's MAC and decodes it to the
//! delivery it names; the store acts on each delivery conditionally on its
//! epoch; the front turns the store's outcomes into SQS answers.
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

use crate::front::{Counters, Front, QueueView};
use crate::limits::*;
use crate::receipt::Receipt;
use crate::store::{DeleteOutcome, Delivery, VisibilityChange, VisibilityOutcome};
use crate::types::{BatchFailure, BatchResult, Caller, DeleteEntry, QueueRef, VisibilityEntry};
use crate::{validate, EngineError};

/// The delivery a handle names, if its MAC checks out for this queue.
fn decode(queue: &QueueView, handle: &str) -> Result<Delivery, EngineError> {
    Receipt::decode(handle, queue.ctx().queue_id, &queue.derived.key)
        .map(|r| Delivery {
            message_id: r.message_id,
            epoch: r.epoch,
        })
        .ok_or_else(|| EngineError::ReceiptHandleIsInvalid(handle.to_string()))
}

/// `InvalidParameterValue` for a handle whose delivery is over.
fn expired(handle: &str) -> EngineError {
    EngineError::InvalidParameterValue(format!(
        "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    ))
}

/// One request entry: for the store (with its batch id), or failed in the
/// front already.
enum Entry<T> {
    ToStore(String, T),
    Failed(BatchFailure),
}

/// Splits entries into what goes to the store and what failed in the front.
fn split<T>(entries: Vec<Entry<T>>) -> (Vec<T>, Vec<Entry<()>>) {
    let mut to_store = Vec::new();
    let mut order = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Entry::ToStore(id, item) => {
                to_store.push(item);
                order.push(Entry::ToStore(id, ()));
            }
            Entry::Failed(failure) => order.push(Entry::Failed(failure)),
        }
    }
    (to_store, order)
}

/// Puts the answers back in request order.
fn assemble<O>(
    order: Vec<Entry<()>>,
    outcomes: Vec<O>,
    mut answer: impl FnMut(O) -> Result<(), EngineError>,
) -> BatchResult<String> {
    let mut outcomes = outcomes.into_iter();
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for entry in order {
        match entry {
            Entry::Failed(failure) => failed.push(failure),
            Entry::ToStore(id, ()) => match outcomes.next().map(&mut answer) {
                Some(Err(error)) => failed.push(BatchFailure { id, error }),
                Some(Ok(())) | None => successful.push(id),
            },
        }
    }
    BatchResult { successful, failed }
}

/// The single entry's error, if it failed.
fn single(result: BatchResult<String>) -> Result<(), EngineError> {
    match result.failed.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(()),
    }
}

/// DeleteMessage.
pub(crate) async fn delete_one(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    handle: &str,
) -> Result<(), EngineError> {
    let entry = DeleteEntry {
        id: String::new(),
        receipt_handle: handle.to_string(),
    };
    single(delete(front, caller, queue_ref, vec![entry], false).await?)
}

/// DeleteMessageBatch.
pub(crate) async fn delete_batch(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<DeleteEntry>,
) -> Result<BatchResult<String>, EngineError> {
    delete(front, caller, queue_ref, entries, true).await
}

async fn delete(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<DeleteEntry>,
    batch: bool,
) -> Result<BatchResult<String>, EngineError> {
    let queue = front.queue(caller, queue_ref, "DeleteMessage").await?;
    if batch {
        validate::batch_ids(
            "DeleteMessageBatchRequestEntry",
            entries.iter().map(|e| e.id.as_str()),
        )?;
    }
    let fifo = queue.fifo();
    let decoded: Vec<Entry<(Delivery, String)>> = entries
        .into_iter()
        .map(|e| match decode(&queue, &e.receipt_handle) {
            Ok(delivery) => Entry::ToStore(e.id, (delivery, e.receipt_handle)),
            Err(error) => Entry::Failed(BatchFailure { id: e.id, error }),
        })
        .collect();
    let (to_store, order) = split(decoded);
    let (deliveries, handles): (Vec<Delivery>, Vec<String>) = to_store.into_iter().unzip();
    let outcomes = if deliveries.is_empty() {
        Vec::new()
    } else {
        // FIFO refuses any handle whose visibility timeout is over (its group
        // may already be served past it); a standard queue still deletes with
        // the latest delivery's handle.
        front
            .store
            .delete(queue.ctx(), &deliveries, !fifo, front.now())
            .await?
    };
    let mut deleted = 0u64;
    let mut handles = handles.into_iter();
    let result = assemble(order, outcomes, |outcome| {
        let handle = handles.next().unwrap_or_default();
        match outcome {
            DeleteOutcome::Deleted => {
                deleted += 1;
                Ok(())
            }
            DeleteOutcome::Gone => Ok(()),
            DeleteOutcome::Superseded if !fifo => Ok(()),
            DeleteOutcome::Superseded | DeleteOutcome::Expired => Err(expired(&handle)),
        }
    });
    Counters::add(&queue.counters().deleted, deleted);
    Ok(result)
}

/// ChangeMessageVisibility.
pub(crate) async fn change_visibility_one(
    front: &Front,
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
    single(change_visibility(front, caller, queue_ref, vec![entry], false).await?)
}

/// ChangeMessageVisibilityBatch.
pub(crate) async fn change_visibility_batch(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<VisibilityEntry>,
) -> Result<BatchResult<String>, EngineError> {
    change_visibility(front, caller, queue_ref, entries, true).await
}

async fn change_visibility(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<VisibilityEntry>,
    batch: bool,
) -> Result<BatchResult<String>, EngineError> {
    let queue = front
        .queue(caller, queue_ref, "ChangeMessageVisibility")
        .await?;
    if batch {
        validate::batch_ids(
            "ChangeMessageVisibilityBatchRequestEntry",
            entries.iter().map(|e| e.id.as_str()),
        )?;
    }
    let now = front.now();
    let checked: Vec<Entry<(VisibilityChange, String, i64)>> = entries
        .into_iter()
        .map(|e| {
            let timeout = validate::int_range(
                "VisibilityTimeout",
                e.visibility_timeout.unwrap_or(0),
                0,
                VISIBILITY_TIMEOUT_MAX_SECONDS,
            );
            match timeout.and_then(|t| Ok((t, decode(&queue, &e.receipt_handle)?))) {
                Ok((timeout, delivery)) => {
                    let change = VisibilityChange {
                        delivery,
                        visible_at_ms: now + timeout as u64 * 1000,
                    };
                    Entry::ToStore(e.id, (change, e.receipt_handle, timeout))
                }
                Err(error) => Entry::Failed(BatchFailure { id: e.id, error }),
            }
        })
        .collect();
    let (to_store, order) = split(checked);
    let mut changes = Vec::with_capacity(to_store.len());
    let mut details = Vec::with_capacity(to_store.len());
    for (change, handle, timeout) in to_store {
        changes.push(change);
        details.push((handle, timeout));
    }
    let outcomes = if changes.is_empty() {
        Vec::new()
    } else {
        let cap_ms = VISIBILITY_TIMEOUT_MAX_SECONDS as u64 * 1000;
        front
            .store
            .change_visibility(queue.ctx(), &changes, cap_ms, now)
            .await?
    };
    let mut details = details.into_iter();
    Ok(assemble(order, outcomes, |outcome| {
        let (handle, timeout) = details.next().unwrap_or_default();
        match outcome {
            // Superseded: the message was received again since, and the
            // newer delivery is not this handle's to extend or end (E1).
            VisibilityOutcome::Changed
            | VisibilityOutcome::Superseded
            | VisibilityOutcome::NotInFlight => Ok(()),
            VisibilityOutcome::Gone => Err(EngineError::InvalidParameterValue(format!(
                "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
            ))),
            VisibilityOutcome::CapExceeded => Err(EngineError::InvalidParameterValue(format!(
                "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [{VISIBILITY_TIMEOUT_MAX_SECONDS} seconds]."
            ))),
        }
    }))
}
