//! `StorageError`: everything that can go wrong below the engine.

use std::path::PathBuf;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A frame before the tail of the log is damaged: never skipped silently.
    #[error("corrupt WAL segment {segment} at offset {offset}: {reason}")]
    Corruption {
        /// Segment file.
        segment: PathBuf,
        /// Byte offset of the bad frame.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file in the data directory that Stowage did not write.
    #[error("unexpected file in data directory: {0} (move it away or point --data-dir elsewhere)")]
    ForeignFile(PathBuf),
    /// A segment written by a newer (or unknown) format version.
    #[error("WAL segment {path} has format version {found}, this build reads version {supported}")]
    UnsupportedVersion {
        /// Segment file.
        path: PathBuf,
        /// Version in its header.
        found: u32,
        /// Version this build understands.
        supported: u32,
    },
    /// Another process holds the data directory's LOCK file.
    #[error("data directory {0} is locked by another process")]
    Locked(PathBuf),
    /// An earlier write or fsync failed; the log refuses appends until restart.
    #[error("the write-ahead log is poisoned by an earlier I/O failure ({0}); restart required")]
    Poisoned(String),
    /// A record could not be encoded or decoded.
    #[error("record codec error: {0}")]
    Codec(String),
    /// A position that does not point at a record.
    #[error("no record at segment {segment} offset {offset}")]
    BadPosition {
        /// Segment (first LSN).
        segment: u64,
        /// Offset.
        offset: u32,
    },
    /// The sled index failed.
    #[error("index error: {0}")]
    Index(String),
    /// The storage was closed.
    #[error("storage is closed")]
    Closed,
}
