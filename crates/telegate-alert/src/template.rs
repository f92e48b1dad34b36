//! Message templates: `"{device_id} at {site}: stage {value} m ≥ {level_name}"`.
//!
//! Parsed once when the config loads, so a misspelt placeholder is a config
//! error naming the rule, not a blank in a message at 3 a.m. Rendering is a
//! walk over pre-split pieces: no parsing on the hot path.

use std::fmt::Write as _;
use std::time::Duration;

use humantime_serde::re::humantime;

use crate::series::SeriesKey;

/// A placeholder in a template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Var {
    DeviceId,
    Site,
    Measurement,
    /// The whole series key, `river_level,device_id=rl-001,site=muong-te`.
    Series,
    Field,
    Value,
    Threshold,
    Clear,
    LevelName,
    Severity,
    RuleId,
    RuleName,
    Window,
    For,
    /// Deadman: how long the device has been silent.
    Silence,
    /// Deadman: cadence × factor.
    Limit,
    /// `{tag.lane}`: any tag or device label of the series.
    Tag(String),
    /// `{value.rain-24h}`: a combined rule's component value.
    Component(String),
}

impl Var {
    fn named(name: &str) -> Option<Var> {
        Some(match name {
            "device_id" => Var::DeviceId,
            "site" => Var::Site,
            "measurement" => Var::Measurement,
            "series" => Var::Series,
            "field" => Var::Field,
            "value" => Var::Value,
            "threshold" => Var::Threshold,
            "clear" => Var::Clear,
            "level_name" => Var::LevelName,
            "severity" => Var::Severity,
            "rule_id" => Var::RuleId,
            "rule_name" => Var::RuleName,
            "window" => Var::Window,
            "for" => Var::For,
            "silence" => Var::Silence,
            "limit" => Var::Limit,
            _ => {
                if let Some(tag) = name.strip_prefix("tag.").filter(|t| !t.is_empty()) {
                    Var::Tag(tag.to_owned())
                } else if let Some(rule) = name.strip_prefix("value.").filter(|r| !r.is_empty()) {
                    Var::Component(rule.to_owned())
                } else {
                    return None;
                }
            }
        })
    }
}

/// Placeholders every rule kind may use.
pub(crate) const COMMON_VARS: &[&str] = &[
    "device_id",
    "site",
    "measurement",
    "series",
    "level_name",
    "severity",
    "rule_id",
    "rule_name",
    "tag.NAME",
];

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(Var),
}

/// A parsed message template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

/// Everything a template may refer to, for one transition.
#[derive(Debug)]
pub(crate) struct RenderCtx<'a> {
    pub(crate) series: &'a SeriesKey,
    pub(crate) rule_id: &'a str,
    pub(crate) rule_name: &'a str,
    pub(crate) field: Option<&'a str>,
    pub(crate) level_name: &'a str,
    pub(crate) severity: &'a str,
    pub(crate) value: Option<f64>,
    pub(crate) threshold: Option<f64>,
    pub(crate) clear: Option<f64>,
    pub(crate) window_ns: Option<i64>,
    pub(crate) for_ns: i64,
    pub(crate) components: &'a [(String, f64)],
    pub(crate) decimals: usize,
}

impl Template {
    /// Parse `text`; `extra` lists the kind-specific placeholders allowed
    /// besides [`COMMON_VARS`], `components` the rule ids `{value.ID}` may
    /// name. The error is the problem in words (the caller adds file, rule
    /// and fix).
    pub(crate) fn parse(text: &str, extra: &[&str], components: &[String]) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text_buf = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    text_buf.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    text_buf.push('}');
                }
                '}' => return Err(format!("stray `}}` at byte {at} (write `}}}}` for a literal brace)")),
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!("`{{` at byte {at} is never closed"));
                    };
                    let name = rest[..end].trim();
                    let var = Var::named(name).ok_or_else(|| format!("unknown placeholder `{{{name}}}`"))?;
                    let allowed = match &var {
                        Var::Tag(_) => true,
                        Var::Component(rule) => components.iter().any(|c| c == rule),
                        _ => COMMON_VARS.contains(&name) || extra.contains(&name),
                    };
                    if !allowed {
                        return Err(format!("placeholder `{{{name}}}` does not apply to this rule kind"));
                    }
                    if !text_buf.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text_buf)));
                    }
                    pieces.push(Piece::Var(var));
                    // Skip the placeholder's characters.
                    while chars.next_if(|&(i, _)| i <= at + end + 1).is_some() {}
                }
                c => text_buf.push(c),
            }
        }
        if !text_buf.is_empty() {
            pieces.push(Piece::Text(text_buf));
        }
        Ok(Template { pieces })
    }

    pub(crate) fn render(&self, ctx: &RenderCtx<'_>) -> String {
        let mut out = String::with_capacity(96);
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => write_var(&mut out, v, ctx),
            }
        }
        out
    }
}

