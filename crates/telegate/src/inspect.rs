//! The integrator's tools: `telegate schema describe` (what a sensor type
//! accepts and what it writes) and `telegate decode` (what the gateway would
//! do with one payload, without a broker or a database).

use std::fmt::Write as _;

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, Value};
use telegate_lp::encode_points;
use telegate_model::{Point, Rejection, TopicFields, TopicPattern};
use telegate_schema::{ColumnRole, Limits, Registry, SensorSchema, sample};

/// Example time used by `schema describe` (2026-01-01T00:00:00Z), so its
/// output is the same on every run and can be pasted into docs.
pub const EXAMPLE_TIME_NS: i64 = 1_767_225_600_000_000_000;

/// Render one `buf.validate` rules message compactly, e.g.
/// `double {gte: -50, lte: 3000}`.
fn render_value(out: &mut String, v: &Value) {
    match v {
        Value::Message(m) => render_message(out, m),
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_value(out, x);
            }
            out.push(']');
        }
        Value::String(s) => {
            let _ = write!(out, "{s:?}");
        }
        Value::Bytes(b) => {
            let _ = write!(out, "<{} bytes>", b.len());
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::F64(x) => {
            let _ = write!(out, "{x}");
        }
        Value::F32(x) => {
            let _ = write!(out, "{x}");
        }
        Value::I32(x) | Value::EnumNumber(x) => {
            let _ = write!(out, "{x}");
        }
        Value::I64(x) => {
            let _ = write!(out, "{x}");
        }
        Value::U32(x) => {
            let _ = write!(out, "{x}");
        }
        Value::U64(x) => {
            let _ = write!(out, "{x}");
        }
        Value::Map(_) => out.push_str("{…}"),
    }
}

fn render_message(out: &mut String, m: &DynamicMessage) {
    out.push('{');
    // Lower bounds before upper ones: `{gte: -50, lte: 3000}` reads as a range.
    let mut fields: Vec<_> = m.fields().collect();
    fields.sort_by_key(|(f, _)| !matches!(f.name(), "gt" | "gte"));
    for (i, (field, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}: ", field.name());
        render_value(out, value);
    }
    out.push('}');
}

/// The field's validation rules in one line, or "" when it has none.
pub fn rules_text(field: &FieldDescriptor) -> String {
    let Some(rules) = sample::rules(field) else {
        return String::new();
    };
    let mut out = String::new();
    for (i, (f, v)) in rules.fields().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match v {
            Value::Message(m) => {
                let _ = write!(out, "{} ", f.name());
                render_message(&mut out, m);
            }
            other => {
                let _ = write!(out, "{}: ", f.name());
                render_value(&mut out, other);
            }
        }
    }
    out
}

fn kind_name(field: &FieldDescriptor) -> String {
    let base = match field.kind() {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => format!(
            "enum {}",
            e.values()
                .filter(|v| v.number() != 0)
                .map(|v| v.name().to_owned())
                .collect::<Vec<_>>()
                .join("|")
        ),
        k => format!("{k:?}").to_lowercase(),
    };
    if field.is_list() {
        format!("repeated {base}")
    } else {
        base
    }
}

/// `schema list`: one line per type.
pub fn list(registry: &Registry) -> String {
    let mut out = String::new();
    let width = registry.schemas().map(|s| s.sensor_type.len()).max().unwrap_or(0);
    let mwidth = registry
        .schemas()
        .map(|s| s.message.full_name().len())
        .max()
        .unwrap_or(0);
    for s in registry.schemas() {
        let _ = writeln!(
            out,
            "{:width$}  {:mwidth$}  {}",
            s.sensor_type,
            s.message.full_name(),
            s.description
        );
    }
    out
}

/// A valid example payload of the type, at [`EXAMPLE_TIME_NS`].
pub fn example_payload(schema: &SensorSchema, device_id: &str) -> Vec<u8> {
    let s = sample::valid_schema_sample(schema, EXAMPLE_TIME_NS, 1);
    sample::batch(&schema.message, device_id, vec![s])
}

