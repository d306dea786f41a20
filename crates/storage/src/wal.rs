//! The write-ahead log: the segment list, the submit path (encode, assign
//! LSNs and positions, rotate) and the state shared with the group-commit
//! writer thread.

pub(crate) mod format;
pub(crate) mod manifest;
pub(crate) mod recovery;
pub(crate) mod segment;
pub(crate) mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use tokio::sync::{oneshot, watch};

use crate::index::Index;
use crate::io::FileSystem;
use crate::liveness::Liveness;
use crate::record::Record;
use crate::{Append, Durability, Lsn, RecordPos, StorageConfig, StorageError};
use format::{FLAG_BATCH_CONTINUES, FLAG_SYNCED_BEFORE, HEADER_LEN};
use segment::Segment;

/// Bytes handed to the writer for one segment.
pub(crate) struct Chunk {
    pub(crate) segment: u64,
    /// Offset in the segment of `bytes[0]`.
    pub(crate) start: u64,
    /// The writer must create this segment first (rotation).
    pub(crate) create: bool,
    pub(crate) bytes: Vec<u8>,
}

impl Chunk {
    /// The frame at `pos`, if this chunk holds all of it.
    fn frame(&self, pos: RecordPos) -> Option<&[u8]> {
        if self.segment != pos.segment {
            return None;
        }
        let from = u64::from(pos.offset).checked_sub(self.start)?;
        let from = usize::try_from(from).ok()?;
        self.bytes.get(from..from.checked_add(pos.len as usize)?)
    }
}

/// Where the writer sends one append's outcome: `Ok` once it is
/// acknowledged (written, and synced in durability `always`), or the error
/// that poisoned the log.
pub(crate) type Done = oneshot::Sender<Result<(), StorageError>>;

/// A submitted append waiting for the writer.
pub(crate) struct PendingBatch {
    pub(crate) last_lsn: Lsn,
    pub(crate) last_crc: u32,
    pub(crate) records: Vec<Record>,
    pub(crate) positions: Vec<RecordPos>,
    pub(crate) release: Vec<RecordPos>,
    /// This append's own waiter (raft-engine's write barrier: each writer
    /// gets its own result; nobody else is woken).
    pub(crate) done: Option<Done>,
}

/// What [`Wal::submit`] assigned to an append.
pub(crate) struct Submitted {
    pub(crate) positions: Vec<RecordPos>,
    pub(crate) last_lsn: Lsn,
    /// The append's outcome; `None` for an append without records.
    pub(crate) done: Option<oneshot::Receiver<Result<(), StorageError>>>,
}

/// What the writer publishes to waiters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    /// Every LSN below this is acknowledged (written, and synced if `always`).
    pub(crate) acked_next: Lsn,
    /// Every LSN below this is synced.
    pub(crate) synced_next: Lsn,
    /// Set once a write or sync failed.
    pub(crate) poisoned: Option<String>,
    /// The writer has stopped.
    pub(crate) closed: bool,
}

/// State protected by the submit mutex.
pub(crate) struct WalState {
    pub(crate) next_lsn: Lsn,
    pub(crate) active_segment: u64,
    pub(crate) next_offset: u64,
    pub(crate) chunks: Vec<Chunk>,
    /// The chunks of the writer's current round, kept until its next round
    /// takes the state lock: by then they are written and their segment
    /// lengths published. With `chunks`, this lets a position be read as
    /// soon as `submit` returns it (see [`Wal::unwritten_frame`]).
    pub(crate) writing: Vec<Arc<Chunk>>,
    pub(crate) batches: Vec<PendingBatch>,
    pub(crate) shutdown: bool,
    pub(crate) sync_requested: bool,
    pub(crate) poisoned: Option<String>,
    /// The writer is blocked on `wake` and must be notified of new work.
    /// While it is busy, submits only queue: no wake-up (futex call) per
    /// append.
    pub(crate) writer_waiting: bool,
}

/// The end of the log at one moment: once `synced_next >= next_lsn`, every
/// segment before `segment` and the first `offset` bytes of `segment` hold
/// exactly the records below `next_lsn`, synced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncPoint {
    pub(crate) next_lsn: Lsn,
    pub(crate) segment: u64,
    pub(crate) offset: u64,
}

/// While alive, garbage collection deletes nothing.
pub(crate) struct ReclamationPause<'a> {
    wal: &'a Wal,
}

impl Drop for ReclamationPause<'_> {
    fn drop(&mut self) {
        let mut gc = lock(&self.wal.gc);
        *gc = gc.saturating_sub(1);
    }
}

/// Counters for `StorageStats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) appended_bytes: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) compactions: AtomicU64,
    pub(crate) reclaimed_bytes: AtomicU64,
}

