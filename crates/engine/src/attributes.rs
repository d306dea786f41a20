//! Queue attributes: names, defaults, ranges, normalisation, and the parsed
//! [`Settings`] the hot path uses, and CreateQueue's checks of its whole input.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::limits::*;
use crate::EngineError;

/// Internal attribute holding the queue's receipt-handle key (hex). Never
/// shown by GetQueueAttributes, never compared by CreateQueue.
pub(crate) const RECEIPT_KEY_ATTRIBUTE: &str = "__stowage.receipt_key";

/// Internal attribute: time of the last purge, epoch ms. The `QueuePurged`
/// tombstone alone does not keep it: once the tombstone's segment is
/// reclaimed, a restart would forget the purge and allow another within
/// 60 s. Never shown (GetQueueAttributes lists known names only).
pub(crate) const LAST_PURGE_ATTRIBUTE: &str = "__stowage.last_purge_ms";

/// Settable attributes valid on every queue.
const SETTABLE: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];
/// Settable attributes valid only on FIFO queues.
const SETTABLE_FIFO: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];
/// Computed, read-only attributes (GetQueueAttributes shows them; nothing sets them).
pub const READ_ONLY: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// A parsed RedrivePolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redrive {
    /// ARN of the dead-letter queue.
    pub(crate) target_arn: String,
    /// Receives allowed before the next one moves the message.
    pub(crate) max_receive_count: u32,
}

/// A parsed RedriveAllowPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedriveAllow {
    /// Any queue may use this one as its DLQ (default).
    AllowAll,
    /// No queue may.
    DenyAll,
    /// Only these source ARNs may.
    ByQueue(Vec<String>),
}

/// Attribute values the engine acts on, parsed once per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Default visibility timeout, ms.
    pub(crate) visibility_timeout_ms: u64,
    /// Largest message, bytes.
    pub(crate) maximum_message_size: u64,
    /// Retention, ms.
    pub(crate) retention_ms: u64,
    /// Queue delay, ms.
    pub(crate) delay_ms: u64,
    /// Default long-poll wait, seconds.
    pub(crate) wait_seconds: i64,
    /// Dead-letter redrive.
    pub(crate) redrive: Option<Redrive>,
    /// Who may use this queue as a DLQ.
    pub(crate) redrive_allow: RedriveAllow,
    /// FIFO content-based deduplication.
    pub(crate) content_based_dedup: bool,
    /// FIFO DeduplicationScope=messageGroup.
    pub(crate) dedup_per_group: bool,
}

fn int_of(attributes: &BTreeMap<String, String>, name: &str, default: i64) -> i64 {
    attributes
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(seconds: i64) -> u64 {
    u64::try_from(seconds).unwrap_or(0).saturating_mul(1000)
}

impl Settings {
    /// Parses stored (already validated) attributes, applying defaults.
    pub(crate) fn from_attributes(attributes: &BTreeMap<String, String>) -> Settings {
        Settings {
            visibility_timeout_ms: ms(int_of(
                attributes,
                "VisibilityTimeout",
                VISIBILITY_TIMEOUT_DEFAULT_SECONDS,
            )),
            maximum_message_size: u64::try_from(int_of(
                attributes,
                "MaximumMessageSize",
                MESSAGE_SIZE_MAX_BYTES as i64,
            ))
            .unwrap_or(MESSAGE_SIZE_MAX_BYTES),
            retention_ms: ms(int_of(
                attributes,
                "MessageRetentionPeriod",
                RETENTION_DEFAULT_SECONDS,
            )),
            delay_ms: ms(int_of(attributes, "DelaySeconds", 0)),
            wait_seconds: int_of(attributes, "ReceiveMessageWaitTimeSeconds", 0),
            redrive: attributes
                .get("RedrivePolicy")
                .and_then(|v| parse_redrive(v).ok()),
            redrive_allow: attributes
                .get("RedriveAllowPolicy")
                .and_then(|v| parse_redrive_allow(v).ok())
                .unwrap_or(RedriveAllow::AllowAll),
            content_based_dedup: attributes
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v == "true"),
            dedup_per_group: attributes
                .get("DeduplicationScope")
                .is_some_and(|v| v == "messageGroup"),
        }
    }
}

