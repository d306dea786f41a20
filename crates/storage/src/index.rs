//! The sled index: derived state rebuilt from the WAL whenever it is missing,
//! stale or corrupt (invariant S9). Trees and key encodings:
//!
//! - `in_flight`: `queue_id u64 BE ++ message_id[16]` → `visible_at_ms u64 BE`
//!   for messages received at least once (visibility deadline).
//! - `delayed`: same key → `visible_at_ms u64 BE` for never-received messages
//!   whose `visible_at_ms` is after their `sent_ms` (delay).
//! - `dedup`: `queue_id u64 BE ++ scope ++ dedup_id` → `message_id[16] ++
//!   has_seq u8 ++ sequence u128 BE ++ expires_ms u64 BE`, where scope is
//!   `0x00` (queue scope) or `0x01 ++ group_len u16 BE ++ group` (message-group
//!   scope); expiry = `sent_ms + 300_000`. Both scopes are written for a FIFO
//!   send with a group; the engine looks up the one its queue uses.
//! - `dedup_expiry`: `expires_ms u64 BE ++ dedup key` → empty; lets every
//!   FIFO send prune the dedup entries that expired before its `sent_ms`
//!   (amortised O(1), deterministic in the record stream, so a rebuild
//!   prunes the same way).
//! - `meta`: `stamp` → `lsn u64 BE ++ crc u32 BE` of the last applied record.
//!
//! sled is never flushed on the acknowledgement path: it flushes itself in
//! the background and at close.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::record::{MessageId, QueueId, Record, StoredMessage};
use crate::{Lsn, StorageError};

/// Deduplication window (SQS: five minutes).
pub(crate) const DEDUP_WINDOW_MS: u64 = 300_000;
/// sled page cache bound (its default is 1 GiB).
const INDEX_CACHE_BYTES: u64 = 32 * 1024 * 1024;
const STAMP_KEY: &[u8] = b"stamp";
const SCOPE_QUEUE: u8 = 0;
const SCOPE_GROUP: u8 = 1;

/// How long [`Index::open`] waits for sled's file lock before giving up.
/// Our own `LOCK` file already excludes other processes, so a held sled lock
/// is the previous instance in this process (a close followed by a reopen):
/// sled releases its lock asynchronously, after its background writes and
/// deferred drops finish. Treating that as damage would wipe a good index
/// (and wipe it under the old instance's feet).
const LOCK_WAIT: Duration = Duration::from_secs(60);
/// Pause between attempts while the lock is held.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Why sled did not open.
enum OpenError {
    /// sled's own lock file is held (by our previous instance: see [`LOCK_WAIT`]).
    Locked(sled::Error),
    /// Anything else: the index is treated as damaged.
    Other(StorageError),
}

impl OpenError {
    fn from_sled(e: sled::Error) -> OpenError {
        match &e {
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                OpenError::Locked(e)
            }
            _ => OpenError::Other(ix(e)),
        }
    }

    fn into_storage(self) -> StorageError {
        match self {
            OpenError::Locked(e) => ix(e),
            OpenError::Other(e) => e,
        }
    }
}

/// One key/value of one tree, as returned by [`Index::dump`]: (tree, key, value).
pub type IndexEntry = (String, Vec<u8>, Vec<u8>);

/// One FIFO deduplication entry from the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupEntry {
    /// Message the dedup id was first sent with.
    pub message_id: MessageId,
    /// Its sequence number.
    pub sequence_number: Option<u128>,
    /// Epoch milliseconds after which the entry no longer deduplicates.
    pub expires_ms: u64,
}

/// The sled index (derived state). Read-only for callers.
pub struct Index {
    db: sled::Db,
    in_flight: sled::Tree,
    delayed: sled::Tree,
    dedup: sled::Tree,
    dedup_expiry: sled::Tree,
    meta: sled::Tree,
    stamp: AtomicU64,
    path: PathBuf,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn ix(e: sled::Error) -> StorageError {
    StorageError::Index(e.to_string())
}

fn msg_key(queue: QueueId, id: &MessageId) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&queue.to_be_bytes());
    k[8..].copy_from_slice(id);
    k
}

