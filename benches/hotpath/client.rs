//! The load generator's connection: one keep-alive HTTP/1.1 connection
//! speaking AWS JSON 1.0 (`POST /`, `X-Amz-Target: AmazonSQS.<Action>`), and
//! the typed answers the workloads check. Every failure panics with context:
//! a benchmark that got a wrong answer must not print a figure.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

/// Upper bound on one exchange, so a stuck server cannot hang the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries of a ReceiveMessage answered with a server error.
const MAX_RETRIES: u64 = 5;

/// ReceiveMessage calls answered with a server error and retried, in this
/// process so far (reported: a correct server answers none).
pub(crate) static RETRIED_SERVER_ERRORS: AtomicU64 = AtomicU64::new(0);

/// One keep-alive connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    driver: tokio::task::JoinHandle<()>,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> Conn {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap_or_else(|e| panic!("handshake {addr}: {e}"));
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Conn {
            sender,
            host: addr.to_string(),
            driver,
        }
    }

    /// Sends `body` as `action`; returns the answer's bytes. Panics unless
    /// 200, except that a ReceiveMessage answered with a 5xx is retried (as
    /// SDKs do; it changes nothing on the server) and counted in
    /// [`RETRIED_SERVER_ERRORS`].
    pub(crate) async fn call(&mut self, action: &str, body: Bytes) -> Bytes {
        let mut attempt = 0;
        loop {
            let (status, bytes) = self.exchange(action, body.clone()).await;
            if status == 200 {
                return bytes;
            }
            attempt += 1;
            if action != "ReceiveMessage" || !status.is_server_error() || attempt > MAX_RETRIES {
                panic!("{action}: {status}: {}", String::from_utf8_lossy(&bytes));
            }
            RETRIED_SERVER_ERRORS.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10 * attempt)).await;
        }
    }

    async fn exchange(&mut self, action: &str, body: Bytes) -> (hyper::StatusCode, Bytes) {
        let request = Request::post("/")
            .header("host", &self.host)
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(body))
            .unwrap_or_else(|e| panic!("request: {e}"));
        let exchange = async {
            self.sender
                .ready()
                .await
                .unwrap_or_else(|e| panic!("{action}: connection: {e}"));
            let response = self
                .sender
                .send_request(request)
                .await
                .unwrap_or_else(|e| panic!("{action}: {e}"));
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{action}: body: {e}"))
                .to_bytes();
            (status, bytes)
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| panic!("{action}: no answer within {REQUEST_TIMEOUT:?}"))
    }

    /// `call` and decode the answer as `T`.
    pub(crate) async fn call_json<T: for<'de> Deserialize<'de>>(
        &mut self,
        action: &str,
        body: String,
    ) -> T {
        let bytes = self.call(action, Bytes::from(body)).await;
        parse(action, &bytes)
    }

    pub(crate) async fn close(self) {
        drop(self.sender);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.driver).await;
    }
}

/// Decodes a JSON answer or panics naming the action and the bytes.
pub(crate) fn parse<'a, T: Deserialize<'a>>(action: &str, bytes: &'a [u8]) -> T {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "{action}: unexpected answer ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// `CreateQueue` answer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Created {
    pub(crate) queue_url: String,
}

/// `SendMessage` answer.
#[derive(Deserialize)]
pub(crate) struct Sent<'a> {
    #[serde(rename = "MessageId", borrow)]
    pub(crate) message_id: Cow<'a, str>,
    #[serde(rename = "MD5OfMessageBody", borrow)]
    pub(crate) md5_of_body: Cow<'a, str>,
}

/// One `Successful` entry of a `SendMessageBatch` answer.
#[derive(Deserialize)]
pub(crate) struct BatchSent<'a> {
    #[serde(rename = "Id", borrow)]
    pub(crate) id: Cow<'a, str>,
    #[serde(rename = "MessageId", borrow)]
    pub(crate) message_id: Cow<'a, str>,
    #[serde(rename = "MD5OfMessageBody", borrow)]
    pub(crate) md5_of_body: Cow<'a, str>,
}

/// A `Failed` entry of any batch answer (kept raw for the panic message).
pub(crate) type Failed = serde_json::Value;

/// `SendMessageBatch` answer (empty lists may be omitted).
#[derive(Deserialize)]
pub(crate) struct BatchSentAll<'a> {
    #[serde(rename = "Successful", borrow, default)]
    pub(crate) successful: Vec<BatchSent<'a>>,
    #[serde(rename = "Failed", default)]
    pub(crate) failed: Vec<Failed>,
}

/// One message of a `ReceiveMessage` answer.
#[derive(Deserialize)]
pub(crate) struct Received<'a> {
    #[serde(rename = "MessageId", borrow)]
    pub(crate) message_id: Cow<'a, str>,
    #[serde(rename = "ReceiptHandle", borrow)]
    pub(crate) receipt_handle: Cow<'a, str>,
    #[serde(rename = "MD5OfBody", borrow)]
    pub(crate) md5_of_body: Cow<'a, str>,
    #[serde(rename = "Body", borrow)]
    pub(crate) body: Cow<'a, str>,
}

/// `ReceiveMessage` answer (no `Messages` member when empty).
#[derive(Deserialize)]
pub(crate) struct ReceivedAll<'a> {
    #[serde(rename = "Messages", borrow, default)]
    pub(crate) messages: Vec<Received<'a>>,
}

/// `DeleteMessageBatch` answer.
#[derive(Deserialize)]
pub(crate) struct Deleted<'a> {
    #[serde(rename = "Successful", borrow, default)]
    pub(crate) successful: Vec<IdOnly<'a>>,
    #[serde(rename = "Failed", default)]
    pub(crate) failed: Vec<Failed>,
}

/// `{"Id": …}`.
#[derive(Deserialize)]
pub(crate) struct IdOnly<'a> {
    #[serde(rename = "Id", borrow)]
    pub(crate) id: Cow<'a, str>,
}

/// `GetQueueAttributes` answer.
#[derive(Deserialize)]
pub(crate) struct Attributes {
    #[serde(rename = "Attributes", default)]
    pub(crate) attributes: std::collections::BTreeMap<String, String>,
}
