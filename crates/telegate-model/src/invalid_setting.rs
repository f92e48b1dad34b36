//! A config value that cannot work, found by the section that owns the key.

use thiserror::Error;

/// One key of a config section with a value that cannot work: the key, what
/// is wrong with it, and how to fix it.
///
/// Each section checks itself beside its struct, in the crate that owns the
/// section (`MqttConfig::validate` in telegate-mqtt, ...); the section does
/// not know which file it came from, so the gateway's `Config::validate`
/// adds the file name in one place.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("key `{key}`: {problem}. Fix: {fix}")]
pub struct InvalidSetting {
    /// The dotted key, e.g. `mqtt.port`.
    pub key: String,
    /// What is wrong, e.g. "is 0".
    pub problem: String,
    /// What to set instead.
    pub fix: String,
}

impl InvalidSetting {
    pub fn new(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
