//! ReceiveMessage: validate, then ask the store for up to `max` messages
//! ([`QueueStore::receive`](crate::store::QueueStore::receive): it delivers
//! and dead-letters atomically); render each with a receipt handle and the
//! requested attributes. With nothing to return, wait on the queue's
//! `Notify` (woken by the store's waker) or until the store's
//! `next_visible_at`, whichever comes first, until the wait time ends.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::front::{Counters, Front, QueueView};
use crate::limits::*;
use crate::md5::{md5_of_attributes, md5_of_body};
use crate::receipt::Receipt;
use crate::store::{ReceiveOutcome, ReceiveSpec, RedriveSpec, StoredMessage};
use crate::types::{Caller, QueueRef, ReceiveRequest, ReceivedMessage};
use crate::{validate, EngineError};

/// Shortest sleep of a long poll that waits for a message to become visible
/// at a known time (a store that reports a time already past is asked again
/// after this, never in a tight loop).
const FALLBACK_FLOOR: Duration = Duration::from_millis(10);

/// ReceiveMessage.
pub(crate) async fn receive(
    front: &Front,
    caller: &Caller,
    queue_ref: &QueueRef,
    request: ReceiveRequest,
) -> Result<Vec<ReceivedMessage>, EngineError> {
    let mut queue = front.queue(caller, queue_ref, "ReceiveMessage").await?;
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
        None => queue.settings().wait_seconds,
    };
    let fifo = queue.fifo();
    if let (true, Some(id)) = (fifo, &request.receive_request_attempt_id) {
        validate::fifo_id("ReceiveRequestAttemptId", id)?;
    }
    let attempt_id = request.receive_request_attempt_id.clone().filter(|_| fifo);
    let in_flight_limit = if fifo {
        IN_FLIGHT_MAX_FIFO
    } else {
        IN_FLIGHT_MAX_STANDARD
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_seconds as u64);
    loop {
        let local = queue.local.clone();
        let notified = local.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // The definition is read anew on every try: a changed
        // VisibilityTimeout or RedrivePolicy applies to the next one.
        let spec = ReceiveSpec {
            max,
            visibility_ms: match visibility {
                Some(v) => v as u64 * 1000,
                None => queue.settings().visibility_timeout_ms,
            },
            in_flight_limit,
            redrive: redrive(front, &queue).await?,
            attempt_id: attempt_id.clone(),
        };
        let now = front.now();
        match front.store.receive(queue.ctx(), &spec, now).await? {
            ReceiveOutcome::OverLimit => {
                return Err(EngineError::OverLimit(format!(
                    "Too many messages in flight: the limit is {IN_FLIGHT_MAX_STANDARD} per queue."
                )))
            }
            ReceiveOutcome::Delivered {
                delivered,
                dead_lettered,
            } => {
                let counters = queue.counters();
                Counters::add(&counters.dead_lettered, u64::from(dead_lettered));
                if !delivered.is_empty() {
                    Counters::add(&counters.received, delivered.len() as u64);
                    return Ok(delivered
                        .into_iter()
                        .map(|m| render(m, &queue, &request))
                        .collect());
                }
                if dead_lettered > 0 {
                    // Everything picked went to the dead-letter queue: look again.
                    queue = reread(front, &queue).await?;
                    continue;
                }
            }
        }
        if tokio::time::Instant::now() >= deadline || front.stopping() {
            Counters::add(&queue.counters().empty_receives, 1);
            return Ok(Vec::new());
        }
        let wake_at = match front.store.next_visible_at(queue.ctx(), now).await? {
            Some(at) => {
                let wait = Duration::from_millis(at.saturating_sub(now)).max(FALLBACK_FLOOR);
                deadline.min(tokio::time::Instant::now() + wait)
            }
            None => deadline,
        };
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(wake_at) => {}
        }
        queue = reread(front, &queue).await?;
    }
}

/// The queue's current definition (it may have changed or gone meanwhile).
async fn reread(front: &Front, queue: &QueueView) -> Result<QueueView, EngineError> {
    front
        .queue_by_id(queue.ctx().queue_id)
        .await?
        .ok_or(EngineError::QueueDoesNotExist)
}

/// Where over-limit messages go: the RedrivePolicy's target, when it exists
/// and is another queue (a queue that is its own dead-letter queue never
/// moves a message).
async fn redrive(front: &Front, queue: &QueueView) -> Result<Option<RedriveSpec>, EngineError> {
    let Some(policy) = &queue.settings().redrive else {
        return Ok(None);
    };
    if policy.target_arn == queue.arn() {
        return Ok(None);
    }
    Ok(front
        .queue_by_arn(&policy.target_arn)
        .await?
        .map(|dlq| RedriveSpec {
            dlq: dlq.ctx().clone(),
            max_receive_count: policy.max_receive_count,
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

/// Builds the answer for one received message with the requested
/// attributes (the body and the selected attributes move into it).
fn render(m: StoredMessage, queue: &QueueView, request: &ReceiveRequest) -> ReceivedMessage {
    let receipt_handle = Receipt {
        queue_id: queue.ctx().queue_id,
        message_id: m.message_id,
        epoch: m.epoch,
    }
    .encode(&queue.derived.key);
    let names = &request.system_attribute_names;
    let mut attributes = BTreeMap::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            if wants(names, name) {
                attributes.insert(name.to_string(), value);
            }
        }
    };
    put("SenderId", Some(m.sender_id));
    put("SentTimestamp", Some(m.sent_ms.to_string()));
    put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
    put(
        "ApproximateFirstReceiveTimestamp",
        Some(m.first_receive_ms.to_string()),
    );
    put("SequenceNumber", m.sequence_number.map(|s| s.to_string()));
    put("MessageDeduplicationId", m.dedup_id);
    put("MessageGroupId", m.group_id);
    put("AWSTraceHeader", m.trace_header);
    put("DeadLetterQueueSourceArn", m.dead_letter_source_arn);
    let filters = &request.message_attribute_names;
    let message_attributes: BTreeMap<String, storage::AttributeValue> = m
        .attributes
        .into_iter()
        .filter(|(name, _)| filters.iter().any(|f| attribute_filter_matches(f, name)))
        .collect();
    ReceivedMessage {
        message_id: uuid::Uuid::from_bytes(m.message_id).to_string(),
        receipt_handle,
        md5_of_body: md5_of_body(&m.body),
        body: m.body,
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
