//! The flap limiter end to end: a value swinging across a level with no
//! hysteresis notifies twice, then once as `flapping`, then nothing until
//! it has been steady for the flap window.

use super::*;
use crate::{AlertState, Change};

const SWINGING: &str = r#"
[defaults]
flap_limit = 3
flap_window = "1h"

[[rule]]
id = "flood"
name = "Flood alarm"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
message = "{device_id}: {value} m"

[[rule.level]]
name = "BĐ I"
severity = "info"
threshold = 287.0
"#;

#[test]
fn the_third_episode_within_the_window_is_one_flapping_transition_then_quiet_until_steady() {
    let mut e = engine(SWINGING);
    let mut clock = MockClock::at(T0);
    let mut all = Vec::new();
    // 286.9 / 287.1 alternating every 5 minutes for 2 hours.
    for i in 0..24 {
        let v = if i % 2 == 0 { 287.1 } else { 286.9 };
        all.extend(e.observe(
            &stage("rl-001", "muong-te", T0 + i * 5 * MIN, v),
            clock.advance(5 * MIN),
        ));
        all.extend(e.tick(clock.now));
    }
    let changes: Vec<Change> = all.iter().map(|t| t.change).collect();
    assert_eq!(
        changes,
        [
            Change::Fired,
            Change::Resolved,
            Change::Fired,
            Change::Resolved,
            Change::Flapping
        ],
        "{:#?}",
        summary(&all)
    );
    let flap = &all[4];
    assert_eq!(
        (flap.from, flap.to, flap.event_time_ns),
        (AlertState::Ok, AlertState::Flapping, T0 + 20 * MIN)
    );
    assert_eq!(
        flap.message,
        "river_level,device_id=rl-001,site=muong-te: Flood alarm is flapping (3 alerts within 1h); quiet until steady for 1h"
    );
    let listed = e.firing();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].flapping);
    assert_eq!(listed[0].alert_id, flap.alert_id);

    // A restart keeps it flapping.
    let mut e = crate::Engine::restore(config(SWINGING), e.snapshot());
    assert!(e.firing()[0].flapping);

    // Steady above the level from 120 min (the last change: it fires again,
    // quietly); an hour later it settles and reports the alert as firing.
    let last_change = T0 + 120 * MIN;
    let mut after = Vec::new();
    for i in 24..=36 {
        after.extend(e.observe(
            &stage("rl-001", "muong-te", T0 + i * 5 * MIN, 287.2),
            clock.advance(5 * MIN),
        ));
    }
    assert_eq!(
        after.iter().map(|t| (t.change, t.from, t.to)).collect::<Vec<_>>(),
        [
            (Change::Settled, AlertState::Flapping, AlertState::Ok),
            (Change::Fired, AlertState::Ok, AlertState::Firing),
        ],
        "{:#?}",
        summary(&after)
    );
    assert_eq!(after[0].event_time_ns, last_change + H);
    assert_eq!(after[0].alert_id, flap.alert_id, "settled closes the flapping episode");
    let listed = e.firing();
    assert_eq!((listed.len(), listed[0].flapping), (1, false));
    assert_eq!(listed[0].alert_id, after[1].alert_id);
}

#[test]
fn without_flap_limit_every_swing_is_reported() {
    let text = SWINGING.replace("flap_limit = 3", "flap_limit = 0");
    let mut e = engine(&text);
    let mut clock = MockClock::at(T0);
    let mut all = Vec::new();
    for i in 0..8 {
        let v = if i % 2 == 0 { 287.1 } else { 286.9 };
        all.extend(e.observe(
            &stage("rl-001", "muong-te", T0 + i * 5 * MIN, v),
            clock.advance(5 * MIN),
        ));
    }
    assert_eq!(all.len(), 8);
    assert!(all.iter().all(|t| t.change != Change::Flapping));
}

#[test]
fn flap_limit_of_one_is_refused() {
    let text = SWINGING.replace("flap_limit = 3", "flap_limit = 1");
    let err = crate::AlertConfig::from_toml_str(&text, "test.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("flap_limit"), "{err}");
    assert!(err.contains("test.toml:3"), "{err}");
}
