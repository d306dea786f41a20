//! The SigV4 canonical request, rebuilt from the raw request bytes.
//!
//! ```text
//! METHOD \n
//! canonical URI \n
//! canonical query string \n
//! name:value \n   (one line per signed header, in SignedHeaders order)
//! \n
//! signed;header;names \n
//! hex SHA-256 of the payload
//! ```

use axum::http::HeaderMap;
use percent_encoding::{percent_encode, AsciiSet};

use super::query::UNRESERVED;

/// Path encoding: [`UNRESERVED`] plus `/`, which separates segments.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Canonical URI for a non-S3 service, as botocore's `SigV4Auth` and the
/// aws-sigv4 crate compute it for `sqs`: the path *as received on the wire*
/// gets its dot segments and empty segments removed (botocore's
/// `remove_dot_segments`), then is `UriEncode`d once more with `/` kept.
/// So a `%20` in the request line becomes `%2520`: for every service but S3
/// the path is encoded twice in total.
pub(super) fn uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let normalized = remove_dot_segments(raw_path);
    percent_encode(normalized.as_bytes(), PATH).to_string()
}

/// botocore's `remove_dot_segments`: drops `.` and empty segments, lets `..`
/// pop the previous segment, and keeps the leading slash and (unless
/// nothing is left) the trailing one.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&kept.join("/"));
    if path.ends_with('/') && !kept.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical value of one signed header: every occurrence of the header
/// in received order, each trimmed with inner runs of whitespace collapsed
/// to one space, joined with `,`. A `host` header absent from the map (HTTP/2
/// carries it as `:authority`, which lands in the URI) falls back to
/// `authority`. Any other absent header has an empty value, which simply
/// fails to match what the client signed.
pub(super) fn header_value(
    headers: &HeaderMap,
    lowercase_name: &str,
    authority: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seen = false;
    for value in headers.get_all(lowercase_name) {
        if seen {
            out.push(b',');
        }
        seen = true;
        trim_all(value.as_bytes(), &mut out);
    }
    if !seen && lowercase_name == "host" {
        if let Some(authority) = authority {
            trim_all(authority.as_bytes(), &mut out);
        }
    }
    out
}

/// SigV4 `Trimall`: leading/trailing whitespace removed, inner runs of
/// whitespace replaced by one space (Python's `' '.join(value.split())`,
/// restricted to ASCII whitespace).
fn trim_all(value: &[u8], out: &mut Vec<u8>) {
    let mut first = true;
    for word in value
        .split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .filter(|word| !word.is_empty())
    {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(word);
    }
}

/// Everything that goes into the canonical request.
pub(super) struct CanonicalInput<'a> {
    /// HTTP method as received.
    pub(super) method: &'a str,
    /// Raw request path.
    pub(super) raw_path: &'a str,
    /// Canonical query string (see `QueryParams::canonical`).
    pub(super) canonical_query: &'a str,
    /// Request headers.
    pub(super) headers: &'a HeaderMap,
    /// URI authority, used when there is no `host` header.
    pub(super) authority: Option<&'a str>,
    /// Signed header names, lower-cased, in the order the client listed them.
    pub(super) signed_headers: &'a [String],
    /// Hex SHA-256 of the payload, or `UNSIGNED-PAYLOAD`.
    pub(super) payload_hash: &'a str,
}

/// Assembles the canonical request bytes (header values may be any bytes).
pub(super) fn request(input: &CanonicalInput<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(input.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(uri(input.raw_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(input.canonical_query.as_bytes());
    out.push(b'\n');
    for name in input.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend(header_value(input.headers, name, input.authority));
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(input.signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(input.payload_hash.as_bytes());
    out
}
