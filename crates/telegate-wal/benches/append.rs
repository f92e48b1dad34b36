//! WAL append with group fsync, through the real [`Appender`] on a tokio
//! runtime: push N records of one typical 1-sample message's line protocol
//! and time until every record's ack (fsynced) has come back.
//!
//! The default [`WalConfig`] (5 ms / 1 MiB group commit, 64 MiB segments)
//! with a budget large enough never to pause. Each sample opens a fresh log
//! in a temporary directory under `target/tmp` (the real disk, not a tmpfs;
//! set `TELEGATE_BENCH_DIR` to measure another one); opening it is not
//! timed. Criterion's linear sampling reports the slope, i.e. the cost of one
//! more record with the fixed linger and last fsync taken out.
//!
//! ```sh
//! cargo bench -p telegate-wal --bench append
//! ```

use std::cell::Cell;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use telegate_wal::{Appender, Record, Wal, WalConfig};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const TOPIC: &str = "telemetry/ma-lu-thang/dev-01/weighbridge";
/// One weighbridge reading as the decoder encodes it (`telegate schema
/// describe weighbridge`), with plausible values: 197 bytes, near the
/// built-in types' 1-sample lines (116 to 213 bytes, `benches/decode.rs` in
/// telegate-schema prints them).
const LINES: &str = "weighbridge,device_id=dev-01,lane=in-1,site=ma-lu-thang \
    seq=48213i,axle_count=5i,axle_loads_t_1=7.85,axle_loads_t_2=9.4,gross_t=38.25,\
    axle_config=\"tractor_semi_5\",speed_kmh=4.5 1764383399000000000\n";
/// The record channel's capacity: the pipeline sizes it by `mqtt.receive_maximum` (1000).
const IN_FLIGHT: usize = 1000;

fn record() -> Record {
    Record {
        topic: Bytes::from_static(TOPIC.as_bytes()),
        lines: Bytes::from_static(LINES.as_bytes()),
        points: 1,
    }
}

/// Bytes one record takes on disk: frame header (12), topic length (2),
/// topic, point count (4), lines.
fn framed_len(r: &Record) -> u64 {
    (12 + 2 + r.topic.len() + 4 + r.lines.len()) as u64
}

fn bench_root() -> PathBuf {
    std::env::var_os("TELEGATE_BENCH_DIR").map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from)
}

/// Append `n` records to a fresh log; the time from the first send to the
/// last ack. Adds the records and fsyncs to `totals`.
fn append(rt: &Runtime, cfg: &WalConfig, n: u64, totals: &Cell<(u64, u64)>) -> Duration {
    let root = bench_root();
    std::fs::create_dir_all(&root).expect("bench directory");
    let tmp = tempfile::tempdir_in(&root).expect("temp dir");
    rt.block_on(async {
        let (wal, _tailer) = Wal::open(tmp.path(), cfg).expect("open WAL");
        let stats = wal.stats();
        let appender = Appender::new(wal, cfg).expect("appender");
        let (tx, rx) = mpsc::channel(IN_FLIGHT);
        let (ack_tx, mut ack_rx) = mpsc::channel(IN_FLIGHT * 2);
        let task = tokio::spawn(appender.run(rx, ack_tx));
        let template = record();
        let start = Instant::now();
        let producer = tokio::spawn(async move {
            for i in 0..n {
                if tx.send((template.clone(), i)).await.is_err() {
                    break;
                }
            }
        });
        for _ in 0..n {
            black_box(ack_rx.recv().await.expect("every record is acknowledged"));
        }
        let elapsed = start.elapsed();
        producer.await.expect("producer");
        task.await.expect("appender");
        let (records, fsyncs) = totals.get();
        totals.set((
            records + stats.appended.load(Relaxed),
            fsyncs + stats.commits.load(Relaxed),
        ));
        elapsed
    })
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cfg = WalConfig {
        budget_bytes: 1 << 40,
        ..WalConfig::default()
    };
    let bytes = framed_len(&record());
    eprintln!(
        "record: {} bytes of line protocol, {bytes} bytes framed; WAL under {}",
        LINES.len(),
        bench_root().display()
    );
    for (name, throughput) in [
        ("bytes", Throughput::Bytes(bytes)),
        ("records", Throughput::Elements(1)),
    ] {
        let mut group = c.benchmark_group(format!("wal_append/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(5))
            .throughput(throughput);
        let totals = Cell::new((0, 0));
        group.bench_function("group_fsync", |b| b.iter_custom(|n| append(&rt, &cfg, n, &totals)));
        group.finish();
        let (records, fsyncs) = totals.get();
        eprintln!(
            "{records} records in {fsyncs} fsyncs ({:.0} records per fsync)",
            records as f64 / fsyncs.max(1) as f64
        );
    }
}

criterion_group!(append_bench, benches);
criterion_main!(append_bench);
