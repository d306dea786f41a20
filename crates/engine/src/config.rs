//! `EngineConfig`: the engine's part of the configuration (`[engine]`).

use serde::{Deserialize, Serialize};

/// Engine settings. Every field's doc ends with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Region used in queue ARNs (`arn:aws:sqs:<region>:<account>:<name>`).
    /// Default: `us-east-1`.
    pub region: String,
    /// Extra secret mixed into every queue's receipt-handle HMAC key. Each
    /// queue already has its own random key, kept in its durable state, so
    /// this is optional; changing it invalidates outstanding receipt handles.
    /// Default: empty.
    pub receipt_handle_secret: String,
    /// Maximum number of queues per account. Default: 1000000.
    pub max_queues_per_account: usize,
    /// Milliseconds between background sweeps (delays, visibility expiry,
    /// retention, compaction). Default: 100.
    pub sweep_interval_ms: u64,
    /// AWS's timing rules: a deleted queue's name can be reused only after
    /// 60 s (`QueueDeletedRecently`), and a queue can be purged once per 60 s
    /// (`PurgeQueueInProgress`). `false` drops both guards, for test suites
    /// that delete, recreate and purge queues between tests. Default: true.
    pub strict_timing: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            receipt_handle_secret: String::new(),
            max_queues_per_account: 1_000_000,
            sweep_interval_ms: 100,
            strict_timing: true,
        }
    }
}
