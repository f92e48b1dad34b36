use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::InvalidSetting;

/// Gateway checks on top of the schemas' own rules.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted payload in bytes; larger ones are dead-lettered unread.
    pub max_payload_bytes: usize,
    /// How far a sample's time may lie ahead of the gateway clock (device clock drift).
    #[serde(with = "humantime_serde")]
    pub max_future: Duration,
    /// How old a sample may be (devices upload hours of backlog after a coverage gap).
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_payload_bytes: 256 * 1024,
            max_future: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Limits {
    /// The `[limits]` part of the gateway's config validation.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.max_payload_bytes == 0 {
            return Err(InvalidSetting::new(
                "limits.max_payload_bytes",
                "is 0",
                "set the largest payload to accept, e.g. 262144",
            ));
        }
        if self.max_age.is_zero() {
            return Err(InvalidSetting::new(
                "limits.max_age",
                "is 0",
                "allow at least the longest coverage gap, e.g. \"7d\"",
            ));
        }
        Ok(())
    }
}
