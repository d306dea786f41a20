//! SendMessage and SendMessageBatch: validate each entry, then under the
//! queue lock deduplicate (FIFO), assign ids and sequence numbers, submit one
//! append for the whole call, insert the messages as pending; after the
//! append is durable, make them receivable and wake long polls.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use storage::{Append, AttributeValue, Record, StoredMessage};

use crate::api::{BatchFailure, BatchResult, Caller, QueueRef, SendEntry, SendResult};
use crate::attributes::Settings;
use crate::fifo::{dedup_expiry, DedupEntry, QUEUE_SCOPE};
use crate::limits::*;
use crate::md5::{md5_of_attributes, md5_of_body};
use crate::messages::{NewMsg, NO_POS};
use crate::queue::Counters;
use crate::shared::Shared;
use crate::{validate, EngineError};

/// An entry that passed validation.
struct Prepared {
    id: String,
    body: String,
    attributes: BTreeMap<String, AttributeValue>,
    trace_header: Option<String>,
    delay_ms: u64,
    group: Option<String>,
    dedup_id: Option<String>,
    size: usize,
    md5_of_body: String,
    md5_of_attributes: Option<String>,
    md5_of_system_attributes: Option<String>,
}

/// Size of an entry as BatchRequestTooLong counts it (body + attributes).
fn entry_size(entry: &SendEntry) -> usize {
    entry.body.len()
        + entry
            .attributes
            .iter()
            .map(|(k, v)| k.len() + v.data_type.len() + v.value.len())
            .sum::<usize>()
}

fn prepare(
    entry: SendEntry,
    settings: &Settings,
    fifo: bool,
    batch: bool,
) -> Result<Prepared, EngineError> {
    validate::body(&entry.body)?;
    let attributes_size = validate::message_attributes(&entry.attributes)?;
    let trace_header = validate::system_attributes(&entry.system_attributes)?;
    let size = entry.body.len() + attributes_size;
    if size as u64 > settings.maximum_message_size {
        // SQS words the same limit differently for a batch entry.
        let lead = if batch {
            "One or more parameters cannot be validated."
        } else {
            "One or more parameters are invalid."
        };
        return Err(EngineError::InvalidParameterValue(format!(
            "{lead} Reason: Message must be shorter than {} bytes.",
            settings.maximum_message_size
        )));
    }
    // A FIFO queue takes no per-message delay, but an explicit 0 is no delay
    // at all: the queue's own DelaySeconds applies, as when it is absent.
    let delay_ms = match (fifo, entry.delay_seconds) {
        (true, Some(0)) | (_, None) => settings.delay_ms,
        (true, Some(d)) => {
            return Err(EngineError::InvalidParameterValue(format!(
                "Value {d} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
            )))
        }
        (false, Some(d)) => validate::int_range("DelaySeconds", d, 0, DELAY_MAX_SECONDS)? as u64 * 1000,
    };
    if let Some(group) = &entry.group_id {
        validate::fifo_id("MessageGroupId", group)?;
    }
    let dedup_id = if fifo {
        if entry.group_id.is_none() {
            return Err(EngineError::MissingParameter(
                "The request must contain the parameter MessageGroupId.".into(),
            ));
        }
        match &entry.dedup_id {
            Some(id) => {
                validate::fifo_id("MessageDeduplicationId", id)?;
                Some(id.clone())
            }
            None if settings.content_based_dedup => Some(hex::encode(Sha256::digest(entry.body.as_bytes()))),
            None => {
                return Err(EngineError::InvalidParameterValue(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
                ))
            }
        }
    } else {
        if entry.dedup_id.is_some() {
            return Err(EngineError::InvalidParameterValue(
                "The request include parameter MessageDeduplicationId that is not valid for this queue type".into(),
            ));
        }
        None
    };
    let md5_of_system_attributes = trace_header
        .as_ref()
        .and_then(|_| md5_of_attributes(&entry.system_attributes));
    Ok(Prepared {
        md5_of_body: md5_of_body(&entry.body),
        md5_of_attributes: md5_of_attributes(&entry.attributes),
        md5_of_system_attributes,
        id: entry.id,
        body: entry.body,
        attributes: entry.attributes,
        trace_header,
        delay_ms,
        group: entry.group_id,
        dedup_id,
        size,
    })
}

/// A FIFO batch in which any entry lacks its group id, or its dedup id while
/// content-based deduplication is off, fails as a whole (SQS does not report
/// these per entry).
fn fifo_batch_ids(entries: &[SendEntry], settings: &Settings) -> Result<(), EngineError> {
    if entries.iter().any(|e| e.group_id.is_none()) {
        return Err(EngineError::InvalidParameterValue(
            "The request must contain the parameter MessageGroupId.".into(),
        ));
    }
    if !settings.content_based_dedup && entries.iter().any(|e| e.dedup_id.is_none()) {
        return Err(EngineError::InvalidParameterValue(
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
        ));
    }
    Ok(())
}

