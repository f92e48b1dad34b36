//! Errors of this crate. Config errors name the file, the line, the rule,
//! the key and the fix, because the person reading them is an operator
//! editing `alerts.toml`, not a Rust developer. A cause (an I/O error,
//! toml's) is the error's source, not part of its message: print them with
//! `telegate_model::ErrorChain`, as the gateway does.

use std::fmt;

use telegate_model::Terse;
use thiserror::Error;

/// Where a problem is: file, line, and rule (and level) in words. Boxed in
/// the error variants to keep `Result<_, ConfigError>` small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub line: usize,
    /// `rule `flood-muong-te`, level `BĐ II``.
    pub context: String,
}

/// `alerts.toml:42: rule `flood-muong-te``.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.context)
    }
}

/// A rules file that cannot be used. Every variant names the file; the
/// message ends with the fix.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: cannot read alert rules. Fix: check the path and permissions")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key, or a value of the wrong type. The source
    /// is toml's error, shown as its one-line message (which names the key
    /// and, for unknown keys, the expected ones) and the offending line;
    /// boxed like [`Location`].
    #[error("{path}:{line}")]
    Syntax {
        path: String,
        line: usize,
        #[source]
        source: Box<Terse<toml::de::Error>>,
    },
    #[error(
        "{at}: unknown rule kind `{kind}`. Fix: set `kind` to one of threshold, sum, mean, rate, state, deadman, combined"
    )]
    UnknownKind { at: Box<Location>, kind: String },
    #[error("{at}: key `{key}` is required. Fix: {fix}")]
    MissingKey {
        at: Box<Location>,
        key: &'static str,
        fix: String,
    },
    #[error("{at}: key `{key}` does not apply to kind `{kind}`. Fix: remove it{hint}")]
    KeyNotForKind {
        at: Box<Location>,
        key: &'static str,
        kind: String,
        hint: &'static str,
    },
    #[error(
        "{at}: key `{key}`: `{value}` is not a duration ({reason}). Fix: write a number and a unit, e.g. \"90s\", \"10m\", \"24h\""
    )]
    BadDuration {
        at: Box<Location>,
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "{at}: levels out of order: `{key}` = {value} of level `{level}` must be {expected} {previous} of level `{previous_level}` before it. Fix: list levels from least to most severe"
    )]
    LevelOrder {
        at: Box<Location>,
        level: String,
        key: &'static str,
        value: f64,
        expected: &'static str,
        previous_level: String,
        previous: f64,
    },
    #[error("{at}: key `{key}` = {value}: {problem}. Fix: {fix}")]
    BadValue {
        at: Box<Location>,
        key: String,
        value: String,
        problem: String,
        fix: String,
    },
    #[error("{at}: rule id `{id}` is already used on line {first_line}. Fix: give every rule its own id")]
    DuplicateId {
        at: Box<Location>,
        id: String,
        first_line: usize,
    },
    #[error(
        "{at}: key `all_of` names `{component}`, {problem}. Fix: list ids of threshold, sum, mean, rate, state or deadman rules in this file"
    )]
    BadComponent {
        at: Box<Location>,
        component: String,
        problem: &'static str,
    },
    #[error("{at}: key `{key}`: {problem}. Fix: use {{placeholders}} from: {allowed}")]
    BadTemplate {
        at: Box<Location>,
        key: &'static str,
        problem: String,
        allowed: String,
    },
}

/// A snapshot that cannot be written or read back.
#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("{path}: cannot write alert state")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot read alert state")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: alert state is not valid JSON of this version. Fix: move the file away to start with no alert state"
    )]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path}: alert state has version {found}, this build reads version {expected}. Fix: move the file away to start with no alert state"
    )]
    Version { path: String, found: u32, expected: u32 },
    #[error("cannot encode alert state")]
    Encode(#[source] serde_json::Error),
}
