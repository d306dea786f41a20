//! ReceiveMessage: pick visible messages under the queue lock (dead-letter
//! moves for those past maxReceiveCount), log one append with a
//! MessageReceived per message (and a MessageMoved per dead-lettered one),
//! wait until it is durable, answer. With nothing to return, wait on the
//! queue's `Notify` until the wait time ends.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use storage::{Append, MessageId, Record, StoredMessage, Ticket};

use crate::api::{Caller, QueueRef, ReceiveRequest, ReceivedMessage};
use crate::limits::*;
use crate::md5::{md5_of_attributes, md5_of_body};
use crate::messages::{Msg, NewMsg, NO_POS};
use crate::queue::{lock_pair, read_message, Counters, Queue};
use crate::receipt::Receipt;
use crate::shared::Shared;
use crate::{validate, EngineError};

/// What one attempt produced.
struct Attempt {
    messages: Vec<ReceivedMessage>,
    ticket: Option<Ticket>,
    dead_lettered: Vec<(u32, MessageId)>,
    dlq: Option<Arc<Queue>>,
}

/// ReceiveMessage.
pub(crate) async fn receive(
    shared: &Shared,
    caller: &Caller,
    queue_ref: &QueueRef,
    request: ReceiveRequest,
) -> Result<Vec<ReceivedMessage>, EngineError> {
    let queue = shared.queue(caller, queue_ref, "ReceiveMessage")?;
    let max = validate::int_range(
        "MaxNumberOfMessages",
        request.max_number_of_messages.unwrap_or(1),
        1,
        RECEIVE_MAX_MESSAGES,
    )? as usize;
    let visibility = request
        .visibility_timeout
        .map(|v| validate::int_range("VisibilityTimeout", v, 0, VISIBILITY_TIMEOUT_MAX_SECONDS))
        .transpose()?;
    let wait_seconds = match request.wait_time_seconds {
        Some(w) => validate::wait_time_seconds(w)?,
        None => queue.lock().settings.wait_seconds,
    };
    if let (true, Some(id)) = (queue.fifo, &request.receive_request_attempt_id) {
        validate::fifo_id("ReceiveRequestAttemptId", id)?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_seconds as u64);
    loop {
        let notified = queue.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let attempt = try_receive(shared, &queue, max, visibility, &request)?;
        if let Some(attempt) = attempt {
            let moved_any = !attempt.dead_lettered.is_empty();
            let messages = finish(&queue, attempt).await?;
            if !messages.is_empty() || !moved_any {
                if messages.is_empty() {
                    Counters::add(&queue.counters.empty_receives, 1);
                }
                return Ok(messages);
            }
            continue;
        }
        if tokio::time::Instant::now() >= deadline || shared.stopping() {
            Counters::add(&queue.counters.empty_receives, 1);
            return Ok(Vec::new());
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

async fn finish(queue: &Queue, attempt: Attempt) -> Result<Vec<ReceivedMessage>, EngineError> {
    if let Some(ticket) = attempt.ticket {
        ticket.wait().await?;
    }
    if let Some(dlq) = &attempt.dlq {
        if !attempt.dead_lettered.is_empty() {
            let mut visible = false;
            {
                let mut inner = dlq.lock();
                for (slot, id) in &attempt.dead_lettered {
                    visible |= inner.messages.finish_pending(*slot, id);
                }
            }
            if visible {
                dlq.notify.notify_waiters();
            }
            Counters::add(
                &queue.counters.dead_lettered,
                attempt.dead_lettered.len() as u64,
            );
        }
    }
    Counters::add(&queue.counters.received, attempt.messages.len() as u64);
    Ok(attempt.messages)
}

fn try_receive(
    shared: &Shared,
    queue: &Queue,
    max: usize,
    visibility: Option<i64>,
    request: &ReceiveRequest,
) -> Result<Option<Attempt>, EngineError> {
    let redrive = queue.lock().settings.redrive.clone();
    let dlq = redrive
        .as_ref()
        .and_then(|r| shared.queue_by_arn(&r.target_arn));
    let (mut src, mut dst) = lock_pair(queue, dlq.as_deref());
    if src.deleted {
        return Err(EngineError::QueueDoesNotExist);
    }
    let now = shared.now();
    crate::timers::run_due_locked(shared, queue, &mut src, now);
    if queue.fifo {
        if let Some(id) = &request.receive_request_attempt_id {
            if let Some(previous) = src.fifo.attempt(id, now) {
                return Ok(Some(Attempt {
                    messages: previous.messages.clone(),
                    ticket: None,
                    dead_lettered: vec![],
                    dlq: None,
                }));
            }
        }
    }
    let in_flight = src.messages.in_flight_count();
    let limit = if queue.fifo {
        IN_FLIGHT_MAX_FIFO
    } else {
        IN_FLIGHT_MAX_STANDARD
    };
    if in_flight >= limit {
        if queue.fifo {
            return Ok(None);
        }
        return Err(EngineError::OverLimit(format!(
            "Too many messages in flight: the limit is {IN_FLIGHT_MAX_STANDARD} per queue."
        )));
    }
    let max = max.min(limit - in_flight);
    // Redrive only when the policy still names the DLQ we locked.
    let max_receives = match (&dst, &src.settings.redrive, &dlq) {
        (Some(_), Some(r), Some(d)) if r.target_arn == d.arn => Some(r.max_receive_count),
        _ => None,
    };
    let retention_ms = src.settings.retention_ms;
    let picked = src.messages.pick(max);
    let mut chosen: Vec<(u32, StoredMessage)> = Vec::with_capacity(picked.len());
    let mut to_move: Vec<(u32, StoredMessage)> = Vec::new();
    let mut release = Vec::new();
    for (i, &slot) in picked.iter().enumerate() {
        if src.messages.expired(slot, now, retention_ms) {
            if let Some(m) = src.messages.remove(slot) {
                let list = src.release_list(&m, now);
                shared.release(&list);
            }
            continue;
        }
        let Some(msg) = src.messages.get(slot) else {
            continue;
        };
        let (pos, count) = (msg.pos, msg.receive_count);
        let stored = match read_message(&shared.storage, pos) {
            Ok(stored) => stored,
            Err(e) => {
                src.messages.unpick(&picked[i..]);
                let back: Vec<u32> = chosen
                    .iter()
                    .chain(to_move.iter())
                    .map(|(s, _)| *s)
                    .collect();
                src.messages.unpick(&back);
                return Err(e);
            }
        };
        match max_receives {
            Some(limit) if count >= limit => to_move.push((slot, stored)),
            _ => chosen.push((slot, stored)),
        }
    }
    if chosen.is_empty() && to_move.is_empty() {
        return Ok(None);
    }
    let visibility_ms = match visibility {
        Some(v) => v as u64 * 1000,
        None => src.settings.visibility_timeout_ms,
    };
    let mut records = Vec::with_capacity(chosen.len() + to_move.len());
    let mut received: Vec<(u32, Msg, StoredMessage)> = Vec::with_capacity(chosen.len());
    for (slot, stored) in chosen {
        let Some(msg) = src
            .messages
            .mark_received(slot, now, now + visibility_ms)
            .cloned()
        else {
            continue;
        };
        if msg.state_pos != NO_POS {
            release.push(msg.state_pos);
        }
        records.push(Record::MessageReceived {
            queue_id: queue.id,
            message_id: msg.id,
            receipt_epoch: msg.epoch,
            visible_at_ms: msg.visible_at_ms,
            receive_count: msg.receive_count,
            first_receive_ms: msg.first_receive_ms(),
        });
        received.push((slot, msg, stored));
    }
    let mut moved_new: Vec<NewMsg> = Vec::new();
    let mut ended = Vec::new();
    if let (Some(dst), Some(dlq)) = (dst.as_mut(), dlq.as_ref()) {
        for (slot, mut stored) in to_move {
            let Some(m) = src.messages.remove(slot) else {
                continue;
            };
            release.extend(src.release_list(&m, now));
            ended.push(m.pos);
            let group = stored
                .group_id
                .as_deref()
                .map(|g| dst.fifo.intern(g))
                .unwrap_or(0);
            let order = dst.fifo.next_sequence(now);
            stored.queue_id = dlq.id;
            stored.dead_letter_source_arn = Some(queue.arn.clone());
            stored.visible_at_ms = now;
            stored.receive_count = m.receive_count;
            stored.first_receive_ms = m.first_receive_ms();
            stored.receipt_epoch = m.epoch;
            if dlq.fifo {
                stored.sequence_number = Some(u128::from(order));
            }
            moved_new.push(NewMsg {
                id: m.id,
                pos: NO_POS,
                state_pos: NO_POS,
                order,
                sent_ms: stored.sent_ms,
                visible_at_ms: now,
                first_receive_ms: m.first_receive_ms(),
                receive_count: m.receive_count,
                epoch: m.epoch,
                group,
            });
            records.push(Record::MessageMoved {
                from_queue: queue.id,
                message: stored,
                task_handle: None,
            });
        }
    }
    let ticket = shared.storage.submit(Append { records, release })?;
    shared.pin_ended(&ended, &ticket);
    let mut positions = ticket.positions.iter().copied();
    for (slot, _, _) in &received {
        if let (Some(pos), Some(m)) = (positions.next(), src.messages.get_mut(*slot)) {
            m.state_pos = pos;
        }
    }
    let mut dead_lettered = Vec::new();
    if let Some(dst) = dst.as_mut() {
        for (mut new, pos) in moved_new.into_iter().zip(positions) {
            new.pos = pos;
            let id = new.id;
            let slot = dst.messages.insert_pending(new, now);
            dead_lettered.push((slot, id));
        }
    }
    let messages: Vec<ReceivedMessage> = received
        .iter()
        .map(|(_, msg, stored)| {
            let handle = Receipt {
                queue_id: queue.id,
                message_id: msg.id,
                epoch: msg.epoch,
            }
            .encode(&src.key);
            render(stored, msg, handle, request)
        })
        .collect();
    if queue.fifo {
        if let Some(id) = &request.receive_request_attempt_id {
            src.fifo.remember_attempt(id.clone(), now, messages.clone());
        }
    }
    drop(dst);
    drop(src);
    Ok(Some(Attempt {
        messages,
        ticket: Some(ticket),
        dead_lettered,
        dlq,
    }))
}

/// Does a `MessageAttributeNames` entry select the attribute `name`? `All`,
/// `.*` and `*` select every attribute; a name ending in `.*` selects the
/// names that start with what precedes it (`Hel.*` → `Hello`, `Help.Me`);
/// anything else selects exactly that name.
fn attribute_filter_matches(filter: &str, name: &str) -> bool {
    match filter {
        "All" | ".*" | "*" => true,
        _ => match filter.strip_suffix(".*") {
            Some(prefix) => name.starts_with(prefix),
            None => filter == name,
        },
    }
}

fn wants(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n == "All" || n == name)
}

/// Builds the answer for one received message with the requested attributes.
fn render(
    stored: &StoredMessage,
    msg: &Msg,
    receipt_handle: String,
    request: &ReceiveRequest,
) -> ReceivedMessage {
    let names = &request.system_attribute_names;
    let mut attributes = BTreeMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            if wants(names, name) {
                attributes.insert(name.to_string(), value);
            }
        }
    };
    put("SenderId", Some(stored.sender_id.clone()));
    put("SentTimestamp", Some(stored.sent_ms.to_string()));
    put(
        "ApproximateReceiveCount",
        Some(msg.receive_count.to_string()),
    );
    put(
        "ApproximateFirstReceiveTimestamp",
        Some(msg.first_receive_ms().to_string()),
    );
    put(
        "SequenceNumber",
        stored.sequence_number.map(|s| s.to_string()),
    );
    put("MessageDeduplicationId", stored.dedup_id.clone());
    put("MessageGroupId", stored.group_id.clone());
    put("AWSTraceHeader", stored.trace_header.clone());
    put(
        "DeadLetterQueueSourceArn",
        stored.dead_letter_source_arn.clone(),
    );
    let filters = &request.message_attribute_names;
    let message_attributes: BTreeMap<String, storage::AttributeValue> = stored
        .attributes
        .iter()
        .filter(|(name, _)| filters.iter().any(|f| attribute_filter_matches(f, name)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ReceivedMessage {
        message_id: uuid::Uuid::from_bytes(msg.id).to_string(),
        receipt_handle,
        md5_of_body: md5_of_body(&stored.body),
        body: stored.body.clone(),
        attributes,
        md5_of_message_attributes: md5_of_attributes(&message_attributes),
        message_attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::attribute_filter_matches as matches;

    #[test]
    fn message_attribute_filters() {
        for all in ["All", ".*", "*"] {
            assert!(matches(all, "anything.at_all"), "{all}");
        }
        assert!(matches("Hel.*", "Hello"));
        assert!(matches("Hel.*", "Help.Me"));
        assert!(matches("Hel.*", "Hel"));
        assert!(!matches("Hel.*", "hello"));
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.bc"));
        assert!(!matches("all", "x"));
    }
}
