//! HTTP/2 through a real client (the `h2` crate, prior knowledge over plain TCP): control
//! frames are not activity, so connections that only send PINGs are closed after
//! `limits.idle_timeout_ms` and cannot hold the `max_connections` slots; a PING flood is cut.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::harness::{ServerOptions, TestServer};

/// An HTTP/2 connection whose driver runs in a task; PINGs go through `ping_pong`.
struct H2Connection {
    ping_pong: h2::PingPong,
    driver: tokio::task::JoinHandle<Result<(), h2::Error>>,
    send: h2::client::SendRequest<bytes::Bytes>,
}

impl H2Connection {
    async fn open(addr: SocketAddr) -> H2Connection {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (send, mut connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
        let ping_pong = connection.ping_pong().expect("ping_pong is taken once");
        let driver = tokio::spawn(connection);
        H2Connection {
            ping_pong,
            driver,
            send,
        }
    }

    /// One `GET path`; returns the status.
    async fn get(&mut self, addr: SocketAddr, path: &str) -> u16 {
        let request = http::Request::get(format!("http://{addr}{path}"))
            .body(())
            .expect("request");
        let mut send = self.send.clone().ready().await.expect("stream available");
        let (response, _) = send.send_request(request, true).expect("send request");
        let response = response.await.expect("response");
        response.status().as_u16()
    }

    /// PINGs every `every` until the server closes the connection; returns how long it took,
    /// or `None` if it was still open after `limit`.
    async fn ping_until_closed(&mut self, every: Duration, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            let ping = tokio::time::timeout(
                Duration::from_secs(10),
                self.ping_pong.ping(h2::Ping::opaque()),
            );
            match ping.await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => return Some(started.elapsed()),
            }
            if self.driver.is_finished() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(every).await;
        }
        None
    }
}

#[tokio::test]
async fn ping_only_connections_are_closed_when_idle_and_free_their_slots() {
    let slots = 4;
    let server = TestServer::start(ServerOptions {
        env: vec![
            ("STOWAGE_LIMITS_IDLE_TIMEOUT_MS".into(), "2000".into()),
            ("STOWAGE_LIMITS_MAX_CONNECTIONS".into(), slots.to_string()),
        ],
        ..ServerOptions::default()
    });
    let addr = server.addr();
    // Every slot: half never send a request, half send one; then all only PING.
    let mut connections = Vec::new();
    for i in 0..slots {
        let mut c = H2Connection::open(addr).await;
        if i % 2 == 1 {
            assert_eq!(c.get(addr, "/health/live").await, 200);
        }
        connections.push(c);
    }
    let pingers: Vec<_> = connections
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                c.ping_until_closed(Duration::from_millis(200), Duration::from_secs(60))
                    .await
            })
        })
        .collect();
    // A new client gets served once the idle ones are gone (it waits in the OS backlog).
    let probe = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let r = crate::harness::http_request(addr, "GET", "/health/live", &[], b"");
        (r.status, started.elapsed())
    });
    for pinger in pingers {
        let closed_after = pinger.await.expect("pinger");
        closed_after.expect("a PING-only connection stayed open for 60 s");
    }
    let (status, waited) = probe.await.expect("probe");
    assert_eq!(status, 200, "after {waited:?}");
}

#[tokio::test]
async fn a_ping_flood_closes_the_connection() {
    // Default idle timeout (75 s): only the flood limit can close it within the test.
    let server = TestServer::start_default();
    let addr = server.addr();
    let mut c = H2Connection::open(addr).await;
    assert_eq!(c.get(addr, "/health/live").await, 200);
    let closed = c
        .ping_until_closed(Duration::ZERO, Duration::from_secs(30))
        .await;
    assert!(closed.is_some(), "a PING flood went on for 30 s");
    // The server itself is fine.
    let mut fresh = H2Connection::open(addr).await;
    assert_eq!(fresh.get(addr, "/health/live").await, 200);
}
