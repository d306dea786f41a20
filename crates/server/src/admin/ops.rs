//! The operator actions behind the admin endpoint and the offline CLI: one
//! [`Request`] in, one JSON value out, the same code in both places. Every
//! action goes through the engine's API (SQS actions with the queue owner as
//! caller, or the operator API in `engine::admin`), except the backup, which
//! copies the log of the engine's storage (see [`super::backup`]).

use std::collections::BTreeMap;

use engine::{Caller, Engine, EngineError, QueueRef, SendEntry};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::export_format::{MessageLine, QueueLine};
use super::AdminError;

/// Whose queues an operator may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every account (offline, or anonymous mode from loopback).
    All,
    /// One account (a signed request: the key's account).
    Account(String),
}

/// One operator action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Every queue with its counts and dead-letter flag.
    ListQueues,
    /// Up to `max` messages in queue order after the cursor `after`, without
    /// receiving them.
    Peek {
        /// `name`, `account/name` or a queue URL.
        queue: String,
        /// 1–1000.
        max: usize,
        /// The previous page's `next`.
        #[serde(default)]
        after: Option<String>,
    },
    /// PurgeQueue.
    Purge {
        /// The queue.
        queue: String,
    },
    /// StartMessageMoveTask from a dead-letter queue (to `to`, or back to
    /// each message's source queue).
    Redrive {
        /// The dead-letter queue.
        queue: String,
        /// Destination queue (default: the messages' source queues).
        #[serde(default)]
        to: Option<String>,
    },
    /// The most recent move task of a queue.
    MoveTask {
        /// The source queue.
        queue: String,
    },
    /// A queue's settable attributes and tags (an export's queue line).
    DescribeQueue {
        /// The queue.
        queue: String,
    },
    /// Creates the queue of an export's queue line if it does not exist
    /// (attributes without RedrivePolicy) — `redrive_policy: true` sets only
    /// its RedrivePolicy (a second pass, once dead-letter queues exist).
    ImportQueue {
        /// The queue line.
        line: QueueLine,
        /// Second pass: set the RedrivePolicy.
        #[serde(default)]
        redrive_policy: bool,
    },
    /// Sends messages of export lines (new ids; body, message attributes,
    /// SenderId, AWSTraceHeader, group and deduplication ids kept).
    ImportMessages {
        /// The lines, in file order.
        lines: Vec<MessageLine>,
    },
    /// A consistent copy of the whole data directory (every account) into
    /// `dir`, a new or empty directory on the broker's machine, while the
    /// broker keeps serving; see [`super::backup`].
    Backup {
        /// Absolute path of the backup directory.
        dir: std::path::PathBuf,
    },
}

/// Runs one action for an operator limited to `scope`.
pub async fn execute(
    engine: &Engine,
    scope: &Scope,
    request: Request,
) -> Result<Value, AdminError> {
    match request {
        Request::ListQueues => Ok(json!({ "queues": list_queues(engine, scope).await? })),
        Request::Peek { queue, max, after } => {
            let queue = resolve(engine, scope, &queue).await?;
            let page = engine.peek_messages(&queue, after.as_deref(), max).await?;
            let messages: Vec<MessageLine> = page
                .items
                .into_iter()
                .map(|m| MessageLine::from_peeked(&queue.account, &queue.name, m))
                .collect();
            Ok(json!({ "messages": messages, "next": page.next_token }))
        }
        Request::Purge { queue } => {
            let queue = resolve(engine, scope, &queue).await?;
            engine.purge_queue(&owner(&queue), &queue).await?;
            Ok(json!({ "purged": queue_name(&queue) }))
        }
        Request::Redrive { queue, to } => {
            let source = resolve(engine, scope, &queue).await?;
            let destination = match to {
                Some(to) => Some(engine.queue_arn(&resolve(engine, scope, &to).await?)),
                None => None,
            };
            let handle = engine
                .start_message_move_task(
                    &owner(&source),
                    &engine.queue_arn(&source),
                    destination.as_deref(),
                    None,
                )
                .await?;
            Ok(json!({ "task_handle": handle }))
        }
        Request::MoveTask { queue } => {
            let source = resolve(engine, scope, &queue).await?;
            let tasks = engine
                .list_message_move_tasks(&owner(&source), &engine.queue_arn(&source), Some(1))
                .await?;
            let task = tasks.first().map(|t| {
                json!({
                    "status": t.status,
                    "moved": t.approximate_number_of_messages_moved,
                    "to_move": t.approximate_number_of_messages_to_move,
                    "failure_reason": t
                        .failure_reason
                        .as_ref()
                        .map(crate::error::move_task_failure_reason),
                })
            });
            Ok(json!({ "task": task }))
        }
        Request::DescribeQueue { queue } => {
            let queue = resolve(engine, scope, &queue).await?;
            Ok(serde_json::to_value(describe(engine, &queue).await?)?)
        }
        Request::ImportQueue {
            line,
            redrive_policy,
        } => import_queue(engine, scope, line, redrive_policy).await,
        Request::ImportMessages { lines } => import_messages(engine, scope, lines).await,
        Request::Backup { dir } => super::backup::backup(engine, dir).await,
    }
}

