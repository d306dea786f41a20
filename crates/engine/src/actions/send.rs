//! SendMessage and SendMessageBatch: validate each entry and compute its
//! MD5s (no lock anywhere), choose the message ids, then one
//! [`QueueStore::send`](crate::store::QueueStore::send) for the whole call
//! (atomic: a batch is stored whole or not at all; FIFO deduplication and
//! sequence numbers are the store's). Bodies move into the store.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use storage::AttributeValue;

use crate::attributes::Settings;
use crate::front::{Counters, Front};
use crate::limits::*;
use crate::md5::{md5_of_attributes, md5_of_body};
use crate::store::{NewMessage, SendOutcome};
use crate::types::{BatchFailure, BatchResult, Caller, QueueRef, SendEntry, SendResult};
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
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    entry: SendEntry,
) -> Result<SendResult, EngineError> {
    let mut result = send(front, caller, queue, vec![entry], false).await?;
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
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    entries: Vec<SendEntry>,
) -> Result<BatchResult<SendResult>, EngineError> {
    send(front, caller, queue, entries, true).await
}

/// What the answer of one stored entry needs besides the store's outcome.
struct Answer {
    id: String,
    message_id: [u8; 16],
    size: usize,
    md5_of_body: String,
    md5_of_attributes: Option<String>,
    md5_of_system_attributes: Option<String>,
}

async fn send(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    entries: Vec<SendEntry>,
    batch: bool,
) -> Result<BatchResult<SendResult>, EngineError> {
    let queue = front.queue(caller, queue_ref, "SendMessage").await?;
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
    let fifo = queue.fifo();
    if batch && fifo {
        fifo_batch_ids(&entries, queue.settings())?;
    }
    let mut failed = Vec::new();
    let mut answers = Vec::with_capacity(entries.len());
    let mut messages = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = entry.id.clone();
        match prepare(entry, queue.settings(), fifo, batch) {
            Ok(p) => {
                let message_id = *uuid::Uuid::new_v4().as_bytes();
                answers.push(Answer {
                    id: p.id,
                    message_id,
                    size: p.size,
                    md5_of_body: p.md5_of_body,
                    md5_of_attributes: p.md5_of_attributes,
                    md5_of_system_attributes: p.md5_of_system_attributes,
                });
                messages.push(NewMessage {
                    message_id,
                    body: p.body,
                    attributes: p.attributes,
                    trace_header: p.trace_header,
                    sender_id: caller.sender_id.clone(),
                    group_id: p.group,
                    dedup_id: p.dedup_id,
                    delay_ms: p.delay_ms,
                });
            }
            Err(error) if batch => failed.push(BatchFailure { id, error }),
            Err(error) => return Err(error),
        }
    }
    let outcomes = if messages.is_empty() {
        Vec::new()
    } else {
        front.store.send(queue.ctx(), messages, front.now()).await?
    };
    let mut successful = Vec::with_capacity(answers.len());
    let (mut sent, mut sent_bytes, mut deduplicated) = (0u64, 0u64, 0u64);
    for (answer, outcome) in answers.into_iter().zip(outcomes) {
        let (message_id, sequence) = match outcome {
            SendOutcome::Stored { sequence } => {
                sent += 1;
                sent_bytes += answer.size as u64;
                (answer.message_id, sequence)
            }
            SendOutcome::Duplicate {
                message_id,
                sequence,
            } => {
                deduplicated += 1;
                (message_id, sequence)
            }
        };
        successful.push(SendResult {
            id: answer.id,
            message_id: uuid::Uuid::from_bytes(message_id).to_string(),
            md5_of_body: answer.md5_of_body,
            md5_of_message_attributes: answer.md5_of_attributes,
            md5_of_message_system_attributes: answer.md5_of_system_attributes,
            sequence_number: fifo.then(|| sequence.to_string()),
        });
    }
    let counters = queue.counters();
    Counters::add(&counters.deduplicated, deduplicated);
    Counters::add(&counters.sent, sent);
    Counters::add(&counters.sent_bytes, sent_bytes);
    Ok(BatchResult { successful, failed })
}
