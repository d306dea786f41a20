//! Helpers shared by the API tests: MD5 rules, error inspection, receive loops.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use aws_sdk_sqs::Client;
use md5::{Digest, Md5};

/// Lower-case hex MD5.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One message attribute as MD5 input: (name, data type, transport byte, value bytes).
pub(crate) type AttrParts = (String, String, u8, Vec<u8>);

/// `MD5OfMessageAttributes` per SQS-SPEC §7, from already-split attributes.
pub(crate) fn attributes_md5_parts(mut attrs: Vec<AttrParts>) -> String {
    attrs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut buf = Vec::new();
    for (name, data_type, transport, value) in attrs {
        push_len_prefixed(&mut buf, name.as_bytes());
        push_len_prefixed(&mut buf, data_type.as_bytes());
        buf.push(transport);
        push_len_prefixed(&mut buf, &value);
    }
    md5_hex(&buf)
}

fn push_len_prefixed(buf: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("attribute part fits u32");
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// `MD5OfMessageAttributes` of SDK attribute values.
pub(crate) fn attributes_md5(attrs: &HashMap<String, MessageAttributeValue>) -> String {
    let parts = attrs
        .iter()
        .map(|(name, v)| {
            let (transport, value) = match (v.string_value(), v.binary_value()) {
                (Some(s), _) => (1u8, s.as_bytes().to_vec()),
                (None, Some(b)) => (2u8, b.as_ref().to_vec()),
                (None, None) => panic!("attribute {name} has no value"),
            };
            (name.clone(), v.data_type().to_string(), transport, value)
        })
        .collect();
    attributes_md5_parts(parts)
}

/// A String message attribute.
pub(crate) fn string_attr(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("valid attribute")
}

/// A message attribute with a custom data type and string value (`Number`, `Number.int`, ...).
pub(crate) fn typed_attr(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .expect("valid attribute")
}

/// A Binary message attribute.
pub(crate) fn binary_attr(value: &[u8]) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("Binary")
        .binary_value(Blob::new(value.to_vec()))
        .build()
        .expect("valid attribute")
}

/// What a failed call looked like on the wire (all of it shows in failure messages).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "sdk_code and message are read through Debug in failure messages"
)]
pub(crate) struct ErrInfo {
    /// HTTP status.
    pub(crate) status: u16,
    /// Shape name from the JSON `__type` (after `#`), if the body had one.
    pub(crate) shape: Option<String>,
    /// The `x-amzn-query-error` header.
    pub(crate) query_error: Option<String>,
    /// The code the SDK reports.
    pub(crate) sdk_code: Option<String>,
    /// The message the SDK reports.
    pub(crate) message: Option<String>,
}

/// Extracts [`ErrInfo`] from an SDK error; panics if the call never got an HTTP response.
pub(crate) fn err_info<E>(err: &SdkError<E, HttpResponse>) -> ErrInfo
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let raw = err
        .raw_response()
        .unwrap_or_else(|| panic!("no HTTP response: {err:?}"));
    let body = raw.body().bytes().unwrap_or_default();
    let shape = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("__type").and_then(|t| t.as_str()).map(str::to_string))
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_string());
    ErrInfo {
        status: raw.status().as_u16(),
        shape,
        query_error: raw.headers().get("x-amzn-query-error").map(str::to_string),
        sdk_code: err.code().map(str::to_string),
        message: err.message().map(str::to_string),
    }
}

/// Asserts that `result` failed with HTTP `status`, JSON `__type` `shape` and
/// `x-amzn-query-error: <legacy>;Sender` (SQS-SPEC §4–5).
#[track_caller]
pub(crate) fn assert_sqs_error<T: std::fmt::Debug, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    status: u16,
    shape: &str,
    legacy: &str,
) -> ErrInfo
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = match result {
        Ok(v) => panic!("expected {shape} ({status}), got success: {v:?}"),
        Err(e) => e,
    };
    let info = err_info(&err);
    assert_eq!(
        (info.status, info.shape.as_deref()),
        (status, Some(shape)),
        "wrong error: {info:?}"
    );
    assert_eq!(
        info.query_error.as_deref(),
        Some(format!("{legacy};Sender").as_str()),
        "wrong x-amzn-query-error: {info:?}"
    );
    info
}

