//! The rules file (`config/alerts.example.toml`): its TOML shape and the
//! entry points that turn it into validated [`Rule`]s.
//!
//! Parsing is two-stage: serde reads the text into plain `Raw*` structs
//! (`deny_unknown_fields` everywhere, so a misspelt key is an error with its
//! line and the expected keys), then [`crate::build`] checks the meaning
//! kind by kind and builds rules the engine can run without further checks.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use telegate_model::Terse;
use toml::Spanned;

use crate::error::ConfigError;
use crate::escalation::{Escalation, RawEscalation};
use crate::rule::{Rule, Severity};

/// Validated alert rules plus the device labels they select and group by.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    pub(crate) rules: Vec<Rule>,
    /// device_id → extra labels (tags only the alert engine sees).
    pub(crate) labels: HashMap<String, Vec<(String, String)>>,
    /// `[escalation]`: acted on by the gateway, not the engine.
    pub(crate) escalation: Escalation,
}

impl AlertConfig {
    /// Parse and validate rules from TOML text; `path` names the file in
    /// errors.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<AlertConfig, ConfigError> {
        let path = path.as_ref().display().to_string();
        let mut raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            // toml's message names the problem; the line shows the key.
            let quoted = text.lines().nth(line - 1).unwrap_or("").trim();
            let message = format!("{} (in `{quoted}`)", e.message().trim());
            ConfigError::Syntax {
                path: path.clone(),
                line,
                source: Box::new(Terse::new(e, message)),
            }
        })?;
        let escalation = crate::escalation::build(raw.escalation.take(), text, &path)?;
        let mut config = crate::build::build(raw, text, &path)?;
        config.escalation = escalation;
        Ok(config)
    }

    /// `[escalation]` (off unless `after` is set).
    pub fn escalation(&self) -> &Escalation {
        &self.escalation
    }

    /// Read and validate a rules file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<AlertConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        AlertConfig::from_toml_str(&text, path)
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Whether `rule` would keep a series for something with these tags:
    /// for a rule reading points, a point of `measurement` with `tags` (plus
    /// the device's labels) that its `match` selects; for a combined rule
    /// (`measurement` = `None`), a group whose tags are exactly its
    /// `group_by`. The replay harness uses it to tell which rules should
    /// report an event.
    pub fn selects(&self, rule: &Rule, measurement: Option<&str>, tags: &[(&str, &str)]) -> bool {
        match (&rule.kind, measurement) {
            (crate::rule::Kind::Combined { .. }, None) => match &rule.grouping {
                crate::series::Grouping::Tags(names) => {
                    names.len() == tags.len() && names.iter().all(|n| tags.iter().any(|(k, _)| k == n))
                }
                _ => false,
            },
            (crate::rule::Kind::Combined { .. }, Some(_)) | (_, None) => false,
            (_, Some(m)) => {
                if rule.selector.measurement.as_deref().is_some_and(|rm| rm != m) {
                    return false;
                }
                let mut all: Vec<(&str, &str)> = tags.to_vec();
                let device = tags.iter().find(|(k, _)| *k == "device_id").map(|(_, v)| *v);
                if let Some(labels) = device.and_then(|d| self.labels.get(d)) {
                    for (k, v) in labels {
                        if !all.iter().any(|(tk, _)| tk == k) {
                            all.push((k, v));
                        }
                    }
                }
                rule.selector.matches(&all)
            }
        }
    }

    /// How long `rule` waits on purpose before firing: its `for`, plus for
    /// a combined rule the longest `for` of its components.
    pub fn hold_ns(&self, rule: &Rule) -> i64 {
        let components = match &rule.kind {
            crate::rule::Kind::Combined { all_of } => {
                all_of.iter().filter_map(|&i| self.rules.get(i)).map(|r| r.for_ns).max()
            }
            _ => None,
        };
        rule.for_ns + components.unwrap_or(0)
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub(crate) defaults: RawDefaults,
    #[serde(default)]
    pub(crate) device_labels: BTreeMap<String, Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub(crate) rule: Vec<Spanned<RawRule>>,
    pub(crate) escalation: Option<RawEscalation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub(crate) renotify: Option<Spanned<String>>,
    pub(crate) decimals: Option<usize>,
    pub(crate) flap_limit: Option<Spanned<usize>>,
    pub(crate) flap_window: Option<Spanned<String>>,
}

/// One `[[rule]]` table: the union of every kind's keys; which apply to
/// which kind is checked in `build`, so the error can say so.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) kind: Option<Spanned<String>>,
    pub(crate) measurement: Option<String>,
    pub(crate) field: Option<String>,
    #[serde(rename = "match")]
    pub(crate) match_tags: Option<BTreeMap<String, Spanned<toml::Value>>>,
    pub(crate) group_by: Option<Spanned<Vec<String>>>,
    pub(crate) direction: Option<Spanned<String>>,
    #[serde(rename = "for")]
    pub(crate) for_: Option<Spanned<String>>,
    pub(crate) renotify: Option<Spanned<String>>,
    pub(crate) flap_limit: Option<Spanned<usize>>,
    pub(crate) flap_window: Option<Spanned<String>>,
    pub(crate) window: Option<Spanned<String>>,
    pub(crate) min_samples: Option<Spanned<usize>>,
    pub(crate) per: Option<Spanned<String>>,
    pub(crate) min_span: Option<Spanned<String>>,
    pub(crate) cadence: Option<Spanned<String>>,
    pub(crate) factor: Option<Spanned<f64>>,
    pub(crate) mode_field: Option<String>,
    pub(crate) mode_cadence: Option<BTreeMap<String, Spanned<String>>>,
    pub(crate) when: Option<BTreeMap<String, Spanned<toml::Value>>>,
    pub(crate) all_of: Option<Spanned<Vec<String>>>,
    pub(crate) severity: Option<Severity>,
    pub(crate) level_name: Option<String>,
    pub(crate) notify: Option<bool>,
    pub(crate) message: Option<Spanned<String>>,
    pub(crate) resolved_message: Option<Spanned<String>>,
    pub(crate) decimals: Option<usize>,
    #[serde(default)]
    pub(crate) level: Vec<Spanned<RawLevel>>,
}

/// One `[[rule.level]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLevel {
    pub(crate) name: Option<String>,
    pub(crate) severity: Option<Severity>,
    pub(crate) threshold: Option<f64>,
    pub(crate) clear: Option<f64>,
    pub(crate) low: Option<f64>,
    pub(crate) high: Option<f64>,
    pub(crate) clear_low: Option<f64>,
    pub(crate) clear_high: Option<f64>,
}

#[cfg(test)]
mod tests;
