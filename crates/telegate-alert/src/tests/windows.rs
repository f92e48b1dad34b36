//! Window rules: rain sums, PM2.5 means, river rise rates, and late samples
//! feeding windows.

use telegate_model::FieldValue;

use super::*;
use crate::Change;

const RAIN: &str = r#"
[[rule]]
id = "rain-3h"
name = "Rain over 3 h"
kind = "sum"
measurement = "rain_gauge"
field = "rain_mm"
window = "3h"
message = "{device_id}: {value} mm in {window} ({level_name})"

[[rule.level]]
name = "flash-flood warning"
severity = "warning"
threshold = 70.0
clear = 60.0

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

[[rule.level]]
name = "risk level 2"
severity = "critical"
threshold = 200.0
clear = 180.0
"#;

#[test]
fn rain_sums_over_3h_and_24h_reach_the_risk_levels() {
    let mut e = engine(RAIN);
    let mut all = Vec::new();
    // 10-minute samples: 6 mm each for 2 h (72 mm in 3 h), then 5 mm each.
    for i in 1..=36 {
        let mm = if i <= 12 { 6.0 } else { 5.0 };
        let t = T0 + i * 10 * MIN;
        all.extend(e.observe(&rain("rg-001", "sin-ho", t, mm), t));
    }
    // The 3 h sum reaches 70 at the 12th sample (72 mm); the 24 h sum passes
    // 100 at sample 18 (72 + 30 = 102 mm) and never reaches 200 here.
    let s = summary(&all);
    assert_eq!(s[0], ("rain-3h".into(), Change::Fired, "flash-flood warning".into()));
    assert_eq!(s[1], ("rain-24h".into(), Change::Fired, "risk level 1".into()));
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(all[0].event_time_ns, T0 + 120 * MIN);
    assert_eq!(all[0].value, Some(72.0));
    assert_eq!(all[0].message, "rg-001: 72 mm in 3h (flash-flood warning)");
    assert_eq!(all[1].event_time_ns, T0 + 180 * MIN);
    assert_eq!(all[1].value, Some(102.0));

    // Rain stops: 0 mm samples. The 3 h sum drops below its clear level (60)
    // once the wet samples leave the window; the 24 h sum keeps them all.
    let mut later = Vec::new();
    for i in 37..=60 {
        let t = T0 + i * 10 * MIN;
        later.extend(e.observe(&rain("rg-001", "sin-ho", t, 0.0), t));
    }
    assert_eq!(
        summary(&later),
        [("rain-3h".into(), Change::Resolved, "flash-flood warning".into())]
    );
    // 36 samples: 12 × 6 + 24 × 5 = 192 mm, still risk level 1.
    let firing = e.firing();
    assert_eq!((firing.len(), firing[0].value), (1, Some(192.0)));
}

#[test]
fn late_rain_samples_complete_a_window_and_duplicates_do_not_count_twice() {
    let mut e = engine(RAIN);
    // 60 mm arrives in order...
    for i in 1..=6 {
        let t = T0 + i * 20 * MIN;
        assert!(e.observe(&rain("rg-001", "sin-ho", t, 10.0), t).is_empty());
    }
    // ... redelivered (QoS 1 duplicates): still 60 mm.
    for i in 1..=6 {
        let t = T0 + i * 20 * MIN;
        assert!(e.observe(&rain("rg-001", "sin-ho", t, 10.0), T0 + 3 * H).is_empty());
    }
    // A sample from inside the window arrives out of order: 72 mm as of the
    // watermark (T0 + 2 h). It fires at the watermark, not at its own time.
    let ts = e.observe(&rain("rg-001", "sin-ho", T0 + 10 * MIN, 12.0), T0 + 3 * H);
    let t = one(&ts);
    assert_eq!(
        (t.rule_id.as_str(), t.value, t.event_time_ns),
        ("rain-3h", Some(72.0), T0 + 2 * H)
    );
    // A sample from 2 h before T0 is outside the 3 h window as of the
    // watermark (dropped there) but inside the 24 h one: 122 mm, risk level 1.
    let ts = e.observe(&rain("rg-001", "sin-ho", T0 - 2 * H, 50.0), T0 + 3 * H);
    let t = one(&ts);
    assert_eq!(
        (t.rule_id.as_str(), t.value, t.event_time_ns),
        ("rain-24h", Some(122.0), T0 + 2 * H)
    );
    assert_eq!(
        e.firing().iter().find(|a| a.rule_id == "rain-3h").and_then(|a| a.value),
        Some(72.0)
    );
}

const PM25: &str = r#"
[[rule]]
id = "pm25-24h"
name = "PM2.5 24 h mean"
kind = "mean"
measurement = "air_quality"
field = "pm2_5_ugm3"
window = "24h"
min_samples = 108
decimals = 1

[[rule.level]]
name = "QCVN 24 h limit"
severity = "warning"
threshold = 50.0
clear = 45.0
"#;

