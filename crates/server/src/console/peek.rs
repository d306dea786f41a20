//! Peeked messages as HTML: body (escaped, cut at [`BODY_PREVIEW_BYTES`]
//! with a "show all" link), message attributes (binary ones as base64),
//! system attributes, state, receive count and FIFO ids. Peeking goes
//! through `Engine::peek_messages`, which changes nothing.

use std::fmt::Write as _;

use base64::Engine as _;
use engine::{AttributeValue, PeekState, PeekedMessage, QueueRef};

use super::html::{self, esc, time_utc, truncate, url_param};
use super::queue_path;
use super::session::Operator;

/// Body and attribute bytes shown before "show all".
pub(crate) const BODY_PREVIEW_BYTES: usize = 2048;
/// Messages per peek page.
pub(crate) const PEEK_PAGE: usize = 10;

/// How one message is shown.
pub(crate) struct Shown<'a> {
    /// The queue.
    pub(crate) queue: &'a QueueRef,
    /// The peek cursor of the page the message is on (`""`: first page).
    pub(crate) cursor: &'a str,
    /// Its position on that page.
    pub(crate) index: usize,
    /// Cut long values (the list) or show everything (the message page).
    pub(crate) preview: bool,
    /// Offer a delete button (with this operator's CSRF token).
    pub(crate) delete_as: Option<&'a Operator>,
}

/// A message attribute's value as text: String/Number as is, Binary as base64.
pub(crate) fn attribute_text(value: &AttributeValue) -> String {
    if value.data_type.starts_with("Binary") {
        base64::engine::general_purpose::STANDARD.encode(&value.value)
    } else {
        String::from_utf8_lossy(&value.value).into_owned()
    }
}

fn state_text(state: PeekState) -> String {
    match state {
        PeekState::Visible => "Visible".to_owned(),
        PeekState::InFlight { visible_at_ms } => {
            format!("In flight (visible again {})", time_utc(visible_at_ms))
        }
        PeekState::Delayed { visible_at_ms } => {
            format!("Delayed (visible {})", time_utc(visible_at_ms))
        }
    }
}

/// URL of the page showing one message in full.
fn full_url(shown: &Shown<'_>, message_id: &str) -> String {
    format!(
        "{}/message?after={}&index={}&id={}",
        queue_path(shown.queue),
        url_param(shown.cursor),
        shown.index,
        url_param(message_id)
    )
}

/// Writes a value, cut in preview mode, with a "show all" link when cut.
fn value_html(out: &mut String, text: &str, shown: &Shown<'_>, message_id: &str) {
    let (visible, cut) = if shown.preview {
        truncate(text, BODY_PREVIEW_BYTES)
    } else {
        (text, false)
    };
    let _ = write!(out, "<pre class=\"body\">{}</pre>", esc(visible));
    if cut {
        let _ = write!(
            out,
            "<p class=\"cut\">Showing {} of {} bytes. <a href=\"{}\">Show all</a></p>",
            html::count(visible.len() as u64),
            html::count(text.len() as u64),
            esc(&full_url(shown, message_id))
        );
    }
}

/// One message as an `<article>`.
pub(crate) fn message(out: &mut String, m: &PeekedMessage, shown: &Shown<'_>) {
    let _ = write!(
        out,
        "<article class=\"msg\" data-message-id=\"{id}\" aria-label=\"Message {id}\">\
         <h3 class=\"msg-id\">{id}</h3><dl class=\"meta\">\
         <dt>State</dt><dd data-field=\"state\">{state}</dd>\
         <dt>Sent</dt><dd>{sent}</dd>\
         <dt>Receive count</dt><dd data-field=\"receive-count\">{count}</dd>",
        id = esc(&m.message_id),
        state = esc(&state_text(m.state)),
        sent = esc(&time_utc(m.sent_timestamp_ms)),
        count = m.receive_count,
    );
    let optional: [(&str, Option<String>); 7] = [
        ("First received", m.first_receive_timestamp_ms.map(time_utc)),
        ("Message group", m.group_id.clone()),
        ("Deduplication id", m.dedup_id.clone()),
        ("Sequence number", m.sequence_number.clone()),
        ("Sender", Some(m.sender_id.clone())),
        ("Trace header", m.trace_header.clone()),
        ("Dead-letter source", m.dead_letter_source_arn.clone()),
    ];
    for (label, value) in optional {
        if let Some(value) = value {
            let _ = write!(out, "<dt>{label}</dt><dd>{}</dd>", esc(&value));
        }
    }
    let _ = write!(
        out,
        "<dt>MD5 of body</dt><dd><code>{}</code></dd></dl><h4>Body</h4>",
        esc(&m.md5_of_body)
    );
    value_html(out, &m.body, shown, &m.message_id);
    if !m.message_attributes.is_empty() {
        out.push_str(
            "<table class=\"attrs\"><caption>Message attributes</caption><thead><tr>\
             <th scope=\"col\">Name</th><th scope=\"col\">Type</th><th scope=\"col\">Value</th>\
             </tr></thead><tbody>",
        );
        for (name, value) in &m.message_attributes {
            let _ = write!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{}{}</td><td>",
                esc(name),
                esc(&value.data_type),
                if value.data_type.starts_with("Binary") {
                    " <span class=\"hint\">(base64)</span>"
                } else {
                    ""
                }
            );
            value_html(out, &attribute_text(value), shown, &m.message_id);
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table>");
    }
    if let Some(operator) = shown.delete_as {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{path}/messages/delete\" class=\"inline\">{csrf}\
             <input type=\"hidden\" name=\"message_id\" value=\"{id}\">\
             <button type=\"submit\" class=\"danger\" aria-label=\"Delete message {id}\">Delete message</button></form>",
            path = esc(&queue_path(shown.queue)),
            csrf = html::csrf_field(operator),
            id = esc(&m.message_id),
        );
    }
    out.push_str("</article>");
}
