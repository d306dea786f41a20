//! Input validation with SQS's rules and error wording: queue names, numeric
//! parameters, message bodies and attributes, batch ids, FIFO ids, tags.

use std::collections::{BTreeMap, HashSet};

use storage::AttributeValue;

use crate::limits::*;
use crate::EngineError;

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidParameterValue(message.into())
}

/// Queue name: 1–80 of `[A-Za-z0-9_-]`, optionally ending in `.fifo`.
pub(crate) fn queue_name(name: &str) -> Result<(), EngineError> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !name.is_empty()
        && name.len() <= QUEUE_NAME_MAX_CHARS
        && !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

/// An integer parameter within `min..=max`.
pub(crate) fn int_range(name: &str, value: i64, min: i64, max: i64) -> Result<i64, EngineError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(format!(
            "Value {value} for parameter {name} is invalid. Reason: Must be between {min} and {max}, if provided."
        )))
    }
}

/// `WaitTimeSeconds` of a ReceiveMessage: 0–20, with SQS's own wording.
pub(crate) fn wait_time_seconds(value: i64) -> Result<i64, EngineError> {
    if (0..=WAIT_TIME_MAX_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(format!(
            "Value {value} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= {WAIT_TIME_MAX_SECONDS}, if provided."
        )))
    }
}

/// Is `c` one of the characters SQS allows in bodies and string attributes?
pub(crate) fn allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// A stored free-text field (attribute data types, trace headers, tags,
/// queue attribute values): only the characters allowed in bodies, which are
/// exactly those XML 1.0 can carry, so no stored string can break a Query
/// (XML) answer. The message names `field` but never repeats the value.
pub(crate) fn text(field: &str, value: &str) -> Result<(), EngineError> {
    match value.chars().find(|c| !allowed_char(*c)) {
        None => Ok(()),
        Some(bad) => Err(invalid(format!(
            "Value for parameter {field} is invalid. Reason: it contains the character #x{:X}; the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.",
            u32::from(bad)
        ))),
    }
}

/// Body: not empty, only allowed characters.
pub(crate) fn body(body: &str) -> Result<(), EngineError> {
    if body.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter MessageBody.".into(),
        ));
    }
    if let Some(bad) = body.chars().find(|c| !allowed_char(*c)) {
        return Err(EngineError::InvalidMessageContents(format!(
            "Invalid characters found. Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            u32::from(bad)
        )));
    }
    Ok(())
}

/// Message attribute name rules: letters and digits (any script, as SQS
/// accepts `attr.1øßä`), `_`, `-` and `.`.
pub(crate) fn attribute_name(name: &str) -> Result<(), EngineError> {
    let lower = name.to_ascii_lowercase();
    let reason = if name.is_empty() {
        Some("Message attribute name must not be empty.")
    } else if name.chars().count() > ATTRIBUTE_NAME_MAX_CHARS {
        Some("Message attribute name can be at most 256 characters long.")
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        Some("Message attribute name can only contain alphanumeric characters, hyphens, underscores and periods.")
    } else if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        Some("Message attribute names starting with 'AWS.' or 'Amazon.' are reserved.")
    } else if name.starts_with('.') || name.ends_with('.') {
        Some("Message attribute name must not start or end with a period.")
    } else if name.contains("..") {
        Some("Message attribute name must not contain two consecutive periods.")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(invalid(format!(
            "Message attribute name '{name}' is invalid. {reason}"
        ))),
        None => Ok(()),
    }
}

/// The base type (`String`, `Number`, `Binary`) of a data type with an optional custom suffix.
pub(crate) fn base_type(data_type: &str) -> Option<&'static str> {
    let (base, suffix) = match data_type.split_once('.') {
        Some((base, suffix)) => (base, Some(suffix)),
        None => (data_type, None),
    };
    if data_type.len() > ATTRIBUTE_TYPE_MAX_CHARS || suffix.is_some_and(str::is_empty) {
        return None;
    }
    match base {
        "String" => Some("String"),
        "Number" => Some("Number"),
        "Binary" => Some("Binary"),
        _ => None,
    }
}

