//! `[alerts]`: where the rules are, where their state is kept, and the
//! outputs transitions go to. Every key is documented in
//! `config/telegate.example.toml`; the rules themselves live in their own
//! file (`config/alerts.example.toml`) so they can be reloaded, reviewed and
//! versioned apart from the gateway's plumbing.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::{InvalidSetting, Secret};

use super::text::Lang;

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
    pub email: EmailConfig,
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
            email: EmailConfig::default(),
        }
    }
}

/// How an output retries a failed delivery: capped exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Retry {
    /// A fresh backoff for one output (capped, jittered: `telegate_model::retry`).
    pub(crate) fn backoff(&self) -> telegate_model::retry::Backoff {
        telegate_model::retry::Backoff::new(self.retry_initial, self.retry_max)
    }
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
    /// Body template for chat bots (Telegram, Slack, Zalo…): placeholders
    /// become JSON-escaped strings (see [`crate::alerting::outputs::webhook`]).
    /// Empty: the transition's JSON.
    pub body: String,
    /// Language of `{subject}`, `{body}` and `{text}` in `body`.
    pub language: Lang,
    /// Send the token in this header, as is (e.g. Zalo's `access_token`),
    /// instead of `Authorization: Bearer`.
    pub token_header: String,
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
            body: String::new(),
            language: Lang::Vi,
            token_header: String::new(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connect, then STARTTLS, which is required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host.
    None,
}

/// `[alerts.email]`: every transition as an email, in Vietnamese or English.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// SMTP server host name (also the name its certificate must carry);
    /// empty: no email.
    pub server: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// PEM file of extra CA certificates (a private CA); the system's roots
    /// are trusted as well.
    pub ca_file: String,
    /// Name sent in EHLO; empty: `localhost`.
    pub hello_name: String,
    /// AUTH user; empty: no authentication.
    pub username: String,
    /// Prefer `password_file` or `password_env`.
    pub password: Secret,
    pub password_file: String,
    pub password_env: String,
    /// `Name <address>` or `address`.
    pub from: String,
    /// Recipients, each `Name <address>` or `address`.
    pub to: Vec<String>,
    /// Language of subject and body.
    pub language: Lang,
    /// Transitions of a lower severity are not emailed.
    pub min_severity: telegate_alert::Severity,
    /// Timeout of one SMTP session (connect to QUIT).
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

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            server: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            ca_file: String::new(),
            hello_name: String::new(),
            username: String::new(),
            password: Secret::default(),
            password_file: String::new(),
            password_env: String::new(),
            from: String::new(),
            to: Vec::new(),
            language: Lang::Vi,
            min_severity: telegate_alert::Severity::Info,
            timeout: Duration::from_secs(30),
            max_attempts: 10,
            queue: 1024,
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
        }
    }
}

impl EmailConfig {
    pub fn enabled(&self) -> bool {
        !self.server.is_empty()
    }

