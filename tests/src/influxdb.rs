//! A real InfluxDB 1.x (Debian's 1.6.7, v1 API) on free loopback ports, and
//! helpers to query what the gateway stored.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};
use tempfile::TempDir;

use crate::pki::Pki;
use crate::process::{self, Process};
use crate::{encode, http_client, http_status};

/// One result row: column (and, with GROUP BY, tag) name → value.
pub type Row = Map<String, Value>;

/// The server's configuration. Checked by hand against 1.6.7: the RPC
/// `bind-address` (default :8088) moves to a free loopback port, so several
/// servers run side by side; at `level = "warn"` the log stays empty unless
/// something is wrong, and a failed start ("bind: address already in use")
/// still shows in it.
fn config(http_port: u16, rpc_port: u16, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "reporting-disabled = true\n\
         bind-address = \"127.0.0.1:{rpc_port}\"\n\
         [meta]\n  dir = \"{d}/meta\"\n\
         [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
         [http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http_port}\"\n  auth-enabled = false\n  log-enabled = false\n\
         [monitor]\n  store-enabled = false\n\
         [continuous_queries]\n  enabled = false\n\
         [subscriber]\n  enabled = false\n\
         [logging]\n  level = \"warn\"\n"
    )
}

/// Double-quote an InfluxQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An InfluxDB 1.x server with its own temp dir (config, meta, data, WAL,
/// log), killed on drop.
#[derive(Debug)]
pub struct Influxd {
    port: u16,
    /// "https" when started with [`Influxd::start_https`].
    scheme: &'static str,
    // Before `dir`: the process dies before its directory is removed.
    proc: Process,
    client: reqwest::Client,
    dir: TempDir,
}

