//! `stowage backup` and `stowage restore` end to end: a backup taken through the admin
//! endpoint while senders and deleters keep going, the server killed (-9) right after it,
//! the backup restored into a fresh data directory and served again; and what a restore
//! refuses (a damaged backup, the directory of a running server) and keeps (the data
//! directory it replaces).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName as A, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;

use crate::common::{create_queue, create_queue_with, receive};
use crate::harness::{embedded_store_only, ServerOptions, TestServer};
use crate::operator::stowage;

/// Queue that only gets sends: everything acknowledged before the backup must come back.
const KEPT: &str = "kept";
/// Queue whose messages are received and deleted as they come.
const CHURN: &str = "churn";
/// Visibility timeout of `churn`: what the deleters held at the backup point is visible
/// again this soon after the restore.
const CHURN_VISIBILITY: &str = "2";
/// Longest wait for the load to reach a stage, or for the restored messages to arrive.
const STAGE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the clients saw acknowledged, in order.
#[derive(Default)]
struct Ledger {
    /// Bodies whose send was attempted (acknowledged or not), in the order the sends started.
    attempted: Vec<String>,
    /// Bodies of acknowledged sends, in the order their acknowledgements arrived.
    acked: Vec<String>,
    /// Bodies whose deletion was acknowledged, in order.
    deleted: Vec<String>,
    /// Bodies whose deletion was attempted (acknowledged or not).
    delete_attempted: HashSet<String>,
    /// Failures before the load was stopped (after it, the server is killed).
    errors: Vec<String>,
}

/// Senders on both queues and deleters on `churn`, until stopped (or the server is gone).
struct Load {
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(client: &Client, kept: &str, churn: &str) -> Load {
        let ledger: Arc<Mutex<Ledger>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for sender in 0..2 {
            let (client, ledger, stop) = (client.clone(), ledger.clone(), stop.clone());
            let queues = [(KEPT, kept.to_owned()), (CHURN, churn.to_owned())];
            tasks.push(tokio::spawn(async move {
                send_loop(&client, sender, &queues, &ledger, &stop).await;
            }));
        }
        for _ in 0..2 {
            let (client, ledger, stop) = (client.clone(), ledger.clone(), stop.clone());
            let churn = churn.to_owned();
            tasks.push(tokio::spawn(async move {
                delete_loop(&client, &churn, &ledger, &stop).await;
            }));
        }
        Load {
            ledger,
            stop,
            tasks,
        }
    }

    /// Waits (polling, generous deadline) until `done` holds for the ledger.
    async fn wait_until(&self, what: &str, done: impl Fn(&Ledger) -> bool) {
        let deadline = Instant::now() + STAGE_TIMEOUT;
        loop {
            {
                let ledger = self.ledger.lock().unwrap();
                assert!(ledger.errors.is_empty(), "load failed: {:?}", ledger.errors);
                if done(&ledger) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the load did not reach `{what}` in {STAGE_TIMEOUT:?}: {} acknowledged, {} deleted",
                    ledger.acked.len(),
                    ledger.deleted.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Bodies acknowledged and deleted so far.
    fn snapshot(&self) -> (Vec<String>, Vec<String>) {
        let ledger = self.ledger.lock().unwrap();
        (ledger.acked.clone(), ledger.deleted.clone())
    }
}

fn failed(ledger: &Mutex<Ledger>, stop: &AtomicBool, what: String) {
    if !stop.load(Ordering::SeqCst) {
        ledger.lock().unwrap().errors.push(what);
    }
}

async fn send_loop(
    client: &Client,
    sender: usize,
    queues: &[(&str, String)],
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
) {
    let pad = "p".repeat(120);
    for batch in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (queue, url) = &queues[batch % queues.len()];
        let bodies: Vec<String> = (0..10)
            .map(|i| format!("{queue}-{sender}-{batch:06}-{i}-{pad}"))
            .collect();
        ledger
            .lock()
            .unwrap()
            .attempted
            .extend(bodies.iter().cloned());
        let mut request = client.send_message_batch().queue_url(url);
        for (i, body) in bodies.iter().enumerate() {
            request = request.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .unwrap(),
            );
        }
        match request.send().await {
            Ok(out) => {
                let mut ledger = ledger.lock().unwrap();
                if !out.failed().is_empty() {
                    ledger
                        .errors
                        .push(format!("send failed: {:?}", out.failed()));
                }
                for entry in out.successful() {
                    let i: usize = entry.id().parse().unwrap();
                    ledger.acked.push(bodies[i].clone());
                }
            }
            Err(e) => {
                return failed(ledger, stop, format!("send: {}", DisplayErrorContext(&e)));
            }
        }
    }
}

async fn delete_loop(client: &Client, url: &str, ledger: &Mutex<Ledger>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let received = match client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
        {
            Ok(out) => out.messages().to_vec(),
            Err(e) => {
                return failed(
                    ledger,
                    stop,
                    format!("receive: {}", DisplayErrorContext(&e)),
                );
            }
        };
        if received.is_empty() {
            continue;
        }
        ledger.lock().unwrap().delete_attempted.extend(
            received
                .iter()
                .map(|m| m.body().unwrap_or_default().to_owned()),
        );
        let mut request = client.delete_message_batch().queue_url(url);
        for (i, m) in received.iter().enumerate() {
            request = request.entries(
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle().unwrap())
                    .build()
                    .unwrap(),
            );
        }
        match request.send().await {
            Ok(out) => {
                let mut ledger = ledger.lock().unwrap();
                for entry in out.successful() {
                    let i: usize = entry.id().parse().unwrap();
                    ledger
                        .deleted
                        .push(received[i].body().unwrap_or_default().to_owned());
                }
            }
            Err(e) => {
                return failed(ledger, stop, format!("delete: {}", DisplayErrorContext(&e)));
            }
        }
    }
}

