//! `[alerts]`: where the rules are, where their state is kept, and the
//! outputs transitions go to. Every key is documented in
//! `config/telegate.example.toml`; the rules themselves live in their own
//! file (`config/alerts.example.toml`) so they can be reloaded, reviewed and
//! versioned apart from the gateway's plumbing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::Secret;

use crate::config::ConfigError;

/// `[alerts]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The rules file, relative to the config file. Empty: alerting off.
    pub rules_file: String,
    /// Where alert state is kept across restarts (relative to the config file).
    pub state_file: String,
    /// Accepted messages buffered for the evaluator; when full, messages are
    /// skipped by alerting (never by ingestion) and counted.
    pub queue: usize,
    /// How often the state is saved besides after transitions and at shutdown.
    #[serde(with = "humantime_serde")]
    pub snapshot_interval: Duration,
    /// How often the rules file (and this config's `[alerts]` outputs) are
    /// checked for changes; 0s: only on SIGHUP.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
    /// The operator console shows a device "silent" after this long without a reading.
    #[serde(with = "humantime_serde")]
    pub silent_after: Duration,
    pub mqtt: MqttOutputConfig,
    pub influx: InfluxOutputConfig,
    pub webhook: WebhookConfig,
    /// `[alerts.oncall]`: a second webhook (e.g. the on-call chief's) that
    /// receives only escalations of unacknowledged critical alerts, when the
    /// rules file's `[escalation] outputs` names `"oncall"`.
    pub oncall: WebhookConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            rules_file: String::new(),
            state_file: "data/alerts-state.json".into(),
            queue: 4096,
            snapshot_interval: Duration::from_secs(30),
            reload_interval: Duration::from_secs(2),
            silent_after: Duration::from_secs(30 * 60),
            mqtt: MqttOutputConfig::default(),
            influx: InfluxOutputConfig::default(),
            webhook: WebhookConfig::default(),
            oncall: WebhookConfig::default(),
        }
    }
}

/// How an output retries a failed delivery: capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// `[alerts.mqtt]`: every transition as JSON to
/// `{topic_prefix}/{site}/{device_id}/{rule_id}`, QoS 1, on a connection of
/// its own to the `[mqtt]` broker.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttOutputConfig {
    pub enabled: bool,
    pub topic_prefix: String,
    /// Retain the last transition of each topic (a dashboard then sees each
    /// alert's latest state on subscribing).
    pub retain: bool,
    /// Transitions waiting for the broker; when full, new ones are dropped and counted.
    pub queue: usize,
    /// How long to wait for the broker's PUBACKs before retrying.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for MqttOutputConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            topic_prefix: "telegate/alerts".into(),
            retain: false,
            queue: 1024,
            timeout: Duration::from_secs(10),
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// `[alerts.influx]`: every transition as a point of the `alerts`
/// measurement, to the `[influx]` database (or the `[file_sink]` files).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxOutputConfig {
    pub enabled: bool,
    pub queue: usize,
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for InfluxOutputConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            queue: 1024,
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// `[alerts.webhook]`: every transition POSTed as JSON.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// `http(s)://…`; empty: no webhook.
    pub url: String,
    /// Sent as `Authorization: Bearer …` when set. Prefer `token_file` or `token_env`.
    pub token: Secret,
    pub token_file: String,
    pub token_env: String,
    /// Timeout of one request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per transition before it is dropped (logged, counted); 0: no limit.
    pub max_attempts: u32,
    pub queue: usize,
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: Secret::default(),
            token_file: String::new(),
            token_env: String::new(),
            timeout: Duration::from_secs(5),
            max_attempts: 10,
            queue: 1024,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
        }
    }
}

impl MqttOutputConfig {
    pub fn retry(&self) -> Retry {
        Retry {
            retry_initial: self.retry_initial,
            retry_max: self.retry_max,
        }
    }
}

impl InfluxOutputConfig {
    pub fn retry(&self) -> Retry {
        Retry {
            retry_initial: self.retry_initial,
            retry_max: self.retry_max,
        }
    }
}

impl WebhookConfig {
    pub fn retry(&self) -> Retry {
        Retry {
            retry_initial: self.retry_initial,
            retry_max: self.retry_max,
        }
    }
}

impl AlertsConfig {
    /// Alerting runs only with a rules file.
    pub fn enabled(&self) -> bool {
        !self.rules_file.is_empty()
    }

