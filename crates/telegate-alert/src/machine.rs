//! The per-(rule, series) state machine: ok → pending → firing → resolved.
//!
//! It is pure: it is told which level the condition is at (already decided
//! with hysteresis, see [`crate::levels`]), the event time, and the wall
//! time, and reports at most one [`Step`] per call. Event times only ever
//! move it forward because the engine calls it with non-decreasing times.

use serde::Serialize;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Ok,
    /// The condition holds but not yet for the rule's `for` duration.
    Pending,
    Firing,
    /// Reported once when a firing alert clears; the machine then rests in
    /// `Ok`.
    Resolved,
    /// The series changed too often (the rule's flap limit): one
    /// transition, then quiet until it settles (see [`crate::flap`]).
    Flapping,
}

/// What a transition means, so outputs need not compare states and levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// ok → pending.
    Pending,
    /// pending → ok: the condition cleared before `for` elapsed.
    Cancelled,
    /// ok/pending → firing.
    Fired,
    /// firing → firing at a more severe level.
    Escalated,
    /// firing → firing at a less severe level (its own clear level passed).
    Deescalated,
    /// firing → firing, unchanged, after the re-notify interval.
    Renotified,
    /// firing → resolved.
    Resolved,
    /// ok → flapping: the flap limit was reached; nothing more is reported
    /// for the series until it settles.
    Flapping,
    /// flapping → ok: no change for the flap window.
    Settled,
    /// firing → firing, unchanged: a critical alert nobody acknowledged
    /// within the rules file's `[escalation] after`. Never made by the
    /// engine: the gateway's operator layer (acknowledgements) raises it.
    Unacknowledged,
}

/// A more severe level waiting out `for` while the alert fires at a lower
/// one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rising {
    pub(crate) level: usize,
    pub(crate) since_ns: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Phase {
    Ok,
    Pending {
        level: usize,
        since_ns: i64,
    },
    Firing {
        level: usize,
        /// Event time the episode began (left `Ok`): part of the alert id.
        episode_ns: i64,
        /// Event time it fired.
        fired_ns: i64,
        /// Event time the current level was entered (fired, escalated or
        /// de-escalated to it): the console's "since".
        level_since_ns: i64,
        /// Wall time of the last notification (fire, level change, re-notify).
        notified_wall_ns: i64,
        rising: Option<Rising>,
    },
}

/// One reported change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub(crate) from: AlertState,
    pub(crate) to: AlertState,
    pub(crate) change: Change,
    /// The level after the step (for `Resolved`/`Cancelled`: the level left).
    pub(crate) level: usize,
    pub(crate) previous_level: Option<usize>,
    pub(crate) episode_ns: i64,
    pub(crate) event_ns: i64,
}

impl Phase {
    /// The most severe level the machine holds, for hysteresis: a held level
    /// stays until the value passes its clear level.
    pub(crate) fn held(&self) -> Option<usize> {
        match *self {
            Phase::Ok => None,
            Phase::Pending { level, .. } => Some(level),
            Phase::Firing { level, rising, .. } => Some(rising.map_or(level, |r| r.level.max(level))),
        }
    }

    /// Apply one evaluation: the condition is at level `on` (or off) at
    /// event time `t`, evaluated at wall time `now`.
    pub(crate) fn step(&mut self, on: Option<usize>, t: i64, now: i64, for_ns: i64) -> Option<Step> {
        let step = |from, to, change, level, previous_level, episode_ns| Step {
            from,
            to,
            change,
            level,
            previous_level,
            episode_ns,
            event_ns: t,
        };
        match *self {
            Phase::Ok => {
                let level = on?;
                if for_ns == 0 {
                    *self = firing(level, t, t, t, now);
                    Some(step(AlertState::Ok, AlertState::Firing, Change::Fired, level, None, t))
                } else {
                    *self = Phase::Pending { level, since_ns: t };
                    Some(step(
                        AlertState::Ok,
                        AlertState::Pending,
                        Change::Pending,
                        level,
                        None,
                        t,
                    ))
                }
            }
            Phase::Pending { level, since_ns } => match on {
                None => {
                    *self = Phase::Ok;
                    Some(step(
                        AlertState::Pending,
                        AlertState::Ok,
                        Change::Cancelled,
                        level,
                        None,
                        since_ns,
                    ))
                }
                Some(on) if t.saturating_sub(since_ns) >= for_ns => {
                    *self = firing(on, since_ns, t, t, now);
                    Some(step(
                        AlertState::Pending,
                        AlertState::Firing,
                        Change::Fired,
                        on,
                        None,
                        since_ns,
                    ))
                }
                Some(on) => {
                    *self = Phase::Pending { level: on, since_ns };
                    None
                }
            },
            Phase::Firing {
                level,
                episode_ns,
                fired_ns,
                level_since_ns,
                notified_wall_ns,
                rising,
            } => match on {
                None => {
                    *self = Phase::Ok;
                    Some(step(
                        AlertState::Firing,
                        AlertState::Resolved,
                        Change::Resolved,
                        level,
                        None,
                        episode_ns,
                    ))
                }
                Some(on) if on < level => {
                    *self = firing(on, episode_ns, fired_ns, t, now);
                    Some(step(
                        AlertState::Firing,
                        AlertState::Firing,
                        Change::Deescalated,
                        on,
                        Some(level),
                        episode_ns,
                    ))
                }
                Some(on) if on == level => {
                    *self = Phase::Firing {
                        level,
                        episode_ns,
                        fired_ns,
                        level_since_ns,
                        notified_wall_ns,
                        rising: None,
                    };
                    None
                }
                Some(on) => {
                    // Keep the earliest start when the pending level climbs further.
                    let since_ns = rising.map_or(t, |r| r.since_ns);
                    if t.saturating_sub(since_ns) >= for_ns {
                        *self = firing(on, episode_ns, fired_ns, t, now);
                        Some(step(
                            AlertState::Firing,
                            AlertState::Firing,
                            Change::Escalated,
                            on,
                            Some(level),
                            episode_ns,
                        ))
                    } else {
                        *self = Phase::Firing {
                            level,
                            episode_ns,
                            fired_ns,
                            level_since_ns,
                            notified_wall_ns,
                            rising: Some(Rising { level: on, since_ns }),
                        };
                        None
                    }
                }
            },
        }
    }

