//! `FaultyFs`: a [`FileSystem`] wrapper that fails chosen calls and can
//! simulate a crash (power loss) by dropping every byte that was not synced.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{FileSystem, RealFs, SegmentFile};

/// The kinds of call `FaultyFs` can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultOp {
    /// `SegmentFile::append`.
    Append,
    /// `SegmentFile::sync_data`.
    SyncData,
    /// `SegmentFile::set_len`.
    SetLen,
    /// `SegmentFile::read_at`.
    ReadAt,
    /// `FileSystem::create`.
    Create,
    /// `FileSystem::remove`.
    Remove,
    /// `FileSystem::rename`.
    Rename,
    /// `FileSystem::sync_dir`.
    SyncDir,
}

#[derive(Default)]
struct Track {
    /// Bytes known to be durable.
    synced_len: u64,
    /// Bytes written so far.
    written_len: u64,
    /// The directory entry is durable.
    entry_synced: bool,
}

#[derive(Default)]
struct State {
    /// op → remaining calls before the failing one (1 = the next call fails).
    fail_in: HashMap<FaultOp, u64>,
    files: HashMap<PathBuf, Track>,
    crashed: bool,
}

/// Fault-injecting file system (tests and the `failpoints` feature only).
#[derive(Clone, Default)]
pub struct FaultyFs {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FaultyFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultyFs")
    }
}

fn injected(op: FaultOp) -> io::Error {
    io::Error::other(format!("injected {op:?} failure"))
}

impl FaultyFs {
    /// A wrapper that does not fail anything yet.
    pub fn new() -> FaultyFs {
        FaultyFs::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the `n`-th next call of `op` fail (1 = the very next one), and
    /// every later one of the same kind.
    pub fn fail_nth(&self, op: FaultOp, n: u64) {
        self.lock().fail_in.insert(op, n.max(1));
    }

    /// Simulates a power failure: every file is cut back to its synced length,
    /// files whose directory entry was never synced disappear, and every later
    /// call fails. Drop the `Storage` afterwards and reopen with a new `FaultyFs`.
    pub fn crash(&self) -> io::Result<()> {
        let mut st = self.lock();
        st.crashed = true;
        for (path, t) in &st.files {
            if !t.entry_synced {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            } else if t.synced_len < t.written_len {
                match std::fs::OpenOptions::new().write(true).open(path) {
                    Ok(f) => f.set_len(t.synced_len)?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Fails if crashed or if `op` is due to fail.
    fn check(&self, op: FaultOp) -> io::Result<()> {
        let mut st = self.lock();
        if st.crashed {
            return Err(io::Error::other("simulated crash: file system gone"));
        }
        if let Some(n) = st.fail_in.get_mut(&op) {
            if *n <= 1 {
                *n = 1;
                return Err(injected(op));
            }
            *n -= 1;
        }
        Ok(())
    }
}

struct FaultyFile {
    inner: Arc<dyn SegmentFile>,
    path: PathBuf,
    fs: FaultyFs,
}

impl SegmentFile for FaultyFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.fs.check(FaultOp::Append)?;
        self.inner.append(buf)?;
        let len = self.inner.len()?;
        if let Some(t) = self.fs.lock().files.get_mut(&self.path) {
            t.written_len = len;
        }
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        self.fs.check(FaultOp::SyncData)?;
        self.inner.sync_data()?;
        let len = self.inner.len()?;
        if let Some(t) = self.fs.lock().files.get_mut(&self.path) {
            t.synced_len = len;
            t.written_len = len;
        }
        Ok(())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fs.check(FaultOp::SetLen)?;
        self.inner.set_len(len)?;
        if let Some(t) = self.fs.lock().files.get_mut(&self.path) {
            t.written_len = len;
            t.synced_len = t.synced_len.min(len);
        }
        Ok(())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.fs.check(FaultOp::ReadAt)?;
        self.inner.read_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl FileSystem for FaultyFs {
    fn create(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        self.check(FaultOp::Create)?;
        let inner = RealFs.create(path)?;
        self.lock()
            .files
            .insert(path.to_path_buf(), Track::default());
        Ok(Arc::new(FaultyFile {
            inner,
            path: path.to_path_buf(),
            fs: self.clone(),
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn SegmentFile>> {
        if self.lock().crashed {
            return Err(io::Error::other("simulated crash: file system gone"));
        }
        let inner = RealFs.open(path)?;
        let len = inner.len()?;
        self.lock()
            .files
            .entry(path.to_path_buf())
            .or_insert(Track {
                synced_len: len,
                written_len: len,
                entry_synced: true,
            });
        Ok(Arc::new(FaultyFile {
            inner,
            path: path.to_path_buf(),
            fs: self.clone(),
        }))
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.check(FaultOp::Remove)?;
        RealFs.remove(path)?;
        self.lock().files.remove(path);
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(FaultOp::Rename)?;
        RealFs.rename(from, to)?;
        // Simplification: the renamed file keeps its sync state, and the
        // new entry counts as durable once the directory is synced.
        let mut st = self.lock();
        if let Some(mut t) = st.files.remove(from) {
            t.entry_synced = false;
            st.files.insert(to.to_path_buf(), t);
        }
        Ok(())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.check(FaultOp::SyncDir)?;
        RealFs.sync_dir(path)?;
        for (p, t) in self.lock().files.iter_mut() {
            if p.parent() == Some(path) {
                t.entry_synced = true;
            }
        }
        Ok(())
    }
}
