//! `Config::validate`: every semantic rule of the config in one place, each
//! error naming the file, the key, the problem and the fix.

use std::time::Duration;

use telegate_influx::ApiVersion;
use telegate_model::TopicPattern;

use super::{Config, ConfigError};

/// What a PUBLISH carries besides its payload, at most, as checked between
/// `mqtt.max_packet_size` and `limits.max_payload_bytes`: a topic of up to
/// 65,535 bytes plus 4 KiB for the header and properties.
pub const PACKET_HEADROOM: usize = 65_536 + 4_096;

impl Config {
    /// Every semantic rule, in one place.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: String, fix: &str| ConfigError::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            problem,
            fix: fix.to_owned(),
        };
        let m = &self.mqtt;
        if m.host.is_empty() {
            return Err(bad(
                "mqtt.host",
                "is empty".into(),
                "set the broker's host name or IP address",
            ));
        }
        if m.port == 0 {
            return Err(bad("mqtt.port", "is 0".into(), "set the broker's port, usually 1883"));
        }
        if m.client_id.is_empty() || m.client_id.len() > 64 {
            return Err(bad(
                "mqtt.client_id",
                format!("`{}` must be 1-64 characters", m.client_id),
                "give each gateway a fixed, unique id such as \"telegate-laichau-1\"",
            ));
        }
        if let Err(e) = TopicPattern::parse(&m.topic_pattern) {
            return Err(bad(
                "mqtt.topic_pattern",
                e.to_string(),
                "use levels separated by `/` with {device_id} and {sensor_type} (and optionally {site}), e.g. \"telemetry/{site}/{device_id}/{sensor_type}\"",
            ));
        }
        if m.receive_maximum == 0 {
            return Err(bad(
                "mqtt.receive_maximum",
                "is 0".into(),
                "set 1..65535; 1000 is a good start",
            ));
        }
        if m.max_packet_size < 1024 {
            return Err(bad(
                "mqtt.max_packet_size",
                format!("{} bytes is too small", m.max_packet_size),
                "set at least limits.max_payload_bytes plus 1 KiB",
            ));
        }
        if (m.max_packet_size as usize) < self.limits.max_payload_bytes.saturating_add(PACKET_HEADROOM) {
            return Err(bad(
                "mqtt.max_packet_size",
                format!(
                    "{} is below limits.max_payload_bytes = {} plus {PACKET_HEADROOM} bytes for the topic (up to 65,535 bytes) and properties",
                    m.max_packet_size, self.limits.max_payload_bytes
                ),
                "raise mqtt.max_packet_size to at least limits.max_payload_bytes + 69632: the broker silently drops, for the gateway, a message larger than the gateway's Maximum Packet Size (docs/device-protocol.md, \"Limits\")",
            ));
        }
        if m.keep_alive < Duration::from_secs(5) {
            return Err(bad(
                "mqtt.keep_alive",
                format!("{:?} is too short", m.keep_alive),
                "use at least \"5s\"; \"30s\" suits 4G links",
            ));
        }
        if m.reconnect_min.is_zero() || m.reconnect_max < m.reconnect_min {
            return Err(bad(
                "mqtt.reconnect_min",
                "must be above 0 and at most mqtt.reconnect_max".into(),
                "e.g. reconnect_min = \"250ms\", reconnect_max = \"30s\"",
            ));
        }
        if m.dead_letter_prefix.is_empty() || m.dead_letter_prefix.contains(['+', '#']) {
            return Err(bad(
                "mqtt.dead_letter_prefix",
                format!("`{}` is not a topic prefix", m.dead_letter_prefix),
                "use a plain topic such as \"telegate/dead-letter\"",
            ));
        }
        if !m.share_group.is_empty()
            && (m.share_group.contains(['/', '+', '#']) || m.subscription.starts_with("$share/"))
        {
            return Err(bad(
                "mqtt.share_group",
                format!("`{}` is not usable as a share name here", m.share_group),
                "use a plain name such as \"telegate\" without `/`, `+`, `#`, and leave `$share/` out of mqtt.subscription",
            ));
        }
        if m.tls.enabled && m.port == 1883 {
            return Err(bad(
                "mqtt.port",
                "is 1883 (plain MQTT) but mqtt.tls.enabled = true".into(),
                "use the broker's TLS port, usually 8883",
            ));
        }
        let i = &self.influx;
        if !i.ca_file.is_empty() && !i.url.starts_with("https://") {
            return Err(bad(
                "influx.ca_file",
                format!("is set but influx.url `{}` is not https", i.url),
                "use an https:// URL, or remove influx.ca_file",
            ));
        }
        if !self.admin.listen.is_empty() && self.admin.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(bad(
                "admin.listen",
                format!("`{}` is not an address:port", self.admin.listen),
                "e.g. \"127.0.0.1:9464\" (loopback) or \"0.0.0.0:9464\" in a container; \"\" disables it",
            ));
        }
        if !(i.url.starts_with("http://") || i.url.starts_with("https://")) {
            return Err(bad(
                "influx.url",
                format!("`{}` is not an http(s) URL", i.url),
                "e.g. \"http://127.0.0.1:8086\"",
            ));
        }
        match i.api {
            ApiVersion::V1 if i.database.is_empty() => {
                return Err(bad(
                    "influx.database",
                    "is empty but influx.api = \"v1\"".into(),
                    "set the InfluxDB 1.x database name",
                ));
            }
            ApiVersion::V2 if i.bucket.is_empty() => {
                return Err(bad(
                    "influx.bucket",
                    "is empty but influx.api = \"v2\"".into(),
                    "set the bucket (InfluxDB 2.x/3.x/Cloud) or database name",
                ));
            }
            _ => {}
        }
        if i.batch_size == 0 {
            return Err(bad(
                "influx.batch_size",
                "is 0".into(),
                "set a positive number of points; 5000 is a good start",
            ));
        }
        if i.concurrency == 0 || i.concurrency > 16 {
            return Err(bad(
                "influx.concurrency",
                format!("{} is outside 1-16", i.concurrency),
                "use 2 (the default); more only helps a clustered database",
            ));
        }
        if i.retry_initial.is_zero() || i.retry_max < i.retry_initial {
            return Err(bad(
                "influx.retry_initial",
                "must be above 0 and at most influx.retry_max".into(),
                "e.g. retry_initial = \"200ms\", retry_max = \"30s\"",
            ));
        }
        if self.limits.max_payload_bytes == 0 {
            return Err(bad(
                "limits.max_payload_bytes",
                "is 0".into(),
                "set the largest payload to accept, e.g. 262144",
            ));
        }
        if self.limits.max_age.is_zero() {
            return Err(bad(
                "limits.max_age",
                "is 0".into(),
                "allow at least the longest coverage gap, e.g. \"7d\"",
            ));
        }
        if self.quarantine.dir.is_empty() {
            return Err(bad(
                "quarantine.dir",
                "is empty".into(),
                "set a directory on a local disk, e.g. \"/var/lib/telegate/quarantine\"",
            ));
        }
        if self.quarantine.max_bytes < 1024 * 1024 {
            return Err(bad(
                "quarantine.max_bytes",
                format!("{} bytes is too small", self.quarantine.max_bytes),
                "allow at least 1 MiB (1048576) so a few whole messages fit; 67108864 is the default",
            ));
        }
        let f = &self.feedback;
        let prefix = f.prefix.trim_end_matches('/');
        if (f.dead_letter_envelope || f.status) && !telegate_mqtt::mqtt_string::is_legal_topic(prefix) {
            return Err(bad(
                "feedback.prefix",
                format!("`{}` is not a topic prefix", f.prefix),
                "set a topic without wildcards, e.g. \"telegate/device\"",
            ));
        }
        if f.status && f.status_interval < Duration::from_secs(1) {
            return Err(bad(
                "feedback.status_interval",
                format!("{:?} is shorter than 1s", f.status_interval),
                "set at least \"1s\"; \"60s\" keeps a metered link's cost low",
            ));
        }
        let w = &self.wal;
        if w.enabled && w.dir.is_empty() {
            return Err(bad(
                "wal.dir",
                "is empty but wal.enabled = true".into(),
                "set a directory on a local disk, e.g. \"/var/lib/telegate/wal\"",
            ));
        }
        if w.enabled && w.budget_bytes < 1024 * 1024 {
            return Err(bad(
                "wal.budget_bytes",
                format!("{} bytes is too small", w.budget_bytes),
                "allow at least 1 MiB (1048576); size it for the longest InfluxDB outage to ride out",
            ));
        }
        if w.commit_bytes == 0 {
            return Err(bad("wal.commit_bytes", "is 0".into(), "use the default 1048576"));
        }
        let f = &self.file_sink;
        if f.enabled && f.dir.is_empty() {
            return Err(bad(
                "file_sink.dir",
                "is empty but file_sink.enabled = true".into(),
                "set a directory for the line-protocol files, e.g. \"data/points\"",
            ));
        }
        if f.enabled && f.rotate_bytes < 4096 {
            return Err(bad(
                "file_sink.rotate_bytes",
                format!("{} bytes is too small", f.rotate_bytes),
                "use at least 4096; the default is 67108864 (64 MiB)",
            ));
        }
        let p = &self.pipeline;
        for (key, n) in [
            ("pipeline.write_queue", p.write_queue),
            ("pipeline.dead_letter_queue", p.dead_letter_queue),
        ] {
            if n == 0 {
                return Err(bad(
                    key,
                    "is 0: the queue must hold at least one message".into(),
                    "use the default (1024 for write_queue, 256 for dead_letter_queue)",
                ));
            }
        }
        self.alerts.validate(file)?;
        self.admin.console.validate(file)?;
        self.trend.validate(file)?;
        self.map.validate(file)?;
        Ok(())
    }
}