/// Everything the submitters, readers and the writer thread share.
pub(crate) struct Wal {
    pub(crate) dir: PathBuf,
    pub(crate) fs: Arc<dyn FileSystem>,
    pub(crate) config: StorageConfig,
    pub(crate) segments: RwLock<BTreeMap<u64, Arc<Segment>>>,
    pub(crate) state: Mutex<WalState>,
    pub(crate) wake: Condvar,
    pub(crate) progress: watch::Sender<Progress>,
    pub(crate) liveness: Mutex<Liveness>,
    pub(crate) index: Index,
    /// The segment the writer appends to: every older segment is complete and synced.
    pub(crate) writer_segment: AtomicU64,
    pub(crate) counters: Counters,
    /// Held by a garbage-collection round; counts the backups that pause reclamation.
    gc: Mutex<usize>,
    /// The segment set as in the manifest (`wal/SEGMENTS`); held while it is rewritten.
    manifest: Mutex<BTreeSet<u64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wal {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        dir: PathBuf,
        fs: Arc<dyn FileSystem>,
        config: StorageConfig,
        segments: BTreeMap<u64, Arc<Segment>>,
        liveness: Liveness,
        index: Index,
        next_lsn: Lsn,
        active: &Segment,
        manifest: BTreeSet<u64>,
    ) -> Wal {
        let (progress, _) = watch::channel(Progress {
            acked_next: next_lsn,
            synced_next: next_lsn,
            poisoned: None,
            closed: false,
        });
        Wal {
            dir,
            fs,
            config,
            segments: RwLock::new(segments),
            state: Mutex::new(WalState {
                next_lsn,
                active_segment: active.id,
                next_offset: active.len(),
                chunks: Vec::new(),
                writing: Vec::new(),
                batches: Vec::new(),
                shutdown: false,
                sync_requested: false,
                poisoned: None,
                writer_waiting: false,
            }),
            wake: Condvar::new(),
            progress,
            liveness: Mutex::new(liveness),
            index,
            writer_segment: AtomicU64::new(active.id),
            counters: Counters::default(),
            gc: Mutex::new(0),
            manifest: Mutex::new(manifest),
        }
    }

