//! kill -9 harness (invariants S2, S4, S6): the test binary re-executes
//! itself as a child (`STOWAGE_CRASH_CHILD=<data dir>`) that replays the log
//! like the engine (releasing what later records ended), then appends
//! batches with group commit (durability `always`, several concurrent
//! appenders) and deletes some of its acknowledged batches (tombstones
//! releasing them, so segments get reclaimed), printing every acknowledged
//! append and deletion to stdout. The parent SIGKILLs it at a random moment
//! (sometimes during recovery), reopens the directory and checks that every
//! acknowledged batch is present unless deleted, every batch is whole, and no
//! acknowledged deletion was undone. `STOWAGE_CRASH_CYCLES` sets the number
//! of cycles (default 20).

// A test binary with `harness = false`: clippy cannot see `#[test]`, so the
// test-only allowances of clippy.toml are granted here explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use storage::{Append, Durability, Record, RecordPos, Storage, StorageConfig, StoredMessage};

const CHILD_ENV: &str = "STOWAGE_CRASH_CHILD";
const CYCLE_ENV: &str = "STOWAGE_CRASH_CYCLE";
const APPENDERS: u16 = 8;

fn config() -> StorageConfig {
    StorageConfig {
        durability: Durability::Always,
        segment_size_bytes: 256 * 1024,
        ..StorageConfig::default()
    }
}

/// Batch identity: (cycle, appender, sequence).
type BatchId = (u32, u16, u32);

fn message(id: BatchId, index: u8, size: u8, body_len: usize) -> Record {
    let mut message_id = [0u8; 16];
    message_id[..4].copy_from_slice(&id.0.to_be_bytes());
    message_id[4..6].copy_from_slice(&id.1.to_be_bytes());
    message_id[6..10].copy_from_slice(&id.2.to_be_bytes());
    message_id[10] = index;
    message_id[11] = size;
    Record::MessageSent(StoredMessage {
        queue_id: u64::from(id.0),
        message_id,
        body: "b".repeat(body_len),
        attributes: BTreeMap::new(),
        trace_header: None,
        sender_id: "crash".into(),
        sent_ms: 0,
        visible_at_ms: 0,
        expires_at_ms: u64::MAX,
        group_id: None,
        dedup_id: None,
        sequence_number: None,
        dead_letter_source_arn: None,
        receive_count: 0,
        first_receive_ms: 0,
        receipt_epoch: 0,
    })
}

/// What the engine does at start: replay, keep the latest state, and release
/// every record a later one ended, naming that record (re-establishes pins).
/// Returns the live message records per batch: (batch size, indexes).
fn replay_like_engine(storage: &Storage, release: bool) -> BTreeMap<BatchId, (u8, BTreeSet<u8>)> {
    let mut live: BTreeMap<[u8; 16], RecordPos> = BTreeMap::new();
    let mut ended = Vec::new();
    storage
        .replay(&mut |pos, record| {
            match &record {
                Record::MessageSent(m) => {
                    assert!(
                        live.insert(m.message_id, pos).is_none(),
                        "duplicate record at {pos:?}"
                    );
                }
                Record::MessageDeleted { message_id, .. } => {
                    if let Some(old) = live.remove(message_id) {
                        ended.push((old, pos));
                    }
                }
                other => panic!("foreign record {other:?} at {pos:?}"),
            }
            Ok(())
        })
        .unwrap();
    if release {
        for (old, by) in ended {
            storage.release(old, Some(by));
        }
    }
    let mut out: BTreeMap<BatchId, (u8, BTreeSet<u8>)> = BTreeMap::new();
    for id in live.keys() {
        let cycle = u32::from_be_bytes(id[..4].try_into().unwrap());
        let appender = u16::from_be_bytes(id[4..6].try_into().unwrap());
        let seq = u32::from_be_bytes(id[6..10].try_into().unwrap());
        let entry = out
            .entry((cycle, appender, seq))
            .or_insert_with(|| (id[11], BTreeSet::new()));
        entry.1.insert(id[10]);
    }
    out
}