/// `schema describe TYPE`: fields, units, tags, rules and example output.
pub fn describe(registry: &Registry, pattern: &TopicPattern, schema: &SensorSchema) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", schema.sensor_type, schema.description);
    let _ = writeln!(out, "  message:     {} ({})", schema.message.full_name(), schema.file);
    let _ = writeln!(
        out,
        "  topic:       {}",
        pattern.render("{site}", "{device_id}", &schema.sensor_type)
    );
    let _ = writeln!(out, "  measurement: {}", schema.measurement);
    let _ = writeln!(
        out,
        "  time:        samples[].{} ({}; the device's clock; must lie within limits.max_age in the past and limits.max_future ahead)",
        schema.time.field_name(),
        schema.time.kind_and_unit()
    );
    let _ = writeln!(out, "\n  batch ({}):", schema.message.name());
    for f in schema.message.fields() {
        let role = if f == *schema.device_id_field() {
            "device id: must equal the topic's {device_id} (or be empty)"
        } else if f == *schema.samples_field() {
            "the samples: one point each"
        } else if schema.batch_tags.iter().any(|c| c.field() == &f) {
            "tag of every point"
        } else {
            "not written"
        };
        let _ = writeln!(out, "    {:16} {:36} {}", f.name(), kind_name(&f), role);
        let rules = rules_text(&f);
        if !rules.is_empty() {
            let _ = writeln!(out, "    {:16} rules: {rules}", "");
        }
    }
    let _ = writeln!(out, "\n  tags: {}", schema.tag_keys().join(", "));
    let _ = writeln!(out, "    device_id, site  from the topic");
    for c in schema.columns.iter().filter(|c| c.role == ColumnRole::Tag) {
        let _ = writeln!(out, "    {:16} samples[].{}", c.name, c.field().name());
    }
    let _ = writeln!(out, "\n  fields (sample {}):", schema.sample.name());
    let _ = writeln!(out, "    {:18} {:8} {:6} {:12} rules", "name", "type", "unit", "from");
    for c in schema.value_columns() {
        let name = if c.is_repeated() {
            format!("{}_1, _2…", c.name)
        } else {
            c.name.to_string()
        };
        let optional = if c.field().supports_presence() && !c.is_repeated() {
            " (optional: unset is not written)"
        } else {
            ""
        };
        let row = format!(
            "    {:18} {:8} {:6} {:12} {}{}",
            name,
            c.value_type.influx_type(),
            if c.unit.is_empty() { "-" } else { &c.unit },
            c.field().name(),
            rules_text(c.field()),
            optional
        );
        let _ = writeln!(out, "{}", row.trim_end());
    }
    let sample_rules: Vec<String> = schema
        .sample
        .fields()
        .filter(|f| !schema.columns.iter().any(|c| c.field() == f))
        .filter_map(|f| {
            let r = rules_text(&f);
            (!r.is_empty()).then(|| format!("{}: {r}", f.name()))
        })
        .collect();
    if !sample_rules.is_empty() {
        let _ = writeln!(out, "    other rules: {}", sample_rules.join("; "));
    }
    let payload = example_payload(schema, "dev-01");
    let origin = TopicFields {
        site: "ma-lu-thang",
        device_id: "dev-01",
        sensor_type: &schema.sensor_type,
    };
    let mut points = Vec::new();
    let _ = writeln!(
        out,
        "\n  example: a {}-byte payload with one mid-range sample, from topic {}, becomes:",
        payload.len(),
        pattern.render(origin.site, origin.device_id, origin.sensor_type)
    );
    match registry.decode(&origin, &payload, EXAMPLE_TIME_NS, &Limits::default(), &mut points) {
        Ok(()) => match encode_points(&points) {
            Ok(lines) => {
                for line in String::from_utf8_lossy(&lines).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    (cannot be written: {e})");
            }
        },
        Err(r) => {
            let _ = writeln!(out, "    (the example itself is rejected: {}: {})", r.reason, r.detail);
        }
    }
    out
}