    /// A `for` timer elapsing without new data: `est_t` is the series'
    /// event time extrapolated by wall time since its last sample (the last
    /// value is assumed to hold). The step's event time is when `for` ran out.
    pub(crate) fn elapse(&mut self, est_t: i64, now: i64, for_ns: i64) -> Option<Step> {
        if for_ns == 0 {
            return None;
        }
        match *self {
            Phase::Pending { level, since_ns } if est_t.saturating_sub(since_ns) >= for_ns => {
                *self = firing(level, since_ns, since_ns + for_ns, since_ns + for_ns, now);
                Some(Step {
                    from: AlertState::Pending,
                    to: AlertState::Firing,
                    change: Change::Fired,
                    level,
                    previous_level: None,
                    episode_ns: since_ns,
                    event_ns: since_ns + for_ns,
                })
            }
            Phase::Firing {
                level,
                episode_ns,
                fired_ns,
                rising: Some(r),
                ..
            } if est_t.saturating_sub(r.since_ns) >= for_ns => {
                *self = firing(r.level, episode_ns, fired_ns, r.since_ns + for_ns, now);
                Some(Step {
                    from: AlertState::Firing,
                    to: AlertState::Firing,
                    change: Change::Escalated,
                    level: r.level,
                    previous_level: Some(level),
                    episode_ns,
                    event_ns: r.since_ns + for_ns,
                })
            }
            _ => None,
        }
    }

    /// Re-notify a firing alert whose last notification is `renotify_ns` of
    /// wall time old (0 = never). Wall time, not event time: a late batch
    /// replaying hours of an ongoing alarm must not re-notify once per hour
    /// of backlog.
    pub(crate) fn renotify(&mut self, now: i64, renotify_ns: i64, event_ns: i64) -> Option<Step> {
        match self {
            Phase::Firing {
                level,
                episode_ns,
                notified_wall_ns,
                ..
            } if renotify_ns > 0 && now.saturating_sub(*notified_wall_ns) >= renotify_ns => {
                *notified_wall_ns = now;
                Some(Step {
                    from: AlertState::Firing,
                    to: AlertState::Firing,
                    change: Change::Renotified,
                    level: *level,
                    previous_level: None,
                    episode_ns: *episode_ns,
                    event_ns,
                })
            }
            _ => None,
        }
    }
}

/// Firing at `level`, entered at event time `level_since_ns`.
fn firing(level: usize, episode_ns: i64, fired_ns: i64, level_since_ns: i64, now: i64) -> Phase {
    Phase::Firing {
        level,
        episode_ns,
        fired_ns,
        level_since_ns,
        notified_wall_ns: now,
        rising: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn for_duration_goes_through_pending() {
        let mut p = Phase::Ok;
        let s = p.step(Some(0), 0, 0, 60 * S).unwrap();
        assert_eq!(
            (s.from, s.to, s.change),
            (AlertState::Ok, AlertState::Pending, Change::Pending)
        );
        assert_eq!(p.step(Some(0), 30 * S, 30 * S, 60 * S), None);
        let s = p.step(Some(0), 60 * S, 60 * S, 60 * S).unwrap();
        assert_eq!((s.to, s.change, s.episode_ns), (AlertState::Firing, Change::Fired, 0));
        let s = p.step(None, 70 * S, 70 * S, 60 * S).unwrap();
        assert_eq!((s.from, s.to), (AlertState::Firing, AlertState::Resolved));
        assert_eq!(p, Phase::Ok);
    }

    #[test]
    fn escalation_waits_for_and_deescalation_is_immediate() {
        let mut p = Phase::Ok;
        p.step(Some(0), 0, 0, 0).unwrap();
        // With for = 0 the higher level is immediate.
        let s = p.step(Some(2), S, S, 0).unwrap();
        assert_eq!((s.change, s.level, s.previous_level), (Change::Escalated, 2, Some(0)));
        let s = p.step(Some(1), 2 * S, 2 * S, 0).unwrap();
        assert_eq!((s.change, s.level), (Change::Deescalated, 1));

        let mut p = firing(0, 0, 0, 0, 0);
        assert_eq!(p.step(Some(1), 10 * S, 10 * S, 60 * S), None);
        assert_eq!(p.held(), Some(1), "the rising level is held for hysteresis");
        // The timer elapses in tick, with no new sample.
        let s = p.elapse(70 * S, 75 * S, 60 * S).unwrap();
        assert_eq!((s.change, s.level, s.event_ns), (Change::Escalated, 1, 70 * S));
    }

    #[test]
    fn renotify_counts_wall_time() {
        let mut p = firing(0, 0, 0, 0, 100 * S);
        assert_eq!(p.renotify(150 * S, 60 * S, 0), None);
        let s = p.renotify(160 * S, 60 * S, 5).unwrap();
        assert_eq!((s.change, s.event_ns), (Change::Renotified, 5));
        assert_eq!(p.renotify(200 * S, 60 * S, 5), None);
        assert_eq!(p.renotify(10_000 * S, 0, 5), None, "0 = never");
    }
}
