//! Feeding one point to a value rule (threshold, sum, mean, rate) or a state
//! rule: where the event-time rules of the crate docs are applied.

use telegate_model::{FieldValue, Point};

use crate::levels::active_level;
use crate::machine::Step;
use crate::rule::{Calc, Expected, Rule};
use crate::state::SeriesState;

/// A field as a number; `None` when absent, not numeric, or not finite (the
/// point is then not evaluated by this rule at all).
pub(crate) fn numeric(point: &Point, field: &str) -> Option<f64> {
    let v = match field_value(point, field)? {
        FieldValue::Float(f) => *f,
        FieldValue::Int(i) => *i as f64,
        FieldValue::UInt(u) => *u as f64,
        FieldValue::Bool(_) | FieldValue::Str(_) => return None,
    };
    v.is_finite().then_some(v)
}

pub(crate) fn field_value<'a>(point: &'a Point, field: &str) -> Option<&'a FieldValue> {
    point.fields.iter().find(|(k, _)| &**k == field).map(|(_, v)| v)
}

/// Threshold, sum, mean and rate rules.
///
/// A threshold rule evaluates only samples newer than the watermark (older
/// ones are history: the newer value already decided the state). Window
/// rules also accept older samples that still fall in the window as of the
/// watermark; they change the aggregate, which is re-evaluated *at the
/// watermark*, so the machine never steps back in time.
pub(crate) fn value(
    rule: &Rule,
    field: &str,
    calc: &Calc,
    st: &mut SeriesState,
    point: &Point,
    now: i64,
) -> Option<Step> {
    let v = numeric(point, field)?;
    let t = point.time_ns;
    let at = match calc {
        Calc::Last => {
            if !st.is_new(t) {
                return None;
            }
            st.advance(t, now);
            st.value = Some(v);
            t
        }
        _ => {
            let window = calc.window_ns();
            if st.watermark_ns.is_some_and(|w| t < w.saturating_sub(window)) {
                return None;
            }
            let changed = st.window.insert(t, v);
            if st.is_new(t) {
                st.advance(t, now);
                st.window.evict_before(t.saturating_sub(window));
            } else if !changed {
                // A redelivered sample: nothing to re-evaluate.
                return None;
            }
            let at = st.watermark_ns?;
            st.value = Some(st.window.aggregate(calc, at)?);
            at
        }
    };
    let on = active_level(&rule.levels, st.value?, st.phase.held());
    st.phase.step(on, at, now, rule.for_ns)
}

/// State rules: every `when` field equals its value. A point missing one of
/// the fields is not about this rule and is skipped.
pub(crate) fn state(
    rule: &Rule,
    when: &[(String, Expected)],
    st: &mut SeriesState,
    point: &Point,
    now: i64,
) -> Option<Step> {
    let t = point.time_ns;
    if !st.is_new(t) {
        return None;
    }
    let mut all = true;
    for (field, expected) in when {
        all &= equals(field_value(point, field)?, expected);
    }
    st.advance(t, now);
    st.phase.step(all.then_some(0), t, now, rule.for_ns)
}

fn equals(v: &FieldValue, expected: &Expected) -> bool {
    match (v, expected) {
        (FieldValue::Bool(a), Expected::Bool(b)) => a == b,
        (FieldValue::Str(a), Expected::Str(b)) => a == b,
        (FieldValue::Int(a), Expected::Int(b)) => a == b,
        (FieldValue::UInt(a), Expected::Int(b)) => i128::from(*a) == i128::from(*b),
        (FieldValue::Float(a), Expected::Float(b)) => a == b,
        (FieldValue::Float(a), Expected::Int(b)) => *a == *b as f64,
        (FieldValue::Int(a), Expected::Float(b)) => *a as f64 == *b,
        (FieldValue::UInt(a), Expected::Float(b)) => *a as f64 == *b,
        _ => false,
    }
}
