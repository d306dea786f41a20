//! Request bodies cannot exhaust the server's memory: with credentials configured a request
//! (to the SQS API or to the admin endpoint) whose signature is missing, malformed, expired or
//! names an unknown key is refused before its body is read, and the bodies read at once across all connections stay inside
//! `limits.request_body_budget_bytes` (over it: 503 ServiceUnavailable). Memory is the
//! server's real peak RSS (`VmHWM` in /proc/<pid>/status).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::auth::{signed_server, KEY_A};
use crate::common::amz_date;
use crate::harness::{parse_response, RawResponse, ServerOptions, TestServer};

const MIB: u64 = 1024 * 1024;
/// The default `limits.max_request_bytes`.
const BODY_BYTES: u64 = 4 * MIB;

/// A `kB` field of /proc/<pid>/status, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad line {line:?}"));
    kib * 1024
}

/// Peak-RSS meter: resets the process's high-water mark (`echo 5 > clear_refs`) when it can,
/// so the growth it reports is measured from the RSS at the start.
struct PeakRss {
    pid: u32,
    start: u64,
}

impl PeakRss {
    fn start(pid: u32) -> PeakRss {
        let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let rss = status_bytes(pid, "VmRSS:");
        // Without the reset, the old peak is the conservative baseline (it can only hide growth
        // below it, which the bounds below leave no room for: they are far above start-up).
        let start = if reset {
            rss
        } else {
            rss.max(status_bytes(pid, "VmHWM:"))
        };
        PeakRss { pid, start }
    }

    fn growth(&self) -> u64 {
        status_bytes(self.pid, "VmHWM:").saturating_sub(self.start)
    }
}

/// The admin endpoint (on by default, same credentials as the API).
const ADMIN_PATH: &str = "/_stowage/admin/v1";

/// The head of a JSON SendMessage POSTed to `path` declaring a `BODY_BYTES` body, with extra
/// header lines.
fn head(addr: SocketAddr, path: &str, extra: &[String]) -> String {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: AmazonSQS.SendMessage\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {BODY_BYTES}\r\n"
    );
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// Sends only `head` (none of the declared body) and reads the answer: the server must
/// answer without waiting for the body (it would wait `body_read_timeout_ms`, 30 s, for it).
fn answer_without_body(addr: SocketAddr, head: &str) -> RawResponse {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("read timeout");
    stream.write_all(head.as_bytes()).expect("write head");
    let mut raw = Vec::new();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    // Read until the answer is complete (the server may keep the connection open).
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no answer after {:?} (the server waits for the body?): {e}",
                started.elapsed()
            ),
        }
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| raw.len() >= end + 4 + n) {
                break;
            }
        }
    }
    parse_response(&raw)
}

/// `connections` clients each send `head` and all of the declared body but its last byte
/// (so a server that reads bodies holds every one of them), then hold the connection until
/// the returned barrier is passed. Returns the writers and the barrier (`connections + 1`).
fn hold_bodies(
    addr: SocketAddr,
    head: &str,
    connections: usize,
) -> (Vec<std::thread::JoinHandle<()>>, Arc<Barrier>, Arc<Barrier>) {
    let written = Arc::new(Barrier::new(connections + 1));
    let release = Arc::new(Barrier::new(connections + 1));
    let handles = (0..connections)
        .map(|_| {
            let head = head.to_owned();
            let (written, release) = (written.clone(), release.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
                if let Ok(mut stream) = stream {
                    // A server that refuses the body stops reading: the writes then block
                    // (bounded) or fail, which is fine.
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(3)));
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut left = usize::try_from(BODY_BYTES - 1).expect("fits");
                    if stream.write_all(head.as_bytes()).is_ok() {
                        while left > 0 {
                            let n = left.min(chunk.len());
                            if stream.write_all(&chunk[..n]).is_err() {
                                break;
                            }
                            left -= n;
                        }
                    }
                    written.wait();
                    release.wait();
                    drop(stream);
                } else {
                    written.wait();
                    release.wait();
                }
            })
        })
        .collect();
    (handles, written, release)
}

/// Lets the server catch up with the bytes the clients wrote (it reads them from kernel
/// buffers after the writes returned): waits until the growth is at least `at_least` and
/// has not changed for half a second (at most 30 s).
fn settle(meter: &PeakRss, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = meter.growth();
    let mut stable_since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = meter.growth();
        if now != last {
            last = now;
            stable_since = Instant::now();
        } else if now >= at_least && stable_since.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
}

