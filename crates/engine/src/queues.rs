//! Queue-level actions: create, URL lookup, list, delete, purge, attributes,
//! tags, permissions, dead-letter source listing.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use storage::{Append, QueueState, Record};

use crate::api::{Caller, Page, QueueRef};
use crate::attributes::{
    self, parse_redrive, RedriveAllow, LAST_PURGE_ATTRIBUTE, RECEIPT_KEY_ATTRIBUTE,
};
use crate::limits::*;
use crate::queue::Queue;
use crate::receipt::ReceiptKey;
use crate::shared::Shared;
use crate::{policy, validate, EngineError};

/// Checks a RedrivePolicy of queue `source_arn` against its target.
fn check_redrive(
    shared: &Shared,
    source_arn: &str,
    fifo: bool,
    text: &str,
) -> Result<(), EngineError> {
    let redrive = parse_redrive(text)?;
    let reason = |why: &str| {
        EngineError::InvalidParameterValue(format!(
            "Value {text} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    if redrive.target_arn == source_arn {
        // SQS accepts a queue as its own dead-letter queue (also when
        // creating it). Stowage then never moves its messages: a receive
        // past maxReceiveCount just delivers them again.
        return Ok(());
    }
    let target = shared
        .queue_by_arn(&redrive.target_arn)
        .ok_or_else(|| reason("Dead letter target does not exist."))?;
    if target.fifo != fifo {
        return Err(reason(
            "Dead-letter queue must be the same type of queue as the source queue (FIFO or standard).",
        ));
    }
    let allow = target.lock().settings.redrive_allow.clone();
    match allow {
        RedriveAllow::AllowAll => Ok(()),
        RedriveAllow::DenyAll => Err(reason(
            "The dead-letter queue's RedriveAllowPolicy denies all source queues.",
        )),
        RedriveAllow::ByQueue(sources) if sources.iter().any(|s| s == source_arn) => Ok(()),
        RedriveAllow::ByQueue(_) => Err(reason(
            "The dead-letter queue's RedriveAllowPolicy does not allow this source queue.",
        )),
    }
}

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), EngineError> {
    for (key, value) in tags {
        if key.is_empty()
            || key.chars().count() > TAG_KEY_MAX_CHARS
            || value.chars().count() > TAG_VALUE_MAX_CHARS
        {
            return Err(EngineError::InvalidParameterValue(format!(
                "Tag key must be 1 to {TAG_KEY_MAX_CHARS} characters and its value at most {TAG_VALUE_MAX_CHARS}: {key}"
            )));
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(EngineError::InvalidParameterValue(format!(
            "Too many tags: a queue can have at most {TAGS_MAX} tags."
        )));
    }
    Ok(())
}

/// What CreateQueue's own checks found.
pub(crate) struct Checked {
    /// A FIFO queue?
    pub(crate) fifo: bool,
    /// The given attributes, normalised (what an existing queue is compared with).
    pub(crate) normalized: BTreeMap<String, String>,
    /// The attributes to store.
    pub(crate) stored: BTreeMap<String, String>,
}

/// CreateQueue's checks of its own input (name, attributes, tags; not the
/// dead-letter target).
pub(crate) fn check_create(
    name: &str,
    given: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<Checked, EngineError> {
    validate::queue_name(name)?;
    let fifo = name.ends_with(".fifo");
    let fifo_attr = given
        .get("FifoQueue")
        .map(|v| v.eq_ignore_ascii_case("true"));
    if fifo && fifo_attr != Some(true) {
        return Err(EngineError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
        ));
    }
    let normalized = attributes::normalize(given, fifo, true)?;
    let mut stored = BTreeMap::new();
    attributes::merge(&mut stored, normalized.clone());
    attributes::check_combination(&stored)?;
    validate_tags(tags)?;
    Ok(Checked {
        fifo,
        normalized,
        stored,
    })
}

/// CreateQueue.
pub(crate) async fn create(
    shared: &Shared,
    caller: &Caller,
    name: &str,
    given: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> Result<QueueRef, EngineError> {
    let Checked {
        fifo,
        normalized,
        mut stored,
    } = check_create(name, &given, &tags)?;
    let arn = format!(
        "arn:aws:sqs:{}:{}:{}",
        shared.config.region, caller.account, name
    );
    if let Some(text) = stored.get("RedrivePolicy") {
        check_redrive(shared, &arn, fifo, text)?;
    }
    let _admin = shared.admin.lock().await;
    let now = shared.now();
    if let Some(existing) = shared.registry.get(&caller.account, name) {
        // Idempotent: only what the caller gives is compared (an application
        // that calls CreateQueue(name) at every start gets its URL back
        // whatever the queue's attributes and tags are now).
        let differing = {
            let inner = existing.lock();
            attributes::first_difference(&normalized, &inner.meta.attributes).or_else(|| {
                tags.iter()
                    .any(|(k, v)| inner.meta.tags.get(k) != Some(v))
                    .then(|| "tags".to_string())
            })
        };
        return match differing {
            None => Ok(existing.reference.clone()),
            Some(attribute) => Err(EngineError::QueueNameExists(attribute)),
        };
    }
    if shared.config.strict_timing
        && shared
            .registry
            .deleted_at(&caller.account, name)
            .is_some_and(|at| now < at + QUEUE_DELETED_RECENTLY_MS)
    {
        return Err(EngineError::QueueDeletedRecently);
    }
    if shared.registry.count_for(&caller.account) >= shared.config.max_queues_per_account {
        return Err(EngineError::OverLimit(format!(
            "You have reached the limit of {} queues per account.",
            shared.config.max_queues_per_account
        )));
    }
    stored.insert(RECEIPT_KEY_ATTRIBUTE.into(), ReceiptKey::random().to_hex());
    let meta = QueueState {
        queue_id: shared.registry.next_id(now),
        account: caller.account.clone(),
        name: name.to_string(),
        attributes: stored,
        tags,
        created_ms: now,
        last_modified_ms: now,
    };
    let ticket = shared.storage.submit(Append {
        records: vec![Record::QueueUpserted(meta.clone())],
        release: vec![],
    })?;
    let pos = ticket
        .positions
        .first()
        .copied()
        .unwrap_or(crate::messages::NO_POS);
    ticket.wait().await?;
    let queue = Arc::new(Queue::new(
        meta,
        pos,
        &shared.config.region,
        &shared.config.receipt_handle_secret,
    ));
    let reference = queue.reference.clone();
    shared.registry.insert(queue);
    Ok(reference)
}

/// GetQueueUrl.
pub(crate) fn get_url(
    shared: &Shared,
    caller: &Caller,
    name: &str,
    owner: Option<&str>,
) -> Result<QueueRef, EngineError> {
    let account = owner.unwrap_or(&caller.account);
    let queue = shared.queue(
        caller,
        &QueueRef {
            account: account.to_string(),
            name: name.to_string(),
        },
        "GetQueueUrl",
    )?;
    Ok(queue.reference.clone())
}

fn page_limit(max_results: Option<i64>) -> Result<Option<usize>, EngineError> {
    match max_results {
        None => Ok(None),
        Some(n) => Ok(Some(
            validate::int_range("MaxResults", n, 1, LIST_RESULTS_MAX)? as usize,
        )),
    }
}

fn decode_token(token: Option<&str>) -> Result<Option<String>, EngineError> {
    match token {
        None | Some("") => Ok(None),
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| EngineError::InvalidParameterValue("Invalid NextToken value.".into())),
    }
}

fn paginate(mut items: Vec<QueueRef>, limit: Option<usize>) -> Page<QueueRef> {
    match limit {
        Some(limit) if items.len() > limit => {
            items.truncate(limit);
            let next = items
                .last()
                .map(|q| URL_SAFE_NO_PAD.encode(q.name.as_bytes()));
            Page {
                items,
                next_token: next,
            }
        }
        _ => Page {
            items,
            next_token: None,
        },
    }
}

/// ListQueues.
pub(crate) fn list(
    shared: &Shared,
    caller: &Caller,
    prefix: Option<&str>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<Page<QueueRef>, EngineError> {
    let limit = page_limit(max_results)?;
    let after = decode_token(next_token)?;
    let fetch = limit.map_or(LIST_RESULTS_MAX as usize, |l| l + 1);
    let queues = shared.registry.list(
        &caller.account,
        prefix.unwrap_or(""),
        after.as_deref(),
        fetch,
    );
    Ok(paginate(
        queues.iter().map(|q| q.reference.clone()).collect(),
        limit,
    ))
}

/// ListDeadLetterSourceQueues.
pub(crate) fn dead_letter_sources(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<Page<QueueRef>, EngineError> {
    let dlq = shared.queue(caller, queue, "ListDeadLetterSourceQueues")?;
    let limit = page_limit(max_results)?;
    let after = decode_token(next_token)?;
    let mut sources: Vec<QueueRef> = shared
        .registry
        .all()
        .into_iter()
        .filter(|q| {
            q.lock()
                .settings
                .redrive
                .as_ref()
                .is_some_and(|r| r.target_arn == dlq.arn)
        })
        .map(|q| q.reference.clone())
        .filter(|r| after.as_deref().is_none_or(|a| r.name.as_str() > a))
        .collect();
    sources.sort();
    sources.truncate(limit.map_or(LIST_RESULTS_MAX as usize, |l| l + 1));
    Ok(paginate(sources, limit))
}

/// DeleteQueue: one tombstone; its messages go with it.
pub(crate) async fn delete(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "DeleteQueue")?;
    let _admin = shared.admin.lock().await;
    let now = shared.now();
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let mut release = vec![inner.meta_pos];
        for msg in inner.messages.clear() {
            release.push(msg.pos);
            if msg.state_pos != crate::messages::NO_POS {
                release.push(msg.state_pos);
            }
        }
        release.extend(inner.fifo.held_positions());
        let record = Record::QueueDeleted {
            queue_id: queue.id,
            account: queue.reference.account.clone(),
            name: queue.reference.name.clone(),
            at_ms: now,
        };
        let ticket = shared.storage.submit(Append {
            records: vec![record],
            release,
        })?;
        inner.deleted = true;
        ticket
    };
    shared.registry.remove(queue.id, now);
    queue.notify.notify_waiters();
    ticket.wait().await?;
    Ok(())
}

/// PurgeQueue: one tombstone for everything sent so far.
pub(crate) async fn purge(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "PurgeQueue")?;
    let now = shared.now();
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        if shared.config.strict_timing
            && inner
                .last_purge_ms
                .is_some_and(|at| now < at + PURGE_INTERVAL_MS)
        {
            return Err(EngineError::PurgeQueueInProgress(
                queue.reference.name.clone(),
            ));
        }
        // A purge also ends every deduplication window (SQS: a send with a
        // dedup id seen before the purge is delivered), so nothing stays held.
        let mut release = vec![inner.meta_pos];
        release.extend(inner.fifo.clear_dedup());
        for msg in inner.messages.clear() {
            release.extend(inner.release_list(&msg, now));
        }
        // The purge time also goes into the queue's (live) state record.
        let mut meta = inner.meta.clone();
        meta.attributes
            .insert(LAST_PURGE_ATTRIBUTE.into(), now.to_string());
        let ticket = shared.storage.submit(Append {
            records: vec![
                Record::QueuePurged {
                    queue_id: queue.id,
                    at_ms: now,
                },
                Record::QueueUpserted(meta.clone()),
            ],
            release,
        })?;
        let meta_pos = ticket.positions.get(1).copied().unwrap_or(inner.meta_pos);
        inner.set_meta(meta, meta_pos);
        inner.last_purge_ms = Some(now);
        inner.purge_epoch += 1;
        inner.fifo.forget_attempts();
        ticket
    };
    ticket.wait().await?;
    Ok(())
}

