//! Run the gateway in-process, exactly as `telegate run` does, with a
//! shutdown token the test controls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use telegate::stats::Stats;
use telegate::{Config, Running, Summary};
use telegate_schema::Registry;
use tokio_util::sync::CancellationToken;

/// A running gateway; stops (draining) on [`Gateway::stop`] or on drop.
#[derive(Debug)]
pub struct Gateway {
    shutdown: CancellationToken,
    running: Option<Running>,
    pub stats: Stats,
    pub registry: Arc<Registry>,
    /// The WAL's directory when the config left it relative.
    _wal_dir: Option<tempfile::TempDir>,
}

/// A config for tests: the given broker and InfluxDB, fast batching, and a
/// client id unique to the test.
pub fn test_config(client_id: &str, mqtt_port: u16, influx_url: &str) -> Config {
    let mut c = Config::default();
    c.mqtt.port = mqtt_port;
    c.mqtt.client_id = client_id.to_owned();
    c.influx.url = influx_url.to_owned();
    c.influx.linger = Duration::from_millis(50);
    c.influx.retry_initial = Duration::from_millis(50);
    c.influx.retry_max = Duration::from_millis(500);
    c.pipeline.stats_interval = Duration::ZERO;
    // Tests run in parallel: each gateway's admin listener on a free port.
    c.admin.listen = "127.0.0.1:0".into();
    c
}

impl Gateway {
    /// Start in-process. A relative `wal.dir` or `quarantine.dir` is replaced
    /// by a temp dir the gateway owns (pass an absolute one to keep the log
    /// across starts).
    pub async fn start(mut config: Config) -> anyhow::Result<Self> {
        let relative = |d: &str| std::path::Path::new(d).is_relative();
        let wal_dir = if relative(&config.wal.dir) || relative(&config.quarantine.dir) {
            let dir = tempfile::tempdir()?;
            if relative(&config.wal.dir) {
                config.wal.dir = dir.path().join("wal").display().to_string();
            }
            if relative(&config.quarantine.dir) {
                config.quarantine.dir = dir.path().join("quarantine").display().to_string();
            }
            Some(dir)
        } else {
            None
        };
        config.validate("test config").map_err(|e| anyhow::anyhow!("{e}"))?;
        let registry = Arc::new(Registry::builtin(&BTreeMap::new())?);
        let shutdown = CancellationToken::new();
        let running = telegate::start(&config, registry.clone(), shutdown.clone()).await?;
        let stats = running.stats.clone();
        Ok(Self {
            shutdown,
            running: Some(running),
            stats,
            registry,
            _wal_dir: wal_dir,
        })
    }

    /// The admin listener's address (tests use port 0).
    pub fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.running.as_ref().and_then(|r| r.admin_addr)
    }

    pub fn summary(&self) -> Summary {
        self.stats.summary()
    }

    /// Abort a pipeline stage as if it had crashed; false if there is none
    /// of that name.
    pub fn kill_stage(&self, name: &str) -> bool {
        self.running.as_ref().is_some_and(|r| r.kill_stage(name))
    }

    /// Resolves once a stage has died (acknowledgements stopped).
    pub async fn died(&self) {
        match &self.running {
            Some(r) => r.died().await,
            None => std::future::pending().await,
        }
    }

    /// Wait until the gateway has subscribed (its first connect counted).
    pub async fn connected(&self) -> anyhow::Result<()> {
        crate::eventually(Duration::from_secs(10), || async {
            Ok(self
                .stats
                .source
                .connected
                .load(std::sync::atomic::Ordering::SeqCst)
                .then_some(()))
        })
        .await?;
        // The SUBACK follows the CONNACK within a round trip.
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    }

    /// Wait until `n` messages are done (acked) — stored or dead-lettered.
    /// Wait until `n` messages are acknowledged *and* settled: every
    /// accepted point stored (or refused by the database) and every
    /// rejection dead-lettered. With the WAL, acks come before the write.
    pub async fn wait_acked(&self, n: u64) -> anyhow::Result<Summary> {
        crate::eventually(Duration::from_secs(20), || async {
            let s = self.summary();
            let written = s.points_written + s.points_refused_by_database >= s.accepted_points;
            let lettered = s.dead_letters_published + s.dead_letter_errors >= s.rejected_total();
            Ok((s.acked >= n && written && lettered).then_some(s))
        })
        .await
    }

    /// Drain and stop; returns the final counters.
    pub async fn stop(mut self) -> Summary {
        self.shutdown.cancel();
        match self.running.take() {
            Some(r) => r.wait().await,
            None => self.summary(),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The `telegate` binary built next to this test. `cargo test --workspace`
/// builds it because the `telegate` package has an integration test of its
/// own (`crates/telegate/tests/cli.rs`); testing only this package needs a
/// `cargo build -p telegate` first.
pub fn telegate_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .ok_or_else(|| anyhow::anyhow!("no target dir above {}", exe.display()))?;
    let bin = dir.join("telegate");
    anyhow::ensure!(
        bin.exists(),
        "{} not built: run `cargo build -p telegate` (or test the whole workspace)",
        bin.display()
    );
    Ok(bin)
}

/// The real `telegate run` process, with its log appended to a file; killed
/// (SIGKILL) on drop so a failing test leaves nothing running.
#[derive(Debug)]
pub struct Binary {
    child: std::process::Child,
}

impl Binary {
    pub fn start(config: &std::path::Path, log: &std::path::Path) -> anyhow::Result<Self> {
        Self::start_with_env(config, log, &[])
    }

    /// [`start`](Self::start) with extra environment variables (secrets, a
    /// replica's client id).
    pub fn start_with_env(
        config: &std::path::Path,
        log: &std::path::Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let child = std::process::Command::new(telegate_binary()?)
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(log)?)
            .spawn()?;
        Ok(Self { child })
    }

    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send a signal by name (`HUP`, `INT`…).
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        anyhow::ensure!(status.success(), "kill -{name} failed");
        Ok(())
    }

    /// Wait up to `within` for the process to exit on its own.
    pub async fn exit_status(&mut self, within: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            anyhow::ensure!(started.elapsed() < within, "gateway still running after {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then wait up to `within` for the exit status.
    pub async fn sigterm(&mut self, within: Duration) -> anyhow::Result<std::process::ExitStatus> {
        std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        let started = std::time::Instant::now();
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            anyhow::ensure!(
                started.elapsed() < within,
                "gateway did not exit within {within:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.sigkill();
    }
}
