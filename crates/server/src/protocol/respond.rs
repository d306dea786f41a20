//! [`respond`]: an action's result as the HTTP answer of its protocol — the
//! output (JSON, or the action's XML document) or the error (JSON `__type` +
//! `x-amzn-query-error`, or an XML `ErrorResponse`), with the request id.
//! The codes come from [`SqsError::code`]; only the writing is here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::EngineError;

use super::{json, query, Action, Out, Protocol};
use crate::error::SqsError;

/// The Query protocol's QueueDoesNotExist text (the JSON one is the engine's).
const NO_QUEUE_QUERY_MESSAGE: &str = "The specified queue does not exist for this wsdl version.";

/// The answer to one request.
pub(crate) fn respond(
    protocol: Protocol,
    action: Option<Action>,
    result: &Result<Out, SqsError>,
    request_id: &str,
) -> Response {
    let mut response = match result {
        Ok(out) => output(protocol, action, out, request_id),
        Err(e) => error(protocol, e, request_id),
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

fn output(protocol: Protocol, action: Option<Action>, out: &Out, request_id: &str) -> Response {
    let (content_type, body) = match (protocol, action) {
        (Protocol::Query, Some(action)) => {
            (query::CONTENT_TYPE, query::encode(action, out, request_id))
        }
        _ => (json::CONTENT_TYPE, json::encode(out)),
    };
    with_type((StatusCode::OK, body).into_response(), content_type)
}

fn error(protocol: Protocol, e: &SqsError, request_id: &str) -> Response {
    let code = e.code();
    let message = match (protocol, e) {
        (Protocol::Query, SqsError::Engine(EngineError::QueueDoesNotExist)) => {
            NO_QUEUE_QUERY_MESSAGE.to_owned()
        }
        _ => e.client_message(),
    };
    if !code.sender_fault {
        tracing::error!(error = %e, "internal failure");
    }
    match protocol {
        Protocol::Json => {
            let mut r = with_type(
                (code.status, json::encode_error(code.shape, &message)).into_response(),
                json::CONTENT_TYPE,
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
            let body = match e {
                // SQS's exact answer: no ErrorResponse, no request id.
                SqsError::UnknownOperation => b"<UnknownOperationException/>".to_vec(),
                _ => query::encode_error(code.sender_fault, code.legacy, &message, request_id),
            };
            with_type((code.status, body).into_response(), query::CONTENT_TYPE)
        }
    }
}

fn with_type(mut response: Response, content_type: &'static str) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::StorageError;

    fn render(e: SqsError, protocol: Protocol, request_id: &str) -> Response {
        respond(protocol, None, &Err(e), request_id)
    }

    #[tokio::test]
    async fn json_errors_carry_type_and_query_error_header() {
        let r = render(
            SqsError::from(EngineError::QueueDoesNotExist),
            Protocol::Json,
            "rid-1",
        );
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
        let r = render(poisoned, Protocol::Json, "rid");
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
        let r = render(
            SqsError::from(EngineError::QueueDoesNotExist),
            Protocol::Query,
            "rid",
        );
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains(
                "<Message>The specified queue does not exist for this wsdl version.</Message>"
            ),
            "{text}"
        );
        let r = render(SqsError::UnknownOperation, Protocol::Query, "rid");
        assert_eq!(r.status(), 404);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        assert_eq!(&body[..], b"<UnknownOperationException/>");
    }

    #[tokio::test]
    async fn internal_errors_hide_details_and_blame_the_receiver() {
        let err = SqsError::from(EngineError::Storage(storage::StorageError::Index(
            "secret path".into(),
        )));
        let r = render(err, Protocol::Query, "rid-2");
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
