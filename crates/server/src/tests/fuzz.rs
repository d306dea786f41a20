//! Property-based fuzzing of what the server decodes from clients: whole requests of every
//! action through the router (JSON bodies and Query forms, built from the SQS member
//! vocabulary or arbitrary bytes) against a real engine, the JSON and Query decoders alone,
//! and the queue-URL parser. (The SigV4 parser has its own in `auth/tests/properties.rs`.)
//!
//! Invariants: no panic; never a 5xx; answers bounded by the request's size; every Query
//! answer contains only characters XML can carry. Cases per property: proptest's default
//! (256), or `PROPTEST_CASES` for a longer run; failures are saved under
//! `proptest-regressions/` and replayed first (commit them).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use super::{enc, Reply, TestApp};
use crate::protocol::{json, query, Action, Params};
use crate::queue_url;

/// Fixed text around echoed input (request ids, XML envelope, error wording).
const SLACK_BYTES: usize = 16 * 1024;
/// Escaping can grow echoed text (`&` → `&amp;`, percent-decoding shrinks it).
const GROWTH: usize = 8;

const MEMBERS: &[&str] = &[
    "QueueUrl",
    "QueueName",
    "QueueNamePrefix",
    "MessageBody",
    "MaxNumberOfMessages",
    "VisibilityTimeout",
    "DelaySeconds",
    "Attributes",
    "Attribute",
    "AttributeNames",
    "AttributeName",
    "MessageAttributes",
    "MessageAttribute",
    "MessageAttributeNames",
    "MessageAttributeName",
    "MessageSystemAttributes",
    "MessageSystemAttribute",
    "MessageSystemAttributeNames",
    "Entries",
    "SendMessageBatchRequestEntry",
    "DeleteMessageBatchRequestEntry",
    "Id",
    "ReceiptHandle",
    "MessageGroupId",
    "MessageDeduplicationId",
    "ReceiveRequestAttemptId",
    "Tags",
    "tags",
    "Tag",
    "TagKeys",
    "TagKey",
    "Label",
    "AWSAccountIds",
    "AWSAccountId",
    "Actions",
    "ActionName",
    "SourceArn",
    "DestinationArn",
    "TaskHandle",
    "MaxResults",
    "NextToken",
    "MaxNumberOfMessagesPerSecond",
    "Name",
    "Value",
    "Key",
    "DataType",
    "StringValue",
    "BinaryValue",
];

