//! What the files under `deploy/` may name besides the sensor types'
//! measurements: telegate's Prometheus metrics and the InfluxDB measurement
//! of alert transitions. `tests/deploy_files.rs` checks the Grafana
//! dashboards against these lists and against the built-in schema registry.

/// Every metric `GET /metrics` exports, histograms by their base name: the
/// gateway's own list, so a dashboard naming a metric that does not exist fails.
pub use telegate::metrics::NAMES as METRIC_NAMES;

/// The histograms among [`METRIC_NAMES`]: exported as `_bucket`, `_sum` and
/// `_count` series.
pub const HISTOGRAMS: &[&str] = &["telegate_write_duration_seconds"];

/// The InfluxDB measurement alert transitions are written to.
pub const ALERTS_MEASUREMENT: &str = "alerts";
/// Its tag keys.
/// (`telegate::alerting::payload::influx_point`; a series' other tags, such
/// as a gate lane, are added under their own names).
pub const ALERTS_TAGS: &[&str] = &[
    "rule",
    "level",
    "severity",
    "change",
    "device_id",
    "site",
    "measurement",
];
/// Its field keys.
pub const ALERTS_FIELDS: &[&str] = &["state", "from", "value", "threshold", "message", "alert_id"];

/// The metric a series name in a PromQL query belongs to, if telegate
/// exports it: the name itself, or a histogram's `_bucket`/`_sum`/`_count`.
pub fn metric_of(series: &str) -> Option<&'static str> {
    if let Some(m) = METRIC_NAMES.iter().find(|m| **m == series) {
        return Some(m);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = series.strip_suffix(suffix)?;
        HISTOGRAMS.iter().find(|h| **h == base).copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_series_map_to_their_metric() {
        assert_eq!(
            metric_of("telegate_write_duration_seconds_bucket"),
            Some("telegate_write_duration_seconds")
        );
        assert_eq!(metric_of("telegate_wal_bytes"), Some("telegate_wal_bytes"));
        // Only histograms have the suffixed series.
        assert_eq!(metric_of("telegate_wal_bytes_count"), None);
        assert_eq!(metric_of("telegate_no_such_metric"), None);
    }

    #[test]
    fn every_histogram_is_a_metric() {
        for h in HISTOGRAMS {
            assert!(METRIC_NAMES.contains(h), "{h}");
        }
    }
}
