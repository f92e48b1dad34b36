//! State-match rules at the gate: tamper at once, barrier open too long.

use telegate_model::FieldValue;

use super::*;
use crate::{AlertState, Change};

const GATE: &str = r#"
[[rule]]
id = "tamper"
name = "Barrier cabinet tamper"
kind = "state"
measurement = "gate_barrier"
when = { tamper = true }
severity = "critical"
level_name = "tamper"
message = "{device_id} lane {tag.lane} at {site}: tamper switch fired"

[[rule]]
id = "open-unattended"
name = "Barrier open with no vehicle"
kind = "state"
measurement = "gate_barrier"
when = { state = "open", vehicle_present = false }
for = "5m"
severity = "warning"
"#;

fn barrier(lane: &str, t: i64, state: &str, vehicle: bool, tamper: bool) -> Point {
    let mut p = point(
        "gate_barrier",
        "gb-001",
        "ma-lu-thang",
        t,
        &[
            ("state", FieldValue::Str(state.to_owned())),
            ("vehicle_present", FieldValue::Bool(vehicle)),
            ("tamper", FieldValue::Bool(tamper)),
        ],
    );
    p.tags.insert(1, ("lane".into(), lane.to_owned()));
    p
}

#[test]
fn tamper_fires_at_once_per_lane() {
    let mut e = engine(GATE);
    assert!(e.observe(&barrier("in-1", T0, "closed", false, false), T0).is_empty());
    let ts = e.observe(&barrier("in-1", T0 + MIN, "closed", false, true), T0 + MIN);
    let t = one(&ts);
    assert_eq!(
        (t.rule_id.as_str(), t.to, t.level.as_str()),
        ("tamper", AlertState::Firing, "tamper")
    );
    assert_eq!(t.message, "gb-001 lane in-1 at ma-lu-thang: tamper switch fired");
    assert_eq!(
        t.series.to_string(),
        "gate_barrier,device_id=gb-001,site=ma-lu-thang,lane=in-1"
    );
    // The other lane is its own series.
    assert!(
        e.observe(&barrier("out-1", T0 + MIN, "closed", false, false), T0 + MIN)
            .is_empty()
    );
    let ts = e.observe(&barrier("in-1", T0 + 2 * MIN, "closed", false, false), T0 + 2 * MIN);
    assert_eq!(one(&ts).change, Change::Resolved);
}

#[test]
fn barrier_open_without_a_vehicle_for_five_minutes() {
    let mut e = engine(GATE);
    let ts = e.observe(&barrier("in-1", T0, "open", false, false), T0);
    assert_eq!(one(&ts).to, AlertState::Pending);
    // A truck drives through: the condition breaks, the timer restarts.
    let ts = e.observe(&barrier("in-1", T0 + 2 * MIN, "open", true, false), T0 + 2 * MIN);
    assert_eq!(one(&ts).change, Change::Cancelled);
    e.observe(&barrier("in-1", T0 + 3 * MIN, "open", false, false), T0 + 3 * MIN);
    assert!(
        e.observe(&barrier("in-1", T0 + 7 * MIN, "open", false, false), T0 + 7 * MIN)
            .is_empty()
    );
    let ts = e.observe(&barrier("in-1", T0 + 8 * MIN, "open", false, false), T0 + 8 * MIN);
    let t = one(&ts);
    assert_eq!((t.change, t.event_time_ns), (Change::Fired, T0 + 8 * MIN));
    assert_eq!(t.message, "gb-001 at ma-lu-thang: Barrier open with no vehicle");
}
