//! The gateway's per-message work, both ways the decode stage
//! (`telegate::stages`) can do it:
//!
//! - `decode_encode/…`, the dynamic path: `Registry::decode` (protobuf →
//!   `DynamicMessage`, device-id and finiteness checks, `buf.validate`, time
//!   window, mapping to points) then `telegate_lp::encode_points`;
//! - `transcode/…`, the compiled transcoder: `Registry::transcode`, wire
//!   bytes → line protocol in a reused buffer, the same checks and output.
//!
//! For every built-in sensor type, with a 1-sample and a 20-sample batch of
//! valid mid-range readings (`telegate_schema::sample`), plus the split cost
//! of one typical type (river_level, 1 sample). With the `bench-internals`
//! feature the transcoder also runs without its `buf.validate` checks
//! (`transcode_unvalidated/…`), to show what validation costs in it.
//!
//! ```sh
//! cargo bench -p telegate-schema --bench decode
//! cargo bench -p telegate-schema --features bench-internals --bench decode   # + transcode_unvalidated
//! ```

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use telegate_lp::encode_points;
use telegate_model::TopicFields;
use telegate_schema::{Limits, Registry, SensorSchema, TranscodeScratch, sample};

/// The gateway clock for every decode: a fixed instant, so runs compare.
const NOW_NS: i64 = 1_764_383_400_000_000_000;
const DEVICE: &str = "dev-01";
const SITE: &str = "ma-lu-thang";

/// A batch of `n` valid samples, one second apart, ending one second before `NOW_NS`.
fn payload(schema: &SensorSchema, n: u64) -> Vec<u8> {
    let samples = (0..n)
        .map(|i| sample::valid_sample(&schema.sample, NOW_NS - (n - i) as i64 * 1_000_000_000, i + 1))
        .collect();
    sample::batch(&schema.message, DEVICE, samples)
}

fn origin(sensor_type: &str) -> TopicFields<'_> {
    TopicFields {
        site: SITE,
        device_id: DEVICE,
        sensor_type,
    }
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

/// One message through decode + encode, as the decode stage does it (a fresh
/// points vector per message).
fn decode_encode(registry: &Registry, limits: &Limits, origin: &TopicFields<'_>, payload: &[u8]) -> usize {
    let mut points = Vec::new();
    registry
        .decode(origin, payload, NOW_NS, limits, &mut points)
        .expect("the sample payload is valid");
    encode_points(&points).expect("the sample points encode").len()
}

/// One message through the transcoder, as the decode stage does it (reused
/// scratch and output buffers; the stage then copies the lines into a
/// shared block).
fn transcode(
    registry: &Registry,
    limits: &Limits,
    origin: &TopicFields<'_>,
    payload: &[u8],
    scratch: &mut TranscodeScratch,
    out: &mut Vec<u8>,
) -> usize {
    out.clear();
    registry
        .transcode(origin, payload, NOW_NS, limits, scratch, out)
        .expect("the sample payload is valid")
        .expect("every built-in type has a transcoder");
    out.len()
}

#[cfg(feature = "bench-internals")]
fn transcode_unvalidated(
    registry: &Registry,
    limits: &Limits,
    origin: &TopicFields<'_>,
    payload: &[u8],
    scratch: &mut TranscodeScratch,
    out: &mut Vec<u8>,
) -> usize {
    out.clear();
    registry
        .transcode_unvalidated(origin, payload, NOW_NS, limits, scratch, out)
        .expect("the sample payload is valid")
        .expect("every built-in type has a transcoder");
    out.len()
}

