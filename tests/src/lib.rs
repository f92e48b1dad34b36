//! Test support for telegate's end-to-end tests.
//!
//! - Real servers from the Debian packages, each on free loopback ports with
//!   its own temp dir, killed on drop, able to stop and start again on the
//!   same port with the same data: [`Mosquitto`](mosquitto::Mosquitto),
//!   [`Influxd`](influxdb::Influxd) (InfluxDB 1.x, v1 API) and
//!   [`Victoria`](victoria::Victoria) (VictoriaMetrics, the v2 write API),
//!   on top of [`process`]. [`servers`] gathers the three.
//! - MQTT test clients ([`client`]), payloads built from the schemas
//!   ([`payloads`]) and the gateway run in-process ([`gateway`]).
//! - A webhook receiver ([`webhook`]) and an SMTP server ([`smtp`],
//!   aiosmtpd with STARTTLS and AUTH) for the alert outputs.
//! - [`eventually`], for conditions that take a moment to hold.

pub mod admin;
pub mod bench;
pub mod client;
pub mod cpu;
pub mod deploy;
pub mod expected;
pub mod fault_server;
pub mod gateway;
pub mod influxdb;
pub mod mosquitto;
pub mod payloads;
pub mod pki;
pub mod process;
pub mod raw_mqtt;
pub mod rules;
pub mod smtp;
pub mod stream;
pub mod victoria;
pub mod webhook;

/// The three servers, as the tests import them.
pub mod servers {
    pub use crate::influxdb::Influxd;
    pub use crate::mosquitto::Mosquitto;
    pub use crate::process::free_port;
    pub use crate::victoria::Victoria;
}

use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Poll `f` every 100 ms until it yields `Some`, or fail after `timeout`
/// naming the last error (or that the answer was still `None`).
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => last = "still None".to_owned(),
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() >= deadline {
            anyhow::bail!("not reached within {timeout:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Now, in nanoseconds since the epoch, rounded down to the millisecond: the
/// precision every test payload's time field and every store keep, so a
/// reading's time compares equal after the round trip.
pub fn now_ms_ns() -> i64 {
    telegate_model::now_ns() / 1_000_000 * 1_000_000
}

/// An HTTP client for the test servers: rustls' provider installed (the
/// workspace's reqwest has none built in), no proxy, 30 s per request.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    telegate_influx::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

/// The status of a GET, or `None` if there was no answer within a second
/// (readiness checks).
pub(crate) async fn http_status(client: &reqwest::Client, url: &str) -> Option<u16> {
    let req = client.get(url).timeout(Duration::from_secs(1));
    req.send().await.ok().map(|r| r.status().as_u16())
}

/// Percent-encode a query-string value: everything but RFC 3986 unreserved
/// characters, so InfluxQL quotes, spaces, braces and commas survive.
pub fn encode(s: &str) -> String {
    const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Serve `app` on `127.0.0.1:<free port>` until the task is aborted (the
/// test servers abort it on drop).
pub(crate) async fn serve(
    app: axum::Router,
    what: &str,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .with_context(|| format!("binding {what}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

/// The repository's root (for `proto/`, `docs/`).
pub fn repo_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copy a directory tree, e.g. the built-in schemas into a test's schema dir.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}
