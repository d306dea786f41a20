//! The workloads of the hot-path benchmark and how each checks what comes
//! back. Every message body is derived from a unique key (and, in the
//! end-to-end rows, its send time), so a received body is checked byte for
//! byte; every MD5 the server returns is recomputed; every acknowledged
//! MessageId must come back exactly once with its own body, and nothing
//! else may come back. (Queues use a 120 s visibility timeout, far longer
//! than any row, so SQS's at-least-once rule allows no redelivery here: a
//! duplicate is a failure.)

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use md5::{Digest, Md5};

use crate::client::{self, Conn};

/// Size of every message body.
pub(crate) const BODY_BYTES: usize = 1024;
/// Messages per SendMessageBatch / ReceiveMessage.
pub(crate) const BATCH: usize = 10;
/// Visibility timeout of the benchmark's queues, seconds.
pub(crate) const VISIBILITY_TIMEOUT: u32 = 120;
/// Long-poll wait of the end-to-end consumers, seconds.
const CONSUMER_WAIT_SECONDS: u32 = 1;
/// How long the end-to-end rows may take to deliver everything after the
/// producers finished before the run counts messages as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// What one workload measured on one server.
#[derive(Default)]
pub(crate) struct Sample {
    /// Messages moved (sent, or received and deleted, or end to end).
    pub(crate) messages: u64,
    /// Requests made.
    pub(crate) requests: u64,
    pub(crate) elapsed: Duration,
    /// Per request (sends), per receive + delete pair, or per send (end to end rows).
    pub(crate) latencies: Vec<Duration>,
    /// End-to-end latency per message (send started → received), pipeline rows only.
    pub(crate) e2e: Vec<Duration>,
}

impl Sample {
    pub(crate) fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Adds the same workload's sample from another round.
    pub(crate) fn absorb(&mut self, other: Sample) {
        self.elapsed += other.elapsed;
        self.merge(other);
    }

    fn merge(&mut self, other: Sample) {
        self.messages += other.messages;
        self.requests += other.requests;
        self.latencies.extend(other.latencies);
        self.e2e.extend(other.e2e);
    }
}

/// Acknowledged sends: message key → MessageId.
pub(crate) type Acked = HashMap<u64, String>;

// ------------------------------------------------------------------ bodies

/// Key of a message: row, stream (connection or producer) and sequence number.
pub(crate) fn key(row: u8, stream: u16, seq: u32) -> u64 {
    (u64::from(row) << 48) | (u64::from(stream) << 32) | u64::from(seq)
}

fn stream_of(key: u64) -> u16 {
    (key >> 32) as u16
}

fn seq_of(key: u64) -> u32 {
    key as u32
}

/// The body of message `key` sent at `stamp_us`: a header naming both, then
/// letters that depend on the key, up to [`BODY_BYTES`].
pub(crate) fn body(key: u64, stamp_us: u64) -> String {
    let mut s = String::with_capacity(BODY_BYTES);
    let _ = write!(s, "{key:016x}|{stamp_us:012}|");
    let mut i = key;
    while s.len() < BODY_BYTES {
        s.push(char::from(b'a' + (i % 26) as u8));
        i = i.wrapping_add(7);
    }
    s
}

/// `(key, stamp)` if `text` is exactly the body of that message.
fn check_body(text: &str) -> Option<(u64, u64)> {
    let key = u64::from_str_radix(text.get(0..16)?, 16).ok()?;
    let stamp = text.get(17..29)?.parse().ok()?;
    (text == body(key, stamp)).then_some((key, stamp))
}

pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    let mut s = String::with_capacity(32);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    s
}

// -------------------------------------------------------------- JSON bodies

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|e| panic!("json: {e}"))
}

/// FIFO send parameters: group and deduplication id.
fn fifo_members(key: u64) -> String {
    format!(
        r#","MessageGroupId":"g{}","MessageDeduplicationId":"{key:016x}""#,
        stream_of(key)
    )
}

pub(crate) fn send_request(url: &str, body: &str, fifo: Option<u64>) -> String {
    let extra = fifo.map(fifo_members).unwrap_or_default();
    format!(
        r#"{{"QueueUrl":{},"MessageBody":"{body}"{extra}}}"#,
        json_str(url)
    )
}

