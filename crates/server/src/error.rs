//! [`SqsError`]: the ONLY place where engine, authentication and protocol
//! failures become SQS error codes and HTTP statuses, and where errors are
//! rendered for each protocol (JSON `__type` + `x-amzn-query-error`, or an
//! XML `ErrorResponse`). Every match here is exhaustive: a new engine error
//! does not compile until it has an SQS code.
//!
//! Errors the Smithy model has no shape for (InvalidParameterValue,
//! MissingParameter, …) carry the `…Exception` name in the JSON `__type`
//! and the short Query code in `x-amzn-query-error` and the XML `<Code>`,
//! as SQS answers them (botocore then shows `Error.Code` = the short code
//! and `Error.QueryErrorCode` = the `…Exception` name).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::{EngineError, MoveTaskFailure};
use storage::StorageError;

use crate::auth::AuthError;
use crate::protocol::{json, query, Protocol};

/// An error answered to an SQS client.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    /// The engine refused or failed the call.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The request was not authenticated.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// No `Action` parameter / no `X-Amz-Target`.
    #[error("The request must contain the parameter Action.")]
    MissingAction,
    /// An action name that is not one of the 23.
    #[error("The action {0} is not valid for this endpoint.")]
    InvalidAction(String),
    /// A required member is missing.
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    /// A member has a value the protocol layer rejects (bad integer, …).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A Query request with a bad percent-escape or non-UTF-8 bytes.
    #[error("{0}")]
    MalformedQueryString(String),
    /// A JSON body that does not parse or has members of the wrong type.
    #[error("{0}")]
    Serialization(String),
    /// A Query request to a queue URL without an `Action` (SQS answers 404
    /// with the body `<UnknownOperationException/>`).
    #[error("UnknownOperationException")]
    UnknownOperation,
    /// The request body exceeds `limits.max_request_bytes`.
    #[error("Request body larger than the limit of {0} bytes.")]
    RequestTooLarge(u64),
    /// A `Content-Encoding` other than `identity`.
    #[error("Content-Encoding {0} is not supported.")]
    UnsupportedContentEncoding(String),
    /// The body did not arrive within `limits.body_read_timeout_ms`.
    #[error("The request body was not received in time.")]
    RequestTimeout,
    /// The body could not be read (connection error, …).
    #[error("The request body could not be read: {0}")]
    IncompleteBody(String),
    /// A bug in the server (a request task panicked).
    #[error("internal error: {0}")]
    Internal(String),
    /// The global request-body budget stayed spent for the whole wait.
    #[error("The server is reading too many request bodies at once. Please retry the request.")]
    BodyBudgetExhausted,
}

/// How an error appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// Shape name (JSON `__type` suffix; metrics outcome): the modeled shape,
    /// or the `…Exception` name SQS uses for unmodeled errors.
    pub shape: &'static str,
    /// Legacy Query code (XML `<Code>`, first half of `x-amzn-query-error`,
    /// batch `Failed[].Code`).
    pub legacy: &'static str,
    /// HTTP status.
    pub status: StatusCode,
    /// `Sender` (client fault) or `Receiver` (our fault).
    pub sender_fault: bool,
}