fn dedup_key(queue: QueueId, group: Option<&str>, dedup_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + 3 + group.map_or(0, str::len) + dedup_id.len());
    k.extend_from_slice(&queue.to_be_bytes());
    match group {
        None => k.push(SCOPE_QUEUE),
        Some(g) => {
            k.push(SCOPE_GROUP);
            let len = u16::try_from(g.len()).unwrap_or(u16::MAX);
            k.extend_from_slice(&len.to_be_bytes());
            k.extend_from_slice(g.as_bytes());
        }
    }
    k.extend_from_slice(dedup_id.as_bytes());
    k
}

fn encode_dedup(e: &DedupEntry) -> [u8; 41] {
    let mut v = [0u8; 41];
    v[..16].copy_from_slice(&e.message_id);
    if let Some(seq) = e.sequence_number {
        v[16] = 1;
        v[17..33].copy_from_slice(&seq.to_be_bytes());
    }
    v[33..].copy_from_slice(&e.expires_ms.to_be_bytes());
    v
}

fn decode_dedup(v: &[u8]) -> Option<DedupEntry> {
    if v.len() != 41 {
        return None;
    }
    let mut message_id = [0u8; 16];
    message_id.copy_from_slice(&v[..16]);
    let sequence_number = (v[16] == 1).then(|| {
        let mut s = [0u8; 16];
        s.copy_from_slice(&v[17..33]);
        u128::from_be_bytes(s)
    });
    let mut e = [0u8; 8];
    e.copy_from_slice(&v[33..41]);
    Some(DedupEntry {
        message_id,
        sequence_number,
        expires_ms: u64::from_be_bytes(e),
    })
}

fn be_u64(v: &[u8]) -> Option<u64> {
    let a: [u8; 8] = v.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(a))
}

impl Index {
    /// Opens (or creates) the index at `path`. Any failure → wipe and recreate,
    /// except sled's own file lock still being held (see [`LOCK_WAIT`]).
    pub(crate) fn open(path: &Path) -> Result<(Index, bool), StorageError> {
        match Index::open_waiting(path) {
            Ok(ix) => Ok((ix, false)),
            Err(OpenError::Locked(e)) => Err(StorageError::Index(format!(
                "{e} (still held after {} s)",
                LOCK_WAIT.as_secs()
            ))),
            Err(OpenError::Other(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "index failed to open; wiping it for a rebuild");
                if path.exists() {
                    std::fs::remove_dir_all(path).map_err(|source| StorageError::Io {
                        path: path.to_path_buf(),
                        source,
                    })?;
                }
                Ok((
                    Index::try_open(path).map_err(OpenError::into_storage)?,
                    true,
                ))
            }
        }
    }

    /// Opens an existing index as it is, never wiping it (offline checks).
    pub(crate) fn open_existing(path: &Path) -> Result<Index, StorageError> {
        Index::open_waiting(path).map_err(OpenError::into_storage)
    }

