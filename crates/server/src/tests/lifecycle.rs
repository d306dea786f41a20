//! A real listener: start on port 0, health, long polls answered at
//! shutdown, header-read timeout, 413 before the body is sent.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::test_config;

/// Sends raw bytes and reads the answer until the server closes or `wait` passes.
async fn raw(addr: std::net::SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may close early (refused headers): still read its answer.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn post(target: &str, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.{target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn serves_health_and_answers_long_polls_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::start(test_config(dir.path())).await.unwrap();
    let addr = server.addr();
    assert_ne!(addr.port(), 0);
    let live = raw(
        addr,
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(live.starts_with("HTTP/1.1 200"), "{live}");
    let ready = raw(
        addr,
        b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let created = raw(
        addr,
        &post("CreateQueue", r#"{"QueueName":"lp"}"#),
        Duration::from_secs(5),
    )
    .await;
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        let r = raw(
            addr,
            &post(
                "ReceiveMessage",
                r#"{"QueueUrl":"/000000000000/lp","WaitTimeSeconds":20}"#,
            ),
            Duration::from_secs(30),
        )
        .await;
        (r, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.shutdown().await.unwrap();
    let (reply, took) = poll.await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        took < Duration::from_secs(10),
        "long poll answered at shutdown, took {took:?}"
    );
    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn slow_headers_are_cut_off_and_oversized_bodies_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.limits.header_read_timeout_ms = 300;
    let server = crate::start(config).await.unwrap();
    let addr = server.addr();

    // Slowloris: a partial header block, never finished.
    let started = Instant::now();
    let reply = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(10),
    )
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "connection closed after {took:?}: {reply}"
    );

    // Silence right after connecting (before hyper even knows the HTTP
    // version): also cut off.
    let started = Instant::now();
    let _ = raw(addr, b"", Duration::from_secs(10)).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "silent connection closed after {took:?}"
    );
    let started = Instant::now();
    let _ = raw(addr, b"P", Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(5));

    // 64 MiB announced, nothing sent: answered 413 at once.
    let started = Instant::now();
    let reply = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 67108864\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(reply.contains("RequestEntityTooLarge"), "{reply}");

    // Still serving.
    let ok = raw(addr, &post("ListQueues", "{}"), Duration::from_secs(5)).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn slow_bodies_time_out_and_the_connection_cap_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.limits.body_read_timeout_ms = 300;
    config.limits.max_connections = 1;
    let server = crate::start(config).await.unwrap();
    let addr = server.addr();

    // Announces 10 bytes, sends 2: 408 after the body deadline.
    let started = Instant::now();
    let reply = raw(
        addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonSQS.ListQueues\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 10\r\n\r\n{}",
        Duration::from_secs(10),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // One connection open: a second one is not served until the first closes.
    let first = TcpStream::connect(addr).await.unwrap();
    let second =
        tokio::spawn(
            async move { raw(addr, &post("ListQueues", "{}"), Duration::from_secs(10)).await },
        );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "second connection served despite the cap"
    );
    drop(first);
    let reply = second.await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn header_floods_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::start(test_config(dir.path())).await.unwrap();
    let addr = server.addr();
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let reply = raw(
        addr,
        format!("GET /health/live HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(!reply.starts_with("HTTP/1.1 200"), "{reply}");
    let huge = "a".repeat(200 * 1024);
    let reply = raw(
        addr,
        format!("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n").as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        !reply.starts_with("HTTP/1.1 200"),
        "{}",
        &reply[..reply.len().min(200)]
    );
    let ok = raw(addr, &post("ListQueues", "{}"), Duration::from_secs(5)).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    server.shutdown().await.unwrap();
}
