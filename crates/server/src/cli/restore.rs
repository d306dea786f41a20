//! `stowage restore BACKUP [--data-dir DIR]`: puts a backup (written by
//! `stowage backup`, or any stopped data directory) in place of a stopped
//! broker's data directory, never destroying the current data. Offline only.
//!
//! 1. Takes the lock of the current data directory (a running broker holds
//!    it: refused) and keeps it to the end.
//! 2. Verifies the backup with the same survey as `stowage check`: damage
//!    refuses the restore; crash leftovers (above all the index a fresh
//!    backup does not have) are what the first start repairs. Then holds
//!    the backup's lock too.
//! 3. Copies the backup into `DIR.restoring-<time>` next to `DIR` (same file
//!    system), fsyncs every file and directory, verifies the copy, and gives
//!    it the owner and mode of the current `DIR`.
//! 4. Renames `DIR` to `DIR.before-restore-<time>`, then the copy to `DIR`,
//!    syncing the parent directory after each rename.
//!
//! Interrupted before step 4, `DIR` is untouched (remove the `.restoring-`
//! directory); between its two renames, `DIR` is absent and both
//! directories are complete (rename `DIR.restoring-<time>` to `DIR`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use storage::check::{check, CheckReport};
use storage::io::{FileSystem, RealFs};
use storage::{DirLock, StorageError};

use crate::auth::AmzDate;
use crate::config::{Config, Overrides};

/// The data directory's lock file: never copied (each directory has its own).
const LOCK_FILE: &str = "LOCK";
/// The log directory: what makes a directory a data directory (or a backup).
const WAL_DIR: &str = "wal";

