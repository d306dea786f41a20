//! HTML building blocks: escaping, the page frame (header, navigation, flash
//! message), fragments, redirects, and how numbers, times and durations read.
//!
//! Every dynamic value reaches the page through [`esc`]; nothing else in
//! the console writes user or message data into HTML.

use std::fmt::{self, Display, Write as _};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::assets;
use super::session::{Flash, Operator};

/// A string escaped for HTML text and (quoted) attribute values.
pub(crate) struct Esc<'a>(&'a str);

/// Escapes `text` for HTML (`& < > " '`).
pub(crate) fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            let (plain, tail) = rest.split_at(i);
            f.write_str(plain)?;
            let mut chars = tail.chars();
            f.write_str(match chars.next() {
                Some('&') => "&amp;",
                Some('<') => "&lt;",
                Some('>') => "&gt;",
                Some('"') => "&quot;",
                _ => "&#39;",
            })?;
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

/// Percent-encodes a value for a URL query parameter.
pub(crate) fn url_param(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// What surrounds a page's content.
pub(crate) struct Frame<'a> {
    /// The `<title>` and `<h1>`.
    pub(crate) title: &'a str,
    /// Who is signed in (`None` on the login page).
    pub(crate) operator: Option<&'a Operator>,
    /// Show the read-only badge.
    pub(crate) read_only: bool,
    /// A message left by the previous action.
    pub(crate) flash: Option<Flash>,
}

/// A whole page: `body` is already-escaped HTML.
pub(crate) fn page(frame: &Frame<'_>, body: &str) -> Response {
    page_with_status(StatusCode::OK, frame, body)
}

/// A whole page with a status other than 200.
pub(crate) fn page_with_status(status: StatusCode, frame: &Frame<'_>, body: &str) -> Response {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Stowage</title>\
         <link rel=\"icon\" href=\"{icon}\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"{css}\">\
         <script type=\"module\" src=\"{js}\"></script></head>\n<body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header class=\"top\"><nav aria-label=\"Console\"><a class=\"brand\" href=\"/console/\">Stowage</a>",
        title = esc(frame.title),
        icon = assets::ICON_URL,
        css = assets::CSS_URL,
        js = assets::JS_URL,
    );
    if let Some(operator) = frame.operator {
        out.push_str("<a href=\"/console/\">Queues</a>");
        if frame.read_only {
            out.push_str(
                "<span class=\"badge\" title=\"console.read_only = true\">read-only</span>",
            );
        }
        let _ = write!(
            out,
            "<span class=\"who\">{who}</span>",
            who = esc(&operator.label)
        );
        if operator.can_sign_out {
            let _ = write!(
                out,
                "<form method=\"post\" action=\"/console/logout\" class=\"inline\">{csrf}\
                 <button type=\"submit\">Sign out</button></form>",
                csrf = csrf_field(operator)
            );
        }
    }
    out.push_str("</nav></header>\n<main id=\"main\">");
    let _ = write!(out, "<h1>{}</h1>", esc(frame.title));
    if let Some(flash) = &frame.flash {
        flash_html(&mut out, flash);
    }
    out.push_str(body);
    out.push_str("</main></body></html>\n");
    html_response(status, out)
}

/// The hidden CSRF field every state-changing form carries.
pub(crate) fn csrf_field(operator: &Operator) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&operator.csrf)
    )
}

fn flash_html(out: &mut String, flash: &Flash) {
    let (class, role) = if flash.error {
        ("flash error", "alert")
    } else {
        ("flash ok", "status")
    };
    let _ = write!(
        out,
        "<p class=\"{class}\" role=\"{role}\">{}</p>",
        esc(&flash.text)
    );
}

/// A piece of HTML swapped into a page by the live refresh.
pub(crate) fn fragment(body: String) -> Response {
    html_response(StatusCode::OK, body)
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A small page explaining why a request was refused.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<p>{}</p><p><a href=\"/console/\">Back to the queues</a></p>",
        esc(message)
    );
    let frame = Frame {
        title,
        operator: None,
        read_only: false,
        flash: None,
    };
    page_with_status(status, &frame, &body)
}

/// `303 See Other` to `location` (after a form post, or to the login page).
pub(crate) fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `YYYY-MM-DD HH:MM:SS UTC` of an epoch-milliseconds time.
pub(crate) fn time_utc(epoch_ms: u64) -> String {
    let secs = i64::try_from(epoch_ms / 1000).unwrap_or(i64::MAX);
    let (year, month, day) = crate::auth::date::civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// A duration in seconds for people: `42 s`, `5 min 3 s`, `2 h 10 min`, `4 d`.
pub(crate) fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        3600..=86_399 if secs.is_multiple_of(3600) => format!("{} h", secs / 3600),
        3600..=86_399 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ if secs.is_multiple_of(86_400) => format!("{} d", secs / 86_400),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// `text` cut to at most `max_bytes` (on a character boundary), and whether
/// it was cut.
pub(crate) fn truncate(text: &str, max_bytes: usize) -> (&str, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let mut end = max_bytes;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    (text.get(..end).unwrap_or_default(), true)
}

/// A count with thousands separators (`12,345`).
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
