//! Combined rules: rain over 24 h AND saturated soil at the same site (or
//! slope label) → landslide warning.

use telegate_model::FieldValue;

use super::*;
use crate::{AlertState, Change, Severity};

const LANDSLIDE: &str = r#"
[device_labels.rg-002]
slope = "pa-tan"

[device_labels.ls-009]
slope = "pa-tan"

[[rule]]
id = "rain-24h"
name = "Rain over 24 h"
kind = "sum"
measurement = "rain_gauge"
field = "rain_mm"
window = "24h"

[[rule.level]]
name = "risk level 1"
severity = "warning"
threshold = 100.0
clear = 90.0

[[rule]]
id = "soil-saturated"
name = "Soil near saturation"
kind = "threshold"
measurement = "landslide"
field = "soil_saturation_pct"
notify = false

[[rule.level]]
name = "saturated"
severity = "warning"
threshold = 85.0
clear = 82.0

[[rule]]
id = "landslide"
name = "Landslide warning"
kind = "combined"
all_of = ["rain-24h", "soil-saturated"]
severity = "critical"
level_name = "landslide warning"
message = "{site}: {value.rain-24h} mm in 24 h on soil at {value.soil-saturated} % of saturation"
resolved_message = "{site}: landslide warning lifted"

[[rule]]
id = "landslide-slope"
name = "Landslide warning on a slope"
kind = "combined"
all_of = ["rain-24h", "soil-saturated"]
group_by = ["slope"]
severity = "critical"
message = "slope {tag.slope}: rain {value.rain-24h} mm, soil {value.soil-saturated} %"
"#;

fn soil(device: &str, site: &str, t: i64, pct: f64) -> Point {
    point(
        "landslide",
        device,
        site,
        t,
        &[("soil_saturation_pct", FieldValue::Float(pct))],
    )
}

/// 120 mm over 6 h at `site`, 10-minute samples.
fn soak(e: &mut Engine, device: &str, site: &str) -> Vec<Transition> {
    let mut out = Vec::new();
    for i in 1..=36 {
        let t = T0 + i * 10 * MIN;
        out.extend(e.observe(&rain(device, site, t, 120.0 / 36.0), t));
    }
    out
}

#[test]
fn rain_and_saturated_soil_at_one_site_fire_a_landslide_warning() {
    let mut e = engine(LANDSLIDE);
    let ts = soak(&mut e, "rg-001", "sin-ho");
    assert_eq!(
        summary(&ts),
        [("rain-24h".into(), Change::Fired, "risk level 1".into())]
    );

    let t1 = T0 + 7 * H;
    assert!(e.observe(&soil("ls-001", "sin-ho", t1, 80.0), t1).is_empty());
    // Saturated soil at another site, where it has not rained: nothing (and
    // the silent component reports nothing of its own).
    assert!(e.observe(&soil("ls-002", "than-uyen", t1, 90.0), t1).is_empty());

    let t2 = t1 + 10 * MIN;
    let ts = e.observe(&soil("ls-001", "sin-ho", t2, 88.0), t2);
    let t = one(&ts);
    assert_eq!(
        (t.rule_id.as_str(), t.to, t.severity),
        ("landslide", AlertState::Firing, Severity::Critical)
    );
    assert_eq!(t.series.to_string(), "*,site=sin-ho");
    assert_eq!(t.event_time_ns, t2);
    assert_eq!(t.message, "sin-ho: 120 mm in 24 h on soil at 88 % of saturation");
    assert_eq!(t.values.get("soil-saturated"), Some(&88.0));

    let listed: Vec<String> = e.firing().into_iter().map(|a| a.rule_id).collect();
    assert_eq!(
        listed,
        ["landslide", "rain-24h"],
        "critical first; notify = false rules are not listed"
    );

    let t3 = t2 + 10 * MIN;
    let ts = e.observe(&soil("ls-001", "sin-ho", t3, 81.0), t3);
    let t = one(&ts);
    assert_eq!(
        (t.rule_id.as_str(), t.change, t.message.as_str()),
        ("landslide", Change::Resolved, "sin-ho: landslide warning lifted")
    );
}

#[test]
fn a_label_joins_devices_of_different_sites() {
    let mut e = engine(LANDSLIDE);
    let ts = soak(&mut e, "rg-002", "sin-ho");
    assert_eq!(ts.len(), 1);
    let t = T0 + 7 * H;
    let ts = e.observe(&soil("ls-009", "than-uyen", t, 90.0), t);
    // The site-grouped rule sees rain at sin-ho and soil at than-uyen: no;
    // the slope-grouped one joins them.
    let t = one(&ts);
    assert_eq!(t.rule_id, "landslide-slope");
    assert_eq!(t.message, "slope pa-tan: rain 120 mm, soil 90 %");
}

#[test]
fn a_component_timer_elapsing_on_tick_fires_the_combined_rule_in_the_same_tick() {
    let text = LANDSLIDE.replace("notify = false", "notify = false\nfor = \"20m\"");
    let mut e = engine(&text);
    soak(&mut e, "rg-001", "sin-ho");
    let mut clock = MockClock::at(T0 + 7 * H);
    assert!(
        e.observe(&soil("ls-001", "sin-ho", clock.now, 90.0), clock.now)
            .is_empty()
    );
    assert!(e.tick(clock.advance(19 * MIN)).is_empty());
    let ts = e.tick(clock.advance(MIN));
    let t = one(&ts);
    assert_eq!((t.rule_id.as_str(), t.change), ("landslide", Change::Fired));
    assert_eq!(t.event_time_ns, T0 + 7 * H + 20 * MIN);
}
