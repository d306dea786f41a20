//! The principal of a request when no credentials are configured: nothing
//! is verified, but the access key id and region the client claims are
//! recorded when they look sane.

use axum::http::{HeaderMap, Uri};

use super::parse::{is_valid_region, Q_CREDENTIAL};
use super::query::QueryParams;
use super::{AuthConfig, Principal, ANONYMOUS_ACCESS_KEY_ID};

/// Never fails: whatever the request carries, the caller is the anonymous
/// account. The claimed key id (from `Authorization: … Credential=` or
/// `X-Amz-Credential`) is kept if it is 1–128 of `[A-Za-z0-9._-]`, the
/// region if it passes [`is_valid_region`].
pub(super) fn principal(config: &AuthConfig, uri: &Uri, headers: &HeaderMap) -> Principal {
    let claimed = claimed_credential(uri, headers);
    let (access_key_id, region) = match claimed.as_deref() {
        Some(credential) => split_credential(credential),
        None => (None, None),
    };
    Principal {
        account_id: config.anonymous_account_id.clone(),
        access_key_id: access_key_id.unwrap_or_else(|| ANONYMOUS_ACCESS_KEY_ID.to_owned()),
        region,
    }
}

/// The raw `Credential` value from the header, else from the query.
fn claimed_credential(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    let from_header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| {
            let start = text.find("Credential=")? + "Credential=".len();
            let rest = text.get(start..)?;
            let end = rest
                .find(|c: char| c == ',' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            rest.get(..end).map(str::to_owned)
        });
    from_header.or_else(|| {
        let query = QueryParams::parse(uri.query());
        let value = query.values(Q_CREDENTIAL).first()?.to_vec();
        String::from_utf8(value).ok()
    })
}

/// `AKID/date/region/…` → (key id, region), each only if well-formed.
fn split_credential(credential: &str) -> (Option<String>, Option<String>) {
    let mut parts = credential.split('/');
    let access_key_id = parts
        .next()
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned);
    let region = parts
        .nth(1)
        .filter(|region| is_valid_region(region))
        .map(str::to_owned);
    (access_key_id, region)
}