fn batch_request(url: &str, bodies: &[(u64, String)]) -> String {
    let mut s = format!(r#"{{"QueueUrl":{},"Entries":["#, json_str(url));
    for (i, (_, body)) in bodies.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, r#"{{"Id":"e{i}","MessageBody":"{body}"}}"#);
    }
    s.push_str("]}");
    s
}

fn receive_request(url: &str, wait_seconds: u32) -> String {
    format!(
        r#"{{"QueueUrl":{},"MaxNumberOfMessages":{BATCH},"WaitTimeSeconds":{wait_seconds}}}"#,
        json_str(url)
    )
}

fn delete_request(url: &str, handles: &[String]) -> String {
    let mut s = format!(r#"{{"QueueUrl":{},"Entries":["#, json_str(url));
    for (i, handle) in handles.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, r#"{{"Id":"d{i}","ReceiptHandle":{}}}"#, json_str(handle));
    }
    s.push_str("]}");
    s
}

// ------------------------------------------------------------------ set-up

/// Creates a queue (standard, or FIFO when the name ends in `.fifo`) with
/// the benchmark's visibility timeout; returns its URL.
pub(crate) async fn create_queue(addr: SocketAddr, name: &str) -> String {
    let mut conn = Conn::connect(addr).await;
    let fifo = if name.ends_with(".fifo") {
        r#","FifoQueue":"true""#
    } else {
        ""
    };
    let request = format!(
        r#"{{"QueueName":"{name}","Attributes":{{"VisibilityTimeout":"{VISIBILITY_TIMEOUT}"{fifo}}}}}"#
    );
    let created: client::Created = conn.call_json("CreateQueue", request).await;
    conn.close().await;
    created.queue_url
}

/// Panics unless the queue holds no message (visible, in flight or delayed).
pub(crate) async fn assert_empty(addr: SocketAddr, url: &str, server: &str) {
    let mut conn = Conn::connect(addr).await;
    let request = format!(
        r#"{{"QueueUrl":{},"AttributeNames":["ApproximateNumberOfMessages","ApproximateNumberOfMessagesNotVisible","ApproximateNumberOfMessagesDelayed"]}}"#,
        json_str(url)
    );
    let got: client::Attributes = conn.call_json("GetQueueAttributes", request).await;
    conn.close().await;
    for (name, value) in &got.attributes {
        assert_eq!(
            value, "0",
            "{server}: {url}: {name} = {value} after the run"
        );
    }
}

/// `n` connections spread over `nodes` in turn (connection `i` to node
/// `i % nodes.len()`): the load generator's share of each node of a
/// multi-node server.
async fn connect_all(nodes: &[SocketAddr], n: usize) -> Vec<Conn> {
    assert!(!nodes.is_empty(), "a server without nodes");
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        conns.push(Conn::connect(nodes[i % nodes.len()]).await);
    }
    conns
}

// --------------------------------------------------------------- workloads

