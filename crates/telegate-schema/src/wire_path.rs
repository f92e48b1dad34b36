//! Where a malformed payload goes wrong, as a field path a firmware author
//! can act on (`samples[2].stage_m`): prost's decode error names only the
//! kind of fault, and the transcoder a byte offset. Run only on a payload
//! already refused, so it favours clarity over speed.

use prost::bytes::Buf as _;
use prost::encoding::{WireType, decode_key, decode_varint};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// Nested messages deeper than this are not followed (prost stops at 100).
const MAX_DEPTH: usize = 100;

fn expected_wire_type(kind: &Kind) -> WireType {
    match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => WireType::SixtyFourBit,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => WireType::ThirtyTwoBit,
        Kind::String | Kind::Bytes | Kind::Message(_) => WireType::LengthDelimited,
        _ => WireType::Varint,
    }
}

fn wire_name(w: WireType) -> &'static str {
    match w {
        WireType::Varint => "varint",
        WireType::SixtyFourBit => "64-bit",
        WireType::LengthDelimited => "length-delimited",
        WireType::StartGroup | WireType::EndGroup => "group",
        WireType::ThirtyTwoBit => "32-bit",
    }
}

/// The path of field `f` in `parent`, with the item index of a repeated message.
fn child(parent: &str, f: Option<&FieldDescriptor>, number: u32, index: usize) -> String {
    let name = f.map_or_else(|| format!("<field {number}>"), |f| f.name().to_owned());
    let sep = if parent.is_empty() { "" } else { "." };
    match f {
        Some(f) if f.is_list() && matches!(f.kind(), Kind::Message(_)) => format!("{parent}{sep}{name}[{index}]"),
        _ => format!("{parent}{sep}{name}"),
    }
}

/// `at path: problem` for the first field that cannot be decoded, or `None`
/// when the walk finds nothing wrong.
pub(crate) fn locate(desc: &MessageDescriptor, payload: &[u8]) -> Option<String> {
    walk(desc, payload, "", 0).err()
}

fn walk(desc: &MessageDescriptor, mut buf: &[u8], path: &str, depth: usize) -> Result<(), String> {
    let at = |p: &str, problem: &str| {
        if p.is_empty() {
            problem.to_owned()
        } else {
            format!("at {p}: {problem}")
        }
    };
    if depth > MAX_DEPTH {
        return Err(at(path, "messages nested too deeply"));
    }
    let mut seen: Vec<(u32, usize)> = Vec::new();
    while buf.has_remaining() {
        let (number, wire) = decode_key(&mut buf)
            .map_err(|_| at(path, "a field key is invalid (field number 0, or an unknown wire type)"))?;
        let field = desc.get_field(number);
        let index = match seen.iter_mut().find(|(n, _)| *n == number) {
            Some((_, i)) => {
                *i += 1;
                *i
            }
            None => {
                seen.push((number, 0));
                0
            }
        };
        let here = child(path, field.as_ref(), number, index);
        if let Some(f) = &field {
            let expected = expected_wire_type(&f.kind());
            let packed = f.is_list() && wire == WireType::LengthDelimited && expected != WireType::LengthDelimited;
            if wire != expected && !packed {
                return Err(at(
                    &here,
                    &format!(
                        "field {number} is sent as {}, but its type {} is {}",
                        wire_name(wire),
                        format!("{:?}", f.kind()).to_lowercase(),
                        wire_name(expected)
                    ),
                ));
            }
        }
        let truncated = || at(&here, "the payload ends inside this field (truncated?)");
        match wire {
            WireType::Varint => {
                decode_varint(&mut buf).map_err(|_| truncated())?;
            }
            WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
                let n = if wire == WireType::SixtyFourBit { 8 } else { 4 };
                if buf.remaining() < n {
                    return Err(truncated());
                }
                buf.advance(n);
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).map_err(|_| truncated())?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= buf.remaining())
                    .ok_or_else(|| {
                        at(
                            &here,
                            &format!("its length says {len} bytes, but only {} follow", buf.remaining()),
                        )
                    })?;
                let (inner, rest) = buf.split_at(len);
                match field.as_ref().map(FieldDescriptor::kind) {
                    Some(Kind::Message(m)) if !field.as_ref().is_some_and(FieldDescriptor::is_map) => {
                        walk(&m, inner, &here, depth + 1)?;
                    }
                    Some(Kind::String) if std::str::from_utf8(inner).is_err() => {
                        return Err(at(&here, "a string field holds bytes that are not UTF-8"));
                    }
                    _ => {}
                }
                buf = rest;
            }
            WireType::StartGroup | WireType::EndGroup => {
                return Err(at(&here, "groups (proto2) are not accepted"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::Registry;

    #[test]
    fn names_the_field_of_a_malformed_payload() {
        let reg = Registry::builtin(&BTreeMap::new()).unwrap();
        let s = reg.get("river_level").unwrap();
        let desc = &s.message;
        // device_id "a", then samples[0] = {}, samples[1] = {stage_m (field 3, double) as a varint}.
        let payload = [0x0a, 0x01, b'a', 0x12, 0x00, 0x12, 0x02, 0x18, 0x01];
        let at = super::locate(desc, &payload).unwrap();
        assert_eq!(
            at,
            "at samples[1].stage_m: field 3 is sent as varint, but its type double is 64-bit"
        );
        // A length running past the end.
        let at = super::locate(desc, &[0x0a, 0x05, b'a']).unwrap();
        assert!(at.starts_with("at device_id: its length says 5 bytes"), "{at}");
        // Not UTF-8.
        let at = super::locate(desc, &[0x0a, 0x01, 0xff]).unwrap();
        assert_eq!(at, "at device_id: a string field holds bytes that are not UTF-8");
        // Both decoders' rejections carry the path.
        let origin = telegate_model::TopicFields {
            site: "s",
            device_id: "a",
            sensor_type: "river_level",
        };
        let mut points = Vec::new();
        let r = reg
            .decode(&origin, &payload, 0, &crate::Limits::default(), &mut points)
            .unwrap_err();
        assert!(r.detail.contains("at samples[1].stage_m:"), "{}", r.detail);
        let mut out = Vec::new();
        let r = reg
            .transcode(
                &origin,
                &payload,
                0,
                &crate::Limits::default(),
                &mut crate::TranscodeScratch::default(),
                &mut out,
            )
            .unwrap_err();
        assert!(r.detail.contains("at samples[1].stage_m:"), "{}", r.detail);
    }
}