/// How `telegate decode` reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// hex if the text is only hex digits, else base64 if it is only base64, else raw bytes
    Auto,
    Raw,
    Hex,
    Base64,
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&compact))
        .ok()
}

/// Turn the input into payload bytes; the error says which format failed.
pub fn read_payload(input: &[u8], format: InputFormat) -> Result<(Vec<u8>, &'static str), String> {
    let text = std::str::from_utf8(input).ok();
    match format {
        InputFormat::Raw => Ok((input.to_vec(), "raw")),
        InputFormat::Hex => text
            .and_then(hex_decode)
            .map(|b| (b, "hex"))
            .ok_or_else(|| "input is not hex (pairs of 0-9a-f, whitespace ignored)".to_owned()),
        InputFormat::Base64 => text
            .and_then(base64_decode)
            .map(|b| (b, "base64"))
            .ok_or_else(|| "input is not base64".to_owned()),
        InputFormat::Auto => Ok(text
            .and_then(|t| hex_decode(t).map(|b| (b, "hex")))
            .or_else(|| text.and_then(|t| base64_decode(t).map(|b| (b, "base64"))))
            .unwrap_or_else(|| (input.to_vec(), "raw"))),
    }
}

/// What `telegate decode` found: printed, and the exit code follows `accepted`.
#[derive(Debug)]
pub struct DecodeReport {
    pub text: String,
    pub accepted: bool,
}

/// One payload to judge, and where it would have come from.
#[derive(Debug, Clone, Copy)]
pub struct DecodeInput<'a> {
    pub sensor_type: &'a str,
    pub payload: &'a [u8],
    /// The topic's device id; `None`: the payload's own, so only the payload is judged.
    pub device: Option<&'a str>,
    pub site: &'a str,
    /// The gateway's clock, for the timestamp window.
    pub now_ns: i64,
}

