//! A config value that cannot work, found by the section that owns the key.

use std::time::Duration;

use thiserror::Error;

/// One key of a config section with a value that cannot work: the key, what
/// is wrong with it, and how to fix it.
///
/// Each section checks itself beside its struct, in the crate that owns the
/// section (`MqttConfig::validate` in telegate-mqtt, ...); the section does
/// not know which file it came from, so the gateway's `Config::validate`
/// adds the file name in one place.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("key `{key}`: {problem}. Fix: {fix}")]
pub struct InvalidSetting {
    /// The dotted key, e.g. `mqtt.port`.
    pub key: String,
    /// What is wrong, e.g. "is 0".
    pub problem: String,
    /// What to set instead.
    pub fix: String,
}

impl InvalidSetting {
    pub fn new(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// One delay key of a section: its name in the section, its value, and an
/// example value for the fix.
pub type DelayKey<'a> = (&'a str, Duration, &'a str);

impl InvalidSetting {
    /// A delay that starts at `first` and grows up to `longest` (a retry
    /// backoff, a login lockout): `first` above 0, which would otherwise
    /// retry in a busy loop, and `longest` at least `first`. The error names
    /// `{section}.{first}`.
    pub fn check_delay_bounds(section: &str, first: DelayKey<'_>, longest: DelayKey<'_>) -> Result<(), InvalidSetting> {
        let ((first_key, first, first_example), (longest_key, longest, longest_example)) = (first, longest);
        if first.is_zero() || longest < first {
            return Err(InvalidSetting::new(
                format!("{section}.{first_key}"),
                format!("must be above 0 and at most {section}.{longest_key}"),
                format!("e.g. {first_key} = \"{first_example}\", {longest_key} = \"{longest_example}\""),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_bounds_name_the_first_key_and_both_in_the_fix() {
        let check = |first: u64, longest: u64| {
            InvalidSetting::check_delay_bounds(
                "influx",
                ("retry_initial", Duration::from_millis(first), "200ms"),
                ("retry_max", Duration::from_millis(longest), "30s"),
            )
        };
        assert!(check(200, 30_000).is_ok());
        assert!(check(200, 200).is_ok());
        let e = check(0, 30_000).unwrap_err().to_string();
        assert_eq!(
            e,
            "key `influx.retry_initial`: must be above 0 and at most influx.retry_max. \
             Fix: e.g. retry_initial = \"200ms\", retry_max = \"30s\""
        );
        assert!(check(300, 200).is_err());
    }
}
