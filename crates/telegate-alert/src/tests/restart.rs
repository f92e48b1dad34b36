//! Restarts (snapshot → file → restore) and rule reloads.

use std::path::PathBuf;

use super::*;
use crate::{AlertState, Change, Snapshot, SnapshotError};

const EXTRA: &str = r#"
[[rule]]
id = "sustained"
name = "Sustained high stage"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
match = { site = "sin-ho" }
for = "10m"

[[rule.level]]
name = "high"
severity = "warning"
threshold = 100.0
clear = 99.5

[[rule]]
id = "rain-3h"
name = "Rain over 3 h"
kind = "sum"
measurement = "rain_gauge"
field = "rain_mm"
window = "3h"

[[rule.level]]
name = "warning"
severity = "warning"
threshold = 70.0
clear = 60.0

[[rule]]
id = "offline"
name = "Offline"
kind = "deadman"
measurement = "river_level"
cadence = "10m"
severity = "warning"
"#;

/// A unique scratch directory under the system temp dir (no tempfile crate).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("telegate-alert-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rules() -> String {
    format!("{FLOOD}{EXTRA}").replace(
        "[[rule]]\nid = \"flood\"",
        "[[rule]]\nid = \"flood\"\nrenotify = \"1h\"",
    )
}

#[test]
fn restart_mid_alert_continues_without_a_duplicate_fire() {
    let mut a = engine(&rules());
    let mut clock = MockClock::at(T0);
    // Firing: BĐ II at Mường Tè. Pending: sin-ho high since T0. Window: 60 mm.
    let fired_ts = a.observe(&stage("rl-001", "muong-te", T0, 288.7), clock.now);
    assert_eq!(fired(&fired_ts), 1);
    a.observe(&stage("rl-002", "sin-ho", T0, 100.2), clock.now);
    for i in 1..=6 {
        a.observe(&rain("rg-001", "sin-ho", T0 + i * 10 * MIN, 10.0), clock.now);
    }
    let before = a.firing();

    let dir = scratch("restart");
    let path = dir.join("alerts-state.json");
    a.snapshot().save(&path).unwrap();
    assert!(
        !dir.join(".alerts-state.json.tmp").exists(),
        "the temporary file was renamed away"
    );
    drop(a);

    // The gateway is down for 5 minutes, then restarts.
    let restored = Snapshot::load(&path).unwrap().unwrap();
    let mut b = Engine::restore(config(&rules()), restored);
    assert_eq!(b.firing(), before, "same alerts, ids, levels and notify times");
    clock.advance(5 * MIN);
    // Still at BĐ II: no new fire.
    assert!(
        b.observe(&stage("rl-001", "muong-te", T0 + 10 * MIN, 288.8), clock.now)
            .is_empty()
    );
    // The pending timer kept its start: 10 minutes after T0 it fires.
    let ts = b.observe(&stage("rl-002", "sin-ho", T0 + 10 * MIN, 100.3), clock.now);
    assert_eq!(
        (one(&ts).rule_id.as_str(), one(&ts).from, one(&ts).event_time_ns),
        ("sustained", AlertState::Pending, T0 + 10 * MIN)
    );
    // The window kept its 60 mm: 12 more make 72.
    let ts = b.observe(&rain("rg-001", "sin-ho", T0 + 70 * MIN, 12.0), clock.now);
    assert_eq!((one(&ts).rule_id.as_str(), one(&ts).value), ("rain-3h", Some(72.0)));
    // Re-notify counts from the notification before the restart (T0).
    assert!(b.tick(clock.advance(54 * MIN)).iter().all(|t| t.rule_id != "flood"));
    let ts = b.tick(clock.advance(MIN));
    let re: Vec<&Transition> = ts.iter().filter(|t| t.rule_id == "flood").collect();
    assert_eq!(re.len(), 1);
    assert_eq!(
        (re[0].change, re[0].alert_id.as_str()),
        (Change::Renotified, fired_ts[0].alert_id.as_str())
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn after_a_restart_deadman_silence_counts_from_the_restart() {
    let mut a = engine(&rules());
    a.observe(&stage("rl-001", "muong-te", T0, 286.0), T0);
    let snap = a.snapshot();
    // Down for 2 hours: the device was not silent, we were deaf.
    let mut b = Engine::restore(config(&rules()), snap);
    let mut clock = MockClock::at(T0 + 2 * H);
    assert!(b.tick(clock.now).is_empty());
    assert!(b.tick(clock.advance(30 * MIN)).is_empty());
    let ts = b.tick(clock.advance(S));
    assert_eq!((one(&ts).rule_id.as_str(), one(&ts).change), ("offline", Change::Fired));
}

#[test]
fn snapshot_round_trips_through_json_and_refuses_other_versions() {
    let mut a = engine(&rules());
    a.observe(&stage("rl-001", "muong-te", T0, 290.5), T0);
    a.observe(&rain("rg-001", "sin-ho", T0, 3.5), T0);
    let snap = a.snapshot();
    let json = snap.to_json().unwrap();
    let path = PathBuf::from("state.json");
    assert_eq!(Snapshot::from_json(&json, &path).unwrap(), snap);

    let text = String::from_utf8(json)
        .unwrap()
        .replacen("\"version\":1", "\"version\":99", 1);
    let e = Snapshot::from_json(text.as_bytes(), &path).unwrap_err();
    assert!(matches!(e, SnapshotError::Version { found: 99, .. }), "{e}");
    let e = telegate_model::error_chain(&Snapshot::from_json(b"{\"version\":1", &path).unwrap_err());
    assert!(e.starts_with("state.json: alert state is not valid JSON"), "{e}");
    assert!(
        e.ends_with("EOF while parsing an object at line 1 column 12"),
        "the cause, once: {e}"
    );
    assert_eq!(Snapshot::load(&scratch("missing").join("none.json")).unwrap(), None);
}

#[test]
fn reload_keeps_state_of_rules_that_remain_and_drops_the_rest() {
    let mut e = engine(&rules());
    let ts = e.observe(&stage("rl-001", "muong-te", T0, 288.7), T0);
    let id = ts[0].alert_id.clone();
    e.observe(&rain("rg-001", "sin-ho", T0, 65.0), T0);

    // New file: BĐ I's threshold tuned, rain-3h removed, a new rule added.
    let new_rules = rules()
        .replace("threshold = 287.0", "threshold = 287.2")
        .replace("id = \"rain-3h\"", "id = \"rain-1h\"")
        .replace("window = \"3h\"", "window = \"1h\"");
    e.reload(config(&new_rules));
    let firing = e.firing();
    assert_eq!(
        (firing.len(), firing[0].alert_id.as_str(), firing[0].level.as_str()),
        (1, id.as_str(), "BĐ II")
    );
    assert!(
        e.observe(&stage("rl-001", "muong-te", T0 + 10 * MIN, 288.9), T0 + 10 * MIN)
            .is_empty()
    );
    // rain-1h starts empty: the 65 mm of the dropped rule are not carried over.
    assert!(
        e.observe(&rain("rg-001", "sin-ho", T0 + 10 * MIN, 10.0), T0 + 10 * MIN)
            .is_empty()
    );
    let snap = serde_json::to_string(&e.snapshot()).unwrap();
    assert!(!snap.contains("rain-3h") && snap.contains("rain-1h"), "{snap}");

    // A level that disappears resets its series: the alert starts afresh.
    e.reload(config(&new_rules.replace("name = \"BĐ II\"", "name = \"BĐ 2\"")));
    assert!(e.firing().is_empty());
    let ts = e.observe(&stage("rl-001", "muong-te", T0 + 20 * MIN, 288.9), T0 + 20 * MIN);
    assert_eq!((one(&ts).change, one(&ts).level.as_str()), (Change::Fired, "BĐ 2"));
}