/// `InvalidAttributeName` as SQS words it (also for FIFO-only attributes on a
/// standard queue).
pub(crate) fn unknown_name(name: &str) -> EngineError {
    EngineError::InvalidAttributeName(format!("Unknown Attribute {name}."))
}

fn bad_value(name: &str) -> EngineError {
    EngineError::InvalidAttributeValue(format!("Invalid value for the parameter {name}."))
}

fn int_attribute(name: &str, value: &str, min: i64, max: i64) -> Result<String, EngineError> {
    match value.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
        _ => Err(bad_value(name)),
    }
}

fn bool_attribute(name: &str, value: &str) -> Result<String, EngineError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(bad_value(name)),
    }
}

/// Parses a RedrivePolicy document.
pub(crate) fn parse_redrive(text: &str) -> Result<Redrive, EngineError> {
    let reason = |why: &str| {
        EngineError::InvalidAttributeValue(format!(
            "Value {text} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| reason("Redrive policy is not a valid JSON map."))?;
    let Value::Object(map) = value else {
        return Err(reason("Redrive policy is not a valid JSON map."));
    };
    let target = map
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            reason("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match map.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        None => {
            return Err(reason(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ))
        }
        _ => None,
    };
    let count = count
        .filter(|c| (MAX_RECEIVE_COUNT_MIN..=MAX_RECEIVE_COUNT_MAX).contains(c))
        .ok_or_else(|| {
            reason("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
        })?;
    if map
        .keys()
        .any(|k| k != "deadLetterTargetArn" && k != "maxReceiveCount")
    {
        return Err(reason(
            "Only deadLetterTargetArn and maxReceiveCount are allowed.",
        ));
    }
    if parse_arn(target).is_none() {
        return Err(reason("Invalid value for deadLetterTargetArn."));
    }
    Ok(Redrive {
        target_arn: target.to_string(),
        max_receive_count: u32::try_from(count).unwrap_or(1),
    })
}

/// Canonical text of a RedrivePolicy.
pub(crate) fn redrive_text(redrive: &Redrive) -> String {
    serde_json::json!({
        "deadLetterTargetArn": redrive.target_arn,
        "maxReceiveCount": redrive.max_receive_count,
    })
    .to_string()
}

/// Parses a RedriveAllowPolicy document.
pub(crate) fn parse_redrive_allow(text: &str) -> Result<RedriveAllow, EngineError> {
    let reason = |why: &str| {
        EngineError::InvalidAttributeValue(format!(
            "Value {text} for parameter RedriveAllowPolicy is invalid. Reason: {why}"
        ))
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| reason("Redrive allow policy is not a valid JSON map."))?;
    let Value::Object(map) = value else {
        return Err(reason("Redrive allow policy is not a valid JSON map."));
    };
    let permission = map
        .get("redrivePermission")
        .and_then(Value::as_str)
        .ok_or_else(|| reason("Missing redrivePermission."))?;
    let sources = map.get("sourceQueueArns");
    match (permission, sources) {
        ("allowAll", None) => Ok(RedriveAllow::AllowAll),
        ("denyAll", None) => Ok(RedriveAllow::DenyAll),
        ("byQueue", Some(Value::Array(arns))) => {
            if arns.is_empty() || arns.len() > REDRIVE_ALLOW_SOURCES_MAX {
                return Err(reason("sourceQueueArns must list 1 to 10 queue ARNs."));
            }
            let mut list = Vec::new();
            for arn in arns {
                let arn = arn
                    .as_str()
                    .filter(|a| parse_arn(a).is_some())
                    .ok_or_else(|| reason("Invalid queue ARN in sourceQueueArns."))?;
                list.push(arn.to_string());
            }
            Ok(RedriveAllow::ByQueue(list))
        }
        ("byQueue", _) => Err(reason("byQueue requires sourceQueueArns.")),
        ("allowAll" | "denyAll", Some(_)) => {
            Err(reason("sourceQueueArns is only allowed with byQueue."))
        }
        _ => Err(reason(
            "redrivePermission must be allowAll, denyAll or byQueue.",
        )),
    }
}

/// Splits `arn:aws:sqs:<region>:<account>:<name>` into (region, account, name).
pub(crate) fn parse_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_tag, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, name) = (parts.next()?, parts.next()?, parts.next()?);
    if arn_tag != "arn"
        || partition.is_empty()
        || service != "sqs"
        || account.is_empty()
        || name.is_empty()
    {
        return None;
    }
    Some((region, account, name))
}

/// Validates and normalises attributes given to CreateQueue (`creating`) or
/// SetQueueAttributes. Values are returned canonical; an empty value of an
/// optional document attribute means "remove it". Cross-queue checks
/// (dead-letter target) are the caller's.
pub(crate) fn normalize(
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<BTreeMap<String, String>, EngineError> {
    let mut out = BTreeMap::new();
    for (name, value) in given {
        let name = name.as_str();
        let normalized = match name {
            "VisibilityTimeout" => int_attribute(name, value, 0, VISIBILITY_TIMEOUT_MAX_SECONDS)?,
            "MaximumMessageSize" => int_attribute(
                name,
                value,
                MESSAGE_SIZE_MIN_BYTES as i64,
                MESSAGE_SIZE_MAX_BYTES as i64,
            )?,
            "MessageRetentionPeriod" => {
                int_attribute(name, value, RETENTION_MIN_SECONDS, RETENTION_MAX_SECONDS)?
            }
            "DelaySeconds" => int_attribute(name, value, 0, DELAY_MAX_SECONDS)?,
            "ReceiveMessageWaitTimeSeconds" => {
                int_attribute(name, value, 0, WAIT_TIME_MAX_SECONDS)?
            }
            "KmsDataKeyReusePeriodSeconds" => {
                int_attribute(name, value, KMS_REUSE_MIN_SECONDS, KMS_REUSE_MAX_SECONDS)?
            }
            "SqsManagedSseEnabled" => bool_attribute(name, value)?,
            "KmsMasterKeyId" => value.clone(),
            "Policy" => {
                if value.is_empty() {
                    String::new()
                } else {
                    if value.len() > POLICY_MAX_BYTES {
                        return Err(EngineError::InvalidAttributeValue(format!(
                            "Policy is too long: {} bytes, the limit is {POLICY_MAX_BYTES}.",
                            value.len()
                        )));
                    }
                    match serde_json::from_str::<Value>(value) {
                        Ok(Value::Object(_)) => value.clone(),
                        _ => {
                            return Err(EngineError::InvalidAttributeValue(
                                "Invalid value for the parameter Policy.".into(),
                            ))
                        }
                    }
                }
            }
            "RedrivePolicy" => {
                if value.is_empty() {
                    String::new()
                } else {
                    redrive_text(&parse_redrive(value)?)
                }
            }
            "RedriveAllowPolicy" => {
                if value.is_empty() {
                    String::new()
                } else {
                    parse_redrive_allow(value)?;
                    value.clone()
                }
            }
            "FifoQueue" => {
                if !fifo {
                    // CreateQueue with FifoQueue=true but no `.fifo` suffix
                    // names a FIFO queue wrongly; otherwise (even `false`)
                    // a standard queue has no such attribute.
                    if creating && value.eq_ignore_ascii_case("true") {
                        return Err(EngineError::InvalidParameterValue(
                            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.".into(),
                        ));
                    }
                    return Err(unknown_name(name));
                }
                // On a FIFO queue `true` is what it is (SetQueueAttributes:
                // a no-op); it can never become standard.
                if bool_attribute(name, value)? != "true" {
                    return Err(bad_value(name));
                }
                continue;
            }
            "ContentBasedDeduplication" if fifo => bool_attribute(name, value)?,
            "DeduplicationScope" if fifo => match value.as_str() {
                "queue" | "messageGroup" => value.clone(),
                _ => return Err(bad_value(name)),
            },
            "FifoThroughputLimit" if fifo => match value.as_str() {
                "perQueue" | "perMessageGroupId" => value.clone(),
                _ => return Err(bad_value(name)),
            },
            _ => return Err(unknown_name(name)),
        };
        crate::validate::text(name, &normalized)?;
        out.insert(name.to_string(), normalized);
    }
    Ok(out)
}

/// Merges normalised changes into stored attributes (empty value removes).
pub(crate) fn merge(stored: &mut BTreeMap<String, String>, changes: BTreeMap<String, String>) {
    for (name, value) in changes {
        if value.is_empty() {
            stored.remove(&name);
        } else {
            stored.insert(name, value);
        }
    }
}

/// The value an attribute takes when it was never set.
fn default_of(name: &str, stored: &BTreeMap<String, String>) -> Option<String> {
    let kms = stored.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty());
    Some(match name {
        "VisibilityTimeout" => VISIBILITY_TIMEOUT_DEFAULT_SECONDS.to_string(),
        "MaximumMessageSize" => MESSAGE_SIZE_MAX_BYTES.to_string(),
        "MessageRetentionPeriod" => RETENTION_DEFAULT_SECONDS.to_string(),
        "DelaySeconds" | "ReceiveMessageWaitTimeSeconds" => "0".to_string(),
        "KmsDataKeyReusePeriodSeconds" => KMS_REUSE_DEFAULT_SECONDS.to_string(),
        // New queues get SSE-SQS unless they name a KMS key.
        "SqsManagedSseEnabled" => (!kms).to_string(),
        "ContentBasedDeduplication" => "false".to_string(),
        "DeduplicationScope" => "queue".to_string(),
        "FifoThroughputLimit" => "perQueue".to_string(),
        _ => return None,
    })
}

/// The current value of a settable attribute (its default when never set;
/// empty for an absent document or key).
fn current(stored: &BTreeMap<String, String>, name: &str) -> String {
    stored
        .get(name)
        .cloned()
        .or_else(|| default_of(name, stored))
        .unwrap_or_default()
}

/// CreateQueue of an existing name: the first *given* attribute (normalised,
/// as [`normalize`] returns them) whose value differs from the queue's
/// current one. Attributes not given are not compared with anything.
pub(crate) fn first_difference(
    given: &BTreeMap<String, String>,
    stored: &BTreeMap<String, String>,
) -> Option<String> {
    given
        .iter()
        .find(|(name, value)| current(stored, name) != **value)
        .map(|(name, _)| name.clone())
}

/// All settable attributes with defaults applied, as GetQueueAttributes shows them.
pub(crate) fn effective(stored: &BTreeMap<String, String>, fifo: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut names = vec![
        "VisibilityTimeout",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
        "SqsManagedSseEnabled",
    ];
    // The data-key reuse period only means something with a KMS key: SQS
    // does not show it otherwise.
    if stored.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty()) {
        names.extend(["KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"]);
    }
    if fifo {
        names.extend([
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
        ]);
        out.insert("FifoQueue".into(), "true".into());
    }
    for name in names {
        out.insert(name.to_string(), current(stored, name));
    }
    for name in ["Policy", "RedrivePolicy", "RedriveAllowPolicy"] {
        if let Some(v) = stored.get(name) {
            out.insert(name.to_string(), v.clone());
        }
    }
    out
}

