//! Dead letters: a refused message republished with its reason.
//!
//! [`build`] is the only way to turn a [`DeadLetter`] into a [`Message`], and
//! [`DeadLetterPublisher::deliver`] the only way to publish one. What it
//! builds is always a PUBLISH a strict broker (Mosquitto 2.0.11) accepts:
//! every string legal for MQTT 5 ([`crate::mqtt_string`]), every length
//! within its field, the whole packet within the Maximum Packet Size — or
//! [`DeadLetterError::TooLarge`], and the caller quarantines the message.
//! See docs/device-protocol.md ("Dead letters") for the format.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use thiserror::Error;

use crate::config::MqttConfig;
use crate::error::MqttError;
use crate::mqtt_string::{MAX_STRING_BYTES, is_legal_topic, legal_string, legal_string_from_bytes, legal_topic};
use crate::publisher::{Delivery, Message, Publisher};

/// A refused message on its way to the dead-letter topic.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The original topic, as received (may be any bytes).
    pub topic: Bytes,
    /// The original payload, unchanged.
    pub payload: Bytes,
    /// Machine-readable reason label (`RejectReason::label`).
    pub reason: &'static str,
    /// Human-readable detail naming the field and value at fault.
    pub detail: String,
}

/// Longest `detail` and `topic` user property, in bytes.
pub const MAX_DETAIL_BYTES: usize = 1024;
/// Longest `gateway` user property, in bytes.
const MAX_GATEWAY_BYTES: usize = 256;
/// The sub-topic of dead letters whose original topic cannot be carried.
pub const UNROUTABLE_LEVEL: &str = "_unroutable";
/// Content type of the JSON envelope used for those.
pub const ENVELOPE_CONTENT_TYPE: &str = "application/vnd.telegate.dead-letter+json";

/// A dead letter that cannot be published.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DeadLetterError {
    /// Even built as small as it can be, the PUBLISH is larger than the
    /// Maximum Packet Size.
    #[error("the dead letter of `{topic}` would be a {size}-byte packet; the broker takes at most {max} bytes")]
    TooLarge { topic: String, size: usize, max: usize },
}

/// FNV-1a, 64 bits: a stable name for a topic that cannot be carried.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Build the dead letter of `letter`, published under `prefix` by `gateway`,
/// in at most `max_packet` bytes.
///
/// - Original topic legal and short enough: topic `{prefix}/{original topic}`,
///   the original payload unchanged, user property `format=original`.
/// - Otherwise (not UTF-8, a character MQTT refuses, a wildcard, or
///   `{prefix}/{topic}` over 65,535 bytes): topic
///   `{prefix}/_unroutable/{16 hex digits of FNV-1a of the topic bytes}`,
///   content type [`ENVELOPE_CONTENT_TYPE`], payload the JSON
///   `{"topic_base64": …, "payload_base64": …}` (the original bytes), user
///   property `format=envelope`.
///
/// User properties: `reason`, `detail` and `topic` (both made legal and cut
/// to [`MAX_DETAIL_BYTES`]), `gateway`, `format`.
pub fn build(letter: &DeadLetter, prefix: &str, gateway: &str, max_packet: usize) -> Result<Message, DeadLetterError> {
    let prefix = legal_topic(prefix.trim_end_matches('/'), MAX_STRING_BYTES / 2);
    let original = std::str::from_utf8(&letter.topic)
        .ok()
        .filter(|t| is_legal_topic(t) && prefix.len() + 1 + t.len() <= MAX_STRING_BYTES);
    let (topic, payload, content_type, format) = match original {
        Some(t) => (format!("{prefix}/{t}"), letter.payload.clone(), None, "original"),
        None => {
            let b64 = base64::engine::general_purpose::STANDARD;
            let envelope = serde_json::json!({
                "topic_base64": b64.encode(&letter.topic),
                "payload_base64": b64.encode(&letter.payload),
            });
            (
                format!("{prefix}/{UNROUTABLE_LEVEL}/{:016x}", fnv1a(&letter.topic)),
                Bytes::from(envelope.to_string()),
                Some(ENVELOPE_CONTENT_TYPE.to_owned()),
                "envelope",
            )
        }
    };
    // Database answers end in a newline: trim before replacing.
    let detail = legal_string(letter.detail.trim(), MAX_DETAIL_BYTES).into_owned();
    let message = Message {
        topic,
        payload,
        retain: false,
        content_type,
        user_properties: vec![
            (
                "reason".into(),
                legal_string(letter.reason, MAX_DETAIL_BYTES).into_owned(),
            ),
            ("detail".into(), detail),
            ("topic".into(), legal_string_from_bytes(&letter.topic, MAX_DETAIL_BYTES)),
            ("gateway".into(), legal_string(gateway, MAX_GATEWAY_BYTES).into_owned()),
            ("format".into(), format.into()),
        ],
    };
    let size = message.packet_size();
    if size > max_packet {
        return Err(DeadLetterError::TooLarge {
            topic: legal_string_from_bytes(&letter.topic, 200),
            size,
            max: max_packet,
        });
    }
    Ok(message)
}

