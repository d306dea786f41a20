//! The queue list: every queue the operator may see, filtered by name,
//! [`PAGE_SIZE`] a page, with counts, age of the oldest message, dead-letter
//! relations and retention. The table is a fragment the page refreshes
//! every 2 s.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use engine::{QueueGauges, QueueRef};
use serde::Deserialize;

use super::html::{self, count, duration, esc, url_param};
use super::session::Operator;
use super::{owner, queue_path, Shared};

/// Queues per page.
pub(crate) const PAGE_SIZE: usize = 50;
/// Longest accepted filter.
const FILTER_MAX_CHARS: usize = 80;

/// `?q=<filter>&page=<n>`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    /// Case-insensitive part of the queue name.
    #[serde(default)]
    q: String,
    /// 1-based page number.
    #[serde(default)]
    page: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> String {
        self.q.trim().chars().take(FILTER_MAX_CHARS).collect()
    }
    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
    }
}

/// `GET /console/`.
pub(crate) async fn page(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Query(query): Query<ListQuery>,
) -> Response {
    let filter = query.filter();
    let mut body = String::with_capacity(16 * 1024);
    let _ = write!(
        body,
        "<form class=\"filter\" method=\"get\" action=\"/console/\" role=\"search\">\
         <label for=\"q\">Filter by name</label>\
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{f}\" autocomplete=\"off\" data-filter=\"queues\">\
         <button type=\"submit\">Filter</button></form>\
         <div id=\"queues\" data-refresh=\"{url}\">{table}</div>",
        f = esc(&filter),
        url = esc(&fragment_url(&filter, query.page())),
        table = table(&console, &operator, &filter, query.page()).await,
    );
    if !console.config.read_only {
        let _ = write!(
            body,
            "<section aria-labelledby=\"create-h\" class=\"card\"><h2 id=\"create-h\">Create a queue</h2>\
             <form method=\"post\" action=\"/console/queues\" class=\"grid\">{csrf}\
             <label for=\"create-name\">Name</label>\
             <input id=\"create-name\" name=\"name\" required maxlength=\"80\" pattern=\"[A-Za-z0-9_\\-]+(\\.fifo)?\" \
              aria-describedby=\"create-name-hint\">\
             <span id=\"create-name-hint\" class=\"hint\">Letters, digits, - and _; a FIFO queue's name ends in .fifo.</span>\
             <label for=\"create-fifo\">FIFO queue</label>\
             <input id=\"create-fifo\" name=\"fifo\" type=\"checkbox\" value=\"true\">\
             <label for=\"create-cbd\">Content-based deduplication (FIFO)</label>\
             <input id=\"create-cbd\" name=\"content_based_deduplication\" type=\"checkbox\" value=\"true\">\
             <label for=\"create-vt\">Visibility timeout (s)</label>\
             <input id=\"create-vt\" name=\"visibility_timeout\" type=\"number\" min=\"0\" max=\"43200\" placeholder=\"30\">\
             <label for=\"create-ret\">Retention (s)</label>\
             <input id=\"create-ret\" name=\"message_retention_period\" type=\"number\" min=\"60\" max=\"1209600\" placeholder=\"345600\">\
             <button type=\"submit\">Create queue</button></form></section>",
            csrf = html::csrf_field(&operator),
        );
    }
    console.page(&operator, "Queues", &body)
}

/// `GET /console/fragments/queues`: the table alone, for the live refresh.
pub(crate) async fn fragment(
    State(console): State<Shared>,
    Extension(operator): Extension<Operator>,
    Query(query): Query<ListQuery>,
) -> Response {
    html::fragment(table(&console, &operator, &query.filter(), query.page()).await)
}

fn fragment_url(filter: &str, page: usize) -> String {
    format!(
        "/console/fragments/queues?q={}&page={page}",
        url_param(filter)
    )
}

fn list_url(filter: &str, page: usize) -> String {
    format!("/console/?q={}&page={page}", url_param(filter))
}

/// The queues the operator may see whose name contains `filter` (any case).
fn visible(operator: &Operator, all: &[QueueGauges], filter: &str) -> Vec<usize> {
    let needle = filter.to_lowercase();
    all.iter()
        .enumerate()
        .filter(|(_, g)| operator.may_access(&g.queue.account))
        .filter(|(_, g)| needle.is_empty() || g.queue.name.to_lowercase().contains(&needle))
        .map(|(i, _)| i)
        .collect()
}

