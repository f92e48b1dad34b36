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