/// SendMessage.
pub(crate) async fn send_one(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    entry: SendEntry,
) -> Result<SendResult, EngineError> {
    let mut result = send(shared, caller, queue, vec![entry], false).await?;
    if let Some(failure) = result.failed.pop() {
        return Err(failure.error);
    }
    result.successful.pop().ok_or_else(|| {
        EngineError::InvalidParameterValue(
            "The request must contain the parameter MessageBody.".into(),
        )
    })
}

/// SendMessageBatch.
pub(crate) async fn send_batch(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    entries: Vec<SendEntry>,
) -> Result<BatchResult<SendResult>, EngineError> {
    send(shared, caller, queue, entries, true).await
}

async fn send(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<SendEntry>,
    batch: bool,
) -> Result<BatchResult<SendResult>, EngineError> {
    let queue = shared.queue(caller, queue_ref, "SendMessage")?;
    if batch {
        validate::batch_ids(
            "SendMessageBatchRequestEntry",
            entries.iter().map(|e| e.id.as_str()),
        )?;
        let total: usize = entries.iter().map(entry_size).sum();
        if total > BATCH_SIZE_MAX_BYTES {
            return Err(EngineError::BatchRequestTooLong(total));
        }
    }
    let settings = queue.lock().settings.clone();
    if batch && queue.fifo {
        fifo_batch_ids(&entries, &settings)?;
    }
    let mut failed = Vec::new();
    let mut prepared = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = entry.id.clone();
        match prepare(entry, &settings, queue.fifo, batch) {
            Ok(p) => prepared.push(p),
            Err(error) if batch => failed.push(BatchFailure { id, error }),
            Err(error) => return Err(error),
        }
    }
    // Results in entry order: Ok(result) or a slot filled after the append.
    let mut results: Vec<SendResult> = Vec::with_capacity(prepared.len());
    let mut inserted = Vec::new(); // (slot, message id)
    let mut sent_bytes = 0u64;
    let mut deduplicated = 0u64;
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let now = shared.now();
        let mut records = Vec::with_capacity(prepared.len());
        let mut pending = Vec::new();
        for p in prepared {
            let group = p
                .group
                .as_deref()
                .map(|g| inner.fifo.intern(g))
                .unwrap_or(0);
            let scope = if inner.settings.dedup_per_group {
                group
            } else {
                QUEUE_SCOPE
            };
            if let Some(dedup_id) = &p.dedup_id {
                if let Some(existing) = inner.fifo.dedup_find(group, dedup_id, now) {
                    deduplicated += 1;
                    results.push(SendResult {
                        id: p.id,
                        message_id: uuid::Uuid::from_bytes(existing.message_id).to_string(),
                        md5_of_body: p.md5_of_body,
                        md5_of_message_attributes: p.md5_of_attributes,
                        md5_of_message_system_attributes: p.md5_of_system_attributes,
                        sequence_number: Some(existing.sequence.to_string()),
                    });
                    continue;
                }
            }
            let message_id = *uuid::Uuid::new_v4().as_bytes();
            let order = inner.fifo.next_sequence(now);
            if let Some(dedup_id) = &p.dedup_id {
                inner.fifo.dedup_insert(
                    scope,
                    dedup_id.clone(),
                    DedupEntry {
                        message_id,
                        sequence: order,
                        expires_ms: dedup_expiry(now),
                        held: None,
                    },
                );
            }
            let visible_at_ms = now + p.delay_ms;
            sent_bytes += p.size as u64;
            results.push(SendResult {
                id: p.id,
                message_id: uuid::Uuid::from_bytes(message_id).to_string(),
                md5_of_body: p.md5_of_body,
                md5_of_message_attributes: p.md5_of_attributes,
                md5_of_message_system_attributes: p.md5_of_system_attributes,
                sequence_number: queue.fifo.then(|| order.to_string()),
            });
            pending.push(NewMsg {
                id: message_id,
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
            records.push(Record::MessageSent(StoredMessage {
                queue_id: queue.id,
                message_id,
                body: p.body,
                attributes: p.attributes,
                trace_header: p.trace_header,
                sender_id: caller.sender_id.clone(),
                sent_ms: now,
                visible_at_ms,
                expires_at_ms: now + inner.settings.retention_ms,
                group_id: p.group,
                dedup_id: p.dedup_id,
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
            let ticket = shared.storage.submit(Append {
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
    Counters::add(&queue.counters.deduplicated, deduplicated);
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
            queue.notify.notify_waiters();
        }
        Counters::add(&queue.counters.sent, inserted.len() as u64);
        Counters::add(&queue.counters.sent_bytes, sent_bytes);
    }
    Ok(BatchResult {
        successful: results,
        failed,
    })
}
