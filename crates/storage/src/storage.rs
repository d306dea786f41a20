//! `Storage`: the handle that ties the WAL, the writer thread, liveness and
//! the index together, plus `Ticket`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::{oneshot, watch};

use crate::index::Index;
use crate::io::{FileSystem, RealFs};
use crate::record::Record;
use crate::wal::segment::{self, Segment};
use crate::wal::{format, manifest, recovery};
use crate::wal::{writer, Progress, SyncPoint, Wal};
use crate::{Append, Health, Lsn, RecordPos, Recovered, StorageConfig, StorageError, StorageStats};

/// Name of the lock file inside the data directory.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// Name of the WAL directory inside the data directory.
pub(crate) const WAL_DIR: &str = "wal";
/// Name of the sled directory inside the data directory.
pub(crate) const INDEX_DIR: &str = "index";

/// Handle to an open data directory. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("dir", &self.inner.wal.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    wal: Arc<Wal>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Held (flock) while open.
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wal.request_shutdown();
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("WAL writer thread panicked");
            }
        }
    }
}

/// A submitted append: its positions are known at once; `wait` resolves
/// when it is durable.
#[derive(Debug)]
pub struct Ticket {
    /// Position of each record of the append, in order.
    pub positions: Vec<RecordPos>,
    /// LSN of the last record of the append.
    pub last_lsn: Lsn,
    outcome: Outcome,
}

/// How a ticket learns that its append is durable.
#[derive(Debug)]
enum Outcome {
    /// The writer sends this append's own result.
    Own(oneshot::Receiver<Result<(), StorageError>>),
    /// An append without records: done once everything submitted before it is.
    After(watch::Receiver<Progress>),
}

impl Ticket {
    /// Resolves when the append is durable (per [`crate::Durability`]); returns the positions.
    pub async fn wait(self) -> Result<Vec<RecordPos>, StorageError> {
        let outcome = match self.outcome {
            Outcome::Own(done) => match done.await {
                Ok(result) => result,
                // The writer dropped the append without an answer: it died.
                Err(_) => Err(StorageError::Poisoned(writer::WRITER_PANICKED.into())),
            },
            Outcome::After(mut progress) => {
                let last = self.last_lsn;
                match progress
                    .wait_for(|p| p.acked_next > last || p.poisoned.is_some() || p.closed)
                    .await
                {
                    Err(_) => Err(StorageError::Closed),
                    Ok(p) if p.acked_next > last => Ok(()),
                    Ok(p) => Err(p
                        .poisoned
                        .clone()
                        .map_or(StorageError::Closed, StorageError::Poisoned)),
                }
            }
        };
        outcome.map(|()| self.positions)
    }
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn lock_dir(dir: &Path) -> Result<File, StorageError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_at(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(StorageError::Io { path, source: e }),
    }
}

/// A data directory's lock held by an offline tool (`stowage restore`):
/// while it is held, no broker can open the directory. Released on drop.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of the existing directory `dir` (creating its lock
    /// file). [`StorageError::Locked`] when a running broker (or another
    /// tool) holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, StorageError> {
        lock_dir(dir).map(|file| DirLock { _file: file })
    }
}

impl Storage {
    /// Opens (creating if needed) the data directory `dir`: takes the lock,
    /// recovers the log, checks or rebuilds the index, starts the writer.
    pub fn open(dir: &Path, config: &StorageConfig) -> Result<(Storage, Recovered), StorageError> {
        Storage::open_with_fs(dir, config, Arc::new(RealFs))
    }