/// Sends `total` messages with SendMessage over `conns` connections (or with
/// SendMessageBatch of [`BATCH`] when `batched`); checks every answer's MD5;
/// adds the acknowledged messages to `acked`.
pub(crate) async fn send(
    nodes: &[SocketAddr],
    url: &str,
    row: u8,
    conns: usize,
    total: u64,
    batched: bool,
    acked: &mut Acked,
) -> Sample {
    let per_conn = total / conns as u64;
    let connections = connect_all(nodes, conns).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (stream, mut conn) in connections.into_iter().enumerate() {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            let mut acked = Vec::with_capacity(per_conn as usize);
            let mut seq = 0u32;
            while u64::from(seq) < per_conn {
                if batched {
                    let bodies: Vec<(u64, String)> = (0..BATCH as u32)
                        .map(|i| {
                            let k = key(row, stream as u16, seq + i);
                            (k, body(k, 0))
                        })
                        .collect();
                    seq += BATCH as u32;
                    let t = Instant::now();
                    let bytes = conn
                        .call(
                            "SendMessageBatch",
                            Bytes::from(batch_request(&url, &bodies)),
                        )
                        .await;
                    sample.latencies.push(t.elapsed());
                    let answer: client::BatchSentAll<'_> =
                        client::parse("SendMessageBatch", &bytes);
                    assert!(
                        answer.failed.is_empty(),
                        "SendMessageBatch failed: {:?}",
                        answer.failed
                    );
                    assert_eq!(
                        answer.successful.len(),
                        BATCH,
                        "SendMessageBatch: entries missing"
                    );
                    for entry in answer.successful {
                        let i: usize = entry
                            .id
                            .strip_prefix('e')
                            .and_then(|i| i.parse().ok())
                            .unwrap_or_else(|| panic!("unknown batch entry id {}", entry.id));
                        let (k, body) = &bodies[i];
                        assert_eq!(
                            entry.md5_of_body,
                            md5_hex(body.as_bytes()),
                            "MD5 of batch entry {i}"
                        );
                        acked.push((*k, entry.message_id.into_owned()));
                    }
                    sample.messages += BATCH as u64;
                } else {
                    let k = key(row, stream as u16, seq);
                    seq += 1;
                    let body = body(k, 0);
                    let t = Instant::now();
                    let bytes = conn
                        .call("SendMessage", Bytes::from(send_request(&url, &body, None)))
                        .await;
                    sample.latencies.push(t.elapsed());
                    let answer: client::Sent<'_> = client::parse("SendMessage", &bytes);
                    assert_eq!(
                        answer.md5_of_body,
                        md5_hex(body.as_bytes()),
                        "MD5 of SendMessage"
                    );
                    acked.push((k, answer.message_id.into_owned()));
                    sample.messages += 1;
                }
                sample.requests += 1;
            }
            conn.close().await;
            (sample, acked)
        }));
    }
    let mut total_sample = Sample::default();
    for task in tasks {
        let (sample, sent) = task.await.unwrap_or_else(|e| panic!("sender: {e}"));
        total_sample.merge(sample);
        for (k, id) in sent {
            assert!(
                acked.insert(k, id).is_none(),
                "key {k:x} acknowledged twice"
            );
        }
    }
    total_sample.elapsed = start.elapsed();
    total_sample
}

/// One received message, checked against its body and MD5.
fn checked(message: &client::Received<'_>) -> (u64, u64) {
    assert_eq!(
        message.md5_of_body,
        md5_hex(message.body.as_bytes()),
        "MD5OfBody of message {}",
        message.message_id
    );
    check_body(&message.body).unwrap_or_else(|| {
        panic!(
            "message {} has a body that was never sent: {:.40}…",
            message.message_id, message.body
        )
    })
}

/// Panics unless every one of the `n` entries (`d0`…) was deleted.
fn check_deleted(deleted: &client::Deleted<'_>, n: usize) {
    assert!(
        deleted.failed.is_empty(),
        "DeleteMessageBatch failed: {:?}",
        deleted.failed
    );
    let mut ids: Vec<&str> = deleted.successful.iter().map(|e| e.id.as_ref()).collect();
    ids.sort_unstable();
    let mut expected: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
    expected.sort_unstable();
    assert_eq!(
        ids, expected,
        "DeleteMessageBatch: wrong or missing entries"
    );
}

/// Every received (key, MessageId) must be an acknowledged send, once; and
/// every acknowledged send must have been received. Empties `acked`.
fn reconcile(acked: &mut Acked, received: Vec<(u64, String)>, what: &str) {
    let expected = acked.len();
    let got = received.len();
    for (k, id) in received {
        match acked.remove(&k) {
            Some(sent_id) => assert_eq!(
                sent_id, id,
                "{what}: key {k:x} came back with another MessageId"
            ),
            None => panic!("{what}: key {k:x} (MessageId {id}) received twice, or never sent"),
        }
    }
    assert!(
        acked.is_empty(),
        "{what}: {} of {expected} acknowledged messages never came back (received {got})",
        acked.len()
    );
}

