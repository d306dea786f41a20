//! The queue page: live counts, the last hour's chart and move tasks (a
//! fragment refreshed every 2 s), peek, and the forms for every action;
//! plus the page showing one message in full.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use engine::{MoveTaskInfo, QueueGauges, QueueRef};
use serde::Deserialize;

use super::html::{self, count, duration, esc, time_utc, url_param};
use super::peek::{self, Shown, PEEK_PAGE};
use super::session::Operator;
use super::{chart, owner, queue_path, Shared};

/// Attributes edited as plain inputs: name, label, input kind.
const EDITABLE: &[(&str, &str, Input)] = &[
    (
        "VisibilityTimeout",
        "Visibility timeout (s)",
        Input::Number(0, 43_200),
    ),
    ("DelaySeconds", "Delivery delay (s)", Input::Number(0, 900)),
    (
        "MaximumMessageSize",
        "Maximum message size (bytes)",
        Input::Number(1024, 1_048_576),
    ),
    (
        "MessageRetentionPeriod",
        "Retention (s)",
        Input::Number(60, 1_209_600),
    ),
    (
        "ReceiveMessageWaitTimeSeconds",
        "Receive wait time (s)",
        Input::Number(0, 20),
    ),
    (
        "SqsManagedSseEnabled",
        "SQS-managed encryption",
        Input::Choice(&["false", "true"]),
    ),
    ("KmsMasterKeyId", "KMS key id", Input::Text),
    (
        "KmsDataKeyReusePeriodSeconds",
        "KMS data key reuse (s)",
        Input::Number(60, 86_400),
    ),
    (
        "ContentBasedDeduplication",
        "Content-based deduplication",
        Input::Choice(&["false", "true"]),
    ),
    (
        "DeduplicationScope",
        "Deduplication scope",
        Input::Choice(&["queue", "messageGroup"]),
    ),
    (
        "FifoThroughputLimit",
        "FIFO throughput limit",
        Input::Choice(&["perQueue", "perMessageGroupId"]),
    ),
];

/// JSON documents edited in text areas: name, label, hint.
const DOCUMENTS: &[(&str, &str, &str)] = &[
    (
        "RedrivePolicy",
        "Redrive policy",
        "{\"deadLetterTargetArn\":\"arn:aws:sqs:…\",\"maxReceiveCount\":5}; empty removes it.",
    ),
    (
        "RedriveAllowPolicy",
        "Redrive allow policy",
        "{\"redrivePermission\":\"allowAll\"} (or denyAll, byQueue); empty removes it.",
    ),
    (
        "Policy",
        "Access policy",
        "An IAM policy document; empty removes it.",
    ),
];

/// Attributes only FIFO queues have.
const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// The attributes the attribute forms may change.
pub(crate) fn editable_names() -> impl Iterator<Item = &'static str> {
    EDITABLE
        .iter()
        .map(|(n, _, _)| *n)
        .chain(DOCUMENTS.iter().map(|(n, _, _)| *n))
}

#[derive(Debug, Clone, Copy)]
enum Input {
    Number(i64, i64),
    Choice(&'static [&'static str]),
    Text,
}

/// `?after=<peek cursor>`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PeekQuery {
    #[serde(default)]
    after: String,
}

fn not_found() -> Response {
    html::error_page(
        StatusCode::NOT_FOUND,
        "No such queue",
        "There is no such queue (or it belongs to an account you cannot see).",
    )
}

/// The page for an engine failure (the store could not be read).
fn failed(e: &engine::EngineError) -> Response {
    let code = crate::error::engine_code(e);
    html::error_page(
        code.status,
        "The queue cannot be read",
        &format!("{}: {e}", code.legacy),
    )
}

/// The gauges of the queue in the path, or the page to answer instead.
async fn find(
    console: &Shared,
    operator: &Operator,
    account: &str,
    name: &str,
) -> Result<QueueGauges, Response> {
    match console.gauges_of(operator, account, name).await {
        Ok(Some(gauges)) => Ok(gauges),
        Ok(None) => Err(not_found()),
        Err(e) => Err(failed(&e)),
    }
}

