//! Every state-changing console action (a form POST; the session guard has
//! checked the CSRF token and read-only mode). Each goes through the same
//! engine call as the SQS API — same validation, same errors, shown with
//! their SQS code — as the queue's owner account, except the operator's
//! delete-by-id. The answer is a redirect to the page to show next with a
//! flash message (post/redirect/get).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use base64::Engine as _;
use engine::{AttributeValue, EngineError, QueueRef, SendEntry};
use serde::Deserialize;

use super::html;
use super::queue::editable_names;
use super::session::{Flash, Operator, Scope};
use super::{owner, queue_path, Shared};

/// The outcome shown to the operator: a confirmation or an error text.
type Outcome = Result<String, String>;

/// `InvalidAttributeValue: <message>`.
fn engine_error(e: &EngineError) -> String {
    format!("{}: {e}", crate::error::engine_code(e).legacy)
}

/// Leaves the outcome as a flash message and redirects to `location`.
fn finish(console: &Shared, operator: &Operator, location: &str, outcome: Outcome) -> Response {
    let flash = match outcome {
        Ok(text) => Flash::ok(text),
        Err(text) => Flash::error(text),
    };
    // An audit line per console change (names and ids, never message bodies).
    tracing::info!(
        operator = %operator.sender_id,
        page = location,
        failed = flash.error,
        "console: {}",
        flash.text
    );
    console.sessions.set_flash(&operator.token, flash);
    html::redirect(location)
}

/// The queue named in the path, if it exists and the operator may see it;
/// otherwise why not, as the flash text.
async fn target(
    console: &Shared,
    operator: &Operator,
    account: &str,
    name: &str,
) -> Result<QueueRef, String> {
    match console.gauges_of(operator, account, name).await {
        Ok(Some(g)) => Ok(g.queue),
        Ok(None) => {
            Err("There is no such queue (or it belongs to an account you cannot see).".into())
        }
        Err(e) => Err(engine_error(&e)),
    }
}

/// Back to the queue list with why the queue in the path cannot be used.
fn no_queue(console: &Shared, operator: &Operator, why: String) -> Response {
    finish(console, operator, "/console/", Err(why))
}

/// Runs `action` on the queue in the path, then redirects back to its page.
macro_rules! on_queue {
    ($console:ident, $operator:ident, $account:ident, $name:ident, |$queue:ident| $action:expr) => {{
        let $queue = match target(&$console, &$operator, &$account, &$name).await {
            Ok(queue) => queue,
            Err(why) => return no_queue(&$console, &$operator, why),
        };
        let outcome: Outcome = $action;
        finish(&$console, &$operator, &queue_path(&$queue), outcome)
    }};
}

/// The send form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SendForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    delay_seconds: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    dedup_id: String,
    #[serde(flatten)]
    rest: HashMap<String, String>,
}

impl SendForm {
    /// `attrN_name` / `attrN_type` / `attrN_value` rows with a name.
    fn attributes(&self) -> Result<BTreeMap<String, AttributeValue>, String> {
        let mut out = BTreeMap::new();
        for i in 1..=3 {
            let field = |f: &str| {
                self.rest
                    .get(&format!("attr{i}_{f}"))
                    .map_or("", String::as_str)
            };
            let name = field("name").trim();
            if name.is_empty() {
                continue;
            }
            let data_type = match field("type") {
                "" => "String",
                t => t,
            };
            let value = if data_type.starts_with("Binary") {
                base64::engine::general_purpose::STANDARD
                    .decode(field("value").trim())
                    .map_err(|_| format!("Attribute {name}: a Binary value must be base64."))?
            } else {
                field("value").as_bytes().to_vec()
            };
            out.insert(
                name.to_owned(),
                AttributeValue {
                    data_type: data_type.to_owned(),
                    value,
                },
            );
        }
        Ok(out)
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn optional_int(label: &str, text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| format!("{label} must be a whole number.")),
    }
}

