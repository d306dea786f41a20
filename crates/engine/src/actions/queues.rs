//! Queue-level actions: create, URL lookup, list, delete, purge, attributes,
//! tags, permissions, dead-letter source listing. Definitions change by
//! compare-and-set on their version ([`QueueStore::update_queue`]): a change
//! that lost a race is applied again to the current definition.
//!
//! [`QueueStore::update_queue`]: crate::store::QueueStore::update_queue

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::attributes::{self, parse_redrive, RedriveAllow, RECEIPT_KEY_ATTRIBUTE};
use crate::front::{Front, QueueView};
use crate::limits::*;
use crate::receipt::ReceiptKey;
use crate::store::{CreateOutcome, PurgeOutcome, QueueDef, UpdateOutcome};
use crate::types::{Caller, Page, QueueRef};
use crate::{policy, validate, EngineError};

/// Checks a RedrivePolicy of queue `source_arn` against its target.
async fn check_redrive(
    front: &Front,
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
    let target = front
        .queue_by_arn(&redrive.target_arn)
        .await?
        .ok_or_else(|| reason("Dead letter target does not exist."))?;
    if target.fifo() != fifo {
        return Err(reason(
            "Dead-letter queue must be the same type of queue as the source queue (FIFO or standard).",
        ));
    }
    match &target.settings().redrive_allow {
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

/// CreateQueue.
pub(crate) async fn create(
    front: &Front,
    caller: &Caller,
    name: &str,
    given: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> Result<QueueRef, EngineError> {
    let attributes::CreateQueue {
        fifo,
        normalized,
        mut stored,
    } = attributes::create_queue(name, &given, &tags)?;
    let arn = front.arn(&caller.account, name);
    if let Some(text) = stored.get("RedrivePolicy") {
        check_redrive(front, &arn, fifo, text).await?;
    }
    let now = front.now();
    stored.insert(RECEIPT_KEY_ATTRIBUTE.into(), ReceiptKey::random().to_hex());
    let def = QueueDef {
        queue_id: 0, // the store draws it
        account: caller.account.clone(),
        name: name.to_string(),
        attributes: stored,
        tags: tags.clone(),
        created_ms: now,
        last_modified_ms: now,
    };
    let guard = front.recreate_guard_ms(now, QUEUE_DELETED_RECENTLY_MS);
    let reference = QueueRef {
        account: caller.account.clone(),
        name: name.to_string(),
    };
    match front
        .store
        .create_queue(def, guard, front.config.max_queues_per_account)
        .await?
    {
        CreateOutcome::Created(record) => {
            front.view(record);
            Ok(reference)
        }
        CreateOutcome::Exists(record) => {
            // Idempotent: only what the caller gives is compared (an
            // application that calls CreateQueue(name) at every start gets
            // its URL back whatever the queue's attributes and tags are now).
            let existing = &record.def;
            let differing = attributes::first_difference(&normalized, &existing.attributes)
                .or_else(|| {
                    tags.iter()
                        .any(|(k, v)| existing.tags.get(k) != Some(v))
                        .then(|| "tags".to_string())
                });
            match differing {
                None => Ok(reference),
                Some(attribute) => Err(EngineError::QueueNameExists(attribute)),
            }
        }
        CreateOutcome::DeletedRecently => Err(EngineError::QueueDeletedRecently),
        CreateOutcome::QuotaReached => Err(EngineError::OverLimit(format!(
            "You have reached the limit of {} queues per account.",
            front.config.max_queues_per_account
        ))),
    }
}

/// GetQueueUrl.
pub(crate) async fn get_url(
    front: &Front,
    caller: &Caller,
    name: &str,
    owner: Option<&str>,
) -> Result<QueueRef, EngineError> {
    let account = owner.unwrap_or(&caller.account);
    let queue = front
        .queue(
            caller,
            &QueueRef {
                account: account.to_string(),
                name: name.to_string(),
            },
            "GetQueueUrl",
        )
        .await?;
    Ok(queue.reference().clone())
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
pub(crate) async fn list(
    front: &Front,
    caller: &Caller,
    prefix: Option<&str>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<Page<QueueRef>, EngineError> {
    let limit = page_limit(max_results)?;
    let after = decode_token(next_token)?;
    let fetch = limit.map_or(LIST_RESULTS_MAX as usize, |l| l + 1);
    let queues = front
        .store
        .list_queues(
            Some(&caller.account),
            prefix.unwrap_or(""),
            after.as_deref(),
            fetch,
        )
        .await?;
    Ok(paginate(
        queues
            .into_iter()
            .map(|r| QueueRef {
                account: r.def.account,
                name: r.def.name,
            })
            .collect(),
        limit,
    ))
}

/// ListDeadLetterSourceQueues.
pub(crate) async fn dead_letter_sources(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> Result<Page<QueueRef>, EngineError> {
    let dlq = front
        .queue(caller, queue, "ListDeadLetterSourceQueues")
        .await?;
    let limit = page_limit(max_results)?;
    let after = decode_token(next_token)?;
    let mut sources: Vec<QueueRef> = front
        .dead_letter_sources(dlq.arn())
        .await?
        .iter()
        .map(|q| q.reference().clone())
        .filter(|r| after.as_deref().is_none_or(|a| r.name.as_str() > a))
        .collect();
    sources.sort();
    sources.truncate(limit.map_or(LIST_RESULTS_MAX as usize, |l| l + 1));
    Ok(paginate(sources, limit))
}

/// DeleteQueue: the queue and its messages go at once.
pub(crate) async fn delete(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "DeleteQueue").await?;
    let queue_id = queue.ctx().queue_id;
    let deleted = front.store.delete_queue(queue_id, front.now()).await?;
    // Long polls on it answer at once (they find it gone).
    front.forget(queue_id);
    if deleted {
        Ok(())
    } else {
        Err(EngineError::QueueDoesNotExist)
    }
}

/// PurgeQueue: everything sent so far goes, and the queue's deduplication
/// ids and receive attempts are forgotten.
pub(crate) async fn purge(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "PurgeQueue").await?;
    let min_interval = if front.config.strict_timing {
        PURGE_INTERVAL_MS
    } else {
        0
    };
    match front
        .store
        .purge(queue.ctx(), min_interval, front.now())
        .await?
    {
        PurgeOutcome::Purged => Ok(()),
        PurgeOutcome::TooSoon { .. } => Err(EngineError::PurgeQueueInProgress(
            queue.reference().name.clone(),
        )),
    }
}

/// GetQueueAttributes.
pub(crate) async fn get_attributes(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    names: &[String],
) -> Result<BTreeMap<String, String>, EngineError> {
    let queue = front.queue(caller, queue, "GetQueueAttributes").await?;
    let fifo = queue.fifo();
    for name in names {
        if !attributes::is_known_name(name, fifo) {
            return Err(EngineError::InvalidAttributeName(format!(
                "Unknown Attribute {name}."
            )));
        }
    }
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let counts = front.store.counts(queue.ctx(), front.now()).await?;
    let def = &queue.record.def;
    let mut all = attributes::effective(&def.attributes, fifo);
    all.insert(
        "ApproximateNumberOfMessages".into(),
        counts.visible.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesNotVisible".into(),
        counts.in_flight.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesDelayed".into(),
        counts.delayed.to_string(),
    );
    all.insert(
        "CreatedTimestamp".into(),
        (def.created_ms / 1000).to_string(),
    );
    all.insert(
        "LastModifiedTimestamp".into(),
        (def.last_modified_ms / 1000).to_string(),
    );
    all.insert("QueueArn".into(), queue.arn().to_string());
    if names.iter().any(|n| n == "All") {
        return Ok(all);
    }
    Ok(all.into_iter().filter(|(k, _)| names.contains(k)).collect())
}

/// Most attempts of a definition change that keeps losing races.
const UPDATE_ATTEMPTS: usize = 16;

/// Applies `change` to the queue's current definition and stores it if no
/// other change came first (else applies it again to the newer one).
async fn upsert(
    front: &Front,
    queue: QueueView,
    change: impl Fn(&mut QueueDef) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    let mut record = queue.record.clone();
    for _ in 0..UPDATE_ATTEMPTS {
        let mut def = record.def.clone();
        change(&mut def)?;
        def.last_modified_ms = front.now().max(def.last_modified_ms);
        match front.store.update_queue(def, record.version).await? {
            UpdateOutcome::Updated(updated) => {
                front.view(updated);
                // Long polls look again (their next try reads the new definition).
                queue.local.notify.notify_waiters();
                return Ok(());
            }
            UpdateOutcome::Conflict(current) => record = current,
            UpdateOutcome::Gone => return Err(EngineError::QueueDoesNotExist),
        }
    }
    Err(EngineError::Unavailable(
        "the queue's definition kept changing; try again".into(),
    ))
}

/// SetQueueAttributes.
pub(crate) async fn set_attributes(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    given: BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "SetQueueAttributes").await?;
    let changes = attributes::normalize(&given, queue.fifo(), false)?;
    if let Some(text) = changes.get("RedrivePolicy").filter(|t| !t.is_empty()) {
        check_redrive(front, queue.arn(), queue.fifo(), text).await?;
    }
    upsert(front, queue, |def| {
        attributes::merge(&mut def.attributes, changes.clone());
        attributes::check_combination(&def.attributes)
    })
    .await
}

/// ListQueueTags.
pub(crate) async fn list_tags(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
) -> Result<BTreeMap<String, String>, EngineError> {
    let queue = front.queue(caller, queue, "ListQueueTags").await?;
    Ok(queue.record.def.tags)
}

/// TagQueue.
pub(crate) async fn tag(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    tags: BTreeMap<String, String>,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "TagQueue").await?;
    if tags.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter Tags.".into(),
        ));
    }
    upsert(front, queue, |def| {
        def.tags.extend(tags.clone());
        validate::tags(&def.tags)
    })
    .await
}