/// `GET /console/queues/{account}/{name}`.
pub(crate) async fn page(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Query(query): Query<PeekQuery>,
) -> Response {
    let gauges = match find(&console, &operator, &account, &name).await {
        Ok(gauges) => gauges,
        Err(page) => return page,
    };
    let queue = gauges.queue.clone();
    let caller = owner(&queue, &operator);
    let all = ["All".to_owned()];
    let attributes = match console
        .engine
        .get_queue_attributes(&caller, &queue, &all)
        .await
    {
        Ok(attributes) => attributes,
        Err(engine::EngineError::QueueDoesNotExist) => return not_found(),
        Err(e) => return failed(&e),
    };
    let path = queue_path(&queue);
    let writable = !console.config.read_only;
    let fifo = queue.name.ends_with(".fifo");
    let mut body = String::with_capacity(32 * 1024);
    let _ = write!(
        body,
        "<p class=\"sub\">{kind} queue · account {account} · <code>{arn}</code></p>\
         <section aria-labelledby=\"overview-h\"><h2 id=\"overview-h\">Overview</h2>\
         <div id=\"live\" data-refresh=\"{live_url}\">{live}</div></section>",
        kind = if fifo { "FIFO" } else { "Standard" },
        account = esc(&queue.account),
        arn = esc(attributes.get("QueueArn").map_or("", String::as_str)),
        live_url = esc(&format!("{path}/live")),
        live = live_html(&console, &operator, &gauges).await,
    );
    peek_section(&mut body, &console, &operator, &queue, &query.after).await;
    if writable {
        send_section(&mut body, &operator, &path, fifo);
    }
    redrive_section(&mut body, &console, &operator, &queue, &attributes).await;
    attributes_section(&mut body, &operator, &path, &attributes, fifo, writable);
    tags_section(&mut body, &console, &operator, &queue, writable).await;
    if writable {
        danger_section(&mut body, &operator, &path, &queue.name);
    }
    console.page(&operator, &queue.name, &body)
}

/// `GET …/live`: counts, chart and move tasks.
pub(crate) async fn live(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
) -> Response {
    match find(&console, &operator, &account, &name).await {
        Ok(gauges) => html::fragment(live_html(&console, &operator, &gauges).await),
        Err(page) => page,
    }
}

async fn live_html(console: &Shared, operator: &Operator, g: &QueueGauges) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        "<dl class=\"counts\">\
         <div><dt>Visible</dt><dd data-count=\"visible\">{}</dd></div>\
         <div><dt>In flight</dt><dd data-count=\"in-flight\">{}</dd></div>\
         <div><dt>Delayed</dt><dd data-count=\"delayed\">{}</dd></div>\
         <div><dt>Oldest message</dt><dd>{}</dd></div></dl>",
        count(g.visible),
        count(g.not_visible),
        count(g.delayed),
        if g.visible + g.not_visible + g.delayed == 0 {
            "—".to_owned()
        } else {
            duration(g.oldest_message_age_seconds)
        },
    );
    out.push_str(&chart::render(&console.history.chart(g)));
    let arn = console.engine.queue_arn(&g.queue);
    let tasks = console
        .engine
        .list_message_move_tasks(&owner(&g.queue, operator), &arn, Some(10))
        .await
        .unwrap_or_default();
    if !tasks.is_empty() {
        move_tasks_html(&mut out, console, operator, &g.queue, &tasks);
    }
    out
}

