//! A real single-node VictoriaMetrics (Debian's 1.79.5) on a free loopback
//! port: it accepts the InfluxDB v2 write API (`/api/v2/write`), which makes
//! it the v2 target of the end-to-end tests.
//!
//! What the line protocol becomes there: a series `{measurement}_{field}`
//! per field, tags as labels, timestamps in ms. Booleans become 0/1; string
//! fields are not kept as strings (1.79.5 stores them as the value 0).

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tempfile::TempDir;

use crate::process::{self, Process};
use crate::{encode, http_client, http_status};

/// A VictoriaMetrics server with its own temp dir (data, log), killed on
/// drop.
#[derive(Debug)]
pub struct Victoria {
    port: u16,
    // Before `dir`: the process dies before its directory is removed.
    proc: Process,
    client: reqwest::Client,
    dir: TempDir,
}

impl Victoria {
    /// Start a server on a free port and wait until `/health` answers 200.
    pub async fn start() -> anyhow::Result<Self> {
        process::start_with_retries(Self::start_once).await
    }

    async fn start_once() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating victoria-metrics' temp dir")?;
        let port = process::free_port()?;
        let args = vec![
            format!("-storageDataPath={}", dir.path().join("data").display()),
            format!("-httpListenAddr=127.0.0.1:{port}"),
            // Points are searchable as soon as they are flushed, not 30 s later.
            "-search.latencyOffset=0s".into(),
            // The default (1 month) drops points with older device times.
            "-retentionPeriod=100y".into(),
            "-loggerLevel=ERROR".into(),
        ];
        let proc = Process::new(
            "victoria-metrics",
            "victoria-metrics",
            args,
            dir.path().join("victoria.log"),
        );
        let mut server = Self {
            port,
            proc,
            client: http_client()?,
            dir,
        };
        server.start_again().await?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp dir: `data/`, `victoria.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    /// Start again after [`stop`](Self::stop): same port, same data.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()?;
        let client = self.client.clone();
        let (url, health) = (self.url(), format!("{}/health", self.url()));
        self.proc
            .wait_ready(&url, || {
                let (client, health) = (client.clone(), health.clone());
                async move { http_status(&client, &health).await == Some(200) }
            })
            .await
    }

    /// Graceful stop (SIGTERM, waits for the exit), which writes out
    /// in-memory data. A SIGKILL loses recent points, even after a
    /// [`force_flush`](Self::force_flush): checked by hand, a point written,
    /// flushed and exported was gone after a SIGKILL and a restart.
    pub fn stop(&mut self) {
        self.proc.terminate();
    }

    /// Crash (SIGKILL): recent points are lost by the server itself.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.start_again().await
    }

    /// GET a path, fail on a non-2xx status (quoting the body), return the
    /// body.
    async fn get(&self, path_and_query: &str) -> anyhow::Result<bytes::Bytes> {
        let url = format!("{}{path_and_query}", self.url());
        let resp = self
            .client
            .get(url.as_str())
            .send()
            .await
            .with_context(|| format!("victoria-metrics: GET {url}"))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("victoria-metrics: GET {url}: reading the answer"))?;
        if !status.is_success() {
            bail!(
                "victoria-metrics: GET {url} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }

    /// Make every point written so far visible to queries
    /// (`/internal/force_flush`).
    pub async fn force_flush(&self) -> anyhow::Result<()> {
        self.get("/internal/force_flush").await.map(drop)
    }

    /// Every series matching a selector such as `{__name__="m_v"}` or
    /// `{__name__=~"m_.*"}`, from `/api/v1/export` after a
    /// [`force_flush`](Self::force_flush): one object per series,
    /// `{"metric":{"__name__":..,label:..},"values":[..],"timestamps":[ms..]}`.
    /// Empty when nothing matches.
    pub async fn export(&self, selector: &str) -> anyhow::Result<Vec<Value>> {
        self.force_flush().await?;
        let body = self
            .get(&format!("/api/v1/export?match%5B%5D={}", encode(selector)))
            .await?;
        body.split(|&b| b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| {
                serde_json::from_slice(line).with_context(|| format!("export line `{}`", String::from_utf8_lossy(line)))
            })
            .collect()
    }
}