/// The transcoder per type, 1 and 20 samples (and without validation).
fn transcode_per_type(c: &mut Criterion, registry: &Registry) {
    let limits = Limits::default();
    let mut scratch = TranscodeScratch::default();
    let mut out = Vec::new();
    #[allow(unused_mut)]
    let mut cases = vec![
        ("transcode/msg_1_sample", 1, false),
        ("transcode/msg_20_samples", 20, false),
    ];
    #[cfg(feature = "bench-internals")]
    cases.push(("transcode_unvalidated/msg_1_sample", 1, true));
    for (name, samples, unvalidated) in cases {
        let mut group = c.benchmark_group(name);
        configure(&mut group);
        group.throughput(Throughput::Elements(1));
        for schema in registry.schemas() {
            let payload = payload(schema, samples);
            let origin = origin(&schema.sensor_type);
            let lines = transcode(registry, &limits, &origin, &payload, &mut scratch, &mut out);
            let mut points = Vec::new();
            registry
                .decode(&origin, &payload, NOW_NS, &limits, &mut points)
                .expect("valid");
            assert_eq!(
                out,
                encode_points(&points).expect("encodes"),
                "{}: transcoder and dynamic path differ",
                schema.sensor_type
            );
            if !unvalidated {
                eprintln!(
                    "{} {samples} sample(s): {} bytes protobuf → {lines} bytes line protocol (transcoder)",
                    schema.sensor_type,
                    payload.len()
                );
            }
            group.bench_with_input(
                BenchmarkId::from_parameter(&*schema.sensor_type),
                &payload,
                |b, payload| {
                    b.iter(|| {
                        #[cfg(feature = "bench-internals")]
                        if unvalidated {
                            return transcode_unvalidated(
                                registry,
                                &limits,
                                &origin,
                                black_box(payload),
                                &mut scratch,
                                &mut out,
                            );
                        }
                        transcode(registry, &limits, &origin, black_box(payload), &mut scratch, &mut out)
                    })
                },
            );
        }
        group.finish();
    }
}

fn per_type(c: &mut Criterion, registry: &Registry) {
    let limits = Limits::default();
    let cases = [
        ("msg_1_sample", 1, Throughput::Elements(1)),
        ("msg_20_samples", 20, Throughput::Elements(1)),
        ("points_20_samples", 20, Throughput::Elements(20)),
    ];
    for (name, samples, throughput) in cases {
        let mut group = c.benchmark_group(format!("decode_encode/{name}"));
        configure(&mut group);
        group.throughput(throughput);
        for schema in registry.schemas() {
            let payload = payload(schema, samples);
            let origin = origin(&schema.sensor_type);
            let lines = decode_encode(registry, &limits, &origin, &payload);
            if name != "points_20_samples" {
                eprintln!(
                    "{} {samples} sample(s): {} bytes protobuf → {lines} bytes line protocol",
                    schema.sensor_type,
                    payload.len()
                );
            }
            group.bench_with_input(
                BenchmarkId::from_parameter(&*schema.sensor_type),
                &payload,
                |b, payload| b.iter(|| decode_encode(registry, &limits, &origin, black_box(payload))),
            );
        }
        group.finish();
    }
}

/// river_level, 1 sample: where a message's time goes. Mapping to points is
/// not public on its own: it is `registry_decode` − `decode_message` −
/// `check_message`.
fn split(c: &mut Criterion, registry: &Registry) {
    let limits = Limits::default();
    let schema = registry.get("river_level").expect("river_level is built in");
    let payload = payload(schema, 1);
    let origin = origin("river_level");
    let msg = schema.decode_message(&payload).expect("valid payload");
    let mut points = Vec::new();
    registry
        .decode(&origin, &payload, NOW_NS, &limits, &mut points)
        .expect("valid payload");

    let mut group = c.benchmark_group("river_level_1_sample");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_message", |b| {
        b.iter(|| schema.decode_message(black_box(&payload)).expect("valid"));
    });
    group.bench_function("validate", |b| {
        b.iter(|| registry.validator().validate(black_box(&msg)).expect("valid"));
    });
    group.bench_function("check_message", |b| {
        b.iter(|| {
            schema
                .check_message(registry.validator(), &origin, black_box(&msg))
                .expect("valid");
        });
    });
    group.bench_function("registry_decode", |b| {
        b.iter(|| {
            let mut points = Vec::new();
            registry
                .decode(&origin, black_box(&payload), NOW_NS, &limits, &mut points)
                .expect("valid");
            points
        });
    });
    group.bench_function("encode_points", |b| {
        b.iter(|| encode_points(black_box(&points)).expect("encodes"));
    });
    group.bench_function("decode_encode", |b| {
        b.iter(|| decode_encode(registry, &limits, &origin, black_box(&payload)));
    });
    let mut scratch = TranscodeScratch::default();
    let mut out = Vec::new();
    group.bench_function("transcode", |b| {
        b.iter(|| transcode(registry, &limits, &origin, black_box(&payload), &mut scratch, &mut out));
    });
    #[cfg(feature = "bench-internals")]
    group.bench_function("transcode_unvalidated", |b| {
        b.iter(|| transcode_unvalidated(registry, &limits, &origin, black_box(&payload), &mut scratch, &mut out));
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let registry = Registry::builtin(&BTreeMap::new()).expect("built-in schemas compile");
    split(c, &registry);
    per_type(c, &registry);
    transcode_per_type(c, &registry);
}

criterion_group!(decode, benches);
criterion_main!(decode);