/// `stowage restore …`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backup: a directory written by `stowage backup` (or any stopped
    /// data directory). The data directory to replace is `--data-dir DIR`
    /// (or the configuration's `data_dir`).
    pub backup: PathBuf,
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Bad input (no such backup, overlapping directories, …).
    #[error("{0}")]
    Usage(String),
    /// The backup has damage (the findings were printed).
    #[error("{0} is damaged (see the findings above): refusing to restore it")]
    Damaged(PathBuf),
    /// A process (a running broker) holds a directory's lock.
    #[error(
        "{0} is in use by a running broker (its lock is held): stop the broker first, restore runs offline only"
    )]
    InUse(PathBuf),
    /// The copy does not verify like the backup.
    #[error("the copy {copy} does not match the backup: {what}")]
    BadCopy {
        /// The copy (removed again).
        copy: PathBuf,
        /// What differs.
        what: String,
    },
    /// The configuration is invalid.
    #[error("configuration error: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The storage layer failed (verification, locking).
    #[error(transparent)]
    Storage(StorageError),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl RestoreError {
    fn exit_code(&self) -> u8 {
        match self {
            RestoreError::Usage(_) | RestoreError::Config(_) => 2,
            _ => 1,
        }
    }

    fn storage(dir: &Path, e: StorageError) -> RestoreError {
        match e {
            StorageError::Locked(_) => RestoreError::InUse(dir.to_path_buf()),
            e => RestoreError::Storage(e),
        }
    }
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RestoreError + 'a {
    move |source| RestoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Entry point: resolves the data directory from the configuration layers,
/// restores, prints what happened. Exit status 0; 1 when refused (damaged
/// backup, directory in use) or failed; 2 for usage or configuration errors.
pub fn run(args: &Args, config_file: Option<&Path>, overrides: &Overrides) -> ExitCode {
    let result = Config::load(config_file, std::env::vars(), overrides)
        .map_err(RestoreError::from)
        .and_then(|config| restore(&args.backup, &config.data_dir, &mut std::io::stdout()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stowage restore: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Where the data directory goes: its parent (canonical, created if
/// missing) and its name.
fn locate(data_dir: &Path) -> Result<(PathBuf, String), RestoreError> {
    let absolute = std::path::absolute(data_dir).map_err(io_err("cannot resolve", data_dir))?;
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return Err(RestoreError::Usage(format!(
            "--data-dir {} does not name a directory",
            data_dir.display()
        )));
    };
    let Some(name) = name.to_str() else {
        return Err(RestoreError::Usage(format!(
            "--data-dir {}: the name is not UTF-8",
            data_dir.display()
        )));
    };
    std::fs::create_dir_all(parent).map_err(io_err("cannot create", parent))?;
    let parent = std::fs::canonicalize(parent).map_err(io_err("cannot resolve", parent))?;
    Ok((parent, name.to_owned()))
}

/// Verifies `dir` (a backup or its copy) like `stowage check`, printing the
/// report (always, or only when it finds damage); refuses damage.
fn verify(dir: &Path, print: bool) -> Result<CheckReport, RestoreError> {
    let report = check(dir).map_err(|e| RestoreError::storage(dir, e))?;
    let damaged = !report.only_crash_leftovers();
    if print || damaged {
        crate::cli::check::print_report(dir, &report);
    }
    if damaged {
        return Err(RestoreError::Damaged(dir.to_path_buf()));
    }
    Ok(report)
}

/// Restores `backup` into `data_dir` (see the module docs).
pub fn restore(backup: &Path, data_dir: &Path, out: &mut dyn Write) -> Result<(), RestoreError> {
    if !backup.join(WAL_DIR).is_dir() {
        return Err(RestoreError::Usage(format!(
            "{} is not a Stowage backup or data directory (no {WAL_DIR}/ in it)",
            backup.display()
        )));
    }
    let backup = std::fs::canonicalize(backup).map_err(io_err("cannot resolve", backup))?;
    let (parent, name) = locate(data_dir)?;
    let target = parent.join(&name);
    if target == backup || target.starts_with(&backup) || backup.starts_with(&target) {
        return Err(RestoreError::Usage(format!(
            "the backup {} and the data directory {} overlap: restore into another directory, or start on the backup itself (--data-dir {})",
            backup.display(),
            target.display(),
            backup.display()
        )));
    }

    let current = current_data_dir(&target)?;
    let _current_lock = match &current {
        Some(_) => Some(DirLock::acquire(&target).map_err(|e| RestoreError::storage(&target, e))?),
        None => None,
    };
    let report = verify(&backup, true)?;
    let _backup_lock = DirLock::acquire(&backup).map_err(|e| RestoreError::storage(&backup, e))?;

    let stamp = AmzDate::from_unix_ms(i64::try_from(crate::admin::now_ms()).unwrap_or(i64::MAX))
        .to_string();
    let staging = parent.join(format!("{name}.restoring-{stamp}"));
    std::fs::create_dir(&staging).map_err(io_err("cannot create", &staging))?;
    if let Err(e) = fill(&backup, &staging, current.as_ref(), &report) {
        // Only our own copy goes: nothing of the user's.
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }

    let aside = parent.join(format!("{name}.before-restore-{stamp}"));
    if current.is_some() {
        std::fs::rename(&target, &aside).map_err(io_err("cannot move aside", &target))?;
        sync_dir(&parent)?;
    }
    std::fs::rename(&staging, &target).map_err(io_err("cannot move into place", &staging))?;
    sync_dir(&parent)?;

    writeln!(
        out,
        "restored {} into {}: {} segment(s), {} record(s); the index is rebuilt at the first start",
        backup.display(),
        target.display(),
        report.segments,
        report.records
    )
    .map_err(io_err("cannot write to", Path::new("stdout")))?;
    if current.is_some() {
        writeln!(
            out,
            "the previous data directory is kept as {} (remove it once the restored broker runs as expected)",
            aside.display()
        )
        .map_err(io_err("cannot write to", Path::new("stdout")))?;
    }
    Ok(())
}

/// The current data directory's metadata, if it exists; refuses a file or
/// a non-empty directory that is not a data directory (it would be moved).
fn current_data_dir(target: &Path) -> Result<Option<std::fs::Metadata>, RestoreError> {
    let meta = match std::fs::metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot read", target)(e)),
    };
    if !meta.is_dir() {
        return Err(RestoreError::Usage(format!(
            "{} is not a directory",
            target.display()
        )));
    }
    let empty = std::fs::read_dir(target)
        .map_err(io_err("cannot read", target))?
        .next()
        .is_none();
    if !empty && !target.join(WAL_DIR).is_dir() {
        return Err(RestoreError::Usage(format!(
            "{} is not a Stowage data directory (no {WAL_DIR}/ in it): refusing to move it aside",
            target.display()
        )));
    }
    Ok(Some(meta))
}

/// Copies the backup into `staging`, synced, with the current data
/// directory's owner and mode, and verifies the copy against `report`.
fn fill(
    backup: &Path,
    staging: &Path,
    current: Option<&std::fs::Metadata>,
    report: &CheckReport,
) -> Result<(), RestoreError> {
    copy_tree(backup, staging, true)?;
    sync_dir(staging)?;
    let copied = verify(staging, false)?;
    if (copied.segments, copied.records, copied.last_lsn)
        != (report.segments, report.records, report.last_lsn)
    {
        return Err(RestoreError::BadCopy {
            copy: staging.to_path_buf(),
            what: format!(
                "{} segment(s), {} record(s), last LSN {:?} instead of {}, {}, {:?}",
                copied.segments,
                copied.records,
                copied.last_lsn,
                report.segments,
                report.records,
                report.last_lsn
            ),
        });
    }
    // Last: the verification created the copy's lock file.
    if let Some(meta) = current {
        take_over(staging, meta)?;
        sync_dir(staging)?;
    }
    Ok(())
}

/// Copies the directory tree `from` into the existing directory `to`
/// (regular files and directories; at the top, not the lock file), syncing
/// every file and directory.
fn copy_tree(from: &Path, to: &Path, top: bool) -> Result<(), RestoreError> {
    for entry in std::fs::read_dir(from).map_err(io_err("cannot read", from))? {
        let entry = entry.map_err(io_err("cannot read", from))?;
        let source = entry.path();
        if top && entry.file_name() == LOCK_FILE {
            continue;
        }
        let dest = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err("cannot read", &source))?;
        if kind.is_dir() {
            std::fs::create_dir(&dest).map_err(io_err("cannot create", &dest))?;
            copy_tree(&source, &dest, false)?;
            sync_dir(&dest)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &dest).map_err(io_err("cannot copy", &source))?;
            std::fs::File::open(&dest)
                .and_then(|f| f.sync_all())
                .map_err(io_err("cannot sync", &dest))?;
        } else {
            return Err(RestoreError::Usage(format!(
                "{} is neither a file nor a directory: a backup holds only those",
                source.display()
            )));
        }
    }
    Ok(())
}

/// Gives the tree `dir` the owner of `meta` (when it differs from ours: a
/// restore run as root for a broker running as its own user) and the top
/// directory its mode.
#[cfg(unix)]
fn take_over(dir: &Path, meta: &std::fs::Metadata) -> Result<(), RestoreError> {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata(dir).map_err(io_err("cannot read", dir))?;
    if (ours.uid(), ours.gid()) != (meta.uid(), meta.gid()) {
        chown_tree(dir, meta.uid(), meta.gid())?;
    }
    std::fs::set_permissions(dir, meta.permissions()).map_err(io_err("cannot set the mode of", dir))
}

#[cfg(unix)]
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), RestoreError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|source| RestoreError::Io {
        what: "cannot give the data directory's owner (run the restore as that user or as root) to",
        path: path.to_path_buf(),
        source,
    })?;
    if std::fs::symlink_metadata(path)
        .map_err(io_err("cannot read", path))?
        .is_dir()
    {
        for entry in std::fs::read_dir(path).map_err(io_err("cannot read", path))? {
            let entry = entry.map_err(io_err("cannot read", path))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn take_over(dir: &Path, meta: &std::fs::Metadata) -> Result<(), RestoreError> {
    std::fs::set_permissions(dir, meta.permissions()).map_err(io_err("cannot set the mode of", dir))
}

fn sync_dir(dir: &Path) -> Result<(), RestoreError> {
    RealFs.sync_dir(dir).map_err(io_err("cannot sync", dir))
}
