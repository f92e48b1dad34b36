//! A stream of river-level readings with unique device times and sequence
//! numbers, and the exact-count check of what got stored: the zero-loss and
//! scale-out tests share them.

use std::time::{Duration, Instant};

use telegate_schema::Registry;
use tokio::task::JoinHandle;

use crate::client::Publisher;
use crate::eventually;
use crate::influxdb::Influxd;
use crate::payloads::{batch, valid_sample};

pub const TOPIC: &str = "telemetry/site-a/rl-1/river_level";

/// Reading `i`: a unique device time and sequence number.
pub fn reading(registry: &Registry, t0: i64, i: u64) -> Vec<u8> {
    let Some(river) = registry.get("river_level") else {
        panic!("the built-in registry has river_level");
    };
    batch(
        &river.message,
        "rl-1",
        vec![valid_sample(&river.sample, t0 + i as i64 * 1_000_000, i)],
    )
}

/// Publish readings `from..to` in the background at about `per_second`,
/// acknowledged by the broker, so faults land mid-stream.
pub fn stream(
    mut publisher: Publisher,
    t0: i64,
    from: u64,
    to: u64,
    per_second: u64,
) -> JoinHandle<anyhow::Result<Publisher>> {
    tokio::spawn(async move {
        let registry = Registry::builtin(&Default::default())?;
        let start = Instant::now();
        for i in from..to {
            publisher.publish(TOPIC, reading(&registry, t0, i)).await?;
            let due = Duration::from_secs_f64((i - from) as f64 / per_second as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        publisher.flush().await?;
        Ok(publisher)
    })
}

/// Exactly `n` points stored, and `n` distinct sequence numbers among them.
pub async fn assert_stored_exactly(influx: &Influxd, n: u64, within: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    eventually(within, || async {
        Ok((influx.count("telegate", "river_level", "seq").await? >= n).then_some(()))
    })
    .await?;
    let drained = start.elapsed();
    assert_eq!(
        influx.count("telegate", "river_level", "seq").await?,
        n,
        "points stored"
    );
    let distinct = influx
        .rows("telegate", "SELECT COUNT(DISTINCT(\"seq\")) FROM river_level")
        .await?;
    assert_eq!(distinct[0]["count"].as_u64(), Some(n), "distinct readings");
    Ok(drained)
}