/// What became of a dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The broker acknowledged it.
    Published,
    /// It cannot be dead-lettered (refused by the broker, lost in flight,
    /// too large): the original belongs in the quarantine; `why` says which.
    Undeliverable { why: String },
}

/// Publishes dead letters on a connection of its own (client id
/// `{mqtt.client_id}-dead-letters`, clean session), one at a time, each
/// confirmed by its PUBACK. A dead letter the broker refuses, or that is in
/// flight when the connection drops, is never retried: it is
/// [`Outcome::Undeliverable`], so a message that makes the broker drop the
/// connection costs at most one reconnect — and never the source's
/// connection, which carries only subscriptions and acknowledgements.
#[derive(Debug)]
pub struct DeadLetterPublisher {
    publisher: Publisher,
    prefix: String,
    gateway: String,
    timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
}

impl DeadLetterPublisher {
    pub(crate) fn new(cfg: &MqttConfig) -> Result<Self, MqttError> {
        Ok(Self {
            publisher: Publisher::new(cfg, format!("{}-dead-letters", cfg.client_id))?,
            prefix: cfg.dead_letter_prefix.clone(),
            gateway: cfg.client_id.clone(),
            timeout: cfg.connect_timeout.max(Duration::from_secs(1)),
            reconnect_min: cfg.reconnect_min,
            reconnect_max: cfg.reconnect_max,
        })
    }

    /// Connections the dead-letter publisher has made so far.
    pub fn connects(&self) -> u64 {
        self.publisher.connects()
    }

