//! Reads the signature parameters out of a request: the `Authorization`
//! header form or the presigned query-string form. Everything structural is
//! checked here, so later steps only deal with well-formed values.

use axum::http::HeaderMap;

use super::date::AmzDate;
use super::query::QueryParams;
use super::signing::{ALGORITHM, TERMINATOR};
use super::AuthError;

/// Longest presigned validity AWS accepts (7 days), in seconds.
pub(super) const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// Query parameters of the presigned form.
pub(super) const Q_ALGORITHM: &str = "X-Amz-Algorithm";
pub(super) const Q_CREDENTIAL: &str = "X-Amz-Credential";
pub(super) const Q_DATE: &str = "X-Amz-Date";
pub(super) const Q_EXPIRES: &str = "X-Amz-Expires";
pub(super) const Q_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
pub(super) const Q_SIGNATURE: &str = "X-Amz-Signature";
pub(super) const Q_SECURITY_TOKEN: &str = "X-Amz-Security-Token";

/// Header names of the header form.
pub(super) const H_DATE: &str = "x-amz-date";
pub(super) const H_SECURITY_TOKEN: &str = "x-amz-security-token";

/// `AKID/YYYYMMDD/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CredentialScope {
    /// Access key id.
    pub(super) access_key_id: String,
    /// `YYYYMMDD`.
    pub(super) date: String,
    /// Region, as the client chose it.
    pub(super) region: String,
    /// Signing service name.
    pub(super) service: String,
}

impl CredentialScope {
    /// `date/region/service/aws4_request`, as it appears in the string to sign.
    pub(super) fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// How the signature travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `Authorization: AWS4-HMAC-SHA256 …` + `X-Amz-Date`.
    Header,
    /// `X-Amz-*` query parameters, valid for `expires_secs` after the date.
    Presigned {
        /// `X-Amz-Expires`.
        expires_secs: u64,
    },
}

/// A request's signature parameters, structurally valid.
#[derive(Debug, Clone)]
pub(super) struct SignedRequest {
    /// Header or presigned.
    pub(super) form: Form,
    /// The credential scope.
    pub(super) credential: CredentialScope,
    /// Signed header names, lower-cased, in the order listed; includes `host`.
    pub(super) signed_headers: Vec<String>,
    /// Signature as sent (expected: 64 lower-case hex digits).
    pub(super) signature: String,
    /// `X-Amz-Date` exactly as sent (it goes into the string to sign).
    pub(super) amz_date: String,
    /// `X-Amz-Date` parsed.
    pub(super) date: AmzDate,
    /// `X-Amz-Security-Token`, if sent.
    pub(super) security_token: Option<Vec<u8>>,
}

fn incomplete(message: impl Into<String>) -> AuthError {
    AuthError::IncompleteSignature(message.into())
}

/// Whether the query carries presigned-form parameters.
pub(super) fn is_presigned(query: &QueryParams) -> bool {
    query.contains(Q_ALGORITHM) || query.contains(Q_CREDENTIAL) || query.contains(Q_SIGNATURE)
}

/// Finds and validates the signature parameters for a request whose scope
/// must name `service`.
pub(super) fn signed_request(
    headers: &HeaderMap,
    query: &QueryParams,
    service: &str,
) -> Result<SignedRequest, AuthError> {
    let authorization = headers.get(axum::http::header::AUTHORIZATION);
    let presigned = is_presigned(query);
    let signed = match (authorization, presigned) {
        (None, false) => return Err(AuthError::MissingAuthenticationToken),
        (Some(_), true) => {
            return Err(incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter \
                 or the Authorization header should be specified.",
            ))
        }
        (Some(value), false) => {
            if headers
                .get_all(axum::http::header::AUTHORIZATION)
                .iter()
                .count()
                > 1
            {
                return Err(incomplete("Only one Authorization header is allowed."));
            }
            let text = value
                .to_str()
                .map_err(|_| incomplete("The Authorization header contains non-ASCII bytes."))?;
            from_header(text, headers)?
        }
        (None, true) => from_query(query)?,
    };
    check_scope(&signed, service)?;
    Ok(signed)
}

/// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
fn from_header(authorization: &str, headers: &HeaderMap) -> Result<SignedRequest, AuthError> {
    let trimmed = authorization.trim();
    let (algorithm, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': only {ALGORITHM} is accepted."
        )));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((key, value)) = component.split_once('=') else {
            return Err(incomplete(
                "A component of the Authorization header is not a valid key=value pair \
                 (missing equal-sign).",
            ));
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value.trim()).is_some() {
            return Err(incomplete(format!(
                "The Authorization header has '{}' more than once.",
                key.trim()
            )));
        }
    }
    let amz_date = headers.get(H_DATE).map(|v| v.to_str());
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if amz_date.is_none() {
        missing.push("Authorization header requires existence of an 'X-Amz-Date' header.");
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) =
        (credential, signed_headers, signature, amz_date)
    else {
        return Err(incomplete(missing.join(" ")));
    };
    let amz_date = amz_date.map_err(|_| incomplete(bad_date_message()))?;
    let security_token = match headers.get_all(H_SECURITY_TOKEN).iter().count() {
        0 => None,
        1 => headers.get(H_SECURITY_TOKEN).map(|v| v.as_bytes().to_vec()),
        _ => {
            return Err(incomplete(
                "Only one X-Amz-Security-Token header is allowed.",
            ))
        }
    };
    assemble(
        Form::Header,
        credential,
        signed_headers,
        signature,
        amz_date,
        security_token,
    )
}

