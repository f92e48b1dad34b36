//! Both decode paths on every built-in schema: the first byte picks the
//! sensor type, the rest is the payload. Neither may panic, and they must
//! agree: the same rejection reason, or the same lines and point count.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use telegate_model::TopicFields;
use telegate_schema::{Limits, Registry, TranscodeScratch};

/// 2025-11-29T02:30:00Z: samples in the seed corpus are just before it.
const NOW_NS: i64 = 1_764_383_400_000_000_000;

fn registry() -> &'static (Registry, Vec<String>) {
    static R: OnceLock<(Registry, Vec<String>)> = OnceLock::new();
    R.get_or_init(|| {
        let r = Registry::builtin(&BTreeMap::new()).expect("built-in schemas compile");
        let types = r.schemas().map(|s| s.sensor_type.to_string()).collect();
        (r, types)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let (registry, types) = registry();
    let sensor_type = &types[usize::from(pick) % types.len()];
    let origin = TopicFields {
        site: "site-1",
        device_id: "dev-01",
        sensor_type,
    };
    let limits = Limits::default();
    let mut lines = Vec::new();
    let transcoded = registry.transcode(
        &origin,
        payload,
        NOW_NS,
        &limits,
        &mut TranscodeScratch::default(),
        &mut lines,
    );
    let mut points = Vec::new();
    let decoded = registry.decode(&origin, payload, NOW_NS, &limits, &mut points);
    match (transcoded, decoded) {
        (Ok(None), _) => {} // no transcoder for this type: only the dynamic path ran
        (Ok(Some(n)), Ok(())) => {
            assert_eq!(n, points.len(), "{sensor_type}: point counts differ");
            let dynamic = telegate_lp::encode_points(&points).expect("accepted points encode");
            assert_eq!(&lines[..], &dynamic[..], "{sensor_type}: lines differ");
        }
        (Err(t), Err(d)) => assert_eq!(t.reason, d.reason, "{sensor_type}: {t} vs {d}"),
        (t, d) => panic!("{sensor_type}: transcoder {t:?}, dynamic path {d:?}"),
    }
});
