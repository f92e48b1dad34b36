//! How long the backlog of an InfluxDB outage takes to drain once the
//! database is back, with the shipped retry settings (`retry_initial` 200 ms,
//! `retry_max` 30 s, two writers): real Mosquitto and InfluxDB 1.x on free
//! ports, the gateway in-process with default settings (WAL on), one
//! publisher streaming one-sample river-level readings through the outage.
//! Prints the outage, the backlog, and the time from InfluxDB answering
//! again to the last reading queryable.
//!
//! `cargo run --release -p telegate-e2e --example outage_drain -- [outage_secs] [readings_per_sec]`
//!
//! A benchmark, not a test: it asserts only that every reading was stored.

use std::io::Write as _;
use std::time::{Duration, Instant};

use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::stream::{assert_stored_exactly, stream};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let outage = Duration::from_secs(args.next().and_then(|a| a.parse().ok()).unwrap_or(60));
    let rate: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let mut config = test_config("bench-outage", broker.port(), &influx.url());
    // Production defaults, not the tests' short linger and backoff.
    let defaults = telegate::Config::default();
    config.influx.linger = defaults.influx.linger;
    config.influx.retry_initial = defaults.influx.retry_initial;
    config.influx.retry_max = defaults.influx.retry_max;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let t0 = telegate_model::now_ns() - 3_600_000_000_000;
    // A little before, the outage, a little after: one stream throughout.
    let total = rate * (outage.as_secs() + 4);
    let sender = stream(
        Publisher::connect("rl-outage", broker.port()).await?,
        t0,
        0,
        total,
        rate,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    influx.stop();
    let down = Instant::now();
    tokio::time::sleep(outage).await;
    influx.start_again().await?;
    let up = Instant::now();
    // Everything accepted while the database was away: drained when stored.
    let backlog = gw.summary().accepted_points;
    eventually(Duration::from_secs(300), || async {
        Ok((influx.count("telegate", "river_level", "seq").await? >= backlog).then_some(()))
    })
    .await?;
    let drained = up.elapsed();
    sender.await??;
    assert_stored_exactly(&influx, total, Duration::from_secs(300)).await?;
    let last = gw.stop().await;
    writeln!(
        std::io::stdout().lock(),
        "outage={:.1}s readings={total} accepted_before_restart={} drained_after_restart={:.2}s retries={}",
        (up - down).as_secs_f64(),
        backlog,
        drained.as_secs_f64(),
        last.write_retries
    )?;
    Ok(())
}
