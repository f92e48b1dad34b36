//! Checks of the keys that belong to one rule kind: windows, the single
//! level of state/deadman/combined rules, `match` and `when` values, message
//! templates, and a combined rule's components.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::config::RawRule;
use crate::error::ConfigError;
use crate::rule::{Bounds, Calc, Expected, Kind, Level, Rule};
use crate::series::Grouping;
use crate::template::{COMMON_VARS, Template};
use crate::validate::Cx;

pub(crate) fn calc(cx: &Cx<'_>, kind: &str, raw: &RawRule) -> Result<Calc, ConfigError> {
    if kind == "threshold" {
        return Ok(Calc::Last);
    }
    let window = raw
        .window
        .as_ref()
        .ok_or_else(|| cx.missing("window", "add window = \"24h\" (event time, device clock)"))?;
    let window_ns = cx.duration("window", window, true)?;
    let min_samples = match &raw.min_samples {
        Some(n) if *n.get_ref() == 0 => {
            return Err(cx.bad(
                cx.line_at(n.span()),
                "min_samples",
                0,
                "must be at least 1",
                "use 1 or more",
            ));
        }
        Some(n) => *n.get_ref(),
        None => 1,
    };
    Ok(match kind {
        "sum" => Calc::Sum { window_ns, min_samples },
        "mean" => Calc::Mean { window_ns, min_samples },
        _ => {
            let per_ns = cx.opt_duration("per", &raw.per, true)?.unwrap_or(window_ns);
            let min_span_ns = match &raw.min_span {
                None => per_ns.min(window_ns),
                Some(v) => {
                    let ns = cx.duration("min_span", v, true)?;
                    if ns > window_ns {
                        return Err(cx.bad(
                            cx.line_at(v.span()),
                            "min_span",
                            v.get_ref(),
                            "is longer than the window, so the rate could never be judged",
                            format!("use at most the window ({})", window.get_ref()),
                        ));
                    }
                    ns
                }
            };
            Calc::Rate {
                window_ns,
                per_ns,
                min_span_ns,
            }
        }
    })
}

/// The single level of a state, deadman or combined rule.
pub(crate) fn flag_level(cx: &Cx<'_>, raw: &RawRule) -> Result<Vec<Level>, ConfigError> {
    let severity = raw
        .severity
        .ok_or_else(|| cx.missing("severity", "add severity = \"info\", \"warning\" or \"critical\""))?;
    if let Some(name) = &raw.level_name {
        crate::level_check::check_name_severity(cx, "level_name", name, severity)?;
    }
    Ok(vec![Level {
        name: raw.level_name.clone().unwrap_or_else(|| severity.as_str().to_owned()),
        severity,
        bounds: Bounds::Flag,
    }])
}

pub(crate) fn match_tags(
    cx: &Cx<'_>,
    raw: Option<&BTreeMap<String, Spanned<toml::Value>>>,
) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    let mut out = Vec::new();
    for (key, v) in raw.into_iter().flatten() {
        let line = cx.line_at(v.span());
        let accepted = match v.get_ref() {
            toml::Value::String(s) => vec![s.clone()],
            toml::Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    cx.bad(
                        line,
                        format!("match.{key}"),
                        v.get_ref(),
                        "tag values are strings",
                        "quote each value",
                    )
                })?,
            other => {
                return Err(cx.bad(
                    line,
                    format!("match.{key}"),
                    other,
                    "expected a string or a non-empty list of strings",
                    format!("write match = {{ {key} = \"value\" }} or {key} = [\"a\", \"b\"]"),
                ));
            }
        };
        out.push((key.clone(), accepted));
    }
    Ok(out)
}

pub(crate) fn expected(cx: &Cx<'_>, key: &str, v: &Spanned<toml::Value>) -> Result<Expected, ConfigError> {
    Ok(match v.get_ref() {
        toml::Value::Boolean(b) => Expected::Bool(*b),
        toml::Value::String(s) => Expected::Str(s.clone()),
        toml::Value::Integer(i) => Expected::Int(*i),
        toml::Value::Float(f) => Expected::Float(*f),
        other => {
            return Err(cx.bad(
                cx.line_at(v.span()),
                format!("when.{key}"),
                other,
                "a state is compared with one boolean, string or number",
                "write e.g. when = { tamper = true } or { state = \"open\" }",
            ));
        }
    })
}

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

pub(crate) fn resolve_components(
    cx: &Cx<'_>,
    rules: &[Rule],
    index: usize,
    ids: &[String],
) -> Result<Vec<usize>, ConfigError> {
    let bad = |component: &str, problem: &'static str| ConfigError::BadComponent {
        at: cx.loc(cx.line),
        component: component.to_owned(),
        problem,
    };
    let Grouping::Tags(group_by) = &rules[index].grouping else {
        return Err(bad("", "but the rule has no group"));
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(i) = rules.iter().position(|r| &r.id == id) else {
            return Err(bad(id, "which is not a rule in this file"));
        };
        let provides = match &rules[i].kind {
            Kind::Combined { .. } => return Err(bad(id, "which is itself a combined rule")),
            _ => match &rules[i].grouping {
                Grouping::AllTags => true,
                Grouping::Device => group_by.iter().all(|g| g == "device_id" || g == "site"),
                Grouping::Tags(tags) => group_by.iter().all(|g| tags.contains(g)),
            },
        };
        if !provides {
            return Err(bad(id, "whose group_by lacks a tag of this rule's group_by"));
        }
        if out.contains(&i) {
            return Err(bad(id, "which is listed twice"));
        }
        out.push(i);
    }
    Ok(out)
}