/// GetQueueAttributes.
pub(crate) fn get_attributes(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    names: &[String],
) -> Result<BTreeMap<String, String>, EngineError> {
    let queue = shared.queue(caller, queue, "GetQueueAttributes")?;
    for name in names {
        if !attributes::is_known_name(name, queue.fifo) {
            return Err(EngineError::InvalidAttributeName(format!(
                "Unknown Attribute {name}."
            )));
        }
    }
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    crate::timers::run_due_queue(shared, &queue, shared.now());
    let all = queue.lock().all_attributes(&queue.arn, queue.fifo);
    if names.iter().any(|n| n == "All") {
        return Ok(all);
    }
    Ok(all.into_iter().filter(|(k, _)| names.contains(k)).collect())
}

/// Writes a new QueueUpserted after `change` edits a copy of the state.
async fn upsert(
    shared: &Shared,
    queue: &Queue,
    change: impl FnOnce(&mut QueueState) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    let now = shared.now();
    let ticket = {
        let mut inner = queue.lock();
        if inner.deleted {
            return Err(EngineError::QueueDoesNotExist);
        }
        let mut meta = inner.meta.clone();
        change(&mut meta)?;
        meta.last_modified_ms = now.max(meta.last_modified_ms);
        let ticket = shared.storage.submit(Append {
            records: vec![Record::QueueUpserted(meta.clone())],
            release: vec![inner.meta_pos],
        })?;
        let pos = ticket.positions.first().copied().unwrap_or(inner.meta_pos);
        inner.set_meta(meta, pos);
        ticket
    };
    ticket.wait().await?;
    queue.notify.notify_waiters();
    Ok(())
}

