//! Model test (proptest): random append / delete (tombstone + release) /
//! compact / collect garbage / sync / restart / crash-with-unsynced-bytes-
//! dropped against a plain in-memory model (invariants S1–S4, S6, S7).
//!
//! The model is the list of submitted batches in log order. After a crash
//! the surviving log must be a prefix of it (whole batches only) that holds
//! at least everything acknowledged (`always`) or synced (`never`); the
//! expected state is the fold of that prefix. A small test-side "engine"
//! replays the log the way the real engine must: latest copy wins, and every
//! superseded or deleted record is released with the record that ended it.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use crate::io::FaultyFs;
use crate::tests::support::{message, rt};
use crate::{Append, Durability, Record, RecordPos, Storage, StorageConfig, Ticket};

type Key = u64;

#[derive(Debug, Clone)]
enum Op {
    /// Send `count` messages with bodies of `body` bytes.
    Append { count: usize, body: usize },
    /// Delete the live message picked by `pick` (tombstone releasing it).
    Delete { pick: usize },
    /// Relocate the live records of every compaction candidate.
    Compact,
    /// Delete segments with nothing live.
    Gc,
    /// `sync()`.
    Sync,
    /// Clean close and reopen.
    Restart,
    /// Submit `pending` appends without waiting, then lose everything unsynced.
    Crash { pending: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1..4usize, 0..1500usize).prop_map(|(count, body)| Op::Append { count, body }),
        5 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        1 => Just(Op::Compact),
        1 => Just(Op::Gc),
        1 => Just(Op::Sync),
        1 => Just(Op::Restart),
        1 => (0..3usize).prop_map(|pending| Op::Crash { pending }),
    ]
}

/// One submitted batch: (key, Some(record) = sent at pos / None = deleted).
struct Batch {
    first_lsn: u64,
    last_lsn: u64,
    effects: Vec<(Key, Option<(RecordPos, Record)>)>,
}

struct Harness {
    dir: tempfile::TempDir,
    cfg: StorageConfig,
    rt: tokio::runtime::Runtime,
    fs: FaultyFs,
    storage: Option<Storage>,
    log: Vec<Batch>,
    /// Everything below this LSN must survive a crash.
    safe_next: u64,
    next_key: Key,
}

fn key_of(r: &Record) -> Key {
    let id = match r {
        Record::MessageSent(m) => m.message_id,
        Record::MessageDeleted { message_id, .. } => *message_id,
        _ => unreachable!("the model only writes sends and deletes"),
    };
    u64::from_be_bytes(id[..8].try_into().unwrap())
}

