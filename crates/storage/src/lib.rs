//! Stowage's storage: a segmented, append-only write-ahead log (the source of
//! truth) plus sled trees that index in-flight, delayed and deduplication
//! state (derived, rebuildable from the log).
//!
//! This crate knows nothing about HTTP, SQS wire formats or SQS error codes.
//! It never reads the wall clock: callers pass `now` where time matters.
//!
//! The API in one breath:
//! - [`Storage::open`] recovers the log (truncating only a torn tail), checks
//!   or rebuilds the index, and returns a [`Recovered`] report.
//! - [`Storage::replay`] hands every record still on disk, in log order, to
//!   the engine so it can rebuild its in-memory state.
//! - [`Storage::submit`] encodes a batch of records and queues it for the
//!   group-commit writer *synchronously* (log order = submit order, positions
//!   known at once); [`Ticket::wait`] resolves when the batch is durable
//!   (according to the configured [`Durability`]).
//! - [`Storage::read`] reads a record back by position (message bodies are not
//!   held in memory).
//! - Liveness: every non-tombstone record is live when appended; the engine
//!   releases records it no longer needs (through [`Append::release`] or
//!   [`Storage::release`]). Segments whose records are all dead are deleted;
//!   segments whose live fraction is low are offered by
//!   [`Storage::compaction_candidates`] so the engine can re-append their live
//!   records ([`Storage::live_records`]) and release the old copies.

pub mod config;
pub mod error;
pub mod record;

pub use config::{Durability, StorageConfig};
pub use error::StorageError;
pub use record::{
    AttributeValue, MessageId, MoveTaskState, QueueId, QueueState, Record, StoredMessage,
};

/// Log sequence number: the position of a record in the total order of the log.
pub type Lsn = u64;

/// Where a record lives on disk. Small and `Copy`: the engine keeps one per
/// stored message instead of the message itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordPos {
    /// The segment: its first LSN (segment files are named after it).
    pub segment: u64,
    /// Byte offset of the frame inside the segment file.
    pub offset: u32,
    /// Length of the whole frame in bytes.
    pub len: u32,
}

/// One atomic append: all `records` reach the disk in one group commit, as a
/// batch that is entirely present or entirely absent after a crash.
#[derive(Debug, Default)]
pub struct Append {
    /// Records to write, in order.
    pub records: Vec<Record>,
    /// Records this append makes obsolete. They are released (marked dead)
    /// only after this append is durable; any tombstone in `records` pins the
    /// segments of these positions until those segments are gone.
    pub release: Vec<RecordPos>,
}

/// What recovery found and did at open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Number of segments on disk after recovery.
    pub segments: usize,
    /// Number of complete records found.
    pub records: u64,
    /// Bytes cut from the torn tail of the last segment.
    pub truncated_bytes: u64,
    /// Complete-looking records dropped with the torn tail (e.g. the first
    /// frames of a batch missing its end).
    pub dropped_records: u64,
    /// True when the sled index was missing, stale or corrupt and was rebuilt.
    pub index_rebuilt: bool,
    /// The next LSN the log will assign.
    pub next_lsn: Lsn,
    /// How long recovery took, in milliseconds.
    pub duration_ms: u64,
}

/// Health of the log, for `/health/ready`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Accepting appends.
    Ok,
    /// A write or fsync failed; every append is refused until restart.
    Poisoned(String),
}

/// Sizes and counters for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageStats {
    /// Segment files on disk.
    pub segments: u64,
    /// Bytes of all segment files.
    pub disk_bytes: u64,
    /// Bytes of live records.
    pub live_bytes: u64,
    /// Bytes appended since open.
    pub appended_bytes: u64,
    /// fsyncs since open.
    pub fsyncs: u64,
    /// Compactions (segments compacted) since open.
    pub compactions: u64,
    /// Bytes reclaimed by deleting segments since open.
    pub reclaimed_bytes: u64,
    /// Size of the sled index on disk.
    pub index_bytes: u64,
}

