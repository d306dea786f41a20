//! Several `stowage` processes over one PostgreSQL (`store.backend = "postgres"`), through
//! aws-sdk-sqs: what one node acknowledges, every node sees; a FIFO group stays in order
//! across nodes; a node killed with SIGKILL under load loses no acknowledged send and
//! brings back no acknowledged delete.
//!
//! The PostgreSQL server and its databases come from the engine's PgStore test harness
//! (the same file, included by path: one harness for both suites). These tests run only with
//! `STOWAGE_REQUIRE_POSTGRES=1` (CI sets it), and then fail if PostgreSQL 15 is missing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName as A};
use aws_sdk_sqs::Client;

use crate::common::*;
use crate::harness::{http_request, ServerOptions, TestServer};
use crate::operator::stowage;

/// A fresh database, or `None` (with a note) when the PostgreSQL tests are not asked for.
async fn database() -> Option<String> {
    if std::env::var("STOWAGE_REQUIRE_POSTGRES").as_deref() != Ok("1") {
        eprintln!("SKIPPED: multi-node tests run with STOWAGE_REQUIRE_POSTGRES=1");
        return None;
    }
    crate::harness::pg::database().await
}

/// A node serving the queues kept in the database at `url`.
fn node(url: &str) -> TestServer {
    TestServer::start(ServerOptions {
        env: vec![
            ("STOWAGE_STORE_BACKEND".into(), "postgres".into()),
            ("STOWAGE_STORE_POSTGRES_URL".into(), url.into()),
            ("STOWAGE_STORE_POSTGRES_POOL_SIZE".into(), "4".into()),
            ("STOWAGE_METRICS_SERVE_ON_API_PORT".into(), "true".into()),
        ],
        ..ServerOptions::default()
    })
}

/// Visible and in-flight counts of a queue, as a node reports them.
async fn counts(client: &Client, url: &str) -> (String, String) {
    (
        queue_attr(client, url, A::ApproximateNumberOfMessages).await,
        queue_attr(client, url, A::ApproximateNumberOfMessagesNotVisible).await,
    )
}

