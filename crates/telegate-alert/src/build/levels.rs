//! Validation of `[[rule.level]]` tables: names, thresholds, clear levels
//! and their order; and the single level of state, deadman and combined
//! rules (`flag_level`).
//!
//! Order matters because the engine picks the most severe level that holds
//! by walking the list backwards: a BĐ III listed before BĐ II would make a
//! rising river skip an alarm. So levels must go from least to most severe,
//! and a wrong order is a config error rather than something silently sorted.

use toml::Spanned;

use crate::config::{RawLevel, RawRule};
use crate::error::ConfigError;
use crate::rule::{Bounds, Direction, Level, Severity};

use super::Cx;

pub(crate) fn levels(cx: &Cx<'_>, direction: Direction, raw: &[Spanned<RawLevel>]) -> Result<Vec<Level>, ConfigError> {
    if raw.is_empty() {
        return Err(cx.missing(
            "level",
            "add at least one [[rule.level]] with name, severity and threshold (low/high for direction = \"outside\")",
        ));
    }
    let mut out: Vec<Level> = Vec::with_capacity(raw.len());
    for (i, spanned) in raw.iter().enumerate() {
        let l = spanned.get_ref();
        let lcx = Cx {
            path: cx.path,
            text: cx.text,
            line: cx.line_at(spanned.span()),
            at: match &l.name {
                Some(name) => format!("{}, level `{name}`", cx.at),
                None => format!("{}, level #{}", cx.at, i + 1),
            },
        };
        let name = l
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| lcx.missing("name", "add name = \"BĐ I\" (shown in messages)"))?;
        if out.iter().any(|o| o.name == name) {
            return Err(lcx.bad(
                lcx.key_line("name"),
                "name",
                &name,
                "two levels share this name",
                "name every level differently",
            ));
        }
        let severity = l
            .severity
            .ok_or_else(|| lcx.missing("severity", "add severity = \"info\", \"warning\" or \"critical\""))?;
        check_name_severity(&lcx, "name", &name, severity)?;
        let bounds = bounds(&lcx, direction, l)?;
        let level = Level { name, severity, bounds };
        if let Some(prev) = out.last() {
            check_order(&lcx, prev, &level)?;
        }
        out.push(level);
    }
    Ok(out)
}

/// A level named after a severity must have that severity: "▲ CRITICAL …
/// warning" reads as a contradiction to an operator.
pub(crate) fn check_name_severity(
    cx: &Cx<'_>,
    key: &'static str,
    name: &str,
    severity: Severity,
) -> Result<(), ConfigError> {
    let lower = name.trim().to_lowercase();
    let named = [Severity::Info, Severity::Warning, Severity::Critical]
        .into_iter()
        .find(|s| s.as_str() == lower);
    match named {
        Some(s) if s != severity => Err(cx.bad(
            cx.key_line(key),
            key,
            name,
            format!(
                "names severity {} but the level's severity is {}",
                s.as_str(),
                severity.as_str()
            ),
            "name the level after what it means (e.g. \"fast rise\", \"BĐ III\") or make the two agree",
        )),
        _ => Ok(()),
    }
}

fn finite(cx: &Cx<'_>, key: &'static str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !x.is_finite() => {
            Err(cx.bad(cx.key_line(key), key, x, "not a finite number", "write a plain number"))
        }
        v => Ok(v),
    }
}