    pub fn retry(&self) -> Retry {
        Retry {
            retry_initial: self.retry_initial,
            retry_max: self.retry_max,
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
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.enabled() && self.state_file.is_empty() {
            return Err(InvalidSetting::new(
                "alerts.state_file",
                "is empty but alerts.rules_file is set",
                "set a file on a local disk, e.g. \"data/alerts-state.json\", so alerts survive a restart",
            ));
        }
        for (key, n) in [
            ("alerts.queue", self.queue),
            ("alerts.mqtt.queue", self.mqtt.queue),
            ("alerts.influx.queue", self.influx.queue),
            ("alerts.webhook.queue", self.webhook.queue),
            ("alerts.oncall.queue", self.oncall.queue),
            ("alerts.email.queue", self.email.queue),
        ] {
            if n == 0 {
                return Err(InvalidSetting::new(
                    key,
                    "is 0",
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
            ("alerts.email.timeout", self.email.timeout, "e.g. \"30s\""),
        ] {
            if d.is_zero() {
                return Err(InvalidSetting::new(key, "is 0", fix));
            }
        }
        for (section, r) in [
            ("alerts.mqtt", self.mqtt.retry()),
            ("alerts.influx", self.influx.retry()),
            ("alerts.webhook", self.webhook.retry()),
            ("alerts.oncall", self.oncall.retry()),
            ("alerts.email", self.email.retry()),
        ] {
            InvalidSetting::check_delay_bounds(
                section,
                ("retry_initial", r.retry_initial, "500ms"),
                ("retry_max", r.retry_max, "30s"),
            )?;
        }
        let prefix = &self.mqtt.topic_prefix;
        if self.mqtt.enabled
            && (prefix.is_empty()
                || prefix.contains(['+', '#', '\0'])
                || prefix.starts_with('/')
                || prefix.ends_with('/'))
        {
            return Err(InvalidSetting::new(
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
                return Err(InvalidSetting::new(
                    key,
                    format!("`{url}` is not an http(s) URL"),
                    "e.g. \"https://alerts.example.org/telegate\", or \"\" for no webhook",
                ));
            }
        }
        for (table, hook) in [("alerts.webhook", &self.webhook), ("alerts.oncall", &self.oncall)] {
            if let Err(problem) = super::outputs::webhook::check_body(&hook.body) {
                return Err(InvalidSetting::new(
                    format!("{table}.body"),
                    problem,
                    "write a JSON object whose strings may hold {text}, {subject}, {body}, {alert_id}, {rule_id}, \
                     {rule_name}, {severity}, {change}, {level}, {device_id}, {site}, and {json} as a value \
                     (docs/alerts.md, \"Chat bots\")",
                ));
            }
            if hook
                .token_header
                .contains(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            {
                return Err(InvalidSetting::new(
                    format!("{table}.token_header"),
                    format!("`{}` is not an HTTP header name", hook.token_header),
                    "letters, digits, `-` and `_`, e.g. \"access_token\"",
                ));
            }
        }
        self.email.validate()
    }
}

impl EmailConfig {
    /// The `[alerts.email]` part of [`AlertsConfig::validate`].
    fn validate(&self) -> Result<(), InvalidSetting> {
        let bad =
            |key: &str, problem: String, fix: &str| InvalidSetting::new(format!("alerts.email.{key}"), problem, fix);
        if !self.enabled() {
            return Ok(());
        }
        if self.from.is_empty() {
            return Err(bad(
                "from",
                "is empty".into(),
                "e.g. \"telegate <telegate@example.org>\"",
            ));
        }
        if let Err(e) = self.from.parse::<lettre::message::Mailbox>() {
            return Err(bad(
                "from",
                format!("`{}` is not an email address: {e}", self.from),
                "e.g. \"telegate <telegate@example.org>\"",
            ));
        }
        if self.to.is_empty() {
            return Err(bad(
                "to",
                "is empty".into(),
                "list the recipients, e.g. [\"duty@example.org\"]",
            ));
        }
        for to in &self.to {
            if let Err(e) = to.parse::<lettre::message::Mailbox>() {
                return Err(bad(
                    "to",
                    format!("`{to}` is not an email address: {e}"),
                    "each entry `address` or `Name <address>`",
                ));
            }
        }
        if self.port == 0 {
            return Err(bad(
                "port",
                "is 0".into(),
                "587 with tls = \"starttls\", 465 with tls = \"tls\"",
            ));
        }
        if self.password.is_empty() != self.username.is_empty() {
            return Err(bad(
                "username",
                "a user without a password, or a password without a user".into(),
                "set both (password_file or password_env for the password), or neither",
            ));
        }
        if !self.username.is_empty() && self.tls == SmtpTls::None && !is_loopback(&self.server) {
            return Err(bad(
                "tls",
                format!("\"none\" would send the password in clear to {}", self.server),
                "use \"starttls\" (port 587) or \"tls\" (port 465); \"none\" only for a relay on this host",
            ));
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(c: &AlertsConfig) -> String {
        c.validate().map_err(|e| e.to_string()).err().unwrap_or_default()
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
        c.queue = 4096;
        c.email.server = "smtp.example.org".into();
        assert!(problem(&c).contains("key `alerts.email.from`"));
        c.email.from = "telegate <telegate@example.org>".into();
        c.email.to = vec!["not an address".into()];
        assert!(problem(&c).contains("key `alerts.email.to`"), "{}", problem(&c));
        c.email.to = vec!["Trực ban <duty@example.org>".into()];
        assert_eq!(problem(&c), "");
        c.email.username = "telegate".into();
        assert!(problem(&c).contains("key `alerts.email.username`"));
        c.email.password = Secret::new("pw");
        c.email.tls = SmtpTls::None;
        assert!(problem(&c).contains("key `alerts.email.tls`"));
        c.email.server = "127.0.0.1".into();
        assert_eq!(problem(&c), "");
        c.webhook.body = "{\"text\": \"{nope}\"}".into();
        assert!(problem(&c).contains("key `alerts.webhook.body`"), "{}", problem(&c));
    }
}
