use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::InvalidSetting;

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
    /// The `[feedback]` part of [`crate::Config::validate`].
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let prefix = self.prefix.trim_end_matches('/');
        if (self.dead_letter_envelope || self.status) && !telegate_mqtt::mqtt_string::is_legal_topic(prefix) {
            return Err(InvalidSetting::new(
                "feedback.prefix",
                format!("`{}` is not a topic prefix", self.prefix),
                "set a topic without wildcards, e.g. \"telegate/device\"",
            ));
        }
        if self.status && self.status_interval < Duration::from_secs(1) {
            return Err(InvalidSetting::new(
                "feedback.status_interval",
                format!("{:?} is shorter than 1s", self.status_interval),
                "set at least \"1s\"; \"60s\" keeps a metered link's cost low",
            ));
        }
        Ok(())
    }

    /// `{prefix}/{device_id}/{leaf}`.
    pub(crate) fn topic(&self, device_id: &str, leaf: &str) -> String {
        format!("{}/{device_id}/{leaf}", self.prefix.trim_end_matches('/'))
    }
}