fn move_tasks_html(
    out: &mut String,
    console: &Shared,
    operator: &Operator,
    queue: &QueueRef,
    tasks: &[MoveTaskInfo],
) {
    out.push_str(
        "<table class=\"tasks\"><caption>Redrive (move) tasks</caption><thead><tr>\
         <th scope=\"col\">Started</th><th scope=\"col\">Status</th><th scope=\"col\">Destination</th>\
         <th scope=\"col\">Progress</th><th scope=\"col\"><span class=\"sr\">Action</span></th></tr></thead><tbody>",
    );
    for t in tasks {
        let moved = t.approximate_number_of_messages_moved;
        let total = t.approximate_number_of_messages_to_move.unwrap_or(moved);
        let _ = write!(
            out,
            "<tr data-task-status=\"{status}\"><td>{started}</td><td>{status}{reason}</td><td>{dest}</td>\
             <td><progress max=\"{max}\" value=\"{moved}\" aria-label=\"Moved\"></progress> \
             <span data-moved=\"{moved}\">{moved_text} of {total_text}</span></td><td>",
            started = esc(&time_utc(t.started_timestamp_ms)),
            status = esc(&t.status),
            reason = t.failure_reason.as_ref().map_or(String::new(), |r| format!(
                ": {}",
                esc(&crate::error::move_task_failure_reason(r))
            )),
            dest = esc(t
                .destination_arn
                .as_deref()
                .unwrap_or("back to the source queues")),
            max = total.max(1),
            moved_text = count(moved),
            total_text = count(total),
        );
        if let (Some(handle), false) = (&t.task_handle, console.config.read_only) {
            let _ = write!(
                out,
                "<form method=\"post\" action=\"{path}/redrive/cancel\" class=\"inline\">{csrf}\
                 <input type=\"hidden\" name=\"task_handle\" value=\"{handle}\">\
                 <button type=\"submit\">Cancel</button></form>",
                path = esc(&queue_path(queue)),
                csrf = html::csrf_field(operator),
                handle = esc(handle),
            );
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
}

async fn peek_section(
    out: &mut String,
    console: &Shared,
    operator: &Operator,
    queue: &QueueRef,
    after: &str,
) {
    let path = queue_path(queue);
    let _ = write!(
        out,
        "<section aria-labelledby=\"peek-h\" id=\"peek\"><h2 id=\"peek-h\">Messages</h2>\
         <p class=\"hint\">Peeking shows messages without receiving them: their visibility and \
         receive count do not change. <a href=\"{}#peek\">Refresh</a></p>",
        esc(&format!("{path}?after={}", url_param(after)))
    );
    let cursor = (!after.is_empty()).then_some(after);
    match console.engine.peek_messages(queue, cursor, PEEK_PAGE).await {
        Err(e) => {
            let _ = write!(out, "<p class=\"flash error\">{}</p>", esc(&e.to_string()));
        }
        Ok(page) => {
            if page.items.is_empty() {
                out.push_str("<p>No messages.</p>");
            }
            let delete_as = (!console.config.read_only).then_some(operator);
            for (index, m) in page.items.iter().enumerate() {
                let shown = Shown {
                    queue,
                    cursor: after,
                    index,
                    preview: true,
                    delete_as,
                };
                peek::message(out, m, &shown);
            }
            out.push_str("<nav class=\"pager\" aria-label=\"Message pages\">");
            if cursor.is_some() {
                let _ = write!(out, "<a href=\"{}#peek\">First messages</a>", esc(&path));
            }
            if let Some(next) = &page.next_token {
                let _ = write!(
                    out,
                    "<a href=\"{}#peek\" rel=\"next\">Next messages →</a>",
                    esc(&format!("{path}?after={}", url_param(next)))
                );
            }
            out.push_str("</nav>");
        }
    }
    out.push_str("</section>");
}

fn send_section(out: &mut String, operator: &Operator, path: &str, fifo: bool) {
    let _ = write!(
        out,
        "<section aria-labelledby=\"send-h\" class=\"card\"><h2 id=\"send-h\">Send a test message</h2>\
         <form method=\"post\" action=\"{path}/send\" class=\"grid\">{csrf}\
         <label for=\"send-body\">Body</label><textarea id=\"send-body\" name=\"body\" rows=\"4\" required></textarea>",
        path = esc(path),
        csrf = html::csrf_field(operator),
    );
    if fifo {
        out.push_str(
            "<label for=\"send-group\">Message group id</label><input id=\"send-group\" name=\"group_id\" required>\
             <label for=\"send-dedup\">Deduplication id</label><input id=\"send-dedup\" name=\"dedup_id\" \
             aria-describedby=\"send-dedup-hint\"><span id=\"send-dedup-hint\" class=\"hint\">Required unless \
             content-based deduplication is on.</span>",
        );
    } else {
        out.push_str(
            "<label for=\"send-delay\">Delay (s)</label><input id=\"send-delay\" name=\"delay_seconds\" type=\"number\" min=\"0\" max=\"900\">\
             <label for=\"send-group\">Message group id (fair queue tenant)</label><input id=\"send-group\" name=\"group_id\">",
        );
    }
    out.push_str("<fieldset class=\"attrs\"><legend>Message attributes (optional)</legend>");
    for i in 1..=3 {
        let _ = write!(
            out,
            "<div class=\"attr-row\"><label for=\"attr{i}-name\">Name {i}</label><input id=\"attr{i}-name\" name=\"attr{i}_name\">\
             <label for=\"attr{i}-type\">Type {i}</label><select id=\"attr{i}-type\" name=\"attr{i}_type\">\
             <option>String</option><option>Number</option><option value=\"Binary\">Binary (base64)</option></select>\
             <label for=\"attr{i}-value\">Value {i}</label><input id=\"attr{i}-value\" name=\"attr{i}_value\"></div>"
        );
    }
    out.push_str("</fieldset><button type=\"submit\">Send message</button></form></section>");
}

async fn redrive_section(
    out: &mut String,
    console: &Shared,
    operator: &Operator,
    queue: &QueueRef,
    attributes: &BTreeMap<String, String>,
) {
    let all = console.engine.queue_gauges().await.unwrap_or_default();
    let dead_letters = console.dead_letters(&all).await;
    let Some(sources) = dead_letters.sources.get(queue) else {
        if let Some(target) = dead_letters.targets.get(queue) {
            let _ = write!(
                out,
                "<section aria-labelledby=\"redrive-h\"><h2 id=\"redrive-h\">Dead-letter queue</h2>\
                 <p>Messages received too often move to <a href=\"{}\">{}</a>.</p></section>",
                esc(&queue_path(target)),
                esc(&target.name)
            );
        }
        return;
    };
    let _ = write!(
        out,
        "<section aria-labelledby=\"redrive-h\" class=\"card\"><h2 id=\"redrive-h\">Redrive</h2>\
         <p>This is the dead-letter queue of "
    );
    for (i, s) in sources.iter().enumerate() {
        let _ = write!(
            out,
            "{}<a href=\"{}\">{}</a>",
            if i == 0 { "" } else { ", " },
            esc(&queue_path(s)),
            esc(&s.name)
        );
    }
    out.push_str(". Progress of move tasks shows in the overview above.</p>");
    if !console.config.read_only {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{path}/redrive/start\" class=\"grid\">{csrf}\
             <label for=\"redrive-dest\">Destination queue ARN</label>\
             <input id=\"redrive-dest\" name=\"destination_arn\" aria-describedby=\"redrive-dest-hint\" \
              placeholder=\"{example}\">\
             <span id=\"redrive-dest-hint\" class=\"hint\">Empty: each message goes back to the queue it came from.</span>\
             <label for=\"redrive-rate\">Messages per second</label>\
             <input id=\"redrive-rate\" name=\"rate\" type=\"number\" min=\"1\" max=\"500\" placeholder=\"as fast as allowed\">\
             <button type=\"submit\">Start redrive</button></form>",
            path = esc(&queue_path(queue)),
            csrf = html::csrf_field(operator),
            example = esc(attributes.get("QueueArn").map_or("", String::as_str)),
        );
    }
    out.push_str("</section>");
}

fn attributes_section(
    out: &mut String,
    operator: &Operator,
    path: &str,
    attributes: &BTreeMap<String, String>,
    fifo: bool,
    writable: bool,
) {
    let disabled = if writable { "" } else { " disabled" };
    out.push_str(
        "<section aria-labelledby=\"attrs-h\" class=\"card\"><h2 id=\"attrs-h\">Attributes</h2>",
    );
    if writable {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{path}/attributes\" class=\"grid\">{csrf}",
            path = esc(path),
            csrf = html::csrf_field(operator),
        );
    } else {
        out.push_str("<div class=\"grid\">");
    }
    for (name, label, input) in EDITABLE {
        if FIFO_ONLY.contains(name) && !fifo {
            continue;
        }
        let current = attributes.get(*name).map_or("", String::as_str);
        let id = format!("attr-{name}");
        let _ = write!(out, "<label for=\"{id}\">{label}</label>");
        match input {
            Input::Number(min, max) => {
                let _ = write!(
                    out,
                    "<input id=\"{id}\" name=\"{name}\" type=\"number\" min=\"{min}\" max=\"{max}\" value=\"{}\"{disabled}>",
                    esc(current)
                );
            }
            Input::Text => {
                let _ = write!(
                    out,
                    "<input id=\"{id}\" name=\"{name}\" value=\"{}\"{disabled}>",
                    esc(current)
                );
            }
            Input::Choice(options) => {
                let _ = write!(out, "<select id=\"{id}\" name=\"{name}\"{disabled}>");
                for option in *options {
                    let _ = write!(
                        out,
                        "<option{}>{option}</option>",
                        if *option == current { " selected" } else { "" }
                    );
                }
                out.push_str("</select>");
            }
        }
    }
    for (name, label, hint) in DOCUMENTS {
        let current = attributes.get(*name).map_or("", String::as_str);
        let _ = write!(
            out,
            "<label for=\"attr-{name}\">{label}</label>\
             <textarea id=\"attr-{name}\" name=\"{name}\" rows=\"3\" aria-describedby=\"attr-{name}-hint\"{disabled}>{}</textarea>\
             <span id=\"attr-{name}-hint\" class=\"hint\">{}</span>",
            esc(current),
            esc(hint)
        );
    }
    out.push_str(if writable {
        "<button type=\"submit\">Save attributes</button></form>"
    } else {
        "</div>"
    });
    out.push_str("<details><summary>Read-only attributes</summary><dl class=\"meta\">");
    for (name, value) in attributes {
        if editable_names().any(|n| n == name) {
            continue;
        }
        let shown = match name.as_str() {
            "CreatedTimestamp" | "LastModifiedTimestamp" => value
                .parse::<u64>()
                .map_or(value.clone(), |s| time_utc(s.saturating_mul(1000))),
            _ => value.clone(),
        };
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(&shown));
    }
    out.push_str("</dl></details></section>");
}