    /// `try_open`, waiting up to [`LOCK_WAIT`] while sled's lock is held.
    fn open_waiting(path: &Path) -> Result<Index, OpenError> {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match Index::try_open(path) {
                Err(OpenError::Locked(e)) if Instant::now() < deadline => {
                    tracing::debug!(path = %path.display(), error = %e, "index still locked by its previous instance; retrying");
                    std::thread::sleep(LOCK_RETRY);
                }
                other => return other,
            }
        }
    }

    fn try_open(path: &Path) -> Result<Index, OpenError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(INDEX_CACHE_BYTES)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(OpenError::from_sled)?;
        let tree = |name: &str| db.open_tree(name).map_err(OpenError::from_sled);
        let ix = Index {
            in_flight: tree("in_flight")?,
            delayed: tree("delayed")?,
            dedup: tree("dedup")?,
            dedup_expiry: tree("dedup_expiry")?,
            meta: tree("meta")?,
            db,
            stamp: AtomicU64::new(0),
            path: path.to_path_buf(),
        };
        if let Some((lsn, _)) = ix.stamp_with_crc().map_err(OpenError::Other)? {
            ix.stamp.store(lsn, Ordering::Release);
        }
        Ok(ix)
    }

    /// The stored stamp: (LSN, CRC) of the last applied record.
    pub(crate) fn stamp_with_crc(&self) -> Result<Option<(Lsn, u32)>, StorageError> {
        let Some(v) = self.meta.get(STAMP_KEY).map_err(ix)? else {
            return Ok(None);
        };
        if v.len() != 12 {
            return Err(StorageError::Index("malformed stamp".into()));
        }
        let lsn = be_u64(&v).unwrap_or(0);
        let mut c = [0u8; 4];
        c.copy_from_slice(&v[8..12]);
        Ok(Some((lsn, u32::from_be_bytes(c))))
    }

    /// Records that everything up to (lsn, crc) is applied.
    pub(crate) fn set_stamp(&self, lsn: Lsn, crc: u32) -> Result<(), StorageError> {
        let mut v = [0u8; 12];
        v[..8].copy_from_slice(&lsn.to_be_bytes());
        v[8..].copy_from_slice(&crc.to_be_bytes());
        self.meta.insert(STAMP_KEY, &v).map_err(ix)?;
        self.stamp.store(lsn, Ordering::Release);
        Ok(())
    }

    /// Empties every tree (before a rebuild).
    pub(crate) fn clear(&self) -> Result<(), StorageError> {
        for t in [
            &self.in_flight,
            &self.delayed,
            &self.dedup,
            &self.dedup_expiry,
            &self.meta,
        ] {
            t.clear().map_err(ix)?;
        }
        self.stamp.store(0, Ordering::Release);
        Ok(())
    }

    /// Flushes sled to disk (background and close only).
    pub(crate) fn flush(&self) -> Result<(), StorageError> {
        self.db.flush().map(|_| ()).map_err(ix)
    }

    /// Size of the index on disk.
    pub(crate) fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    fn put_message(&self, m: &StoredMessage, with_dedup: bool) -> Result<(), StorageError> {
        let key = msg_key(m.queue_id, &m.message_id);
        let at = m.visible_at_ms.to_be_bytes();
        if m.receive_count > 0 {
            self.delayed.remove(key).map_err(ix)?;
            self.in_flight.insert(key, &at).map_err(ix)?;
        } else if m.visible_at_ms > m.sent_ms {
            self.in_flight.remove(key).map_err(ix)?;
            self.delayed.insert(key, &at).map_err(ix)?;
        }
        // Otherwise (never received, never delayed) neither tree can hold
        // the message: a received message always carries receive_count > 0
        // and a delayed one visible_at_ms > sent_ms, in every later copy.
        // Skipping two sled removes matters on the ack path.
        if let (true, Some(dedup_id)) = (with_dedup, m.dedup_id.as_deref()) {
            self.prune_dedup(m.sent_ms)?;
            let expires_ms = m.sent_ms.saturating_add(DEDUP_WINDOW_MS);
            let entry = encode_dedup(&DedupEntry {
                message_id: m.message_id,
                sequence_number: m.sequence_number,
                expires_ms,
            });
            let mut keys = vec![dedup_key(m.queue_id, None, dedup_id)];
            if let Some(g) = m.group_id.as_deref() {
                keys.push(dedup_key(m.queue_id, Some(g), dedup_id));
            }
            for key in keys {
                self.dedup.insert(key.as_slice(), &entry[..]).map_err(ix)?;
                let mut ek = Vec::with_capacity(8 + key.len());
                ek.extend_from_slice(&expires_ms.to_be_bytes());
                ek.extend_from_slice(&key);
                self.dedup_expiry.insert(ek, &[][..]).map_err(ix)?;
            }
        }
        Ok(())
    }

    /// Removes dedup entries whose window ended at or before `now_ms`.
    fn prune_dedup(&self, now_ms: u64) -> Result<(), StorageError> {
        let end = now_ms.saturating_add(1).to_be_bytes();
        for kv in self.dedup_expiry.range(..&end[..]) {
            let (ek, _) = kv.map_err(ix)?;
            let key = ek.get(8..).unwrap_or_default();
            let expired = match self.dedup.get(key).map_err(ix)? {
                Some(v) => decode_dedup(&v).is_none_or(|e| e.expires_ms <= now_ms),
                None => false,
            };
            if expired {
                self.dedup.remove(key).map_err(ix)?;
            }
            self.dedup_expiry.remove(&ek).map_err(ix)?;
        }
        Ok(())
    }

    fn remove_prefix(tree: &sled::Tree, queue: QueueId) -> Result<(), StorageError> {
        for kv in tree.scan_prefix(queue.to_be_bytes()) {
            let (k, _) = kv.map_err(ix)?;
            tree.remove(k).map_err(ix)?;
        }
        Ok(())
    }

    /// Applies one record (the same function serves the writer and rebuilds).
    pub(crate) fn apply(&self, record: &Record) -> Result<(), StorageError> {
        match record {
            Record::QueueUpserted(_) | Record::MoveTaskUpdated(_) => {}
            Record::QueueDeleted { queue_id, .. } => {
                Index::remove_prefix(&self.in_flight, *queue_id)?;
                Index::remove_prefix(&self.delayed, *queue_id)?;
                Index::remove_prefix(&self.dedup, *queue_id)?;
            }
            Record::QueuePurged { queue_id, .. } => {
                Index::remove_prefix(&self.in_flight, *queue_id)?;
                Index::remove_prefix(&self.delayed, *queue_id)?;
            }
            Record::MessageSent(m) => self.put_message(m, true)?,
            Record::MessageReceived {
                queue_id,
                message_id,
                visible_at_ms,
                ..
            } => {
                let key = msg_key(*queue_id, message_id);
                self.delayed.remove(key).map_err(ix)?;
                self.in_flight
                    .insert(key, &visible_at_ms.to_be_bytes())
                    .map_err(ix)?;
            }
            Record::VisibilityChanged {
                queue_id,
                message_id,
                visible_at_ms,
            } => {
                let key = msg_key(*queue_id, message_id);
                self.in_flight
                    .insert(key, &visible_at_ms.to_be_bytes())
                    .map_err(ix)?;
            }
            Record::MessageDeleted {
                queue_id,
                message_id,
            } => {
                let key = msg_key(*queue_id, message_id);
                self.in_flight.remove(key).map_err(ix)?;
                self.delayed.remove(key).map_err(ix)?;
            }
            Record::MessageMoved {
                from_queue,
                message,
                ..
            } => {
                let key = msg_key(*from_queue, &message.message_id);
                self.in_flight.remove(key).map_err(ix)?;
                self.delayed.remove(key).map_err(ix)?;
                self.put_message(message, false)?;
            }
        }
        Ok(())
    }

    fn scan_times(
        tree: &sled::Tree,
        queue: QueueId,
    ) -> Result<Vec<(MessageId, u64)>, StorageError> {
        let mut out = Vec::new();
        for kv in tree.scan_prefix(queue.to_be_bytes()) {
            let (k, v) = kv.map_err(ix)?;
            let (Some(idb), Some(at)) = (k.get(8..24), be_u64(&v)) else {
                return Err(StorageError::Index("malformed entry".into()));
            };
            let mut id = [0u8; 16];
            id.copy_from_slice(idb);
            out.push((id, at));
        }
        Ok(out)
    }

    /// (message, visible_at_ms) of received messages of a queue.
    pub fn in_flight(&self, queue: QueueId) -> Result<Vec<(MessageId, u64)>, StorageError> {
        Index::scan_times(&self.in_flight, queue)
    }

    /// (message, visible_at_ms) of delayed (never received, not yet visible) messages.
    pub fn delayed(&self, queue: QueueId) -> Result<Vec<(MessageId, u64)>, StorageError> {
        Index::scan_times(&self.delayed, queue)
    }

    /// Looks up a dedup id; `group` is `Some` for `DeduplicationScope=messageGroup`.
    /// Entries whose window ended at or before `now_ms` are not returned.
    pub fn dedup_lookup(
        &self,
        queue: QueueId,
        group: Option<&str>,
        dedup_id: &str,
        now_ms: u64,
    ) -> Result<Option<DedupEntry>, StorageError> {
        let Some(v) = self
            .dedup
            .get(dedup_key(queue, group, dedup_id))
            .map_err(ix)?
        else {
            return Ok(None);
        };
        let entry =
            decode_dedup(&v).ok_or_else(|| StorageError::Index("malformed dedup entry".into()))?;
        Ok((entry.expires_ms > now_ms).then_some(entry))
    }

    /// LSN up to which the index reflects the log.
    pub fn stamp(&self) -> Lsn {
        self.stamp.load(Ordering::Acquire)
    }

    /// Every key/value of every tree (tests compare a rebuilt index with the original).
    pub fn dump(&self) -> Result<Vec<IndexEntry>, StorageError> {
        let mut out = Vec::new();
        for (name, t) in [
            ("in_flight", &self.in_flight),
            ("delayed", &self.delayed),
            ("dedup", &self.dedup),
            ("dedup_expiry", &self.dedup_expiry),
            ("meta", &self.meta),
        ] {
            for kv in t.iter() {
                let (k, v) = kv.map_err(ix)?;
                out.push((name.to_string(), k.to_vec(), v.to_vec()));
            }
        }
        Ok(out)
    }
}