/// Decode, validate and map one payload as the gateway would.
pub fn decode_report(
    registry: &Registry,
    pattern: &TopicPattern,
    input: DecodeInput<'_>,
    limits: &Limits,
) -> DecodeReport {
    let DecodeInput {
        sensor_type,
        payload,
        device,
        site,
        now_ns,
    } = input;
    let mut out = String::new();
    let Some(schema) = registry.get(sensor_type) else {
        let known: Vec<&str> = registry.schemas().map(|s| &*s.sensor_type).collect();
        let _ = writeln!(
            out,
            "verdict: rejected\n  unknown_sensor_type: no schema for `{sensor_type}` (known: {})",
            known.join(", ")
        );
        return DecodeReport {
            text: out,
            accepted: false,
        };
    };
    let decoded = schema.decode_message(payload);
    let payload_device = decoded
        .as_ref()
        .ok()
        .and_then(|m| m.get_field(schema.device_id_field()).as_str().map(str::to_owned))
        .filter(|d| !d.is_empty());
    let device = device
        .map(str::to_owned)
        .or(payload_device)
        .unwrap_or_else(|| "device".to_owned());
    let topic = pattern.render(site, &device, sensor_type);
    let _ = writeln!(out, "type:    {sensor_type} ({})", schema.message.full_name());
    let _ = writeln!(out, "topic:   {topic}");
    let _ = writeln!(out, "payload: {} bytes", payload.len());
    match &decoded {
        Ok(msg) => {
            let json = serde_json::to_string_pretty(msg).unwrap_or_else(|e| format!("(cannot show as JSON: {e})"));
            let _ = writeln!(out, "\nmessage (protobuf JSON):\n{json}");
        }
        Err(r) => {
            let _ = writeln!(out, "\nmessage: cannot be decoded");
            let _ = writeln!(out, "\nverdict: rejected\n  {}: {}", r.reason, r.detail);
            return DecodeReport {
                text: out,
                accepted: false,
            };
        }
    }
    let origin = TopicFields {
        site,
        device_id: &device,
        sensor_type,
    };
    let mut points: Vec<Point> = Vec::new();
    let verdict: Result<(), Rejection> =
        registry
            .decode(&origin, payload, now_ns, limits, &mut points)
            .and_then(|()| {
                encode_points(&points)
                    .map(|lines| {
                        let _ = writeln!(out, "\nline protocol ({} points):", points.len());
                        out.push_str(&String::from_utf8_lossy(&lines));
                    })
                    .map_err(|e| Rejection::new(telegate_model::RejectReason::ConstraintViolated, e.to_string()))
            });
    match verdict {
        Ok(()) => {
            let _ = writeln!(out, "\nverdict: accepted ({} points)", points.len());
            DecodeReport {
                text: out,
                accepted: true,
            }
        }
        Err(r) => {
            let _ = writeln!(out, "\nverdict: rejected\n  {}: {}", r.reason, r.detail);
            DecodeReport {
                text: out,
                accepted: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pattern() -> TopicPattern {
        TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}").unwrap()
    }

    #[test]
    fn input_formats() {
        assert_eq!(
            read_payload(b"0a 01", InputFormat::Auto).unwrap(),
            (vec![0x0a, 0x01], "hex")
        );
        assert_eq!(
            read_payload(b"CgE=", InputFormat::Auto).unwrap(),
            (vec![0x0a, 0x01], "base64")
        );
        assert_eq!(read_payload(&[0x0a, 0xff], InputFormat::Auto).unwrap().1, "raw");
        assert!(read_payload(b"zz", InputFormat::Hex).unwrap_err().contains("not hex"));
    }

    #[test]
    fn rules_are_rendered_from_the_schema() {
        let reg = Registry::builtin(&BTreeMap::new()).unwrap();
        let s = reg.get("river_level").unwrap();
        let stage = s.value_columns().find(|c| &*c.name == "stage_m").unwrap();
        assert_eq!(rules_text(stage.field()), "double {gte: -50, lte: 3000}");
        let d = describe(&reg, &pattern(), s);
        assert!(
            d.contains("stage_m            float    m      stage_m      double {gte: -50, lte: 3000}"),
            "{d}"
        );
        assert!(d.contains("    river_level,device_id=dev-01,site=ma-lu-thang seq=1i,stage_m=1475,water_temp_c=20,mode=\"normal\" 1767225600000000000\n"), "{d}");
        assert!(
            d.contains("device_id        string                               device id: must equal"),
            "{d}"
        );
        assert!(!d.lines().any(|l| l.ends_with(' ')), "{d}");
    }

    #[test]
    fn decode_reports_json_lines_and_verdict() {
        let reg = Registry::builtin(&BTreeMap::new()).unwrap();
        let s = reg.get("river_level").unwrap();
        let payload = example_payload(s, "gauge-7");
        let input = DecodeInput {
            sensor_type: "river_level",
            payload: &payload,
            device: None,
            site: "muong-te",
            now_ns: EXAMPLE_TIME_NS,
        };
        let r = decode_report(&reg, &pattern(), input, &Limits::default());
        assert!(r.accepted, "{}", r.text);
        assert!(r.text.contains("\"deviceId\": \"gauge-7\""), "{}", r.text);
        assert!(
            r.text.contains("topic:   telemetry/muong-te/gauge-7/river_level"),
            "{}",
            r.text
        );
        assert!(r.text.contains("verdict: accepted (1 points)"), "{}", r.text);

        let spoofed = DecodeInput {
            device: Some("other"),
            ..input
        };
        let bad = decode_report(&reg, &pattern(), spoofed, &Limits::default());
        assert!(!bad.accepted);
        assert!(
            bad.text
                .contains("device_id_mismatch: payload device_id `gauge-7` differs from topic device id `other`"),
            "{}",
            bad.text
        );

        let junk = DecodeInput {
            payload: &[0xff, 0xff],
            ..input
        };
        let junk = decode_report(&reg, &pattern(), junk, &Limits::default());
        assert!(!junk.accepted);
        assert!(junk.text.contains("malformed_protobuf"), "{}", junk.text);
    }
}