async fn tags_section(
    out: &mut String,
    console: &Shared,
    operator: &Operator,
    queue: &QueueRef,
    writable: bool,
) {
    let path = queue_path(queue);
    let tags = console
        .engine
        .list_queue_tags(&owner(queue, operator), queue)
        .await
        .unwrap_or_default();
    out.push_str("<section aria-labelledby=\"tags-h\" class=\"card\"><h2 id=\"tags-h\">Tags</h2>");
    if tags.is_empty() {
        out.push_str("<p>No tags.</p>");
    } else {
        out.push_str(
            "<table class=\"tags\"><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Value</th>\
             <th scope=\"col\"><span class=\"sr\">Action</span></th></tr></thead><tbody>",
        );
        for (key, value) in &tags {
            let _ = write!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>",
                esc(key),
                esc(value)
            );
            if writable {
                let _ = write!(
                    out,
                    "<form method=\"post\" action=\"{}/untag\" class=\"inline\">{}\
                     <input type=\"hidden\" name=\"key\" value=\"{}\">\
                     <button type=\"submit\" aria-label=\"Remove tag {}\">Remove</button></form>",
                    esc(&path),
                    html::csrf_field(operator),
                    esc(key),
                    esc(key)
                );
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table>");
    }
    if writable {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{}/tags\" class=\"grid\">{}\
             <label for=\"tag-key\">Key</label><input id=\"tag-key\" name=\"key\" required maxlength=\"128\">\
             <label for=\"tag-value\">Value</label><input id=\"tag-value\" name=\"value\" maxlength=\"256\">\
             <button type=\"submit\">Add or update tag</button></form>",
            esc(&path),
            html::csrf_field(operator)
        );
    }
    out.push_str("</section>");
}

