//! Line-protocol encoding, ns per point: a typical point (measurement, 3
//! tags, 6 fields of every type) and one where every part needs escaping.
//!
//! ```sh
//! cargo bench -p telegate-lp --bench line_protocol
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use telegate_lp::{encode_point, encode_points};
use telegate_model::{FieldValue, Point};

fn typical() -> Point {
    Point {
        measurement: Arc::from("weighbridge"),
        tags: vec![
            (Arc::from("device_id"), "wb-001".into()),
            (Arc::from("lane"), "in-1".into()),
            (Arc::from("site"), "ma-lu-thang".into()),
        ],
        fields: vec![
            (Arc::from("gross_t"), FieldValue::Float(38.25)),
            (Arc::from("axle_count"), FieldValue::Int(5)),
            (Arc::from("seq"), FieldValue::UInt(1_234_567)),
            (Arc::from("overloaded"), FieldValue::Bool(false)),
            (Arc::from("vehicle_class"), FieldValue::Str("truck_5_axle".into())),
            (Arc::from("temp_c"), FieldValue::Float(24.5)),
        ],
        time_ns: 1_764_383_400_123_456_789,
    }
}

/// Spaces, commas, equals signs, quotes and backslashes everywhere they can be.
fn escaped() -> Point {
    Point {
        measurement: Arc::from("gate barrier,v2"),
        tags: vec![
            (Arc::from("device id"), "gb 001".into()),
            (Arc::from("lane"), "in=1,out=2".into()),
            (Arc::from("site"), r"Ma Lù Thàng\border".into()),
        ],
        fields: vec![
            (Arc::from("open time s"), FieldValue::Float(12.5)),
            (Arc::from("cycles,total"), FieldValue::Int(42)),
            (Arc::from("seq"), FieldValue::UInt(7)),
            (Arc::from("fault=any"), FieldValue::Bool(true)),
            (Arc::from("note"), FieldValue::Str(r#"said "stop" at C:\gate"#.into())),
            (Arc::from("temp_c"), FieldValue::Float(-3.75)),
        ],
        time_ns: 1_764_383_400_123_456_789,
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("line_protocol");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for (name, point) in [("typical", typical()), ("escaped", escaped())] {
        let mut out = Vec::with_capacity(512);
        encode_point(&point, &mut out).expect("encodes");
        eprintln!(
            "{name}: {} bytes: {}",
            out.len(),
            String::from_utf8_lossy(&out).trim_end()
        );
        // Into a reused buffer, as a batch is built.
        group.bench_function(format!("encode_point/{name}"), |b| {
            b.iter(|| {
                out.clear();
                encode_point(black_box(&point), &mut out).expect("encodes");
            });
        });
        // One message's lines, buffer allocated each time, as the decode stage does it.
        let points = vec![point];
        group.bench_function(format!("encode_points_1/{name}"), |b| {
            b.iter(|| encode_points(black_box(&points)).expect("encodes"));
        });
    }
    group.finish();
}

criterion_group!(line_protocol, benches);
criterion_main!(line_protocol);
