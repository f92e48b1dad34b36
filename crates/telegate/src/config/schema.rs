//! `[schema]`: where sensor types come from. No `validate`: the values are
//! checked by compiling the schemas they name.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[schema]`: where sensor types come from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaConfig {
    /// Directory of `.proto` files, relative to the config file. Empty: the
    /// schemas built into the binary (the repository's `proto/`) only.
    pub dir: String,
    /// Whether the built-in sensor types are served beside the files of
    /// `dir` (a file of `dir` with a built-in file's name replaces it).
    /// `false`: only `dir`'s types. Without `dir` the built-in types are
    /// always served.
    pub builtin: bool,
    /// Extra sensor types for messages without a `(telegate.v1.sensor)`
    /// option: sensor type → fully-qualified message name.
    pub types: BTreeMap<String, String>,
    /// How often the schema directory and the config file are checked for
    /// changes (which are then compiled and swapped in); 0s disables it.
    /// SIGHUP reloads at any time.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            builtin: true,
            types: BTreeMap::new(),
            reload_interval: Duration::from_secs(2),
        }
    }
}
