use thiserror::Error;

/// A topic pattern such as `telemetry/{site}/{device_id}/{sensor_type}`.
///
/// Placeholders take one whole topic level each; `{device_id}` and
/// `{sensor_type}` are required, `{site}` is optional. Literal levels must
/// match exactly. The subscription filter is the pattern with every
/// placeholder replaced by `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    levels: Vec<Level>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    Site,
    DeviceId,
    SensorType,
}

/// The parts of a topic that identify a reading's origin. Borrowed from the
/// topic, so parsing allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicFields<'a> {
    /// Empty when the pattern has no `{site}`.
    pub site: &'a str,
    pub device_id: &'a str,
    pub sensor_type: &'a str,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TopicError {
    #[error("pattern `{pattern}`: {problem}")]
    BadPattern { pattern: String, problem: String },
    #[error("topic `{topic}` has {got} levels, pattern `{pattern}` has {want}")]
    LevelCount {
        topic: String,
        pattern: String,
        got: usize,
        want: usize,
    },
    #[error("topic `{topic}`: level {level} is `{got}`, pattern wants `{want}`")]
    LiteralMismatch {
        topic: String,
        level: usize,
        got: String,
        want: String,
    },
    #[error("topic `{topic}`: {name} `{value}` must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadIdentifier {
        topic: String,
        name: &'static str,
        value: String,
    },
}

/// Max length of a device id, site or sensor type taken from a topic.
pub const MAX_IDENTIFIER_LEN: usize = 64;

/// Whether `s` is acceptable as a device id, site or sensor type: short and
/// made of characters that are safe in a topic level, a tag value and a file
/// name alike.
pub fn is_valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_IDENTIFIER_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl TopicPattern {
    pub fn parse(pattern: &str) -> Result<Self, TopicError> {
        let bad = |problem: &str| TopicError::BadPattern {
            pattern: pattern.to_owned(),
            problem: problem.to_owned(),
        };
        let mut levels = Vec::new();
        for level in pattern.split('/') {
            let l = match level {
                "{site}" => Level::Site,
                "{device_id}" => Level::DeviceId,
                "{sensor_type}" => Level::SensorType,
                "" => return Err(bad("empty topic level")),
                l if l.contains(['{', '}', '+', '#']) => {
                    return Err(bad(&format!(
                        "level `{l}` is neither a literal nor one of {{site}}, {{device_id}}, {{sensor_type}}"
                    )));
                }
                l => Level::Literal(l.to_owned()),
            };
            if !matches!(l, Level::Literal(_)) && levels.contains(&l) {
                return Err(bad(&format!("placeholder `{level}` appears twice")));
            }
            levels.push(l);
        }
        for (needed, name) in [(Level::DeviceId, "{device_id}"), (Level::SensorType, "{sensor_type}")] {
            if !levels.contains(&needed) {
                return Err(bad(&format!("missing placeholder {name}")));
            }
        }
        Ok(Self {
            levels,
            source: pattern.to_owned(),
        })
    }

    /// The MQTT subscription filter matching every topic of this pattern.
    pub fn filter(&self) -> String {
        let parts: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                _ => "+",
            })
            .collect();
        parts.join("/")
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Render a concrete topic (used by the simulator, tests and docs).
    pub fn render(&self, site: &str, device_id: &str, sensor_type: &str) -> String {
        let parts: Vec<&str> = self
            .levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Site => site,
                Level::DeviceId => device_id,
                Level::SensorType => sensor_type,
            })
            .collect();
        parts.join("/")
    }

    pub fn parse_topic<'a>(&self, topic: &'a str) -> Result<TopicFields<'a>, TopicError> {
        let mut fields = TopicFields {
            site: "",
            device_id: "",
            sensor_type: "",
        };
        let mut n = 0;
        for (i, value) in topic.split('/').enumerate() {
            n += 1;
            let Some(level) = self.levels.get(i) else { continue };
            let (name, slot) = match level {
                Level::Literal(want) => {
                    if value != want {
                        return Err(TopicError::LiteralMismatch {
                            topic: topic.to_owned(),
                            level: i + 1,
                            got: value.to_owned(),
                            want: want.clone(),
                        });
                    }
                    continue;
                }
                Level::Site => ("site", &mut fields.site),
                Level::DeviceId => ("device id", &mut fields.device_id),
                Level::SensorType => ("sensor type", &mut fields.sensor_type),
            };
            if !is_valid_identifier(value) {
                return Err(TopicError::BadIdentifier {
                    topic: topic.to_owned(),
                    name,
                    value: value.chars().take(80).collect(),
                });
            }
            *slot = value;
        }
        if n != self.levels.len() {
            return Err(TopicError::LevelCount {
                topic: topic.to_owned(),
                pattern: self.source.clone(),
                got: n,
                want: self.levels.len(),
            });
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_default_pattern() {
        let p = TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}").unwrap();
        assert_eq!(p.filter(), "telemetry/+/+/+");
        let f = p.parse_topic("telemetry/malu-thang/rl-001/river_level").unwrap();
        assert_eq!(
            f,
            TopicFields {
                site: "malu-thang",
                device_id: "rl-001",
                sensor_type: "river_level"
            }
        );
        assert_eq!(p.render("s", "d", "t"), "telemetry/s/d/t");
    }

    #[test]
    fn rejects_wrong_topics() {
        let p = TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}").unwrap();
        assert!(matches!(
            p.parse_topic("telemetry/a/b"),
            Err(TopicError::LevelCount { got: 3, .. })
        ));
        assert!(matches!(
            p.parse_topic("other/a/b/c"),
            Err(TopicError::LiteralMismatch { level: 1, .. })
        ));
        assert!(matches!(
            p.parse_topic("telemetry/a/b c/t"),
            Err(TopicError::BadIdentifier { name: "device id", .. })
        ));
        assert!(matches!(
            p.parse_topic("telemetry/a//t"),
            Err(TopicError::BadIdentifier { .. })
        ));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in [
            "telemetry/{site}/{sensor_type}",
            "t/{device_id}/{device_id}/{sensor_type}",
            "t/+/{device_id}/{sensor_type}",
            "t//{device_id}/{sensor_type}",
        ] {
            assert!(TopicPattern::parse(bad).is_err(), "{bad}");
        }
        let no_site = TopicPattern::parse("d/{device_id}/{sensor_type}/up").unwrap();
        let f = no_site.parse_topic("d/x/y/up").unwrap();
        assert_eq!((f.site, f.device_id, f.sensor_type), ("", "x", "y"));
    }
}