/// A Number attribute: decimal with optional sign, fraction and exponent;
/// ≤ 38 significant digits; magnitude within 10^-128..10^126.
pub(crate) fn number(text: &str) -> bool {
    let text = text.trim();
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => match e.parse::<i64>() {
            Ok(e) if e.abs() < 100_000 => (m, e),
            _ => return false,
        },
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return false;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let leading_zeros = digits.bytes().take_while(|b| *b == b'0').count();
    let significant = digits[leading_zeros..].trim_end_matches('0');
    if significant.is_empty() {
        return true; // zero
    }
    if significant.len() > NUMBER_DIGITS_MAX {
        return false;
    }
    // Decimal exponent of the leading significant digit.
    let int_len = i64::try_from(int_part.len()).unwrap_or(i64::MAX);
    let lead = i64::try_from(leading_zeros).unwrap_or(i64::MAX);
    let magnitude = int_len - lead - 1 + exponent;
    (NUMBER_EXPONENT_MIN..=NUMBER_EXPONENT_MAX).contains(&magnitude)
}

/// Message attributes: count, names, types, values. Returns their size in
/// bytes (names + types + values), which counts toward the message size.
pub(crate) fn message_attributes(
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<usize, EngineError> {
    if attributes.len() > MESSAGE_ATTRIBUTES_MAX {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MESSAGE_ATTRIBUTES_MAX}].",
            attributes.len()
        )));
    }
    let mut size = 0usize;
    for (name, value) in attributes {
        attribute_name(name)?;
        text(
            &format!("MessageAttribute.{name}.DataType"),
            &value.data_type,
        )?;
        let Some(base) = base_type(&value.data_type) else {
            return Err(invalid(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        };
        if value.value.is_empty() {
            return Err(invalid(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
            )));
        }
        if base != "Binary" {
            // SQS answers InvalidParameterValue here (InvalidMessageContents
            // is for the body only).
            let Ok(text) = std::str::from_utf8(&value.value) else {
                return Err(invalid(format!(
                    "Message (user) attribute '{name}' value is not valid UTF-8."
                )));
            };
            if let Some(bad) = text.chars().find(|c| !allowed_char(*c)) {
                return Err(invalid(format!(
                    "Message (user) attribute '{name}' value contains invalid binary character '#x{:X}'.",
                    u32::from(bad)
                )));
            }
            if base == "Number" && !number(text) {
                return Err(invalid(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
        }
        size += name.len() + value.data_type.len() + value.value.len();
    }
    Ok(size)
}

/// Message system attributes: only `AWSTraceHeader` (a String) is allowed.
/// Returns the trace header, if any.
pub(crate) fn system_attributes(
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<Option<String>, EngineError> {
    let mut trace = None;
    for (name, value) in attributes {
        if name != "AWSTraceHeader" {
            return Err(invalid(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if base_type(&value.data_type) != Some("String") || value.value.is_empty() {
            return Err(invalid(
                "Message system attribute 'AWSTraceHeader' must be a non-empty String.",
            ));
        }
        text(
            "MessageSystemAttribute.AWSTraceHeader.DataType",
            &value.data_type,
        )?;
        let header = String::from_utf8(value.value.clone()).map_err(|_| {
            invalid("Message system attribute 'AWSTraceHeader' is not valid UTF-8.")
        })?;
        text("MessageSystemAttribute.AWSTraceHeader", &header)?;
        trace = Some(header);
    }
    Ok(trace)
}

/// FIFO ids (dedup id, group id, receive attempt id): 1–128 characters of
/// alphanumerics and ASCII punctuation.
pub(crate) fn fifo_id(parameter: &str, value: &str) -> Result<(), EngineError> {
    let ok = !value.is_empty()
        && value.len() <= FIFO_ID_MAX_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "Value {value} for parameter {parameter} is invalid. Reason: {parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )))
    }
}

/// Batch ids: at least one entry, at most ten, well-formed, distinct.
pub(crate) fn batch_ids<'a>(
    entry_kind: &str,
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), EngineError> {
    let count = ids.len();
    if count == 0 {
        return Err(EngineError::EmptyBatchRequest(entry_kind.to_string()));
    }
    if count > BATCH_ENTRIES_MAX {
        return Err(EngineError::TooManyEntriesInBatchRequest(count));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let ok = !id.is_empty()
            && id.len() <= BATCH_ID_MAX_CHARS
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(EngineError::InvalidBatchEntryId(id.to_string()));
        }
        if !seen.insert(id) {
            return Err(EngineError::BatchEntryIdsNotDistinct(id.to_string()));
        }
    }
    Ok(())
}

/// Account ids as used in ARNs and policies: 12 digits.
pub(crate) fn account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// Tags of a queue: keys of 1 to `TAG_KEY_MAX_CHARS` characters, values of
/// at most `TAG_VALUE_MAX_CHARS`, at most `TAGS_MAX` of them.
pub(crate) fn tags(tags: &BTreeMap<String, String>) -> Result<(), EngineError> {
    for (key, value) in tags {
        text("Tag key", key)?;
        text("Tag value", value)?;
        if key.is_empty()
            || key.chars().count() > TAG_KEY_MAX_CHARS
            || value.chars().count() > TAG_VALUE_MAX_CHARS
        {
            return Err(EngineError::InvalidParameterValue(format!(
                "Tag key must be 1 to {TAG_KEY_MAX_CHARS} characters and its value at most {TAG_VALUE_MAX_CHARS}: {key}"
            )));
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(EngineError::InvalidParameterValue(format!(
            "Too many tags: a queue can have at most {TAGS_MAX} tags."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(queue_name("orders").is_ok());
        assert!(queue_name("orders-1_x.fifo").is_ok());
        assert!(queue_name(&"a".repeat(80)).is_ok());
        assert!(queue_name(&"a".repeat(81)).is_err());
        assert!(queue_name(&format!("{}.fifo", "a".repeat(76))).is_err());
        assert!(queue_name("").is_err());
        assert!(queue_name(".fifo").is_err());
        assert!(queue_name("bad name").is_err());
        assert!(queue_name("bad.name").is_err());
    }

    #[test]
    fn body_characters() {
        assert!(body("hello\t\n\r é 😀").is_ok());
        assert!(matches!(body(""), Err(EngineError::MissingParameter(_))));
        assert!(matches!(
            body("a\u{0}b"),
            Err(EngineError::InvalidMessageContents(_))
        ));
        assert!(matches!(
            body("\u{FFFF}"),
            Err(EngineError::InvalidMessageContents(_))
        ));
        assert!(matches!(
            body("\u{FFFE}"),
            Err(EngineError::InvalidMessageContents(_))
        ));
        assert!(matches!(
            body("\u{1F}"),
            Err(EngineError::InvalidMessageContents(_))
        ));
        assert!(body("\u{FFFD}\u{E000}\u{10FFFF}").is_ok());
    }

    #[test]
    fn stored_text_uses_the_body_rule() {
        assert!(text("f", "plain\t\n\r é 😀 \u{FFFD}\u{E000}\u{10FFFF}").is_ok());
        for bad in [
            "\u{1}", "a\u{0}", "\u{FFFF}", "\u{FFFE}", "x\u{1F}y", "\u{B}",
        ] {
            let err = text("Tag", bad).unwrap_err();
            assert!(
                matches!(err, EngineError::InvalidParameterValue(_)),
                "{bad:?}"
            );
            // The message never repeats the forbidden character.
            assert!(err.to_string().chars().all(allowed_char), "{err}");
        }
        let typed = |data_type: &str| {
            BTreeMap::from([(
                "a".to_string(),
                AttributeValue {
                    data_type: data_type.into(),
                    value: b"v".to_vec(),
                },
            )])
        };
        assert!(message_attributes(&typed("String.ok")).is_ok());
        for bad in ["String.\u{1}", "Binary.\u{FFFF}", "Number.\u{FFFE}"] {
            assert!(
                matches!(
                    message_attributes(&typed(bad)),
                    Err(EngineError::InvalidParameterValue(_))
                ),
                "{bad:?}"
            );
        }
        let trace = |data_type: &str, value: &str| {
            BTreeMap::from([(
                "AWSTraceHeader".to_string(),
                AttributeValue {
                    data_type: data_type.into(),
                    value: value.as_bytes().to_vec(),
                },
            )])
        };
        assert!(system_attributes(&trace("String", "Root=1-abc")).is_ok());
        assert!(system_attributes(&trace("String", "Root=\u{1}")).is_err());
        assert!(system_attributes(&trace("String.\u{FFFF}", "Root=1")).is_err());
    }

    #[test]
    fn attribute_names() {
        assert!(attribute_name("a.b-c_d").is_ok());
        assert!(attribute_name("attr.1øßä").is_ok());
        assert!(attribute_name("é").is_ok());
        for bad in [
            "", "AWS.x", "aws.x", "Amazon.y", "AMAZON.y", ".a", "a.", "a..b", "a b", "a!", "a€",
        ] {
            assert!(attribute_name(bad).is_err(), "{bad}");
        }
        assert!(attribute_name(&"a".repeat(256)).is_ok());
        assert!(attribute_name(&"ø".repeat(256)).is_ok());
        assert!(attribute_name(&"a".repeat(257)).is_err());
    }

    #[test]
    fn data_types() {
        assert_eq!(base_type("String"), Some("String"));
        assert_eq!(base_type("Number.float"), Some("Number"));
        assert_eq!(base_type("Binary.jpeg"), Some("Binary"));
        assert_eq!(base_type("Blob"), None);
        assert_eq!(base_type("String."), None);
        assert_eq!(base_type("string"), None);
    }

    #[test]
    fn numbers() {
        for ok in [
            "0",
            "-1",
            "+3.5",
            "1e10",
            "1E126",
            "9.99e125",
            ".5",
            "5.",
            "12345678901234567890123456789012345678",
            "1e-128",
            "0.000",
        ] {
            assert!(number(ok), "{ok}");
        }
        for bad in [
            "",
            "abc",
            "1e127",
            "10e126",
            "123456789012345678901234567890123456789",
            "1e-129",
            "1.2.3",
            "--1",
            "e5",
            "0x10",
            "1e",
        ] {
            assert!(!number(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_limits() {
        let mut attributes = BTreeMap::new();
        for i in 0..11 {
            attributes.insert(
                format!("a{i}"),
                AttributeValue {
                    data_type: "String".into(),
                    value: b"v".to_vec(),
                },
            );
        }
        assert!(message_attributes(&attributes).is_err());
        attributes.remove("a10");
        assert_eq!(message_attributes(&attributes).unwrap(), 10 * (2 + 6 + 1));
        attributes.insert(
            "n".into(),
            AttributeValue {
                data_type: "Number".into(),
                value: b"x".to_vec(),
            },
        );
        attributes.remove("a0");
        assert!(message_attributes(&attributes).is_err());
    }

    #[test]
    fn batch_id_rules() {
        assert!(matches!(
            batch_ids(
                "entry",
                std::iter::empty::<&str>().collect::<Vec<_>>().into_iter()
            ),
            Err(EngineError::EmptyBatchRequest(_))
        ));
        let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert!(matches!(
            batch_ids("e", many.iter().map(String::as_str)),
            Err(EngineError::TooManyEntriesInBatchRequest(11))
        ));
        assert!(matches!(
            batch_ids("e", ["a", "a"].into_iter()),
            Err(EngineError::BatchEntryIdsNotDistinct(_))
        ));
        assert!(matches!(
            batch_ids("e", ["bad!"].into_iter()),
            Err(EngineError::InvalidBatchEntryId(_))
        ));
        let long = "a".repeat(81);
        assert!(matches!(
            batch_ids("e", [long.as_str()].into_iter()),
            Err(EngineError::InvalidBatchEntryId(_))
        ));
        assert!(batch_ids("e", ["a-1", "b_2"].into_iter()).is_ok());
    }

    #[test]
    fn fifo_ids() {
        assert!(fifo_id("MessageGroupId", "g1!#$%").is_ok());
        assert!(fifo_id("MessageGroupId", "").is_err());
        assert!(fifo_id("MessageGroupId", "a b").is_err());
        assert!(fifo_id("MessageGroupId", &"a".repeat(129)).is_err());
    }
}
