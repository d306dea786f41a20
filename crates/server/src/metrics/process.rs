//! Process figures read from `/proc/self` (Linux). Elsewhere they are absent
//! rather than wrong.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// When this process started, as far as metrics know: the first call to
/// [`mark_start`] (the server calls it first thing in `main`).
static START: OnceLock<(Instant, SystemTime)> = OnceLock::new();

/// Fixes the process start time (idempotent).
pub(crate) fn mark_start() -> (Instant, SystemTime) {
    *START.get_or_init(|| (Instant::now(), SystemTime::now()))
}

/// Seconds since [`mark_start`].
pub(crate) fn uptime_seconds() -> f64 {
    mark_start().0.elapsed().as_secs_f64()
}

/// Start time, seconds since the Unix epoch.
pub(crate) fn start_time_seconds() -> f64 {
    mark_start()
        .1
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Resident set size in bytes (`VmRSS` of `/proc/self/status`).
pub(crate) fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_rss(&status)
}

/// Open file descriptors (entries of `/proc/self/fd`, including the one
/// used to list them, as other Prometheus clients count).
pub(crate) fn open_fds() -> Option<u64> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.count() as u64)
}

/// Soft limit on open files (`/proc/self/limits`).
pub(crate) fn max_fds() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_max_open_files(&limits)
}

/// `VmRSS:    1234 kB` → bytes.
pub(crate) fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next()?.parse().ok()?;
    let factor = match parts.next() {
        Some("kB") | Some("KB") => 1024,
        Some("mB") | Some("MB") => 1024 * 1024,
        _ => 1,
    };
    value.checked_mul(factor)
}

/// `Max open files   1024   4096   files` → the soft limit.
pub(crate) fn parse_max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}
