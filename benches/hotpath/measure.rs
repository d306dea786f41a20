//! What the rows are measured with: CPU time of a process (from
//! `/proc/<pid>/stat`, the same figure `getrusage` gives, for a process that
//! is not our child as well as for ourselves), the raw `write + fdatasync`
//! baseline on the benchmark's disk, percentiles, the machine's load.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// User + system CPU time consumed so far by process `pid` (all its threads,
/// living and exited), or `None` if it cannot be read.
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_micros(
        (utime + stime) * 1_000_000 / TICKS_PER_SECOND,
    ))
}

/// User + system CPU time of process `pid`, of its living children and of
/// the children it has reaped (`cutime`, `cstime`): a PostgreSQL server's
/// whole cost, its backends included, from its postmaster's PID.
pub(crate) fn tree_cpu_time(pid: u32) -> Duration {
    let reaped = || -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        // cutime and cstime are fields 16 and 17.
        let mut fields = rest.split_whitespace().skip(13);
        let cutime: u64 = fields.next()?.parse().ok()?;
        let cstime: u64 = fields.next()?.parse().ok()?;
        Some(Duration::from_micros(
            (cutime + cstime) * 1_000_000 / TICKS_PER_SECOND,
        ))
    };
    let mut total = cpu_time(pid).unwrap_or_default() + reaped().unwrap_or_default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if parent_of(child) == Some(pid) {
            total += cpu_time(child).unwrap_or_default();
        }
    }
    total
}

/// The parent PID of process `pid` (field 4 of its stat line).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time of this process (the load generator).
pub(crate) fn own_cpu_time() -> Duration {
    cpu_time(std::process::id()).unwrap_or_default()
}

/// The `p` quantile (0..=1) of `samples` (sorted in place); zero when empty.
pub(crate) fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

/// The 1-, 5- and 15-minute load averages, as printed by the kernel.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The raw durable-write rate of the disk under a directory: one 1 KiB
/// append + `fdatasync` at a time.
#[derive(Default)]
pub(crate) struct RawSync {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl RawSync {
    pub(crate) fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn quantile(&mut self, p: f64) -> Duration {
        percentile(&mut self.latencies, p)
    }

    /// Adds another measurement (of another round).
    pub(crate) fn absorb(&mut self, other: RawSync) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
    }
}

/// Measures [`RawSync`] in `dir` for `duration`.
pub(crate) fn raw_sync(dir: &Path, duration: Duration) -> RawSync {
    let path = dir.join("raw-fdatasync");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let block = vec![0x5au8; 1024];
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        file.write_all(&block)
            .unwrap_or_else(|e| panic!("write: {e}"));
        file.sync_data()
            .unwrap_or_else(|e| panic!("fdatasync: {e}"));
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    drop(file);
    let _ = std::fs::remove_file(&path);
    RawSync { latencies, elapsed }
}
