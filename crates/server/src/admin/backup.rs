//! The `backup` operator action: [`storage::Storage::backup_to`] run inside
//! the process that holds the data directory — the broker (admin endpoint)
//! or `stowage backup` offline — so it copies a consistent point of the log
//! while appends go on. The copy covers every account: any caller the admin
//! endpoint accepts may take one (as with the reset endpoint), into a path on
//! the broker's machine.

use std::path::{Path, PathBuf};

use engine::{Engine, EngineError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use storage::StorageError;

use super::AdminError;

/// The answer of a backup: what was copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupAnswer {
    /// The backup directory.
    pub dir: PathBuf,
    /// The backup holds exactly the log records with an LSN below this one
    /// (everything acknowledged before the backup started).
    pub next_lsn: u64,
    /// Segment files copied.
    pub segments: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// Refuses a relative path (whose base would be the broker's working
/// directory) and an existing non-empty directory.
fn check_target(dir: &Path) -> Result<(), AdminError> {
    if !dir.is_absolute() {
        return Err(AdminError::BadRequest(format!(
            "the backup directory `{}` must be an absolute path (it is a path on the broker's machine)",
            dir.display()
        )));
    }
    let not_empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => true,
        Err(source) => {
            return Err(EngineError::from(StorageError::Io {
                path: dir.to_path_buf(),
                source,
            })
            .into())
        }
    };
    if not_empty {
        return Err(AdminError::BadRequest(format!(
            "{} already exists and is not empty: a backup goes into a new (or empty) directory",
            dir.display()
        )));
    }
    Ok(())
}

/// Copies the log of `engine`'s storage into `dir` (see the module docs);
/// answers a [`BackupAnswer`].
pub async fn backup(engine: &Engine, dir: PathBuf) -> Result<Value, AdminError> {
    // Only the embedded store has a log to copy; another store (PostgreSQL)
    // is backed up with its own tools.
    let Some(storage) = engine.storage().cloned() else {
        return Err(AdminError::BadRequest(
            "this broker keeps its queues in an external store: back that store up with its own tools"
                .to_owned(),
        ));
    };
    check_target(&dir)?;
    // The copy is blocking file I/O: keep it off the async workers. A
    // spawned task also finishes the backup if the caller goes away.
    let runtime = tokio::runtime::Handle::current();
    let target = dir.clone();
    let copy = tokio::task::spawn_blocking(move || runtime.block_on(storage.backup_to(&target)));
    let report = match copy.await {
        Ok(report) => report.map_err(EngineError::from)?,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => {
            return Err(EngineError::from(StorageError::Io {
                path: dir,
                source: std::io::Error::other("the backup was cancelled (shutting down)"),
            })
            .into())
        }
    };
    Ok(serde_json::to_value(BackupAnswer {
        dir,
        next_lsn: report.next_lsn,
        segments: report.segments,
        bytes: report.bytes,
        duration_ms: report.duration_ms,
    })?)
}