fn danger_section(out: &mut String, operator: &Operator, path: &str, name: &str) {
    let _ = write!(
        out,
        "<section aria-labelledby=\"danger-h\" class=\"card danger-zone\"><h2 id=\"danger-h\">Purge or delete</h2>\
         <form method=\"post\" action=\"{path}/purge\" class=\"grid\">{csrf}\
         <label for=\"purge-confirm\">Yes, delete every message in {name}</label>\
         <input id=\"purge-confirm\" name=\"confirm\" type=\"checkbox\" value=\"yes\" required>\
         <button type=\"submit\" class=\"danger\">Purge queue</button></form>\
         <form method=\"post\" action=\"{path}/delete\" class=\"grid\">{csrf}\
         <label for=\"delete-confirm\">Type the queue name to delete it</label>\
         <input id=\"delete-confirm\" name=\"confirm_name\" required autocomplete=\"off\">\
         <button type=\"submit\" class=\"danger\">Delete queue</button></form></section>",
        path = esc(path),
        csrf = html::csrf_field(operator),
        name = esc(name),
    );
}

/// `?after=<cursor>&index=<i>&id=<message id>` of the message page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MessageQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    index: usize,
    #[serde(default)]
    id: String,
}

/// `GET …/message`: one message in full (peeked again, so nothing changes).
pub(crate) async fn message(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Path((account, name)): Path<(String, String)>,
    Query(query): Query<MessageQuery>,
) -> Response {
    let queue = match find(&console, &operator, &account, &name).await {
        Ok(gauges) => gauges.queue,
        Err(page) => return page,
    };
    let cursor = (!query.after.is_empty()).then_some(query.after.as_str());
    let max = query.index.min(peek::PEEK_PAGE * 10) + 1;
    let found = console
        .engine
        .peek_messages(&queue, cursor, max)
        .await
        .ok()
        .and_then(|page| page.items.into_iter().find(|m| m.message_id == query.id));
    let back = format!(
        "{}?after={}#peek",
        queue_path(&queue),
        url_param(&query.after)
    );
    let mut body = format!(
        "<p><a href=\"{}\">← Back to {}</a></p>",
        esc(&back),
        esc(&queue.name)
    );
    match found {
        Some(m) => {
            let shown = Shown {
                queue: &queue,
                cursor: &query.after,
                index: query.index,
                preview: false,
                delete_as: (!console.config.read_only).then_some(&operator),
            };
            peek::message(&mut body, &m, &shown);
        }
        None => body.push_str("<p>That message is no longer in the queue.</p>"),
    }
    console.page(&operator, &format!("Message in {}", queue.name), &body)
}
