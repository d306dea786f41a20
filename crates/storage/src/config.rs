//! `StorageConfig`: the storage layer's part of the configuration file
//! (`[storage]` in `config/stowage.toml`).

use serde::{Deserialize, Serialize};

/// When an append is acknowledged relative to `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Acknowledge only after the group's `fdatasync` returned. Nothing
    /// acknowledged is lost on a crash or power failure. Default.
    #[default]
    Always,
    /// Acknowledge once written to the OS; `fdatasync` every
    /// `fsync_interval_ms`. A process crash loses nothing; a power failure or
    /// kernel crash can lose the acknowledged appends of the last interval.
    Interval,
    /// Acknowledge once written to the OS; never `fdatasync` (except at clean
    /// shutdown). A power failure can lose any amount of acknowledged data.
    /// For tests and throwaway development queues only.
    Never,
}

/// Storage settings. Every field's doc ends with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Maximum size of one WAL segment file before the writer rotates to a new
    /// one. A single batch larger than this gets a segment of its own.
    /// Default: 67108864 (64 MiB).
    pub segment_size_bytes: u64,
    /// `always`, `interval` or `never` (see [`Durability`]). Default: `always`.
    pub durability: Durability,
    /// With `durability = "interval"`: milliseconds between fsyncs. Default: 100.
    pub fsync_interval_ms: u64,
    /// A sealed segment whose live bytes fall below this fraction of its size
    /// is compacted (live records re-appended at the head, file deleted).
    /// Default: 0.5.
    pub compaction_live_ratio: f64,
    /// Start even though the log is damaged, discarding what the damage
    /// makes unreachable: a damaged frame in the last segment is cut there
    /// (with every complete record after it), and missing segments or a
    /// missing segment manifest are accepted (the manifest is rewritten from
    /// the segments present). What was discarded is logged and counted in
    /// `Recovered::dropped_records`. For one start after an operator decided
    /// to accept the loss (`stowage --repair-wal`); damage in a sealed
    /// segment is refused even so. Default: false.
    pub repair: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            segment_size_bytes: 64 * 1024 * 1024,
            durability: Durability::Always,
            fsync_interval_ms: 100,
            compaction_live_ratio: 0.5,
            repair: false,
        }
    }
}

impl StorageConfig {
    /// Checks value ranges; returns a message naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if self.segment_size_bytes < 4096 {
            return Err("storage.segment_size_bytes must be at least 4096".into());
        }
        if self.segment_size_bytes > u64::from(u32::MAX) {
            return Err("storage.segment_size_bytes must be below 4 GiB".into());
        }
        if self.durability == Durability::Interval && self.fsync_interval_ms == 0 {
            return Err("storage.fsync_interval_ms must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.compaction_live_ratio) {
            return Err("storage.compaction_live_ratio must be between 0.0 and 1.0".into());
        }
        Ok(())
    }
}
