//! Deadman rules: a device (or one of its sensors) has sent nothing for
//! longer than its expected cadence × factor.
//!
//! Silence is measured in **wall time since the last reading was
//! received**, whatever that reading's device time. That is what makes a
//! device back from a coverage gap safe: its backlog arrives now, so every
//! message of it counts as a sign of life and no stale deadman fires while
//! the oldest part of the backlog is being processed. The cadence follows
//! the device's mode (a river gauge in flood mode reports every few minutes)
//! as last reported by the newest sample.

use telegate_model::{FieldValue, Point};

use crate::evaluate::field_value;
use crate::machine::{Phase, Step};
use crate::rule::{Kind, Rule};
use crate::state::SeriesState;

/// cadence × factor for the series' current mode, in ns; `None` for other
/// kinds.
pub(crate) fn limit_ns(rule: &Rule, st: &SeriesState) -> Option<i64> {
    let Kind::Deadman {
        cadence_ns,
        factor,
        mode_cadence,
        ..
    } = &rule.kind
    else {
        return None;
    };
    let cadence = st
        .mode
        .as_deref()
        .and_then(|m| mode_cadence.iter().find(|(mode, _)| mode == m))
        .map_or(*cadence_ns, |(_, c)| *c);
    Some((cadence as f64 * factor) as i64)
}

fn seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// A reading arrived: the device is alive. Resolves a firing deadman.
pub(crate) fn observe(rule: &Rule, st: &mut SeriesState, point: &Point, now: i64) -> Option<Step> {
    // The true silence, from the last reading received, restart or not.
    let silence = now.saturating_sub(st.last_seen_wall_ns).max(0);
    st.last_seen_wall_ns = st.last_seen_wall_ns.max(now);
    let t = point.time_ns;
    if st.is_new(t) {
        st.advance(t, now);
        if let Kind::Deadman {
            mode_field: Some(mode_field),
            ..
        } = &rule.kind
            && let Some(FieldValue::Str(mode)) = field_value(point, mode_field)
        {
            st.mode = Some(mode.clone());
        }
    }
    if !matches!(st.phase, Phase::Firing { .. }) {
        return None;
    }
    st.value = Some(seconds(silence));
    let at = st.watermark_ns.unwrap_or(t);
    st.phase.step(None, at, now, 0)
}

/// Wall time passed: fire when the silence exceeds the limit. Silence
/// before `epoch` (the engine's start) does not count, so a gateway restart
/// does not declare every device dead before the broker has delivered what
/// it queued.
pub(crate) fn tick(rule: &Rule, st: &mut SeriesState, now: i64, epoch: i64) -> Option<Step> {
    let limit = limit_ns(rule, st)?;
    // Fires on the silence counted since the engine started (a restart is
    // not the devices' fault), reports the true one since the last reading.
    let counted = now.saturating_sub(st.last_seen_wall_ns.max(epoch)).max(0);
    let silence = now.saturating_sub(st.last_seen_wall_ns).max(0);
    match st.phase {
        Phase::Ok if counted > limit => {
            st.value = Some(seconds(silence));
            // The event time of a deadman is the device time of the last
            // reading: "nothing since 10:02 by the device's clock".
            let at = st.watermark_ns?;
            st.phase.step(Some(0), at, now, 0)
        }
        Phase::Firing { .. } => {
            // Keep the silence current for re-notifications and listings.
            st.value = Some(seconds(silence));
            None
        }
        _ => None,
    }
}
