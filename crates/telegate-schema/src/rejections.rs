//! The rejections both decode paths produce (the dynamic one in `decode.rs`
//! and the transcoder), built in one place so a dead letter reads the same
//! whichever path refused the message.

use telegate_model::{RejectReason, Rejection};

use crate::decode::Window;

pub(crate) fn format_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let Ok(secs) = u64::try_from(secs) else {
        return format!("{ns} ns (before 1970)");
    };
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}

pub(crate) fn device_mismatch(payload_device: &str, topic_device: &str) -> Rejection {
    Rejection::new(
        RejectReason::DeviceIdMismatch,
        format!(
            "payload device_id `{}` differs from topic device id `{topic_device}`",
            payload_device.chars().take(80).collect::<String>(),
        ),
    )
}

/// `index` is `[j]` for a repeated field's item, empty otherwise.
pub(crate) fn non_finite(sample: usize, field: &str, index: &str) -> Rejection {
    Rejection::new(
        RejectReason::NonFiniteValue,
        format!("samples[{sample}].{field}{index} is NaN or infinite"),
    )
}

pub(crate) fn no_samples(samples_field: &str) -> Rejection {
    Rejection::new(
        RejectReason::MissingField,
        format!("{samples_field}: batch has no samples"),
    )
}

pub(crate) fn empty_device(device_field: &str) -> Rejection {
    Rejection::new(RejectReason::MissingField, format!("{device_field}: empty device id"))
}

pub(crate) fn no_time(sample: usize, time_field: &str) -> Rejection {
    Rejection::new(
        RejectReason::MissingField,
        format!("samples[{sample}].{time_field}: no sample time"),
    )
}

/// A time whose nanoseconds do not fit an `i64`; `what` is the raw value,
/// `negative` whether it lies before 1970 (then it is too old, not in the future).
pub(crate) fn unrepresentable_time(sample: usize, time_field: &str, what: &str, negative: bool) -> Rejection {
    let (reason, limit) = if negative {
        (
            RejectReason::TimestampTooOld,
            "before 1677-09-21T00:12:43Z, the earliest time InfluxDB stores",
        )
    } else {
        (
            RejectReason::TimestampInFuture,
            "after 2262-04-11T23:47:16Z, the latest time InfluxDB stores",
        )
    };
    Rejection::new(reason, format!("samples[{sample}].{time_field}: {what} is {limit}"))
}

/// `google.protobuf.Timestamp`'s range: 0001-01-01T00:00:00Z …
/// 9999-12-31T23:59:59Z, in seconds since 1970.
pub(crate) const TIMESTAMP_MIN_SECONDS: i64 = -62_135_596_800;
pub(crate) const TIMESTAMP_MAX_SECONDS: i64 = 253_402_300_799;
/// InfluxDB's time range in nanoseconds since 1970 (its `MinNanoTime`,
/// `MaxNanoTime`): 1677-09-21T00:12:43.145224194Z … 2262-04-11T23:47:16.854775806Z.
pub(crate) const INFLUX_MIN_NS: i64 = i64::MIN + 2;
pub(crate) const INFLUX_MAX_NS: i64 = i64::MAX - 1;

/// A `google.protobuf.Timestamp` as Unix nanoseconds, checked as its spec
/// says (nanos 0…999,999,999; seconds 0001-01-01…9999-12-31) and against
/// InfluxDB's range: nanos outside theirs are `constraint_violated`; a time
/// before 1677-09-21 (InfluxDB's earliest) is `timestamp_too_old`, after
/// 2262-04-11 `timestamp_in_future`. Both decode paths call this.
pub(crate) fn timestamp_ns(sample: usize, time_field: &str, seconds: i64, nanos: i32) -> Result<i64, Rejection> {
    if !(0..=999_999_999).contains(&nanos) {
        return Err(Rejection::new(
            RejectReason::ConstraintViolated,
            format!(
                "samples[{sample}].{time_field}.nanos = {nanos} is outside 0..=999999999 (google.protobuf.Timestamp)"
            ),
        ));
    }
    let what = |spec: &str| format!("seconds = {seconds}{spec}");
    if seconds < TIMESTAMP_MIN_SECONDS {
        return Err(unrepresentable_time(
            sample,
            time_field,
            &what(" (before 0001-01-01, outside google.protobuf.Timestamp's range)"),
            true,
        ));
    }
    if seconds > TIMESTAMP_MAX_SECONDS {
        return Err(unrepresentable_time(
            sample,
            time_field,
            &what(" (after 9999-12-31, outside google.protobuf.Timestamp's range)"),
            false,
        ));
    }
    let ns = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    influx_time(sample, time_field, ns, || what(""))
}

/// `ns` if InfluxDB can store it, else the rejection (`what` names the raw
/// value; called only then, so an accepted sample formats nothing).
pub(crate) fn influx_time(
    sample: usize,
    time_field: &str,
    ns: i128,
    what: impl FnOnce() -> String,
) -> Result<i64, Rejection> {
    match i64::try_from(ns) {
        Ok(ns) if (INFLUX_MIN_NS..=INFLUX_MAX_NS).contains(&ns) => Ok(ns),
        _ => Err(unrepresentable_time(sample, time_field, &what(), ns < 0)),
    }
}

/// The accepted time window, or the rejection for a time outside it.
pub(crate) fn check_window(sample: usize, time_ns: i64, window: Window) -> Result<(), Rejection> {
    if time_ns > window.latest_ns {
        return Err(Rejection::new(
            RejectReason::TimestampInFuture,
            format!(
                "samples[{sample}] time {} is {} s ahead of the gateway clock {}",
                format_ns(time_ns),
                (time_ns - window.now_ns) / 1_000_000_000,
                format_ns(window.now_ns)
            ),
        ));
    }
    if time_ns < window.earliest_ns {
        return Err(Rejection::new(
            RejectReason::TimestampTooOld,
            format!(
                "samples[{sample}] time {} is older than the accepted age (earliest {})",
                format_ns(time_ns),
                format_ns(window.earliest_ns)
            ),
        ));
    }
    Ok(())
}

/// A uint64 value above what InfluxDB integers hold; `path` is `samples[i].field`.
pub(crate) fn too_large_integer(path: &str, x: u64) -> Rejection {
    Rejection::new(
        RejectReason::ConstraintViolated,
        format!("{path}: {x} exceeds the largest storable integer 2^63-1"),
    )
}

pub(crate) fn no_values(sample: usize) -> Rejection {
    Rejection::new(
        RejectReason::MissingField,
        format!("samples[{sample}] has no values (every value field is unset)"),
    )
}

pub(crate) fn trailing_backslash(sample: usize, tag_key: &str) -> Rejection {
    Rejection::new(
        RejectReason::ConstraintViolated,
        format!("samples[{sample}]: tag `{tag_key}` ends with a backslash, which line protocol cannot carry"),
    )
}
