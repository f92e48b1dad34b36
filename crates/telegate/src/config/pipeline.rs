//! `[pipeline]`: queues between stages and shutdown.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::InvalidSetting;

/// `[pipeline]`: queues between stages and shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Messages buffered between the decoder and the writer.
    pub write_queue: usize,
    /// Rejected messages buffered before the dead-letter publisher.
    pub dead_letter_queue: usize,
    /// How long SIGTERM/SIGINT may take to drain and flush before giving up
    /// (unfinished messages stay unacknowledged and the broker redelivers them;
    /// with the WAL, the writer stores the log within it, the rest is replayed).
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// How often a one-line summary is logged; 0s disables it.
    #[serde(with = "humantime_serde")]
    pub stats_interval: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            write_queue: 1024,
            dead_letter_queue: 256,
            shutdown_timeout: Duration::from_secs(15),
            stats_interval: Duration::from_secs(60),
        }
    }
}

impl PipelineConfig {
    /// The `[pipeline]` part of [`crate::Config::validate`].
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (key, n) in [
            ("pipeline.write_queue", self.write_queue),
            ("pipeline.dead_letter_queue", self.dead_letter_queue),
        ] {
            if n == 0 {
                return Err(InvalidSetting::new(
                    key,
                    "is 0: the queue must hold at least one message",
                    "use the default (1024 for write_queue, 256 for dead_letter_queue)",
                ));
            }
        }
        Ok(())
    }
}
