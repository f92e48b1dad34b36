//! A rule's `message` and `resolved_message` templates, checked against
//! the variables its kind provides.

use toml::Spanned;

use crate::config::RawRule;
use crate::error::ConfigError;
use crate::template::{COMMON_VARS, Template};

use super::Cx;

pub(crate) fn templates(
    cx: &Cx<'_>,
    kind: &str,
    raw: &RawRule,
    components: &[String],
) -> Result<(Template, Template), ConfigError> {
    let (extra, message, resolved): (&[&str], &str, &str) = match kind {
        "threshold" => (
            &["field", "value", "threshold", "clear", "for"],
            "{device_id} at {site}: {field} {value} reached {level_name} ({threshold})",
            "{device_id} at {site}: {field} {value}, {rule_name} {level_name} cleared",
        ),
        "sum" | "mean" | "rate" => (
            &["field", "value", "threshold", "clear", "for", "window"],
            "{device_id} at {site}: {rule_name} {value} over {window} reached {level_name} ({threshold})",
            "{device_id} at {site}: {rule_name} {value} over {window}, {level_name} cleared",
        ),
        "state" => (
            &["for"],
            "{device_id} at {site}: {rule_name}",
            "{device_id} at {site}: {rule_name} cleared",
        ),
        "deadman" => (
            &["silence", "limit"],
            "{device_id} at {site}: no reading for {silence} (expected within {limit})",
            "{device_id} at {site}: reporting again after {silence}",
        ),
        _ => (&["for"], "{series}: {rule_name}", "{series}: {rule_name} cleared"),
    };
    let parse = |key: &'static str, text: &Option<Spanned<String>>, default: &str| {
        let (text, line) = match text {
            Some(t) => (t.get_ref().as_str(), cx.line_at(t.span())),
            None => (default, cx.line),
        };
        Template::parse(text, extra, components).map_err(|problem| {
            let mut allowed: Vec<String> = COMMON_VARS.iter().chain(extra).map(|v| format!("{{{v}}}")).collect();
            allowed.extend(components.iter().map(|c| format!("{{value.{c}}}")));
            ConfigError::BadTemplate {
                at: cx.loc(line),
                key,
                problem,
                allowed: allowed.join(" "),
            }
        })
    };
    Ok((
        parse("message", &raw.message, message)?,
        parse("resolved_message", &raw.resolved_message, resolved)?,
    ))
}
