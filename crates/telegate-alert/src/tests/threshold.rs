//! Threshold rules: levels, hysteresis, `for`, re-notify, flapping,
//! out-of-order samples.

use telegate_model::FieldValue;

use super::*;
use crate::{AlertState, Change, Severity};

#[test]
fn levels_fire_escalate_deescalate_and_resolve_with_messages() {
    let mut e = engine(FLOOD);
    let mut clock = MockClock::at(T0);
    assert!(e.observe(&stage("rl-001", "muong-te", T0, 286.0), clock.now).is_empty());

    let t1 = T0 + 10 * MIN;
    let ts = e.observe(&stage("rl-001", "muong-te", t1, 287.2), clock.advance(10 * MIN));
    let t = one(&ts);
    assert_eq!(
        (t.from, t.to, t.change),
        (AlertState::Ok, AlertState::Firing, Change::Fired)
    );
    assert_eq!((t.level.as_str(), t.severity), ("BĐ I", Severity::Info));
    assert_eq!((t.value, t.threshold), (Some(287.2), Some(287.0)));
    assert_eq!((t.event_time_ns, t.evaluated_at_ns), (t1, clock.now));
    assert_eq!(t.message, "rl-001 at muong-te: stage 287.2 m ≥ BĐ I (287 m)");
    assert_eq!(t.series.to_string(), "river_level,device_id=rl-001,site=muong-te");
    let id = t.alert_id.clone();
    // What outputs receive.
    let json = serde_json::to_value(t).unwrap();
    assert_eq!(json["rule_id"], "flood");
    assert_eq!(json["rule_name"], "Flood alarm");
    assert_eq!(
        (json["from"].as_str(), json["to"].as_str(), json["change"].as_str()),
        (Some("ok"), Some("firing"), Some("fired"))
    );
    assert_eq!(
        (json["level"].as_str(), json["severity"].as_str()),
        (Some("BĐ I"), Some("info"))
    );
    assert_eq!(json["series"]["device_id"], "rl-001");
    assert_eq!(json["series"]["site"], "muong-te");
    assert_eq!(json["series"]["measurement"], "river_level");
    assert_eq!(
        (json["value"].as_f64(), json["threshold"].as_f64()),
        (Some(287.2), Some(287.0))
    );
    assert_eq!(json["event_time_ns"].as_i64(), Some(t1));
    assert_eq!(json["evaluated_at_ns"].as_i64(), Some(clock.now));
    assert_eq!(json["alert_id"].as_str(), Some(id.as_str()));
    assert_eq!(json["message"], "rl-001 at muong-te: stage 287.2 m ≥ BĐ I (287 m)");

    let ts = e.observe(
        &stage("rl-001", "muong-te", T0 + 20 * MIN, 290.4),
        clock.advance(10 * MIN),
    );
    let t = one(&ts);
    assert_eq!(
        (t.change, t.level.as_str(), t.previous_level.as_deref()),
        (Change::Escalated, "BĐ III", Some("BĐ I"))
    );
    assert_eq!((t.severity, t.alert_id.as_str()), (Severity::Critical, id.as_str()));

    // 289.9 is above BĐ III's clear level (289.8): still BĐ III.
    assert!(
        e.observe(
            &stage("rl-001", "muong-te", T0 + 30 * MIN, 289.9),
            clock.advance(10 * MIN)
        )
        .is_empty()
    );
    let ts = e.observe(
        &stage("rl-001", "muong-te", T0 + 40 * MIN, 289.0),
        clock.advance(10 * MIN),
    );
    assert_eq!(summary(&ts), [("flood".into(), Change::Deescalated, "BĐ II".into())]);

    let ts = e.observe(
        &stage("rl-001", "muong-te", T0 + 50 * MIN, 286.5),
        clock.advance(10 * MIN),
    );
    let t = one(&ts);
    assert_eq!(
        (t.from, t.to, t.change, t.level.as_str()),
        (AlertState::Firing, AlertState::Resolved, Change::Resolved, "BĐ II")
    );
    assert_eq!(t.alert_id, id, "one alert id for the whole episode");
    assert!(e.firing().is_empty());
}

#[test]
fn other_stations_and_missing_fields_are_ignored() {
    let mut e = engine(FLOOD);
    assert!(e.observe(&stage("rl-002", "ma-lu-thang", T0, 295.0), T0).is_empty());
    let temp_only = point(
        "river_level",
        "rl-001",
        "muong-te",
        T0,
        &[("water_temp_c", FieldValue::Float(20.0))],
    );
    assert!(e.observe(&temp_only, T0).is_empty());
    assert!(e.observe(&rain("rl-001", "muong-te", T0, 295.0), T0).is_empty());
}

