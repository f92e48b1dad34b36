//! Real server processes for tests: Mosquitto, InfluxDB 1.x and
//! VictoriaMetrics, each on a free loopback port with its own temp dir, killed
//! on drop. `stop`/`start` keep the port and the data, so tests can simulate
//! crashes and outages.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port")?;
    Ok(l.local_addr()?.port())
}

fn find_binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// One server process with its command line, data dir and log.
#[derive(Debug)]
pub struct Process {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn new(name: &'static str, program: &str, args: Vec<String>, log: PathBuf) -> Self {
        Self {
            name,
            program: find_binary(program),
            args,
            log,
            child: None,
        }
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let err = log.try_clone()?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} ({}): is it installed? .ci/run installs it",
                    self.name,
                    self.program.display()
                )
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Kill hard (SIGKILL) and reap; data stays.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Graceful stop (SIGTERM), waiting up to 10 s, then SIGKILL.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn wait_ready<F, Fut>(&mut self, ready: F) -> anyhow::Result<()>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ready().await {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                bail!(
                    "{} exited with {status} before it was ready; log:\n{}",
                    self.name,
                    log_tail(&self.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{} not ready after 20 s; log:\n{}", self.name, log_tail(&self.log))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn http_client() -> reqwest::Client {
    telegate_influx::install_crypto_provider();
    reqwest::Client::new()
}

async fn http_status(client: &reqwest::Client, url: &str) -> Option<u16> {
    client.get(url).send().await.ok().map(|r| r.status().as_u16())
}

/// Mosquitto 2 with persistence on and no queue limit (the defaults lose
/// QoS 1 messages for a persistent subscriber).
#[derive(Debug)]
pub struct Mosquitto {
    port: u16,
    proc: Process,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let conf = dir.path().join("mosquitto.conf");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        std::fs::write(
            &conf,
            format!(
                "user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n",
                data.display()
            ),
        )?;
        let proc = Process::new(
            "mosquitto",
            "mosquitto",
            vec!["-c".into(), conf.display().to_string()],
            dir.path().join("mosquitto.log"),
        );
        let mut m = Self { port, proc, _dir: dir };
        m.start_again().await?;
        Ok(m)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Start after a stop, on the same port with the same persisted state.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()?;
        let port = self.port;
        self.proc
            .wait_ready(|| async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() })
            .await
    }

    /// Graceful stop: Mosquitto saves its persistence file on SIGTERM.
    pub fn stop(&mut self) {
        self.proc.terminate();
    }
}

/// InfluxDB 1.x (Debian's 1.6.7), v1 API.
#[derive(Debug)]
pub struct Influxd {
    port: u16,
    proc: Process,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Percent-encode a query-string value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Influxd {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let rpc = free_port()?;
        let d = dir.path().display();
        let conf = dir.path().join("influxdb.conf");
        std::fs::write(
            &conf,
            format!(
                "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[http]\n  enabled = true\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
            ),
        )?;
        let proc = Process::new(
            "influxd",
            "influxd",
            vec!["-config".into(), conf.display().to_string()],
            dir.path().join("influxd.log"),
        );
        let mut s = Self {
            port,
            proc,
            client: http_client(),
            _dir: dir,
        };
        s.start_again().await?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()?;
        let (client, url) = (self.client.clone(), format!("{}/ping", self.url()));
        self.proc
            .wait_ready(|| {
                let (client, url) = (client.clone(), url.clone());
                async move { http_status(&client, &url).await == Some(204) }
            })
            .await
    }

    pub fn stop(&mut self) {
        self.proc.kill();
    }

    /// Run an InfluxQL statement; returns the JSON answer.
    pub async fn query(&self, db: &str, q: &str) -> anyhow::Result<serde_json::Value> {
        let url = format!("{}/query?db={}&epoch=ns&q={}", self.url(), encode(db), encode(q));
        let resp = self.client.post(url).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("query `{q}` answered {status}: {}", String::from_utf8_lossy(&body));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        if let Some(err) = v.pointer("/results/0/error") {
            bail!("query `{q}` failed: {err}");
        }
        Ok(v)
    }

    pub async fn create_database(&self, db: &str) -> anyhow::Result<()> {
        self.query(db, &format!("CREATE DATABASE \"{db}\"")).await.map(|_| ())
    }

    /// Rows of a query as maps column → value (all series concatenated).
    pub async fn rows(&self, db: &str, q: &str) -> anyhow::Result<Vec<serde_json::Map<String, serde_json::Value>>> {
        let v = self.query(db, q).await?;
        let mut rows = Vec::new();
        for series in v
            .pointer("/results/0/series")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            let columns: Vec<String> = series["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
            let tags = series
                .get("tags")
                .and_then(|t| t.as_object())
                .cloned()
                .unwrap_or_default();
            for values in series["values"].as_array().into_iter().flatten() {
                let mut row = tags.clone();
                for (c, v) in columns.iter().zip(values.as_array().into_iter().flatten()) {
                    row.insert(c.clone(), v.clone());
                }
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Field key → InfluxDB type ("float", "integer", "string", "boolean").
    pub async fn field_types(
        &self,
        db: &str,
        measurement: &str,
    ) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        let rows = self
            .rows(db, &format!("SHOW FIELD KEYS FROM \"{measurement}\""))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some((
                    r.get("fieldKey")?.as_str()?.to_owned(),
                    r.get("fieldType")?.as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Number of points in a measurement (counting one always-present field).
    pub async fn count(&self, db: &str, measurement: &str, field: &str) -> anyhow::Result<u64> {
        let rows = self
            .rows(db, &format!("SELECT COUNT(\"{field}\") FROM \"{measurement}\""))
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("count"))
            .and_then(|c| c.as_u64())
            .unwrap_or(0))
    }
}

/// VictoriaMetrics: speaks the InfluxDB v2 write API.
#[derive(Debug)]
pub struct Victoria {
    port: u16,
    proc: Process,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Victoria {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let args = vec![
            format!("-storageDataPath={}", dir.path().join("data").display()),
            format!("-httpListenAddr=127.0.0.1:{port}"),
            "-search.latencyOffset=0s".into(),
            "-retentionPeriod=100y".into(),
            "-loggerLevel=ERROR".into(),
        ];
        let proc = Process::new(
            "victoria-metrics",
            "victoria-metrics",
            args,
            dir.path().join("victoria.log"),
        );
        let mut s = Self {
            port,
            proc,
            client: http_client(),
            _dir: dir,
        };
        s.proc.spawn()?;
        let (client, url) = (s.client.clone(), format!("{}/health", s.url()));
        s.proc
            .wait_ready(|| {
                let (client, url) = (client.clone(), url.clone());
                async move { http_status(&client, &url).await == Some(200) }
            })
            .await?;
        Ok(s)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Make just-written points visible to queries.
    pub async fn force_flush(&self) -> anyhow::Result<()> {
        self.client
            .get(format!("{}/internal/force_flush", self.url()))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// `/api/v1/export` for a series selector: one JSON object per series.
    pub async fn export(&self, selector: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        self.force_flush().await?;
        let url = format!("{}/api/v1/export?match[]={}", self.url(), encode(selector));
        let body = self.client.get(url).send().await?.error_for_status()?.bytes().await?;
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).context("export line"))
            .collect()
    }
}
