//! WAL append throughput with group commit, on this machine's disk.
//!
//! `cargo run --release -p telegate-wal --example append_throughput -- [records] [linger_ms] [dir]`
//!
//! Appends `records` one-sample river-level records (≈ 190 bytes framed) as
//! fast as a producer can, one fsync per group, and prints records/s, MB/s
//! and fsyncs. A benchmark, not a test: it asserts nothing.

use std::io::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use telegate_wal::{Appender, Record, Wal, WalConfig};
use tokio::sync::mpsc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let linger_ms: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = args
        .get(3)
        .map_or_else(|| tmp.path().to_owned(), std::path::PathBuf::from);
    let cfg = WalConfig {
        commit_linger: Duration::from_millis(linger_ms),
        ..Default::default()
    };
    let (wal, _tailer) = Wal::open(&dir, &cfg).expect("open WAL");
    let appender = Appender::new(wal.clone(), &cfg).expect("appender");
    let (tx, rx) = mpsc::channel(4096);
    let (ack_tx, mut ack_rx) = mpsc::channel(4096);
    let start = Instant::now();
    let task = tokio::spawn(appender.run(rx, ack_tx));
    let acks = tokio::spawn(async move {
        let mut n = 0u64;
        while ack_rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    for i in 0..n {
        let lines = format!(
            "river_level,device_id=rl-{:03},site=muong-te seq={i}i,stage_m=285.{:02},mode=\"normal\" {}\n",
            i % 500,
            i % 100,
            1_764_383_400_000_000_000u64 + i * 1_000_000
        );
        let record = Record {
            topic: Bytes::from_static(b"telemetry/muong-te/rl-001/river_level"),
            lines: Bytes::from(lines),
            points: 1,
        };
        if tx.send((record, i)).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = task.await;
    let acked = acks.await.unwrap_or(0);
    let secs = start.elapsed().as_secs_f64();
    let stats = wal.stats();
    let bytes = stats.bytes.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "records={acked} linger={linger_ms}ms time={secs:.2}s rate={:.0} records/s {:.1} MB/s fsyncs={commits} ({:.0} records/fsync)",
        acked as f64 / secs,
        bytes / secs / 1e6,
        acked as f64 / commits.max(1) as f64
    );
}