    /// [`Storage::open`] through a given file-system seam (fault injection).
    pub fn open_with_fs(
        dir: &Path,
        config: &StorageConfig,
        fs: Arc<dyn FileSystem>,
    ) -> Result<(Storage, Recovered), StorageError> {
        let started = Instant::now();
        config.validate().map_err(|msg| StorageError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, msg),
        })?;
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let lock = lock_dir(dir)?;
        let wal_dir: PathBuf = dir.join(WAL_DIR);
        if !wal_dir.exists() {
            std::fs::create_dir_all(&wal_dir).map_err(io_at(&wal_dir))?;
            fs.sync_dir(dir).map_err(io_at(dir))?;
        }
        let mut rec = recovery::recover(fs.as_ref(), &wal_dir, config.repair)?;
        let active = match rec.segments.values().next_back() {
            Some(seg) => seg.clone(),
            None => {
                let seg = Arc::new(Segment::create(fs.as_ref(), &wal_dir, rec.next_lsn)?);
                rec.segments.insert(seg.id, seg.clone());
                rec.liveness.add_segment(seg.id);
                rec.manifest.insert(seg.id);
                manifest::write(fs.as_ref(), &wal_dir, &rec.manifest)?;
                seg
            }
        };

        let index_dir = dir.join(INDEX_DIR);
        let (index, wiped) = Index::open(&index_dir)?;
        let stamp = index.stamp_with_crc().ok().flatten();
        let index_rebuilt = wiped || stamp != rec.last;
        if index_rebuilt {
            tracing::info!(?stamp, log_end = ?rec.last, "rebuilding the index from the write-ahead log");
            index.clear()?;
            for seg in rec.segments.values() {
                let bytes = seg.read_all(seg.len())?;
                segment::scan(seg.id, &bytes, seg.id, &mut |_, _, record| {
                    index.apply(&record)
                })?;
            }
            if let Some((lsn, crc)) = rec.last {
                index.set_stamp(lsn, crc)?;
            }
            index.flush()?;
        }

        let recovered = Recovered {
            segments: rec.segments.len(),
            records: rec.records,
            truncated_bytes: rec.truncated_bytes,
            dropped_records: rec.dropped_records,
            index_rebuilt,
            next_lsn: rec.next_lsn,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        tracing::info!(?recovered, dir = %dir.display(), "storage opened");
        let wal = Arc::new(Wal::new(
            wal_dir,
            fs,
            config.clone(),
            rec.segments,
            rec.liveness,
            index,
            rec.next_lsn,
            &active,
            rec.manifest,
        ));
        let thread_wal = wal.clone();
        let writer = std::thread::Builder::new()
            .name("stowage-wal-writer".into())
            .spawn(move || {
                let wal = thread_wal.clone();
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    writer::run(thread_wal, active)
                }));
                if outcome.is_err() {
                    // Never leave waiters hanging: a dead writer is a poisoned log.
                    let reason = writer::poison(
                        &wal,
                        &StorageError::Poisoned(writer::WRITER_PANICKED.into()),
                    );
                    let pending = std::mem::take(&mut wal.lock_state().batches);
                    writer::fail(pending, &reason);
                    wal.progress.send_modify(|p| p.closed = true);
                }
            })
            .map_err(io_at(dir))?;
        let storage = Storage {
            inner: Arc::new(Inner {
                wal,
                writer: Mutex::new(Some(writer)),
                _lock: lock,
            }),
        };
        Ok((storage, recovered))
    }

    pub(crate) fn wal(&self) -> &Wal {
        &self.inner.wal
    }

    /// Hands every record on disk to `f`, in log order, with its position.
    pub fn replay(
        &self,
        f: &mut dyn FnMut(RecordPos, Record) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        for seg in self.wal().segment_list() {
            let bytes = seg.read_all(seg.len())?;
            let out = segment::scan(seg.id, &bytes, seg.id, &mut |pos, _, record| f(pos, record))?;
            if let Some(stop) = out.stop {
                return Err(seg.corruption(stop.offset, stop.reason));
            }
        }
        Ok(())
    }

    /// Encodes and queues an append; returns at once with its positions.
    pub fn submit(&self, append: Append) -> Result<Ticket, StorageError> {
        let submitted = self.wal().submit(append)?;
        let outcome = match submitted.done {
            Some(done) => Outcome::Own(done),
            None => Outcome::After(self.wal().progress.subscribe()),
        };
        Ok(Ticket {
            positions: submitted.positions,
            last_lsn: submitted.last_lsn,
            outcome,
        })
    }

    /// `submit` + `wait`.
    pub async fn append(&self, append: Append) -> Result<Vec<RecordPos>, StorageError> {
        self.submit(append)?.wait().await
    }

    /// Reads a record back by position. Every position [`Storage::submit`]
    /// returned is readable at once, before the writer has put its frame
    /// in the file (it is served from the pending bytes), and stays
    /// readable until it is released and its segment reclaimed.
    pub fn read(&self, pos: RecordPos) -> Result<Record, StorageError> {
        let wal = self.wal();
        if let Some(seg) = wal.segment(pos.segment).filter(|s| s.holds(pos)) {
            return seg.read_record(pos);
        }
        if let Some(frame) = wal.unwritten_frame(pos) {
            return segment::decode_at(pos, &frame, |reason| StorageError::Corruption {
                segment: wal.dir.join(format::segment_file_name(pos.segment)),
                offset: u64::from(pos.offset),
                reason,
            });
        }
        // Written (and its length published) since the first look.
        wal.segment(pos.segment)
            .ok_or_else(|| segment::bad_position(pos))?
            .read_record(pos)
    }

    /// Marks a record dead at once. `by` is the record that ended or
    /// superseded it (a tombstone, or a newer copy/state), if any: `by`'s
    /// segment is then pinned so it cannot be reclaimed while `pos`'s segment
    /// (or any between them) exists. During replay, pass `by` for every record
    /// that some later record ended, or that protection is lost across the
    /// next restart and a deleted record could come back. `None` is right
    /// only when no record ended it (e.g. retention expiry, which replay
    /// re-derives from time).
    pub fn release(&self, pos: RecordPos, by: Option<RecordPos>) {
        self.wal().lock_liveness().release(pos, by);
    }

    /// Keeps `by`'s segment while `pos`'s segment (or any segment between
    /// them) exists, without releasing `pos`: for a record that `by` ended
    /// but that must stay live a while longer (e.g. a deleted FIFO message
    /// whose record keeps its deduplication id through a restart). Without
    /// the pin, `by`'s segment could be reclaimed first and a replay would
    /// bring back what `by` ended.
    pub fn pin(&self, pos: RecordPos, by: RecordPos) {
        self.wal().lock_liveness().pin(by.segment, pos.segment);
    }

    /// Sealed segments whose live fraction is below `compaction_live_ratio`, oldest first.
    pub fn compaction_candidates(&self) -> Vec<u64> {
        let active = self.wal().writer_segment.load(Ordering::Acquire);
        let ratio = self.wal().config.compaction_live_ratio;
        let sizes: std::collections::HashMap<u64, u64> = self
            .wal()
            .segment_list()
            .iter()
            .map(|s| (s.id, s.len()))
            .collect();
        self.wal()
            .lock_liveness()
            .compaction_candidates(active, ratio, |id| sizes.get(&id).copied().unwrap_or(0))
    }

    /// Live record positions of a segment, in log order.
    pub fn live_records(&self, segment: u64) -> Vec<RecordPos> {
        self.wal().lock_liveness().live_records(segment)
    }

    /// Deletes every sealed segment with nothing live (pins permitting);
    /// returns the bytes reclaimed.
    pub fn collect_garbage(&self) -> Result<u64, StorageError> {
        self.wal().collect_garbage()
    }

    /// The sled index.
    pub fn index(&self) -> &Index {
        &self.wal().index
    }

    /// `Ok`, or `Poisoned` after a failed write or fsync.
    pub fn health(&self) -> Health {
        match &self.wal().progress.borrow().poisoned {
            Some(reason) => Health::Poisoned(reason.clone()),
            None => Health::Ok,
        }
    }

    /// Sizes and counters.
    pub fn stats(&self) -> StorageStats {
        let wal = self.wal();
        let segs = wal.segment_list();
        let c = &wal.counters;
        StorageStats {
            segments: segs.len() as u64,
            disk_bytes: segs.iter().map(|s| s.len()).sum(),
            live_bytes: wal.lock_liveness().live_bytes(),
            appended_bytes: c.appended_bytes.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            reclaimed_bytes: c.reclaimed_bytes.load(Ordering::Relaxed),
            index_bytes: wal.index.size_on_disk(),
        }
    }

    /// Makes everything submitted so far durable (fdatasync), whatever the mode.
    pub async fn sync(&self) -> Result<(), StorageError> {
        self.sync_point().await.map(|_| ())
    }

    /// `sync`, returning the end of the log it made durable.
    pub(crate) async fn sync_point(&self) -> Result<SyncPoint, StorageError> {
        let mut rx = self.wal().progress.subscribe();
        let point = self.wal().request_sync_point()?;
        let target = point.next_lsn;
        let outcome = match rx
            .wait_for(|p| p.synced_next >= target || p.poisoned.is_some() || p.closed)
            .await
        {
            Err(_) => Err(StorageError::Closed),
            Ok(p) if p.synced_next >= target => Ok(point),
            Ok(p) => Err(p
                .poisoned
                .clone()
                .map_or(StorageError::Closed, StorageError::Poisoned)),
        };
        outcome
    }

    /// Drains pending appends, syncs, flushes the index and stops the writer.
    /// Later appends fail with `Closed`.
    pub async fn close(&self) -> Result<(), StorageError> {
        let mut rx = self.wal().progress.subscribe();
        self.wal().request_shutdown();
        let poisoned = match rx.wait_for(|p| p.closed).await {
            Ok(p) => p.poisoned.clone(),
            Err(_) => None,
        };
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("WAL writer thread panicked");
            }
        }
        match poisoned {
            Some(reason) => Err(StorageError::Poisoned(reason)),
            None => Ok(()),
        }
    }

    /// Approximate heap bytes of storage's own per-record structures (liveness).
    pub fn memory_bytes(&self) -> usize {
        self.wal().lock_liveness().heap_bytes()
    }
}