const VALUES: &[&str] = &[
    "/000000000000/fz",
    "/000000000000/fz.fifo",
    "http://localhost:9324/000000000000/fz",
    "fz",
    "fz.fifo",
    "All",
    "String",
    "Number",
    "Binary",
    "String.x",
    "AQI=",
    "1",
    "0",
    "-1",
    "10",
    "100000",
    "VisibilityTimeout",
    "Policy",
    "RedrivePolicy",
    "FifoQueue",
    "true",
    "g",
    "arn:aws:sqs:us-east-1:000000000000:fz",
    "",
];

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(MEMBERS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(VALUES).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        // No 1..=20: a WaitTimeSeconds would long-poll (it is forced to 0 anyway).
        prop_oneof![Just(0i64), Just(-1), Just(21), Just(121), any::<i64>()].prop_map(Value::from),
        (0.0f64..2.0).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(member(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid-looking request of `action` (JSON members), the seed mutations start from.
fn template(action: Action, fifo: bool) -> Value {
    use serde_json::json;
    let url = if fifo {
        "/000000000000/fz.fifo"
    } else {
        "/000000000000/fz"
    };
    let arn = "arn:aws:sqs:us-east-1:000000000000:fz";
    let group = if fifo { json!("g") } else { Value::Null };
    match action {
        Action::AddPermission => json!({"QueueUrl": url, "Label": "l1",
            "AWSAccountIds": ["111111111111"], "Actions": ["SendMessage"]}),
        Action::CancelMessageMoveTask => json!({"TaskHandle": "eyJ0YXNr"}),
        Action::ChangeMessageVisibility => {
            json!({"QueueUrl": url, "ReceiptHandle": "h", "VisibilityTimeout": 10})
        }
        Action::ChangeMessageVisibilityBatch => json!({"QueueUrl": url,
            "Entries": [{"Id": "a", "ReceiptHandle": "h", "VisibilityTimeout": 1}]}),
        Action::CreateQueue => json!({"QueueName": "fz2",
            "Attributes": {"VisibilityTimeout": "5", "RedrivePolicy":
                format!("{{\"deadLetterTargetArn\":\"{arn}\",\"maxReceiveCount\":3}}")},
            "tags": {"k": "v"}}),
        Action::DeleteMessage => json!({"QueueUrl": url, "ReceiptHandle": "h"}),
        Action::DeleteMessageBatch => {
            json!({"QueueUrl": url, "Entries": [{"Id": "a", "ReceiptHandle": "h"}]})
        }
        Action::DeleteQueue | Action::PurgeQueue => json!({"QueueUrl": "/000000000000/fz2"}),
        Action::GetQueueAttributes => json!({"QueueUrl": url, "AttributeNames": ["All"]}),
        Action::GetQueueUrl => json!({"QueueName": "fz", "QueueOwnerAWSAccountId": "000000000000"}),
        Action::ListDeadLetterSourceQueues | Action::ListQueueTags => json!({"QueueUrl": url}),
        Action::ListMessageMoveTasks => json!({"SourceArn": arn, "MaxResults": 5}),
        Action::ListQueues => json!({"QueueNamePrefix": "f", "MaxResults": 5}),
        Action::ReceiveMessage => json!({"QueueUrl": url, "MaxNumberOfMessages": 2,
            "AttributeNames": ["All"], "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"], "ReceiveRequestAttemptId": "r"}),
        Action::RemovePermission => json!({"QueueUrl": url, "Label": "l1"}),
        Action::SendMessage => json!({"QueueUrl": url, "MessageBody": "b",
            "MessageGroupId": group, "MessageDeduplicationId": if fifo { json!("d") } else { Value::Null },
            "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"},
                "n": {"DataType": "Number.int", "StringValue": "1"},
                "z": {"DataType": "Binary", "BinaryValue": "AQI="}},
            "MessageSystemAttributes":
                {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-a"}}}),
        Action::SendMessageBatch => json!({"QueueUrl": url, "Entries": [
            {"Id": "a", "MessageBody": "b", "MessageGroupId": group,
             "MessageDeduplicationId": if fifo { json!("d1") } else { Value::Null },
             "MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}},
            {"Id": "b", "MessageBody": "c", "MessageGroupId": group,
             "MessageDeduplicationId": if fifo { json!("d2") } else { Value::Null }}]}),
        Action::SetQueueAttributes => json!({"QueueUrl": url,
            "Attributes": {"VisibilityTimeout": "7", "Policy": "{\"Statement\":[]}"}}),
        Action::StartMessageMoveTask => {
            json!({"SourceArn": arn, "MaxNumberOfMessagesPerSecond": 5})
        }
        Action::TagQueue => json!({"QueueUrl": url, "Tags": {"k": "v", "k2": "v2"}}),
        Action::UntagQueue => json!({"QueueUrl": url, "TagKeys": ["k"]}),
    }
}

/// What to do at one node of a template.
#[derive(Debug, Clone)]
enum Edit {
    Keep,
    Drop,
    Replace(Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        12 => Just(Edit::Keep),
        1 => Just(Edit::Drop),
        2 => json_value().prop_map(Edit::Replace),
    ]
}

/// Applies `edits` (cycled) to every node of `value`, depth first. Null members are
/// removed.
fn mutate(value: &mut Value, edits: &[Edit], next: &mut usize) {
    let take = |next: &mut usize| {
        let e = edits
            .get(*next % edits.len().max(1))
            .cloned()
            .unwrap_or(Edit::Keep);
        *next += 1;
        e
    };
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                match take(next) {
                    Edit::Keep => {}
                    Edit::Drop => {
                        map.remove(&key);
                        continue;
                    }
                    Edit::Replace(v) => {
                        map.insert(key.clone(), v);
                        continue;
                    }
                }
                if let Some(child) = map.get_mut(&key) {
                    mutate(child, edits, next);
                }
            }
            map.retain(|_, v| !v.is_null());
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Edit::Replace(v) = take(next) {
                    *item = v;
                } else {
                    mutate(item, edits, next);
                }
            }
        }
        _ => {}
    }
}

