//! Scale-out: three `telegate run` processes share one subscription
//! (`mqtt.share_group`) on one Mosquitto. Each reading is handled by one
//! replica; one replica is SIGKILLed mid-stream, the others carry on, and
//! once it is back every reading is stored exactly once.

use std::net::SocketAddr;
use std::time::Duration;

use telegate_e2e::admin::{get, value};
use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::Binary;
use telegate_e2e::now_ms_ns;
use telegate_e2e::servers::{Influxd, Mosquitto, free_port};
use telegate_e2e::stream::{assert_stored_exactly, stream};

async fn accepted(addr: SocketAddr) -> f64 {
    match get(addr, "/metrics", None).await {
        Ok((200, page)) => value(&page, "telegate_messages_accepted_total").unwrap_or(0.0),
        _ => 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_stream_and_one_killed_mid_stream_loses_nothing() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    // One config for all replicas, as in a StatefulSet: the client id comes
    // from TELEGATE_MQTT_CLIENT_ID, the admin port from a per-replica copy.
    let mut replicas = Vec::new();
    for r in 0..3 {
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let cfg = dir.path().join(format!("replica-{r}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[mqtt]\nport = {}\nclient_id = \"unused\"\nshare_group = \"telegate\"\nreconnect_max = \"1s\"\n\
                 [influx]\nurl = \"{}\"\nlinger = \"50ms\"\n[wal]\ndir = \"wal-{r}\"\n\
                 [admin]\nlisten = \"{admin}\"\n[pipeline]\nstats_interval = \"0s\"\n",
                broker.port(),
                influx.url()
            ),
        )?;
        let log = dir.path().join(format!("replica-{r}.log"));
        let id = format!("telegate-{r}");
        let bin = Binary::start_with_env(&cfg, &log, &[("TELEGATE_MQTT_CLIENT_ID", id.as_str())])?;
        replicas.push((bin, cfg, log, id, admin));
    }
    for (_, _, _, _, admin) in &replicas {
        let admin = *admin;
        eventually(Duration::from_secs(15), || async move {
            let Ok((_, page)) = get(admin, "/metrics", None).await else {
                return Ok(None);
            };
            Ok((value(&page, "telegate_mqtt_connected") == Some(1.0)).then_some(()))
        })
        .await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    const N: u64 = 9_000;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    let publisher = Publisher::connect("share-fleet", broker.port()).await?;
    let sender = stream(publisher, t0, 0, N, 3_000);

    // A third of the way in, kill replica 1.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before: Vec<f64> = accepted_by_each(&replicas).await;
    eprintln!("accepted per replica before the kill: {before:?}");
    for (r, n) in before.iter().enumerate() {
        assert!(*n > 0.0, "replica {r} got no share of the stream: {before:?}");
    }
    replicas[1].0.sigkill();
    let killed_at = influx.count("telegate", "river_level", "seq").await.unwrap_or(0);
    assert!(killed_at < N, "the kill must land mid-stream");

    // The survivors carry on while it is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during: Vec<f64> = accepted_by_each(&replicas).await;
    eprintln!("accepted per replica with replica 1 down: {during:?}");
    assert!(
        during[0] > before[0] && during[2] > before[2],
        "{before:?} → {during:?}"
    );
    sender.await??;

    // Replica 1 comes back under its own client id and session.
    let (_, cfg, log, id, admin) = &replicas[1];
    let restarted = Binary::start_with_env(cfg, log, &[("TELEGATE_MQTT_CLIENT_ID", id.as_str())])?;
    let admin = *admin;
    replicas[1].0 = restarted;
    let drained = assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    let after_restart = accepted(admin).await;
    eprintln!(
        "all {N} stored exactly once {drained:?} after the last publish; {killed_at} were stored at the kill; \
         the restarted replica accepted {after_restart} (its session's queue and unacknowledged readings)"
    );
    for (bin, _, _, _, _) in &mut replicas {
        assert!(bin.sigterm(Duration::from_secs(20)).await?.success());
    }
    Ok(())
}

async fn accepted_by_each(
    replicas: &[(Binary, std::path::PathBuf, std::path::PathBuf, String, SocketAddr)],
) -> Vec<f64> {
    let mut out = Vec::new();
    for (_, _, _, _, admin) in replicas {
        out.push(accepted(*admin).await);
    }
    out
}