/// The presigned form's `X-Amz-*` query parameters.
fn from_query(query: &QueryParams) -> Result<SignedRequest, AuthError> {
    let required = [
        Q_ALGORITHM,
        Q_CREDENTIAL,
        Q_DATE,
        Q_EXPIRES,
        Q_SIGNED_HEADERS,
        Q_SIGNATURE,
    ];
    if required.iter().any(|name| !query.contains(name)) {
        return Err(incomplete(
            "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', \
             'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders' and 'X-Amz-Signature'. \
             Re-examine the query-string parameters.",
        ));
    }
    let algorithm = single(query, Q_ALGORITHM)?;
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "X-Amz-Algorithm only supports '{ALGORITHM}'."
        )));
    }
    let expires = single(query, Q_EXPIRES)?;
    let expires_secs = parse_expires(expires).ok_or_else(|| {
        incomplete(format!(
            "X-Amz-Expires must be a whole number of seconds from 1 to \
             {MAX_PRESIGNED_EXPIRES_SECS}."
        ))
    })?;
    let security_token = match query.values(Q_SECURITY_TOKEN).as_slice() {
        [] => None,
        [token] => Some(token.to_vec()),
        _ => return Err(incomplete("X-Amz-Security-Token must appear at most once.")),
    };
    assemble(
        Form::Presigned { expires_secs },
        single(query, Q_CREDENTIAL)?,
        single(query, Q_SIGNED_HEADERS)?,
        single(query, Q_SIGNATURE)?,
        single(query, Q_DATE)?,
        security_token,
    )
}

/// The one value of a presigned parameter, as UTF-8.
fn single<'q>(query: &'q QueryParams, name: &str) -> Result<&'q str, AuthError> {
    let values = query.values(name);
    let [value] = values.as_slice() else {
        return Err(incomplete(format!("{name} must appear exactly once.")));
    };
    let value: &'q [u8] = value;
    std::str::from_utf8(value).map_err(|_| incomplete(format!("{name} is not valid UTF-8.")))
}

fn parse_expires(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 7 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = text.parse().ok()?;
    (1..=MAX_PRESIGNED_EXPIRES_SECS)
        .contains(&secs)
        .then_some(secs)
}

fn bad_date_message() -> String {
    "X-Amz-Date must be in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z').".to_owned()
}

fn assemble(
    form: Form,
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: &str,
    security_token: Option<Vec<u8>>,
) -> Result<SignedRequest, AuthError> {
    let credential = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    if signature.is_empty() {
        return Err(incomplete("The Signature is empty."));
    }
    let date = AmzDate::parse(amz_date).ok_or_else(|| incomplete(bad_date_message()))?;
    Ok(SignedRequest {
        form,
        credential,
        signed_headers,
        signature: signature.to_owned(),
        amz_date: amz_date.to_owned(),
        date,
        security_token,
    })
}

/// `AKID/YYYYMMDD/region/service/aws4_request`, all five parts non-empty.
pub(super) fn parse_credential(text: &str) -> Result<CredentialScope, AuthError> {
    let parts: Vec<&str> = text.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(incomplete(
            "Credential must have the form <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.",
        ));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("Credential has an empty access key id."));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete("Credential scope date must be YYYYMMDD."));
    }
    if !is_valid_region(region) {
        return Err(incomplete(
            "Credential should be scoped to a valid region (letters, digits, '.', '_' or '-').",
        ));
    }
    if *terminator != TERMINATOR {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}'."
        )));
    }
    Ok(CredentialScope {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
    })
}

/// A region name we are willing to record: 1–64 of `[A-Za-z0-9._-]`.
pub(super) fn is_valid_region(region: &str) -> bool {
    (1..=64).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `host;x-amz-date;…`: non-empty names, lower-cased; `host` must be one.
fn parse_signed_headers(text: &str) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = text.split(';').map(str::to_ascii_lowercase).collect();
    if names.iter().any(|name| {
        name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b':' && b != b',')
    }) {
        return Err(incomplete(
            "SignedHeaders contains an empty or invalid header name.",
        ));
    }
    if !names.iter().any(|name| name == "host") {
        return Err(incomplete(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(names)
}

/// The scope must name `service`, and its date must be the date of `X-Amz-Date`.
fn check_scope(signed: &SignedRequest, service: &str) -> Result<(), AuthError> {
    if signed.credential.service != service {
        return Err(incomplete(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    if !signed.amz_date.starts_with(signed.credential.date.as_str()) {
        return Err(incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{}' != '{}'.",
            signed.credential.date,
            signed.amz_date.get(..8).unwrap_or_default()
        )));
    }
    Ok(())
}
