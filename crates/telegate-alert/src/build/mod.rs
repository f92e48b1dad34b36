//! From the raw TOML tables to validated [`Rule`]s, kind by kind: this
//! module walks the file and builds each rule; one submodule per concern
//! checks its keys (`levels`, `window`, `tags`, `templates`,
//! `components`).
//!
//! Every check that can fail names the line, the rule, the key and the fix.
//! Checks that depend on other rules (combined rules' `all_of`) run in a
//! second pass, so rules may be listed in any order.

mod components;
mod levels;
mod tags;
mod templates;
mod window;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use humantime_serde::re::humantime;
use toml::Spanned;

use self::components::resolve_components;
use self::levels::flag_level;
use self::tags::{expected, match_tags};
use self::templates::templates;
use self::window::calc;
use crate::config::{AlertConfig, RawFile, RawRule, line_of};
use crate::error::{ConfigError, Location};
use crate::rule::{Direction, Kind, Rule, Selector};
use crate::series::Grouping;

/// Rule kinds compared with numeric levels.
const VALUE_KINDS: [&str; 4] = ["threshold", "sum", "mean", "rate"];
const DEFAULT_DECIMALS: usize = 2;
const DEFAULT_FACTOR: f64 = 3.0;

/// Where a problem is, for errors.
pub(crate) struct Cx<'a> {
    pub(crate) path: &'a str,
    pub(crate) text: &'a str,
    pub(crate) line: usize,
    pub(crate) at: String,
}

