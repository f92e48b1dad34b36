//! The one TOML config file: sections owned by each stage's crate (or, for
//! the gateway's own, a module of `config/` or the module they configure),
//! composed here. Each section validates its own keys beside its struct;
//! [`Config::validate`] calls them, checks the keys that relate two sections,
//! and names the file, so every error names the file, the key and the fix.

mod admin;
mod log;
mod pipeline;
mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use telegate_influx::{FileSinkConfig, InfluxConfig};
use telegate_model::{InvalidSetting, Secret, Terse, TopicPattern};
use telegate_mqtt::MqttConfig;
use telegate_schema::Limits;
use telegate_wal::WalConfig;

pub use self::admin::AdminConfig;
pub use self::log::{LogConfig, LogFormat};
pub use self::pipeline::PipelineConfig;
pub use self::schema::SchemaConfig;
use crate::alerting::config::AlertsConfig;

/// The config used when no `--config` is given: local broker and InfluxDB,
/// built-in schemas. Kept in the repository as `config/telegate.example.toml`.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../config/telegate.example.toml");
/// Shown as the file name of the embedded default in messages.
pub const EMBEDDED_NAME: &str = "<built-in config/telegate.example.toml>";

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub mqtt: MqttConfig,
    pub schema: SchemaConfig,
    pub limits: Limits,
    pub influx: InfluxConfig,
    pub file_sink: FileSinkConfig,
    pub wal: WalConfig,
    pub pipeline: PipelineConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub alerts: AlertsConfig,
    pub quarantine: crate::quarantine::QuarantineConfig,
    pub feedback: crate::feedback::FeedbackConfig,
    /// The console's trend chart.
    pub trend: crate::console::series::TrendConfig,
    /// Coordinates of the console's station map.
    pub map: crate::console::stations::MapConfig,
}

/// A config problem, always naming the file and (when known) the key. The
/// cause (the I/O error, toml's message) is the error's source: print it
/// with `telegate_model::ErrorChain` or anyhow's `{:#}`.
#[derive(Debug)]
pub enum ConfigError {
    Read {
        file: String,
        error: std::io::Error,
    },
    Syntax {
        file: String,
        line: Option<usize>,
        key: String,
        /// toml's error, shown as its one-line message (boxed: it is large,
        /// and every `Result<_, ConfigError>` would carry its size).
        error: Box<Terse<toml::de::Error>>,
    },
    Invalid {
        file: String,
        key: String,
        problem: String,
        fix: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, .. } => write!(f, "{file}: cannot read config"),
            ConfigError::Syntax { file, line, key, .. } => {
                write!(f, "{file}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                if !key.is_empty() {
                    write!(f, ": key `{key}`")?;
                }
                Ok(())
            }
            ConfigError::Invalid {
                file,
                key,
                problem,
                fix,
            } => write!(f, "{file}: key `{key}`: {problem}. Fix: {fix}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { error, .. } => Some(error),
            ConfigError::Syntax { error, .. } => Some(error.as_ref()),
            ConfigError::Invalid { .. } => None,
        }
    }
}

/// A loaded, validated config and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// The file name used in messages.
    pub file: String,
    /// Directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The file itself; `None` for the embedded default.
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// The schema directory, or `None` for the built-in schemas.
    pub fn schema_dir(&self) -> Option<PathBuf> {
        (!self.config.schema.dir.is_empty()).then(|| self.base_dir.join(&self.config.schema.dir))
    }
}

/// Secrets may come from the environment instead of the file.
const ENV_SECRETS: [(&str, &str); 4] = [
    ("TELEGATE_MQTT_PASSWORD", "mqtt.password"),
    ("TELEGATE_INFLUX_PASSWORD", "influx.password"),
    ("TELEGATE_INFLUX_TOKEN", "influx.token"),
    ("TELEGATE_ADMIN_TOKEN", "admin.token"),
];
/// Overrides `mqtt.client_id`, so replicas sharing one config file (a
/// Kubernetes StatefulSet) each get their own session: set it to the pod name.
pub const CLIENT_ID_ENV: &str = "TELEGATE_MQTT_CLIENT_ID";