/// `POST …/send`: SendMessage.
pub(crate) async fn send(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<SendForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        async {
            let entry = SendEntry {
                id: String::new(),
                body: form.body.replace("\r\n", "\n"),
                delay_seconds: optional_int("Delay", &form.delay_seconds)?,
                attributes: form.attributes()?,
                system_attributes: BTreeMap::new(),
                dedup_id: non_empty(&form.dedup_id),
                group_id: non_empty(&form.group_id),
            };
            console
                .engine
                .send_message(&owner(&queue, &operator), &queue, entry)
                .await
                .map(|r| format!("Sent message {}.", r.message_id))
                .map_err(|e| engine_error(&e))
        }
        .await
    })
}

/// The fields of the smaller action forms (each uses some of them).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ActionForm {
    /// Purge: `yes` once the box is ticked.
    confirm: String,
    /// Delete queue: the queue's name, typed.
    confirm_name: String,
    /// Delete message.
    message_id: String,
    /// Tag / untag.
    key: String,
    /// Tag.
    value: String,
    /// Start redrive (empty: back to the sources).
    destination_arn: String,
    /// Start redrive (empty: as fast as allowed).
    rate: String,
    /// Cancel redrive.
    task_handle: String,
}

/// `POST …/purge`: PurgeQueue, once confirmed.
pub(crate) async fn purge(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        if form.confirm != "yes" {
            Err("Nothing purged: tick the confirmation box first.".to_owned())
        } else {
            console
                .engine
                .purge_queue(&owner(&queue, &operator), &queue)
                .await
                .map(|()| format!("Purged {}.", queue.name))
                .map_err(|e| engine_error(&e))
        }
    })
}

/// `POST …/messages/delete`: the operator's delete by message id.
pub(crate) async fn delete_message(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        match console
            .engine
            .delete_message_by_id(&queue, &form.message_id)
            .await
        {
            Ok(true) => Ok(format!("Deleted message {}.", form.message_id)),
            Ok(false) => Err(format!(
                "Message {} is no longer in the queue.",
                form.message_id
            )),
            Err(e) => Err(engine_error(&e)),
        }
    })
}

/// `POST …/attributes`: SetQueueAttributes with the fields that changed.
pub(crate) async fn set_attributes(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        let caller = owner(&queue, &operator);
        let all = ["All".to_owned()];
        match console
            .engine
            .get_queue_attributes(&caller, &queue, &all)
            .await
        {
            Err(e) => Err(engine_error(&e)),
            Ok(current) => {
                let changes: BTreeMap<String, String> = editable_names()
                    .filter_map(|n| {
                        let sent = form.get(n)?.replace("\r\n", "\n");
                        let sent = sent.trim();
                        let now = current.get(n).map_or("", String::as_str);
                        (sent != now).then(|| (n.to_owned(), sent.to_owned()))
                    })
                    .collect();
                if changes.is_empty() {
                    Ok("Nothing changed.".to_owned())
                } else {
                    let names: Vec<String> = changes.keys().cloned().collect();
                    let result = console
                        .engine
                        .set_queue_attributes(&caller, &queue, changes)
                        .await;
                    console.invalidate_dead_letters();
                    result
                        .map(|()| format!("Saved {}.", names.join(", ")))
                        .map_err(|e| engine_error(&e))
                }
            }
        }
    })
}

/// `POST …/tags`: TagQueue with one tag.
pub(crate) async fn tag(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        let tags = BTreeMap::from([(form.key.clone(), form.value.clone())]);
        console
            .engine
            .tag_queue(&owner(&queue, &operator), &queue, tags)
            .await
            .map(|()| format!("Tagged {} = {}.", form.key, form.value))
            .map_err(|e| engine_error(&e))
    })
}

