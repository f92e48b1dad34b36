use std::fmt;

/// Why a message was refused. Each variant has a stable, machine-readable
/// label: it is the `reason` user property on the dead-letter topic and the
/// label of the per-reason counter, so renaming one is a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The payload is larger than the configured limit.
    PayloadTooLarge,
    /// The topic does not match the configured pattern.
    BadTopic,
    /// No schema is registered for the sensor type named in the topic.
    UnknownSensorType,
    /// The payload is not a valid protobuf encoding of the sensor's message.
    MalformedProtobuf,
    /// A required field (buf.validate `required`) is absent.
    MissingField,
    /// A buf.validate rule other than `required` failed (range, pattern, length…).
    ConstraintViolated,
    /// A floating-point value is NaN or ±infinity.
    NonFiniteValue,
    /// A sample's time is further in the future than the allowed clock skew.
    TimestampInFuture,
    /// A sample's time is older than the allowed age.
    TimestampTooOld,
    /// The device id inside the payload differs from the one in the topic.
    DeviceIdMismatch,
    /// The database refused the points permanently (e.g. a field type conflict).
    WriteRejected,
    /// Two samples of one series (measurement and tags) have the same time.
    DuplicateSample,
}

impl RejectReason {
    /// Every reason, in a stable order (for counters and docs).
    pub const ALL: [RejectReason; 12] = [
        RejectReason::PayloadTooLarge,
        RejectReason::BadTopic,
        RejectReason::UnknownSensorType,
        RejectReason::MalformedProtobuf,
        RejectReason::MissingField,
        RejectReason::ConstraintViolated,
        RejectReason::NonFiniteValue,
        RejectReason::TimestampInFuture,
        RejectReason::TimestampTooOld,
        RejectReason::DeviceIdMismatch,
        RejectReason::WriteRejected,
        RejectReason::DuplicateSample,
    ];

    /// The stable snake_case label.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::PayloadTooLarge => "payload_too_large",
            RejectReason::BadTopic => "bad_topic",
            RejectReason::UnknownSensorType => "unknown_sensor_type",
            RejectReason::MalformedProtobuf => "malformed_protobuf",
            RejectReason::MissingField => "missing_field",
            RejectReason::ConstraintViolated => "constraint_violated",
            RejectReason::NonFiniteValue => "non_finite_value",
            RejectReason::TimestampInFuture => "timestamp_in_future",
            RejectReason::TimestampTooOld => "timestamp_too_old",
            RejectReason::DeviceIdMismatch => "device_id_mismatch",
            RejectReason::WriteRejected => "write_rejected",
            RejectReason::DuplicateSample => "duplicate_sample",
        }
    }

    /// Index into [`RejectReason::ALL`], for array-backed counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A refused message's reason plus a human-readable detail naming the field
/// and value at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: RejectReason,
    pub detail: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_in_all() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r}");
        }
    }

    #[test]
    fn labels_are_unique_snake_case() {
        let mut labels: Vec<_> = RejectReason::ALL.iter().map(|r| r.label()).collect();
        assert!(
            labels
                .iter()
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), RejectReason::ALL.len());
    }
}
