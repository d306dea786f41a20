//! The request's query string: decoded pairs, presigned-parameter lookup and
//! the SigV4 canonical query string.

use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 3986 unreserved characters stay as they are; every other byte is
/// `%XX` with upper-case hex (SigV4's `UriEncode`).
pub(super) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The query string split into decoded `(name, value)` byte pairs, in the
/// order received.
///
/// Decoding follows `application/x-www-form-urlencoded` (as the aws-sigv4
/// crate does): `+` is a space and `%XX` a byte; a `%` not followed by two
/// hex digits stays literal. Empty `&&` segments are skipped and a segment
/// without `=` has an empty value. Decoding is byte-exact and never fails.
#[derive(Debug, Default)]
pub(super) struct QueryParams {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl QueryParams {
    /// Splits and decodes a raw query string (`None`: no `?` in the target).
    pub(super) fn parse(raw: Option<&str>) -> QueryParams {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
                (decode(name), decode(value))
            })
            .collect();
        QueryParams { pairs }
    }

    /// All values of the parameter `name` (case-sensitive), in order.
    pub(super) fn values(&self, name: &str) -> Vec<&[u8]> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name.as_bytes())
            .map(|(_, value)| value.as_slice())
            .collect()
    }

    /// Whether the parameter `name` is present at all.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(key, _)| key == name.as_bytes())
    }

    /// SigV4 canonical query string: every pair except those named in
    /// `exclude`, each name and value `UriEncode`d, sorted by encoded name
    /// and then encoded value, joined as `name=value` with `&`.
    pub(super) fn canonical(&self, exclude: &[&str]) -> String {
        let mut encoded: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(key, _)| !exclude.iter().any(|ex| key == ex.as_bytes()))
            .map(|(key, value)| (uri_encode(key), uri_encode(value)))
            .collect();
        encoded.sort();
        let mut out = String::new();
        for (i, (key, value)) in encoded.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(key);
            out.push('=');
            out.push_str(value);
        }
        out
    }
}

/// `+` → space, then percent-decoding to raw bytes.
fn decode(text: &str) -> Vec<u8> {
    let plus_as_space: Vec<u8> = text
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space).collect()
}

/// SigV4 `UriEncode` of raw bytes (unreserved characters kept).
pub(super) fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, UNRESERVED).to_string()
}
