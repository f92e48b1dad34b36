//! The `telegate.v1.DeadLetterEnvelope` copy of a dead letter, on the
//! device's own topic.

use telegate_model::TopicPattern;
use telegate_mqtt::dead_letter::MAX_DETAIL_BYTES;
use telegate_mqtt::mqtt_string::{legal_string, legal_string_from_bytes};
use telegate_mqtt::{DeadLetter, Message};

use super::FeedbackConfig;
use super::wire::Writer;

/// Longest `gateway` in an envelope or status, in bytes (as the dead
/// letter's user property).
pub(crate) const MAX_GATEWAY_BYTES: usize = 256;

/// The device a topic names, when the topic follows the pattern (a
/// `bad_topic` message names none: it gets no per-device feedback).
pub(crate) fn device_of(pattern: &TopicPattern, topic: &[u8]) -> Option<String> {
    let topic = std::str::from_utf8(topic).ok()?;
    pattern.parse_topic(topic).ok().map(|o| o.device_id.to_owned())
}

/// Builds the envelope copies of dead letters.
#[derive(Debug, Clone)]
pub(crate) struct Envelopes {
    pub(crate) config: FeedbackConfig,
    pub(crate) pattern: TopicPattern,
    pub(crate) gateway: String,
}

impl Envelopes {
    /// The envelope of `letter`, refused at `now_ns`; `None` when its topic
    /// names no device.
    pub(crate) fn message(&self, letter: &DeadLetter, now_ns: i64) -> Option<Message> {
        let device = device_of(&self.pattern, &letter.topic)?;
        Some(Message {
            topic: self.config.topic(&device, "dead-letter"),
            payload: encode(letter, &self.gateway, now_ns).into(),
            retain: false,
            content_type: None,
            user_properties: Vec::new(),
        })
    }
}

/// `telegate.v1.DeadLetterEnvelope`: detail and topic made legal and cut as
/// in the dead letter's user properties, the payload unchanged.
pub(crate) fn encode(letter: &DeadLetter, gateway: &str, now_ns: i64) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(letter.payload.len() + 256));
    w.string(1, letter.reason);
    w.string(2, &legal_string(letter.detail.trim(), MAX_DETAIL_BYTES));
    w.string(3, &legal_string_from_bytes(&letter.topic, MAX_DETAIL_BYTES));
    w.bytes(4, &letter.payload);
    w.string(5, &legal_string(gateway, MAX_GATEWAY_BYTES));
    w.int64(6, now_ns);
    w.0
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn the_envelope_goes_to_the_device_topic() {
        let e = Envelopes {
            config: FeedbackConfig::default(),
            pattern: TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}").expect("pattern"),
            gateway: "gw".into(),
        };
        let letter = DeadLetter {
            topic: Bytes::from_static(b"telemetry/s/rl-1/river_level"),
            payload: Bytes::from_static(&[1, 2, 3]),
            reason: "timestamp_too_old",
            detail: " old\n".into(),
        };
        let m = e.message(&letter, 5).expect("a device topic");
        assert_eq!(m.topic, "telegate/device/rl-1/dead-letter");
        let mut want = vec![0x0a, 17];
        want.extend_from_slice(b"timestamp_too_old");
        want.extend_from_slice(&[0x12, 3]);
        want.extend_from_slice(b"old");
        want.extend_from_slice(&[0x1a, 28]);
        want.extend_from_slice(b"telemetry/s/rl-1/river_level");
        want.extend_from_slice(&[0x22, 3, 1, 2, 3, 0x2a, 2, b'g', b'w', 0x30, 5]);
        assert_eq!(&m.payload[..], &want[..]);
        let bad = DeadLetter {
            topic: Bytes::from_static(b"telemetry/s/rl 1/river_level"),
            ..letter
        };
        assert!(e.message(&bad, 5).is_none());
    }
}