impl Harness {
    fn new(durability: Durability) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StorageConfig {
            durability,
            segment_size_bytes: 4096,
            compaction_live_ratio: 0.5,
            ..StorageConfig::default()
        };
        let fs = FaultyFs::new();
        let (s, rec) = Storage::open_with_fs(dir.path(), &cfg, Arc::new(fs.clone())).unwrap();
        Harness {
            dir,
            cfg,
            rt: rt(),
            fs,
            storage: Some(s),
            log: Vec::new(),
            safe_next: rec.next_lsn,
            next_key: 0,
        }
    }

    fn s(&self) -> &Storage {
        self.storage.as_ref().unwrap()
    }

    /// Expected live state: fold of the log.
    fn expected(&self) -> BTreeMap<Key, (RecordPos, Record)> {
        let mut live = BTreeMap::new();
        for b in &self.log {
            for (k, e) in &b.effects {
                match e {
                    Some(v) => {
                        live.insert(*k, v.clone());
                    }
                    None => {
                        live.remove(k);
                    }
                }
            }
        }
        live
    }

    fn submit(&mut self, records: Vec<Record>, release: Vec<RecordPos>) -> Ticket {
        let t = self
            .s()
            .submit(Append {
                records: records.clone(),
                release,
            })
            .unwrap();
        let effects = records
            .into_iter()
            .zip(&t.positions)
            .map(|(r, p)| match r {
                Record::MessageDeleted { .. } => (key_of(&r), None),
                _ => (key_of(&r), Some((*p, r))),
            })
            .collect();
        let first_lsn = t.last_lsn + 1 - t.positions.len() as u64;
        self.log.push(Batch {
            first_lsn,
            last_lsn: t.last_lsn,
            effects,
        });
        t
    }

    fn append(&mut self, records: Vec<Record>, release: Vec<RecordPos>) {
        let t = self.submit(records, release);
        let last = t.last_lsn;
        self.rt.block_on(t.wait()).unwrap();
        if self.cfg.durability == Durability::Always {
            self.safe_next = last + 1;
        }
    }

    fn new_messages(&mut self, count: usize, body: usize) -> Vec<Record> {
        (0..count)
            .map(|_| {
                self.next_key += 1;
                Record::MessageSent(message(1, self.next_key, body))
            })
            .collect()
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Append { count, body } => {
                let recs = self.new_messages(count, body);
                self.append(recs, vec![]);
            }
            Op::Delete { pick } => {
                let live = self.expected();
                if live.is_empty() {
                    return;
                }
                let (&k, (pos, r)) = live.iter().nth(pick % live.len()).unwrap();
                let Record::MessageSent(m) = r else {
                    unreachable!()
                };
                let tomb = Record::MessageDeleted {
                    queue_id: 1,
                    message_id: m.message_id,
                };
                assert_eq!(key_of(&tomb), k);
                self.append(vec![tomb], vec![*pos]);
            }
            Op::Compact => {
                for seg in self.s().compaction_candidates() {
                    for pos in self.s().live_records(seg) {
                        let r = self.s().read(pos).unwrap();
                        self.append(vec![r], vec![pos]);
                    }
                }
                self.s().collect_garbage().unwrap();
            }
            Op::Gc => {
                self.s().collect_garbage().unwrap();
            }
            Op::Sync => {
                let next = self.log.last().map_or(self.safe_next, |b| b.last_lsn + 1);
                self.rt.block_on(self.s().sync()).unwrap();
                self.safe_next = next;
            }
            Op::Restart => {
                let s = self.storage.take().unwrap();
                self.rt.block_on(s.close()).unwrap();
                drop(s);
                self.safe_next = self.log.last().map_or(self.safe_next, |b| b.last_lsn + 1);
                self.reopen();
            }
            Op::Crash { pending } => {
                for _ in 0..pending {
                    let recs = self.new_messages(2, 100);
                    drop(self.submit(recs, vec![]));
                }
                self.fs.crash().unwrap();
                drop(self.storage.take());
                self.reopen();
            }
        }
    }

    /// Reopens, cuts the model log to what survived, replays like the engine.
    fn reopen(&mut self) {
        self.fs = FaultyFs::new();
        let (s, rec) =
            Storage::open_with_fs(self.dir.path(), &self.cfg, Arc::new(self.fs.clone())).unwrap();
        assert!(
            rec.next_lsn >= self.safe_next,
            "lost synced/acknowledged records: {rec:?}, safe up to {}",
            self.safe_next
        );
        for b in &self.log {
            assert!(
                b.last_lsn < rec.next_lsn || b.first_lsn >= rec.next_lsn,
                "batch {}..={} torn: {rec:?}",
                b.first_lsn,
                b.last_lsn
            );
        }
        self.log.retain(|b| b.last_lsn < rec.next_lsn);
        self.safe_next = rec.next_lsn;
        // The engine's replay.
        let mut live: BTreeMap<Key, RecordPos> = BTreeMap::new();
        let mut releases = Vec::new();
        s.replay(&mut |pos, r| {
            let k = key_of(&r);
            match r {
                Record::MessageSent(_) => {
                    if let Some(old) = live.insert(k, pos) {
                        releases.push((old, pos));
                    }
                }
                _ => {
                    if let Some(old) = live.remove(&k) {
                        releases.push((old, pos));
                    }
                }
            }
            Ok(())
        })
        .unwrap();
        for (old, by) in releases {
            s.release(old, Some(by));
        }
        let expected: BTreeMap<Key, RecordPos> = self
            .expected()
            .into_iter()
            .map(|(k, (p, _))| (k, p))
            .collect();
        assert_eq!(
            live, expected,
            "replayed state differs from the model (resurrected or lost records)"
        );
        self.storage = Some(s);
    }

    fn check(&self) {
        let expected = self.expected();
        for (p, r) in expected.values() {
            assert_eq!(&self.s().read(*p).unwrap(), r);
        }
        let mut want: Vec<RecordPos> = expected.values().map(|(p, _)| *p).collect();
        want.sort();
        let stats = self.s().stats();
        let live: u64 = want.iter().map(|p| u64::from(p.len)).sum();
        if self.cfg.durability == Durability::Always {
            assert_eq!(
                stats.live_bytes, live,
                "liveness counts exactly the model's live records"
            );
        } else {
            // Releases wait for the sync that makes their releasing append durable.
            assert!(stats.live_bytes >= live, "{} < {live}", stats.live_bytes);
        }
    }
}

fn run(durability: Durability, ops: &[Op]) {
    let mut h = Harness::new(durability);
    for op in ops {
        h.apply(op);
        h.check();
    }
    // Finally: a clean restart must give the same state again.
    h.apply(&Op::Restart);
    h.check();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// S1–S4, S6, S7 against the model, durability `always`.
    #[test]
    fn model_always(ops in proptest::collection::vec(op(), 1..60)) {
        run(Durability::Always, &ops);
    }

    /// The same with durability `never` (a crash may lose unsynced acks, never a synced one).
    #[test]
    fn model_never(ops in proptest::collection::vec(op(), 1..60)) {
        run(Durability::Never, &ops);
    }
}
