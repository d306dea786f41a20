//! [`SqsError`]: the ONLY place where engine, authentication and protocol
//! failures become SQS error codes and HTTP statuses (a pure mapping: how an
//! error is written for each protocol is `protocol::respond`). Every match
//! here is exhaustive: a new engine error does not compile until it has an
//! SQS code.
//!
//! Errors the Smithy model has no shape for (InvalidParameterValue,
//! MissingParameter, …) carry the `…Exception` name in the JSON `__type`
//! and the short Query code in `x-amzn-query-error` and the XML `<Code>`,
//! as SQS answers them (botocore then shows `Error.Code` = the short code
//! and `Error.QueryErrorCode` = the `…Exception` name).

use axum::http::StatusCode;
use engine::{EngineError, MoveTaskFailure};
use storage::StorageError;

use crate::auth::AuthError;

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

pub(crate) const fn client(shape: &'static str, legacy: &'static str, status: u16) -> ErrorCode {
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

pub(crate) const INTERNAL: ErrorCode = ErrorCode {
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
}