#[test]
fn unauthenticated_requests_are_refused_before_their_body_is_read() {
    let server = signed_server();
    let addr = server.addr();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let stamp = amz_date(now);
    let old_stamp = amz_date(now - 86_400);
    let (today, old_day) = (&stamp[..8], &old_stamp[..8]);
    let zeros = "0".repeat(64);
    let authorization = |key: &str, day: &str| {
        format!(
            "Authorization: AWS4-HMAC-SHA256 Credential={key}/{day}/us-east-1/sqs/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={zeros}"
        )
    };
    let cases = [
        ("missing", vec![], 403, "MissingAuthenticationToken"),
        (
            "malformed",
            vec!["Authorization: AWS4-HMAC-SHA256 nonsense".to_string()],
            400,
            "IncompleteSignature",
        ),
        (
            "expired",
            vec![
                authorization(KEY_A, old_day),
                format!("X-Amz-Date: {old_stamp}"),
            ],
            400,
            "RequestExpired",
        ),
        (
            "unknown key",
            vec![
                authorization("AKIANOSUCHKEY0000000", today),
                format!("X-Amz-Date: {stamp}"),
            ],
            403,
            "InvalidClientTokenId",
        ),
    ];
    for (what, extra, status, shape) in cases {
        for path in ["/", ADMIN_PATH] {
            let answer = answer_without_body(addr, &head(addr, path, &extra));
            assert_eq!(answer.status, status, "{what} {path}: {}", answer.text());
            assert!(
                answer.text().contains(shape),
                "{what} {path}: {}",
                answer.text()
            );
        }
    }

    // Many unsigned clients sending large bodies (half to the API, half to the admin
    // endpoint): the server's memory does not grow with them.
    let connections = 16;
    let meter = PeakRss::start(server.pid());
    let (mut writers, written, release) = hold_bodies(addr, &head(addr, "/", &[]), connections);
    let (admin_writers, admin_written, admin_release) =
        hold_bodies(addr, &head(addr, ADMIN_PATH, &[]), connections);
    writers.extend(admin_writers);
    written.wait();
    admin_written.wait();
    settle(&meter, 0);
    let growth = meter.growth();
    release.wait();
    admin_release.wait();
    for w in writers {
        w.join().expect("writer");
    }
    let connections = 2 * connections;
    assert!(
        growth < 48 * MIB,
        "peak RSS grew by {} MiB while {connections} unsigned clients sent {} MiB bodies",
        growth / MIB,
        BODY_BYTES / MIB
    );
    // Still serving.
    let live = server.http("GET", "/health/live", &[], b"");
    assert_eq!(live.status, 200, "{}", live.text());
}

#[test]
fn bodies_read_at_once_stay_within_the_global_budget() {
    // Anonymous mode: every body is read, so only the budget bounds them. Room for two
    // largest requests.
    let budget = 2 * BODY_BYTES;
    let server = TestServer::start(ServerOptions {
        env: vec![
            (
                "STOWAGE_LIMITS_REQUEST_BODY_BUDGET_BYTES".into(),
                budget.to_string(),
            ),
            (
                "STOWAGE_LIMITS_REQUEST_BODY_BUDGET_WAIT_MS".into(),
                "300".into(),
            ),
        ],
        ..ServerOptions::default()
    });
    let addr = server.addr();
    let connections = 24;
    let meter = PeakRss::start(server.pid());
    let (writers, written, release) = hold_bodies(addr, &head(addr, "/", &[]), connections);
    written.wait();
    // Both admitted bodies are in memory (nearly all of their bytes).
    settle(&meter, budget - MIB);
    // The budget is held by bodies still being read (their last byte never comes): one more
    // request waits 300 ms, then gets 503.
    let answer = answer_without_body(addr, &head(addr, "/", &[]));
    let growth = meter.growth();
    release.wait();
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(
        answer.text().contains("ServiceUnavailable"),
        "{}",
        answer.text()
    );
    assert_eq!(
        answer.header("x-amzn-query-error"),
        Some("ServiceUnavailable;Receiver")
    );
    assert!(
        growth < budget + 40 * MIB,
        "peak RSS grew by {} MiB while {connections} clients sent {} MiB bodies (budget {} MiB)",
        growth / MIB,
        BODY_BYTES / MIB,
        budget / MIB
    );
    // Once they are gone the budget is free again: a normal request succeeds.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = server.http(
            "POST",
            "/",
            &[
                ("X-Amz-Target", "AmazonSQS.ListQueues"),
                ("Content-Type", "application/x-amz-json-1.0"),
            ],
            b"{}",
        );
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused: {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
