//! Seed inputs for the `decode` fuzz target (fuzz/fuzz_targets/decode.rs):
//! for each built-in sensor type (by its index), a valid batch of one and of
//! three samples for device `dev-01`, just before the target's clock.
//!
//! cargo run -p telegate-schema --example fuzz_seeds -- fuzz/corpus/decode

use std::collections::BTreeMap;

use telegate_schema::{Registry, sample};

const NOW_NS: i64 = 1_764_383_400_000_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: fuzz_seeds DIR")?;
    std::fs::create_dir_all(&dir)?;
    let registry = Registry::builtin(&BTreeMap::new())?;
    for (i, schema) in registry.schemas().enumerate() {
        for n in [1u64, 3] {
            let samples = (0..n)
                .map(|k| sample::valid_sample(&schema.sample, NOW_NS - 1_000_000_000 * (k as i64 + 1), k))
                .collect();
            let mut input = vec![u8::try_from(i)?];
            input.extend(sample::batch(&schema.message, "dev-01", samples));
            std::fs::write(format!("{dir}/seed-{}-{n}", schema.sensor_type), input)?;
        }
    }
    Ok(())
}
