//! `EngineError`: one variant per SQS-meaningful failure. The server maps each
//! to its SQS error code and HTTP status in one place.

/// Errors of the engine. Messages are the human text sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No such queue (or not visible to the caller's account).
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    /// CreateQueue with the name of an existing queue but other attributes.
    #[error("A queue already exists with the same name and a different value for attribute {0}")]
    QueueNameExists(String),
    /// CreateQueue within 60 s of deleting the same name.
    #[error("You must wait 60 seconds after deleting a queue before you can create another with the same name.")]
    QueueDeletedRecently,
    /// Unknown attribute name.
    #[error("{0}")]
    InvalidAttributeName(String),
    /// Attribute value out of range or malformed.
    #[error("{0}")]
    InvalidAttributeValue(String),
    /// A parameter value is invalid.
    #[error("{0}")]
    InvalidParameterValue(String),
    /// A required parameter is missing.
    #[error("{0}")]
    MissingParameter(String),
    /// Two parameters that cannot be combined.
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// Body or attribute contains characters outside SQS's allowed ranges.
    #[error("{0}")]
    InvalidMessageContents(String),
    /// Receipt handle forged, garbled or for another queue.
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    /// A quota was exceeded (in-flight messages, policy actions, …).
    #[error("{0}")]
    OverLimit(String),
    /// PurgeQueue within 60 s of the previous one.
    #[error("Only one PurgeQueue operation on {0} is allowed every 60 seconds.")]
    PurgeQueueInProgress(String),
    /// More than 10 batch entries.
    #[error("Maximum number of entries per request are 10. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    /// A batch with no entries.
    #[error("There should be at least one {0} in the request.")]
    EmptyBatchRequest(String),
    /// Two batch entries with the same Id.
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    /// A batch entry Id that is too long or has illegal characters.
    #[error("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")]
    InvalidBatchEntryId(String),
    /// Batch payload over 1 MiB in total.
    #[error("Batch requests cannot be longer than 1048576 bytes. You have sent {0} bytes.")]
    BatchRequestTooLong(usize),
    /// Move task / source ARN not found.
    #[error("{0}")]
    ResourceNotFound(String),
    /// An operation SQS does not allow here.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The caller's account may not perform this action on the queue.
    #[error("Access to the resource {0} is denied.")]
    AccessDenied(String),
    /// The storage layer failed (internal error; poisoned WAL etc.).
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// The queue store is temporarily unavailable (a conflict, a lost
    /// connection, an unknown commit outcome): retryable, and the retry is
    /// safe.
    #[error("The service is unavailable: {0}")]
    Unavailable(String),
    /// The queue store failed in a way it cannot recover from.
    #[error("store failure: {0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for EngineError {
    fn from(error: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match error {
            StoreError::Unavailable(reason) => EngineError::Unavailable(reason),
            StoreError::QueueGone => EngineError::QueueDoesNotExist,
            StoreError::Storage(e) => EngineError::Storage(e),
            StoreError::Internal(reason) => EngineError::Internal(reason),
        }
    }
}
