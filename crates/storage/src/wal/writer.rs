//! The group-commit writer: one std thread owns the active segment. It takes
//! everything submitted since its last round, writes it with one `write_all`
//! per segment, calls `fdatasync` once (durability `always`), applies the
//! records to the index and the releases to liveness, and only then
//! publishes the new acknowledged LSN and hands each append of the group its
//! own result (no other waiter is woken). Submitters notify it only when it
//! is blocked waiting for work.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use crate::wal::segment::Segment;
use crate::wal::{Chunk, Done, PendingBatch, Wal, WalState};
use crate::{Durability, RecordPos, StorageError};

/// Poison reason when the writer thread panics.
pub(crate) const WRITER_PANICKED: &str = "WAL writer thread panicked";

/// Histogram: fsync latency, seconds (name shared with the server's exporter).
const FSYNC_SECONDS: &str = "stowage_wal_fsync_seconds";
/// Histogram: records per group commit.
const GROUP_COMMIT_RECORDS: &str = "stowage_wal_group_commit_records";

/// Upper bound of the group-commit linger.
const MAX_LINGER: Duration = Duration::from_micros(500);

/// Runs the writer until shutdown. `current` is the active segment at open.
pub(crate) fn run(wal: Arc<Wal>, mut current: Arc<Segment>) {
    let interval = Duration::from_millis(wal.config.fsync_interval_ms.max(1));
    let durability = wal.config.durability;
    let mut last_sync = Instant::now();
    let mut dirty = false;
    let mut index_broken = false;
    let mut deferred: Deferred = Vec::new();
    let mut prev_batches = 0usize;
    let mut last_fsync = Duration::ZERO;
    loop {
        let (chunks, batches, shutdown, sync_requested) = {
            let mut st = wal.lock_state();
            loop {
                if !st.chunks.is_empty() || st.shutdown || st.sync_requested {
                    break;
                }
                if dirty && (durability == Durability::Interval || !deferred.is_empty()) {
                    let elapsed = last_sync.elapsed();
                    if elapsed >= interval {
                        break;
                    }
                    st = wait(&wal, st, Some(interval - elapsed));
                } else {
                    st = wait(&wal, st, None);
                }
            }
            // Linger: the appenders woken by the last acknowledgement are
            // about to submit again. Waiting a fraction of an fsync for them
            // turns two alternating half-size groups into one full group,
            // which raises throughput and lowers latency. Only with
            // concurrent appenders (the last group had several batches).
            if durability == Durability::Always && prev_batches > 1 && !st.shutdown {
                let deadline = Instant::now() + linger(last_fsync);
                while st.batches.len() < prev_batches && !st.shutdown {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    st = wait(&wal, st, Some(deadline - now));
                }
            }
            let sync_requested = std::mem::take(&mut st.sync_requested);
            // The previous round's chunks are written: readers find them
            // in the files now. This round's stay readable from memory.
            let chunks: Vec<Arc<Chunk>> = std::mem::take(&mut st.chunks)
                .into_iter()
                .map(Arc::new)
                .collect();
            st.writing = chunks.clone();
            (
                chunks,
                std::mem::take(&mut st.batches),
                st.shutdown,
                sync_requested,
            )
        };
        let poisoned = wal.progress.borrow().poisoned.clone();
        if let Some(reason) = poisoned {
            fail(batches, &reason);
            if shutdown {
                break;
            }
            continue;
        }
        let result = write_group(&wal, &mut current, chunks, &mut dirty).and_then(|()| {
            let due = match durability {
                Durability::Always => true,
                Durability::Interval => last_sync.elapsed() >= interval,
                // `never` still syncs (at the interval) when releases wait
                // on it, so space can be reclaimed.
                Durability::Never => !deferred.is_empty() && last_sync.elapsed() >= interval,
            };
            if dirty && (due || sync_requested || shutdown) {
                last_fsync = sync_segment(&wal, &current)?;
                dirty = false;
                last_sync = Instant::now();
            }
            Ok(())
        });
        if let Err(e) = result {
            let reason = poison(&wal, &e);
            fail(batches, &reason);
            if shutdown {
                break;
            }
            continue;
        }
        let mut batches = batches;
        let acks: Vec<Done> = batches.iter_mut().filter_map(|b| b.done.take()).collect();
        prev_batches = batches.len();
        let acked_next = batches.last().map(|b| b.last_lsn + 1);
        let group_records: usize = batches.iter().map(|b| b.positions.len()).sum();
        if group_records > 0 {
            metrics::histogram!(GROUP_COMMIT_RECORDS).record(group_records as f64);
        }
        if index_broken {
            batches
                .into_iter()
                .filter(|b| !b.release.is_empty())
                .for_each(|b| {
                    if let Some(first) = b.positions.first() {
                        deferred.push((b.release, *first));
                    }
                });
        } else if let Err(e) = apply(&wal, batches, &mut deferred) {
            // The log is fine; the index is derived. Its stamp stops moving,
            // so the next open sees it lag and rebuilds it.
            index_broken = true;
            tracing::error!(error = %e, "index update failed; it will be rebuilt at the next open");
        }
        // Releases become visible together with the acknowledgement.
        let released_any = !dirty && apply_releases(&wal, &mut deferred);
        wal.progress.send_modify(|p| {
            if let Some(next) = acked_next {
                p.acked_next = next;
            }
            if !dirty {
                p.synced_next = p.acked_next;
            }
        });
        for ack in acks {
            // A waiter that gave up (dropped its ticket) is no error.
            let _ = ack.send(Ok(()));
        }
        // After publishing: deleting segments (and the directory fsync)
        // stays off the acknowledgement path.
        if released_any {
            if let Err(e) = wal.collect_garbage() {
                tracing::warn!(error = %e, "segment garbage collection failed");
            }
        }
        if shutdown && wal.lock_state().chunks.is_empty() {
            break;
        }
    }
    if let Err(e) = wal.index.flush() {
        tracing::error!(error = %e, "index flush at close failed; it will be rebuilt at the next open");
    }
    wal.progress.send_modify(|p| p.closed = true);
}

