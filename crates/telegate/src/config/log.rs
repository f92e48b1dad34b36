//! `[log]`: how log lines look (the level comes from `RUST_LOG`).

use serde::{Deserialize, Serialize};

/// `[log]`: how log lines look (the level comes from `RUST_LOG`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (colour only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for Loki, Elasticsearch or journald readers.
    Json,
}
