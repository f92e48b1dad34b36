//! What `telegate demo` adds for the operators' side: the example alert
//! rules, and the scripted episode ([`telegate_sim::scenario::demo_episode`])
//! its fleet plays so alerts fire and clear in the first minutes.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use telegate_model::TopicPattern;
use telegate_schema::Registry;
use telegate_sim::SimMessage;
use telegate_sim::scenario::{Encoder, EpisodeConfig, demo_episode};

/// `config/alerts.example.toml`, as shipped.
pub const EXAMPLE_RULES: &str = include_str!("../../../config/alerts.example.toml");

/// The example rules with every deadman's cadence set to the episode's
/// reporting interval (`mode_cadence` values to half of it): the demo's
/// devices report every few seconds, not every 10 minutes, so a gauge that
/// stops is offline after three missed reports of *its* cadence. `None`
/// keeps the rules as they are.
pub fn demo_rules(interval: Option<Duration>) -> anyhow::Result<String> {
    let Some(interval) = interval.filter(|d| !d.is_zero()) else {
        return Ok(EXAMPLE_RULES.to_owned());
    };
    let mut doc: toml::Table = toml::from_str(EXAMPLE_RULES).context("config/alerts.example.toml")?;
    let text = |d: Duration| toml::Value::String(format!("{}ms", d.as_millis().max(1)));
    if let Some(toml::Value::Array(rules)) = doc.get_mut("rule") {
        for rule in rules.iter_mut().filter_map(toml::Value::as_table_mut) {
            if rule.get("kind").and_then(toml::Value::as_str) != Some("deadman") {
                continue;
            }
            rule.insert("cadence".into(), text(interval));
            if let Some(toml::Value::Table(modes)) = rule.get_mut("mode_cadence") {
                for (_, v) in modes.iter_mut() {
                    *v = text(interval / 2);
                }
            }
        }
    }
    let body = toml::to_string(&doc).context("rendering the demo's rules")?;
    Ok(format!(
        "# config/alerts.example.toml as `telegate demo` runs it: deadman cadences set to\n# the scripted episode's reporting interval ({} ms).\n{body}",
        interval.as_millis()
    ))
}

/// Write the demo's rules to `path`.
pub fn write_rules(path: &Path, interval: Option<Duration>) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, demo_rules(interval)?).with_context(|| format!("writing {}", path.display()))
}

/// How long the episode's gauges keep reporting after it.
pub const GAUGES_AFTER: Duration = Duration::from_secs(3600);

/// The episode's messages, stamped from `start_ns` over `duration`.
pub fn messages(
    registry: &Registry,
    pattern: TopicPattern,
    start_ns: i64,
    duration: Duration,
) -> anyhow::Result<Vec<SimMessage>> {
    let mut encoder = Encoder::new(registry, pattern).context("the episode's encoder")?;
    let readings = demo_episode(&EpisodeConfig {
        start_ns,
        duration,
        tail: GAUGES_AFTER,
    });
    Ok(readings
        .iter()
        .filter_map(|r| encoder.encode(std::slice::from_ref(r), r.time_ns))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_rules_scale_only_the_deadman_cadences_and_still_parse() -> anyhow::Result<()> {
        let text = demo_rules(Some(Duration::from_millis(2500)))?;
        let cfg = telegate_alert::AlertConfig::from_toml_str(&text, "demo.toml")?;
        assert_eq!(
            cfg.rules().len(),
            telegate_alert::AlertConfig::from_toml_str(EXAMPLE_RULES, "x")?
                .rules()
                .len()
        );
        assert!(text.contains("cadence = \"2500ms\""), "{text}");
        assert!(text.contains("flood = \"1250ms\""), "{text}");
        assert_eq!(demo_rules(None)?, EXAMPLE_RULES);
        Ok(())
    }
}