/// `fdatasync` of a segment, counted and timed.
fn sync_segment(wal: &Wal, seg: &Segment) -> Result<Duration, StorageError> {
    let start = Instant::now();
    seg.file.sync_data().map_err(|e| seg.io_err(e))?;
    let took = start.elapsed();
    metrics::histogram!(FSYNC_SECONDS).record(took.as_secs_f64());
    wal.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
    Ok(took)
}

/// How long to wait for returning appenders: a quarter of the last fsync,
/// at most `MAX_LINGER`.
fn linger(last_fsync: Duration) -> Duration {
    (last_fsync / 4).min(MAX_LINGER)
}

/// Blocks on the writer's condition variable (with a timeout, if given),
/// telling submitters to notify it meanwhile.
fn wait<'a>(
    wal: &'a Wal,
    mut st: MutexGuard<'a, WalState>,
    timeout: Option<Duration>,
) -> MutexGuard<'a, WalState> {
    st.writer_waiting = true;
    let mut st = match timeout {
        Some(t) => wal
            .wake
            .wait_timeout(st, t)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0),
        None => wal.wake.wait(st).unwrap_or_else(|p| p.into_inner()),
    };
    st.writer_waiting = false;
    st
}

/// Poisons the log for `e`; returns the reason.
pub(crate) fn poison(wal: &Wal, e: &StorageError) -> String {
    let reason = e.to_string();
    tracing::error!(error = %reason, "write-ahead log poisoned: refusing every further append");
    wal.lock_state().poisoned = Some(reason.clone());
    wal.progress
        .send_modify(|p| p.poisoned = Some(reason.clone()));
    reason
}

/// Tells every append of `batches` that the log is poisoned.
pub(crate) fn fail(batches: Vec<PendingBatch>, reason: &str) {
    for done in batches.into_iter().filter_map(|b| b.done) {
        let _ = done.send(Err(StorageError::Poisoned(reason.to_string())));
    }
}

fn write_group(
    wal: &Wal,
    current: &mut Arc<Segment>,
    chunks: Vec<Arc<Chunk>>,
    dirty: &mut bool,
) -> Result<(), StorageError> {
    for chunk in chunks {
        if chunk.create {
            // Seal the old segment: it must be complete on disk before any
            // record lands in a newer one (whatever the durability mode).
            if *dirty {
                sync_segment(wal, current)?;
                *dirty = false;
            }
            let seg = Arc::new(Segment::create(wal.fs.as_ref(), &wal.dir, chunk.segment)?);
            wal.manifest_add(seg.id)?;
            wal.counters.fsyncs.fetch_add(4, Ordering::Relaxed);
            wal.segments
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(seg.id, seg.clone());
            wal.writer_segment.store(seg.id, Ordering::Release);
            *current = seg;
        }
        if chunk.bytes.is_empty() {
            continue;
        }
        current
            .file
            .append(&chunk.bytes)
            .map_err(|e| current.io_err(e))?;
        current.add_len(chunk.bytes.len() as u64);
        wal.counters
            .appended_bytes
            .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
        *dirty = true;
    }
    Ok(())
}

/// Releases waiting for the sync that makes their releasing append durable:
/// (released positions, position of the releasing append's first record).
type Deferred = Vec<(Vec<RecordPos>, RecordPos)>;

/// Applies written batches to the index and queues their releases.
fn apply(
    wal: &Wal,
    batches: Vec<PendingBatch>,
    deferred: &mut Deferred,
) -> Result<(), StorageError> {
    let mut last = None;
    let mut index_result = Ok(());
    for b in batches {
        if index_result.is_ok() {
            index_result = b.records.iter().try_for_each(|r| wal.index.apply(r));
        }
        last = Some((b.last_lsn, b.last_crc));
        if let (false, Some(first)) = (b.release.is_empty(), b.positions.first()) {
            deferred.push((b.release, *first));
        }
    }
    index_result?;
    if let Some((lsn, crc)) = last {
        wal.index.set_stamp(lsn, crc)?;
    }
    Ok(())
}

/// Marks released records dead once their releasing append is synced (in
/// every durability mode: a reclaimed segment must never depend on an
/// unsynced record). Returns true if anything died (garbage to collect).
fn apply_releases(wal: &Wal, deferred: &mut Deferred) -> bool {
    let mut released_any = false;
    if deferred.is_empty() {
        return released_any;
    }
    let mut live = wal.lock_liveness();
    for (release, by) in deferred.drain(..) {
        for pos in release {
            released_any |= live.release(pos, Some(by));
        }
    }
    released_any
}
