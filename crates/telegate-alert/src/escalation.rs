//! `[escalation]` of the rules file: when a critical alert that nobody has
//! acknowledged is notified again, and to which outputs.
//!
//! The engine does not act on it (acknowledgement is an operator's act,
//! kept by the gateway): it is read, validated and reloaded with the rules
//! so that one file says how an alarm is raised and how it is chased.

use serde::Deserialize;
use toml::Spanned;

use crate::build::Cx;
use crate::error::ConfigError;

/// The validated `[escalation]` table. `after_ns == 0`: off (the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Escalation {
    /// A critical alert still unacknowledged this long (wall time) after the
    /// gateway first saw it firing at a critical level is notified again,
    /// and again every `after_ns` until it is acknowledged or resolves.
    pub after_ns: i64,
    /// Names of the gateway outputs that receive the re-notification
    /// (`"mqtt"`, `"webhook"`, `"oncall"`, `"email"`). Empty: every notifying
    /// output. The gateway checks the names at start and on reload.
    pub outputs: Vec<String>,
}

/// The raw `[escalation]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEscalation {
    pub(crate) after: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) outputs: Vec<String>,
}

pub(crate) fn build(raw: Option<RawEscalation>, text: &str, path: &str) -> Result<Escalation, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Escalation::default());
    };
    let line = text
        .lines()
        .position(|l| l.trim() == "[escalation]")
        .map_or(1, |i| i + 1);
    let cx = Cx {
        path,
        text,
        line,
        at: "[escalation]".to_owned(),
    };
    let after_ns = cx.opt_duration("after", &raw.after, false)?.unwrap_or(0);
    for name in &raw.outputs {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(cx.bad(
                cx.key_line("outputs"),
                "outputs",
                format!("{name:?}"),
                "is not an output name",
                "name outputs as the gateway does: \"mqtt\", \"webhook\", \"oncall\", \"email\"",
            ));
        }
    }
    Ok(Escalation {
        after_ns,
        outputs: raw.outputs,
    })
}

#[cfg(test)]
mod tests {
    use crate::AlertConfig;
    use telegate_model::error_chain;

    #[test]
    fn off_by_default_and_read_with_the_rules() {
        let c = AlertConfig::from_toml_str("", "a.toml").unwrap();
        assert_eq!(c.escalation().after_ns, 0);
        let c =
            AlertConfig::from_toml_str("[escalation]\nafter = \"15m\"\noutputs = [\"oncall\"]\n", "a.toml").unwrap();
        assert_eq!(c.escalation().after_ns, 15 * 60 * 1_000_000_000);
        assert_eq!(c.escalation().outputs, ["oncall"]);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let e = AlertConfig::from_toml_str("\n[escalation]\nafter = \"soon\"\n", "a.toml").unwrap_err();
        let msg = error_chain(&e);
        assert!(msg.contains("a.toml") && msg.contains("after"), "{msg}");
        let e = AlertConfig::from_toml_str("[escalation]\noutputs = [\"on call\"]\n", "a.toml").unwrap_err();
        assert!(error_chain(&e).contains("outputs"), "{e}");
        let e = AlertConfig::from_toml_str("[escalation]\nafterr = \"1m\"\n", "a.toml").unwrap_err();
        let msg = error_chain(&e);
        assert!(msg.contains("afterr"), "{msg}");
    }
}
