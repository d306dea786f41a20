//! `stowage check` and `stowage --repair-wal` against real data directories
//! (written through the storage crate, then damaged on purpose), by spawning
//! the binary.

// Helpers of this test binary panic like the tests they serve.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use storage::{Append, QueueState, Record, RecordPos, Storage, StorageConfig, StoredMessage};

const BIN: &str = env!("CARGO_BIN_EXE_stowage");

/// Kills the child by PID if a test fails before stopping it.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn message(n: u64) -> Record {
    let mut message_id = [0u8; 16];
    message_id[..8].copy_from_slice(&n.to_be_bytes());
    Record::MessageSent(StoredMessage {
        queue_id: 1,
        message_id,
        body: format!("message {n} {}", "x".repeat(200)),
        attributes: BTreeMap::new(),
        trace_header: None,
        sender_id: "AIDTEST".into(),
        sent_ms: 1_767_225_600_000,
        visible_at_ms: 1_767_225_600_000,
        expires_at_ms: u64::MAX / 2,
        group_id: None,
        dedup_id: None,
        sequence_number: None,
        dead_letter_source_arn: None,
        receive_count: 0,
        first_receive_ms: 0,
        receipt_epoch: 0,
    })
}

/// A data directory with one queue and `n` acknowledged messages on
/// segments of `segment_size_bytes`; returns it and the messages' positions.
fn data_dir(n: u64, segment_size_bytes: u64) -> (tempfile::TempDir, Vec<RecordPos>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        segment_size_bytes,
        ..StorageConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    rt.block_on(s.append(Append {
        records: vec![Record::QueueUpserted(QueueState {
            queue_id: 1,
            account: "000000000000".into(),
            name: "checked".into(),
            attributes: BTreeMap::new(),
            tags: BTreeMap::new(),
            created_ms: 1_767_225_600_000,
            last_modified_ms: 1_767_225_600_000,
        })],
        release: vec![],
    }))
    .unwrap();
    let mut positions = Vec::new();
    for i in 0..n {
        positions.extend(
            rt.block_on(s.append(Append {
                records: vec![message(i)],
                release: vec![],
            }))
            .unwrap(),
        );
    }
    rt.block_on(s.close()).unwrap();
    (dir, positions)
}

fn segment(dir: &Path, id: u64) -> PathBuf {
    dir.join("wal").join(format!("{id:020}.wal"))
}

fn check(dir: &Path, repair: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("check").arg("--data-dir").arg(dir);
    if repair {
        cmd.arg("--repair");
    }
    let out: Output = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// Starts the server; returns the child and its `listening on` address, or
/// `Err(status, stderr)` if it exits first.
fn start(dir: &Path, extra: &[&str]) -> Result<(Guard, String), (Option<i32>, String)> {
    let log = dir.join("stderr.log");
    let child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--metrics-listen", ""])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(extra)
        .env("STOWAGE_METRICS_SERVE_ON_API_PORT", "true")
        .env_remove("STOWAGE_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    if let Some(addr) = line.trim().strip_prefix("listening on ") {
        return Ok((guard, addr.to_owned()));
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "neither listening nor exiting"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Err((
        status.code(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    ))
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn stop(mut guard: Guard) {
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    while guard.0.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A healthy directory checks clean; a running broker's is refused (exit 2).
#[test]
fn clean_directory_checks_ok_and_a_locked_one_is_refused() {
    let (dir, _) = data_dir(30, 4096);
    let (code, text) = check(dir.path(), false);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("31 record(s)") && text.contains("\nok"),
        "{text}"
    );
    let cfg = StorageConfig::default();
    let (held, _) = Storage::open(dir.path(), &cfg).unwrap();
    let (code, text) = check(dir.path(), false);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("locked"), "{text}");
    drop(held);
    let (code, text) = check(dir.path(), false);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = check(&dir.path().join("nothing-here"), false);
    assert_eq!(code, Some(2), "{text}");
}

/// Issue 10, defect 1 end to end: a flipped bit in the last segment that
/// acknowledged frames follow: `check` names file and offset (exit 1, no
/// repair), the server refuses to start (exit 1, named error), and starts
/// with `--repair-wal`, reporting exactly the discarded records in
/// `stowage_recovery_dropped_records`.
#[test]
fn corrupt_frame_is_named_refused_and_repaired_only_on_request() {
    let root = tempfile::tempdir().unwrap();
    let (dir, positions) = data_dir(40, 1 << 20);
    let data = root.path().join("data");
    std::fs::rename(dir.path(), &data).unwrap();
    let last = positions.last().unwrap().segment;
    let in_last: Vec<RecordPos> = positions
        .iter()
        .copied()
        .filter(|p| p.segment == last)
        .collect();
    assert!(in_last.len() >= 3);
    let victim = in_last[0];
    let path = segment(&data, last);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[victim.offset as usize + 30] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let name = format!("{last:020}.wal");

    let (code, text) = check(&data, false);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("DAMAGE: corruption in")
            && text.contains(&name)
            && text.contains(&format!("at offset {}", victim.offset)),
        "{text}"
    );
    let (code, text) = check(&data, true);
    assert_eq!(code, Some(1), "--repair does not cut damage: {text}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing changed");

    let (code, stderr) = start(root.path(), &[]).err().expect("must refuse to start");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("corrupt WAL segment")
            && stderr.contains(&name)
            && stderr.contains(&format!("offset {}", victim.offset))
            && stderr.contains("--repair-wal"),
        "{stderr}"
    );

    let (guard, addr) = start(root.path(), &["--repair-wal"]).expect("starts with --repair-wal");
    let metrics = get(&addr, "/metrics");
    let discarded = in_last.len() - 1;
    assert!(
        metrics.contains(&format!("stowage_recovery_dropped_records {discarded}")),
        "{metrics}"
    );
    stop(guard);
    let (code, text) = check(&data, false);
    assert_eq!(code, Some(0), "{text}");
}

/// Issue 10, defect 2 end to end: a deleted middle segment is named by
/// `check` and refuses the start.
#[test]
fn missing_segment_is_named_and_refused() {
    let root = tempfile::tempdir().unwrap();
    let (dir, positions) = data_dir(60, 4096);
    let data = root.path().join("data");
    std::fs::rename(dir.path(), &data).unwrap();
    let mut segs: Vec<u64> = positions.iter().map(|p| p.segment).collect();
    segs.dedup();
    let gone = segs[1];
    std::fs::remove_file(segment(&data, gone)).unwrap();
    let (code, text) = check(&data, false);
    assert_eq!(code, Some(1), "{text}");
    let range = format!("LSNs {gone}..={}", segs[2] - 1);
    assert!(
        text.contains("missing segment") && text.contains(&range),
        "{text}"
    );
    let (code, stderr) = start(root.path(), &[]).err().expect("must refuse to start");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("missing") && stderr.contains(&range),
        "{stderr}"
    );
}

/// A torn tail is a crash leftover: reported (exit 1), fixed by `--repair`.
#[test]
fn torn_tail_is_repaired_by_check_repair() {
    let (dir, positions) = data_dir(10, 4096);
    let last = *positions.last().unwrap();
    let path = segment(dir.path(), last.segment);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..(last.offset + last.len / 2) as usize]).unwrap();
    let (code, text) = check(dir.path(), false);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("crash leftover: torn tail"), "{text}");
    let (code, text) = check(dir.path(), true);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("repaired"), "{text}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        u64::from(last.offset)
    );
}
