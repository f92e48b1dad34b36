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

/// A time whose nanoseconds do not fit an `i64`; `what` is the raw value.
pub(crate) fn unrepresentable_time(sample: usize, time_field: &str, what: &str) -> Rejection {
    Rejection::new(
        RejectReason::TimestampInFuture,
        format!("samples[{sample}].{time_field}: {what} is not a representable time"),
    )
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