mod skeleton {
    //! Placeholder implementation: the storage helper replaces this module
    //! with `wal/…`, `index.rs`, etc. Signatures here are the contract.
    #![allow(clippy::unused_async, unused_variables, missing_docs)]
    use super::*;
    use std::path::Path;

    /// Handle to an open data directory. Cheap to clone (shared inside).
    #[derive(Clone)]
    pub struct Storage {}

    /// A submitted append: its positions are known at once; `wait` resolves
    /// when it is durable.
    pub struct Ticket {
        /// Position of each record of the append, in order.
        pub positions: Vec<RecordPos>,
        /// LSN of the last record of the append.
        pub last_lsn: Lsn,
    }

    impl Ticket {
        /// Resolves when the append is durable (per [`Durability`]); returns the positions.
        pub async fn wait(self) -> Result<Vec<RecordPos>, StorageError> {
            unimplemented!()
        }
    }

    /// One FIFO deduplication entry from the index.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DedupEntry {
        pub message_id: MessageId,
        pub sequence_number: Option<u128>,
        pub expires_ms: u64,
    }

    /// The sled index (derived state). Read-only for callers.
    pub struct Index {}

    impl Index {
        /// (message, visible_at_ms) of received messages of a queue.
        pub fn in_flight(&self, queue: QueueId) -> Result<Vec<(MessageId, u64)>, StorageError> {
            unimplemented!()
        }
        /// (message, visible_at_ms) of delayed (never received, not yet visible) messages.
        pub fn delayed(&self, queue: QueueId) -> Result<Vec<(MessageId, u64)>, StorageError> {
            unimplemented!()
        }
        /// Looks up a dedup id; `group` is `Some` for `DeduplicationScope=messageGroup`.
        pub fn dedup_lookup(
            &self,
            queue: QueueId,
            group: Option<&str>,
            dedup_id: &str,
            now_ms: u64,
        ) -> Result<Option<DedupEntry>, StorageError> {
            unimplemented!()
        }
        /// LSN up to which the index reflects the log.
        pub fn stamp(&self) -> Lsn {
            unimplemented!()
        }
    }

    impl Storage {
        pub fn open(dir: &Path, config: &StorageConfig) -> Result<(Storage, Recovered), StorageError> {
            unimplemented!()
        }
        pub fn replay(
            &self,
            f: &mut dyn FnMut(RecordPos, Record) -> Result<(), StorageError>,
        ) -> Result<(), StorageError> {
            unimplemented!()
        }
        pub fn submit(&self, append: Append) -> Result<Ticket, StorageError> {
            unimplemented!()
        }
        pub async fn append(&self, append: Append) -> Result<Vec<RecordPos>, StorageError> {
            self.submit(append)?.wait().await
        }
        pub fn read(&self, pos: RecordPos) -> Result<Record, StorageError> {
            unimplemented!()
        }
        pub fn release(&self, pos: RecordPos, by: Option<RecordPos>) {
            unimplemented!()
        }
        pub fn compaction_candidates(&self) -> Vec<u64> {
            unimplemented!()
        }
        pub fn live_records(&self, segment: u64) -> Vec<RecordPos> {
            unimplemented!()
        }
        pub fn collect_garbage(&self) -> Result<u64, StorageError> {
            unimplemented!()
        }
        pub fn index(&self) -> &Index {
            unimplemented!()
        }
        pub fn health(&self) -> Health {
            unimplemented!()
        }
        pub fn stats(&self) -> StorageStats {
            unimplemented!()
        }
        pub async fn sync(&self) -> Result<(), StorageError> {
            unimplemented!()
        }
        pub async fn close(&self) -> Result<(), StorageError> {
            unimplemented!()
        }
    }
}
pub use skeleton::{DedupEntry, Index, Storage, Ticket};
