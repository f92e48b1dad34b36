use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::InvalidSetting;

/// The `[wal]` config section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// Off: a reading is acknowledged only once InfluxDB stored it (lower
    /// throughput, and an InfluxDB outage parks readings in the broker).
    pub enabled: bool,
    /// Directory of the log, relative to the config file.
    pub dir: String,
    /// A segment is sealed and a new one started past this size (also when
    /// a write fails, e.g. disk full, and at shutdown).
    pub segment_bytes: u64,
    /// Most bytes the log may hold; when full, acknowledgements pause until
    /// InfluxDB drains it.
    pub budget_bytes: u64,
    /// Group commit: one fsync covers the records of at most this long...
    #[serde(with = "humantime_serde")]
    pub commit_linger: Duration,
    /// ...or this many bytes, whichever comes first.
    pub commit_bytes: usize,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: "data/wal".into(),
            segment_bytes: 64 * 1024 * 1024,
            budget_bytes: 2 * 1024 * 1024 * 1024,
            commit_linger: Duration::from_millis(5),
            commit_bytes: 1024 * 1024,
        }
    }
}

impl WalConfig {
    /// The `[wal]` part of the gateway's config validation.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.enabled && self.dir.is_empty() {
            return Err(InvalidSetting::new(
                "wal.dir",
                "is empty but wal.enabled = true",
                "set a directory on a local disk, e.g. \"/var/lib/telegate/wal\"",
            ));
        }
        if self.enabled && self.budget_bytes < 1024 * 1024 {
            return Err(InvalidSetting::new(
                "wal.budget_bytes",
                format!("{} bytes is too small", self.budget_bytes),
                "allow at least 1 MiB (1048576); size it for the longest InfluxDB outage to ride out",
            ));
        }
        if self.commit_bytes == 0 {
            return Err(InvalidSetting::new(
                "wal.commit_bytes",
                "is 0",
                "use the default 1048576",
            ));
        }
        Ok(())
    }
}
