//! Failover at store level: a primary with a synchronous standby
//! (`pg_basebackup -R`, `synchronous_standby_names`), a send / receive /
//! delete load through a store whose URL names both hosts with
//! `target_session_attrs=read-write`; the primary is killed with SIGKILL,
//! the standby promoted, and the load goes on. Every send acknowledged
//! before, during or after the failover is there (unless its delete was
//! acknowledged, or may have committed), and no message whose delete was
//! acknowledged comes back.

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::server::{available, PgServer};
use super::*;

async fn psql(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client.query(sql, &[]).await.expect(sql)
}

/// Acknowledged sends and deletes of the load.
#[derive(Default)]
struct Ledger {
    sent: HashSet<MessageId>,
    deleted: HashSet<MessageId>,
    /// Deliveries whose delete failed: it may still have committed (a
    /// connection lost during `COMMIT`), so the message may be gone.
    maybe_deleted: HashSet<MessageId>,
    unavailable: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_a_synchronous_standby_loses_no_acknowledged_message() {
    if !available() {
        return;
    }
    let (primary, standby) = tokio::task::spawn_blocking(|| {
        let primary = PgServer::create();
        primary.init();
        primary.start(&["wal_level=replica", "max_wal_senders=4"]);
        let standby = PgServer::create();
        let status = standby
            .tool("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(standby.data())
            .args(["-R", "-X", "stream"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_basebackup");
        assert!(status.success(), "pg_basebackup failed");
        standby.start(&["cluster_name=standby1", "hot_standby=on"]);
        (primary, standby)
    })
    .await
    .unwrap();
    let admin = primary.url("postgres");
    psql(
        &admin,
        "ALTER SYSTEM SET synchronous_standby_names = 'standby1'",
    )
    .await;
    psql(&admin, "SELECT pg_reload_conf()").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = psql(&admin, "SELECT sync_state FROM pg_stat_replication").await;
        if rows.iter().any(|r| r.get::<_, String>(0) == "sync") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never became synchronous"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    psql(&admin, "CREATE DATABASE stowage").await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/stowage?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let store = Arc::new(
        open_with(&url, |c| {
            c.connect_timeout_ms = 2_000;
            c.max_retries = 3;
        })
        .await,
    );
    let q = create(&store, "failover", &[]).await;

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3 {
        let (store, q, ledger, stop) = (store.clone(), q.clone(), ledger.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let now = T0 + n;
                if w < 2 {
                    let m = msg(&format!("w{w}-{n}"));
                    let id = m.message_id;
                    match store.send(&q, vec![m], now).await {
                        Ok(_) => {
                            ledger.lock().unwrap().sent.insert(id);
                        }
                        Err(StoreError::Unavailable(_)) => {
                            ledger.lock().unwrap().unavailable += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(e) => panic!("{e}"),
                    }
                } else {
                    let got = match store.receive(&q, &spec(5, 600_000), now).await {
                        Ok(ReceiveOutcome::Delivered { delivered, .. }) => delivered,
                        Ok(other) => panic!("{other:?}"),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    };
                    let deliveries: Vec<Delivery> = got.iter().map(delivery).collect();
                    let deleted = store.delete(&q, &deliveries, true, now).await;
                    let mut l = ledger.lock().unwrap();
                    match deleted {
                        Ok(outcomes) => {
                            for (m, o) in got.iter().zip(outcomes) {
                                if o == DeleteOutcome::Deleted {
                                    l.deleted.insert(m.message_id);
                                }
                            }
                        }
                        Err(_) => l.maybe_deleted.extend(got.iter().map(|m| m.message_id)),
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let acked_before = ledger.lock().unwrap().sent.clone();
    let before = acked_before.len();
    assert!(primary.pid().is_some());
    let killed_at = Instant::now();
    primary.kill_9();
    let status = standby
        .tool("pg_ctl")
        .arg("-D")
        .arg(standby.data())
        .args(["-w", "-t", "60", "promote"])
        .stdout(Stdio::null())
        .status()
        .expect("pg_ctl promote");
    assert!(status.success(), "promote failed");
    // The load goes on against the new primary.
    let recovered = loop {
        let sent = ledger.lock().unwrap().sent.len();
        if sent > before + 20 {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "no send succeeded after the failover"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    // Check on the new primary with a fresh store.
    let check = open(&standby.url("stowage")).await;
    let present: HashSet<MessageId> = check
        .peek(&q, None, 1_000_000, T0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message.message_id)
        .collect();
    // A message whose delete failed may be there or not; every other
    // acknowledged send that was not deleted must be there.
    let lost: Vec<_> = ledger
        .sent
        .iter()
        .filter(|id| {
            !ledger.deleted.contains(*id)
                && !ledger.maybe_deleted.contains(*id)
                && !present.contains(*id)
        })
        .collect();
    let resurrected: Vec<_> = ledger
        .deleted
        .iter()
        .filter(|id| present.contains(*id))
        .collect();
    // The sends acknowledged before the kill, on the promoted standby:
    // present, or deleted (acknowledged, or in doubt) by the load since.
    let count =
        |set: &HashSet<MessageId>| acked_before.iter().filter(|id| set.contains(*id)).count();
    eprintln!(
        "failover: {before} sends acknowledged before the kill; after the promotion {} of them \
         present, {} deleted by the load (acknowledged), {} with a delete in doubt; first sends \
         on the new primary {recovered:?} after the kill. Whole run: {} sends acknowledged, {} \
         deletes, {} deliveries whose delete failed, {} Unavailable sends, {} lost, {} deleted \
         ones back",
        count(&present),
        count(&ledger.deleted),
        count(&ledger.maybe_deleted),
        ledger.sent.len(),
        ledger.deleted.len(),
        ledger.maybe_deleted.len(),
        ledger.unavailable,
        lost.len(),
        resurrected.len()
    );
    assert!(lost.is_empty(), "{} acknowledged sends lost", lost.len());
    assert!(
        resurrected.is_empty(),
        "{} deleted messages came back",
        resurrected.len()
    );
    assert!(before > 0 && !ledger.deleted.is_empty(), "the load ran");
    store.close().await.unwrap();
    check.close().await.unwrap();
    drop((store, check));
    tokio::task::spawn_blocking(move || {
        standby.stop();
        primary.stop();
    })
    .await
    .unwrap();
}
