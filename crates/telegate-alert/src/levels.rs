//! Which named level a value is at, with hysteresis.
//!
//! A level is entered when the value crosses its threshold and left only
//! when the value passes its (lower, for `above`) clear level. Levels are
//! ordered least to most severe, so the answer is the most severe level that
//! is either entered now or held and not yet cleared. That is what keeps a
//! river hovering at BĐ II from flapping between BĐ I and BĐ II.

use crate::rule::Level;

/// The level the condition is at for `value`, given the level the machine
/// holds (`held`), or `None` when it is off.
pub(crate) fn active_level(levels: &[Level], value: f64, held: Option<usize>) -> Option<usize> {
    levels
        .iter()
        .enumerate()
        .rev()
        .find(|(i, level)| level.starts(value) || (held.is_some_and(|h| *i <= h) && level.holds(value)))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{Bounds, Severity};

    fn above(levels: &[(f64, f64)]) -> Vec<Level> {
        levels
            .iter()
            .enumerate()
            .map(|(i, &(threshold, clear))| Level {
                name: format!("L{i}"),
                severity: Severity::Warning,
                bounds: Bounds::Above { threshold, clear },
            })
            .collect()
    }

    #[test]
    fn highest_crossed_level_wins() {
        // Mường Tè-like levels: 287.0 / 288.5 / 290.0, clear 0.2 m lower.
        let l = above(&[(287.0, 286.8), (288.5, 288.3), (290.0, 289.8)]);
        assert_eq!(active_level(&l, 286.0, None), None);
        assert_eq!(active_level(&l, 287.0, None), Some(0));
        assert_eq!(active_level(&l, 289.0, None), Some(1));
        assert_eq!(active_level(&l, 291.0, Some(0)), Some(2));
    }

    #[test]
    fn held_levels_stay_until_their_clear_level() {
        let l = above(&[(287.0, 286.8), (288.5, 288.3), (290.0, 289.8)]);
        assert_eq!(active_level(&l, 289.9, Some(2)), Some(2));
        assert_eq!(active_level(&l, 289.7, Some(2)), Some(1));
        assert_eq!(active_level(&l, 286.9, Some(2)), Some(0));
        assert_eq!(active_level(&l, 286.7, Some(2)), None);
        // Not held: between clear and threshold is off.
        assert_eq!(active_level(&l, 286.9, None), None);
    }

    #[test]
    fn below_and_outside() {
        let battery = vec![
            Level {
                name: "low".into(),
                severity: Severity::Warning,
                bounds: Bounds::Below {
                    threshold: 12.0,
                    clear: 12.2,
                },
            },
            Level {
                name: "cut-off".into(),
                severity: Severity::Critical,
                bounds: Bounds::Below {
                    threshold: 11.8,
                    clear: 12.0,
                },
            },
        ];
        assert_eq!(active_level(&battery, 11.7, None), Some(1));
        assert_eq!(active_level(&battery, 11.9, Some(1)), Some(1));
        assert_eq!(active_level(&battery, 12.1, Some(1)), Some(0));
        assert_eq!(active_level(&battery, 12.3, Some(0)), None);

        let tilt = vec![Level {
            name: "caution".into(),
            severity: Severity::Info,
            bounds: Bounds::Outside {
                low: -0.01,
                high: 0.01,
                clear_low: -0.005,
                clear_high: 0.005,
            },
        }];
        assert_eq!(active_level(&tilt, -0.02, None), Some(0));
        assert_eq!(active_level(&tilt, 0.007, Some(0)), Some(0));
        assert_eq!(active_level(&tilt, 0.0, Some(0)), None);
        assert_eq!(tilt[0].threshold_for(Some(-0.02)), Some(-0.01));
        assert_eq!(tilt[0].threshold_for(Some(0.02)), Some(0.01));
    }
}