/// The bodies of every message of every queue, whatever its state, read with
/// `stowage export --all` (peek: changes nothing).
fn exported_bodies(server: &TestServer, cwd: &Path) -> Vec<String> {
    let export = stowage(
        &["export", "--all", "--endpoint", &server.endpoint()],
        &[],
        cwd,
    )
    .ok();
    export
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["type"] == "message")
        .map(|l| l["Body"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_then_kill9_and_restore_keeps_what_was_acknowledged_before() {
    if embedded_store_only("backup and restore copy the embedded store's data directory") {
        return;
    }
    // Small segments and eager compaction: sealed segments are copied, compacted and
    // reclaimed while the backup runs.
    let env = [
        ("STOWAGE_STORAGE_SEGMENT_SIZE_BYTES", "65536"),
        ("STOWAGE_STORAGE_COMPACTION_LIVE_RATIO", "0.9"),
        ("STOWAGE_ENGINE_SWEEP_INTERVAL_MS", "20"),
    ];
    let opts = ServerOptions {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ServerOptions::durable()
    };
    let mut server = TestServer::start(opts.clone());
    let client = server.client();
    let kept = create_queue_with(&client, KEPT, &[(A::VisibilityTimeout, "600")]).await;
    let churn =
        create_queue_with(&client, CHURN, &[(A::VisibilityTimeout, CHURN_VISIBILITY)]).await;
    let load = Load::start(&client, &kept, &churn);
    load.wait_until("1000 sends and 100 deletions acknowledged", |l| {
        l.acked.len() >= 1000 && l.deleted.len() >= 100
    })
    .await;

    // Everything acknowledged before the backup call starts.
    let (acked_before, deleted_before) = load.snapshot();
    let tmp = tempfile::tempdir().unwrap();
    let backup_dir = tmp.path().join("backup");
    let backup = {
        let (dir, endpoint, cwd) = (
            backup_dir.to_str().unwrap().to_owned(),
            server.endpoint(),
            tmp.path().to_owned(),
        );
        tokio::task::spawn_blocking(move || {
            stowage(&["backup", &dir, "--endpoint", &endpoint], &[], &cwd)
        })
        .await
        .unwrap()
        .ok()
    };
    // Sends started from now on cannot be in the backup (one acknowledged now may be: its
    // answer can arrive well after the server logged it).
    let (acked_at_return, started_at_return) = {
        let ledger = load.ledger.lock().unwrap();
        (ledger.acked.len(), ledger.attempted.len())
    };
    assert!(backup.stdout.starts_with("backup written to"), "{backup:?}");
    // Right after: a queue and some sends the backup cannot hold; then kill -9.
    create_queue(&client, "after-backup").await;
    load.wait_until("20 sends started after the backup acknowledged", |l| {
        let acked: HashSet<&String> = l.acked.iter().collect();
        l.attempted[started_at_return..]
            .iter()
            .filter(|b| acked.contains(b))
            .count()
            >= 20
    })
    .await;
    load.stop.store(true, Ordering::SeqCst);
    server.kill9();
    for task in load.tasks {
        task.await.unwrap();
    }
    let ledger = Arc::try_unwrap(load.ledger)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap();
    assert!(ledger.errors.is_empty(), "load failed: {:?}", ledger.errors);
    let started_after = &ledger.attempted[started_at_return..];
    eprintln!(
        "{} acknowledged and {} deleted before the backup, {} acknowledged while it ran, {} \
         started after it; {}",
        acked_before.len(),
        deleted_before.len(),
        acked_at_return - acked_before.len(),
        started_after.len(),
        backup.stdout.lines().next().unwrap_or_default()
    );

    // Restore into a fresh data directory and serve it.
    let restored = TestServer::start_prepared(opts, |data| {
        let run = stowage(
            &[
                "restore",
                backup_dir.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[],
            tmp.path(),
        )
        .ok();
        assert!(run.stdout.contains("restored"), "{run:?}");
    });
    let client = restored.client();
    // Present: acknowledged before the backup started and never deleted (a deletion
    // after that may have been before the backup's point, or not).
    let deleted: HashSet<&str> = deleted_before.iter().map(String::as_str).collect();
    let want: HashSet<&str> = acked_before
        .iter()
        .map(String::as_str)
        .filter(|b| !ledger.delete_attempted.contains(*b))
        .collect();
    assert!(want.iter().any(|b| b.starts_with(KEPT)));
    let mut seen: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + STAGE_TIMEOUT;
    for name in [KEPT, CHURN] {
        let url = restored.queue_url(name);
        let wanted: Vec<&&str> = want
            .iter()
            .filter(|b| b.starts_with(&format!("{name}-")))
            .collect();
        // Ten empty long polls in a row: what is not there by then (churn's in-flight
        // messages are visible again after 2 s) is missing.
        let mut empty_polls = 0;
        while !wanted.iter().all(|b| seen.contains(**b)) {
            let missing = wanted.iter().filter(|b| !seen.contains(***b)).count();
            assert!(
                Instant::now() < deadline && empty_polls < 10,
                "{missing} of the {} messages of {name} acknowledged before the backup (and never \
                 deleted) are not in the restored data",
                wanted.len()
            );
            let got = receive(&client, &url, 10, 1).await;
            empty_polls = if got.is_empty() { empty_polls + 1 } else { 0 };
            for m in got {
                seen.insert(m.body().unwrap().to_owned());
            }
        }
    }

    // Nothing deleted before the backup came back, nothing sent after it returned is there,
    // and nothing appeared that no client sent.
    let present = exported_bodies(&restored, tmp.path());
    let unique: HashSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), present.len(), "a message is there twice");
    let attempted: HashSet<&str> = ledger.attempted.iter().map(String::as_str).collect();
    for body in &present {
        assert!(
            !deleted.contains(body.as_str()),
            "deleted before the backup, back: {body}"
        );
        assert!(attempted.contains(body.as_str()), "never sent: {body}");
    }
    for body in started_after {
        assert!(
            !unique.contains(body.as_str()),
            "sent after the backup returned, in it: {body}"
        );
    }
    assert_no_queue(&client, "after-backup").await;
}

/// Asserts that GetQueueUrl answers QueueDoesNotExist for `name`.
async fn assert_no_queue(client: &Client, name: &str) {
    let gone = client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_queue_does_not_exist()),
        "{name}: {gone:?}"
    );
}

