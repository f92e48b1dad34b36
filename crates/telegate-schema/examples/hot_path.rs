//! The per-message hot path in a loop, for profilers: one 1-sample message
//! of valid mid-range readings (`telegate_schema::sample`) of one sensor
//! type (default river_level), `N` times (default 20,000), in one of three
//! modes:
//!
//! - `dynamic` (default): `Registry::decode` + `encode_points`, the path
//!   of types without a transcoder;
//! - `transcode`: `Registry::transcode` into a reused buffer, as the decode
//!   stage runs types with a transcoder;
//! - `unvalidated`: the transcoder without its `buf.validate` checks (needs
//!   `--features bench-internals`), to measure what they cost.
//!
//! Each loop is its own `hot_path_loop_*` function, so callgrind can count
//! it alone:
//!
//! ```sh
//! cargo build --release -p telegate-schema --features bench-internals --example hot_path
//! valgrind --tool=callgrind --toggle-collect='*hot_path_loop*' \
//!     target/release/examples/hot_path 20000 transcode [sensor_type]
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Prints the time per message to stderr; a profiling aid, not a benchmark.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use telegate_lp::encode_points;
use telegate_model::TopicFields;
use telegate_schema::{Limits, Registry, TranscodeScratch, sample};

const NOW_NS: i64 = 1_764_383_400_000_000_000;

#[inline(never)]
fn hot_path_loop_dynamic(registry: &Registry, origin: &TopicFields<'_>, payload: &[u8], n: u64) -> usize {
    let limits = Limits::default();
    let mut bytes = 0;
    for _ in 0..n {
        let mut points = Vec::new();
        registry
            .decode(origin, black_box(payload), NOW_NS, &limits, &mut points)
            .expect("the sample payload is valid");
        bytes += encode_points(&points).expect("the sample points encode").len();
    }
    bytes
}

#[inline(never)]
fn hot_path_loop_transcode(registry: &Registry, origin: &TopicFields<'_>, payload: &[u8], n: u64) -> usize {
    let limits = Limits::default();
    let mut scratch = TranscodeScratch::default();
    let mut out = Vec::new();
    let mut bytes = 0;
    for _ in 0..n {
        out.clear();
        registry
            .transcode(origin, black_box(payload), NOW_NS, &limits, &mut scratch, &mut out)
            .expect("the sample payload is valid")
            .expect("built-in types have a transcoder");
        bytes += out.len();
    }
    bytes
}

#[cfg(feature = "bench-internals")]
#[inline(never)]
fn hot_path_loop_unvalidated(registry: &Registry, origin: &TopicFields<'_>, payload: &[u8], n: u64) -> usize {
    let limits = Limits::default();
    let mut scratch = TranscodeScratch::default();
    let mut out = Vec::new();
    let mut bytes = 0;
    for _ in 0..n {
        out.clear();
        registry
            .transcode_unvalidated(origin, black_box(payload), NOW_NS, &limits, &mut scratch, &mut out)
            .expect("the sample payload is valid")
            .expect("built-in types have a transcoder");
        bytes += out.len();
    }
    bytes
}

#[cfg(not(feature = "bench-internals"))]
fn hot_path_loop_unvalidated(_: &Registry, _: &TopicFields<'_>, _: &[u8], _: u64) -> usize {
    eprintln!("the unvalidated mode needs --features bench-internals");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let mode = args.next().unwrap_or_else(|| "dynamic".to_owned());
    let sensor_type = args.next().unwrap_or_else(|| "river_level".to_owned());
    let registry = Registry::builtin(&BTreeMap::new()).expect("built-in schemas compile");
    let Some(schema) = registry.get(&sensor_type) else {
        eprintln!("unknown sensor type `{sensor_type}`");
        std::process::exit(2);
    };
    let one = sample::valid_sample(&schema.sample, NOW_NS - 1_000_000_000, 1);
    let payload = sample::batch(&schema.message, "dev-01", vec![one]);
    let origin = TopicFields {
        site: "ma-lu-thang",
        device_id: "dev-01",
        sensor_type: &sensor_type,
    };
    let run = match mode.as_str() {
        "dynamic" => hot_path_loop_dynamic,
        "transcode" => hot_path_loop_transcode,
        "unvalidated" => hot_path_loop_unvalidated,
        other => {
            eprintln!("unknown mode `{other}`: dynamic, transcode or unvalidated");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let bytes = run(&registry, &origin, &payload, n);
    let elapsed = start.elapsed();
    eprintln!(
        "{sensor_type} {mode}: {n} messages ({} bytes protobuf each, {bytes} bytes line protocol in all) in {elapsed:.2?}: {:.0} ns/message",
        payload.len(),
        elapsed.as_nanos() as f64 / n.max(1) as f64
    );
}
