//! Combined rules: every rule in `all_of` is firing for the same group
//! (site, or an explicit tag or device label), e.g. 24 h rain above risk
//! level 1 AND soil saturation above 85 % at one site → landslide warning.
//!
//! The components come from different sensor types and devices, so they
//! meet by group, not by series. A combined rule is re-evaluated only when
//! one of its components steps (a cheap scan of that rule's series); its
//! event time is the newest event time of the component changes it has
//! seen, so it never moves back either.

use std::collections::HashMap;

use crate::config::AlertConfig;
use crate::machine::Phase;
use crate::rule::Kind;
use crate::series::{Grouping, SeriesKey};
use crate::state::SeriesState;
use crate::transition::{Numbers, Transition};

/// A component rule stepped for `series` at event time `event_ns`.
#[derive(Debug)]
pub(crate) struct ComponentChange {
    pub(crate) rule: usize,
    pub(crate) series: SeriesKey,
    pub(crate) event_ns: i64,
}

/// Re-evaluate the combined rules that depend on `changes`.
pub(crate) fn propagate(
    config: &AlertConfig,
    dependents: &[Vec<usize>],
    series: &mut [HashMap<SeriesKey, SeriesState>],
    changes: &[ComponentChange],
    now: i64,
    out: &mut Vec<Transition>,
) {
    for change in changes {
        for &ci in &dependents[change.rule] {
            let rule = &config.rules[ci];
            let (Kind::Combined { all_of }, Grouping::Tags(group_by)) = (&rule.kind, &rule.grouping) else {
                continue;
            };
            let Some(group) = change.series.project(group_by) else {
                continue;
            };
            let mut components = Vec::with_capacity(all_of.len());
            let mut all = true;
            for &c in all_of {
                let mut firing = false;
                let mut best: Option<f64> = None;
                for (key, st) in &series[c] {
                    if matches!(st.phase, Phase::Firing { .. }) && key.project(group_by).as_ref() == Some(&group) {
                        firing = true;
                        if let Some(v) = st.value {
                            best = Some(best.map_or(v, |b| b.max(v)));
                        }
                    }
                }
                all &= firing;
                if let Some(v) = best {
                    components.push((config.rules[c].id.clone(), v));
                }
            }
            let states = &mut series[ci];
            if !all && !states.contains_key(&group) {
                continue;
            }
            let st = states.entry(group.clone()).or_insert_with(|| SeriesState::new(now));
            if st.is_new(change.event_ns) {
                st.advance(change.event_ns, now);
            }
            let Some(at) = st.watermark_ns else { continue };
            st.components = components;
            if let Some(step) = st.phase.step(all.then_some(0), at, now, rule.for_ns)
                && rule.notify
            {
                let n = Numbers {
                    value: None,
                    limit: None,
                    components: &st.components,
                };
                out.push(Transition::new(rule, &group, &step, &n, now));
            }
        }
    }
}