impl Influxd {
    /// Start a server on free ports and wait until `/ping` answers 204.
    pub async fn start() -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(None, None)).await
    }

    /// With `auth-enabled = true` and one admin user, `user`/`password`,
    /// which this harness's own queries use; a client with other
    /// credentials is answered 401.
    pub async fn start_with_auth(user: &str, password: &str) -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(None, Some((user, password)))).await
    }

    /// HTTPS only, with `pki.server_cert` (signed by `pki.ca`, which the
    /// test client trusts).
    pub async fn start_https(pki: &Pki) -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(Some(pki), None)).await
    }

    async fn start_once(pki: Option<&Pki>, auth: Option<(&str, &str)>) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating influxd's temp dir")?;
        let port = process::free_port()?;
        let rpc_port = process::free_port()?;
        let conf = dir.path().join("influxdb.conf");
        let mut text = config(port, rpc_port, dir.path());
        let mut client = http_client()?;
        if let Some(pki) = pki {
            // Keys of [http] must come before the next table: insert there.
            let https = format!(
                "  https-enabled = true\n  https-certificate = \"{}\"\n  https-private-key = \"{}\"\n",
                pki.server_cert.display(),
                pki.server_key.display()
            );
            text = text.replace("[monitor]", &format!("{https}[monitor]"));
            let ca = std::fs::read(&pki.ca)?;
            client = reqwest::Client::builder()
                .no_proxy()
                .timeout(std::time::Duration::from_secs(30))
                .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca)?)
                .build()?;
        }
        if let Some((user, password)) = auth {
            text = text.replace("auth-enabled = false", "auth-enabled = true");
            // Until an admin exists, 1.x ignores credentials and accepts only
            // the statement that creates one; after that it checks them.
            let mut headers = reqwest::header::HeaderMap::new();
            let basic =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{user}:{password}"));
            headers.insert(reqwest::header::AUTHORIZATION, format!("Basic {basic}").parse()?);
            client = reqwest::Client::builder()
                .no_proxy()
                .timeout(std::time::Duration::from_secs(30))
                .default_headers(headers)
                .build()?;
        }
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        let proc = Process::new(
            "influxd",
            "influxd",
            vec!["-config".into(), conf.display().to_string()],
            dir.path().join("influxd.log"),
        );
        let mut server = Self {
            port,
            scheme: if pki.is_some() { "https" } else { "http" },
            proc,
            client,
            dir,
        };
        server.start_again().await?;
        if let Some((user, password)) = auth {
            server
                .execute(&format!(
                    "CREATE USER {} WITH PASSWORD '{}' WITH ALL PRIVILEGES",
                    ident(user),
                    password.replace('\\', "\\\\").replace('\'', "\\'")
                ))
                .await?;
        }
        Ok(server)
    }

    /// `http://127.0.0.1:PORT` (`https://` with [`start_https`](Self::start_https)).
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp dir: `influxdb.conf`, `meta/`, `data/`, `wal/`, `influxd.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server process's pid while it runs (for CPU accounting in the
    /// benchmark).
    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    /// Start again after [`stop`](Self::stop): same port, same data.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()?;
        let client = self.client.clone();
        let (url, ping) = (self.url(), format!("{}/ping", self.url()));
        self.proc
            .wait_ready(&url, || {
                let (client, ping) = (client.clone(), ping.clone());
                async move { http_status(&client, &ping).await == Some(204) }
            })
            .await
    }

    /// Stop hard (SIGKILL). Nothing acknowledged is lost: a write is in the
    /// WAL before it is answered (checked by hand: a point written just
    /// before a SIGKILL was there after the restart).
    pub fn stop(&mut self) {
        self.proc.kill();
    }

    /// Same as [`stop`](Self::stop), named for tests that mean a crash.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Graceful stop (SIGTERM, waits for the exit).
    pub fn terminate(&mut self) {
        self.proc.terminate();
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.start_again().await
    }

    /// Send a request, fail on a non-2xx status (quoting the body), return
    /// the body.
    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<bytes::Bytes> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("influxd at {}: {what}", self.url()))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("influxd at {}: {what}: reading the answer", self.url()))?;
        if !status.is_success() {
            bail!(
                "influxd at {}: {what} answered {status}: {}",
                self.url(),
                String::from_utf8_lossy(&body)
            );
        }
        Ok(body)
    }

    /// Parse a `/query` answer; fail on any statement's `error`.
    fn parse(&self, body: &[u8], q: &str) -> anyhow::Result<Value> {
        let v: Value = serde_json::from_slice(body).with_context(|| {
            format!(
                "influxd at {}: `{q}` answered non-JSON: {}",
                self.url(),
                String::from_utf8_lossy(body)
            )
        })?;
        for result in v.get("results").and_then(Value::as_array).into_iter().flatten() {
            if let Some(err) = result.get("error") {
                bail!("influxd at {}: `{q}` failed: {err}", self.url());
            }
        }
        Ok(v)
    }

    /// Run a read statement (`SELECT`, `SHOW`) with `GET /query`, times in
    /// ns since the epoch; returns the JSON answer.
    pub async fn query(&self, db: &str, q: &str) -> anyhow::Result<Value> {
        let url = format!("{}/query?db={}&epoch=ns&q={}", self.url(), encode(db), encode(q));
        let body = self.send(self.client.get(url), &format!("query `{q}`")).await?;
        self.parse(&body, q)
    }

    /// Run a statement that changes something (`CREATE`, `DROP`, ...) with
    /// `POST /query` (a GET is only accepted with a deprecation warning).
    pub async fn execute(&self, q: &str) -> anyhow::Result<Value> {
        let url = format!("{}/query?q={}", self.url(), encode(q));
        let body = self.send(self.client.post(url), &format!("statement `{q}`")).await?;
        self.parse(&body, q)
    }

    /// `CREATE DATABASE "db"` (a no-op if it exists).
    pub async fn create_database(&self, db: &str) -> anyhow::Result<()> {
        self.execute(&format!("CREATE DATABASE {}", ident(db))).await.map(drop)
    }

    /// Write line protocol with `POST /write`, timestamps in ns.
    pub async fn write(&self, db: &str, lines: &str) -> anyhow::Result<()> {
        let url = format!("{}/write?db={}&precision=ns", self.url(), encode(db));
        self.send(self.client.post(url).body(lines.to_owned()), "write")
            .await
            .map(drop)
    }

    /// The rows of a query, one map per row keyed by column name (all series
    /// concatenated; with GROUP BY, each row also carries its series' tags).
    /// Empty when there is no series.
    pub async fn rows(&self, db: &str, q: &str) -> anyhow::Result<Vec<Row>> {
        Ok(rows_of(&self.query(db, q).await?))
    }

    /// Every point of a measurement (`SELECT * FROM "m"`), `time` in ns.
    pub async fn select_all(&self, db: &str, measurement: &str) -> anyhow::Result<Vec<Row>> {
        self.rows(db, &format!("SELECT * FROM {}", ident(measurement))).await
    }

    /// Field key → stored type ("float", "integer", "string", "boolean"),
    /// from `SHOW FIELD KEYS FROM "m"`.
    pub async fn field_types(&self, db: &str, measurement: &str) -> anyhow::Result<HashMap<String, String>> {
        let rows = self
            .rows(db, &format!("SHOW FIELD KEYS FROM {}", ident(measurement)))
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

    /// Number of points in a measurement that have `field` (0 if none).
    pub async fn count(&self, db: &str, measurement: &str, field: &str) -> anyhow::Result<u64> {
        let rows = self
            .rows(
                db,
                &format!("SELECT COUNT({}) FROM {}", ident(field), ident(measurement)),
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.get("count"))
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }
}

/// Rows of the first statement's series: `columns` zipped with each of
/// `values`, plus the series' `tags` if any.
pub fn rows_of(answer: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    let series = answer.pointer("/results/0/series").and_then(Value::as_array);
    for s in series.into_iter().flatten() {
        let columns: Vec<&str> = s
            .get("columns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let tags = s.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
        for values in s.get("values").and_then(Value::as_array).into_iter().flatten() {
            let mut row = tags.clone();
            for (c, v) in columns.iter().zip(values.as_array().into_iter().flatten()) {
                row.insert((*c).to_owned(), v.clone());
            }
            rows.push(row);
        }
    }
    rows
}
