//! Deadman rules, the device's mode, and late batches after coverage gaps.

use telegate_model::FieldValue;

use super::*;
use crate::{AlertState, Change};

const OFFLINE: &str = r#"
[[rule]]
id = "offline-river"
name = "River gauge offline"
kind = "deadman"
measurement = "river_level"
cadence = "10m"
factor = 3
mode_cadence = { flood = "5m" }
severity = "warning"
level_name = "offline"
message = "{device_id} at {site}: no reading for {silence} (expected within {limit})"
resolved_message = "{device_id} at {site}: reporting again after {silence}"
"#;

#[test]
fn silence_past_cadence_times_factor_fires_once_and_a_reading_resolves() {
    let mut e = engine(OFFLINE);
    let mut clock = MockClock::at(T0);
    assert!(e.observe(&stage("rl-001", "muong-te", T0, 285.4), clock.now).is_empty());
    assert!(
        e.tick(clock.advance(30 * MIN)).is_empty(),
        "exactly the limit is not yet silent"
    );
    let ts = e.tick(clock.advance(S));
    let t = one(&ts);
    assert_eq!(
        (t.from, t.to, t.level.as_str()),
        (AlertState::Ok, AlertState::Firing, "offline")
    );
    assert_eq!(
        t.event_time_ns, T0,
        "a deadman's event time is the last reading's device time"
    );
    assert_eq!((t.value, t.threshold), (Some(1801.0), Some(1800.0)));
    assert_eq!(
        t.message,
        "rl-001 at muong-te: no reading for 30m 1s (expected within 30m)"
    );
    assert!(e.tick(clock.advance(10 * MIN)).is_empty(), "no second fire");
    assert_eq!(
        e.firing()[0].value,
        Some(2401.0),
        "the listing shows the silence so far"
    );

    let ts = e.observe(&stage("rl-001", "muong-te", T0 + 40 * MIN, 285.4), clock.advance(S));
    let t = one(&ts);
    assert_eq!(
        (t.from, t.to, t.change),
        (AlertState::Firing, AlertState::Resolved, Change::Resolved)
    );
    assert_eq!(t.message, "rl-001 at muong-te: reporting again after 40m 2s");
    assert!(e.tick(clock.advance(MIN)).is_empty());
}

#[test]
fn flood_mode_shortens_the_limit() {
    let mut e = engine(OFFLINE);
    let mut clock = MockClock::at(T0);
    e.observe(&stage_mode("rl-001", "muong-te", T0, 287.0, "flood"), clock.now);
    assert!(e.tick(clock.advance(15 * MIN)).is_empty());
    let ts = e.tick(clock.advance(S));
    assert_eq!(one(&ts).threshold, Some(900.0), "5 min × 3 in flood mode");
    e.observe(
        &stage_mode("rl-001", "muong-te", T0 + 16 * MIN, 286.0, "normal"),
        clock.advance(S),
    );
    // Back to normal mode: 30 minutes again.
    assert!(e.tick(clock.advance(20 * MIN)).is_empty());
    assert_eq!(one(&e.tick(clock.advance(11 * MIN))).threshold, Some(1800.0));
}

#[test]
fn device_wide_deadman_is_kept_alive_by_any_sensor_type() {
    let text = OFFLINE
        .replace("measurement = \"river_level\"\n", "")
        .replace("mode_cadence = { flood = \"5m\" }\n", "");
    let mut e = engine(&text);
    let mut clock = MockClock::at(T0);
    e.observe(&stage("rl-001", "muong-te", T0, 285.0), clock.now);
    let health = point(
        "device_health",
        "rl-001",
        "muong-te",
        T0 + 20 * MIN,
        &[("battery_v", FieldValue::Float(12.6))],
    );
    e.observe(&health, clock.advance(20 * MIN));
    assert!(e.tick(clock.advance(25 * MIN)).is_empty());
    let ts = e.tick(clock.advance(6 * MIN));
    assert_eq!(one(&ts).series.to_string(), "*,device_id=rl-001,site=muong-te");
}