/// toml's message alone: the file, line and key are in [`ConfigError`]'s own.
fn terse(e: toml::de::Error) -> Box<Terse<toml::de::Error>> {
    let message = e.message().trim().to_owned();
    Box::new(Terse::new(e, message))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

impl Config {
    /// Load `path`, or the built-in default when `None`; apply environment
    /// overrides; validate.
    pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let (text, file, base_dir) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|error| ConfigError::Read {
                    file: p.display().to_string(),
                    error,
                })?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (text, p.display().to_string(), base)
            }
            None => (
                EMBEDDED_DEFAULT.to_owned(),
                EMBEDDED_NAME.to_owned(),
                PathBuf::from("."),
            ),
        };
        let mut config = Self::parse(&text, &file)?;
        config.apply_env(|k| std::env::var(k).ok());
        // Directories and files are relative to the config file, like schema.dir.
        for dir in [
            &mut config.wal.dir,
            &mut config.quarantine.dir,
            &mut config.file_sink.dir,
            &mut config.mqtt.tls.ca_file,
            &mut config.mqtt.tls.cert_file,
            &mut config.mqtt.tls.key_file,
            &mut config.influx.ca_file,
            &mut config.mqtt.password_file,
            &mut config.influx.password_file,
            &mut config.influx.token_file,
            &mut config.admin.token_file,
            &mut config.alerts.rules_file,
            &mut config.alerts.state_file,
            &mut config.alerts.webhook.token_file,
            &mut config.alerts.oncall.token_file,
            &mut config.admin.console.users_file,
            &mut config.admin.console.audit_file,
            &mut config.alerts.email.password_file,
            &mut config.alerts.email.ca_file,
        ] {
            if !dir.is_empty() && Path::new(dir.as_str()).is_relative() {
                *dir = base_dir.join(dir.as_str()).display().to_string();
            }
        }
        config.resolve_secrets(&file, |k| std::env::var(k).ok())?;
        config.validate(&file)?;
        Ok(LoadedConfig {
            config,
            file,
            base_dir,
            path: path.map(Path::to_path_buf),
        })
    }

    /// Parse TOML text; errors carry the line and the dotted key path.
    pub fn parse(text: &str, file: &str) -> Result<Self, ConfigError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            line: e.span().map(|s| line_of(text, s.start)),
            key: String::new(),
            error: terse(e),
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError::Syntax {
                file: file.to_owned(),
                line: inner.span().map(|s| line_of(text, s.start)),
                key: if key == "." { String::new() } else { key },
                error: terse(inner),
            }
        })
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        for (var, key) in ENV_SECRETS {
            if let Some(v) = get(var).filter(|v| !v.is_empty()) {
                let v = Secret::new(v);
                match key {
                    "mqtt.password" => self.mqtt.password = v,
                    "influx.password" => self.influx.password = v,
                    "admin.token" => self.admin.token = v,
                    _ => self.influx.token = v,
                }
            }
        }
        if let Some(id) = get(CLIENT_ID_ENV).filter(|v| !v.is_empty()) {
            self.mqtt.client_id = id;
        }
    }

    /// Fill each secret from its `*_file` or `*_env` key. Setting more than
    /// one source for the same secret is an error: which one wins would be a
    /// guess.
    pub fn resolve_secrets(&mut self, file: &str, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let slots: [(&str, &mut Secret, &str, &str); 7] = [
            (
                "mqtt.password",
                &mut self.mqtt.password,
                &self.mqtt.password_file,
                &self.mqtt.password_env,
            ),
            (
                "influx.password",
                &mut self.influx.password,
                &self.influx.password_file,
                &self.influx.password_env,
            ),
            (
                "influx.token",
                &mut self.influx.token,
                &self.influx.token_file,
                &self.influx.token_env,
            ),
            (
                "admin.token",
                &mut self.admin.token,
                &self.admin.token_file,
                &self.admin.token_env,
            ),
            (
                "alerts.webhook.token",
                &mut self.alerts.webhook.token,
                &self.alerts.webhook.token_file,
                &self.alerts.webhook.token_env,
            ),
            (
                "alerts.oncall.token",
                &mut self.alerts.oncall.token,
                &self.alerts.oncall.token_file,
                &self.alerts.oncall.token_env,
            ),
            (
                "alerts.email.password",
                &mut self.alerts.email.password,
                &self.alerts.email.password_file,
                &self.alerts.email.password_env,
            ),
        ];
        for (key, secret, from_file, from_env) in slots {
            let bad = |problem: String, fix: &str| ConfigError::Invalid {
                file: file.to_owned(),
                key: key.to_owned(),
                problem,
                fix: fix.to_owned(),
            };
            if !from_file.is_empty() && !from_env.is_empty() {
                return Err(bad(
                    format!("both {key}_file and {key}_env are set"),
                    "keep one source for the secret",
                ));
            }
            if !from_file.is_empty() {
                let text = std::fs::read_to_string(from_file).map_err(|e| {
                    bad(
                        format!("cannot read {key}_file {from_file:?}: {e}"),
                        "point it at a readable file holding only the secret",
                    )
                })?;
                let value = text.trim_end_matches(['\n', '\r']);
                if value.is_empty() {
                    return Err(bad(
                        format!("{key}_file {from_file:?} is empty"),
                        "write the secret into the file",
                    ));
                }
                *secret = Secret::new(value);
            } else if !from_env.is_empty() {
                match get(from_env).filter(|v| !v.is_empty()) {
                    Some(v) => *secret = Secret::new(v),
                    None => {
                        return Err(bad(
                            format!("{key}_env names the environment variable {from_env}, which is unset or empty"),
                            "export the variable before starting telegate, or remove the key",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The effective config as TOML with every secret shown as
    /// `<redacted>`: safe to paste into an issue or a log.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render the config: {e}\n"))
    }

    /// The subscription filter: explicit, or derived from the topic pattern;
    /// under `$share/{group}/` when replicas share the load.
    pub fn subscription(&self) -> String {
        let filter = if self.mqtt.subscription.is_empty() {
            TopicPattern::parse(&self.mqtt.topic_pattern)
                .map(|p| p.filter())
                .unwrap_or_default()
        } else {
            self.mqtt.subscription.clone()
        };
        if self.mqtt.share_group.is_empty() || filter.starts_with("$share/") {
            filter
        } else {
            format!("$share/{}/{filter}", self.mqtt.share_group)
        }
    }
}

/// What a PUBLISH carries besides its payload, at most, as checked between
/// `mqtt.max_packet_size` and `limits.max_payload_bytes`: a topic of up to
/// 65,535 bytes plus 4 KiB for the header and properties.
pub const PACKET_HEADROOM: usize = 65_536 + 4_096;

impl Config {
    /// Every semantic rule: each section's own (beside its struct), then the
    /// rules that relate two sections. The first problem is reported, with
    /// the file, the key and the fix.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        self.check()
            .map_err(|InvalidSetting { key, problem, fix }| ConfigError::Invalid {
                file: file.to_owned(),
                key,
                problem,
                fix,
            })
    }

    fn check(&self) -> Result<(), InvalidSetting> {
        self.mqtt.validate()?;
        self.influx.validate()?;
        self.admin.validate()?;
        self.limits.validate()?;
        self.quarantine.validate()?;
        self.feedback.validate()?;
        self.wal.validate()?;
        self.file_sink.validate()?;
        self.pipeline.validate()?;
        self.alerts.validate()?;
        self.trend.validate()?;
        self.map.validate()?;
        self.packet_fits_largest_payload()
    }

    /// The broker drops, for the gateway, a PUBLISH larger than the
    /// gateway's Maximum Packet Size without telling either side: the
    /// largest accepted payload plus its topic must fit.
    fn packet_fits_largest_payload(&self) -> Result<(), InvalidSetting> {
        let (packet, payload) = (self.mqtt.max_packet_size, self.limits.max_payload_bytes);
        if (packet as usize) < payload.saturating_add(PACKET_HEADROOM) {
            return Err(InvalidSetting::new(
                "mqtt.max_packet_size",
                format!(
                    "{packet} is below limits.max_payload_bytes = {payload} plus {PACKET_HEADROOM} bytes for the topic (up to 65,535 bytes) and properties"
                ),
                "raise mqtt.max_packet_size to at least limits.max_payload_bytes + 69632: the broker silently drops, for the gateway, a message larger than the gateway's Maximum Packet Size (docs/device-protocol.md, \"Limits\")",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