/// `POST …/untag`: UntagQueue with one key.
pub(crate) async fn untag(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        console
            .engine
            .untag_queue(&owner(&queue, &operator), &queue, vec![form.key.clone()])
            .await
            .map(|()| format!("Removed tag {}.", form.key))
            .map_err(|e| engine_error(&e))
    })
}

/// `POST …/redrive/start`: StartMessageMoveTask from this (dead-letter) queue.
pub(crate) async fn start_redrive(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        async {
            let rate = optional_int("Messages per second", &form.rate)?;
            let destination = non_empty(&form.destination_arn);
            console
                .engine
                .start_message_move_task(
                    &owner(&queue, &operator),
                    &console.engine.queue_arn(&queue),
                    destination.as_deref(),
                    rate,
                )
                .await
                .map(|_| "Started a redrive task.".to_owned())
                .map_err(|e| engine_error(&e))
        }
        .await
    })
}

/// `POST …/redrive/cancel`: CancelMessageMoveTask.
pub(crate) async fn cancel_redrive(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    on_queue!(console, operator, account, name, |queue| {
        console
            .engine
            .cancel_message_move_task(&owner(&queue, &operator), &form.task_handle)
            .await
            .map(|moved| format!("Cancelled the redrive task after {moved} messages."))
            .map_err(|e| engine_error(&e))
    })
}

/// `POST …/delete`: DeleteQueue, once the name is typed.
pub(crate) async fn delete_queue(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let queue = match target(&console, &operator, &account, &name).await {
        Ok(queue) => queue,
        Err(why) => return no_queue(&console, &operator, why),
    };
    if form.confirm_name.trim() != queue.name {
        return finish(
            &console,
            &operator,
            &queue_path(&queue),
            Err("Not deleted: type the queue's exact name to confirm.".into()),
        );
    }
    let result = console
        .engine
        .delete_queue(&owner(&queue, &operator), &queue)
        .await;
    console.invalidate_dead_letters();
    match result {
        Ok(()) => finish(
            &console,
            &operator,
            "/console/",
            Ok(format!("Deleted queue {}.", queue.name)),
        ),
        Err(e) => finish(
            &console,
            &operator,
            &queue_path(&queue),
            Err(engine_error(&e)),
        ),
    }
}

/// The create-queue form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    fifo: String,
    #[serde(default)]
    content_based_deduplication: String,
    #[serde(default)]
    visibility_timeout: String,
    #[serde(default)]
    message_retention_period: String,
}

/// `POST /console/queues`: CreateQueue in the operator's account.
pub(crate) async fn create_queue(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Form(form): Form<CreateForm>,
) -> Response {
    let account = match &operator.scope {
        Scope::Account(account) => account.clone(),
        Scope::AllAccounts => console.auth.anonymous_account_id.clone(),
    };
    let name = form.name.trim().to_owned();
    let mut attributes = BTreeMap::new();
    if form.fifo == "true" || name.ends_with(".fifo") {
        attributes.insert("FifoQueue".to_owned(), "true".to_owned());
    }
    if form.content_based_deduplication == "true" {
        attributes.insert("ContentBasedDeduplication".to_owned(), "true".to_owned());
    }
    for (attribute, value) in [
        ("VisibilityTimeout", &form.visibility_timeout),
        ("MessageRetentionPeriod", &form.message_retention_period),
    ] {
        if let Some(value) = non_empty(value) {
            attributes.insert(attribute.to_owned(), value);
        }
    }
    let caller = engine::Caller {
        account,
        sender_id: operator.sender_id.clone(),
    };
    let result = console
        .engine
        .create_queue(&caller, &name, attributes, BTreeMap::new())
        .await;
    console.invalidate_dead_letters();
    match result {
        Ok(queue) => finish(
            &console,
            &operator,
            &queue_path(&queue),
            Ok(format!("Created queue {}.", queue.name)),
        ),
        Err(e) => finish(&console, &operator, "/console/", Err(engine_error(&e))),
    }
}