    pub(crate) fn lock_state(&self) -> MutexGuard<'_, WalState> {
        lock(&self.state)
    }

    pub(crate) fn lock_liveness(&self) -> MutexGuard<'_, Liveness> {
        lock(&self.liveness)
    }

    pub(crate) fn segment(&self, id: u64) -> Option<Arc<Segment>> {
        self.segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }

    pub(crate) fn segment_list(&self) -> Vec<Arc<Segment>> {
        self.segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Encodes `append`, assigns LSNs and positions, and queues it for the
    /// writer. Log order is the order of calls.
    pub(crate) fn submit(&self, append: Append) -> Result<Submitted, StorageError> {
        let Append { records, release } = append;
        // Encode whole frames outside the lock; only the flags, the LSN and
        // the CRC are filled in under it.
        let mut frames = Vec::new();
        let mut unsealed = Vec::with_capacity(records.len());
        for r in &records {
            unsealed.push(format::encode_unsealed(r, &mut frames)?);
        }
        let total = frames.len() as u64;

        let mut guard = self.lock_state();
        let st = &mut *guard;
        if let Some(reason) = &st.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        if st.shutdown {
            return Err(StorageError::Closed);
        }
        if records.is_empty() {
            let last = st.next_lsn.saturating_sub(1);
            drop(guard);
            let mut live = self.lock_liveness();
            for pos in release {
                live.release(pos, None);
            }
            return Ok(Submitted {
                positions: Vec::new(),
                last_lsn: last,
                done: None,
            });
        }
        let mut create = false;
        if st.next_offset > HEADER_LEN as u64
            && st.next_offset + total > self.config.segment_size_bytes
        {
            st.active_segment = st.next_lsn;
            st.next_offset = HEADER_LEN as u64;
            create = true;
        }
        if st.next_offset + total > u64::from(u32::MAX) {
            return Err(StorageError::Codec(format!(
                "append of {total} bytes does not fit a segment"
            )));
        }
        let segment = st.active_segment;
        let new_chunk = create || st.chunks.last().is_none_or(|c| c.segment != segment);
        if new_chunk {
            st.chunks.push(Chunk {
                segment,
                start: st.next_offset,
                create,
                bytes: Vec::new(),
            });
        }
        let Some(chunk) = st.chunks.last_mut() else {
            return Err(StorageError::Closed);
        };
        let mut positions = Vec::with_capacity(unsealed.len());
        let mut live = self.lock_liveness();
        if create {
            live.add_segment(segment);
        }
        // Pin now, not when the releases apply: until then the released
        // records are still live, but this segment could otherwise be
        // reclaimed before the pin exists (S7).
        if let Some(floor) = release.iter().map(|p| p.segment).min() {
            live.pin(segment, floor);
        }
        let mut last_crc = 0;
        let n = unsealed.len();
        // A new chunk starts the writer's next group. With `always`, the
        // writer syncs each group before it writes the next one (and
        // recovery syncs what it keeps), so everything before this frame
        // will be synced when it is written: mark it (see FLAG_SYNCED_BEFORE).
        let synced_before = new_chunk && self.config.durability == Durability::Always;
        for (i, (frame, record)) in unsealed.iter().zip(&records).enumerate() {
            let mut flags = if i + 1 < n { FLAG_BATCH_CONTINUES } else { 0 };
            if i == 0 && synced_before {
                flags |= FLAG_SYNCED_BEFORE;
            }
            if let Some(bytes) = frames.get_mut(frame.start..frame.start + frame.total_len) {
                last_crc = format::seal_frame(bytes, flags, st.next_lsn);
            }
            let len = frame.total_len as u32;
            let pos = RecordPos {
                segment,
                offset: st.next_offset as u32,
                len,
            };
            if !record.is_tombstone() {
                live.add_live(pos);
            }
            positions.push(pos);
            st.next_offset += u64::from(len);
            st.next_lsn += 1;
        }
        drop(live);
        // The frames, sealed, join the writer's pending bytes (moved when
        // the chunk is new).
        if chunk.bytes.is_empty() {
            chunk.bytes = frames;
        } else {
            chunk.bytes.extend_from_slice(&frames);
        }
        let (done, outcome) = oneshot::channel();
        let last_lsn = st.next_lsn - 1;
        st.batches.push(PendingBatch {
            last_lsn,
            last_crc,
            records,
            positions: positions.clone(),
            release,
            done: Some(done),
        });
        let wake = std::mem::take(&mut st.writer_waiting);
        drop(guard);
        if wake {
            self.wake.notify_one();
        }
        Ok(Submitted {
            positions,
            last_lsn,
            done: Some(outcome),
        })
    }

    /// A copy of the frame at `pos` if it was submitted but may not be in
    /// its file yet (pending, or in the writer's current round). `None`
    /// means it is in the file, or is no submitted position at all: a
    /// frame leaves `writing` only after the writer appended it and
    /// published the segment's new length, both before this lock.
    pub(crate) fn unwritten_frame(&self, pos: RecordPos) -> Option<Vec<u8>> {
        let st = self.lock_state();
        st.chunks
            .iter()
            .chain(st.writing.iter().map(|c| &**c))
            .find_map(|c| c.frame(pos))
            .map(<[u8]>::to_vec)
    }

    /// Pauses segment reclamation until the guard is dropped (waits for a
    /// round in progress to finish).
    pub(crate) fn pause_reclamation(&self) -> ReclamationPause<'_> {
        *lock(&self.gc) += 1;
        ReclamationPause { wal: self }
    }

    /// The current end of the log, and asks the writer to sync up to it.
    pub(crate) fn request_sync_point(&self) -> Result<SyncPoint, StorageError> {
        let mut st = self.lock_state();
        if let Some(reason) = &st.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        if st.shutdown {
            return Err(StorageError::Closed);
        }
        st.sync_requested = true;
        self.wake.notify_one();
        Ok(SyncPoint {
            next_lsn: st.next_lsn,
            segment: st.active_segment,
            offset: st.next_offset,
        })
    }

    /// Asks the writer to finish: drain, sync, flush the index, stop.
    pub(crate) fn request_shutdown(&self) {
        let mut st = self.lock_state();
        st.shutdown = true;
        self.wake.notify_one();
    }

    /// Adds a just-created segment to the manifest (before any frame lands in it).
    pub(crate) fn manifest_add(&self, id: u64) -> Result<(), StorageError> {
        let mut listed = lock(&self.manifest);
        listed.insert(id);
        manifest::write(self.fs.as_ref(), &self.dir, &listed)
    }

    /// Removes segments from the manifest (before their files are deleted).
    fn manifest_remove(&self, ids: &[u64]) -> Result<(), StorageError> {
        let mut listed = lock(&self.manifest);
        for id in ids {
            listed.remove(id);
        }
        manifest::write(self.fs.as_ref(), &self.dir, &listed)
    }

    /// Deletes every sealed segment with nothing live whose pins allow it.
    pub(crate) fn collect_garbage(&self) -> Result<u64, StorageError> {
        let gc = lock(&self.gc);
        if *gc > 0 {
            // A backup is copying segments: they stay until it is done
            // (the next release or compaction pass reclaims them).
            return Ok(0);
        }
        let active = self.writer_segment.load(Ordering::Acquire);
        let doomed = self.lock_liveness().deletable(active);
        if doomed.is_empty() {
            return Ok(0);
        }
        // Unlisted first: a crash between the two leaves a leftover that the
        // next open deletes, never a listed segment that is missing.
        self.manifest_remove(&doomed)?;
        let mut reclaimed = 0;
        for id in doomed {
            let Some(seg) = self.segment(id) else {
                self.lock_liveness().remove_segment(id);
                continue;
            };
            self.fs.remove(&seg.path).map_err(|e| seg.io_err(e))?;
            self.segments
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            let offered = self.lock_liveness().remove_segment(id);
            if offered {
                self.counters.compactions.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(segment = %seg.path.display(), bytes = seg.len(), "deleted a segment with nothing live");
            reclaimed += seg.len();
        }
        self.fs
            .sync_dir(&self.dir)
            .map_err(|source| StorageError::Io {
                path: self.dir.clone(),
                source,
            })?;
        self.counters
            .reclaimed_bytes
            .fetch_add(reclaimed, Ordering::Relaxed);
        Ok(reclaimed)
    }
}
