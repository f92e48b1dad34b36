//! The per-message hot path in a loop, for profilers: one river_level
//! 1-sample message through `Registry::decode` + `encode_points`, `N` times
//! (default 20,000). The loop is its own function, `hot_path_loop`, so
//! callgrind can count it alone:
//!
//! ```sh
//! cargo build --release -p telegate-schema --example hot_path
//! valgrind --tool=callgrind --toggle-collect='*hot_path_loop*' \
//!     target/release/examples/hot_path 20000
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Prints the time per message to stderr; a profiling aid, not a benchmark.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use telegate_influx::encode_points;
use telegate_model::TopicFields;
use telegate_schema::{Limits, Registry, sample};

const NOW_NS: i64 = 1_764_383_400_000_000_000;

#[inline(never)]
fn hot_path_loop(registry: &Registry, origin: &TopicFields<'_>, payload: &[u8], n: u64) -> usize {
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

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let registry = Registry::builtin(&BTreeMap::new()).expect("built-in schemas compile");
    let schema = registry.get("river_level").expect("river_level is built in");
    let one = sample::valid_sample(&schema.sample, NOW_NS - 1_000_000_000, 1);
    let payload = sample::batch(&schema.message, "dev-01", vec![one]);
    let origin = TopicFields {
        site: "ma-lu-thang",
        device_id: "dev-01",
        sensor_type: "river_level",
    };
    let start = Instant::now();
    let bytes = hot_path_loop(&registry, &origin, &payload, n);
    let elapsed = start.elapsed();
    eprintln!(
        "{n} messages ({} bytes protobuf each, {bytes} bytes line protocol in all) in {elapsed:.2?}: {:.0} ns/message",
        payload.len(),
        elapsed.as_nanos() as f64 / n.max(1) as f64
    );
}
