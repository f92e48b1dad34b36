use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::{InvalidSetting, Secret};

/// Which write API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// `/write?db=&rp=` with user/password: InfluxDB 1.x.
    V1,
    /// `/api/v2/write?org=&bucket=` with `Authorization: Token`: InfluxDB
    /// 2.x, 3.x, Cloud, 1.8+ and VictoriaMetrics.
    V2,
}

/// The `[influx]` config section.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfluxConfig {
    /// Base URL of the server, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    pub api: ApiVersion,
    /// v1: database name.
    pub database: String,
    /// v1: retention policy; empty means the database default.
    pub retention_policy: String,
    /// v1: user name; empty means no authentication.
    pub username: String,
    /// v1: password. Prefer `password_file`/`password_env` (or
    /// `TELEGATE_INFLUX_PASSWORD`) to a password in the file.
    pub password: Secret,
    /// v1: file holding the password (trailing newline ignored).
    pub password_file: String,
    /// v1: environment variable holding the password.
    pub password_env: String,
    /// v2: organisation (name or id).
    pub org: String,
    /// v2: bucket.
    pub bucket: String,
    /// v2: API token. Prefer `token_file`/`token_env` (or
    /// `TELEGATE_INFLUX_TOKEN`) to a token in the file.
    pub token: Secret,
    /// v2: file holding the token (trailing newline ignored).
    pub token_file: String,
    /// v2: environment variable holding the token.
    pub token_env: String,
    /// PEM file of extra CA certificates trusted for an `https://` URL
    /// (a private CA); the system's roots are trusted as well.
    pub ca_file: String,
    /// v1: create the database at start-up if it is missing, and re-create
    /// it when a write finds it gone. `false`: never create one.
    pub create_database: bool,
    /// Flush when this many points are waiting.
    pub batch_size: usize,
    /// Flush at the latest this long after the first point of a batch arrived.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    /// Batches written at once. One batch in flight leaves the database
    /// idle while the next batch is gathered; two reach its ceiling here
    /// (docs/performance.md).
    pub concurrency: usize,
    /// gzip request bodies.
    pub gzip: bool,
    /// Timeout of one write request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// First retry delay; doubles per attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for InfluxConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8086".into(),
            api: ApiVersion::V1,
            database: "telegate".into(),
            retention_policy: String::new(),
            username: String::new(),
            password: Secret::default(),
            password_file: String::new(),
            password_env: String::new(),
            org: String::new(),
            bucket: String::new(),
            token: Secret::default(),
            token_file: String::new(),
            token_env: String::new(),
            ca_file: String::new(),
            create_database: true,
            batch_size: 5000,
            linger: Duration::from_millis(100),
            concurrency: 2,
            gzip: true,
            timeout: Duration::from_secs(10),
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
        }
    }
}

impl InfluxConfig {
    /// The `[influx]` part of the gateway's config validation.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !self.ca_file.is_empty() && !self.url.starts_with("https://") {
            return Err(InvalidSetting::new(
                "influx.ca_file",
                format!("is set but influx.url `{}` is not https", self.url),
                "use an https:// URL, or remove influx.ca_file",
            ));
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(InvalidSetting::new(
                "influx.url",
                format!("`{}` is not an http(s) URL", self.url),
                "e.g. \"http://127.0.0.1:8086\"",
            ));
        }
        match self.api {
            ApiVersion::V1 if self.database.is_empty() => {
                return Err(InvalidSetting::new(
                    "influx.database",
                    "is empty but influx.api = \"v1\"",
                    "set the InfluxDB 1.x database name",
                ));
            }
            ApiVersion::V2 if self.bucket.is_empty() => {
                return Err(InvalidSetting::new(
                    "influx.bucket",
                    "is empty but influx.api = \"v2\"",
                    "set the bucket (InfluxDB 2.x/3.x/Cloud) or database name",
                ));
            }
            _ => {}
        }
        if self.batch_size == 0 {
            return Err(InvalidSetting::new(
                "influx.batch_size",
                "is 0",
                "set a positive number of points; 5000 is a good start",
            ));
        }
        if self.concurrency == 0 || self.concurrency > 16 {
            return Err(InvalidSetting::new(
                "influx.concurrency",
                format!("{} is outside 1-16", self.concurrency),
                "use 2 (the default); more only helps a clustered database",
            ));
        }
        InvalidSetting::check_delay_bounds(
            "influx",
            ("retry_initial", self.retry_initial, "200ms"),
            ("retry_max", self.retry_max, "30s"),
        )
    }
}