#[tokio::test]
async fn a_message_sent_on_one_node_is_received_and_deleted_on_the_other() {
    let Some(db) = database().await else { return };
    let a = node(&db);
    let b = node(&db);
    let (ca, cb) = (a.client(), b.client());
    let url = create_queue_with(&ca, "shared", &[(A::VisibilityTimeout, "2")]).await;
    // The queue exists for B at once, under B's own URL too.
    let url_b = cb
        .get_queue_url()
        .queue_name("shared")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    assert_eq!(url_b, b.queue_url("shared"));

    let sent = send_text(&ca, &url, "hello from A").await;
    let got = receive_n(&cb, &url_b, 1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "B did not receive what A acknowledged");
    assert_eq!(got[0].body(), Some("hello from A"));
    assert_eq!(got[0].message_id(), sent.message_id());
    assert_eq!(
        got[0].md5_of_body(),
        Some(md5_hex(b"hello from A").as_str())
    );
    // In flight for A too (one visibility window across nodes).
    assert_eq!(counts(&ca, &url).await, ("0".into(), "1".into()));
    assert!(receive(&ca, &url, 10, 0).await.is_empty());
    delete(&cb, &url_b, &got[0]).await;
    // Past the 2 s visibility timeout, on both nodes: it never comes back.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(receive(&ca, &url, 10, 1).await.is_empty());
    assert!(receive(&cb, &url_b, 10, 1).await.is_empty());
    assert_eq!(counts(&ca, &url).await, ("0".into(), "0".into()));

    // A long poll on B wakes when A sends (well before its 20 s wait ends).
    let poll = {
        let (cb, url_b) = (cb.clone(), url_b.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            (receive(&cb, &url_b, 1, 20).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    send_text(&ca, &url, "wake up").await;
    let (woken, waited) = poll.await.unwrap();
    assert_eq!(woken.len(), 1, "the long poll on B ended empty");
    assert_eq!(woken[0].body(), Some("wake up"));
    assert!(waited < Duration::from_secs(15), "woken after {waited:?}");

    // Nothing of the embedded store: no log in the data directory, no WAL series.
    for node in [&a, &b] {
        let entries = std::fs::read_dir(node.data_dir()).unwrap().count();
        assert_eq!(
            entries, 0,
            "the data directory of a PostgreSQL node was used"
        );
        let ready = http_request(node.addr(), "GET", "/health/ready", &[], b"");
        assert_eq!(ready.status, 200, "{}", ready.text());
        let metrics = http_request(node.addr(), "GET", "/metrics", &[], b"").text();
        assert!(
            metrics.contains("stowage_queue_messages_visible"),
            "{metrics}"
        );
        assert!(!metrics.contains("stowage_wal_"), "{metrics}");
    }
}

#[tokio::test]
async fn fifo_group_order_holds_across_nodes() {
    let Some(db) = database().await else { return };
    let nodes = [node(&db), node(&db)];
    let clients = [nodes[0].client(), nodes[1].client()];
    let url = create_queue_with(
        &clients[0],
        "orders.fifo",
        &[
            (A::FifoQueue, "true"),
            (A::ContentBasedDeduplication, "true"),
            (A::VisibilityTimeout, "30"),
        ],
    )
    .await;
    // Sends alternate between the nodes; each is acknowledged before the next.
    let groups = ["g1", "g2", "g3"];
    let mut expected: HashMap<&str, Vec<String>> = HashMap::new();
    for i in 0..24 {
        let group = groups[i % groups.len()];
        let body = format!("{group}-{i}");
        clients[i % 2]
            .send_message()
            .queue_url(&url)
            .message_body(&body)
            .message_group_id(group)
            .send()
            .await
            .unwrap();
        expected.entry(group).or_default().push(body);
    }

    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut turn = 0;
    while seen.values().map(Vec::len).sum::<usize>() < 24 {
        assert!(Instant::now() < deadline, "only {seen:?} received");
        let (here, there) = (&clients[turn % 2], &clients[(turn + 1) % 2]);
        turn += 1;
        let first = receive(here, &url, 4, 1).await;
        let locked: HashSet<String> = first.iter().map(group_of).collect();
        // While those groups are in flight on one node, the other gets none of them.
        let second = receive(there, &url, 10, 0).await;
        for m in &second {
            assert!(
                !locked.contains(&group_of(m)),
                "group {} delivered on both nodes at once",
                group_of(m)
            );
        }
        for m in first.iter().chain(&second) {
            seen.entry(group_of(m))
                .or_default()
                .push(m.body().unwrap().to_string());
        }
        // Each node deletes what the other received (handles work on any node).
        for m in &first {
            delete(there, &url, m).await;
        }
        for m in &second {
            delete(here, &url, m).await;
        }
    }
    for group in groups {
        assert_eq!(seen[group], expected[group], "order of {group}");
    }
}

fn group_of(m: &aws_sdk_sqs::types::Message) -> String {
    sys_attr(m, MessageSystemAttributeName::MessageGroupId)
        .expect("MessageGroupId")
        .to_string()
}

/// What the load saw acknowledged.
#[derive(Default)]
struct Acks {
    sent: HashSet<String>,
    sent_on_killed: usize,
    deleted: HashSet<String>,
    received: HashSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_no_acknowledged_send_and_resurrects_no_delete() {
    let Some(db) = database().await else { return };
    let mut victim = node(&db);
    let survivor = node(&db);
    let url = create_queue_with(
        &survivor.client(),
        "load",
        // Long enough that every delete acts on the delivery it names.
        &[(A::VisibilityTimeout, "120")],
    )
    .await;
    let acks = Arc::new(Mutex::new(Acks::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    // Senders: two on the node to be killed (they move to the other node when it is gone,
    // as a client behind a load balancer would), one on the survivor.
    for s in 0..3 {
        let (first, other) = if s < 2 {
            (victim.client(), survivor.client())
        } else {
            (survivor.client(), survivor.client())
        };
        let (url, acks, stop) = (url.clone(), acks.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = first;
            let mut on_victim = s < 2;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = format!("s{s}-{n}");
                match client
                    .send_message()
                    .queue_url(&url)
                    .message_body(&body)
                    .send()
                    .await
                {
                    Ok(_) => {
                        let mut acks = acks.lock().unwrap();
                        acks.sent.insert(body);
                        if on_victim {
                            acks.sent_on_killed += 1;
                        }
                    }
                    // Not acknowledged: it may or may not be stored.
                    Err(_) => {
                        client = other.clone();
                        on_victim = false;
                    }
                }
            }
        }));
    }
    // A consumer on the survivor receives and deletes.
    {
        let (client, url, acks, stop) =
            (survivor.client(), url.clone(), acks.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let got = receive(&client, &url, 10, 1).await;
                for m in got {
                    let body = m.body().unwrap().to_string();
                    acks.lock().unwrap().received.insert(body.clone());
                    delete(&client, &url, &m).await;
                    acks.lock().unwrap().deleted.insert(body);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.lock().unwrap().sent_on_killed < 100 {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    victim.kill9();
    // The load goes on against the survivor for a while.
    let after_kill = acks.lock().unwrap().sent.len();
    while acks.lock().unwrap().sent.len() < after_kill + 100 {
        assert!(
            Instant::now() < deadline,
            "no send succeeded after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    // Drain what is left through the survivor.
    let client = survivor.client();
    let acks = std::mem::take(&mut *acks.lock().unwrap());
    let mut drained = HashSet::new();
    loop {
        let got = receive(&client, &url, 10, 1).await;
        if got.is_empty() && counts(&client, &url).await == ("0".into(), "0".into()) {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(60),
            "the queue does not drain"
        );
        for m in got {
            let body = m.body().unwrap().to_string();
            delete(&client, &url, &m).await;
            drained.insert(body);
        }
    }
    let lost: Vec<_> = acks
        .sent
        .iter()
        .filter(|b| !acks.received.contains(*b) && !drained.contains(*b))
        .collect();
    let resurrected: Vec<_> = drained.intersection(&acks.deleted).collect();
    eprintln!(
        "kill -9 under load: {} sends acknowledged ({} on the killed node), {} deleted, \
         {} drained after the kill",
        acks.sent.len(),
        acks.sent_on_killed,
        acks.deleted.len(),
        drained.len()
    );
    assert!(lost.is_empty(), "acknowledged sends lost: {lost:?}");
    assert!(
        resurrected.is_empty(),
        "deleted messages came back: {resurrected:?}"
    );
}

/// Readiness follows the node's connection to the database; liveness does not (a restart
/// would not bring the database back, and the node reconnects by itself).
#[tokio::test]
async fn readiness_follows_the_database_and_liveness_stays() {
    let Some(db) = database().await else { return };
    let n = node(&db);
    let health = |path: &str| http_request(n.addr(), "GET", path, &[], b"");
    assert_eq!(health("/health/ready").status, 200);
    // The database goes away under the running node.
    let (base, name) = db.rsplit_once('/').unwrap();
    let (admin, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let not_ready = loop {
        let ready = health("/health/ready");
        if ready.status == 503 {
            break ready.text();
        }
        assert!(Instant::now() < deadline, "still ready: {}", ready.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(not_ready.contains("database"), "{not_ready}");
    let live = health("/health/live");
    assert_eq!(live.status, 200, "{}", live.text());
}

/// Without `--endpoint`, an operator command acts on the database itself, beside running
/// nodes, and every node sees what it did at once.
#[tokio::test]
async fn operator_commands_act_on_the_database_beside_running_nodes() {
    let Some(db) = database().await else { return };
    let n = node(&db);
    let client = n.client();
    let url = create_queue(&client, "ops").await;
    send_text(&client, &url, "one").await;
    send_text(&client, &url, "two").await;
    let tmp = tempfile::tempdir().unwrap();
    let env = [
        ("STOWAGE_STORE_BACKEND", "postgres"),
        ("STOWAGE_STORE_POSTGRES_URL", db.as_str()),
    ];
    let list = stowage(&["queues", "list"], &env, tmp.path()).ok();
    assert_eq!(list.stdout, "000000000000/ops\n", "{list:?}");
    stowage(&["purge", "ops"], &env, tmp.path()).ok();
    assert_eq!(counts(&client, &url).await, ("0".into(), "0".into()));
    // Nothing was opened in the working directory (no data directory made).
    assert!(!tmp.path().join("data").exists());
}

#[test]
fn a_postgres_backend_without_a_url_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, named) in [
        ("postgres", "store.postgres_url"),
        ("cassandra", "STOWAGE_STORE_BACKEND"),
    ] {
        let run = stowage(
            &["--listen", "127.0.0.1:0", "--metrics-listen", ""],
            &[("STOWAGE_STORE_BACKEND", backend)],
            dir.path(),
        );
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains(named), "{run:?}");
    }
}