/// SetQueueAttributes.
pub(crate) async fn set_attributes(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    given: BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "SetQueueAttributes")?;
    let changes = attributes::normalize(&given, queue.fifo, false)?;
    if let Some(text) = changes.get("RedrivePolicy").filter(|t| !t.is_empty()) {
        check_redrive(shared, &queue.arn, queue.fifo, text)?;
    }
    upsert(shared, &queue, |meta| {
        attributes::merge(&mut meta.attributes, changes);
        attributes::check_combination(&meta.attributes)
    })
    .await
}

/// ListQueueTags.
pub(crate) fn list_tags(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
) -> Result<BTreeMap<String, String>, EngineError> {
    let queue = shared.queue(caller, queue, "ListQueueTags")?;
    let tags = queue.lock().meta.tags.clone();
    Ok(tags)
}

/// TagQueue.
pub(crate) async fn tag(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    tags: BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "TagQueue")?;
    if tags.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter Tags.".into(),
        ));
    }
    upsert(shared, &queue, |meta| {
        meta.tags.extend(tags);
        validate_tags(&meta.tags)
    })
    .await
}

/// UntagQueue.
pub(crate) async fn untag(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    keys: Vec<String>,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "UntagQueue")?;
    if keys.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter TagKeys.".into(),
        ));
    }
    upsert(shared, &queue, |meta| {
        for key in &keys {
            meta.tags.remove(key);
        }
        Ok(())
    })
    .await
}

/// AddPermission.
pub(crate) async fn add_permission(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    label: &str,
    accounts: Vec<String>,
    actions: Vec<String>,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "AddPermission")?;
    let arn = queue.arn.clone();
    upsert(shared, &queue, |meta| {
        let text = policy::add_permission(
            meta.attributes.get("Policy").map(String::as_str),
            &arn,
            label,
            &accounts,
            &actions,
        )?;
        meta.attributes.insert("Policy".into(), text);
        Ok(())
    })
    .await
}

/// RemovePermission.
pub(crate) async fn remove_permission(
    shared: &Shared,
    caller: &Caller,
    queue: &QueueRef,
    label: &str,
) -> Result<(), EngineError> {
    let queue = shared.queue(caller, queue, "RemovePermission")?;
    upsert(shared, &queue, |meta| {
        match policy::remove_permission(meta.attributes.get("Policy").map(String::as_str), label)? {
            Some(text) => meta.attributes.insert("Policy".into(), text),
            None => meta.attributes.remove("Policy"),
        };
        Ok(())
    })
    .await
}
