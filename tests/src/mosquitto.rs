//! A real Mosquitto 2 broker on a free loopback port, with persistence on and
//! no queue limits, so a persistent session keeps every QoS 1 message across
//! a broker restart.

use std::path::Path;

use anyhow::Context as _;
use tempfile::TempDir;

use crate::pki::Pki;
use crate::process::{self, Process};

/// The broker's configuration. Checked by hand against Debian's 2.0.11:
/// - `user root`: run as root, Mosquitto otherwise drops to user
///   `mosquitto`, which cannot write the temp dir;
/// - `max_queued_messages 0`: no limit (the default 1000 drops QoS 1
///   messages queued for an offline persistent session);
/// - `autosave_interval 1`: the persistence file is written every second
///   and on SIGTERM. A SIGKILL loses what arrived since the last save: 2000
///   messages published and acknowledged just before a SIGKILL were all gone
///   after the restart, hence [`Mosquitto::stop`] is a SIGTERM.
fn config(port: u16, data: &Path) -> String {
    format!(
        "user root\n\
         listener {port} 127.0.0.1\n\
         allow_anonymous true\n\
         persistence true\n\
         persistence_location {data}/\n\
         autosave_interval 1\n\
         max_queued_messages 0\n\
         max_inflight_messages 0\n\
         log_dest stderr\n\
         log_type error\n\
         log_type warning\n\
         log_type notice\n\
         log_type all\n",
        data = data.display()
    )
}

/// Access control for [`Mosquitto::start_with_access`]: the files
/// `telegate device` generates, and optionally a device TLS listener that
/// takes client certificates as identities.
#[derive(Debug, Clone)]
pub struct Access {
    pub password_file: std::path::PathBuf,
    pub acl_file: std::path::PathBuf,
    /// Where the broker writes its pid (so `telegate device` can SIGHUP it).
    pub pid_file: std::path::PathBuf,
    pub device_tls: Option<TlsListener>,
}

/// A TLS listener presenting `server_cert` and requiring a client
/// certificate signed by `client_ca`; for device identities, the common name
/// becomes the user name (`use_identity_as_username`) and `crl` is checked.
#[derive(Debug, Clone)]
pub struct TlsListener {
    pub server_cert: std::path::PathBuf,
    pub server_key: std::path::PathBuf,
    pub client_ca: std::path::PathBuf,
    pub crl: Option<std::path::PathBuf>,
    pub identity_as_username: bool,
}

impl TlsListener {
    /// Mutual TLS with the test PKI: server and client certificates from one CA.
    fn mutual(pki: &Pki) -> Self {
        Self {
            server_cert: pki.server_cert.clone(),
            server_key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
            crl: None,
            identity_as_username: false,
        }
    }

    fn config(&self, port: u16) -> String {
        let mut text = format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            self.client_ca.display(),
            self.server_cert.display(),
            self.server_key.display()
        );
        if let Some(crl) = &self.crl {
            text.push_str(&format!("crlfile {}\n", crl.display()));
        }
        if self.identity_as_username {
            text.push_str("use_identity_as_username true\n");
        }
        text
    }
}

/// A Mosquitto broker with its own temp dir (config, persistence, log),
/// killed on drop.
#[derive(Debug)]
pub struct Mosquitto {
    port: u16,
    /// The TLS listener's port (requires a client certificate), when started
    /// with [`Mosquitto::start_tls`].
    tls_port: Option<u16>,
    // Before `dir`: the process dies before its directory is removed.
    proc: Process,
    dir: TempDir,
}

impl Mosquitto {
    /// Start a broker on a free port and wait until it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(None, None, "")).await
    }

    /// [`start`](Self::start) with extra configuration lines (e.g.
    /// `message_size_limit 8192\n`).
    pub async fn start_with(extra: &str) -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(None, None, extra)).await
    }

    /// [`start`](Self::start), plus a TLS listener on another free port that
    /// presents `pki.server_cert` and requires a client certificate signed by
    /// `pki.ca` (mutual TLS).
    pub async fn start_tls(pki: &Pki) -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(Some(pki), None, "")).await
    }

    /// No anonymous clients: users from `access.password_file`, rights from
    /// `access.acl_file` (and, with `device_tls`, a certificate listener on
    /// [`tls_port`](Self::tls_port)).
    pub async fn start_with_access(access: &Access) -> anyhow::Result<Self> {
        process::start_with_retries(|| Self::start_once(None, Some(access), "")).await
    }

    /// SIGHUP: Mosquitto re-reads its password and ACL files.
    pub fn reload(&self) -> anyhow::Result<()> {
        let pid = self.proc.pid().context("mosquitto is not running")?;
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -HUP {pid}: {status}");
        Ok(())
    }

    async fn start_once(pki: Option<&Pki>, access: Option<&Access>, extra: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating mosquitto's temp dir")?;
        let port = process::free_port()?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        let conf = dir.path().join("mosquitto.conf");
        let mut text = config(port, &data);
        text.push_str(extra);
        let mut tls = pki.map(TlsListener::mutual);
        if let Some(access) = access {
            text = text.replace(
                "allow_anonymous true\n",
                &format!(
                    "allow_anonymous false\npassword_file {}\nacl_file {}\npid_file {}\n",
                    access.password_file.display(),
                    access.acl_file.display(),
                    access.pid_file.display()
                ),
            );
            tls = tls.or_else(|| access.device_tls.clone());
        }
        let tls_port = match tls {
            Some(listener) => {
                let tls_port = process::free_port()?;
                text.push_str(&listener.config(tls_port));
                Some(tls_port)
            }
            None => None,
        };
        std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
        let proc = Process::new(
            "mosquitto",
            "mosquitto",
            vec!["-c".into(), conf.display().to_string()],
            dir.path().join("mosquitto.log"),
        );
        let mut broker = Self {
            port,
            tls_port,
            proc,
            dir,
        };
        broker.start_again().await?;
        Ok(broker)
    }

    /// Always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The mutual-TLS listener's port; `None` unless started with
    /// [`start_tls`](Self::start_tls).
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The temp dir: `mosquitto.conf`, `data/mosquitto.db`, `mosquitto.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server process's pid while it runs (for CPU accounting in the
    /// benchmark).
    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// The last lines of the broker's log.
    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    /// Start again after [`stop`](Self::stop) or [`kill`](Self::kill): same
    /// port, same persisted sessions and queued messages.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()?;
        let port = self.port;
        self.proc
            .wait_ready(&format!("127.0.0.1:{port}"), || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
            })
            .await
    }

    /// Graceful stop (SIGTERM, waits for the exit): Mosquitto writes its
    /// persistence file, so nothing it acknowledged is lost.
    pub fn stop(&mut self) {
        self.proc.terminate();
    }

    /// Crash (SIGKILL): messages acknowledged since the last autosave (up to
    /// a second) are lost by the broker itself.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.start_again().await
    }
}