/// A request: its action, and its members (a mutated template, plus random members).
fn request() -> impl Strategy<Value = (Action, Value)> {
    (
        action(),
        any::<bool>(),
        proptest::collection::vec(edit(), 1..24),
        proptest::collection::btree_map(member(), json_value(), 0..2),
    )
        .prop_map(|(action, fifo, edits, extra)| {
            let mut value = template(action, fifo);
            mutate(&mut value, &edits, &mut 0);
            if let Value::Object(map) = &mut value {
                map.extend(extra);
                // Never a long poll.
                map.insert("WaitTimeSeconds".into(), Value::from(0));
            }
            (action, value)
        })
}

/// The Query name of a list or map member (`AttributeNames` → `AttributeName.N`, …).
fn flattened(action: Action, json_name: &str) -> &str {
    match json_name {
        "AttributeNames" => "AttributeName",
        "MessageAttributeNames" => "MessageAttributeName",
        "MessageSystemAttributeNames" => "MessageSystemAttributeName",
        "TagKeys" => "TagKey",
        "AWSAccountIds" => "AWSAccountId",
        "Actions" => "ActionName",
        "Attributes" => "Attribute",
        "Tags" | "tags" => "Tag",
        "MessageAttributes" => "MessageAttribute",
        "MessageSystemAttributes" => "MessageSystemAttribute",
        "Entries" => match action {
            Action::SendMessageBatch => "SendMessageBatchRequestEntry",
            Action::DeleteMessageBatch => "DeleteMessageBatchRequestEntry",
            _ => "ChangeMessageVisibilityBatchRequestEntry",
        },
        other => other,
    }
}

/// The same members as Query pairs (`Attribute.1.Name=…&Attribute.1.Value=…`).
fn to_query(action: Action, value: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let Value::Object(map) = value else {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push((prefix.to_owned(), text));
        return;
    };
    for (name, member) in map {
        let query = join(flattened(action, name));
        match (name.as_str(), member) {
            (_, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    to_query(action, item, &format!("{query}.{}", i + 1), out);
                }
            }
            (
                "Attributes" | "Tags" | "tags" | "MessageAttributes" | "MessageSystemAttributes",
                Value::Object(entries),
            ) => {
                let key = if name.eq_ignore_ascii_case("tags") {
                    "Key"
                } else {
                    "Name"
                };
                for (i, (k, v)) in entries.iter().enumerate() {
                    out.push((format!("{query}.{}.{key}", i + 1), k.clone()));
                    to_query(action, v, &format!("{query}.{}.Value", i + 1), out);
                }
            }
            _ => to_query(action, member, &query, out),
        }
    }
}

/// A JSON request body: a mutated template, or arbitrary bytes.
fn json_request() -> impl Strategy<Value = (Action, Vec<u8>)> {
    prop_oneof![
        6 => request().prop_map(|(action, v)| (action, v.to_string().into_bytes())),
        1 => (action(), proptest::collection::vec(any::<u8>(), 0..256)),
    ]
}

/// A Query form (after `Action=`): a mutated template flattened, or arbitrary bytes.
fn query_request() -> impl Strategy<Value = (Action, Vec<u8>)> {
    prop_oneof![
        6 => request().prop_map(|(action, v)| {
            let mut pairs = Vec::new();
            to_query(action, &v, "", &mut pairs);
            let form: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                .collect();
            (action, form.join("&").into_bytes())
        }),
        1 => (action(), proptest::collection::vec(any::<u8>(), 0..256)),
    ]
}

/// Decoder input: a JSON body or Query form of any request, or arbitrary bytes.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    json_request().prop_map(|(_, body)| body)
}

fn query_form() -> impl Strategy<Value = Vec<u8>> {
    query_request().prop_map(|(_, form)| form)
}

fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(Action::ALL)
}