impl Cx<'_> {
    pub(crate) fn line_at(&self, span: Range<usize>) -> usize {
        line_of(self.text, span.start)
    }

    /// The line of `key = ...` in this table's body (the lines after its
    /// header up to the next header), or the header's line: most keys carry
    /// no span, and pointing at the key itself saves the reader a search.
    pub(crate) fn key_line(&self, key: &str) -> usize {
        self.text
            .lines()
            .enumerate()
            .skip(self.line)
            .take_while(|(_, l)| !l.trim_start().starts_with('['))
            .find(|(_, l)| {
                l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map_or(self.line, |(i, _)| i + 1)
    }

    pub(crate) fn loc(&self, line: usize) -> Box<Location> {
        Box::new(Location {
            path: self.path.to_owned(),
            line,
            context: self.at.clone(),
        })
    }

    pub(crate) fn missing(&self, key: &'static str, fix: impl Into<String>) -> ConfigError {
        ConfigError::MissingKey {
            at: self.loc(self.line),
            key,
            fix: fix.into(),
        }
    }

    pub(crate) fn bad(
        &self,
        line: usize,
        key: impl Into<String>,
        value: impl ToString,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::BadValue {
            at: self.loc(line),
            key: key.into(),
            value: value.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// A humantime duration in nanoseconds; `positive` refuses zero.
    pub(crate) fn duration(&self, key: &str, v: &Spanned<String>, positive: bool) -> Result<i64, ConfigError> {
        let line = self.line_at(v.span());
        let d = humantime::parse_duration(v.get_ref()).map_err(|e| ConfigError::BadDuration {
            at: self.loc(line),
            key: key.to_owned(),
            value: v.get_ref().clone(),
            reason: e.to_string(),
        })?;
        if positive && d.is_zero() {
            return Err(self.bad(
                line,
                key,
                v.get_ref(),
                "must be longer than zero",
                "give a positive duration",
            ));
        }
        Ok(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    pub(crate) fn opt_duration(
        &self,
        key: &str,
        v: &Option<Spanned<String>>,
        positive: bool,
    ) -> Result<Option<i64>, ConfigError> {
        v.as_ref().map(|v| self.duration(key, v, positive)).transpose()
    }
}

/// Rule-file defaults applied to every rule that does not set the key.
struct Defaults {
    renotify_ns: i64,
    decimals: usize,
    flap_limit: usize,
    flap_window_ns: i64,
}

/// `flap_window` when only `flap_limit` is set.
const DEFAULT_FLAP_WINDOW_NS: i64 = 3_600_000_000_000;

/// `flap_limit` (0 = off, else at least 2) and `flap_window` (positive).
fn check_flap(
    cx: &Cx<'_>,
    limit: &Option<Spanned<usize>>,
    window: &Option<Spanned<String>>,
    default_limit: usize,
    default_window_ns: i64,
) -> Result<(usize, i64), ConfigError> {
    let n = match limit {
        Some(l) if *l.get_ref() == 1 => {
            return Err(cx.bad(
                cx.line_at(l.span()),
                "flap_limit",
                1,
                "would report every alert as flapping the first time it fires",
                "use 0 (off) or 2 and more, e.g. flap_limit = 3",
            ));
        }
        Some(l) => *l.get_ref(),
        None => default_limit,
    };
    let window_ns = cx
        .opt_duration("flap_window", window, true)?
        .unwrap_or(default_window_ns);
    Ok((n, window_ns))
}

pub(crate) fn build(raw: RawFile, text: &str, path: &str) -> Result<AlertConfig, ConfigError> {
    let defaults_line = text.lines().position(|l| l.trim() == "[defaults]").map_or(1, |i| i + 1);
    let file_cx = Cx {
        path,
        text,
        line: defaults_line,
        at: "[defaults]".to_owned(),
    };
    let defaults = Defaults {
        renotify_ns: file_cx
            .opt_duration("renotify", &raw.defaults.renotify, false)?
            .unwrap_or(0),
        decimals: check_decimals(&file_cx, raw.defaults.decimals)?.unwrap_or(DEFAULT_DECIMALS),
        flap_limit: 0,
        flap_window_ns: DEFAULT_FLAP_WINDOW_NS,
    };
    let (flap_limit, flap_window_ns) = check_flap(
        &file_cx,
        &raw.defaults.flap_limit,
        &raw.defaults.flap_window,
        0,
        DEFAULT_FLAP_WINDOW_NS,
    )?;
    let defaults = Defaults {
        flap_limit,
        flap_window_ns,
        ..defaults
    };
    let labels = build_labels(raw.device_labels, text, path)?;

    let mut rules = Vec::with_capacity(raw.rule.len());
    let mut lines: HashMap<String, usize> = HashMap::new();
    let mut combined: Vec<(usize, Vec<String>, Cx<'_>)> = Vec::new();
    for (i, spanned) in raw.rule.into_iter().enumerate() {
        let line = line_of(text, spanned.span().start);
        let raw_rule = spanned.into_inner();
        let at = match &raw_rule.id {
            Some(id) => format!("rule `{id}`"),
            None => format!("rule #{}", i + 1),
        };
        let cx = Cx { path, text, line, at };
        let (rule, all_of) = build_rule(&cx, raw_rule, &defaults)?;
        if let Some(&first_line) = lines.get(&rule.id) {
            return Err(ConfigError::DuplicateId {
                at: cx.loc(line),
                id: rule.id,
                first_line,
            });
        }
        lines.insert(rule.id.clone(), line);
        if let Some(all_of) = all_of {
            combined.push((rules.len(), all_of, cx));
        }
        rules.push(rule);
    }
    for (index, ids, cx) in combined {
        let resolved = resolve_components(&cx, &rules, index, &ids)?;
        if let Kind::Combined { all_of } = &mut rules[index].kind {
            *all_of = resolved;
        }
    }
    Ok(AlertConfig {
        rules,
        labels,
        escalation: Default::default(),
    })
}

fn build_labels(
    raw: BTreeMap<String, Spanned<BTreeMap<String, String>>>,
    text: &str,
    path: &str,
) -> Result<HashMap<String, Vec<(String, String)>>, ConfigError> {
    let mut labels = HashMap::new();
    for (device, table) in raw {
        let line = line_of(text, table.span().start);
        let cx = Cx {
            path,
            text,
            line,
            at: format!("[device_labels.{device}]"),
        };
        let table = table.into_inner();
        for key in table.keys() {
            if matches!(key.as_str(), "device_id" | "site") || key.is_empty() {
                return Err(cx.bad(
                    line,
                    key.clone(),
                    key,
                    "labels cannot replace the device id or site from the topic",
                    "pick another label name, e.g. `station` or `catchment`",
                ));
            }
        }
        labels.insert(device, table.into_iter().collect());
    }
    Ok(labels)
}

fn check_decimals(cx: &Cx<'_>, d: Option<usize>) -> Result<Option<usize>, ConfigError> {
    match d {
        Some(d) if d > 9 => Err(cx.bad(
            cx.key_line("decimals"),
            "decimals",
            d,
            "more than 9 decimals",
            "use 0 to 9",
        )),
        d => Ok(d),
    }
}

/// Whether `key` may appear on a rule of `kind`.
fn applies(kind: &str, key: &str) -> bool {
    let value = VALUE_KINDS.contains(&kind);
    match key {
        "measurement" | "match" => kind != "combined",
        "field" | "direction" | "level" => value,
        "for" => kind != "deadman",
        "window" => matches!(kind, "sum" | "mean" | "rate"),
        "min_samples" => matches!(kind, "sum" | "mean"),
        "per" | "min_span" => kind == "rate",
        "cadence" | "factor" | "mode_field" | "mode_cadence" => kind == "deadman",
        "when" => kind == "state",
        "all_of" => kind == "combined",
        "severity" | "level_name" => !value,
        _ => true,
    }
}

fn hint(kind: &str, key: &str) -> &'static str {
    match key {
        "severity" | "level_name" => " (with levels, set `name` and `severity` on each [[rule.level]])",
        "level" => " (this kind has one level: set `severity` and `level_name` on the rule)",
        "for" => " (a deadman waits cadence × factor)",
        "measurement" | "match" => " (a combined rule takes its series from the rules in `all_of`)",
        "window" | "min_samples" | "per" | "min_span" if kind == "threshold" => {
            " (for windows use kind = \"sum\", \"mean\" or \"rate\")"
        }
        _ => "",
    }
}

fn build_rule(cx: &Cx<'_>, raw: RawRule, defaults: &Defaults) -> Result<(Rule, Option<Vec<String>>), ConfigError> {
    let id = raw
        .id
        .clone()
        .ok_or_else(|| cx.missing("id", "add id = \"a-unique-name\""))?;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(cx.bad(
            cx.key_line("id"),
            "id",
            &id,
            "ids are 1+ characters of A-Z a-z 0-9 - _ .",
            "rename the rule",
        ));
    }
    let name = raw
        .name
        .clone()
        .ok_or_else(|| cx.missing("name", "add name = \"what operators see\""))?;
    let kind_spanned = raw.kind.as_ref().ok_or_else(|| {
        cx.missing(
            "kind",
            "add kind = \"threshold\" (or sum, mean, rate, state, deadman, combined)",
        )
    })?;
    let kind_name: &'static str = match kind_spanned.get_ref().as_str() {
        "threshold" => "threshold",
        "sum" => "sum",
        "mean" => "mean",
        "rate" => "rate",
        "state" => "state",
        "deadman" => "deadman",
        "combined" => "combined",
        other => {
            return Err(ConfigError::UnknownKind {
                at: cx.loc(cx.line_at(kind_spanned.span())),
                kind: other.to_owned(),
            });
        }
    };
    let present: [(&'static str, bool); 20] = [
        ("measurement", raw.measurement.is_some()),
        ("match", raw.match_tags.is_some()),
        ("field", raw.field.is_some()),
        ("direction", raw.direction.is_some()),
        ("level", !raw.level.is_empty()),
        ("for", raw.for_.is_some()),
        ("window", raw.window.is_some()),
        ("min_samples", raw.min_samples.is_some()),
        ("per", raw.per.is_some()),
        ("min_span", raw.min_span.is_some()),
        ("cadence", raw.cadence.is_some()),
        ("factor", raw.factor.is_some()),
        ("mode_field", raw.mode_field.is_some()),
        ("mode_cadence", raw.mode_cadence.is_some()),
        ("when", raw.when.is_some()),
        ("all_of", raw.all_of.is_some()),
        ("severity", raw.severity.is_some()),
        ("level_name", raw.level_name.is_some()),
        ("group_by", raw.group_by.is_some()),
        ("notify", raw.notify.is_some()),
    ];
    if let Some((key, _)) = present.iter().find(|(key, is)| *is && !applies(kind_name, key)) {
        return Err(ConfigError::KeyNotForKind {
            at: cx.loc(cx.key_line(key)),
            key,
            kind: kind_name.to_owned(),
            hint: hint(kind_name, key),
        });
    }

    let for_ns = cx.opt_duration("for", &raw.for_, false)?.unwrap_or(0);
    let renotify_ns = cx
        .opt_duration("renotify", &raw.renotify, false)?
        .unwrap_or(defaults.renotify_ns);
    let decimals = check_decimals(cx, raw.decimals)?.unwrap_or(defaults.decimals);
    let (flap_limit, flap_window_ns) = check_flap(
        cx,
        &raw.flap_limit,
        &raw.flap_window,
        defaults.flap_limit,
        defaults.flap_window_ns,
    )?;
    let flap = (flap_limit > 0).then_some(crate::flap::FlapLimit {
        limit: flap_limit,
        window_ns: flap_window_ns,
    });
    let selector = Selector {
        measurement: raw.measurement.clone(),
        tags: match_tags(cx, raw.match_tags.as_ref())?,
    };
    let needs_measurement = || {
        raw.measurement.clone().ok_or_else(|| {
            cx.missing(
                "measurement",
                "add measurement = \"<sensor type>\", e.g. \"river_level\"",
            )
        })
    };
    let needs_field = || {
        raw.field
            .clone()
            .ok_or_else(|| cx.missing("field", "add field = \"<field of the point>\", e.g. \"stage_m\""))
    };
    let mut all_of_ids = None;

    let (kind, levels, default_grouping) = match kind_name {
        "threshold" | "sum" | "mean" | "rate" => {
            needs_measurement()?;
            let field = needs_field()?;
            let calc = calc(cx, kind_name, &raw)?;
            let direction = match raw.direction.as_ref().map(|d| (d.get_ref().as_str(), d.span())) {
                None | Some(("above", _)) => Direction::Above,
                Some(("below", _)) => Direction::Below,
                Some(("outside", _)) => Direction::Outside,
                Some((other, span)) => {
                    return Err(cx.bad(
                        cx.line_at(span),
                        "direction",
                        other,
                        "unknown direction",
                        "use \"above\", \"below\" or \"outside\"",
                    ));
                }
            };
            let levels = levels::levels(cx, direction, &raw.level)?;
            (Kind::Value { field, calc, direction }, levels, Grouping::AllTags)
        }
        "state" => {
            needs_measurement()?;
            let when = raw
                .when
                .as_ref()
                .filter(|w| !w.is_empty())
                .ok_or_else(|| cx.missing("when", "add when = { tamper = true }"))?;
            let when = when
                .iter()
                .map(|(k, v)| Ok((k.clone(), expected(cx, k, v)?)))
                .collect::<Result<_, ConfigError>>()?;
            (Kind::State { when }, flag_level(cx, &raw)?, Grouping::AllTags)
        }
        "deadman" => {
            let cadence = raw.cadence.as_ref().ok_or_else(|| {
                cx.missing(
                    "cadence",
                    "add cadence = \"10m\" (the device's normal reporting interval)",
                )
            })?;
            let cadence_ns = cx.duration("cadence", cadence, true)?;
            let factor = match &raw.factor {
                None => DEFAULT_FACTOR,
                Some(f) if f.get_ref().is_finite() && *f.get_ref() >= 1.0 => *f.get_ref(),
                Some(f) => {
                    return Err(cx.bad(
                        cx.line_at(f.span()),
                        "factor",
                        f.get_ref(),
                        "a deadman factor below 1 fires between two normal readings",
                        "use 2 to 3 (\"offline after three missed reports\" is 3)",
                    ));
                }
            };
            let mut mode_cadence = Vec::new();
            for (mode, d) in raw.mode_cadence.iter().flatten() {
                mode_cadence.push((mode.clone(), cx.duration(&format!("mode_cadence.{mode}"), d, true)?));
            }
            let mode_field = raw
                .mode_field
                .clone()
                .or_else(|| (!mode_cadence.is_empty()).then(|| "mode".to_owned()));
            let kind = Kind::Deadman {
                cadence_ns,
                factor,
                mode_field,
                mode_cadence,
            };
            (kind, flag_level(cx, &raw)?, Grouping::Device)
        }
        _ => {
            let all_of = raw
                .all_of
                .as_ref()
                .ok_or_else(|| cx.missing("all_of", "add all_of = [\"rule-a\", \"rule-b\"]"))?;
            if all_of.get_ref().len() < 2 {
                return Err(cx.bad(
                    cx.line_at(all_of.span()),
                    "all_of",
                    format!("{:?}", all_of.get_ref()),
                    "a combined rule needs at least two rules",
                    "list two or more rule ids, or use the rule itself",
                ));
            }
            all_of_ids = Some(all_of.get_ref().clone());
            let kind = Kind::Combined { all_of: Vec::new() };
            (kind, flag_level(cx, &raw)?, Grouping::Tags(vec!["site".to_owned()]))
        }
    };

    let grouping = match &raw.group_by {
        None => default_grouping,
        Some(g) if g.get_ref().is_empty() || g.get_ref().iter().any(String::is_empty) => {
            return Err(cx.bad(
                cx.line_at(g.span()),
                "group_by",
                format!("{:?}", g.get_ref()),
                "empty tag list or tag name",
                "name the tags that make a series, e.g. [\"site\"], or remove the key",
            ));
        }
        Some(g) => Grouping::Tags(g.get_ref().clone()),
    };
    let (message, resolved_message) = templates(cx, kind_name, &raw, all_of_ids.as_deref().unwrap_or(&[]))?;
    let rule = Rule {
        id,
        name,
        kind_name,
        kind,
        selector,
        grouping,
        levels,
        for_ns,
        renotify_ns,
        flap,
        notify: raw.notify.unwrap_or(true),
        message,
        resolved_message,
        decimals,
    };
    Ok((rule, all_of_ids))
}
