//! The pieces: escaping, number and time formats, the chart history ring,
//! the chart scale, host checks, the `[console]` configuration, and the
//! console on a real listener (its own, or the API's).

use std::time::Duration;

use engine::{QueueGauges, QueueRef};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::access::is_loopback_host;
use super::super::chart::nice_ceiling;
use super::super::history::{Bucket, History, BUCKETS};
use super::super::html::{count, duration, esc, time_utc, truncate};
use super::super::ConsoleConfig;
use crate::auth::AuthConfig;
use crate::tests::test_config;

#[test]
fn escaping_covers_text_and_attribute_contexts() {
    assert_eq!(
        esc("<a href=\"x\" title='y'>&amp;</a>").to_string(),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
    );
    assert_eq!(esc("plain ünïcode ✓").to_string(), "plain ünïcode ✓");
    assert_eq!(esc("").to_string(), "");
}

#[test]
fn formats_read_well() {
    assert_eq!(count(0), "0");
    assert_eq!(count(999), "999");
    assert_eq!(count(1000), "1,000");
    assert_eq!(count(1_234_567), "1,234,567");
    assert_eq!(duration(42), "42 s");
    assert_eq!(duration(300), "5 min");
    assert_eq!(duration(303), "5 min 3 s");
    assert_eq!(duration(3600), "1 h");
    assert_eq!(duration(7_800), "2 h 10 min");
    assert_eq!(duration(345_600), "4 d");
    assert_eq!(duration(1_209_600), "14 d");
    assert_eq!(duration(90_000), "1 d 1 h");
    assert_eq!(time_utc(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(time_utc(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
    assert_eq!(
        truncate("héllo", 2),
        ("h", true),
        "never splits a character"
    );
    assert_eq!(truncate("héllo", 3), ("hé", true));
    assert_eq!(truncate("short", 10), ("short", false));
}

#[test]
fn loopback_hosts() {
    for host in [
        "localhost",
        "LOCALHOST:9324",
        "127.0.0.1",
        "127.8.9.10:80",
        "[::1]",
        "[::1]:9324",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "evil.example",
        "localhost.evil.example",
        "10.0.0.1:9324",
        "[::2]:1",
        "127.0.0.1.nip.io",
        "",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}

#[test]
fn chart_scale_is_a_nice_ceiling() {
    let cases = [
        (0, 1),
        (1, 1),
        (2, 2),
        (3, 5),
        (5, 5),
        (6, 10),
        (11, 20),
        (51, 100),
        (120, 200),
        (700, 1000),
    ];
    for (n, top) in cases {
        assert_eq!(nice_ceiling(n), top, "{n}");
    }
    assert!(nice_ceiling(u32::MAX) >= u32::MAX / 2);
}

fn gauges(name: &str, sent: u64, received: u64, deleted: u64) -> QueueGauges {
    QueueGauges {
        queue: QueueRef {
            account: "000000000000".into(),
            name: name.into(),
        },
        visible: 0,
        not_visible: 0,
        delayed: 0,
        oldest_message_age_seconds: 0,
        sent_total: sent,
        sent_bytes_total: 0,
        received_total: received,
        deleted_total: deleted,
        empty_receives_total: 0,
        dead_lettered_total: 0,
        moved_by_tasks_total: 0,
        deduplicated_total: 0,
    }
}

fn bucket(sent: u32, received: u32, deleted: u32) -> Bucket {
    Bucket {
        sent,
        received,
        deleted,
    }
}

#[test]
fn history_keeps_one_hour_of_deltas_per_queue() {
    let history = History::default();
    history.sample(&[gauges("a", 5, 3, 1)]);
    history.sample(&[gauges("a", 7, 3, 2)]);
    let chart = history.chart(&gauges("a", 10, 4, 2));
    assert_eq!(chart.buckets, vec![bucket(5, 3, 1), bucket(2, 0, 1)]);
    assert_eq!(chart.current, bucket(3, 1, 0));

    // A queue seen later has zero buckets before it existed.
    history.sample(&[gauges("a", 10, 4, 2), gauges("b", 1, 0, 0)]);
    let b = history.chart(&gauges("b", 1, 0, 0));
    assert_eq!(
        b.buckets,
        vec![bucket(0, 0, 0), bucket(0, 0, 0), bucket(1, 0, 0)]
    );
    // A queue not sampled yet: all of its totals are in the current bucket.
    let c = history.chart(&gauges("c", 4, 0, 0));
    assert_eq!(c.buckets.len(), 3);
    assert_eq!(c.current, bucket(4, 0, 0));

    // Deleted and re-created (counters restart): no negative or huge delta.
    history.sample(&[gauges("a", 2, 0, 0)]);
    let a = history.chart(&gauges("a", 2, 0, 0));
    assert_eq!(a.buckets.last(), Some(&bucket(2, 0, 0)));
    // `b` is gone: forgotten.
    assert_eq!(
        history.chart(&gauges("b", 0, 0, 0)).current,
        bucket(0, 0, 0)
    );

    // Bounded: one hour of buckets, however long it runs.
    for i in 0..(BUCKETS as u64 + 50) {
        history.sample(&[gauges("a", 2 + i, 0, 0)]);
    }
    let a = history.chart(&gauges("a", 1000, 0, 0));
    assert_eq!(a.buckets.len(), BUCKETS);
    assert!(a.buckets.iter().all(|b| b.sent == 1));
}

#[test]
fn console_config_is_checked() {
    let auth = AuthConfig::default();
    let ok = ConsoleConfig::default();
    assert!(ok.validate(&auth).is_ok());
    assert_eq!(ok.listen_addr(), None);
    let own = ConsoleConfig {
        listen: "127.0.0.1:9400".into(),
        ..ConsoleConfig::default()
    };
    assert!(own.validate(&auth).is_ok());
    let bad = ConsoleConfig {
        listen: "nowhere".into(),
        ..ConsoleConfig::default()
    };
    assert!(bad.validate(&auth).unwrap_err().contains("console.listen"));
    let open = ConsoleConfig {
        listen: "0.0.0.0:9400".into(),
        ..ConsoleConfig::default()
    };
    assert!(open
        .validate(&auth)
        .unwrap_err()
        .contains("without credentials"));
    let with_keys = AuthConfig {
        credentials: super::credentials(),
        ..AuthConfig::default()
    };
    assert!(open.validate(&with_keys).is_ok());
    let zero = ConsoleConfig {
        session_idle_timeout_secs: 0,
        ..ConsoleConfig::default()
    };
    assert!(zero.validate(&auth).is_err());
    // Environment variables reach the section.
    let config = crate::Config::load(
        None,
        vec![
            ("STOWAGE_CONSOLE_READ_ONLY".to_owned(), "true".to_owned()),
            (
                "STOWAGE_CONSOLE_LISTEN".to_owned(),
                "127.0.0.1:0".to_owned(),
            ),
        ],
        &crate::config::Overrides::default(),
    )
    .unwrap();
    assert!(config.console.read_only);
    assert_eq!(config.console.listen, "127.0.0.1:0");
}

#[test]
fn sessions_end_after_the_idle_timeout() {
    use super::super::session::{Scope, Sessions};
    let sessions = Sessions::new(Duration::from_millis(200));
    let a = sessions.create(Scope::AllAccounts, "anonymous".into(), "x".into(), false);
    assert!(sessions.get(&a.token).is_some());
    assert!(sessions.get("not-a-token").is_none());
    std::thread::sleep(Duration::from_millis(400));
    assert!(sessions.get(&a.token).is_none());
    assert_eq!(sessions.len(), 0);
}

/// `GET path` over a real connection; the whole answer.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn served_on_the_api_listener_or_its_own() {
    // Default: on the API port, and the listener passes the peer address.
    let dir = tempfile::tempdir().unwrap();
    let server = crate::start(test_config(dir.path())).await.unwrap();
    let page = http_get(server.addr(), "/console/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<h1>Queues</h1>"));
    let css = http_get(server.addr(), "/console/assets/console.css").await;
    assert!(css.contains("text/css") && css.contains("@media (max-width: 700px)"));
    assert!(server.console_addr().is_none());
    server.shutdown().await.unwrap();

    // Its own listener: not on the API port any more.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.console.listen = "127.0.0.1:0".into();
    let server = crate::start(config).await.unwrap();
    let console = server.console_addr().expect("console listener");
    assert!(http_get(console, "/console/")
        .await
        .starts_with("HTTP/1.1 200"));
    let api = http_get(server.addr(), "/console/").await;
    assert!(!api.contains("<h1>Queues</h1>"), "{api}");
    server.shutdown().await.unwrap();

    // Disabled: nowhere.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.console.enabled = false;
    let server = crate::start(config).await.unwrap();
    assert!(!http_get(server.addr(), "/console/")
        .await
        .contains("<h1>Queues</h1>"));
    server.shutdown().await.unwrap();
}
