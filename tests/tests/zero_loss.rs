//! Nothing lost, nothing duplicated, through crashes and outages. The gateway
//! acknowledges a reading only after InfluxDB accepted it, so whatever it had
//! not finished stays with the (persistent) broker and is redelivered; storage
//! is idempotent, so a redelivered reading overwrites itself.

use std::time::{Duration, Instant};

use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Binary, Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::stream::{TOPIC, assert_stored_exactly, reading, stream};
use telegate_schema::Registry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_twice_mid_stream_with_the_wal_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    sigkill_twice(true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_twice_mid_stream_without_the_wal_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    sigkill_twice(false).await
}

async fn sigkill_twice(wal: bool) -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("telegate.toml");
    std::fs::write(
        &cfg,
        format!(
            "[mqtt]\nport = {}\nclient_id = \"gw-crash\"\nreconnect_max = \"1s\"\n[influx]\nurl = \"{}\"\n[wal]\nenabled = {wal}\n[pipeline]\nstats_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            broker.port(),
            influx.url()
        ),
    )?;
    let log = dir.path().join("gateway.log");
    let mut gw = Binary::start(&cfg, &log)?;
    let registry = Registry::builtin(&Default::default())?;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    let mut publisher = Publisher::connect("rl-fleet", broker.port()).await?;
    // Reading 0 until stored: from then on the gateway's session queues everything.
    while influx.count("telegate", "river_level", "seq").await.unwrap_or(0) == 0 {
        publisher.publish(TOPIC, reading(&registry, t0, 0)).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    const N: u64 = 20_000;
    let sender = stream(publisher, t0, 1, N, 4_000);
    for crash in 1..=2 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let before = influx.count("telegate", "river_level", "seq").await?;
        gw.sigkill();
        eprintln!("crash {crash}: SIGKILL with {before} of {N} stored");
        assert!(before < N, "the crash must land mid-stream");
        gw = Binary::start(&cfg, &log)?;
    }
    sender.await??;
    let drained = assert_stored_exactly(&influx, N, Duration::from_secs(90)).await?;
    eprintln!(
        "wal={wal}: all {N} stored, none duplicated; drained {drained:?} after the last publish was acknowledged"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_down_for_twenty_seconds_the_wal_absorbs_it_and_drains_by_itself() -> anyhow::Result<()> {
    influxdb_outage(true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influxdb_down_for_twenty_seconds_without_wal_acks_stop_and_the_broker_keeps_the_backlog() -> anyhow::Result<()>
{
    influxdb_outage(false).await
}

async fn influxdb_outage(wal: bool) -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let mut config = test_config(
        if wal { "gw-outage-wal" } else { "gw-outage" },
        broker.port(),
        &influx.url(),
    );
    config.wal.enabled = wal;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;

    const N: u64 = 6_000;
    stream(
        Publisher::connect("rl-outage", broker.port()).await?,
        t0,
        0,
        N / 2,
        5_000,
    )
    .await??;
    gw.wait_acked(N / 2).await?;
    influx.stop();
    let down = Instant::now();
    // The second half arrives while InfluxDB is down.
    let sender = stream(
        Publisher::connect("rl-outage", broker.port()).await?,
        t0,
        N / 2,
        N,
        5_000,
    );
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(down.elapsed())).await;
    let during = gw.summary();
    assert!(during.write_retries > 0, "{during}");
    assert!(during.points_written <= N / 2, "{during}");
    if wal {
        assert_eq!(during.acked, N, "the WAL acknowledges while InfluxDB is down: {during}");
        assert!(during.wal_bytes > 0, "{during}");
    } else {
        assert!(
            during.acked <= N / 2 + 1,
            "nothing acknowledged while InfluxDB is down: {during}"
        );
    }
    influx.start_again().await?;
    sender.await??;
    let drained = assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    eprintln!(
        "wal={wal}: InfluxDB down {:?}; backlog of {} drained {drained:?} after restart",
        down.elapsed(),
        N / 2
    );
    let last = gw.stop().await;
    assert_eq!(last.acked, N, "{last}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing() -> anyhow::Result<()> {
    let mut broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let mut config = test_config("gw-broker", broker.port(), &influx.url());
    config.mqtt.reconnect_max = Duration::from_millis(500);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;

    const N: u64 = 6_000;
    let sender = stream(Publisher::connect("rl-broker", broker.port()).await?, t0, 0, N, 2_000);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = influx.count("telegate", "river_level", "seq").await?;
    broker.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.start_again().await?;
    eprintln!("broker restarted with {before} of {N} stored");
    assert!(before < N, "the restart must land mid-stream");
    sender.await??;
    let drained = assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    eprintln!("all {N} stored; drained {drained:?} after the last publish was acknowledged");
    let last = gw.stop().await;
    assert!(
        last.received >= N,
        "redeliveries are received again, never fewer: {last}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_wal_budget_stops_acks_and_loses_nothing() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let mut config = test_config("gw-budget", broker.port(), &influx.url());
    config.wal.budget_bytes = 1024 * 1024; // about 5,000 readings
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    influx.stop();

    const N: u64 = 15_000;
    let sender = stream(Publisher::connect("rl-budget", broker.port()).await?, t0, 0, N, 5_000);
    // Wait until acks have stalled on the full log.
    let stalled = eventually(Duration::from_secs(30), || async {
        let a = gw.summary();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let b = gw.summary();
        Ok((b.wal_full && a.acked == b.acked && b.received > b.acked).then_some(b))
    })
    .await?;
    eprintln!(
        "WAL full with {} of {N} acknowledged, {} bytes in the log",
        stalled.acked, stalled.wal_bytes
    );
    assert!(stalled.acked < N, "{stalled}");
    assert!(stalled.wal_bytes <= 1024 * 1024 + 64 * 1024, "{stalled}");

    influx.start_again().await?;
    sender.await??;
    let drained = assert_stored_exactly(&influx, N, Duration::from_secs(90)).await?;
    eprintln!("all {N} stored {drained:?} after the last publish was acknowledged");
    let last = gw.stop().await;
    assert_eq!(last.acked, N, "{last}");
    assert!(!last.wal_full, "{last}");
    Ok(())
}

/// Mosquitto 2.0 ignores the MQTT 5 receive maximum for a backlog queued in
/// the session: it sends thousands of unacknowledged messages at once. The
/// source holds at most `receive_maximum` beyond the decoder's channel and
/// leaves the socket unread until the decoder catches up; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_sent_beyond_the_receive_maximum_is_held_within_it_and_stored_once() -> anyhow::Result<()> {
    const RECEIVE_MAXIMUM: u16 = 50;
    const N: u64 = 10_000;
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("gw-backlog", broker.port(), &influx.url());
    config.mqtt.receive_maximum = RECEIVE_MAXIMUM;
    config.wal.dir = dir.path().join("wal").display().to_string();
    config.quarantine.dir = dir.path().join("quarantine").display().to_string();
    // Subscribe once, stop: from then on the broker queues for the session.
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    gw.stop().await;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    stream(Publisher::connect("rl-backlog", broker.port()).await?, t0, 0, N, 50_000).await??;

    let gw = Gateway::start(config).await?;
    let source = gw.stats.source.clone();
    let start = Instant::now();
    let mut held_max = 0;
    while gw.summary().acked < N {
        held_max = held_max.max(source.held.load(std::sync::atomic::Ordering::Relaxed));
        assert!(start.elapsed() < Duration::from_secs(90), "{}", gw.summary());
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let pauses = source.read_pauses.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("backlog of {N}: held at most {held_max}, {pauses} read pauses");
    assert!(held_max <= u64::from(RECEIVE_MAXIMUM), "held {held_max}");
    assert!(
        pauses > 0,
        "the broker kept within the receive maximum: this test no longer exercises the bound"
    );
    assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    let last = gw.stop().await;
    assert_eq!(last.acked, N, "{last}");
    assert_eq!(last.received, N, "each reading delivered once: {last}");
    Ok(())
}
