//! `EngineConfig`: the engine's part of the configuration (`[engine]`).

use serde::{Deserialize, Serialize};

/// Engine settings. Every field's doc ends with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Region used in queue ARNs (`arn:aws:sqs:<region>:<account>:<name>`).
    /// Default: `us-east-1`.
    pub region: String,
    /// Secret used to sign receipt handles (HMAC). Empty: derived at first
    /// start and stored in the data directory. Default: empty.
    pub receipt_handle_secret: String,
    /// Maximum number of queues per account. Default: 1000000.
    pub max_queues_per_account: usize,
    /// Milliseconds between background sweeps (delays, visibility expiry,
    /// retention, compaction). Default: 100.
    pub sweep_interval_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            receipt_handle_secret: String::new(),
            max_queues_per_account: 1_000_000,
            sweep_interval_ms: 100,
        }
    }
}