#[test]
fn flapping_around_a_threshold_fires_once() {
    let mut e = engine(FLOOD);
    let mut all = Vec::new();
    // 286.9 / 287.1 alternating every 5 minutes for 4 hours: within BĐ I's
    // 0.2 m hysteresis band, so it fires once and never resolves.
    for i in 0..48 {
        let v = if i % 2 == 0 { 287.1 } else { 286.9 };
        all.extend(e.observe(&stage("rl-001", "muong-te", T0 + i * 5 * MIN, v), T0 + i * 5 * MIN));
    }
    assert_eq!(summary(&all), [("flood".into(), Change::Fired, "BĐ I".into())]);
    assert_eq!(e.firing().len(), 1);
}

const SUSTAINED: &str = r#"
[[rule]]
id = "sustained"
name = "Sustained high stage"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
for = "10m"
renotify = "1h"

[[rule.level]]
name = "high"
severity = "warning"
threshold = 100.0
clear = 99.5
"#;

#[test]
fn for_duration_fires_on_a_later_sample_or_is_cancelled() {
    let mut e = engine(SUSTAINED);
    let ts = e.observe(&stage("rl-001", "sin-ho", T0, 100.2), T0);
    assert_eq!((one(&ts).from, one(&ts).to), (AlertState::Ok, AlertState::Pending));
    assert!(
        e.observe(&stage("rl-001", "sin-ho", T0 + 5 * MIN, 100.3), T0 + 5 * MIN)
            .is_empty()
    );
    let ts = e.observe(&stage("rl-001", "sin-ho", T0 + 10 * MIN, 100.1), T0 + 10 * MIN);
    let t = one(&ts);
    assert_eq!(
        (t.from, t.to, t.event_time_ns),
        (AlertState::Pending, AlertState::Firing, T0 + 10 * MIN)
    );

    // Another device: pending, then below the clear level before `for`.
    e.observe(&stage("rl-002", "sin-ho", T0, 100.2), T0);
    let ts = e.observe(&stage("rl-002", "sin-ho", T0 + 5 * MIN, 99.0), T0 + 5 * MIN);
    assert_eq!(
        (one(&ts).from, one(&ts).to, one(&ts).change),
        (AlertState::Pending, AlertState::Ok, Change::Cancelled)
    );
}

#[test]
fn for_duration_elapses_on_tick_without_new_data() {
    let mut e = engine(SUSTAINED);
    let mut clock = MockClock::at(T0 + 2 * S);
    e.observe(&stage("rl-001", "sin-ho", T0, 100.2), clock.now);
    assert!(e.tick(clock.advance(9 * MIN)).is_empty());
    let ts = e.tick(clock.advance(MIN));
    let t = one(&ts);
    assert_eq!((t.change, t.to), (Change::Fired, AlertState::Firing));
    // Event time is when `for` ran out on the device's clock.
    assert_eq!(t.event_time_ns, T0 + 10 * MIN);
    assert!(e.tick(clock.advance(S)).is_empty());
}

#[test]
fn renotify_after_the_interval_in_wall_time() {
    let mut e = engine(&SUSTAINED.replace("for = \"10m\"", "for = \"0s\""));
    let mut clock = MockClock::at(T0);
    assert_eq!(fired(&e.observe(&stage("rl-001", "sin-ho", T0, 101.0), clock.now)), 1);
    assert!(e.tick(clock.advance(59 * MIN)).is_empty());
    let ts = e.tick(clock.advance(MIN));
    let t = one(&ts);
    assert_eq!(
        (t.from, t.to, t.change),
        (AlertState::Firing, AlertState::Firing, Change::Renotified)
    );
    assert!(e.tick(clock.advance(30 * MIN)).is_empty());
    assert_eq!(summary(&e.tick(clock.advance(30 * MIN)))[0].1, Change::Renotified);
    assert_eq!(e.firing()[0].last_notified_ns, clock.now);
}

#[test]
fn out_of_order_and_duplicate_samples_never_move_the_machine_back() {
    let mut e = engine(FLOOD);
    e.observe(&stage("rl-001", "muong-te", T0 + 20 * MIN, 288.6), T0 + 20 * MIN);
    assert_eq!(e.firing()[0].level, "BĐ II");
    // An older sample below every level arrives late: history, ignored.
    assert!(
        e.observe(&stage("rl-001", "muong-te", T0 + 10 * MIN, 280.0), T0 + 21 * MIN)
            .is_empty()
    );
    // A redelivered copy of the newest sample: nothing new.
    assert!(
        e.observe(&stage("rl-001", "muong-te", T0 + 20 * MIN, 288.6), T0 + 22 * MIN)
            .is_empty()
    );
    assert_eq!(e.firing()[0].level, "BĐ II");
    assert_eq!(e.firing()[0].value, Some(288.6));
}