const fn client(shape: &'static str, legacy: &'static str, status: u16) -> ErrorCode {
    let status = match StatusCode::from_u16(status) {
        Ok(s) => s,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    ErrorCode {
        shape,
        legacy,
        status,
        sender_fault: true,
    }
}

/// Unmodeled: JSON `InvalidParameterValueException`, Query `InvalidParameterValue`.
const INVALID_PARAMETER_VALUE: ErrorCode = client(
    "InvalidParameterValueException",
    "InvalidParameterValue",
    400,
);

/// Unmodeled: JSON `MissingRequiredParameterException`, Query `MissingParameter`.
const MISSING_PARAMETER: ErrorCode =
    client("MissingRequiredParameterException", "MissingParameter", 400);

/// The Query protocol's QueueDoesNotExist text (the JSON one is the engine's).
const NO_QUEUE_QUERY_MESSAGE: &str = "The specified queue does not exist for this wsdl version.";

const INTERNAL: ErrorCode = ErrorCode {
    shape: "InternalFailure",
    legacy: "InternalFailure",
    status: StatusCode::INTERNAL_SERVER_ERROR,
    sender_fault: false,
};

/// Temporarily unable to serve (full disk, poisoned log, overload): SDKs
/// retry a 503.
const UNAVAILABLE: ErrorCode = ErrorCode {
    shape: "ServiceUnavailable",
    legacy: "ServiceUnavailable",
    status: StatusCode::SERVICE_UNAVAILABLE,
    sender_fault: false,
};

/// The SQS code of a storage failure: the log refusing writes (poisoned by a
/// failed write or fsync, or a write that found the disk full) is 503;
/// anything else is a 500.
fn storage_code(e: &StorageError) -> ErrorCode {
    match e {
        StorageError::Poisoned(_) => UNAVAILABLE,
        StorageError::Io { source, .. } if is_disk_full(source) => UNAVAILABLE,
        StorageError::Io { .. }
        | StorageError::Corruption { .. }
        | StorageError::CorruptFrame { .. }
        | StorageError::MissingSegments { .. }
        | StorageError::ManifestMissing(_)
        | StorageError::ForeignFile(_)
        | StorageError::UnsupportedVersion { .. }
        | StorageError::Locked(_)
        | StorageError::Codec(_)
        | StorageError::BadPosition { .. }
        | StorageError::Index(_)
        | StorageError::Closed => INTERNAL,
    }
}

/// ENOSPC or EDQUOT.
fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded
}

/// Why the log refuses writes, in words for the client (the full reason, with
/// file paths, goes to the log): a poisoned log keeps the text of the I/O
/// error that poisoned it.
fn storage_unavailable_message(e: &StorageError) -> String {
    let disk_full = match e {
        StorageError::Io { source, .. } => is_disk_full(source),
        StorageError::Poisoned(reason) => {
            reason.contains("No space left on device")
                || reason.contains("Disk quota exceeded")
                || reason.contains("os error 28)")
                || reason.contains("os error 122)")
        }
        _ => false,
    };
    let cause = if disk_full {
        "the disk holding its data directory is full"
    } else {
        "a write or fsync of its log failed"
    };
    format!(
        "Service unavailable: the server cannot store changes because {cause}; \
         requests that only read still work. Retry later."
    )
}

