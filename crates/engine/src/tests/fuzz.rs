//! Property-based fuzzing of the JSON documents clients hand the engine: RedrivePolicy,
//! RedriveAllowPolicy, Policy (evaluation, AddPermission, RemovePermission) and queue
//! attributes as a whole. Inputs are arbitrary text, JSON built from the documents'
//! vocabulary, and such JSON cut or with bytes flipped. Invariants: no panic; outputs
//! (documents, error messages) bounded by the input's size; what is accepted round-trips and
//! contains only characters the body rule allows (so it can be stored and shown over XML).
//!
//! Cases per property: proptest's default (256), or `PROPTEST_CASES` for a longer run.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;

use crate::attributes::{normalize, parse_redrive, parse_redrive_allow, redrive_text};
use crate::policy::{add_permission, allows, remove_permission};
use crate::validate::allowed_char;
use crate::EngineError;

/// Slack for fixed text around echoed input in error messages and documents.
const SLACK_BYTES: usize = 1024;

const WORDS: &[&str] = &[
    "deadLetterTargetArn",
    "maxReceiveCount",
    "redrivePermission",
    "sourceQueueArns",
    "allowAll",
    "denyAll",
    "byQueue",
    "Version",
    "2012-10-17",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Principal",
    "AWS",
    "*",
    "Action",
    "SQS:SendMessage",
    "sqs:*",
    "Resource",
    "Condition",
    "arn:aws:sqs:us-east-1:111111111111:q",
    "arn:aws:sqs:us-east-1:222222222222:dlq",
    "arn:aws:iam::222222222222:root",
    "222222222222",
    "",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

/// JSON values over the documents' vocabulary.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-5i64..1100).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(word(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Text to parse: JSON from the vocabulary (as is, cut short, or with a byte replaced), or
/// anything at all.
fn document() -> impl Strategy<Value = String> {
    let json = || json_value().prop_map(|v| v.to_string());
    prop_oneof![
        4 => json(),
        1 => (json(), any::<prop::sample::Index>()).prop_map(|(text, cut)| {
            let cut = cut.index(text.len() + 1);
            String::from_utf8_lossy(&text.as_bytes()[..cut]).into_owned()
        }),
        1 => (json(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(text, at, byte)| {
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }),
        1 => any::<String>(),
    ]
}

fn message_len(e: &EngineError) -> usize {
    e.to_string().len()
}

proptest! {
    #[test]
    fn redrive_policy(text in document()) {
        match parse_redrive(&text) {
            Ok(redrive) => {
                let canonical = redrive_text(&redrive);
                prop_assert!(canonical.len() <= text.len() + SLACK_BYTES);
                prop_assert_eq!(parse_redrive(&canonical).ok(), Some(redrive));
            }
            Err(e) => prop_assert!(message_len(&e) <= text.len() + SLACK_BYTES),
        }
    }

    #[test]
    fn redrive_allow_policy(text in document()) {
        if let Err(e) = parse_redrive_allow(&text) {
            prop_assert!(message_len(&e) <= text.len() + SLACK_BYTES);
        }
    }

    #[test]
    fn policy_documents(
        text in document(),
        account in word(),
        action in word(),
        label in word(),
    ) {
        let _ = allows(Some(&text), &account, &action);
        let arn = "arn:aws:sqs:us-east-1:111111111111:q";
        let added = add_permission(
            Some(&text),
            arn,
            &label,
            std::slice::from_ref(&account),
            std::slice::from_ref(&action),
        );
        match added {
            Ok(policy) => {
                prop_assert!(policy.len() <= text.len() + 2 * SLACK_BYTES);
                let parsed: Value = serde_json::from_str(&policy).map_err(|e| {
                    TestCaseError::fail(format!("AddPermission wrote invalid JSON: {e}"))
                })?;
                prop_assert!(parsed.is_object());
                // The statement just added is found again by its label.
                prop_assert!(remove_permission(Some(&policy), &label).is_ok());
            }
            Err(e) => prop_assert!(
                message_len(&e) <= text.len() + label.len() + action.len() + SLACK_BYTES
            ),
        }
        if let Ok(Some(rest)) = remove_permission(Some(&text), &label) {
            prop_assert!(rest.len() <= text.len());
        }
    }

    #[test]
    fn queue_attributes(
        given in proptest::collection::btree_map(
            prop_oneof![
                proptest::sample::select(&[
                    "Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
                    "VisibilityTimeout", "MaximumMessageSize", "DelaySeconds",
                    "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                ][..]).prop_map(str::to_string),
                any::<String>(),
            ],
            document(),
            0..4,
        ),
        fifo in any::<bool>(),
        creating in any::<bool>(),
    ) {
        let given: BTreeMap<String, String> = given;
        let input: usize = given.iter().map(|(k, v)| k.len() + v.len()).sum();
        match normalize(&given, fifo, creating) {
            Ok(stored) => {
                for (name, value) in &stored {
                    prop_assert!(
                        value.chars().all(allowed_char),
                        "{} would store a character XML cannot carry: {:?}", name, value
                    );
                    prop_assert!(value.len() <= input + SLACK_BYTES);
                }
            }
            Err(e) => prop_assert!(message_len(&e) <= input + SLACK_BYTES),
        }
    }
}