/// Receives (up to [`BATCH`], no wait) and deletes (DeleteMessageBatch) over
/// `conns` connections until the queue is empty; checks that exactly the
/// messages in `acked` came back.
pub(crate) async fn receive_delete(
    nodes: &[SocketAddr],
    url: &str,
    conns: usize,
    acked: &mut Acked,
) -> Sample {
    let connections = connect_all(nodes, conns).await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in connections {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            let mut received = Vec::new();
            let receive = Bytes::from(receive_request(&url, 0));
            loop {
                let t = Instant::now();
                let bytes = conn.call("ReceiveMessage", receive.clone()).await;
                sample.requests += 1;
                let answer: client::ReceivedAll<'_> = client::parse("ReceiveMessage", &bytes);
                if answer.messages.is_empty() {
                    // Nothing visible: the rest is in flight on other
                    // connections (no redelivery within the row).
                    break;
                }
                let mut handles = Vec::with_capacity(answer.messages.len());
                for m in &answer.messages {
                    let (k, _) = checked(m);
                    received.push((k, m.message_id.to_string()));
                    handles.push(m.receipt_handle.to_string());
                }
                let bytes = conn
                    .call(
                        "DeleteMessageBatch",
                        Bytes::from(delete_request(&url, &handles)),
                    )
                    .await;
                let deleted: client::Deleted<'_> = client::parse("DeleteMessageBatch", &bytes);
                sample.requests += 1;
                sample.latencies.push(t.elapsed());
                check_deleted(&deleted, handles.len());
                sample.messages += handles.len() as u64;
            }
            conn.close().await;
            (sample, received)
        }));
    }
    let mut total = Sample::default();
    let mut received = Vec::new();
    for task in tasks {
        let (sample, got) = task.await.unwrap_or_else(|e| panic!("receiver: {e}"));
        total.merge(sample);
        received.extend(got);
    }
    total.elapsed = start.elapsed();
    reconcile(acked, received, "receive+delete");
    total
}

/// Shared state of the consumers of an end-to-end row.
struct Pipeline {
    url: String,
    fifo: bool,
    total: u64,
    base: Instant,
    deleted: AtomicU64,
    /// When the last message was deleted.
    finished: Mutex<Option<Instant>>,
    /// FIFO: last sequence number seen per group (producer).
    last_seq: Mutex<Vec<i64>>,
}

/// End to end: `producers` send [`BATCH`]-less SendMessage flat out (FIFO:
/// each producer is one message group), `consumers` long-poll
/// ReceiveMessage(10) and DeleteMessageBatch. Latency per message is from
/// the start of its send to its receipt. Checks completeness, no duplicate
/// and, on FIFO, strict order within each group.
pub(crate) async fn end_to_end(
    nodes: &[SocketAddr],
    url: &str,
    row: u8,
    producers: usize,
    consumers: usize,
    per_producer: u64,
) -> Sample {
    let fifo = url.ends_with(".fifo");
    let total = per_producer * producers as u64;
    let shared = Arc::new(Pipeline {
        url: url.to_string(),
        fifo,
        total,
        base: Instant::now(),
        deleted: AtomicU64::new(0),
        finished: Mutex::new(None),
        last_seq: Mutex::new(vec![-1; producers]),
    });
    let consumer_conns = connect_all(nodes, consumers).await;
    let producer_conns = connect_all(nodes, producers).await;
    let start = Instant::now();
    let mut consumer_tasks = Vec::new();
    for conn in consumer_conns {
        consumer_tasks.push(tokio::spawn(consume(conn, shared.clone())));
    }
    let mut producer_tasks = Vec::new();
    for (stream, mut conn) in producer_conns.into_iter().enumerate() {
        let shared = shared.clone();
        producer_tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            let mut acked = Vec::with_capacity(per_producer as usize);
            for seq in 0..per_producer as u32 {
                let k = key(row, stream as u16, seq);
                let t = Instant::now();
                let stamp = u64::try_from(t.duration_since(shared.base).as_micros()).unwrap_or(0);
                let body = body(k, stamp);
                let request = send_request(&shared.url, &body, shared.fifo.then_some(k));
                let bytes = conn.call("SendMessage", Bytes::from(request)).await;
                sample.latencies.push(t.elapsed());
                sample.requests += 1;
                let answer: client::Sent<'_> = client::parse("SendMessage", &bytes);
                assert_eq!(
                    answer.md5_of_body,
                    md5_hex(body.as_bytes()),
                    "MD5 of SendMessage"
                );
                acked.push((k, answer.message_id.into_owned()));
            }
            conn.close().await;
            (sample, acked)
        }));
    }
    let mut sample = Sample::default();
    let mut acked = Acked::new();
    for task in producer_tasks {
        let (s, sent) = task.await.unwrap_or_else(|e| panic!("producer: {e}"));
        sample.merge(s);
        for (k, id) in sent {
            assert!(
                acked.insert(k, id).is_none(),
                "key {k:x} acknowledged twice"
            );
        }
    }
    let mut received = Vec::new();
    for task in consumer_tasks {
        let (s, got) = tokio::time::timeout(DRAIN_TIMEOUT, task)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "end to end: only {} of {total} messages delivered {DRAIN_TIMEOUT:?} after the producers finished",
                    shared.deleted.load(Ordering::Relaxed)
                )
            })
            .unwrap_or_else(|e| panic!("consumer: {e}"));
        sample.merge(s);
        received.extend(got);
    }
    let finished = shared
        .finished
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .unwrap_or_else(Instant::now);
    sample.elapsed = finished.duration_since(start);
    sample.messages = total;
    reconcile(
        &mut acked,
        received,
        if fifo {
            "FIFO end to end"
        } else {
            "end to end"
        },
    );
    sample
}

