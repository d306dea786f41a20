//! Queues declared in the configuration (`[[queues]]`): created at start when
//! missing, their declared attributes and tags converged when they differ,
//! never deleted. Every declaration is checked with CreateQueue's own
//! validation ([`engine::Engine::check_queue_declaration`]) before anything
//! is created; then the queues are created or changed through the engine's
//! SQS API (CreateQueue, SetQueueAttributes, TagQueue), so nothing here
//! re-implements a rule of SQS.

use std::collections::BTreeMap;

use engine::{Caller, Engine, EngineError, QueueRef};
use serde::{Deserialize, Serialize};

use crate::auth::AuthConfig;

/// One `[[queues]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDecl {
    /// Queue name; a name ending in `.fifo` declares a FIFO queue.
    pub name: String,
    /// Owner account (12 digits). Default: the anonymous account without
    /// credentials, else the account of the configured credentials (required
    /// when they belong to several accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// CreateQueue attributes by their SQS names (`VisibilityTimeout`,
    /// `MessageRetentionPeriod`, …); values as strings, integers or booleans.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeText>,
    /// Queue tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Dead-letter queue (becomes the RedrivePolicy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<DeadLetter>,
}

/// `dead_letter = { queue = "orders-dlq", max_receive_count = 5 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    /// Name of the dead-letter queue (same account).
    pub queue: String,
    /// Receives after which a message moves there (SQS: 1–1000).
    pub max_receive_count: i64,
}

/// An attribute value as written in TOML: SQS takes strings, but `45` and
/// `true` are accepted too and passed on as `"45"` and `"true"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeText {
    /// `"45"`.
    Text(String),
    /// `45`.
    Integer(i64),
    /// `true`.
    Boolean(bool),
}

impl std::fmt::Display for AttributeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttributeText::Text(s) => f.write_str(s),
            AttributeText::Integer(i) => write!(f, "{i}"),
            AttributeText::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// A declaration that cannot be applied; the message names the entry.
#[derive(Debug, thiserror::Error)]
#[error("[[queues]] entry `{entry}`: {message}")]
pub struct DeclarationError {
    /// `account/name` (or the name when the account is not known yet).
    pub entry: String,
    /// What is wrong.
    pub message: String,
}

/// A declaration resolved to its queue and the exact CreateQueue input.
#[derive(Debug, Clone)]
struct Resolved {
    queue: QueueRef,
    /// Every attribute except RedrivePolicy (set in a second pass, once every
    /// declared dead-letter queue exists).
    attributes: BTreeMap<String, String>,
    redrive_policy: Option<String>,
    tags: BTreeMap<String, String>,
}

/// The account a declaration without `account` belongs to.
fn default_account(auth: &AuthConfig) -> Result<String, String> {
    let mut accounts: Vec<&str> = auth
        .credentials
        .iter()
        .map(|c| c.account_id.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    match accounts.as_slice() {
        [] => Ok(auth.anonymous_account_id.clone()),
        [one] => Ok((*one).to_owned()),
        _ => Err("set `account`: the configured credentials belong to several accounts".into()),
    }
}

/// Static checks done while loading the configuration (no engine needed):
/// accounts, duplicates, dead-letter references, and CreateQueue's own
/// validation of name, attributes and tags.
pub fn validate(
    decls: &[QueueDecl],
    auth: &AuthConfig,
    region: &str,
) -> Result<(), DeclarationError> {
    resolve(decls, auth, region).map(|_| ())
}

fn resolve(
    decls: &[QueueDecl],
    auth: &AuthConfig,
    region: &str,
) -> Result<Vec<Resolved>, DeclarationError> {
    let mut out: Vec<Resolved> = Vec::with_capacity(decls.len());
    for decl in decls {
        let err = |entry: String, message: String| DeclarationError { entry, message };
        let account = match &decl.account {
            Some(a) => a.clone(),
            None => default_account(auth).map_err(|m| err(decl.name.clone(), m))?,
        };
        let entry = format!("{account}/{}", decl.name);
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(entry, format!("account `{account}` is not 12 digits")));
        }
        if out
            .iter()
            .any(|r| r.queue.account == account && r.queue.name == decl.name)
        {
            return Err(err(entry, "declared twice".into()));
        }
        let mut attributes: BTreeMap<String, String> = decl
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        if decl.name.ends_with(".fifo") {
            attributes
                .entry("FifoQueue".into())
                .or_insert_with(|| "true".into());
        }
        if let Some(dl) = &decl.dead_letter {
            if attributes.contains_key("RedrivePolicy") {
                return Err(err(
                    entry,
                    "both `dead_letter` and a RedrivePolicy attribute: keep one".into(),
                ));
            }
            // An undeclared dead-letter queue must exist at start (the
            // engine checks the target when the RedrivePolicy is set).
            let policy = serde_json::json!({
                "deadLetterTargetArn": format!("arn:aws:sqs:{region}:{account}:{}", dl.queue),
                "maxReceiveCount": dl.max_receive_count,
            });
            attributes.insert("RedrivePolicy".into(), policy.to_string());
        }
        engine::Engine::check_queue_declaration(&decl.name, &attributes, &decl.tags)
            .map_err(|e| err(entry.clone(), e.to_string()))?;
        let redrive_policy = attributes.remove("RedrivePolicy");
        out.push(Resolved {
            queue: QueueRef {
                account,
                name: decl.name.clone(),
            },
            attributes,
            redrive_policy,
            tags: decl.tags.clone(),
        });
    }
    Ok(out)
}