#[test]
fn below_levels_for_batteries() {
    let text = r#"
[[rule]]
id = "battery"
name = "Battery"
kind = "threshold"
measurement = "device_health"
field = "battery_v"
direction = "below"
message = "{device_id}: battery {value} V ({level_name})"

[[rule.level]]
name = "low"
severity = "warning"
threshold = 12.0
clear = 12.3

[[rule.level]]
name = "cut-off"
severity = "critical"
threshold = 11.8
clear = 12.1
"#;
    let mut e = engine(text);
    let health = |t: i64, v: f64| {
        point(
            "device_health",
            "dh-001",
            "sin-ho",
            t,
            &[("battery_v", FieldValue::Float(v))],
        )
    };
    assert!(e.observe(&health(T0, 12.6), T0).is_empty());
    let ts = e.observe(&health(T0 + H, 11.7), T0 + H);
    assert_eq!(one(&ts).message, "dh-001: battery 11.7 V (cut-off)");
    let ts = e.observe(&health(T0 + 2 * H, 12.2), T0 + 2 * H);
    assert_eq!(summary(&ts), [("battery".into(), Change::Deescalated, "low".into())]);
    let ts = e.observe(&health(T0 + 3 * H, 12.4), T0 + 3 * H);
    assert_eq!(one(&ts).change, Change::Resolved);
}

#[test]
fn device_labels_select_a_stations_levels() {
    let text = format!(
        "[device_labels.rl-009]\nstation = \"lao-cai\"\n{}",
        FLOOD.replace("match = { site = \"muong-te\" }", "match = { station = \"lao-cai\" }")
    );
    let mut e = engine(&text);
    assert!(e.observe(&stage("rl-001", "sin-ho", T0, 289.0), T0).is_empty());
    let ts = e.observe(&stage("rl-009", "sin-ho", T0, 289.0), T0);
    assert_eq!(one(&ts).level, "BĐ II");
    assert_eq!(one(&ts).series.tags.get("station").map(String::as_str), Some("lao-cai"));
}

/// `since` is when the current level was entered; the episode start stays
/// with the alert. An escalation to BĐ III restarts `since` (the console
/// sorts cards by it), a re-notification does not.
#[test]
fn since_is_the_current_level_and_the_episode_start_is_kept() {
    let mut e = engine(FLOOD);
    let mut clock = MockClock::at(T0);
    let t1 = T0 + 10 * MIN;
    let ts = e.observe(&stage("rl-001", "muong-te", t1, 287.2), clock.advance(10 * MIN));
    assert_eq!(one(&ts).episode_start_ns, t1);
    let a = &e.firing()[0];
    assert_eq!((a.since_ns, a.episode_start_ns, a.fired_ns), (t1, t1, t1));

    let t2 = T0 + 20 * MIN;
    let ts = e.observe(&stage("rl-001", "muong-te", t2, 288.7), clock.advance(10 * MIN));
    let t = one(&ts);
    assert_eq!(
        (t.change, t.event_time_ns, t.episode_start_ns),
        (Change::Escalated, t2, t1)
    );
    let t3 = T0 + 30 * MIN;
    e.observe(&stage("rl-001", "muong-te", t3, 290.1), clock.advance(10 * MIN));
    let a = &e.firing()[0];
    assert_eq!((a.level.as_str(), a.since_ns, a.episode_start_ns), ("BĐ III", t3, t1));
    // Staying at BĐ III keeps its since.
    assert!(
        e.observe(
            &stage("rl-001", "muong-te", T0 + 40 * MIN, 290.5),
            clock.advance(10 * MIN)
        )
        .is_empty()
    );
    assert_eq!(e.firing()[0].since_ns, t3);
    // Back to BĐ II: since moves to the de-escalation.
    let t5 = T0 + 50 * MIN;
    e.observe(&stage("rl-001", "muong-te", t5, 289.0), clock.advance(10 * MIN));
    let a = &e.firing()[0];
    assert_eq!((a.level.as_str(), a.since_ns, a.episode_start_ns), ("BĐ II", t5, t1));
    // Kept across a restart.
    let restored = crate::Engine::restore(config(FLOOD), e.snapshot());
    assert_eq!(restored.firing()[0].since_ns, t5);
    assert_eq!(restored.firing()[0].episode_start_ns, t1);
}

/// A transition caused by a reading that arrives more than 5 minutes after
/// its event time (a backlog) is marked late; live ones and timer ones are
/// not.
#[test]
fn backfilled_transitions_are_marked_late() {
    let mut e = engine(FLOOD);
    let mut clock = MockClock::at(T0 + 2 * H);
    // A batch from two hours ago.
    let ts = e.observe(&stage("rl-001", "muong-te", T0, 287.2), clock.now);
    assert!(one(&ts).late);
    // A live reading, 10 s old.
    let ts = e.observe(
        &stage("rl-001", "muong-te", clock.now - 10 * S, 288.7),
        clock.advance(S),
    );
    let t = one(&ts);
    assert_eq!((t.change, t.late), (Change::Escalated, false));
    let json = serde_json::to_value(t).unwrap();
    assert_eq!(json["late"], false);
}
