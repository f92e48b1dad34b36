//! The real binary: SIGTERM drains, flushes and acknowledges, exits 0, and
//! whatever it had not taken yet waits in the broker for the next start —
//! so across a graceful restart every reading is stored exactly once.

use std::time::{Duration, Instant};

use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::Binary;
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_schema::Registry;

fn config(dir: &std::path::Path, mqtt_port: u16, influx_url: &str) -> std::path::PathBuf {
    let path = dir.join("telegate.toml");
    std::fs::write(
        &path,
        format!(
            "[mqtt]\nport = {mqtt_port}\nclient_id = \"gw-sigterm\"\nreceive_maximum = 50\n[influx]\nurl = \"{influx_url}\"\nlinger = \"200ms\"\n[pipeline]\nstats_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_a_restart_stores_the_rest_exactly_once() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path(), broker.port(), &influx.url());
    let log = dir.path().join("gateway.log");
    let mut gw = Binary::start(&cfg, &log)?;

    let registry = Registry::builtin(&Default::default())?;
    let river = registry.get("river_level").unwrap();
    let mut publisher = Publisher::connect("rl-fleet", broker.port()).await?;
    // First reading proves the gateway is subscribed (its session then exists).
    let t0 = now_ms_ns() - 3_600_000_000_000;
    let send = |i: u64| {
        batch(
            &river.message,
            "rl-1",
            vec![valid_sample(&river.sample, t0 + i as i64 * 1_000_000_000, i)],
        )
    };
    // Until it has subscribed the broker drops readings for it, so repeat the
    // first one (the same point: storing it twice overwrites).
    let subscribed = Instant::now();
    while influx.count("telegate", "river_level", "seq").await.unwrap_or(0) == 0 {
        anyhow::ensure!(
            subscribed.elapsed() < Duration::from_secs(15),
            "gateway never stored the first reading"
        );
        publisher.publish("telemetry/site-a/rl-1/river_level", send(0)).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    const N: u64 = 2000;
    for i in 1..N {
        publisher.publish("telemetry/site-a/rl-1/river_level", send(i)).await?;
    }
    publisher.flush().await?;
    // SIGTERM while readings are still flowing through the gateway.
    let status = gw.sigterm(Duration::from_secs(20)).await?;
    assert!(status.success(), "exit status {status}");
    let after_stop = influx.count("telegate", "river_level", "seq").await?;
    eprintln!("stored by the first run before SIGTERM completed: {after_stop} of {N}");
    assert!((1..=N).contains(&after_stop), "{after_stop}");

    // The rest waited in the broker's persistent session (and, what was
    // acknowledged but not yet stored, in the WAL, replayed now).
    let mut gw = Binary::start(&cfg, &log)?;
    let stored = eventually(Duration::from_secs(30), || async {
        let n = influx.count("telegate", "river_level", "seq").await?;
        Ok((n == N).then_some(n))
    })
    .await;
    let _ = gw.sigterm(Duration::from_secs(20)).await;
    assert_eq!(
        stored?, N,
        "every reading stored exactly once (first run stored {after_stop})"
    );
    let distinct = influx
        .rows("telegate", "SELECT COUNT(DISTINCT(\"seq\")) FROM river_level")
        .await?;
    assert_eq!(distinct[0]["count"].as_u64(), Some(N));
    Ok(())
}
