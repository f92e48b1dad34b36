//! The shipped example rules, run: what an operator sees from them.

use telegate_model::FieldValue;

use super::*;
use crate::{Change, Severity};

const EXAMPLE: &str = include_str!("../../../../config/alerts.example.toml");

#[test]
fn example_rules_alarm_per_station_and_at_the_gate() {
    let mut e = engine(EXAMPLE);
    let mut clock = MockClock::at(T0);

    // Mường Tè on the Đà: straight to BĐ III.
    e.observe(&stage("rl-001", "muong-te", T0, 286.0), clock.now);
    let ts = e.observe(
        &stage("rl-001", "muong-te", T0 + 10 * MIN, 290.1),
        clock.advance(10 * MIN),
    );
    let flood: Vec<&Transition> = ts.iter().filter(|t| t.rule_id == "flood-muong-te").collect();
    assert_eq!(flood.len(), 1, "{:?}", summary(&ts));
    assert_eq!(
        (flood[0].level.as_str(), flood[0].severity),
        ("BĐ III", Severity::Critical)
    );
    assert_eq!(flood[0].message, "rl-001 at muong-te: stage 290.1 m ≥ BĐ III (290 m)");
    // 4.1 m in 10 minutes also trips the flash-flood rate rule.
    assert!(
        ts.iter()
            .any(|t| t.rule_id == "flash-flood-rise" && t.change == Change::Fired)
    );

    // The same stage at Nậm Giàng's site means nothing; Lào Cai's levels
    // apply to the gauge labelled with that station.
    assert!(
        e.observe(&stage("rl-002", "ma-lu-thang", T0, 82.1), clock.now)
            .is_empty()
    );
    let ts = e.observe(&stage("rl-003", "sin-ho", T0, 82.1), clock.now);
    let t = one(&ts);
    assert_eq!((t.rule_id.as_str(), t.level.as_str()), ("flood-lao-cai", "BĐ II"));
    assert_eq!(t.message, "rl-003 (lao-cai): stage 82.1 m ≥ BĐ II (82 m)");

    // Tamper at the gate.
    let mut p = point(
        "gate_barrier",
        "gb-001",
        "ma-lu-thang",
        T0,
        &[
            ("state", FieldValue::Str("closed".into())),
            ("vehicle_present", FieldValue::Bool(false)),
            ("tamper", FieldValue::Bool(true)),
        ],
    );
    p.tags.insert(1, ("lane".into(), "in-1".into()));
    let ts = e.observe(&p, clock.now);
    assert_eq!(one(&ts).message, "gb-001 lane in-1 at ma-lu-thang: tamper switch fired");
}

/// A day of normal weather with sensor noise, 10-minute reports, plus two
/// river readings 10 s apart: the example rules say nothing at all.
#[test]
fn example_rules_are_quiet_on_a_normal_day() {
    let mut e = engine(EXAMPLE);
    let mut clock = MockClock::at(T0);
    let mut all = Vec::new();
    for i in 0..144_i64 {
        let t = T0 + i * 10 * MIN;
        let now = clock.advance(10 * MIN);
        let wobble = (i as f64 * 1.7).sin();
        all.extend(e.observe(&stage("rl-001", "muong-te", t, 285.0 + 0.02 * wobble), now));
        all.extend(e.observe(&rain("rg-001", "muong-te", t, if i % 7 == 0 { 0.5 } else { 0.0 }), now));
        all.extend(e.observe(
            &point(
                "landslide",
                "ls-001",
                "sin-ho",
                t,
                &[
                    ("tilt_x_deg", FieldValue::Float(1.5 + 0.002 * wobble)),
                    ("displacement_mm", FieldValue::Float(12.0 + 0.3 * wobble)),
                    ("soil_saturation_pct", FieldValue::Float(60.0)),
                ],
            ),
            now,
        ));
        all.extend(e.observe(
            &point(
                "device_health",
                "rl-001",
                "muong-te",
                t,
                &[("battery_v", FieldValue::Float(12.6))],
            ),
            now,
        ));
        all.extend(e.tick(now));
    }
    // A new gauge's first two readings, 10 s apart, 3 cm up: 10.8 m/h and
    // 1.8 m per 10 min if extrapolated (the rate rules would fire).
    let t = T0 + 144 * 10 * MIN;
    all.extend(e.observe(&stage("rl-009", "muong-te", t, 285.0), clock.advance(MIN)));
    all.extend(e.observe(&stage("rl-009", "muong-te", t + 10 * S, 285.03), clock.advance(10 * S)));
    assert_eq!(summary(&all), Vec::<(String, Change, String)>::new());
    let cfg = config(EXAMPLE);
    let risky: Vec<String> = cfg.rules().iter().filter_map(|r| r.flap_risk()).collect();
    assert_eq!(risky, Vec::<String>::new(), "no example rule can flap");
}

#[test]
fn level_lines_are_a_threshold_rules_levels_only() {
    let config = AlertConfig::from_toml_str(EXAMPLE, "alerts.example.toml").unwrap();
    let flood = config.rule("flood-muong-te").unwrap();
    assert_eq!(flood.field(), Some("stage_m"));
    let lines = flood.level_lines();
    let got: Vec<(&str, f64, f64, Severity)> = lines
        .iter()
        .map(|l| (l.name.as_str(), l.value, l.clear, l.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("BĐ I", 287.0, 286.8, Severity::Info),
            ("BĐ II", 288.5, 288.3, Severity::Warning),
            ("BĐ III", 290.0, 289.8, Severity::Critical),
        ]
    );
    // A sum's levels are millimetres over 24 h, not a rain gauge's reading.
    let rain = config.rule("rain-24h").unwrap();
    assert_eq!(rain.field(), Some("rain_mm"));
    assert!(rain.level_lines().is_empty());
    assert_eq!(config.rule("barrier-tamper").unwrap().field(), None);
}