/// One consumer of an end-to-end row; returns its sample (e2e latencies)
/// and what it received.
async fn consume(mut conn: Conn, shared: Arc<Pipeline>) -> (Sample, Vec<(u64, String)>) {
    let mut sample = Sample::default();
    let mut received = Vec::new();
    let receive = Bytes::from(receive_request(&shared.url, CONSUMER_WAIT_SECONDS));
    while shared.deleted.load(Ordering::Acquire) < shared.total {
        let bytes = conn.call("ReceiveMessage", receive.clone()).await;
        let now = shared.base.elapsed();
        sample.requests += 1;
        let answer: client::ReceivedAll<'_> = client::parse("ReceiveMessage", &bytes);
        if answer.messages.is_empty() {
            continue;
        }
        let handles = accept(&shared, &answer, now, &mut sample, &mut received);
        let bytes = conn
            .call(
                "DeleteMessageBatch",
                Bytes::from(delete_request(&shared.url, &handles)),
            )
            .await;
        let deleted: client::Deleted<'_> = client::parse("DeleteMessageBatch", &bytes);
        sample.requests += 1;
        check_deleted(&deleted, handles.len());
        let before = shared
            .deleted
            .fetch_add(handles.len() as u64, Ordering::AcqRel);
        if before + handles.len() as u64 >= shared.total {
            *shared.finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
    }
    conn.close().await;
    (sample, received)
}

/// Checks one answer of an end-to-end consumer (bodies, MD5s, FIFO order),
/// records its latencies and what was received; returns the receipt handles.
fn accept(
    shared: &Pipeline,
    answer: &client::ReceivedAll<'_>,
    now: Duration,
    sample: &mut Sample,
    received: &mut Vec<(u64, String)>,
) -> Vec<String> {
    let mut order = shared
        .fifo
        .then(|| shared.last_seq.lock().unwrap_or_else(|p| p.into_inner()));
    let mut handles = Vec::with_capacity(answer.messages.len());
    for m in &answer.messages {
        let (k, stamp) = checked(m);
        sample
            .e2e
            .push(now.saturating_sub(Duration::from_micros(stamp)));
        if let Some(last) = order.as_mut() {
            let slot = last
                .get_mut(usize::from(stream_of(k)))
                .unwrap_or_else(|| panic!("message of unknown group {}", stream_of(k)));
            assert_eq!(
                i64::from(seq_of(k)),
                *slot + 1,
                "FIFO order broken in group g{}",
                stream_of(k)
            );
            *slot += 1;
        }
        received.push((k, m.message_id.to_string()));
        handles.push(m.receipt_handle.to_string());
    }
    handles
}

/// Requests/s of the ceiling: `total` SendMessage-shaped 1 KiB requests over
/// `conns` connections; every answer must be 200 with the fixed body.
pub(crate) async fn ceiling(addr: SocketAddr, conns: usize, total: u64) -> Sample {
    let per_conn = total / conns as u64;
    let connections = connect_all(&[addr], conns).await;
    let request = Bytes::from(send_request(
        "http://127.0.0.1/000000000000/ceiling",
        &body(0, 0),
        None,
    ));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in connections {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut sample = Sample::default();
            for _ in 0..per_conn {
                let t = Instant::now();
                let bytes = conn.call("SendMessage", request.clone()).await;
                sample.latencies.push(t.elapsed());
                let _: client::Sent<'_> = client::parse("ceiling", &bytes);
                sample.requests += 1;
                sample.messages += 1;
            }
            conn.close().await;
            sample
        }));
    }
    let mut total_sample = Sample::default();
    for task in tasks {
        total_sample.merge(task.await.unwrap_or_else(|e| panic!("ceiling client: {e}")));
    }
    total_sample.elapsed = start.elapsed();
    total_sample
}