/// `account/name`.
pub fn queue_name(queue: &QueueRef) -> String {
    format!("{}/{}", queue.account, queue.name)
}

fn owner(queue: &QueueRef) -> Caller {
    Caller {
        account: queue.account.clone(),
        sender_id: queue.account.clone(),
    }
}

fn allowed(scope: &Scope, account: &str) -> bool {
    match scope {
        Scope::All => true,
        Scope::Account(a) => a == account,
    }
}

/// The queue `account/name` of an import line, if the scope may touch it.
fn scoped(scope: &Scope, account: &str, name: &str) -> Result<QueueRef, AdminError> {
    if !allowed(scope, account) {
        return Err(AdminError::Forbidden(format!(
            "queue {account}/{name} belongs to another account"
        )));
    }
    Ok(QueueRef {
        account: account.to_owned(),
        name: name.to_owned(),
    })
}

/// Resolves `name`, `account/name` or a queue URL (`…/account/name`,
/// ElasticMQ's `…/queue/name`) to an existing queue the scope may touch. A
/// bare name means the scope's account, or (unrestricted) the one queue of
/// that name in any account.
pub async fn resolve(engine: &Engine, scope: &Scope, text: &str) -> Result<QueueRef, AdminError> {
    // An empty caller account marks "no account given".
    let parsed = crate::queue_url::parse(text, "")
        .map_err(|_| AdminError::BadRequest(format!("`{text}` names no queue")))?;
    let name = parsed.name.as_str();
    let account = Some(parsed.account.as_str()).filter(|a| !a.is_empty());
    let candidates: Vec<QueueRef> = engine
        .queue_gauges()
        .await?
        .into_iter()
        .map(|g| g.queue)
        .filter(|q| q.name == name && account.is_none_or(|a| q.account == a))
        .filter(|q| allowed(scope, &q.account))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(AdminError::Engine(EngineError::QueueDoesNotExist)),
        _ => Err(AdminError::BadRequest(format!(
            "several accounts have a queue named `{name}`: write ACCOUNT/{name}"
        ))),
    }
}

/// One row of `stowage queues stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Owner account.
    pub account: String,
    /// Name.
    pub name: String,
    /// ApproximateNumberOfMessages.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible.
    pub in_flight: u64,
    /// ApproximateNumberOfMessagesDelayed.
    pub delayed: u64,
    /// Age of the oldest message, seconds.
    pub oldest_age_seconds: u64,
    /// Some queue's RedrivePolicy targets it.
    pub dead_letter: bool,
}

async fn list_queues(engine: &Engine, scope: &Scope) -> Result<Vec<QueueStats>, AdminError> {
    let gauges: Vec<_> = engine
        .queue_gauges()
        .await?
        .into_iter()
        .filter(|g| allowed(scope, &g.queue.account))
        .collect();
    let dead_letter = crate::metrics::dead_letter_queues(engine, &gauges).await;
    Ok(gauges
        .into_iter()
        .map(|g| QueueStats {
            dead_letter: dead_letter.contains(&g.queue),
            account: g.queue.account,
            name: g.queue.name,
            visible: g.visible,
            in_flight: g.not_visible,
            delayed: g.delayed,
            oldest_age_seconds: g.oldest_message_age_seconds,
        })
        .collect())
}

async fn describe(engine: &Engine, queue: &QueueRef) -> Result<QueueLine, AdminError> {
    let caller = owner(queue);
    let mut attributes = engine
        .get_queue_attributes(&caller, queue, &["All".to_owned()])
        .await?;
    attributes.retain(|k, _| !engine::READ_ONLY_QUEUE_ATTRIBUTES.contains(&k.as_str()));
    let tags = engine.list_queue_tags(&caller, queue).await?;
    Ok(QueueLine {
        account: queue.account.clone(),
        name: queue.name.clone(),
        attributes,
        tags,
    })
}