/// The SQS code of an engine error.
pub fn engine_code(e: &EngineError) -> ErrorCode {
    match e {
        EngineError::QueueDoesNotExist => client(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
        ),
        EngineError::QueueNameExists(_) => client("QueueNameExists", "QueueAlreadyExists", 400),
        EngineError::QueueDeletedRecently => client(
            "QueueDeletedRecently",
            "AWS.SimpleQueueService.QueueDeletedRecently",
            400,
        ),
        EngineError::InvalidAttributeName(_) => {
            client("InvalidAttributeName", "InvalidAttributeName", 400)
        }
        EngineError::InvalidAttributeValue(_) => {
            client("InvalidAttributeValue", "InvalidAttributeValue", 400)
        }
        EngineError::InvalidParameterValue(_) => INVALID_PARAMETER_VALUE,
        EngineError::MissingParameter(_) => MISSING_PARAMETER,
        EngineError::InvalidParameterCombination(_) => client(
            "InvalidParameterCombinationException",
            "InvalidParameterCombination",
            400,
        ),
        EngineError::InvalidMessageContents(_) => {
            client("InvalidMessageContents", "InvalidMessageContents", 400)
        }
        EngineError::ReceiptHandleIsInvalid(_) => {
            client("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404)
        }
        EngineError::OverLimit(_) => client("OverLimit", "OverLimit", 403),
        EngineError::PurgeQueueInProgress(_) => client(
            "PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress",
            403,
        ),
        EngineError::TooManyEntriesInBatchRequest(_) => client(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            400,
        ),
        EngineError::EmptyBatchRequest(_) => client(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            400,
        ),
        EngineError::BatchEntryIdsNotDistinct(_) => client(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            400,
        ),
        EngineError::InvalidBatchEntryId(_) => client(
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            400,
        ),
        EngineError::BatchRequestTooLong(_) => client(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            400,
        ),
        EngineError::ResourceNotFound(_) => client(
            "ResourceNotFoundException",
            "ResourceNotFoundException",
            404,
        ),
        EngineError::UnsupportedOperation(_) => client(
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            400,
        ),
        EngineError::AccessDenied(_) => client("AccessDeniedException", "AccessDenied", 403),
        EngineError::Storage(e) => storage_code(e),
        EngineError::Internal(_) => INTERNAL,
        EngineError::Unavailable(_) => UNAVAILABLE,
    }
}

/// A move task's `FailureReason` as SQS reports it: the error code of what
/// went wrong (`AWS.SimpleQueueService.NonExistentQueue` when a queue was
/// deleted), else the engine's words.
pub fn move_task_failure_reason(failure: &MoveTaskFailure) -> String {
    match failure {
        MoveTaskFailure::QueueDoesNotExist => engine_code(&EngineError::QueueDoesNotExist)
            .legacy
            .to_owned(),
        MoveTaskFailure::Other(reason) => reason.clone(),
    }
}

/// The SQS code of an authentication error.
pub fn auth_code(e: &AuthError) -> ErrorCode {
    match e {
        AuthError::MissingAuthenticationToken => client(
            "MissingAuthenticationToken",
            "MissingAuthenticationToken",
            403,
        ),
        AuthError::IncompleteSignature(_) => {
            client("IncompleteSignature", "IncompleteSignature", 400)
        }
        AuthError::InvalidClientTokenId => {
            client("InvalidClientTokenId", "InvalidClientTokenId", 403)
        }
        AuthError::SignatureDoesNotMatch => {
            client("SignatureDoesNotMatch", "SignatureDoesNotMatch", 403)
        }
        AuthError::RequestExpired(_) => client("RequestExpired", "RequestExpired", 400),
    }
}

/// The code and status of an admin-endpoint error (engine and signature
/// failures keep their SQS codes).
pub fn admin_code(e: &crate::admin::AdminError) -> ErrorCode {
    use crate::admin::AdminError;
    match e {
        AdminError::Engine(e) => engine_code(e),
        AdminError::Auth(e) => auth_code(e),
        AdminError::Forbidden(_) => client("AccessDenied", "AccessDenied", 403),
        AdminError::BadRequest(_) => client("InvalidRequest", "InvalidRequest", 400),
        AdminError::Body(e) => e.code(),
        AdminError::Disabled(_) => client("NotFound", "NotFound", 404),
        AdminError::Encode(_) => INTERNAL,
    }
}

impl SqsError {
    /// A `MissingParameter` for member `name`.
    pub fn missing(name: &str) -> SqsError {
        SqsError::MissingParameter(name.to_owned())
    }

    /// The wire code, status and fault side of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SqsError::Engine(e) => engine_code(e),
            SqsError::Auth(e) => auth_code(e),
            SqsError::MissingAction => client("MissingAction", "MissingAction", 400),
            SqsError::InvalidAction(_) => client("InvalidAction", "InvalidAction", 400),
            SqsError::MissingParameter(_) => MISSING_PARAMETER,
            SqsError::InvalidParameterValue(_) => INVALID_PARAMETER_VALUE,
            SqsError::MalformedQueryString(_) => {
                client("MalformedQueryString", "MalformedQueryString", 404)
            }
            SqsError::Serialization(_) => {
                client("SerializationException", "SerializationException", 400)
            }
            SqsError::UnknownOperation => client(
                "UnknownOperationException",
                "UnknownOperationException",
                404,
            ),
            SqsError::RequestTooLarge(_) => {
                client("RequestEntityTooLarge", "RequestEntityTooLarge", 413)
            }
            SqsError::UnsupportedContentEncoding(_) => {
                client("UnsupportedMediaType", "UnsupportedMediaType", 415)
            }
            SqsError::RequestTimeout => client("RequestTimeout", "RequestTimeout", 408),
            SqsError::IncompleteBody(_) => client("IncompleteBody", "IncompleteBody", 400),
            SqsError::Internal(_) => INTERNAL,
            SqsError::BodyBudgetExhausted => UNAVAILABLE,
        }
    }

    /// The message sent to the client. Internal failures get a generic text
    /// (details go to the log).
    pub fn client_message(&self) -> String {
        match self {
            _ if self.code().sender_fault => self.to_string(),
            SqsError::Engine(EngineError::Storage(e)) if self.code() == UNAVAILABLE => {
                storage_unavailable_message(e)
            }
            SqsError::BodyBudgetExhausted => self.to_string(),
            _ => "We encountered an internal error. Please try again.".into(),
        }
    }

    /// The message in `protocol`: the Query protocol words QueueDoesNotExist
    /// its own way.
    fn message_in(&self, protocol: Protocol) -> String {
        match (protocol, self) {
            (Protocol::Query, SqsError::Engine(EngineError::QueueDoesNotExist)) => {
                NO_QUEUE_QUERY_MESSAGE.to_owned()
            }
            _ => self.client_message(),
        }
    }

    /// Renders the error for `protocol`, with the request id header.
    pub fn render(&self, protocol: Protocol, request_id: &str) -> Response {
        let code = self.code();
        let message = self.message_in(protocol);
        if !code.sender_fault {
            tracing::error!(error = %self, "internal failure");
        }
        let mut response = match protocol {
            Protocol::Json => {
                let mut r = (code.status, json::encode_error(code.shape, &message)).into_response();
                r.headers_mut().insert(
                    axum::http::header::CONTENT_TYPE,
                    HeaderValue::from_static(json::CONTENT_TYPE),
                );
                let fault = if code.sender_fault {
                    "Sender"
                } else {
                    "Receiver"
                };
                if let Ok(v) = HeaderValue::from_str(&format!("{};{fault}", code.legacy)) {
                    r.headers_mut().insert("x-amzn-query-error", v);
                }
                r
            }
            Protocol::Query => {
                let body = match self {
                    // SQS's exact answer: no ErrorResponse, no request id.
                    SqsError::UnknownOperation => b"<UnknownOperationException/>".to_vec(),
                    _ => query::encode_error(code.sender_fault, code.legacy, &message, request_id),
                };
                let mut r = (code.status, body).into_response();
                r.headers_mut().insert(
                    axum::http::header::CONTENT_TYPE,
                    HeaderValue::from_static(query::CONTENT_TYPE),
                );
                r
            }
        };
        if let Ok(v) = HeaderValue::from_str(request_id) {
            response.headers_mut().insert("x-amzn-requestid", v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_smithy_model() {
        let cases: Vec<(SqsError, &str, &str, u16)> = vec![
            (
                EngineError::QueueDoesNotExist.into(),
                "QueueDoesNotExist",
                "AWS.SimpleQueueService.NonExistentQueue",
                400,
            ),
            (
                EngineError::OverLimit("x".into()).into(),
                "OverLimit",
                "OverLimit",
                403,
            ),
            (
                EngineError::PurgeQueueInProgress("q".into()).into(),
                "PurgeQueueInProgress",
                "AWS.SimpleQueueService.PurgeQueueInProgress",
                403,
            ),
            (
                EngineError::ReceiptHandleIsInvalid("h".into()).into(),
                "ReceiptHandleIsInvalid",
                "ReceiptHandleIsInvalid",
                404,
            ),
            (
                EngineError::ResourceNotFound("t".into()).into(),
                "ResourceNotFoundException",
                "ResourceNotFoundException",
                404,
            ),
            (
                EngineError::QueueNameExists("x".into()).into(),
                "QueueNameExists",
                "QueueAlreadyExists",
                400,
            ),
            (
                EngineError::Storage(storage::StorageError::Poisoned("disk".into())).into(),
                "ServiceUnavailable",
                "ServiceUnavailable",
                503,
            ),
            (
                EngineError::Storage(storage::StorageError::Closed).into(),
                "InternalFailure",
                "InternalFailure",
                500,
            ),
            (
                EngineError::Internal("store".into()).into(),
                "InternalFailure",
                "InternalFailure",
                500,
            ),
            (
                EngineError::Unavailable("conflict".into()).into(),
                "ServiceUnavailable",
                "ServiceUnavailable",
                503,
            ),
            (
                SqsError::BodyBudgetExhausted,
                "ServiceUnavailable",
                "ServiceUnavailable",
                503,
            ),
            (
                AuthError::SignatureDoesNotMatch.into(),
                "SignatureDoesNotMatch",
                "SignatureDoesNotMatch",
                403,
            ),
            (
                AuthError::MissingAuthenticationToken.into(),
                "MissingAuthenticationToken",
                "MissingAuthenticationToken",
                403,
            ),
            (
                SqsError::MalformedQueryString("x".into()),
                "MalformedQueryString",
                "MalformedQueryString",
                404,
            ),
            (
                SqsError::InvalidAction("X".into()),
                "InvalidAction",
                "InvalidAction",
                400,
            ),
            (
                EngineError::InvalidParameterValue("x".into()).into(),
                "InvalidParameterValueException",
                "InvalidParameterValue",
                400,
            ),
            (
                SqsError::InvalidParameterValue("x".into()),
                "InvalidParameterValueException",
                "InvalidParameterValue",
                400,
            ),
            (
                EngineError::MissingParameter("x".into()).into(),
                "MissingRequiredParameterException",
                "MissingParameter",
                400,
            ),
            (
                SqsError::missing("QueueUrl"),
                "MissingRequiredParameterException",
                "MissingParameter",
                400,
            ),
            (
                EngineError::AccessDenied("q".into()).into(),
                "AccessDeniedException",
                "AccessDenied",
                403,
            ),
        ];
        for (err, shape, legacy, status) in cases {
            let code = err.code();
            assert_eq!(
                (code.shape, code.legacy, code.status.as_u16()),
                (shape, legacy, status),
                "{err:?}"
            );
        }
    }

    #[tokio::test]
    async fn json_errors_carry_type_and_query_error_header() {
        let r = SqsError::from(EngineError::QueueDoesNotExist).render(Protocol::Json, "rid-1");
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.headers()["x-amzn-query-error"],
            "AWS.SimpleQueueService.NonExistentQueue;Sender"
        );
        assert_eq!(r.headers()["x-amzn-requestid"], "rid-1");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(v["message"], "The specified queue does not exist.");
    }

    #[tokio::test]
    async fn a_log_that_refuses_writes_is_a_503_naming_the_cause_but_no_path() {
        let full = std::io::Error::from_raw_os_error(28);
        let poisoned = SqsError::from(EngineError::Storage(StorageError::Poisoned(
            StorageError::Io {
                path: "/secret/wal/00000000000000000001.wal".into(),
                source: full,
            }
            .to_string(),
        )));
        let message = poisoned.client_message();
        assert!(message.contains("disk"), "{message}");
        assert!(message.contains("full"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        let r = poisoned.render(Protocol::Json, "rid");
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.headers()["x-amzn-query-error"],
            "ServiceUnavailable;Receiver"
        );
        let other = SqsError::from(EngineError::Storage(StorageError::Poisoned(
            "I/O error on /secret: Input/output error (os error 5)".into(),
        )));
        let message = other.client_message();
        assert!(message.contains("write or fsync"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        let direct = SqsError::from(EngineError::Storage(StorageError::Io {
            path: "/secret".into(),
            source: std::io::Error::from_raw_os_error(28),
        }));
        assert_eq!(direct.code().status, 503);
        assert!(direct.client_message().contains("full"));
    }

    #[tokio::test]
    async fn query_words_queue_does_not_exist_its_own_way() {
        let r = SqsError::from(EngineError::QueueDoesNotExist).render(Protocol::Query, "rid");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains(
                "<Message>The specified queue does not exist for this wsdl version.</Message>"
            ),
            "{text}"
        );
        let r = SqsError::UnknownOperation.render(Protocol::Query, "rid");
        assert_eq!(r.status(), 404);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        assert_eq!(&body[..], b"<UnknownOperationException/>");
    }

    #[tokio::test]
    async fn internal_errors_hide_details_and_blame_the_receiver() {
        let err = SqsError::from(EngineError::Storage(storage::StorageError::Index(
            "secret path".into(),
        )));
        let r = err.render(Protocol::Query, "rid-2");
        assert_eq!(r.status(), 500);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("<Type>Receiver</Type><Code>InternalFailure</Code>"),
            "{text}"
        );
        assert!(!text.contains("secret path"));
        assert!(text.contains("<RequestId>rid-2</RequestId>"));
    }
}
