//! `[admin]`: the HTTP listener for `/metrics`, `/healthz`, `/readyz` and
//! the operator API, with its `[admin.console]` accounts.

use serde::{Deserialize, Serialize};
use telegate_model::{InvalidSetting, Secret};

/// `[admin]`: the HTTP listener for `/metrics`, `/healthz`, `/readyz` and
/// the operator API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// `host:port`; loopback by default so nothing is exposed unless asked.
    /// Empty disables the listener. Port 0 picks a free port (logged).
    pub listen: String,
    /// Bearer token required by `/metrics` and `/api/*` (never by the
    /// probes). Prefer `token_file` or `token_env`. Empty: no token.
    pub token: Secret,
    pub token_file: String,
    pub token_env: String,
    /// How long writes to the database (or the file sink) may keep failing
    /// before `/readyz` answers 503: long enough to ride out one slow or
    /// refused request, short enough that a probe sees a gateway that stores
    /// nothing within seconds.
    #[serde(with = "humantime_serde")]
    pub ready_grace: std::time::Duration,
    /// `[admin.console]`: operator accounts, audit log, language.
    pub console: crate::operators::ConsoleConfig,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9464".into(),
            token: Secret::default(),
            token_file: String::new(),
            token_env: String::new(),
            ready_grace: std::time::Duration::from_secs(5),
            console: crate::operators::ConsoleConfig::default(),
        }
    }
}

impl AdminConfig {
    /// The `[admin]` part of [`crate::Config::validate`], `[admin.console]`
    /// included.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(InvalidSetting::new(
                "admin.listen",
                format!("`{}` is not an address:port", self.listen),
                "e.g. \"127.0.0.1:9464\" (loopback) or \"0.0.0.0:9464\" in a container; \"\" disables it",
            ));
        }
        self.console.validate()
    }
}