/// UntagQueue.
pub(crate) async fn untag(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    keys: Vec<String>,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "UntagQueue").await?;
    if keys.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter TagKeys.".into(),
        ));
    }
    upsert(front, queue, |def| {
        for key in &keys {
            def.tags.remove(key);
        }
        Ok(())
    })
    .await
}

/// AddPermission.
pub(crate) async fn add_permission(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    label: &str,
    accounts: Vec<String>,
    actions: Vec<String>,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "AddPermission").await?;
    let arn = queue.arn().to_string();
    upsert(front, queue, |def| {
        let text = policy::add_permission(
            def.attributes.get("Policy").map(String::as_str),
            &arn,
            label,
            &accounts,
            &actions,
        )?;
        def.attributes.insert("Policy".into(), text);
        Ok(())
    })
    .await
}

/// RemovePermission.
pub(crate) async fn remove_permission(
    front: &Front,
    caller: &Caller,
    queue: &QueueRef,
    label: &str,
) -> Result<(), EngineError> {
    let queue = front.queue(caller, queue, "RemovePermission").await?;
    upsert(front, queue, |def| {
        match policy::remove_permission(def.attributes.get("Policy").map(String::as_str), label)? {
            Some(text) => def.attributes.insert("Policy".into(), text),
            None => def.attributes.remove("Policy"),
        };
        Ok(())
    })
    .await
}
