//! Running both paths on one payload and comparing what they give.

use std::collections::BTreeMap;
use std::path::Path;

use telegate_model::{RejectReason, Rejection, TopicFields};

use crate::{Limits, Registry, TranscodeScratch};

/// 2025-11-29T02:30:00Z, the gateway clock of every test.
pub(super) const NOW_NS: i64 = 1_764_383_400_000_000_000;
pub(super) const DEVICE: &str = "dev-01";
pub(super) const SITE: &str = "ma-lu-thang";

/// Two schemas covering what the built-in ones do not: every scalar kind,
/// batch-level tags, float/enum/int tags, ignored fields with rules,
/// repeated values of several kinds, more rule kinds, integer times.
pub(super) const KITCHEN_SINK: &str = include_str!("kitchen_sink.proto");
pub(super) const VENDOR: &str = include_str!("vendor.proto");

pub(super) fn builtin() -> Registry {
    match Registry::builtin(&BTreeMap::new()) {
        Ok(r) => r,
        Err(e) => panic!("built-in schemas: {e}"),
    }
}

/// A registry compiled from `files` written to a temporary directory.
pub(super) fn registry_of(files: &[(&str, &str)], type_map: &[(&str, &str)]) -> Result<Registry, crate::SchemaError> {
    let dir = tempfile::tempdir().map_err(|source| crate::SchemaError::ReadDir {
        dir: Path::new("<tempdir>").to_owned(),
        source,
    })?;
    for (name, src) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| crate::SchemaError::ReadDir {
                dir: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, src).map_err(|source| crate::SchemaError::ReadDir {
            dir: path.clone(),
            source,
        })?;
    }
    let map = type_map
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Registry::load(dir.path(), &map)
}

pub(super) fn extra() -> Registry {
    match registry_of(
        &[("x/kitchen_sink.proto", KITCHEN_SINK), ("x/vendor.proto", VENDOR)],
        &[("siren", "vendor.v1.Up")],
    ) {
        Ok(r) => r,
        Err(e) => panic!("test schemas: {e}"),
    }
}

pub(super) fn origin(sensor_type: &str) -> TopicFields<'_> {
    TopicFields {
        site: SITE,
        device_id: DEVICE,
        sensor_type,
    }
}

/// What one path made of a payload.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    Lines { points: usize, lines: String },
    Refused(Rejection),
}

impl Outcome {
    pub(super) fn reason(&self) -> Option<RejectReason> {
        match self {
            Outcome::Lines { .. } => None,
            Outcome::Refused(r) => Some(r.reason),
        }
    }
}

/// The dynamic path as the decode stage runs it: `Registry::decode`, then
/// line-protocol encoding (an encoding error refuses the message).
pub(super) fn dynamic(reg: &Registry, origin: &TopicFields<'_>, payload: &[u8], limits: &Limits) -> Outcome {
    let mut points = Vec::new();
    if let Err(r) = reg.decode(origin, payload, NOW_NS, limits, &mut points) {
        return Outcome::Refused(r);
    }
    match telegate_lp::encode_points(&points) {
        Ok(lines) => Outcome::Lines {
            points: points.len(),
            lines: String::from_utf8_lossy(&lines).into_owned(),
        },
        Err(e) => Outcome::Refused(Rejection::new(
            RejectReason::ConstraintViolated,
            format!("cannot be written as line protocol: {e}"),
        )),
    }
}

/// The transcoder; `None` when the type has no plan.
pub(super) fn transcoded(
    reg: &Registry,
    origin: &TopicFields<'_>,
    payload: &[u8],
    limits: &Limits,
    scratch: &mut TranscodeScratch,
) -> Option<Outcome> {
    // Bytes already in the buffer must survive, accepted or refused.
    let mut out = b"previous line\n".to_vec();
    let outcome = match reg.transcode(origin, payload, NOW_NS, limits, scratch, &mut out) {
        Ok(None) => return None,
        Ok(Some(points)) => {
            let lines = out.split_off(14);
            Outcome::Lines {
                points,
                lines: String::from_utf8_lossy(&lines).into_owned(),
            }
        }
        Err(r) => {
            if out.len() != 14 {
                return Some(Outcome::Refused(Rejection::new(
                    r.reason,
                    format!("{} [and the output buffer was changed]", r.detail),
                )));
            }
            Outcome::Refused(r)
        }
    };
    assert_eq!(&out[..14], b"previous line\n", "earlier output must be kept");
    Some(outcome)
}

/// Why two outcomes differ, or `None` when they agree. Malformed payloads
/// agree on the reason; their details differ by design (the transcoder
/// names a byte offset, prost names its error kind).
pub(super) fn difference(dynamic: &Outcome, transcoded: &Outcome, batch_name: &str, len: usize) -> Option<String> {
    match (dynamic, transcoded) {
        (Outcome::Refused(d), Outcome::Refused(t))
            if d.reason == RejectReason::MalformedProtobuf && t.reason == RejectReason::MalformedProtobuf =>
        {
            let prefix = format!("not a valid {batch_name} ({len} bytes): ");
            (!t.detail.starts_with(&prefix)).then(|| format!("malformed detail `{}` lacks `{prefix}`", t.detail))
        }
        (d, t) if d == t => None,
        (d, t) => Some(format!("dynamic:    {d:?}\ntranscoder: {t:?}")),
    }
}

/// Run both paths on `payload`; panics with both outcomes when they differ.
pub(super) fn assert_same(reg: &Registry, sensor_type: &str, payload: &[u8]) -> Outcome {
    let origin = origin(sensor_type);
    let limits = Limits::default();
    let d = dynamic(reg, &origin, payload, &limits);
    let Some(t) = transcoded(reg, &origin, payload, &limits, &mut TranscodeScratch::default()) else {
        panic!("{sensor_type} has no transcoder");
    };
    let name = reg
        .get(sensor_type)
        .map(|s| s.message.full_name().to_owned())
        .unwrap_or_default();
    if let Some(diff) = difference(&d, &t, &name, payload.len()) {
        panic!("{sensor_type}, payload {payload:02x?}:\n{diff}");
    }
    d
}