#[test]
fn late_batch_after_a_coverage_gap_fires_no_stale_deadman_and_nothing_twice() {
    let mut e = engine(&format!("{OFFLINE}{FLOOD}"));
    let mut clock = MockClock::at(T0);
    let mut all = Vec::new();
    // Live until T0, 10-minute cadence.
    for i in -3..=0 {
        all.extend(e.observe(
            &stage("rl-001", "muong-te", T0 + i * 10 * MIN, 286.0),
            T0 + i * 10 * MIN,
        ));
    }
    // Coverage gap: 3 hours with nothing received. The deadman fires once.
    for _ in 0..180 {
        all.extend(e.tick(clock.advance(MIN)));
    }
    assert_eq!(
        summary(&all),
        [("offline-river".into(), Change::Fired, "offline".into())]
    );
    all.clear();

    // Coverage returns: 18 buffered samples (T0+10m..T0+3h), uploaded oldest
    // first in 3 messages of 6, a second apart, ticks in between. The river
    // passed BĐ I at T0+60m during the gap and stayed there.
    let backlog: Vec<Point> = (1..=18)
        .map(|i| {
            let level = if i >= 6 { 287.2 } else { 286.0 + 0.1 * i as f64 };
            stage("rl-001", "muong-te", T0 + i * 10 * MIN, level)
        })
        .collect();
    for chunk in backlog.chunks(6) {
        for p in chunk {
            all.extend(e.observe(p, clock.now));
        }
        all.extend(e.tick(clock.advance(S)));
    }
    assert_eq!(
        summary(&all),
        [
            ("offline-river".into(), Change::Resolved, "offline".into()),
            ("flood".into(), Change::Fired, "BĐ I".into()),
        ]
    );
    assert_eq!(
        all[1].event_time_ns,
        T0 + 60 * MIN,
        "fired at the device time it happened"
    );
    assert_eq!(all[1].evaluated_at_ns, T0 + 3 * H, "decided when the backlog arrived");

    // The broker redelivers the whole batch (acks lost on reconnect).
    let mut again = Vec::new();
    for p in &backlog {
        again.extend(e.observe(p, clock.now));
    }
    again.extend(e.tick(clock.advance(20 * MIN)));
    assert!(again.is_empty(), "{:?}", summary(&again));
    let firing: Vec<String> = e.firing().into_iter().map(|a| a.rule_id).collect();
    assert_eq!(firing, ["flood"]);
}

/// The device registry lists every device (rule or no rule) and survives a
/// restart with its true last-seen time; a restored offline alert reports
/// the true silence; decommissioning forgets the device and resolves its
/// deadman.
#[test]
fn registry_persists_true_last_seen_and_decommission_clears_the_deadman() {
    let mut e = engine(OFFLINE);
    let mut clock = MockClock::at(T0);
    e.observe(&stage("rl-001", "muong-te", T0, 285.4), clock.now);
    // A lane counter no rule reads.
    e.observe(
        &point(
            "lane_counter",
            "lc-001",
            "ma-lu-thang",
            T0,
            &[("vehicles", FieldValue::Int(4))],
        ),
        clock.advance(MIN),
    );
    let seen_lc = clock.now;
    let ts = e.tick(clock.advance(31 * MIN));
    assert_eq!(
        summary(&ts),
        [("offline-river".into(), Change::Fired, "offline".into())]
    );

    // Restart 2 hours later, from the saved state.
    let saved = e.snapshot();
    let json = saved.to_json().unwrap();
    let saved = crate::Snapshot::from_json(&json, std::path::Path::new("state.json")).unwrap();
    let mut e = crate::Engine::restore(config(OFFLINE), saved);
    let ids: Vec<&str> = e.devices().map(|d| d.device_id.as_str()).collect();
    assert_eq!(ids, ["lc-001", "rl-001"], "every device, also those no rule reads");
    let lc = e.devices().find(|d| d.device_id == "lc-001").unwrap();
    assert_eq!(
        (lc.first_seen_ns, lc.last_seen_ns, lc.last_event_ns),
        (seen_lc, seen_lc, T0)
    );
    assert_eq!(lc.last_values["vehicles"], 4.0);
    assert!(e.tick(clock.advance(2 * H)).is_empty(), "still firing, not fired again");
    let a = &e.firing()[0];
    // True silence: 32 min before the restart + 2 h after it.
    assert_eq!(a.value, Some((32 * 60 + 2 * 3600) as f64));
    assert!(a.message.contains("no reading for 2h 32m"), "{}", a.message);

    let mut out = Vec::new();
    assert!(e.decommission("rl-001", clock.now, &mut out));
    let t = one(&out);
    assert_eq!((t.change, t.to), (Change::Resolved, AlertState::Resolved));
    assert_eq!(t.message, "rl-001 decommissioned: River gauge offline cleared");
    assert!(e.firing().is_empty());
    assert_eq!(e.devices().count(), 1);
    assert!(e.tick(clock.advance(H)).is_empty(), "its deadman never fires again");
    assert!(!e.decommission("rl-404", clock.now, &mut out), "unknown device");
}