fn bounds(cx: &Cx<'_>, direction: Direction, l: &RawLevel) -> Result<Bounds, ConfigError> {
    let only_outside = [
        ("low", l.low),
        ("high", l.high),
        ("clear_low", l.clear_low),
        ("clear_high", l.clear_high),
    ];
    let only_one_sided = [("threshold", l.threshold), ("clear", l.clear)];
    let misplaced = |key: &str, v: f64, applies: &str, fix: &str| {
        cx.bad(
            cx.key_line(key),
            key,
            v,
            format!("applies only to direction = {applies}"),
            fix,
        )
    };
    match direction {
        Direction::Above | Direction::Below => {
            if let Some((key, Some(v))) = only_outside.iter().find(|(_, v)| v.is_some()) {
                return Err(misplaced(
                    key,
                    *v,
                    "\"outside\"",
                    "use threshold and clear, or set direction = \"outside\"",
                ));
            }
            let threshold = finite(cx, "threshold", l.threshold)?
                .ok_or_else(|| cx.missing("threshold", "add threshold = <number> (the level starts there)"))?;
            let clear = finite(cx, "clear", l.clear)?.unwrap_or(threshold);
            let above = direction == Direction::Above;
            if (above && clear > threshold) || (!above && clear < threshold) {
                let side = if above { "at or below" } else { "at or above" };
                return Err(cx.bad(
                    cx.key_line("clear"),
                    "clear",
                    clear,
                    format!("the clear level must be {side} the threshold ({threshold}), or the alert would clear while the value is still past it"),
                    format!("set clear {side} {threshold}: the gap is the hysteresis"),
                ));
            }
            Ok(if above {
                Bounds::Above { threshold, clear }
            } else {
                Bounds::Below { threshold, clear }
            })
        }
        Direction::Outside => {
            if let Some((key, Some(v))) = only_one_sided.iter().find(|(_, v)| v.is_some()) {
                return Err(misplaced(
                    key,
                    *v,
                    "\"above\" or \"below\"",
                    "use low and high (with clear_low and clear_high) for direction = \"outside\"",
                ));
            }
            let low = finite(cx, "low", l.low)?
                .ok_or_else(|| cx.missing("low", "add low = <number>: at or below it the value is outside"))?;
            let high = finite(cx, "high", l.high)?
                .ok_or_else(|| cx.missing("high", "add high = <number>: at or above it the value is outside"))?;
            let clear_low = finite(cx, "clear_low", l.clear_low)?.unwrap_or(low);
            let clear_high = finite(cx, "clear_high", l.clear_high)?.unwrap_or(high);
            if low >= high {
                return Err(cx.bad(
                    cx.key_line("low"),
                    "low",
                    low,
                    format!("must be below high ({high})"),
                    "swap low and high",
                ));
            }
            if !(low <= clear_low && clear_low < clear_high && clear_high <= high) {
                return Err(cx.bad(
                    cx.key_line("clear_low"),
                    "clear_low/clear_high",
                    format!("{clear_low}/{clear_high}"),
                    format!("clear levels must lie inside the band: {low} <= clear_low < clear_high <= {high}"),
                    "move clear_low up from low and clear_high down from high",
                ));
            }
            Ok(Bounds::Outside {
                low,
                high,
                clear_low,
                clear_high,
            })
        }
    }
}

fn check_order(cx: &Cx<'_>, prev: &Level, level: &Level) -> Result<(), ConfigError> {
    let wrong = |key: &'static str, value: f64, expected: &'static str, previous: f64| ConfigError::LevelOrder {
        at: cx.loc(cx.key_line(key)),
        level: level.name.clone(),
        key,
        value,
        expected,
        previous_level: prev.name.clone(),
        previous,
    };
    match (&prev.bounds, &level.bounds) {
        (Bounds::Above { threshold: p, .. }, Bounds::Above { threshold: t, .. }) if t <= p => {
            Err(wrong("threshold", *t, "higher than", *p))
        }
        (Bounds::Below { threshold: p, .. }, Bounds::Below { threshold: t, .. }) if t >= p => {
            Err(wrong("threshold", *t, "lower than", *p))
        }
        (Bounds::Outside { low: pl, high: ph, .. }, Bounds::Outside { low, high, .. }) => {
            if low >= pl {
                Err(wrong("low", *low, "lower than", *pl))
            } else if high <= ph {
                Err(wrong("high", *high, "higher than", *ph))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

pub(crate) fn flag_level(cx: &Cx<'_>, raw: &RawRule) -> Result<Vec<Level>, ConfigError> {
    let severity = raw
        .severity
        .ok_or_else(|| cx.missing("severity", "add severity = \"info\", \"warning\" or \"critical\""))?;
    if let Some(name) = &raw.level_name {
        check_name_severity(cx, "level_name", name, severity)?;
    }
    Ok(vec![Level {
        name: raw.level_name.clone().unwrap_or_else(|| severity.as_str().to_owned()),
        severity,
        bounds: Bounds::Flag,
    }])
}
