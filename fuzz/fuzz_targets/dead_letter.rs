//! The dead-letter builder on any topic bytes (up to 70,000 of them),
//! payload, detail and gateway name, and any packet limit. What it builds
//! must be a PUBLISH a strict broker (Mosquitto 2.0.11) accepts: a legal,
//! wildcard-free topic of at most 65,535 bytes, legal user properties,
//! and an encoded size within the limit (checked by encoding it with
//! rumqttc); otherwise it must say the letter is too large.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use telegate_mqtt::dead_letter::{DeadLetter, DeadLetterError, build};
use telegate_mqtt::mqtt_string::{is_legal_string, is_legal_topic};

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let pad = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let max = usize::from(u16::from_le_bytes([data[2], data[3]])) * 64;
    let rest = &data[4..];
    // Three cuts: topic | payload | detail | gateway.
    let cut = |i: usize| usize::from(rest.get(i).copied().unwrap_or(0)) % (rest.len() + 1);
    let (a, b) = (cut(0).min(cut(1)), cut(0).max(cut(1)));
    let mut topic = rest[..a].to_vec();
    // Long topics, past what one input holds.
    if pad > 60_000 {
        topic.resize(topic.len() + pad - 60_000 + 5_000, b'x');
    }
    let detail = String::from_utf8_lossy(&rest[a..b]).into_owned();
    let gateway = String::from_utf8_lossy(&rest[b..]).into_owned();
    let letter = DeadLetter {
        topic: Bytes::from(topic),
        payload: Bytes::copy_from_slice(&rest[a..]),
        reason: "malformed_protobuf",
        detail,
    };
    match build(&letter, "telegate/dead-letter", &gateway, max) {
        Ok(m) => {
            assert!(is_legal_topic(&m.topic), "topic {:?}", m.topic);
            assert!(m.topic.len() <= 65_535);
            for (k, v) in &m.user_properties {
                assert!(is_legal_string(k) && is_legal_string(v), "{k:?}={v:?}");
            }
            assert!(m.content_type.as_deref().is_none_or(is_legal_string));
            let properties = PublishProperties {
                payload_format_indicator: m.content_type.as_ref().map(|_| 1),
                content_type: m.content_type.clone(),
                user_properties: m.user_properties.clone(),
                ..Default::default()
            };
            let mut p = Publish::new(m.topic.as_str(), QoS::AtLeastOnce, m.payload.clone(), Some(properties));
            p.pkid = 1;
            let mut buf = BytesMut::new();
            p.write(&mut buf).expect("encodes");
            assert_eq!(buf.len(), m.packet_size(), "size computed = size encoded");
            assert!(buf.len() <= max, "{} > {max}", buf.len());
        }
        Err(DeadLetterError::TooLarge { size, max: m, .. }) => assert!(size > m),
    }
});
