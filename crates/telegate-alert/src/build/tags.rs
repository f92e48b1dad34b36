//! `match` tables and `when` values: which series a rule watches and the
//! value a state rule expects.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::error::ConfigError;
use crate::rule::Expected;

use super::Cx;

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
