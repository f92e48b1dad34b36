use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[feedback]`: answers to devices that cannot read MQTT 5 user properties.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackConfig {
    /// Per-device topics live under `{prefix}/{device_id}/`.
    pub prefix: String,
    /// Also publish each dead letter as a `telegate.v1.DeadLetterEnvelope`
    /// to `{prefix}/{device_id}/dead-letter`.
    pub dead_letter_envelope: bool,
    /// Publish a retained `telegate.v1.DeviceStatus` to
    /// `{prefix}/{device_id}/status`.
    pub status: bool,
    /// At most one status per device per this interval.
    #[serde(with = "humantime_serde")]
    pub status_interval: Duration,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self {
            prefix: "telegate/device".into(),
            dead_letter_envelope: false,
            status: false,
            status_interval: Duration::from_secs(60),
        }
    }
}

impl FeedbackConfig {
    /// `{prefix}/{device_id}/{leaf}`.
    pub(crate) fn topic(&self, device_id: &str, leaf: &str) -> String {
        format!("{}/{device_id}/{leaf}", self.prefix.trim_end_matches('/'))
    }
}