/// Checks rules that involve several attributes (on the merged result).
pub(crate) fn check_combination(stored: &BTreeMap<String, String>) -> Result<(), EngineError> {
    if stored
        .get("FifoThroughputLimit")
        .is_some_and(|v| v == "perMessageGroupId")
        && stored
            .get("DeduplicationScope")
            .is_none_or(|v| v != "messageGroup")
    {
        return Err(EngineError::InvalidAttributeValue(
            "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is only allowed when DeduplicationScope is messageGroup.".into(),
        ));
    }
    if stored.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty())
        && stored
            .get("SqsManagedSseEnabled")
            .is_some_and(|v| v == "true")
    {
        return Err(EngineError::InvalidAttributeValue(
            "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.".into(),
        ));
    }
    Ok(())
}

/// Is `name` a valid GetQueueAttributes name for this queue type?
pub(crate) fn is_known_name(name: &str, fifo: bool) -> bool {
    name == "All"
        || SETTABLE.contains(&name)
        || READ_ONLY.contains(&name)
        || (fifo && (SETTABLE_FIFO.contains(&name) || name == "FifoQueue"))
}

/// What CreateQueue's own checks of its input found.
pub(crate) struct CreateQueue {
    /// A FIFO queue?
    pub(crate) fifo: bool,
    /// The given attributes, normalised (what an existing queue is compared with).
    pub(crate) normalized: BTreeMap<String, String>,
    /// The attributes to store.
    pub(crate) stored: BTreeMap<String, String>,
}

