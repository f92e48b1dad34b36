//! The WAL's own faults, on real Mosquitto and InfluxDB: damage found while
//! running is quarantined and skipped (storage goes on), an older segment
//! cut short is corruption (not a crash's torn tail), a clean stop leaves
//! nothing to replay, and a WAL that fills its own disk recovers by itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use telegate_e2e::admin;
use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Binary, Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::servers::{Influxd, Mosquitto, free_port};
use telegate_e2e::stream::{assert_stored_exactly, stream};

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p: &PathBuf| p.extension().is_some_and(|x| x == "wal"));
    files.sort();
    files
}

fn quarantined(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("quarantine")).map_or(0, |d| d.count())
}

/// Where reading `seq`'s line starts in `data` (`seq=N` then a type suffix).
fn find_seq(data: &[u8], seq: u64) -> Option<usize> {
    let needle = format!("seq={seq}");
    data.windows(needle.len())
        .enumerate()
        .find(|(i, w)| *w == needle.as_bytes() && data.get(i + needle.len()).is_some_and(|b| !b.is_ascii_digit()))
        .map(|(i, _)| i)
}

/// Offsets of the frames in a segment (each starts with the `TGW1` marker;
/// river-level lines never contain it).
fn frame_starts(data: &[u8]) -> Vec<usize> {
    data.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"TGW1")
        .map(|(i, _)| i)
        .collect()
}

