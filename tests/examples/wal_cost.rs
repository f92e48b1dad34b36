//! End-to-end throughput with the WAL on and off, in the same run: real
//! Mosquitto and InfluxDB 1.x started on free ports, the gateway in-process
//! with default settings, one publisher at full speed (QoS 1, one-sample
//! river-level readings). Prints readings/s from the first publish to the
//! last point queryable, for each mode, and the WAL's cost as a ratio.
//!
//! `cargo run --release -p telegate-e2e --example wal_cost -- [readings]`
//!
//! A benchmark, not a test: it asserts only that every reading was stored.

use std::io::Write as _;
use std::time::{Duration, Instant};

use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};

async fn run(wal: bool, n: u64) -> anyhow::Result<f64> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let mut config = test_config(
        if wal { "bench-wal" } else { "bench-nowal" },
        broker.port(),
        &influx.url(),
    );
    // Production defaults, not the tests' short linger.
    let defaults = telegate::Config::default();
    config.influx.linger = defaults.influx.linger;
    config.wal.enabled = wal;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let river = gw
        .registry
        .get("river_level")
        .ok_or_else(|| anyhow::anyhow!("no river_level"))?
        .clone();
    let t0 = telegate_model::now_ns() - 3_600_000_000_000;
    let payloads: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            batch(
                &river.message,
                "rl-1",
                vec![valid_sample(&river.sample, t0 + i as i64 * 1_000_000, i)],
            )
        })
        .collect();
    let mut publisher = Publisher::connect(if wal { "pub-wal" } else { "pub-nowal" }, broker.port()).await?;
    let start = Instant::now();
    for p in payloads {
        publisher.publish("telemetry/site/rl-1/river_level", p).await?;
    }
    publisher.flush().await?;
    eventually(Duration::from_secs(600), || async {
        Ok((influx.count("telegate", "river_level", "seq").await? >= n).then_some(()))
    })
    .await?;
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        influx.count("telegate", "river_level", "seq").await? == n,
        "stored count differs"
    );
    let _ = gw.stop().await;
    Ok(n as f64 / secs)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let off = run(false, n).await?;
    let on = run(true, n).await?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "readings={n} wal_off={off:.0}/s wal_on={on:.0}/s wal_cost={:.1}%",
        (1.0 - on / off) * 100.0
    )?;
    Ok(())
}
