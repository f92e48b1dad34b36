//! The topic parser, on any topic and any pattern. It may refuse, never
//! panic; what it accepts is a valid identifier in each field, and the
//! pattern renders it back to the same topic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telegate_model::{TopicPattern, is_valid_identifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // "pattern\ntopic", or a topic for the default pattern.
    let (pattern, topic) = match text.split_once('\n') {
        Some((p, t)) => (p, t),
        None => ("telemetry/{site}/{device_id}/{sensor_type}", text),
    };
    let Ok(pattern) = TopicPattern::parse(pattern) else {
        return;
    };
    let _ = pattern.filter();
    if let Ok(fields) = pattern.parse_topic(topic) {
        assert!(is_valid_identifier(fields.device_id), "{:?}", fields.device_id);
        assert!(is_valid_identifier(fields.sensor_type), "{:?}", fields.sensor_type);
        assert!(
            fields.site.is_empty() || is_valid_identifier(fields.site),
            "{:?}",
            fields.site
        );
        assert_eq!(pattern.render(fields.site, fields.device_id, fields.sensor_type), topic);
    }
});