/// The table (caption, rows, pager) for one page.
async fn table(console: &Shared, operator: &Operator, filter: &str, page: usize) -> String {
    let all = match console.engine.queue_gauges().await {
        Ok(all) => all,
        Err(e) => {
            return format!(
                "<p class=\"flash error\">The queues cannot be read: {}</p>",
                esc(&e.to_string())
            )
        }
    };
    let shown = visible(operator, &all, filter);
    let pages = shown.len().div_ceil(PAGE_SIZE).max(1);
    let page = page.clamp(1, pages);
    let dead_letters = console.dead_letters(&all).await;
    let accounts: BTreeSet<&str> = shown
        .iter()
        .filter_map(|&i| all.get(i))
        .map(|g| g.queue.account.as_str())
        .collect();
    let show_account = accounts.len() > 1;

    let mut out = String::with_capacity(PAGE_SIZE * 600);
    let matching = if filter.is_empty() {
        String::new()
    } else {
        format!(" matching “{}”", esc(filter))
    };
    let _ = write!(
        out,
        "<table class=\"queues\"><caption><span data-count=\"queues\">{}</span> {}{matching}</caption><thead><tr>\
         <th scope=\"col\">Name</th>{}<th scope=\"col\">Type</th>\
         <th scope=\"col\" class=\"num\">Visible</th><th scope=\"col\" class=\"num\">In flight</th>\
         <th scope=\"col\" class=\"num\">Delayed</th><th scope=\"col\" class=\"num\">Oldest</th>\
         <th scope=\"col\">Dead-letter</th><th scope=\"col\" class=\"num\">Retention</th></tr></thead><tbody>",
        count(shown.len() as u64),
        if shown.len() == 1 { "queue" } else { "queues" },
        if show_account {
            "<th scope=\"col\">Account</th>"
        } else {
            ""
        },
    );
    let retention = ["MessageRetentionPeriod".to_owned()];
    for &i in shown.iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE) {
        let Some(g) = all.get(i) else { continue };
        let q = &g.queue;
        let retention_secs = console
            .engine
            .get_queue_attributes(&owner(q, operator), q, &retention)
            .await
            .ok()
            .and_then(|a| a.get("MessageRetentionPeriod").and_then(|v| v.parse().ok()));
        let _ = write!(
            out,
            "<tr data-queue=\"{name}\"><th scope=\"row\" data-label=\"Name\"><a href=\"{path}\">{name}</a></th>",
            name = esc(&q.name),
            path = esc(&queue_path(q)),
        );
        if show_account {
            let _ = write!(out, "<td data-label=\"Account\">{}</td>", esc(&q.account));
        }
        let _ = write!(
            out,
            "<td data-label=\"Type\">{kind}</td>\
             <td class=\"num\" data-label=\"Visible\" data-col=\"visible\">{}</td>\
             <td class=\"num\" data-label=\"In flight\" data-col=\"in-flight\">{}</td>\
             <td class=\"num\" data-label=\"Delayed\" data-col=\"delayed\">{}</td>\
             <td class=\"num\" data-label=\"Oldest\">{}</td><td data-label=\"Dead-letter\">{}</td>\
             <td class=\"num\" data-label=\"Retention\">{}</td></tr>",
            count(g.visible),
            count(g.not_visible),
            count(g.delayed),
            if g.visible + g.not_visible + g.delayed == 0 {
                "—".to_owned()
            } else {
                duration(g.oldest_message_age_seconds)
            },
            dead_letter_cell(q, &dead_letters),
            retention_secs.map_or("—".to_owned(), duration),
            kind = if q.name.ends_with(".fifo") {
                "FIFO"
            } else {
                "Standard"
            },
        );
    }
    if shown.is_empty() {
        out.push_str("<tr><td colspan=\"9\">No queues.</td></tr>");
    }
    out.push_str("</tbody></table>");
    pager(&mut out, filter, page, pages);
    out
}

/// "DLQ for a, b" and/or "→ target".
fn dead_letter_cell(q: &QueueRef, dead_letters: &super::DeadLetters) -> String {
    let mut cell = String::new();
    if let Some(sources) = dead_letters.sources.get(q) {
        cell.push_str("<span class=\"badge dlq\">DLQ</span> for ");
        for (i, source) in sources.iter().enumerate() {
            let _ = write!(
                cell,
                "{}<a href=\"{}\">{}</a>",
                if i == 0 { "" } else { ", " },
                esc(&queue_path(source)),
                esc(&source.name)
            );
        }
    }
    if let Some(target) = dead_letters.targets.get(q) {
        if !cell.is_empty() {
            cell.push_str("; ");
        }
        let _ = write!(
            cell,
            "redrives to <a href=\"{}\">{}</a>",
            esc(&queue_path(target)),
            esc(&target.name)
        );
    }
    if cell.is_empty() {
        cell.push('—');
    }
    cell
}

fn pager(out: &mut String, filter: &str, page: usize, pages: usize) {
    if pages <= 1 {
        return;
    }
    let _ = write!(out, "<nav class=\"pager\" aria-label=\"Pages\">");
    if page > 1 {
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"prev\">← Previous</a>",
            esc(&list_url(filter, page - 1))
        );
    }
    let _ = write!(out, "<span>Page {page} of {pages}</span>");
    if page < pages {
        let _ = write!(
            out,
            "<a href=\"{}\" rel=\"next\">Next →</a>",
            esc(&list_url(filter, page + 1))
        );
    }
    out.push_str("</nav>");
}
