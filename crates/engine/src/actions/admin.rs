//! Operator actions that are not SQS actions: browse a queue's messages
//! without receiving them (peek), delete one message by id, check a queue
//! declaration with CreateQueue's validation, and reset (delete every queue).
//! Used by the admin endpoint, the CLI and the web console; the server
//! authenticates the operator, so these take no [`crate::Caller`].
//!
//! A peek changes nothing: no visibility change, no receive count, no record
//! written.

use std::collections::BTreeMap;

use crate::front::{Counters, Front};
use crate::md5::md5_of_body;
use crate::types::{Page, PeekState, PeekedMessage, QueueRef};
use crate::EngineError;

/// Most messages one peek returns.
const PEEK_MAX: usize = 1000;

/// Peek: up to `max` messages in queue order (FIFO: sequence order; standard:
/// send order), starting after the cursor `after` (the `next_token` of the
/// previous page). Changes nothing.
pub(crate) async fn peek(
    front: &Front,
    queue_ref: &QueueRef,
    after: Option<&str>,
    max: usize,
) -> Result<Page<PeekedMessage>, EngineError> {
    let queue = front.find(queue_ref).await?;
    let after: Option<u128> = match after {
        None | Some("") => None,
        Some(text) => Some(text.parse().map_err(|_| {
            EngineError::InvalidParameterValue(format!("Invalid peek cursor {text}."))
        })?),
    };
    let max = max.clamp(1, PEEK_MAX);
    let now = front.now();
    // One more than asked: whether there is a next page.
    let mut entries = front.store.peek(queue.ctx(), after, max + 1, now).await?;
    let more = entries.len() > max;
    entries.truncate(max);
    let next_token = if more {
        entries.last().map(|e| e.order.to_string())
    } else {
        None
    };
    let items = entries
        .into_iter()
        .map(|entry| {
            let m = entry.message;
            let state = if m.visible_at_ms <= now {
                PeekState::Visible
            } else if m.receive_count > 0 {
                PeekState::InFlight {
                    visible_at_ms: m.visible_at_ms,
                }
            } else {
                PeekState::Delayed {
                    visible_at_ms: m.visible_at_ms,
                }
            };
            PeekedMessage {
                message_id: uuid::Uuid::from_bytes(m.message_id).to_string(),
                md5_of_body: md5_of_body(&m.body),
                body: m.body,
                message_attributes: m.attributes,
                sender_id: m.sender_id,
                sent_timestamp_ms: m.sent_ms,
                receive_count: m.receive_count,
                first_receive_timestamp_ms: (m.first_receive_ms != 0).then_some(m.first_receive_ms),
                group_id: m.group_id,
                dedup_id: m.dedup_id,
                sequence_number: m.sequence_number.map(|s| s.to_string()),
                trace_header: m.trace_header,
                dead_letter_source_arn: m.dead_letter_source_arn,
                state,
            }
        })
        .collect();
    Ok(Page { items, next_token })
}

/// Deletes one message by id whatever its state (an operator's delete, not a
/// receipt-handle delete). Returns false when there is no such message.
pub(crate) async fn delete_by_id(
    front: &Front,
    queue_ref: &QueueRef,
    message_id: &str,
) -> Result<bool, EngineError> {
    let queue = front.find(queue_ref).await?;
    let Ok(id) = uuid::Uuid::parse_str(message_id) else {
        return Ok(false);
    };
    let deleted = front
        .store
        .delete_by_id(queue.ctx(), *id.as_bytes(), front.now())
        .await?;
    if deleted {
        Counters::add(&queue.counters().deleted, 1);
    }
    Ok(deleted)
}

/// Checks a queue declaration the way CreateQueue checks its input (name,
/// attributes, tags), without creating anything. The dead-letter target of a
/// RedrivePolicy is checked only when the queue is created or changed.
pub(crate) fn check_queue(
    name: &str,
    attributes: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<(), EngineError> {
    crate::attributes::create_queue(name, attributes, tags).map(|_| ())
}

/// Deletes every queue of every account (and their messages); the deleted
/// names can be created again at once. Returns how many queues were deleted.
pub(crate) async fn reset(front: &Front) -> Result<usize, EngineError> {
    let mut deleted = 0;
    for queue in front.all_queues().await? {
        let queue_id = queue.ctx().queue_id;
        if front.store.delete_queue(queue_id, front.now()).await? {
            deleted += 1;
        }
        front.forget(queue_id);
    }
    front.note_reset(front.now());
    Ok(deleted)
}