async fn wait_acked(gw: &Gateway, n: u64) -> anyhow::Result<()> {
    eventually(Duration::from_secs(30), || async {
        Ok((gw.summary().acked >= n).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_byte_in_the_live_segment_is_quarantined_and_storage_goes_on() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let wal_dir = dir.path().join("wal");
    let mut config = test_config("gw-corrupt", broker.port(), &influx.url());
    config.wal.dir = wal_dir.display().to_string();
    // A short write path, so the tailer stops reading soon while InfluxDB is down.
    config.influx.batch_size = 100;
    config.influx.concurrency = 1;
    config.pipeline.write_queue = 16;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    influx.stop();
    // 0..1000 fill the write path; 1000..2000 are committed to the log, unread.
    let publisher = stream(
        Publisher::connect("rl-corrupt", broker.port()).await?,
        t0,
        0,
        1000,
        5_000,
    )
    .await??;
    wait_acked(&gw, 1000).await?;
    let publisher = stream(publisher, t0, 1000, 2000, 5_000).await??;
    wait_acked(&gw, 2000).await?;

    // Flip one byte of reading 1500's frame in the live segment.
    let segment = segments(&wal_dir)
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no WAL segment"))?;
    let data = std::fs::read(&segment)?;
    let at = find_seq(&data, 1500).ok_or_else(|| anyhow::anyhow!("reading 1500 not in {}", segment.display()))?;
    let file = std::fs::OpenOptions::new().write(true).open(&segment)?;
    std::os::unix::fs::FileExt::write_all_at(&file, &[data[at + 4] ^ 0x01], at as u64 + 4)?;
    drop(file);

    influx.start_again().await?;
    assert_stored_exactly(&influx, 1999, Duration::from_secs(60)).await?;
    let missing = influx
        .rows("telegate", "SELECT COUNT(seq) FROM river_level WHERE seq = 1500")
        .await?;
    assert!(missing.is_empty(), "exactly reading 1500 is gone: {missing:?}");
    // The log keeps working after the damage, without a restart.
    stream(publisher, t0, 2000, 2500, 5_000).await??;
    assert_stored_exactly(&influx, 2499, Duration::from_secs(60)).await?;

    let s = gw.summary();
    assert_eq!(s.wal_corrupt_frames, 1, "{s}");
    assert_eq!(quarantined(&wal_dir), 1);
    let addr = gw.admin_addr().ok_or_else(|| anyhow::anyhow!("no admin listener"))?;
    let (_, metrics) = admin::get(addr, "/metrics", None).await?;
    assert_eq!(admin::require(&metrics, "telegate_wal_corrupt_frames_total")?, 1.0);
    let (status, body) = admin::get(addr, "/readyz", None).await?;
    assert_eq!(status, 200, "degraded, not dead: {body}");
    assert!(body.contains("degraded") && body.contains("1 corrupt frame"), "{body}");
    let last = gw.stop().await;
    assert_eq!(last.acked, 2500, "{last}");
    assert_eq!(last.dead_stage, None, "{last}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_segment_cut_short_is_quarantined_and_counted_on_replay() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let wal_dir = dir.path().join("wal");
    let mut config = test_config("gw-cut", broker.port(), &influx.url());
    config.wal.dir = wal_dir.display().to_string();
    config.wal.segment_bytes = 16 * 1024;
    config.pipeline.shutdown_timeout = Duration::from_secs(2);
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    influx.stop();
    const N: u64 = 1000;
    stream(Publisher::connect("rl-cut", broker.port()).await?, t0, 0, N, 5_000).await??;
    wait_acked(&gw, N).await?;
    gw.stop().await;

    // Cut the second segment (not the newest) in the middle of its third-last frame.
    let files = segments(&wal_dir);
    anyhow::ensure!(files.len() >= 3, "want several segments, got {}", files.len());
    let victim = &files[1];
    let data = std::fs::read(victim)?;
    let starts = frame_starts(&data);
    let cut_frame = starts[starts.len() - 3];
    let lost = 3;
    std::fs::OpenOptions::new()
        .write(true)
        .open(victim)?
        .set_len(cut_frame as u64 + 20)?;

    influx.start_again().await?;
    let gw = Gateway::start(config).await?;
    assert_stored_exactly(&influx, N - lost, Duration::from_secs(60)).await?;
    let s = gw.summary();
    assert_eq!(
        s.wal_corrupt_frames, 1,
        "the cut frame is corruption, not a torn tail: {s}"
    );
    assert_eq!(s.wal_replayed, N - lost, "{s}");
    assert_eq!(quarantined(&wal_dir), 1);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_nothing_to_replay() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let wal_dir = dir.path().join("wal");
    let mut config = test_config("gw-clean", broker.port(), &influx.url());
    config.wal.dir = wal_dir.display().to_string();
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    const N: u64 = 3000;
    let publisher = stream(Publisher::connect("rl-clean", broker.port()).await?, t0, 0, N, 20_000).await??;
    // Stop while readings are still flowing through the gateway.
    let first = gw.stop().await;
    assert_eq!(first.dead_stage, None, "{first}");
    assert!(
        segments(&wal_dir).is_empty(),
        "a clean stop stores and deletes the whole log: {first}"
    );

    let gw = Gateway::start(config).await?;
    assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    let s = gw.summary();
    assert_eq!(
        s.wal_replayed, 0,
        "nothing replayed after a clean stop (first run: {first}): {s}"
    );
    drop(publisher);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_only_what_was_not_stored_is_replayed() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let admin_port = free_port()?;
    let cfg = dir.path().join("telegate.toml");
    std::fs::write(
        &cfg,
        format!(
            "[mqtt]\nport = {}\nclient_id = \"gw-checkpoint\"\n[influx]\nurl = \"{}\"\nlinger = \"50ms\"\n[wal]\ndir = \"{}\"\n[pipeline]\nstats_interval = \"0s\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n",
            broker.port(),
            influx.url(),
            dir.path().join("wal").display()
        ),
    )?;
    let log = dir.path().join("gateway.log");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse()?;
    let metrics = || async move {
        let (_, page) = admin::get(addr, "/metrics", None).await?;
        anyhow::Ok(Some(page))
    };
    let mut gw = Binary::start(&cfg, &log)?;
    eventually(Duration::from_secs(15), || async {
        let page = metrics().await?.unwrap_or_default();
        Ok((admin::value(&page, "telegate_mqtt_connected") == Some(1.0)).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = now_ms_ns() - 3_600_000_000_000;
    const N: u64 = 2000;
    let publisher = stream(
        Publisher::connect("rl-checkpoint", broker.port()).await?,
        t0,
        0,
        N,
        5_000,
    )
    .await??;
    assert_stored_exactly(&influx, N, Duration::from_secs(60)).await?;
    // Everything stored; the checkpoint follows within a second. Then a crash.
    tokio::time::sleep(Duration::from_secs(2)).await;
    gw.sigkill();
    let left = segments(&dir.path().join("wal"));
    assert!(!left.is_empty(), "a crash leaves the active segment behind");

    let mut gw = Binary::start(&cfg, &log)?;
    let page = eventually(Duration::from_secs(15), || async {
        let page = metrics().await?.unwrap_or_default();
        Ok((admin::value(&page, "telegate_mqtt_connected") == Some(1.0)).then_some(page))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let page = metrics().await?.unwrap_or(page);
    assert_eq!(
        admin::require(&page, "telegate_wal_replayed_total")?,
        0.0,
        "all {N} were stored before the crash: nothing to replay"
    );
    assert_stored_exactly(&influx, N, Duration::from_secs(10)).await?;
    let status = gw.sigterm(Duration::from_secs(20)).await?;
    assert!(status.success(), "{status}");
    drop(publisher);
    Ok(())
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()?;
        anyhow::ensure!(status.success(), "mount -t tmpfs failed (needs root): {status}");
        Ok(Self(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_filling_its_own_disk_pauses_acks_and_recovers_without_a_restart() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let wal_dir = dir.path().join("wal");
    let _disk = Tmpfs::mount(&wal_dir, "8m")?;
    let mut config = test_config("gw-diskfull", broker.port(), &influx.url());
    config.wal.dir = wal_dir.display().to_string();
    // Defaults otherwise: 64 MiB segments on an 8 MiB disk.
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let failing = Arc::new(AtomicBool::new(false));
    let watch = {
        let (stats, failing) = (gw.stats.clone(), failing.clone());
        tokio::spawn(async move {
            loop {
                if stats
                    .wal
                    .as_ref()
                    .is_some_and(|w| w.write_failing.load(Ordering::Relaxed))
                {
                    failing.store(true, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let t0 = now_ms_ns() - 3_600_000_000_000;
    // About 13 MB of frames: more than the disk holds.
    const N: u64 = 80_000;
    let publisher = stream(
        Publisher::connect("rl-diskfull", broker.port()).await?,
        t0,
        0,
        N,
        10_000,
    )
    .await??;
    let drained = assert_stored_exactly(&influx, N, Duration::from_secs(120)).await?;
    watch.abort();
    wait_acked(&gw, N).await?;
    let s = gw.summary();
    eprintln!(
        "all {N} stored {drained:?} after the last publish; the disk filled: {}; {s}",
        failing.load(Ordering::Relaxed)
    );
    assert!(
        failing.load(Ordering::Relaxed),
        "the disk never filled: the test proves nothing"
    );
    assert_eq!(s.dead_stage, None, "{s}");
    drop(publisher);
    let last = gw.stop().await;
    assert_eq!(last.acked, N, "{last}");
    Ok(())
}
