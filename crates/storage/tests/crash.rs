//! kill -9 harness (invariants S2 and S4): the test binary re-executes itself
//! as a child (`STOWAGE_CRASH_CHILD=<data dir>`) that appends batches with
//! group commit (durability `always`, several concurrent appenders) and
//! prints every acknowledged batch to stdout. The parent SIGKILLs it at a
//! random moment (sometimes during recovery), reopens the directory and
//! checks that every acknowledged batch is present and that every batch on
//! disk is whole. `STOWAGE_CRASH_CYCLES` sets the number of cycles (default 20).

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
use storage::{Append, Durability, Record, Storage, StorageConfig, StoredMessage};

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

fn decode(record: &Record) -> Option<(BatchId, u8, u8)> {
    let Record::MessageSent(m) = record else {
        return None;
    };
    let id = &m.message_id;
    let cycle = u32::from_be_bytes(id[..4].try_into().ok()?);
    let appender = u16::from_be_bytes(id[4..6].try_into().ok()?);
    let seq = u32::from_be_bytes(id[6..10].try_into().ok()?);
    Some(((cycle, appender, seq), id[10], id[11]))
}

fn child(dir: &Path, cycle: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (storage, _) = Storage::open(dir, &config()).unwrap();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    {
        let mut out = out.lock().unwrap();
        writeln!(out, "READY").unwrap();
        out.flush().unwrap();
    }
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for appender in 0..APPENDERS {
            let storage = storage.clone();
            let out = out.clone();
            tasks.push(tokio::spawn(async move {
                for seq in 0u32.. {
                    let (size, body) = {
                        let mut rng = rand::thread_rng();
                        (rng.gen_range(1..=4u8), rng.gen_range(10..3000usize))
                    };
                    let id = (cycle, appender, seq);
                    let records = (0..size).map(|i| message(id, i, size, body)).collect();
                    storage
                        .append(Append {
                            records,
                            release: vec![],
                        })
                        .await
                        .unwrap();
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ACK {cycle} {appender} {seq} {size}").unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// Reopens `dir` and checks the acknowledged set; returns the batches on disk.
fn verify(dir: &Path, acked: &BTreeMap<BatchId, u8>) -> usize {
    let (storage, recovered) = Storage::open(dir, &config()).unwrap();
    let mut on_disk: BTreeMap<BatchId, BTreeSet<u8>> = BTreeMap::new();
    let mut sizes: BTreeMap<BatchId, u8> = BTreeMap::new();
    storage
        .replay(&mut |pos, record| {
            let (id, index, size) =
                decode(&record).unwrap_or_else(|| panic!("foreign record at {pos:?}"));
            assert!(
                on_disk.entry(id).or_default().insert(index),
                "duplicate record {id:?}/{index}"
            );
            sizes.insert(id, size);
            Ok(())
        })
        .unwrap();
    for (id, indexes) in &on_disk {
        let size = sizes[id];
        assert_eq!(
            indexes.len(),
            usize::from(size),
            "batch {id:?} is not whole on disk: {indexes:?} of {size}"
        );
    }
    for (id, size) in acked {
        assert_eq!(
            sizes.get(id),
            Some(size),
            "acknowledged batch {id:?} lost (recovered: {recovered:?})"
        );
    }
    on_disk.len()
}

fn parent() {
    let cycles: u32 = std::env::var("STOWAGE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeMap<BatchId, u8> = BTreeMap::new();
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
            if let ["ACK", c, a, s, n] = parts.as_slice() {
                let id = (c.parse().unwrap(), a.parse().unwrap(), s.parse().unwrap());
                acked.insert(id, n.parse().unwrap());
                this_cycle += 1;
            }
        }
        let batches = verify(dir.path(), &acked);
        let when = if during_recovery {
            "during open"
        } else {
            "under load"
        };
        println!(
            "cycle {cycle}: killed {when} after {delay} ms, {this_cycle} batches acknowledged, {batches} on disk, {} acknowledged in total",
            acked.len()
        );
    }
    assert!(!acked.is_empty(), "no append was ever acknowledged");
    println!(
        "crash: {cycles} kill -9 cycles, every acknowledged batch survived, every batch whole"
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
