//! `[admin.console]`: operator accounts, sessions, login backoff, the audit
//! log and the console's language. Every key is documented in
//! `config/telegate.example.toml`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_model::InvalidSetting;

use super::lockout::Policy;

/// The console's language: Vietnamese, English, or the browser's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Vi,
    En,
    /// `vi` when the browser's language starts with `vi`, else `en`.
    #[default]
    Auto,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
            Language::Auto => "auto",
        }
    }
}

/// `[admin.console]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Operator accounts (`telegate user add`), relative to the config
    /// file. Empty: no accounts; the console and its API take the admin
    /// bearer token as before, and actions are recorded as `token`.
    pub users_file: String,
    /// The append-only audit log (JSON lines). Empty: `audit.log` in the
    /// directory of `alerts.state_file`.
    pub audit_file: String,
    /// A login lasts this long (absolute, from login).
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Set it when
    /// the console is reached through HTTPS (a TLS-terminating proxy); the
    /// admin listener itself speaks plain HTTP.
    pub secure_cookie: bool,
    /// Failed logins per user name, and per source address, before each
    /// further failure locks that name or address.
    pub login_free_failures: u32,
    /// The first lock; each further failure doubles it.
    #[serde(with = "humantime_serde")]
    pub lockout_initial: Duration,
    /// The longest lock.
    #[serde(with = "humantime_serde")]
    pub lockout_max: Duration,
    /// `vi`, `en` or `auto` (the browser's language: `vi…` → Vietnamese,
    /// anything else English). Each browser may switch; its choice is kept
    /// in its local storage.
    pub language: Language,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            users_file: String::new(),
            audit_file: String::new(),
            session_ttl: Duration::from_secs(12 * 3600),
            secure_cookie: false,
            login_free_failures: 5,
            lockout_initial: Duration::from_secs(1),
            lockout_max: Duration::from_secs(15 * 60),
            language: Language::Auto,
        }
    }
}

impl ConsoleConfig {
    pub fn lockout(&self) -> Policy {
        Policy {
            free_failures: self.login_free_failures,
            initial: self.lockout_initial,
            max: self.lockout_max,
        }
    }

    /// The audit log's path: `audit_file`, or beside `state_file`.
    pub fn audit_path(&self, state_file: &str) -> PathBuf {
        if self.audit_file.is_empty() {
            Path::new(state_file)
                .parent()
                .map_or_else(|| PathBuf::from("audit.log"), |d| d.join("audit.log"))
        } else {
            PathBuf::from(&self.audit_file)
        }
    }

    /// The `[admin.console]` part of [`crate::Config::validate`].
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.session_ttl < Duration::from_secs(60) {
            return Err(InvalidSetting::new(
                "admin.console.session_ttl",
                format!("is {}", humantime::format_duration(self.session_ttl)),
                "use at least \"1m\"; a shift is \"12h\"",
            ));
        }
        InvalidSetting::check_delay_bounds(
            "admin.console",
            ("lockout_initial", self.lockout_initial, "1s"),
            ("lockout_max", self.lockout_max, "15m"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_audit_sits_beside_the_state() {
        let c = ConsoleConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(
            c.audit_path("/var/lib/telegate/alerts-state.json"),
            Path::new("/var/lib/telegate/audit.log")
        );
        let c = ConsoleConfig {
            lockout_max: Duration::from_millis(1),
            ..ConsoleConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("key `admin.console.lockout_initial`"), "{e}");
    }
}
