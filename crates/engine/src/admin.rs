//! Operator actions that are not SQS actions: browse a queue's messages
//! without receiving them (peek), delete one message by id, check a queue
//! declaration with CreateQueue's validation, and reset (delete every queue).
//! Used by the
//! admin endpoint, the CLI and the web console; the server authenticates the
//! operator, so these take no [`crate::Caller`].
//!
//! A peek changes nothing: no visibility change, no receive count, no record
//! written. Bodies are read outside the queue lock.

use std::collections::BinaryHeap;

use storage::{Append, AttributeValue, MessageId, Record, RecordPos};

use crate::api::{Page, QueueRef};
use crate::md5::md5_of_body;
use crate::queue::{read_message, Counters};
use crate::shared::Shared;
use crate::EngineError;

/// Where a peeked message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeekState {
    /// Receivable now.
    Visible,
    /// Received; invisible until the given time (epoch ms).
    InFlight {
        /// Visible again at, epoch ms.
        visible_at_ms: u64,
    },
    /// Never received; delayed until the given time (epoch ms).
    Delayed {
        /// Visible at, epoch ms.
        visible_at_ms: u64,
    },
}

/// One message as an operator sees it, with everything SQS stores about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedMessage {
    /// Message id (UUID string).
    pub message_id: String,
    /// Body.
    pub body: String,
    /// Hex MD5 of the body.
    pub md5_of_body: String,
    /// Message attributes.
    pub message_attributes: std::collections::BTreeMap<String, AttributeValue>,
    /// SenderId system attribute.
    pub sender_id: String,
    /// SentTimestamp, epoch ms.
    pub sent_timestamp_ms: u64,
    /// ApproximateReceiveCount.
    pub receive_count: u32,
    /// ApproximateFirstReceiveTimestamp, epoch ms (`None`: never received).
    pub first_receive_timestamp_ms: Option<u64>,
    /// FIFO message group id (or fair-queue tenant).
    pub group_id: Option<String>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<String>,
    /// `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// ARN of the queue a dead-lettered message came from.
    pub dead_letter_source_arn: Option<String>,
    /// Visible, in flight or delayed.
    pub state: PeekState,
}

/// What a peek remembers of a message before reading its record.
struct Candidate {
    order: u64,
    id: MessageId,
    pos: RecordPos,
    receive_count: u32,
    first_receive_ms: u64,
    state: PeekState,
}

/// Peek: up to `max` messages in queue order (FIFO: sequence order; standard:
/// send order), starting after the cursor `after` (the `next_token` of the
/// previous page). Changes nothing.
pub(crate) fn peek(
    shared: &Shared,
    queue_ref: &QueueRef,
    after: Option<&str>,
    max: usize,
) -> Result<Page<PeekedMessage>, EngineError> {
    let queue = shared
        .registry
        .get(&queue_ref.account, &queue_ref.name)
        .ok_or(EngineError::QueueDoesNotExist)?;
    let after: Option<u64> = match after {
        None | Some("") => None,
        Some(text) => Some(text.parse().map_err(|_| {
            EngineError::InvalidParameterValue(format!("Invalid peek cursor {text}."))
        })?),
    };
    let max = max.clamp(1, 1000);
    let now = shared.now();
    // The `max + 1` smallest orders after the cursor (a max-heap of the best so far).
    let mut best: BinaryHeap<(u64, usize)> = BinaryHeap::with_capacity(max + 2);
    let mut candidates: Vec<Candidate> = Vec::new();
    {
        let inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let retention_ms = inner.settings.retention_ms;
        for (_, m) in inner.messages.iter() {
            if m.pending() || after.is_some_and(|a| m.order <= a) {
                continue;
            }
            if m.sent_ms.saturating_add(retention_ms) <= now {
                continue; // expired, not yet swept
            }
            if best.len() <= max {
                best.push((m.order, candidates.len()));
            } else if best.peek().is_some_and(|&(top, _)| m.order < top) {
                best.pop();
                best.push((m.order, candidates.len()));
            } else {
                continue;
            }
            let state = if m.in_flight() && m.visible_at_ms > now {
                PeekState::InFlight {
                    visible_at_ms: m.visible_at_ms,
                }
            } else if m.delayed() && m.visible_at_ms > now {
                PeekState::Delayed {
                    visible_at_ms: m.visible_at_ms,
                }
            } else {
                PeekState::Visible
            };
            candidates.push(Candidate {
                order: m.order,
                id: m.id,
                pos: m.pos,
                receive_count: m.receive_count,
                first_receive_ms: m.first_receive_ms(),
                state,
            });
        }
    }
    let mut chosen: Vec<usize> = best.into_iter().map(|(_, i)| i).collect();
    chosen.sort_by_key(|&i| candidates.get(i).map_or(u64::MAX, |c| c.order));
    let more = chosen.len() > max;
    chosen.truncate(max);
    let mut items = Vec::with_capacity(chosen.len());
    let mut last_order = None;
    for i in chosen {
        let Some(c) = candidates.get(i) else { continue };
        last_order = Some(c.order);
        let Some(stored) = read_current(shared, &queue, c)? else {
            continue; // deleted or moved away since the scan
        };
        items.push(PeekedMessage {
            message_id: uuid::Uuid::from_bytes(c.id).to_string(),
            md5_of_body: md5_of_body(&stored.body),
            body: stored.body,
            message_attributes: stored.attributes,
            sender_id: stored.sender_id,
            sent_timestamp_ms: stored.sent_ms,
            receive_count: c.receive_count,
            first_receive_timestamp_ms: (c.first_receive_ms != 0).then_some(c.first_receive_ms),
            group_id: stored.group_id,
            dedup_id: stored.dedup_id,
            sequence_number: stored.sequence_number.map(|s| s.to_string()),
            trace_header: stored.trace_header,
            dead_letter_source_arn: stored.dead_letter_source_arn,
            state: c.state,
        });
    }
    Ok(Page {
        items,
        next_token: if more {
            last_order.map(|o| o.to_string())
        } else {
            None
        },
    })
}

