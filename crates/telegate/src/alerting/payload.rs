//! What a transition looks like on the wire: the JSON body (MQTT and
//! webhook), the MQTT topic, and the `alerts` point (InfluxDB). The exact
//! formats are documented, with examples, in `docs/alerts.md`.

use std::sync::Arc;

use bytes::Bytes;
use telegate_alert::Transition;
use telegate_model::{FieldValue, Point};

/// The InfluxDB measurement transitions are written to (the Grafana
/// dashboard `deploy/grafana/dashboards/alerts.json` reads it).
pub const MEASUREMENT: &str = "alerts";

/// One transition, serialized once and shared by every output.
#[derive(Debug)]
pub struct Delivery {
    pub transition: Transition,
    /// `serde_json` of the transition: the MQTT payload and the webhook body.
    pub json: Bytes,
    /// The rule is a deadman: its value is seconds of silence, which the
    /// human text ([`super::text`]) says as a duration.
    pub deadman: bool,
}

impl Delivery {
    /// `rule_kind`: the rule's `kind` (`Rule::kind`), as far as the text
    /// told to people depends on it.
    pub fn new(transition: Transition, rule_kind: &str) -> Result<Arc<Delivery>, serde_json::Error> {
        let json = Bytes::from(serde_json::to_vec(&transition)?);
        Ok(Arc::new(Delivery {
            transition,
            json,
            deadman: rule_kind == "deadman",
        }))
    }

    /// Unique per transition (not per alert): lets a webhook receiver drop
    /// a retried delivery it already has.
    pub fn idempotency_key(&self) -> String {
        let t = &self.transition;
        format!("{}-{}-{}", t.alert_id, state_name(&t.change), t.evaluated_at_ns)
    }
}

/// The snake_case name serde gives a unit enum variant (`"fired"`, `"firing"`).
pub fn state_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// One topic level: never empty, never a wildcard or separator.
fn level(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) if !s.is_empty() => out.extend(s.chars().map(|c| match c {
            '/' | '+' | '#' | '\0' => '_',
            c => c,
        })),
        _ => out.push('_'),
    }
}

/// `{prefix}/{site}/{device_id}/{rule_id}`; `_` stands for a series without
/// a site or device (a combined rule grouped by a label).
pub fn mqtt_topic(prefix: &str, t: &Transition) -> String {
    let mut topic = String::with_capacity(prefix.len() + 64);
    topic.push_str(prefix);
    for part in [
        t.series.site.as_deref(),
        t.series.device_id.as_deref(),
        Some(t.rule_id.as_str()),
    ] {
        topic.push('/');
        level(&mut topic, part);
    }
    topic
}

/// Tag keys of the `alerts` point set from the transition itself; a
/// series tag (a gate lane, a device label) with one of these names is
/// written as `series_<name>`.
const OWN_TAGS: [&str; 7] = [
    "rule",
    "level",
    "severity",
    "change",
    "device_id",
    "site",
    "measurement",
];

/// Line protocol cannot end a tag with a backslash nor carry a newline.
fn tag_value(s: &str) -> String {
    s.replace(['\n', '\r'], " ").trim_end_matches('\\').to_owned()
}

/// The `alerts` point of a transition. Its identity (tags + time) includes
/// `change`, so a `resolved` at the same event time as its `fired` (a
/// deadman resolved by a redelivered old reading) does not overwrite it.
pub fn influx_point(t: &Transition) -> Point {
    let mut tags: Vec<(Arc<str>, String)> = vec![
        ("rule".into(), tag_value(&t.rule_id)),
        ("level".into(), tag_value(&t.level)),
        ("severity".into(), t.severity.as_str().to_owned()),
        ("change".into(), state_name(&t.change)),
    ];
    let s = &t.series;
    for (k, v) in [
        ("device_id", s.device_id.as_deref()),
        ("site", s.site.as_deref()),
        ("measurement", s.measurement.as_deref()),
    ] {
        if let Some(v) = v {
            tags.push((k.into(), tag_value(v)));
        }
    }
    for (k, v) in &s.tags {
        let key = if OWN_TAGS.contains(&k.as_str()) {
            format!("series_{k}")
        } else {
            k.clone()
        };
        tags.push((tag_value(&key).into(), tag_value(v)));
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    let mut fields: Vec<(Arc<str>, FieldValue)> = vec![
        ("state".into(), FieldValue::Str(state_name(&t.to))),
        ("from".into(), FieldValue::Str(state_name(&t.from))),
        ("message".into(), FieldValue::Str(t.message.clone())),
        ("alert_id".into(), FieldValue::Str(t.alert_id.clone())),
    ];
    if let Some(s) = &t.silenced_by {
        fields.push(("silenced_by".into(), FieldValue::Str(s.clone())));
    }
    for (k, v) in [("value", t.value), ("threshold", t.threshold)] {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            fields.push((k.into(), FieldValue::Float(v)));
        }
    }
    Point {
        measurement: MEASUREMENT.into(),
        tags,
        fields,
        time_ns: t.event_time_ns,
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub(crate) use super::tests::transition;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use telegate_alert::{AlertState, Change, SeriesKey, Severity};

    use super::*;

    pub(crate) fn transition() -> Transition {
        Transition {
            alert_id: "0123456789abcdef".into(),
            rule_id: "flood-muong-te".into(),
            rule_name: "Flood".into(),
            level: "BĐ II".into(),
            previous_level: Some("BĐ I".into()),
            severity: Severity::Warning,
            series: SeriesKey {
                measurement: Some("river_level".into()),
                device_id: Some("rl-001".into()),
                site: Some("muong-te".into()),
                tags: BTreeMap::from([("level".to_owned(), "x".to_owned())]),
            },
            from: AlertState::Firing,
            to: AlertState::Firing,
            change: Change::Escalated,
            value: Some(288.6),
            threshold: Some(288.5),
            values: BTreeMap::new(),
            event_time_ns: 1_700_000_000_000_000_000,
            episode_start_ns: 1_699_999_000_000_000_000,
            evaluated_at_ns: 1_700_000_000_100_000_000,
            late: false,
            silenced_by: None,
            message: "rl-001 at muong-te: stage 288.6 m ≥ BĐ II (288.5 m)".into(),
        }
    }

    #[test]
    fn topic_levels_are_safe() {
        let mut t = transition();
        assert_eq!(
            mqtt_topic("telegate/alerts", &t),
            "telegate/alerts/muong-te/rl-001/flood-muong-te"
        );
        t.series.device_id = None;
        t.series.site = Some("a/b#".into());
        assert_eq!(mqtt_topic("p", &t), "p/a_b_/_/flood-muong-te");
    }

    #[test]
    fn point_has_documented_tags_and_fields() {
        let mut line = Vec::new();
        telegate_lp::encode_point(&influx_point(&transition()), &mut line).unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "alerts,change=escalated,device_id=rl-001,level=BĐ\\ II,measurement=river_level,rule=flood-muong-te,\
             series_level=x,severity=warning,site=muong-te state=\"firing\",from=\"firing\",\
             message=\"rl-001 at muong-te: stage 288.6 m ≥ BĐ II (288.5 m)\",alert_id=\"0123456789abcdef\",\
             value=288.6,threshold=288.5 1700000000000000000\n"
        );
    }

    #[test]
    fn json_uses_snake_case_names() {
        let d = Delivery::new(transition(), "threshold").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&d.json).unwrap();
        assert_eq!(v["change"], "escalated");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["series"]["device_id"], "rl-001");
        assert_eq!(d.idempotency_key(), "0123456789abcdef-escalated-1700000000100000000");
    }
}