    /// Publish `letter`'s dead letter and wait for the broker's PUBACK.
    /// While the broker cannot be reached (nothing was sent) this waits and
    /// retries with capped backoff, until `give_up` is cancelled (then
    /// `None`: the message stays unacknowledged and is redelivered).
    pub async fn deliver(
        &mut self,
        letter: &DeadLetter,
        give_up: &tokio_util::sync::CancellationToken,
    ) -> Option<Outcome> {
        let mut failures = 0u32;
        loop {
            let message = match build(letter, &self.prefix, &self.gateway, self.publisher.max_packet()) {
                Ok(m) => m,
                Err(e) => return Some(Outcome::Undeliverable { why: e.to_string() }),
            };
            match self.publisher.publish_one(&message, self.timeout).await {
                Delivery::Acked => return Some(Outcome::Published),
                Delivery::Refused { reason } => {
                    return Some(Outcome::Undeliverable {
                        why: format!("the broker refused the dead letter: {reason}"),
                    });
                }
                Delivery::LostInFlight { error } => {
                    return Some(Outcome::Undeliverable {
                        why: format!("the connection failed while the dead letter was in flight: {error}"),
                    });
                }
                Delivery::TooLarge { size, max } => {
                    return Some(Outcome::Undeliverable {
                        why: format!("the dead letter would be a {size}-byte packet; the broker takes at most {max}"),
                    });
                }
                Delivery::NotSent { error } => {
                    let delay = telegate_model::retry::backoff(self.reconnect_min, self.reconnect_max, failures);
                    if failures == 0 || failures.is_power_of_two() {
                        tracing::warn!(%error, retry_in = ?delay, "dead-letter connection failed");
                    }
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = give_up.cancelled() => return None,
                    }
                }
            }
        }
    }

    /// Publish another message (a feedback copy) once on the dead-letter
    /// connection and wait for its PUBACK; never retried.
    pub async fn publish_once(&mut self, message: &Message) -> Delivery {
        self.publisher.publish_one(message, self.timeout).await
    }

    /// Say goodbye to the broker.
    pub async fn disconnect(self) {
        self.publisher.disconnect(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mqtt_string::{is_legal_string, publish_size};

    const MAX: usize = 1024 * 1024;

    fn letter(topic: &[u8], payload: &[u8], detail: &str) -> DeadLetter {
        DeadLetter {
            topic: Bytes::copy_from_slice(topic),
            payload: Bytes::copy_from_slice(payload),
            reason: "device_id_mismatch",
            detail: detail.to_owned(),
        }
    }

    fn prop<'a>(m: &'a Message, key: &str) -> &'a str {
        m.user_properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .expect("property present")
    }

    /// What the fuzz target and the property test assert of every dead letter.
    pub(crate) fn assert_legal(m: &Message, max: usize) {
        assert!(is_legal_topic(&m.topic), "{:?}", m.topic);
        for (k, v) in &m.user_properties {
            assert!(is_legal_string(k) && is_legal_string(v), "{k:?}={v:?}");
        }
        assert!(m.content_type.as_deref().is_none_or(is_legal_string));
        let size = publish_size(&m.topic, &m.user_properties, m.content_type.as_deref(), m.payload.len());
        assert!(size <= max, "{size} > {max}");
    }

    #[test]
    fn the_issue_reproduction_is_legal() {
        // device_id "dev\u{FFFF}" repeated in the detail.
        let l = letter(
            b"telemetry/s1/d1/river_level",
            &[0x0a, 0x06, 0x64, 0x65, 0x76, 0xef, 0xbf, 0xbf],
            "payload device_id `dev\u{FFFF}` differs from topic device id `d1`",
        );
        let m = build(&l, "telegate/dead-letter", "gw", MAX).expect("fits");
        assert_legal(&m, MAX);
        assert_eq!(m.topic, "telegate/dead-letter/telemetry/s1/d1/river_level");
        assert_eq!(m.payload, l.payload, "payload unchanged");
        assert_eq!(
            prop(&m, "detail"),
            "payload device_id `dev\u{FFFD}` differs from topic device id `d1`"
        );
        assert_eq!(prop(&m, "format"), "original");
    }

    #[test]
    fn a_topic_that_cannot_be_carried_goes_in_the_envelope() {
        let long = vec![b'a'; 65_530];
        let m = build(&letter(&long, b"xyz", "d"), "telegate/dead-letter", "gw", MAX).expect("fits");
        assert_legal(&m, MAX);
        assert!(m.topic.starts_with("telegate/dead-letter/_unroutable/"), "{}", m.topic);
        assert_eq!(m.topic.len(), "telegate/dead-letter/_unroutable/".len() + 16);
        assert_eq!(prop(&m, "format"), "envelope");
        assert_eq!(prop(&m, "topic").len(), MAX_DETAIL_BYTES);
        let v: serde_json::Value = serde_json::from_slice(&m.payload).expect("json");
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(b64.decode(v["topic_base64"].as_str().expect("str")).expect("b64"), long);
        assert_eq!(
            b64.decode(v["payload_base64"].as_str().expect("str")).expect("b64"),
            b"xyz"
        );
        // Invalid UTF-8 and refused characters likewise; the same topic, the same name.
        for t in [&b"t/\xff/x"[..], b"t/\x00", "t/\u{FDD0}".as_bytes(), b"t/+/#"] {
            let a = build(&letter(t, b"", ""), "p", "gw", MAX).expect("fits");
            let b = build(&letter(t, b"other", ""), "p", "gw", MAX).expect("fits");
            assert_legal(&a, MAX);
            assert_eq!(a.topic, b.topic);
            assert_eq!(prop(&a, "format"), "envelope");
        }
    }

    #[test]
    fn a_letter_over_the_packet_limit_is_refused() {
        let l = letter(b"t/a", &vec![0u8; 2000], "");
        let err = build(&l, "p", "gw", 2000).expect_err("too large");
        assert!(matches!(err, DeadLetterError::TooLarge { max: 2000, .. }), "{err}");
        assert!(build(&l, "p", "gw", 2200).is_ok());
    }

    proptest! {
        #[test]
        fn every_dead_letter_is_legal_and_within_limits(
            topic in proptest::collection::vec(any::<u8>(), 0..300),
            long in 0usize..70_000,
            payload in proptest::collection::vec(any::<u8>(), 0..200),
            detail in any::<String>(),
            gateway in any::<String>(),
            max in 0usize..100_000,
        ) {
            let mut topic = topic;
            topic.resize(topic.len().max(long), b'x');
            let l = DeadLetter { topic: topic.into(), payload: payload.into(), reason: "bad_topic", detail };
            match build(&l, "telegate/dead-letter", &gateway, max) {
                Ok(m) => assert_legal(&m, max),
                Err(DeadLetterError::TooLarge { size, max: m, .. }) => prop_assert!(size > m),
            }
        }
    }
}