/// A runtime and a router over a real engine with a standard and a FIFO queue.
fn target() -> (tokio::runtime::Runtime, TestApp) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(async {
        let app = TestApp::new().await;
        app.create("fz").await;
        let r = app
            .json(
                "CreateQueue",
                serde_json::json!({"QueueName": "fz.fifo", "Attributes": {"FifoQueue": "true"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        app
    });
    (runtime, app)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        source_file: Some(file!()),
        ..Config::default()
    })
}

fn check_reply(reply: &Reply, request_bytes: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        reply.status.as_u16() < 500,
        "{} {}",
        reply.status,
        reply.text()
    );
    prop_assert!(
        reply.body.len() <= GROWTH * request_bytes + SLACK_BYTES,
        "a {}-byte answer to a {request_bytes}-byte request",
        reply.body.len()
    );
    Ok(())
}

/// Actions that answered 200 at least once: the generator must reach past decoding.
struct Reached(std::cell::RefCell<std::collections::BTreeSet<&'static str>>);

impl Reached {
    fn new() -> Reached {
        Reached(std::cell::RefCell::new(std::collections::BTreeSet::new()))
    }
    fn note(&self, action: Action, reply: &Reply) {
        if reply.status == 200 {
            self.0.borrow_mut().insert(action.as_str());
        }
    }
    /// With the default 256 cases, most actions succeed at least once.
    fn assert_most(&self) {
        let reached = self.0.borrow();
        assert!(
            reached.len() >= Action::ALL.len() / 2,
            "only {} of {} actions ever succeeded: {reached:?}",
            reached.len(),
            Action::ALL.len()
        );
    }
}

#[test]
fn json_requests_of_every_action() {
    let (runtime, app) = target();
    let reached = Reached::new();
    runner()
        .run(&json_request(), |(action, body)| {
            let size = body.len();
            let reply = runtime.block_on(app.json_raw(action.as_str(), body));
            check_reply(&reply, size)?;
            reached.note(action, &reply);
            prop_assert!(
                serde_json::from_slice::<Value>(&reply.body).is_ok(),
                "not JSON: {}",
                reply.text()
            );
            Ok(())
        })
        .unwrap();
    reached.assert_most();
}

#[test]
fn query_requests_of_every_action() {
    let (runtime, app) = target();
    let reached = Reached::new();
    runner()
        .run(&query_request(), |(action, form)| {
            let mut body = format!("Action={}&", action.as_str()).into_bytes();
            body.extend_from_slice(&form);
            let size = body.len();
            let request = axum::http::Request::post("/")
                .header("host", "localhost:9324")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap();
            let reply = runtime.block_on(app.send(request));
            check_reply(&reply, size)?;
            reached.note(action, &reply);
            let text = String::from_utf8(reply.body.clone())
                .map_err(|e| TestCaseError::fail(format!("answer is not UTF-8: {e}")))?;
            prop_assert!(
                text.chars().all(|c| matches!(c, '\u{9}' | '\u{A}' | '\u{D}'
                    | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')),
                "a character XML cannot carry: {:?}",
                text
            );
            Ok(())
        })
        .unwrap();
    reached.assert_most();
}

/// Typed access to every member, as every type: never panics, whatever the input.
fn read_every_member(params: Params<'_>) {
    for name in MEMBERS {
        let _ = params.str(name);
        let _ = params.int(name);
        let _ = params.str_list(name, name);
        let _ = params.str_map(name, name, "Name");
        let _ = params.attribute_map(name, name);
        let _ = params.entries(name, name);
    }
}

proptest! {
    #[test]
    fn json_decoder(body in json_body()) {
        if let Ok(map) = json::decode(&body) {
            prop_assert!(map.len() <= body.len());
            read_every_member(Params::Json(&map));
        }
    }

    #[test]
    fn query_decoder(form in query_form()) {
        if let Ok(pairs) = query::parse_pairs(&form) {
            let decoded: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
            prop_assert!(decoded <= form.len());
            let tree = query::tree(pairs);
            read_every_member(Params::Query(&tree));
        }
    }

    #[test]
    fn queue_url_parser(url in prop_oneof![text(), any::<String>(), "[a-z:/.0-9?#]{0,40}"]) {
        if let Ok(queue) = queue_url::parse(&url, "000000000000") {
            prop_assert!(!queue.name.is_empty() && !queue.account.is_empty());
            prop_assert!(!queue.name.contains('/') && !queue.account.contains('/'));
            prop_assert!(queue.name.len() + queue.account.len() <= url.len() + 12);
        }
    }
}
