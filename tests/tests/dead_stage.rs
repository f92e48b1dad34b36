//! A dead stage is loud: when a pipeline stage dies, the gateway stops
//! acknowledging at once, `/readyz` names the stage (503), and the run ends
//! with the death in its summary (the binary exits non-zero); the next start
//! stores everything — nothing acknowledged is lost.

use std::time::Duration;

use telegate_e2e::admin;
use telegate_e2e::client::Publisher;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::stream::{assert_stored_exactly, stream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_wal_tailer_stops_acks_and_a_restart_loses_nothing() -> anyhow::Result<()> {
    killed("wal tailer", true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_writer_without_the_wal_stops_acks_and_a_restart_loses_nothing() -> anyhow::Result<()> {
    killed("influx writer", false).await
}

async fn killed(stage: &str, wal: bool) -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let mut config = test_config("gw-dead", broker.port(), &influx.url());
    config.wal.enabled = wal;
    config.wal.dir = dir.path().join("wal").display().to_string();
    config.influx.concurrency = 1;
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    const N: u64 = 4000;
    let publisher = stream(Publisher::connect("rl-dead", broker.port()).await?, t0, 0, N / 2, 5_000).await??;
    gw.wait_acked(N / 2).await?;

    assert!(gw.kill_stage(stage), "no stage named {stage}");
    tokio::time::timeout(Duration::from_secs(5), gw.died()).await?;
    let at_death = gw.summary();
    let addr = gw.admin_addr().ok_or_else(|| anyhow::anyhow!("no admin listener"))?;
    let (status, body) = admin::get(addr, "/readyz", None).await?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&format!("stage `{stage}` died")), "{body}");

    // Readings keep arriving: none is acknowledged any more.
    let publisher = stream(publisher, t0, N / 2, N, 5_000).await??;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = gw.summary();
    assert_eq!(after.acked, at_death.acked, "acks stopped at the death: {after}");
    let last = gw.stop().await;
    assert!(
        last.dead_stage.as_deref().is_some_and(|d| d.starts_with(stage)),
        "the run ends naming the dead stage: {last}"
    );
    eprintln!("{stage} killed; acked {} of {N}; {last}", at_death.acked);

    // The next start replays the log and takes the redelivered rest.
    let gw = Gateway::start(config).await?;
    assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    drop(publisher);
    let s = gw.stop().await;
    assert_eq!(s.dead_stage, None, "{s}");
    Ok(())
}

/// The real binary: the WAL tailer cannot read the log (its segment was
/// deleted under it), so the stage dies and `telegate run` exits with
/// status 1 for systemd or Kubernetes to restart it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_non_zero_when_a_stage_dies() -> anyhow::Result<()> {
    use telegate_e2e::eventually;
    use telegate_e2e::gateway::Binary;
    use telegate_e2e::servers::free_port;

    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let wal_dir = dir.path().join("wal");
    let admin_port = free_port()?;
    let cfg = dir.path().join("telegate.toml");
    std::fs::write(
        &cfg,
        format!(
            "[mqtt]\nport = {}\nclient_id = \"gw-exit\"\n[influx]\nurl = \"{}\"\n[wal]\ndir = \"{}\"\n[pipeline]\nstats_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n",
            broker.port(),
            influx.url(),
            wal_dir.display()
        ),
    )?;
    let log = dir.path().join("gateway.log");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse()?;
    let mut gw = Binary::start(&cfg, &log)?;
    eventually(Duration::from_secs(15), || async {
        let (_, page) = admin::get(addr, "/metrics", None).await?;
        Ok((admin::value(&page, "telegate_mqtt_connected") == Some(1.0)).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The fresh active segment, not opened by the tailer yet, disappears.
    for e in std::fs::read_dir(&wal_dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "wal") {
            std::fs::remove_file(p)?;
        }
    }
    let t0 = now_ms_ns() - 3_600_000_000_000;
    let publisher = stream(Publisher::connect("rl-exit", broker.port()).await?, t0, 0, 1, 100).await??;
    let status = gw.exit_status(Duration::from_secs(15)).await?;
    assert_eq!(status.code(), Some(1), "{status}");
    let text = std::fs::read_to_string(&log)?;
    assert!(
        text.contains("pipeline stage died") && text.contains("wal tailer"),
        "the log names the dead stage:\n{text}"
    );
    drop(publisher);
    Ok(())
}