async fn import_queue(
    engine: &Engine,
    scope: &Scope,
    line: QueueLine,
    redrive_policy: bool,
) -> Result<Value, AdminError> {
    let queue = scoped(scope, &line.account, &line.name)?;
    let caller = owner(&queue);
    let mut attributes = line.attributes;
    let policy = attributes.remove("RedrivePolicy");
    if redrive_policy {
        let Some(policy) = policy else {
            return Ok(json!({ "changed": false }));
        };
        engine
            .set_queue_attributes(
                &caller,
                &queue,
                BTreeMap::from([("RedrivePolicy".to_owned(), policy)]),
            )
            .await?;
        return Ok(json!({ "changed": true }));
    }
    match engine
        .get_queue_url(&caller, &queue.name, Some(&queue.account))
        .await
    {
        Ok(_) => Ok(json!({ "created": false })),
        Err(EngineError::QueueDoesNotExist) => {
            engine
                .create_queue(&caller, &queue.name, attributes, line.tags)
                .await?;
            Ok(json!({ "created": true }))
        }
        Err(e) => Err(e.into()),
    }
}

/// Largest SendMessageBatch payload (SQS's limit).
const BATCH_MAX_BYTES: usize = 1024 * 1024;
/// SendMessageBatch entries.
const BATCH_MAX_ENTRIES: usize = 10;

async fn import_messages(
    engine: &Engine,
    scope: &Scope,
    lines: Vec<MessageLine>,
) -> Result<Value, AdminError> {
    let mut sent = 0usize;
    let mut batch: Vec<SendEntry> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut batch_key: Option<(QueueRef, String)> = None;
    for line in lines {
        let queue = scoped(scope, &line.account, &line.queue)?;
        let sender = line
            .attributes
            .get("SenderId")
            .cloned()
            .unwrap_or_else(|| queue.account.clone());
        let entry = send_entry(sent + batch.len(), &line)?;
        let size = entry.body.len()
            + entry
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.data_type.len() + v.value.len())
                .sum::<usize>();
        let key = (queue, sender);
        if batch_key.as_ref() != Some(&key)
            || batch.len() == BATCH_MAX_ENTRIES
            || batch_bytes + size > BATCH_MAX_BYTES
        {
            if let Some(k) = batch_key.take() {
                sent += send_batch(engine, &k, std::mem::take(&mut batch)).await?;
            }
            batch_bytes = 0;
            batch_key = Some(key);
        }
        batch_bytes += size;
        batch.push(entry);
    }
    if let Some(k) = batch_key {
        sent += send_batch(engine, &k, batch).await?;
    }
    Ok(json!({ "sent": sent }))
}

fn send_entry(index: usize, line: &MessageLine) -> Result<SendEntry, AdminError> {
    let mut attributes = BTreeMap::new();
    for (name, value) in &line.message_attributes {
        let value = value.to_value().map_err(|e| {
            AdminError::BadRequest(format!(
                "message {}: attribute {name}: {e}",
                line.message_id
            ))
        })?;
        attributes.insert(name.clone(), value);
    }
    let mut system_attributes = BTreeMap::new();
    if let Some(trace) = line.attributes.get("AWSTraceHeader") {
        system_attributes.insert(
            "AWSTraceHeader".to_owned(),
            engine::AttributeValue {
                data_type: "String".into(),
                value: trace.clone().into_bytes(),
            },
        );
    }
    Ok(SendEntry {
        id: format!("m{index}"),
        body: line.body.clone(),
        delay_seconds: None,
        attributes,
        system_attributes,
        dedup_id: line.attributes.get("MessageDeduplicationId").cloned(),
        group_id: line.attributes.get("MessageGroupId").cloned(),
    })
}

async fn send_batch(
    engine: &Engine,
    (queue, sender): &(QueueRef, String),
    entries: Vec<SendEntry>,
) -> Result<usize, AdminError> {
    let caller = Caller {
        account: queue.account.clone(),
        sender_id: sender.clone(),
    };
    let result = engine.send_message_batch(&caller, queue, entries).await?;
    if let Some(failed) = result.failed.into_iter().next() {
        return Err(AdminError::Engine(failed.error));
    }
    Ok(result.successful.len())
}