fn owner(queue: &QueueRef) -> Caller {
    Caller {
        account: queue.account.clone(),
        sender_id: queue.account.clone(),
    }
}

/// Creates missing declared queues and converges the declared attributes and
/// tags of existing ones; logs (and keeps) queues that exist but are not
/// declared. Runs before the API listener accepts requests.
pub async fn apply(
    engine: &Engine,
    decls: &[QueueDecl],
    auth: &AuthConfig,
    region: &str,
) -> Result<(), DeclarationError> {
    if decls.is_empty() {
        return Ok(());
    }
    let resolved = resolve(decls, auth, region)?;
    let failed = |r: &Resolved, e: EngineError| DeclarationError {
        entry: format!("{}/{}", r.queue.account, r.queue.name),
        message: e.to_string(),
    };
    // Every dead-letter queue is declared or exists, before anything changes.
    for (r, decl) in resolved.iter().zip(decls) {
        let Some(dl) = &decl.dead_letter else {
            continue;
        };
        let declared = resolved
            .iter()
            .any(|o| o.queue.account == r.queue.account && o.queue.name == dl.queue);
        if !declared
            && engine
                .get_queue_url(&owner(&r.queue), &dl.queue, Some(&r.queue.account))
                .await
                .is_err()
        {
            return Err(DeclarationError {
                entry: format!("{}/{}", r.queue.account, r.queue.name),
                message: format!(
                    "dead-letter queue `{}` does not exist and is not declared",
                    dl.queue
                ),
            });
        }
    }
    // Pass 1: every queue exists with its attributes (but its RedrivePolicy).
    for r in &resolved {
        converge(engine, r).await.map_err(|e| failed(r, e))?;
    }
    // Pass 2: RedrivePolicy, now that every declared dead-letter queue exists.
    for r in &resolved {
        let Some(policy) = &r.redrive_policy else {
            continue;
        };
        let caller = owner(&r.queue);
        let current = engine
            .get_queue_attributes(&caller, &r.queue, &["RedrivePolicy".to_owned()])
            .await
            .map_err(|e| failed(r, e))?;
        if !same_redrive_policy(current.get("RedrivePolicy").map(String::as_str), policy) {
            let changes = BTreeMap::from([("RedrivePolicy".to_owned(), policy.clone())]);
            engine
                .set_queue_attributes(&caller, &r.queue, changes)
                .await
                .map_err(|e| failed(r, e))?;
            tracing::info!(queue = %r.queue.name, account = %r.queue.account, "declared queue: RedrivePolicy set");
        }
    }
    // Only informative: a store that cannot list its queues now is noticed
    // by the first request.
    for g in engine.queue_gauges().await.unwrap_or_default() {
        if !resolved.iter().any(|r| r.queue == g.queue) {
            tracing::info!(
                queue = %g.queue.name,
                account = %g.queue.account,
                "queue {}/{} is not declared in the configuration; it is kept (declared queues are never deleted)",
                g.queue.account,
                g.queue.name
            );
        }
    }
    Ok(())
}

/// Creates the queue, or sets the declared attributes and tags that differ.
async fn converge(engine: &Engine, r: &Resolved) -> Result<(), EngineError> {
    let caller = owner(&r.queue);
    match engine
        .get_queue_url(&caller, &r.queue.name, Some(&r.queue.account))
        .await
    {
        Err(EngineError::QueueDoesNotExist) => {
            engine
                .create_queue(&caller, &r.queue.name, r.attributes.clone(), r.tags.clone())
                .await?;
            tracing::info!(queue = %r.queue.name, account = %r.queue.account, "declared queue created");
            Ok(())
        }
        Err(e) => Err(e),
        Ok(_) => {
            let current = engine
                .get_queue_attributes(&caller, &r.queue, &["All".to_owned()])
                .await?;
            let changes: BTreeMap<String, String> = r
                .attributes
                .iter()
                .filter(|(k, v)| k.as_str() != "FifoQueue" && current.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !changes.is_empty() {
                let keys: Vec<&str> = changes.keys().map(String::as_str).collect();
                tracing::info!(queue = %r.queue.name, account = %r.queue.account, attributes = ?keys, "declared queue: attributes converged");
                engine
                    .set_queue_attributes(&caller, &r.queue, changes)
                    .await?;
            }
            let tags = engine.list_queue_tags(&caller, &r.queue).await?;
            let missing: BTreeMap<String, String> = r
                .tags
                .iter()
                .filter(|(k, v)| tags.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !missing.is_empty() {
                tracing::info!(queue = %r.queue.name, account = %r.queue.account, "declared queue: tags converged");
                engine.tag_queue(&caller, &r.queue, missing).await?;
            }
            Ok(())
        }
    }
}

/// Whether two RedrivePolicy documents name the same target and count
/// (the engine stores a canonical form; the count may be a string or number).
fn same_redrive_policy(current: Option<&str>, wanted: &str) -> bool {
    let parse = |text: &str| -> Option<(String, String)> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let arn = v.get("deadLetterTargetArn")?.as_str()?.to_owned();
        let count = match v.get("maxReceiveCount")? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some((arn, count))
    };
    match current {
        Some(current) => parse(current).is_some() && parse(current) == parse(wanted),
        None => false,
    }
}
