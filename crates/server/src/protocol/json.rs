//! AWS JSON 1.0: request body → JSON object, [`Out`] → body, errors → body.

use serde_json::{Map, Value};

use super::Out;
use crate::error::SqsError;

/// Content type of every JSON response.
pub(crate) const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Parses a request body into its top-level object. An empty body is an
/// empty object (required members then report `MissingParameter`); invalid
/// JSON or invalid UTF-8 is a serialization error, never decoded lossily.
pub(crate) fn decode(body: &[u8]) -> Result<Map<String, Value>, SqsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SqsError::Serialization(
            "The request body must be a JSON object.".into(),
        )),
        // A `\uD800`-style escape is well-formed JSON naming a character SQS
        // does not allow in messages: answer as SQS does for such bodies.
        Err(_) if has_surrogate_escape(body) => Err(SqsError::Engine(
            engine::EngineError::InvalidMessageContents(
                "Invalid characters found. The request contains a lone surrogate.".into(),
            ),
        )),
        Err(e) => Err(SqsError::Serialization(format!(
            "Malformed JSON request body: {e}"
        ))),
    }
}

/// True when `body` contains a `\uD800`–`\uDFFF` escape (serde_json rejects
/// unpaired ones; SQS calls such a body InvalidMessageContents).
fn has_surrogate_escape(body: &[u8]) -> bool {
    body.windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && (w[2] == b'd' || w[2] == b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

/// Encodes a successful response body.
pub(crate) fn encode(out: &Out) -> Vec<u8> {
    // Serializing `Out` cannot fail: all map keys are strings.
    serde_json::to_vec(out).unwrap_or_else(|_| b"{}".to_vec())
}

/// Encodes an error body: `{"__type": "com.amazonaws.sqs#<Shape>", "message": …}`.
pub(crate) fn encode_error(shape: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.sqs#{shape}"),
        "message": message,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_malformed_and_invalid_utf8_and_non_objects() {
        assert!(decode(b"").unwrap().is_empty());
        assert!(decode(b"  \n").unwrap().is_empty());
        assert!(matches!(
            decode(b"{\"QueueUrl\": \"x"),
            Err(SqsError::Serialization(_))
        ));
        assert!(matches!(decode(b"[1,2]"), Err(SqsError::Serialization(_))));
        assert!(matches!(
            decode(b"{\"MessageBody\": \"\xff\xfe\"}"),
            Err(SqsError::Serialization(_))
        ));
        let deep = "[".repeat(10_000);
        assert!(matches!(
            decode(deep.as_bytes()),
            Err(SqsError::Serialization(_))
        ));
    }

    #[test]
    fn encode_uses_model_member_names_and_base64_blobs() {
        let out = Out::object()
            .with("queueUrls", Out::List(vec![Out::str("u")]))
            .with("B", Out::Blob(vec![1, 2, 3]))
            .with("N", Out::Int(7));
        assert_eq!(
            String::from_utf8(encode(&out)).unwrap(),
            r#"{"queueUrls":["u"],"B":"AQID","N":7}"#
        );
        let empty = Out::object()
            .with("Successful", Out::List(vec![Out::str("x")]))
            .with("Failed", Out::List(Vec::new()));
        assert_eq!(
            String::from_utf8(encode(&empty)).unwrap(),
            r#"{"Successful":["x"]}"#,
            "empty lists are omitted"
        );
        let err: Value = serde_json::from_slice(&encode_error("QueueDoesNotExist", "m")).unwrap();
        assert_eq!(err["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(err["message"], "m");
    }
}
