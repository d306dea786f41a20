//! The console's static files, embedded in the binary with `include_str!`
//! (three small files: no asset-bundling crate needed). Served with an ETag and
//! `Cache-Control: no-cache`, so a browser revalidates them cheaply and never
//! runs a stale script after an upgrade.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// URL of the stylesheet.
pub(crate) const CSS_URL: &str = "/console/assets/console.css";
/// URL of the script (an ES module).
pub(crate) const JS_URL: &str = "/console/assets/console.js";
/// URL of the icon.
pub(crate) const ICON_URL: &str = "/console/assets/icon.svg";

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const ICON: &str = include_str!("assets/icon.svg");

/// `(file name, content type, content)` of every asset.
const FILES: &[(&str, &str, &str)] = &[
    ("console.css", "text/css; charset=utf-8", CSS),
    ("console.js", "text/javascript; charset=utf-8", JS),
    ("icon.svg", "image/svg+xml", ICON),
];

/// The ETag of each file of [`FILES`], computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, content)| {
                let digest = Sha256::digest(content.as_bytes());
                format!("\"{}\"", hex::encode(digest.get(..8).unwrap_or_default()))
            })
            .collect()
    })
}

/// `GET /console/assets/{file}`.
pub(crate) async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = FILES.iter().position(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (Some((_, content_type, content)), Some(etag)) = (FILES.get(index), etags().get(index))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, *content).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
    response
}
