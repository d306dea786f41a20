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
//! - [`Storage::backup_to`] copies a consistent point of the log while
//!   appends go on; [`check::check`] verifies a stopped data directory.
//! - Liveness: every non-tombstone record is live when appended; the engine
//!   releases records it no longer needs (through [`Append::release`] or
//!   [`Storage::release`]). Segments whose records are all dead are deleted;
//!   segments whose live fraction is low are offered by
//!   [`Storage::compaction_candidates`] so the engine can re-append their live
//!   records ([`Storage::live_records`]) and release the old copies. A
//!   release names the record that ended or superseded the released one, so
//!   that record's segment outlives it (no resurrection on replay).

mod backup;
pub mod check;
pub mod config;
pub mod error;
mod finding;
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
    /// Complete records discarded: the frames of a torn batch missing its
    /// end, and with `StorageConfig::repair` every complete record cut with
    /// a damaged frame (plus the LSNs of missing segments, where known).
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

mod index;
pub mod io;
mod liveness;
mod storage;
mod wal;

#[cfg(test)]
mod tests;

pub use backup::BackupReport;
pub use index::{DedupEntry, Index, IndexEntry};
pub use storage::{DirLock, Storage, Ticket};
pub use wal::format::RecordKind;