/// Asserts a client error (4xx) whose shape is one of `shapes`.
#[track_caller]
pub(crate) fn assert_client_error<T: std::fmt::Debug, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    shapes: &[&str],
) -> ErrInfo
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = match result {
        Ok(v) => panic!("expected one of {shapes:?}, got success: {v:?}"),
        Err(e) => e,
    };
    let info = err_info(&err);
    assert!(
        (400..500).contains(&info.status),
        "expected a 4xx, got {info:?}"
    );
    let shape = info.shape.clone().unwrap_or_default();
    assert!(
        shapes.contains(&shape.as_str()),
        "expected one of {shapes:?}, got {info:?}"
    );
    info
}

/// Creates a standard queue and returns its URL.
pub(crate) async fn create_queue(client: &Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create_queue {name}: {e:?}"))
        .queue_url()
        .expect("queue url")
        .to_string()
}

/// Creates a queue with attributes and returns its URL.
pub(crate) async fn create_queue_with(
    client: &Client,
    name: &str,
    attrs: &[(QueueAttributeName, &str)],
) -> String {
    let mut req = client.create_queue().queue_name(name);
    for (k, v) in attrs {
        req = req.attributes(k.clone(), *v);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("create_queue {name}: {e:?}"))
        .queue_url()
        .expect("queue url")
        .to_string()
}

/// One queue attribute.
pub(crate) async fn queue_attr(client: &Client, url: &str, name: QueueAttributeName) -> String {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("get_queue_attributes: {e:?}"));
    out.attributes()
        .and_then(|m| m.get(&name))
        .cloned()
        .unwrap_or_else(|| panic!("attribute {name:?} missing: {out:?}"))
}

/// The queue's ARN.
pub(crate) async fn queue_arn(client: &Client, url: &str) -> String {
    queue_attr(client, url, QueueAttributeName::QueueArn).await
}

/// One ReceiveMessage call returning every attribute.
pub(crate) async fn receive(client: &Client, url: &str, max: i32, wait: i32) -> Vec<Message> {
    client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap_or_else(|e| panic!("receive_message: {e:?}"))
        .messages()
        .to_vec()
}

/// Receives until `n` messages arrived or `timeout` passed; returns what arrived.
pub(crate) async fn receive_n(
    client: &Client,
    url: &str,
    n: usize,
    timeout: Duration,
) -> Vec<Message> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        out.extend(receive(client, url, 10, 1).await);
    }
    out
}

/// Sends one message with a plain body.
pub(crate) async fn send_text(
    client: &Client,
    url: &str,
    body: &str,
) -> aws_sdk_sqs::operation::send_message::SendMessageOutput {
    client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("send_message: {e:?}"))
}

/// Waits (up to 20 s, generous for a loaded machine) until the queue shows
/// `want` visible messages.
pub(crate) async fn wait_for_visible(client: &Client, url: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = queue_attr(client, url, QueueAttributeName::ApproximateNumberOfMessages).await;
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queue {url} has {n} visible messages, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Deletes a received message.
pub(crate) async fn delete(client: &Client, url: &str, msg: &Message) {
    client
        .delete_message()
        .queue_url(url)
        .receipt_handle(msg.receipt_handle().expect("receipt handle"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("delete_message: {e:?}"));
}

/// A system attribute of a received message.
pub(crate) fn sys_attr(msg: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    msg.attributes()
        .and_then(|m| m.get(&name))
        .map(String::as_str)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis()
}

/// `YYYYMMDDTHHMMSSZ` (SigV4's `X-Amz-Date`) of a Unix time in seconds (civil-from-days, no
/// date crate needed).
pub(crate) fn amz_date(unix_secs: u64) -> String {
    let days = i64::try_from(unix_secs / 86_400).expect("days fit i64");
    let rem = unix_secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}