fn write_var(out: &mut String, var: &Var, ctx: &RenderCtx<'_>) {
    let opt = |out: &mut String, s: Option<&str>| out.push_str(s.unwrap_or("-"));
    let num = |out: &mut String, v: Option<f64>| match v {
        Some(v) => out.push_str(&format_number(v, ctx.decimals)),
        None => out.push('-'),
    };
    let dur = |out: &mut String, ns: Option<i64>| match ns {
        Some(ns) => out.push_str(&format_duration_ns(ns)),
        None => out.push('-'),
    };
    match var {
        Var::DeviceId => opt(out, ctx.series.device_id.as_deref()),
        Var::Site => opt(out, ctx.series.site.as_deref()),
        Var::Measurement => opt(out, ctx.series.measurement.as_deref()),
        Var::Series => {
            let _ = write!(out, "{}", ctx.series);
        }
        Var::Field => opt(out, ctx.field),
        Var::Value => num(out, ctx.value),
        Var::Threshold => num(out, ctx.threshold),
        Var::Clear => num(out, ctx.clear),
        Var::LevelName => out.push_str(ctx.level_name),
        Var::Severity => out.push_str(ctx.severity),
        Var::RuleId => out.push_str(ctx.rule_id),
        Var::RuleName => out.push_str(ctx.rule_name),
        Var::Window => dur(out, ctx.window_ns),
        Var::For => dur(out, Some(ctx.for_ns)),
        // Deadman passes silence and limit as value and threshold, in seconds.
        Var::Silence => dur(out, ctx.value.map(|s| (s * 1e9) as i64)),
        Var::Limit => dur(out, ctx.threshold.map(|s| (s * 1e9) as i64)),
        Var::Tag(tag) => opt(out, ctx.series.tag(tag)),
        Var::Component(rule) => num(out, ctx.components.iter().find(|(r, _)| r == rule).map(|(_, v)| *v)),
    }
}

/// `285.4`, `290`, `51.23`: fixed decimals, trailing zeros dropped.
pub(crate) fn format_number(v: f64, decimals: usize) -> String {
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" { "0".to_owned() } else { s }
}

/// `10m`, `1h 30m`: whole seconds, humantime style.
pub(crate) fn format_duration_ns(ns: i64) -> String {
    let secs = u64::try_from(ns.max(0) / 1_000_000_000).unwrap_or(0);
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            measurement: Some("river_level".into()),
            device_id: Some("rl-001".into()),
            site: Some("muong-te".into()),
            tags: [("station".to_owned(), "Mường Tè".to_owned())].into_iter().collect(),
        }
    }

    fn ctx<'a>(series: &'a SeriesKey, components: &'a [(String, f64)]) -> RenderCtx<'a> {
        RenderCtx {
            series,
            rule_id: "river-bd",
            rule_name: "Flood alarm",
            field: Some("stage_m"),
            level_name: "BĐ III",
            severity: "critical",
            value: Some(290.1234),
            threshold: Some(290.0),
            clear: Some(289.8),
            window_ns: None,
            for_ns: 600_000_000_000,
            components,
            decimals: 2,
        }
    }

    #[test]
    fn renders_values_tags_and_literal_braces() {
        let t = Template::parse(
            "{device_id} at {site} ({tag.station}): stage {value} m ≥ {level_name} ({threshold} m) for {for} {{ok}}",
            &["value", "threshold", "for"],
            &[],
        )
        .unwrap();
        let key = key();
        assert_eq!(
            t.render(&ctx(&key, &[])),
            "rl-001 at muong-te (Mường Tè): stage 290.12 m ≥ BĐ III (290 m) for 10m {ok}"
        );
    }

    #[test]
    fn unknown_and_misplaced_placeholders_are_refused() {
        let err = Template::parse("stage {vaule}", &["value"], &[]).unwrap_err();
        assert_eq!(err, "unknown placeholder `{vaule}`");
        let err = Template::parse("{window}", &["value"], &[]).unwrap_err();
        assert!(err.contains("does not apply"), "{err}");
        let err = Template::parse("{value.rain}", &[], &["soil".into()]).unwrap_err();
        assert!(err.contains("`{value.rain}`"), "{err}");
        assert!(
            Template::parse("open {site", &[], &[])
                .unwrap_err()
                .contains("never closed")
        );
        assert!(Template::parse("x } y", &[], &[]).unwrap_err().contains("stray"));
    }

    #[test]
    fn component_values_render() {
        let t = Template::parse("{site}: rain {value.rain-24h} mm", &[], &["rain-24h".into()]).unwrap();
        let key = key();
        let comps = [("rain-24h".to_owned(), 132.5)];
        assert_eq!(t.render(&ctx(&key, &comps)), "muong-te: rain 132.5 mm");
    }

    #[test]
    fn numbers_and_durations_are_short() {
        assert_eq!(format_number(285.40, 2), "285.4");
        assert_eq!(format_number(-0.001, 2), "0");
        assert_eq!(format_number(0.005, 3), "0.005");
        assert_eq!(format_duration_ns(5_400_000_000_000), "1h 30m");
    }
}
