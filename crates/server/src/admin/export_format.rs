//! The export format (`stowage export`, `stowage import`): JSON lines,
//! version 1. Each line is one JSON object with a `type`:
//!
//! - `header` (first line): `{"type":"header","format":"stowage-export","version":1,"exported_at_ms":…}`;
//! - `queue`: `{"type":"queue","account":…,"name":…,"attributes":{…},"tags":{…}}` —
//!   the settable attributes as GetQueueAttributes shows them;
//! - `message`: the queue (`account`, `queue`) and the message in the shape
//!   SQS's JSON ReceiveMessage answers with (`MessageId`, `Body`,
//!   `MD5OfBody`, `Attributes` — the system attributes `SenderId`,
//!   `SentTimestamp`, `ApproximateReceiveCount`,
//!   `ApproximateFirstReceiveTimestamp`, `MessageGroupId`,
//!   `MessageDeduplicationId`, `SequenceNumber`, `AWSTraceHeader`,
//!   `DeadLetterQueueSourceArn` —, `MessageAttributes` with `DataType`,
//!   `StringValue` / `BinaryValue` in base64), plus `state` (`visible`,
//!   `in_flight`, `delayed`).
//!
//! A reader accepts any version-1 file: unknown keys are ignored, so later
//! minor additions stay readable; a different `version` is refused.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use engine::{AttributeValue, PeekState, PeekedMessage};
use serde::{Deserialize, Serialize};

/// The `format` value of the header line.
pub const FORMAT: &str = "stowage-export";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// One line of an export file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    /// First line: format and version.
    Header(Header),
    /// A queue (before its messages).
    Queue(QueueLine),
    /// A message.
    Message(MessageLine),
}

/// The header line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// When the export was taken, epoch ms.
    pub exported_at_ms: u64,
}

impl Header {
    /// A header for an export taken now.
    pub fn now() -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            exported_at_ms: crate::admin::now_ms(),
        }
    }

    /// Refuses another format or version.
    pub fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("not a {FORMAT} file (format `{}`)", self.format));
        }
        if self.version != VERSION {
            return Err(format!(
                "export format version {} is not supported (this build reads version {VERSION})",
                self.version
            ));
        }
        Ok(())
    }
}

/// A queue line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueLine {
    /// Owner account.
    pub account: String,
    /// Queue name.
    pub name: String,
    /// Settable attributes (no counts, ARN or timestamps).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A message attribute in SQS's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeJson {
    /// `String`, `Number`, `Binary` (optionally `.suffix`).
    #[serde(rename = "DataType")]
    pub data_type: String,
    /// Value of String and Number attributes.
    #[serde(
        rename = "StringValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub string_value: Option<String>,
    /// Base64 value of Binary attributes.
    #[serde(
        rename = "BinaryValue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub binary_value: Option<String>,
}

impl AttributeJson {
    /// From the engine's value.
    pub fn from_value(value: &AttributeValue) -> AttributeJson {
        if value.data_type.starts_with("Binary") {
            AttributeJson {
                data_type: value.data_type.clone(),
                string_value: None,
                binary_value: Some(STANDARD.encode(&value.value)),
            }
        } else {
            AttributeJson {
                data_type: value.data_type.clone(),
                string_value: Some(String::from_utf8_lossy(&value.value).into_owned()),
                binary_value: None,
            }
        }
    }

    /// To the engine's value (base64 decoded).
    pub fn to_value(&self) -> Result<AttributeValue, String> {
        let value = match (&self.string_value, &self.binary_value) {
            (_, Some(b64)) => STANDARD
                .decode(b64)
                .map_err(|e| format!("BinaryValue is not base64: {e}"))?,
            (Some(s), None) => s.clone().into_bytes(),
            (None, None) => return Err("attribute without StringValue or BinaryValue".into()),
        };
        Ok(AttributeValue {
            data_type: self.data_type.clone(),
            value,
        })
    }
}

/// A message line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLine {
    /// Owner account of the queue.
    pub account: String,
    /// Queue name.
    pub queue: String,
    /// Message id at the source.
    #[serde(rename = "MessageId")]
    pub message_id: String,
    /// Body.
    #[serde(rename = "Body")]
    pub body: String,
    /// Hex MD5 of the body.
    #[serde(rename = "MD5OfBody", default)]
    pub md5_of_body: String,
    /// System attributes, by their SQS names, values as SQS renders them.
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
    /// Message attributes.
    #[serde(rename = "MessageAttributes", default)]
    pub message_attributes: BTreeMap<String, AttributeJson>,
    /// `visible`, `in_flight` or `delayed` when exported.
    #[serde(default = "visible")]
    pub state: String,
}

fn visible() -> String {
    "visible".into()
}

impl MessageLine {
    /// A peeked message of `account`/`queue` as a line.
    pub fn from_peeked(account: &str, queue: &str, m: PeekedMessage) -> MessageLine {
        let mut attributes = BTreeMap::new();
        attributes.insert("SenderId".to_owned(), m.sender_id);
        attributes.insert("SentTimestamp".to_owned(), m.sent_timestamp_ms.to_string());
        attributes.insert(
            "ApproximateReceiveCount".to_owned(),
            m.receive_count.to_string(),
        );
        if let Some(first) = m.first_receive_timestamp_ms {
            attributes.insert(
                "ApproximateFirstReceiveTimestamp".to_owned(),
                first.to_string(),
            );
        }
        let optional = [
            ("MessageGroupId", m.group_id),
            ("MessageDeduplicationId", m.dedup_id),
            ("SequenceNumber", m.sequence_number),
            ("AWSTraceHeader", m.trace_header),
            ("DeadLetterQueueSourceArn", m.dead_letter_source_arn),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                attributes.insert(name.to_owned(), value);
            }
        }
        MessageLine {
            account: account.to_owned(),
            queue: queue.to_owned(),
            message_id: m.message_id,
            md5_of_body: m.md5_of_body,
            body: m.body,
            attributes,
            message_attributes: m
                .message_attributes
                .iter()
                .map(|(k, v)| (k.clone(), AttributeJson::from_value(v)))
                .collect(),
            state: match m.state {
                PeekState::Visible => "visible",
                PeekState::InFlight { .. } => "in_flight",
                PeekState::Delayed { .. } => "delayed",
            }
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_carry_their_type() {
        let line = Line::Message(MessageLine {
            account: "000000000000".into(),
            queue: "q".into(),
            message_id: "id".into(),
            body: "hello".into(),
            md5_of_body: "5d41402abc4b2a76b9719d911017c592".into(),
            attributes: BTreeMap::from([("SenderId".into(), "AID".into())]),
            message_attributes: BTreeMap::from([(
                "bin".into(),
                AttributeJson::from_value(&AttributeValue {
                    data_type: "Binary".into(),
                    value: vec![0, 255],
                }),
            )]),
            state: "visible".into(),
        });
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"type":"message""#), "{text}");
        assert!(text.contains(r#""BinaryValue":"AP8=""#), "{text}");
        let back: Line = serde_json::from_str(&text).unwrap();
        assert_eq!(back, line);
        let Line::Message(m) = back else { panic!() };
        assert_eq!(
            m.message_attributes["bin"].to_value().unwrap().value,
            vec![0, 255]
        );
    }

    #[test]
    fn header_refuses_other_versions() {
        let mut h = Header::now();
        assert!(h.check().is_ok());
        h.version = 2;
        assert!(h.check().unwrap_err().contains("version 2"));
    }
}