    /// Keys that a reload does not apply (outputs and the rules file are
    /// applied live): a change is logged as needing a restart.
    pub fn restart_only_changes(&self, new: &AlertsConfig) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if new.rules_file.is_empty() && !self.rules_file.is_empty() {
            keys.push("alerts.rules_file (turning alerting off)");
        }
        if new.state_file != self.state_file {
            keys.push("alerts.state_file");
        }
        if new.queue != self.queue {
            keys.push("alerts.queue");
        }
        if new.snapshot_interval != self.snapshot_interval {
            keys.push("alerts.snapshot_interval");
        }
        if new.reload_interval != self.reload_interval {
            keys.push("alerts.reload_interval");
        }
        if new.silent_after != self.silent_after {
            keys.push("alerts.silent_after");
        }
        keys
    }

    /// The `[alerts]` part of [`crate::Config::validate`].
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: String, fix: &str| ConfigError::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            problem,
            fix: fix.to_owned(),
        };
        if self.enabled() && self.state_file.is_empty() {
            return Err(bad(
                "alerts.state_file",
                "is empty but alerts.rules_file is set".into(),
                "set a file on a local disk, e.g. \"data/alerts-state.json\", so alerts survive a restart",
            ));
        }
        for (key, n) in [
            ("alerts.queue", self.queue),
            ("alerts.mqtt.queue", self.mqtt.queue),
            ("alerts.influx.queue", self.influx.queue),
            ("alerts.webhook.queue", self.webhook.queue),
            ("alerts.oncall.queue", self.oncall.queue),
        ] {
            if n == 0 {
                return Err(bad(
                    key,
                    "is 0".into(),
                    "use the default (4096 for alerts.queue, 1024 for outputs)",
                ));
            }
        }
        for (key, d, fix) in [
            ("alerts.snapshot_interval", self.snapshot_interval, "e.g. \"30s\""),
            ("alerts.silent_after", self.silent_after, "e.g. \"30m\""),
            ("alerts.mqtt.timeout", self.mqtt.timeout, "e.g. \"10s\""),
            ("alerts.webhook.timeout", self.webhook.timeout, "e.g. \"5s\""),
            ("alerts.oncall.timeout", self.oncall.timeout, "e.g. \"5s\""),
        ] {
            if d.is_zero() {
                return Err(bad(key, "is 0".into(), fix));
            }
        }
        for (section, r) in [
            ("alerts.mqtt", self.mqtt.retry()),
            ("alerts.influx", self.influx.retry()),
            ("alerts.webhook", self.webhook.retry()),
            ("alerts.oncall", self.oncall.retry()),
        ] {
            if r.retry_initial.is_zero() || r.retry_max < r.retry_initial {
                return Err(bad(
                    &format!("{section}.retry_initial"),
                    format!("must be above 0 and at most {section}.retry_max"),
                    "e.g. retry_initial = \"500ms\", retry_max = \"30s\"",
                ));
            }
        }
        let prefix = &self.mqtt.topic_prefix;
        if self.mqtt.enabled
            && (prefix.is_empty()
                || prefix.contains(['+', '#', '\0'])
                || prefix.starts_with('/')
                || prefix.ends_with('/'))
        {
            return Err(bad(
                "alerts.mqtt.topic_prefix",
                format!("`{prefix}` is not a topic prefix"),
                "use plain topic levels without wildcards or a leading/trailing `/`, e.g. \"telegate/alerts\"",
            ));
        }
        for (key, url) in [
            ("alerts.webhook.url", &self.webhook.url),
            ("alerts.oncall.url", &self.oncall.url),
        ] {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    key,
                    format!("`{url}` is not an http(s) URL"),
                    "e.g. \"https://alerts.example.org/telegate\", or \"\" for no webhook",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(c: &AlertsConfig) -> String {
        c.validate("t.toml")
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn defaults_are_valid_and_off() {
        let c = AlertsConfig::default();
        assert!(!c.enabled());
        assert_eq!(problem(&c), "");
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let mut c = AlertsConfig {
            rules_file: "alerts.toml".into(),
            ..AlertsConfig::default()
        };
        assert_eq!(problem(&c), "");
        c.mqtt.topic_prefix = "alerts/#".into();
        assert!(problem(&c).contains("key `alerts.mqtt.topic_prefix`"));
        c.mqtt.topic_prefix = "telegate/alerts".into();
        c.webhook.url = "ftp://x".into();
        assert!(problem(&c).contains("key `alerts.webhook.url`"));
        c.webhook.url = String::new();
        c.influx.retry_max = Duration::from_millis(1);
        assert!(problem(&c).contains("key `alerts.influx.retry_initial`"));
        c.influx.retry_max = Duration::from_secs(1);
        c.queue = 0;
        assert!(problem(&c).contains("key `alerts.queue`: is 0"));
    }
}