fn pm(t: i64, v: f64) -> Point {
    point(
        "air_quality",
        "aq-001",
        "ma-lu-thang",
        t,
        &[("pm2_5_ugm3", FieldValue::Float(v))],
    )
}

#[test]
fn pm25_24h_mean_needs_a_day_of_data_and_ignores_a_short_spike() {
    let mut e = engine(PM25);
    let mut all = Vec::new();
    // A truck-queue spike of 300 µg/m³ for the first hour: no verdict yet
    // (fewer than 108 samples in the window).
    for i in 0..6 {
        let t = T0 + i * 10 * MIN;
        all.extend(e.observe(&pm(t, 300.0), t));
    }
    // Then 30 µg/m³ for the rest of the day: mean = (6 × 300 + 138 × 30) /
    // 144 = 41.25, below the 50 µg/m³ limit.
    for i in 6..144 {
        let t = T0 + i * 10 * MIN;
        all.extend(e.observe(&pm(t, 30.0), t));
    }
    assert!(all.is_empty(), "{:?}", summary(&all));

    // Burning season: 70 µg/m³ from then on. Once the spike has left the
    // window the mean is (40 i - 1400) / 144, which reaches 50 at i = 215.
    let mut burn = Vec::new();
    for i in 144..240 {
        let t = T0 + i * 10 * MIN;
        burn.extend(e.observe(&pm(t, 70.0), t));
    }
    let t = one(&burn);
    assert_eq!(
        (t.change, t.event_time_ns, t.value),
        (Change::Fired, T0 + 215 * 10 * MIN, Some(50.0))
    );
}

const RISE: &str = r#"
[[rule]]
id = "flash-flood-rise"
name = "Flash-flood rise"
kind = "rate"
measurement = "river_level"
field = "stage_m"
window = "15m"
per = "10m"
message = "{device_id}: rose {value} m in 10 min"

[[rule.level]]
name = "flash flood"
severity = "critical"
threshold = 0.20
clear = 0.10
"#;

#[test]
fn river_rising_20cm_in_10_minutes() {
    let mut e = engine(RISE);
    let mut clock = MockClock::at(T0);
    // Flood mode, 5-minute reports: +5 cm per report (10 cm / 10 min).
    let mut level = 285.0;
    for i in 0..4 {
        level += 0.05;
        assert!(
            e.observe(
                &stage("rl-001", "muong-te", T0 + i * 5 * MIN, level),
                clock.advance(5 * MIN)
            )
            .is_empty()
        );
    }
    // Then +15 cm per report: over the 15-minute window 0.05 + 0.15 + 0.15
    // = 0.35 m in 15 min = 0.233 m per 10 min.
    level += 0.15;
    assert!(
        e.observe(
            &stage("rl-001", "muong-te", T0 + 20 * MIN, level),
            clock.advance(5 * MIN)
        )
        .is_empty()
    );
    level += 0.15;
    let ts = e.observe(
        &stage("rl-001", "muong-te", T0 + 25 * MIN, level),
        clock.advance(5 * MIN),
    );
    let t = one(&ts);
    assert_eq!(t.change, Change::Fired);
    assert_eq!(t.message, "rl-001: rose 0.23 m in 10 min");
    // Level again: the slope falls below the clear level.
    let mut resolved = Vec::new();
    for i in 6..10 {
        resolved.extend(e.observe(
            &stage("rl-001", "muong-te", T0 + i * 5 * MIN, level),
            clock.advance(5 * MIN),
        ));
    }
    assert_eq!(
        summary(&resolved),
        [("flash-flood-rise".into(), Change::Resolved, "flash flood".into())]
    );
}

#[test]
fn tilt_rate_outside_a_band_fires_in_either_direction() {
    let text = r#"
[[rule]]
id = "tilt-rate"
name = "Slope tilt rate"
kind = "rate"
measurement = "landslide"
field = "tilt_x_deg"
window = "6h"
per = "1h"
direction = "outside"
decimals = 3
message = "{device_id}: tilt {value} °/h past {threshold} °/h ({level_name})"

[[rule.level]]
name = "caution"
severity = "warning"
low = -0.01
high = 0.01
clear_low = -0.007
clear_high = 0.007
"#;
    let mut e = engine(text);
    let tilt = |t: i64, deg: f64| {
        point(
            "landslide",
            "ls-001",
            "sin-ho",
            t,
            &[("tilt_x_deg", FieldValue::Float(deg))],
        )
    };
    // Tilting back by 0.02 degrees per hour, 10-minute samples.
    let mut all = Vec::new();
    for i in 0..=6 {
        let t = T0 + i * 10 * MIN;
        all.extend(e.observe(&tilt(t, 1.5 - 0.02 * i as f64 / 6.0), t));
    }
    let t = one(&all);
    assert_eq!((t.change, t.threshold), (Change::Fired, Some(-0.01)));
    assert_eq!(t.message, "ls-001: tilt -0.02 °/h past -0.01 °/h (caution)");
}
