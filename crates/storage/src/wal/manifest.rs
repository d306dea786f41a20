//! The segment manifest (`wal/SEGMENTS`): the set of segment files that must
//! exist. A segment is added after its file is created (and before any frame
//! lands in it) and removed before its file is deleted, each time by writing
//! a new manifest beside the old one, syncing it, renaming it over the old
//! one and syncing the directory. So after any crash:
//!
//! - a listed segment that is not on disk was lost (never reclaimed): a
//!   startup error naming the missing LSN range;
//! - an unlisted segment older than the newest listed one is a reclamation
//!   interrupted after the manifest update: recovery finishes it (deletes it);
//! - an unlisted segment newer than every listed one is a creation
//!   interrupted before the manifest update: it holds no frame yet.
//!
//! Byte layout: `format.rs`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::io::FileSystem;
use crate::wal::format::{self, MANIFEST_FILE, MANIFEST_TMP_FILE};
use crate::StorageError;

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the manifest of the `wal/` directory `dir`; `Ok(None)` if there is none.
pub(crate) fn read(dir: &Path) -> Result<Option<BTreeSet<u64>>, StorageError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&path)(e)),
    };
    format::decode_manifest(&bytes)
        .map(Some)
        .map_err(|reason| StorageError::Corruption {
            segment: path,
            offset: 0,
            reason,
        })
}

/// Durably replaces the manifest of `dir` with `ids`.
pub(crate) fn write(
    fs: &dyn FileSystem,
    dir: &Path,
    ids: &BTreeSet<u64>,
) -> Result<(), StorageError> {
    let tmp = dir.join(MANIFEST_TMP_FILE);
    let path = dir.join(MANIFEST_FILE);
    match fs.remove(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(&tmp)(e)),
    }
    let file = fs.create(&tmp).map_err(io_at(&tmp))?;
    file.append(&format::encode_manifest(ids))
        .map_err(io_at(&tmp))?;
    file.sync_data().map_err(io_at(&tmp))?;
    fs.rename(&tmp, &path).map_err(io_at(&path))?;
    fs.sync_dir(dir).map_err(io_at(dir))
}