fn say(out: &Mutex<std::io::Stdout>, line: &str) {
    let mut out = out.lock().unwrap();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn child(dir: &Path, cycle: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (storage, _) = Storage::open(dir, &config()).unwrap();
    replay_like_engine(&storage, true);
    storage.collect_garbage().unwrap();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    say(&out, "READY");
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for appender in 0..APPENDERS {
            let storage = storage.clone();
            let out = out.clone();
            tasks.push(tokio::spawn(async move {
                // Acknowledged batches of this appender: (seq, records, positions).
                let mut mine: Vec<(u32, Vec<Record>, Vec<RecordPos>)> = Vec::new();
                for seq in 0u32.. {
                    let (size, body, delete) = {
                        let mut rng = rand::thread_rng();
                        let delete = (!mine.is_empty() && rng.gen_bool(0.4))
                            .then(|| rng.gen_range(0..mine.len()));
                        (rng.gen_range(1..=4u8), rng.gen_range(10..3000usize), delete)
                    };
                    let id = (cycle, appender, seq);
                    let records: Vec<Record> =
                        (0..size).map(|i| message(id, i, size, body)).collect();
                    let positions = storage
                        .append(Append {
                            records: records.clone(),
                            release: vec![],
                        })
                        .await
                        .unwrap();
                    say(&out, &format!("ACK {cycle} {appender} {seq} {size}"));
                    mine.push((seq, records, positions));
                    if let Some(k) = delete {
                        // Delete a whole earlier batch: tombstones releasing its records.
                        let (dseq, drecords, dpositions) = mine.swap_remove(k);
                        let tombs = drecords
                            .iter()
                            .map(|r| match r {
                                Record::MessageSent(m) => Record::MessageDeleted {
                                    queue_id: m.queue_id,
                                    message_id: m.message_id,
                                },
                                other => other.clone(),
                            })
                            .collect();
                        say(&out, &format!("DELETING {cycle} {appender} {dseq}"));
                        storage
                            .append(Append {
                                records: tombs,
                                release: dpositions,
                            })
                            .await
                            .unwrap();
                        say(&out, &format!("DEL {cycle} {appender} {dseq}"));
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// Reopens `dir` and checks: every batch is whole (all live or none),
/// every acknowledged batch is live unless its deletion may have happened,
/// and no acknowledged deletion came back. Returns (live batches, segments).
fn verify(
    dir: &Path,
    acked: &BTreeMap<BatchId, u8>,
    deleted: &BTreeSet<BatchId>,
    deleting: &BTreeSet<BatchId>,
) -> (usize, usize) {
    let (storage, recovered) = Storage::open(dir, &config()).unwrap();
    let live = replay_like_engine(&storage, false);
    for (id, (size, indexes)) in &live {
        assert_eq!(
            indexes.len(),
            usize::from(*size),
            "batch {id:?} is not whole: {indexes:?} of {size}"
        );
        if let Some(acked_size) = acked.get(id) {
            assert_eq!(acked_size, size);
        }
        assert!(
            !deleted.contains(id),
            "batch {id:?} was deleted (acknowledged) but came back"
        );
    }
    for (id, size) in acked {
        if deleted.contains(id) {
            continue;
        }
        // A deletion submitted but not acknowledged may or may not have landed.
        if let Some((_, indexes)) = live.get(id) {
            assert_eq!(indexes.len(), usize::from(*size));
        } else {
            assert!(
                deleting.contains(id),
                "acknowledged batch {id:?} lost (recovered: {recovered:?})"
            );
        }
    }
    (live.len(), recovered.segments)
}

fn parent() {
    let cycles: u32 = std::env::var("STOWAGE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeMap<BatchId, u8> = BTreeMap::new();
    let mut deleted: BTreeSet<BatchId> = BTreeSet::new();
    let mut deleting: BTreeSet<BatchId> = BTreeSet::new();
    let mut rng = rand::thread_rng();
    for cycle in 0..cycles {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .env(CYCLE_ENV, cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // One cycle in five is killed during open/recovery; the others
        // after the child is ready, mid-load.
        let during_recovery = rng.gen_bool(0.2);
        let delay = if during_recovery {
            rng.gen_range(0..30)
        } else {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line == "READY" => {}
                other => panic!("child did not get ready: {other:?}"),
            }
            rng.gen_range(20..250)
        };
        std::thread::sleep(Duration::from_millis(delay));
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).unwrap();
            }
            panic!("child exited on its own with {status}: {err}");
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "{status}"
        );
        reader.join().unwrap();
        let mut this_cycle = 0;
        for line in rx.try_iter() {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ACK", c, a, s, n] => {
                    let id = (c.parse().unwrap(), a.parse().unwrap(), s.parse().unwrap());
                    acked.insert(id, n.parse().unwrap());
                    this_cycle += 1;
                }
                ["DELETING", c, a, s] => {
                    deleting.insert((c.parse().unwrap(), a.parse().unwrap(), s.parse().unwrap()));
                }
                ["DEL", c, a, s] => {
                    deleted.insert((c.parse().unwrap(), a.parse().unwrap(), s.parse().unwrap()));
                }
                _ => {}
            }
        }
        let (batches, segments) = verify(dir.path(), &acked, &deleted, &deleting);
        let when = if during_recovery {
            "during open"
        } else {
            "under load"
        };
        println!(
            "cycle {cycle}: killed {when} after {delay} ms, {this_cycle} batches acknowledged, {batches} live, {} deleted, {segments} segments",
            deleted.len()
        );
    }
    assert!(!acked.is_empty(), "no append was ever acknowledged");
    println!(
        "crash: {cycles} kill -9 cycles, every acknowledged batch survived, every batch whole, no deletion undone"
    );
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let cycle = std::env::var(CYCLE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        child(Path::new(&dir), cycle);
        return;
    }
    // `cargo test -- --list` and filters: run only when not filtered out.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("crash: test");
        return;
    }
    if let Some(filter) = args.iter().find(|a| !a.starts_with('-')) {
        if !"crash".contains(filter.as_str()) {
            return;
        }
    }
    parent();
}
