//! Retry policy shared by everything that talks to a server that may be
//! away: the MQTT source's reconnects, the InfluxDB batcher, the alert
//! outputs. One formula, so a gateway's retries look the same in every log
//! and a fleet of gateways does not retry in step.

use std::time::Duration;

/// Longest `Retry-After` honoured, so a bogus header cannot park a writer
/// or an output for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The delay after `failures` consecutive failures (0 for the first retry):
/// `initial` doubled per failure, capped at `max`, then jittered over the
/// upper half, `[d/2, d)`, so many gateways that lost the same server do not
/// come back in step.
pub fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << failures.min(31)).min(max);
    let half = exp / 2;
    half + half.mul_f64(fastrand::f64())
}

/// A `Retry-After` header value in seconds (the form InfluxDB and webhook
/// receivers send), capped at [`MAX_RETRY_AFTER`]. The HTTP-date form is not
/// honoured: the caller's own backoff applies then.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs = value.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// [`backoff`] with its failure count: for a loop that retries until it
/// succeeds and starts again from `initial` afterwards.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            failures: 0,
        }
    }

    /// The delay before the next attempt; counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let d = backoff(self.initial, self.max, self.failures);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// After a success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(
            d[0] >= Duration::from_millis(50) && d[0] < Duration::from_millis(100),
            "{d:?}"
        );
        assert!(
            d[1] >= Duration::from_millis(100) && d[1] < Duration::from_millis(200),
            "{d:?}"
        );
        assert!(
            d[7] >= Duration::from_millis(500) && d[7] < Duration::from_secs(1),
            "{d:?}"
        );
        assert_eq!(b.failures(), 8);
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(100));
    }

    #[test]
    fn backoff_reaches_the_cap_however_many_failures() {
        let max = Duration::from_secs(30);
        for failures in [20, 31, 32, 1_000, u32::MAX] {
            let d = backoff(Duration::from_millis(1), max, failures);
            assert!(d >= max / 2 && d < max, "{failures}: {d:?}");
        }
        assert_eq!(backoff(Duration::ZERO, max, 3), Duration::ZERO);
    }

    #[test]
    fn retry_after_in_seconds_is_capped() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("86400"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
