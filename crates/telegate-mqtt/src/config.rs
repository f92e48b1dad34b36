use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::{InvalidSetting, Secret, TopicPattern};

/// The `[mqtt]` config section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    /// Fixed client id: the broker keeps the persistent session under it, so
    /// two gateways must never share one.
    pub client_id: String,
    /// Empty means anonymous.
    pub username: String,
    /// Prefer `password_file` or `password_env` (or `TELEGATE_MQTT_PASSWORD`)
    /// to a password in the file.
    pub password: Secret,
    /// A file holding the password (trailing newline ignored), e.g. a
    /// Docker/Kubernetes secret or systemd credential.
    pub password_file: String,
    /// The name of an environment variable holding the password.
    pub password_env: String,
    /// Topic pattern with `{site}`, `{device_id}` and `{sensor_type}` levels.
    pub topic_pattern: String,
    /// Subscription filter; empty means the pattern with `+` for each placeholder.
    /// Set e.g. `$share/telegate/telemetry/+/+/+` to share the load between gateways.
    pub subscription: String,
    /// Share the subscription between gateway replicas: the filter becomes
    /// `$share/{share_group}/{filter}` and the broker hands each message to
    /// one replica of the group. Empty: not shared.
    pub share_group: String,
    /// How long the broker keeps the session (and queues QoS 1 messages) while
    /// the gateway is away.
    #[serde(with = "humantime_serde")]
    pub session_expiry: Duration,
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// MQTT 5 receive maximum: how many QoS 1 messages may be unacknowledged.
    pub receive_maximum: u16,
    /// Largest packet accepted from the broker, in bytes (rumqttc's default is 10 KiB).
    pub max_packet_size: u32,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First reconnect delay; doubles per failed attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// Rejected messages are republished to `{dead_letter_prefix}/{original topic}`.
    pub dead_letter_prefix: String,
    pub tls: MqttTlsConfig,
}

/// `[mqtt.tls]`: TLS to the broker, with server verification and optional
/// client certificate (mutual TLS).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttTlsConfig {
    pub enabled: bool,
    /// PEM file of the CA(s) that signed the broker's certificate; empty:
    /// the system's trust store.
    pub ca_file: String,
    /// PEM client certificate (chain) for mutual TLS; set with `key_file`.
    pub cert_file: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `cert_file`.
    pub key_file: String,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "telegate-1".into(),
            username: String::new(),
            password: Secret::default(),
            password_file: String::new(),
            password_env: String::new(),
            topic_pattern: "telemetry/{site}/{device_id}/{sensor_type}".into(),
            subscription: String::new(),
            share_group: String::new(),
            session_expiry: Duration::from_secs(7 * 24 * 3600),
            keep_alive: Duration::from_secs(30),
            receive_maximum: 1000,
            max_packet_size: 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(30),
            dead_letter_prefix: "telegate/dead-letter".into(),
            tls: MqttTlsConfig::default(),
        }
    }
}

impl MqttConfig {
    /// The `[mqtt]` part of the gateway's config validation. How the
    /// largest packet relates to `limits.max_payload_bytes` spans two
    /// sections and is checked by the gateway.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.host.is_empty() {
            return Err(InvalidSetting::new(
                "mqtt.host",
                "is empty",
                "set the broker's host name or IP address",
            ));
        }
        if self.port == 0 {
            return Err(InvalidSetting::new(
                "mqtt.port",
                "is 0",
                "set the broker's port, usually 1883",
            ));
        }
        if self.client_id.is_empty() || self.client_id.len() > 64 {
            return Err(InvalidSetting::new(
                "mqtt.client_id",
                format!("`{}` must be 1-64 characters", self.client_id),
                "give each gateway a fixed, unique id such as \"telegate-laichau-1\"",
            ));
        }
        if let Err(e) = TopicPattern::parse(&self.topic_pattern) {
            return Err(InvalidSetting::new(
                "mqtt.topic_pattern",
                e.to_string(),
                "use levels separated by `/` with {device_id} and {sensor_type} (and optionally {site}), e.g. \"telemetry/{site}/{device_id}/{sensor_type}\"",
            ));
        }
        if self.receive_maximum == 0 {
            return Err(InvalidSetting::new(
                "mqtt.receive_maximum",
                "is 0",
                "set 1..65535; 1000 is a good start",
            ));
        }
        if self.max_packet_size < 1024 {
            return Err(InvalidSetting::new(
                "mqtt.max_packet_size",
                format!("{} bytes is too small", self.max_packet_size),
                "set at least limits.max_payload_bytes plus 1 KiB",
            ));
        }
        if self.keep_alive < Duration::from_secs(5) {
            return Err(InvalidSetting::new(
                "mqtt.keep_alive",
                format!("{:?} is too short", self.keep_alive),
                "use at least \"5s\"; \"30s\" suits 4G links",
            ));
        }
        InvalidSetting::check_delay_bounds(
            "mqtt",
            ("reconnect_min", self.reconnect_min, "250ms"),
            ("reconnect_max", self.reconnect_max, "30s"),
        )?;
        if self.dead_letter_prefix.is_empty() || self.dead_letter_prefix.contains(['+', '#']) {
            return Err(InvalidSetting::new(
                "mqtt.dead_letter_prefix",
                format!("`{}` is not a topic prefix", self.dead_letter_prefix),
                "use a plain topic such as \"telegate/dead-letter\"",
            ));
        }
        if !self.share_group.is_empty()
            && (self.share_group.contains(['/', '+', '#']) || self.subscription.starts_with("$share/"))
        {
            return Err(InvalidSetting::new(
                "mqtt.share_group",
                format!("`{}` is not usable as a share name here", self.share_group),
                "use a plain name such as \"telegate\" without `/`, `+`, `#`, and leave `$share/` out of mqtt.subscription",
            ));
        }
        if self.tls.enabled && self.port == 1883 {
            return Err(InvalidSetting::new(
                "mqtt.port",
                "is 1883 (plain MQTT) but mqtt.tls.enabled = true",
                "use the broker's TLS port, usually 8883",
            ));
        }
        Ok(())
    }
}