/// CreateQueue's checks of its own input (name, attributes, tags; not the
/// dead-letter target).
pub(crate) fn create_queue(
    name: &str,
    given: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> Result<CreateQueue, EngineError> {
    crate::validate::queue_name(name)?;
    let fifo = name.ends_with(".fifo");
    let fifo_attr = given
        .get("FifoQueue")
        .map(|v| v.eq_ignore_ascii_case("true"));
    if fifo && fifo_attr != Some(true) {
        return Err(EngineError::InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
                .into(),
        ));
    }
    let normalized = normalize(given, fifo, true)?;
    let mut stored = BTreeMap::new();
    merge(&mut stored, normalized.clone());
    check_combination(&stored)?;
    crate::validate::tags(tags)?;
    Ok(CreateQueue {
        fifo,
        normalized,
        stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges() {
        for (name, low, high) in [
            ("VisibilityTimeout", "0", "43200"),
            ("MaximumMessageSize", "1024", "1048576"),
            ("MessageRetentionPeriod", "60", "1209600"),
            ("DelaySeconds", "0", "900"),
            ("ReceiveMessageWaitTimeSeconds", "0", "20"),
            ("KmsDataKeyReusePeriodSeconds", "60", "86400"),
        ] {
            assert!(
                normalize(&map(&[(name, low)]), false, true).is_ok(),
                "{name}"
            );
            assert!(
                normalize(&map(&[(name, high)]), false, true).is_ok(),
                "{name}"
            );
            let below = (low.parse::<i64>().unwrap() - 1).to_string();
            let above = (high.parse::<i64>().unwrap() + 1).to_string();
            for bad in [below.as_str(), above.as_str(), "x", "1.5", ""] {
                assert!(
                    matches!(
                        normalize(&map(&[(name, bad)]), false, true),
                        Err(EngineError::InvalidAttributeValue(_))
                    ),
                    "{name}={bad}"
                );
            }
        }
    }

    #[test]
    fn unknown_and_fifo_only_names() {
        assert!(matches!(
            normalize(&map(&[("Nope", "1")]), false, true),
            Err(EngineError::InvalidAttributeName(_))
        ));
        assert!(matches!(
            normalize(&map(&[("ContentBasedDeduplication", "true")]), false, true),
            Err(EngineError::InvalidAttributeName(_))
        ));
        assert!(normalize(&map(&[("ContentBasedDeduplication", "true")]), true, true).is_ok());
        assert!(matches!(
            normalize(&map(&[("QueueArn", "x")]), false, true),
            Err(EngineError::InvalidAttributeName(_))
        ));
        // FifoQueue=true on a FIFO queue: accepted and dropped (a no-op).
        assert_eq!(
            normalize(&map(&[("FifoQueue", "true")]), true, false).unwrap(),
            BTreeMap::new()
        );
        assert!(normalize(&map(&[("FifoQueue", "true")]), true, true).is_ok());
        assert!(matches!(
            normalize(&map(&[("FifoQueue", "false")]), true, false),
            Err(EngineError::InvalidAttributeValue(_))
        ));
        // On a standard queue FifoQueue is unknown, whatever its value…
        for creating in [true, false] {
            assert!(matches!(
                normalize(&map(&[("FifoQueue", "false")]), false, creating),
                Err(EngineError::InvalidAttributeName(ref m)) if m == "Unknown Attribute FifoQueue."
            ));
        }
        assert!(matches!(
            normalize(&map(&[("FifoQueue", "true")]), false, false),
            Err(EngineError::InvalidAttributeName(ref m)) if m == "Unknown Attribute FifoQueue."
        ));
        // …except that creating with `true` is a FIFO queue without its suffix.
        assert!(matches!(
            normalize(&map(&[("FifoQueue", "true")]), false, true),
            Err(EngineError::InvalidParameterValue(_))
        ));
    }

    #[test]
    fn create_compares_only_given_attributes() {
        let stored = map(&[("VisibilityTimeout", "5"), ("Policy", "{}")]);
        assert_eq!(first_difference(&BTreeMap::new(), &stored), None);
        assert_eq!(
            first_difference(&map(&[("VisibilityTimeout", "5")]), &stored),
            None
        );
        assert_eq!(
            first_difference(&map(&[("DelaySeconds", "0")]), &stored),
            None,
            "a given default equals an attribute never set"
        );
        assert_eq!(
            first_difference(&map(&[("DelaySeconds", "1")]), &stored),
            Some("DelaySeconds".into())
        );
        assert_eq!(
            first_difference(&map(&[("RedrivePolicy", "")]), &stored),
            None,
            "an empty document equals none"
        );
    }

    #[test]
    fn redrive_policy_forms() {
        let arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
        let number = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":3}}"#);
        let string = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}"#);
        assert_eq!(
            parse_redrive(&number).unwrap(),
            parse_redrive(&string).unwrap()
        );
        assert_eq!(redrive_text(&parse_redrive(&string).unwrap()), number);
        for bad in [
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":0}}"#),
            format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":1001}}"#),
            format!(r#"{{"deadLetterTargetArn":"{arn}"}}"#),
            r#"{"deadLetterTargetArn":"nope","maxReceiveCount":1}"#.to_string(),
            "not json".to_string(),
        ] {
            assert!(parse_redrive(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redrive_allow_forms() {
        assert_eq!(
            parse_redrive_allow(r#"{"redrivePermission":"allowAll"}"#).unwrap(),
            RedriveAllow::AllowAll
        );
        assert_eq!(
            parse_redrive_allow(r#"{"redrivePermission":"denyAll"}"#).unwrap(),
            RedriveAllow::DenyAll
        );
        assert!(parse_redrive_allow(r#"{"redrivePermission":"byQueue"}"#).is_err());
        let eleven: Vec<String> = (0..11)
            .map(|i| format!("\"arn:aws:sqs:r:000000000000:q{i}\""))
            .collect();
        assert!(parse_redrive_allow(&format!(
            r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{}]}}"#,
            eleven.join(",")
        ))
        .is_err());
        assert!(parse_redrive_allow(&format!(
            r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{}]}}"#,
            eleven[..10].join(",")
        ))
        .is_ok());
    }

    #[test]
    fn combinations_and_defaults() {
        let mut stored = map(&[("FifoThroughputLimit", "perMessageGroupId")]);
        assert!(check_combination(&stored).is_err());
        stored.insert("DeduplicationScope".into(), "messageGroup".into());
        assert!(check_combination(&stored).is_ok());
        let shown = effective(&BTreeMap::new(), false);
        assert_eq!(shown["VisibilityTimeout"], "30");
        assert_eq!(shown["MaximumMessageSize"], "1048576");
        assert_eq!(shown["MessageRetentionPeriod"], "345600");
        assert!(!shown.contains_key("FifoQueue"));
        assert_eq!(
            effective(&BTreeMap::new(), true)["DeduplicationScope"],
            "queue"
        );
        let reuse = map(&[("KmsDataKeyReusePeriodSeconds", "600")]);
        assert!(!effective(&reuse, false).contains_key("KmsDataKeyReusePeriodSeconds"));
        let mut kms = reuse.clone();
        kms.insert("KmsMasterKeyId".into(), "alias/k".into());
        assert_eq!(
            effective(&kms, false)["KmsDataKeyReusePeriodSeconds"],
            "600"
        );
        assert_eq!(effective(&kms, false)["SqsManagedSseEnabled"], "false");
        let settings = Settings::from_attributes(&map(&[("VisibilityTimeout", "5")]));
        assert_eq!(settings.visibility_timeout_ms, 5000);
    }
}