/// Copies a directory tree (files and directories).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// Flips the first byte of `needle` in the one segment file that contains it.
fn flip_byte_of(wal: &Path, needle: &[u8]) {
    for entry in std::fs::read_dir(wal).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(needle.len()).position(|w| w == needle) {
            bytes[at] ^= 0xff;
            std::fs::write(&path, bytes).unwrap();
            return;
        }
    }
    panic!("{needle:?} is in no file of {}", wal.display());
}

/// The entries of `dir` whose name starts with `prefix`.
fn siblings(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect()
}

#[tokio::test]
async fn restore_refuses_damage_and_a_running_server_and_keeps_the_data_it_replaces() {
    if embedded_store_only("restore fills a data directory of the embedded store") {
        return;
    }
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let url = create_queue(&client, "restored").await;
    for i in 0..5 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("restore-me-{i}"))
            .send()
            .await
            .unwrap();
    }
    assert!(server.terminate().success());
    let tmp = tempfile::tempdir().unwrap();
    let data = server.data_dir();
    let data_text = data.to_str().unwrap();
    let root = data.parent().unwrap();

    // Offline backup of the stopped server's data directory; never over another backup.
    let backup = tmp.path().join("backup");
    let backup_text = backup.to_str().unwrap();
    let run = stowage(
        &["backup", backup_text, "--data-dir", data_text],
        &[],
        tmp.path(),
    )
    .ok();
    assert!(run.stdout.contains("1 segment(s)"), "{run:?}");
    let again = stowage(
        &["backup", backup_text, "--data-dir", data_text],
        &[],
        tmp.path(),
    );
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(
        again.stderr.contains("already exists and is not empty"),
        "{again:?}"
    );

    // A damaged copy of the backup (a flipped byte in the first message, complete frames
    // after it) is refused, and nothing is created.
    let damaged = tmp.path().join("damaged");
    copy_dir(&backup, &damaged);
    flip_byte_of(&damaged.join("wal"), b"restore-me-0");
    let fresh = tmp.path().join("fresh");
    let refused = stowage(
        &[
            "restore",
            damaged.to_str().unwrap(),
            "--data-dir",
            fresh.to_str().unwrap(),
        ],
        &[],
        tmp.path(),
    );
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(refused.stdout.contains("DAMAGE"), "{refused:?}");
    assert!(refused.stderr.contains("is damaged"), "{refused:?}");
    assert!(siblings(tmp.path(), "fresh").is_empty());

    // While a server holds the data directory, restore refuses and moves nothing.
    server.restart();
    let client = server.client();
    create_queue(&client, "newer").await;
    let restore_args = ["restore", backup_text, "--data-dir", data_text];
    let refused = stowage(&restore_args, &[], tmp.path());
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused.stderr.contains("in use by a running broker"),
        "{refused:?}"
    );
    assert_eq!(siblings(root, "data"), std::slice::from_ref(&data));
    client
        .get_queue_url()
        .queue_name("newer")
        .send()
        .await
        .unwrap();

    // Stopped: the backup goes in place, the replaced directory is kept beside it.
    assert!(server.terminate().success());
    let run = stowage(&restore_args, &[], tmp.path()).ok();
    let aside = siblings(root, "data.before-restore-");
    assert_eq!(aside.len(), 1, "{run:?}");
    assert!(run.stdout.contains(aside[0].to_str().unwrap()), "{run:?}");
    assert_eq!(
        siblings(root, "data").len(),
        2,
        "a leftover next to {data_text}"
    );
    let kept = stowage(
        &["queues", "list", "--data-dir", aside[0].to_str().unwrap()],
        &[],
        tmp.path(),
    )
    .ok();
    assert!(kept.stdout.contains("/newer"), "{kept:?}");

    server.restart();
    let client = server.client();
    assert_no_queue(&client, "newer").await;
    let mut bodies: Vec<String> = crate::common::receive_n(
        &client,
        &server.queue_url("restored"),
        5,
        Duration::from_secs(30),
    )
    .await
    .iter()
    .map(|m| m.body().unwrap().to_owned())
    .collect();
    bodies.sort();
    assert_eq!(
        bodies,
        (0..5)
            .map(|i| format!("restore-me-{i}"))
            .collect::<Vec<_>>()
    );

    // No backup there: a usage error. A directory that is not a data directory is never
    // moved aside.
    let nope = tmp.path().join("nope");
    let missing = stowage(
        &[
            "restore",
            nope.to_str().unwrap(),
            "--data-dir",
            tmp.path().join("x").to_str().unwrap(),
        ],
        &[],
        tmp.path(),
    );
    assert_eq!(missing.code, Some(2), "{missing:?}");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.txt"), "mine").unwrap();
    let refused = stowage(
        &["restore", backup_text, "--data-dir", home.to_str().unwrap()],
        &[],
        tmp.path(),
    );
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused.stderr.contains("not a Stowage data directory"),
        "{refused:?}"
    );
    assert_eq!(siblings(tmp.path(), "home"), std::slice::from_ref(&home));
}
