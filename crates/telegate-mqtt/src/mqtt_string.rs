//! What MQTT 5 lets a client send, and how to make a string fit.
//!
//! MQTT 5 §1.5.4: a UTF-8 string holds no U+0000 and no surrogates, and a
//! receiver may refuse control characters and Unicode non-characters.
//! Mosquitto 2.0.11 does (`mosquitto_validate_utf8`) and drops the
//! connection of a client that sends one, in a topic or in a user property.
//! Every string telegate publishes goes through [`legal_string`] or
//! [`legal_topic`]; [`publish_size`] is the exact size of the PUBLISH packet
//! it becomes, to compare with the broker's Maximum Packet Size.

use std::borrow::Cow;

/// Longest UTF-8 string (and topic) MQTT can carry: its length is a u16.
pub const MAX_STRING_BYTES: usize = 65_535;

/// Largest remaining length MQTT's variable-byte integer can express.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// What replaces a character a broker would refuse.
pub const REPLACEMENT: char = '\u{FFFD}';

/// False for the characters Mosquitto refuses: U+0000–U+001F, U+007F–U+009F,
/// the non-characters U+FDD0–U+FDEF and U+xFFFE/U+xFFFF of every plane.
/// (Surrogates cannot occur in a Rust `str`; invalid UTF-8 is replaced when
/// bytes become a string.)
pub fn is_legal_char(c: char) -> bool {
    let u = u32::from(c);
    !(u <= 0x1F || (0x7F..=0x9F).contains(&u) || (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE)
}

/// True when `s` may be sent as an MQTT 5 UTF-8 string as it is.
pub fn is_legal_string(s: &str) -> bool {
    s.len() <= MAX_STRING_BYTES && s.chars().all(is_legal_char)
}

/// True when `s` may be the topic of a PUBLISH as it is: a legal, non-empty
/// string without the wildcards `+` and `#`.
pub fn is_legal_topic(s: &str) -> bool {
    !s.is_empty() && is_legal_string(s) && !s.contains(['+', '#'])
}

/// `s` with every refused character replaced by U+FFFD, cut (at a character
/// boundary) to at most `max_bytes` (itself capped at [`MAX_STRING_BYTES`]).
pub fn legal_string(s: &str, max_bytes: usize) -> Cow<'_, str> {
    let max = max_bytes.min(MAX_STRING_BYTES);
    if s.len() <= max && s.chars().all(is_legal_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let c = if is_legal_char(c) { c } else { REPLACEMENT };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// Bytes (possibly not UTF-8) as a legal string: invalid sequences and
/// encoded surrogates become U+FFFD, then as [`legal_string`].
pub fn legal_string_from_bytes(b: &[u8], max_bytes: usize) -> String {
    legal_string(&String::from_utf8_lossy(b), max_bytes).into_owned()
}

/// `s` as a legal publish topic: as [`legal_string`], and `+`, `#` become
/// `_`; an empty result becomes `_`.
pub fn legal_topic(s: &str, max_bytes: usize) -> String {
    let mut out: String = legal_string(s, max_bytes)
        .chars()
        .map(|c| if matches!(c, '+' | '#') { '_' } else { c })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn varint_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// The exact size in bytes of a QoS 1 MQTT 5 PUBLISH with this topic, user
/// properties, optional content type (sent with a payload format indicator)
/// and payload length: what the broker compares with its Maximum Packet Size.
pub fn publish_size(
    topic: &str,
    user_properties: &[(String, String)],
    content_type: Option<&str>,
    payload_len: usize,
) -> usize {
    let mut props = 0usize;
    for (k, v) in user_properties {
        props += 1 + 2 + k.len() + 2 + v.len();
    }
    if let Some(ct) = content_type {
        props += (1 + 2 + ct.len()) + 2;
    }
    // topic, packet id, properties (length + body), payload
    let remaining = 2 + topic.len() + 2 + varint_len(props) + props + payload_len;
    1 + varint_len(remaining) + remaining
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn refused_characters() {
        for c in [
            '\0',
            '\u{1}',
            '\n',
            '\u{1F}',
            '\u{7F}',
            '\u{9F}',
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{1FFFF}',
            '\u{10FFFE}',
            '\u{10FFFF}',
        ] {
            assert!(!is_legal_char(c), "{:#x}", u32::from(c));
        }
        for c in [
            ' ',
            'a',
            '\u{A0}',
            '\u{FDCF}',
            '\u{FDF0}',
            '\u{FFFD}',
            '\u{1F600}',
            '\u{E000}',
            'đ',
        ] {
            assert!(is_legal_char(c), "{:#x}", u32::from(c));
        }
    }

    #[test]
    fn the_issue_device_id_is_made_legal() {
        assert_eq!(legal_string("dev\u{FFFF}", 100), "dev\u{FFFD}");
        assert_eq!(legal_string_from_bytes(b"dev\xef\xbf\xbf", 100), "dev\u{FFFD}");
        // A surrogate encoded as bytes is not UTF-8.
        assert_eq!(
            legal_string_from_bytes(b"a\xed\xa0\x80b", 100).chars().next(),
            Some('a')
        );
        assert!(is_legal_string(&legal_string_from_bytes(b"a\xed\xa0\x80b", 100)));
    }

    #[test]
    fn cut_at_a_character_boundary() {
        assert_eq!(legal_string("ééé", 5), "éé");
        assert_eq!(legal_string("abc", 0), "");
        assert_eq!(legal_topic("", 10), "_");
        assert_eq!(legal_topic("a/+/#", 10), "a/_/_");
        assert_eq!(legal_string(&"x".repeat(70_000), usize::MAX).len(), MAX_STRING_BYTES);
    }

    #[test]
    fn publish_size_matches_rumqttc() {
        use bytes::BytesMut;
        use rumqttc::v5::mqttbytes::QoS;
        use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
        for (topic, props, ct, payload) in [
            ("a/b", vec![], None, 0usize),
            (
                "t",
                vec![("reason".to_owned(), "x".repeat(300))],
                Some("application/json"),
                20_000,
            ),
            (
                &*"x".repeat(200),
                vec![("k".to_owned(), "v".to_owned()); 40],
                None,
                3_000_000,
            ),
        ] {
            let properties = PublishProperties {
                payload_format_indicator: ct.map(|_| 1),
                content_type: ct.map(str::to_owned),
                user_properties: props.clone(),
                ..Default::default()
            };
            let mut p = Publish::new(topic, QoS::AtLeastOnce, vec![0u8; payload], Some(properties));
            p.pkid = 1;
            let mut buf = BytesMut::new();
            let written = p.write(&mut buf).expect("encodes");
            assert_eq!(buf.len(), written);
            assert_eq!(publish_size(topic, &props, ct, payload), buf.len(), "{topic}");
        }
    }

    proptest! {
        #[test]
        fn output_is_always_legal_and_within_limits(s in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..80_000) {
            let out = legal_string(&s, max);
            prop_assert!(is_legal_string(&out));
            prop_assert!(out.len() <= max.min(MAX_STRING_BYTES));
            let out = legal_string_from_bytes(&bytes, max);
            prop_assert!(is_legal_string(&out));
            prop_assert!(out.len() <= max);
            let topic = legal_topic(&s, max.max(1));
            prop_assert!(is_legal_topic(&topic));
            prop_assert!(topic.len() <= max.max(1));
        }

        #[test]
        fn legal_strings_are_kept_as_they_are(s in "[a-zA-Z0-9/ _.\u{A0}-\u{FDCF}]{0,40}") {
            prop_assert_eq!(legal_string(&s, 1000), s.as_str());
        }
    }
}