/// Reads a candidate's stored message outside the queue lock; if the read
/// fails (compaction moved the record meanwhile), looks the message up again
/// once. `None` when the message is gone.
fn read_current(
    shared: &Shared,
    queue: &crate::queue::Queue,
    c: &Candidate,
) -> Result<Option<storage::StoredMessage>, EngineError> {
    if let Ok(stored) = read_message(&shared.storage, c.pos) {
        if stored.message_id == c.id {
            return Ok(Some(stored));
        }
    }
    let pos = {
        let inner = queue.lock();
        let Some(slot) = inner.messages.slot_of(&c.id) else {
            return Ok(None);
        };
        match inner.messages.get(slot) {
            Some(m) => m.pos,
            None => return Ok(None),
        }
    };
    read_message(&shared.storage, pos).map(Some)
}

/// Deletes one message by id whatever its state (an operator's delete, not a
/// receipt-handle delete). Returns false when there is no such message.
pub(crate) async fn delete_by_id(
    shared: &Shared,
    queue_ref: &QueueRef,
    message_id: &str,
) -> Result<bool, EngineError> {
    let queue = shared
        .registry
        .get(&queue_ref.account, &queue_ref.name)
        .ok_or(EngineError::QueueDoesNotExist)?;
    let Ok(id) = uuid::Uuid::parse_str(message_id) else {
        return Ok(false);
    };
    let id = *id.as_bytes();
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let now = shared.now();
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
        let ticket = shared.storage.submit(Append {
            records: vec![Record::MessageDeleted {
                queue_id: queue.id,
                message_id: id,
            }],
            release,
        })?;
        shared.pin_ended(&[msg.pos], &ticket);
        ticket
    };
    ticket.wait().await?;
    queue.notify.notify_waiters();
    Counters::add(&queue.counters.deleted, 1);
    Ok(true)
}

/// Checks a queue declaration the way CreateQueue checks its input (name,
/// attributes, tags), without creating anything. The dead-letter target of a
/// RedrivePolicy is checked only when the queue is created or changed.
pub(crate) fn check_queue(
    name: &str,
    attributes: &std::collections::BTreeMap<String, String>,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), EngineError> {
    crate::queues::check_create(name, attributes, tags).map(|_| ())
}

/// Deletes every queue of every account (and their messages), then forgets
/// the deleted names so they can be created again at once. Returns how many
/// queues were deleted.
pub(crate) async fn reset(shared: &Shared) -> Result<usize, EngineError> {
    let mut deleted = 0;
    for queue in shared.registry.all() {
        let owner = crate::Caller {
            account: queue.reference.account.clone(),
            sender_id: queue.reference.account.clone(),
        };
        match crate::queues::delete(shared, &owner, &queue.reference).await {
            Ok(()) => deleted += 1,
            Err(EngineError::QueueDoesNotExist) => {} // deleted meanwhile
            Err(e) => return Err(e),
        }
    }
    shared.registry.forget_deleted_before(u64::MAX);
    Ok(deleted)
}
