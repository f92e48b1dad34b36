//! A real SMTP server for the email output's tests: Python's aiosmtpd
//! (Debian `python3-aiosmtpd`, installed by `.ci/run`) on a free loopback
//! port, with STARTTLS required (a certificate from [`crate::pki`]) and
//! AUTH required (PLAIN/LOGIN, one user), killed on drop and able to stop
//! and start again on the same port. Every message it accepts is written to
//! its directory as `N.eml`, with `N.json` saying how the session was
//! secured (`tls`, `authenticated`, envelope sender and recipients).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tempfile::TempDir;

use crate::pki::Pki;
use crate::process::{self, Process};

/// The server, as a script: no Python package of ours to install.
const SERVER_PY: &str = r#"
import json, os, signal, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, cert, key, outdir, user, password = sys.argv[1:8]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = time.time_ns()
        meta = {
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
        }
        with open(os.path.join(outdir, f"{n}.json.tmp"), "w") as f:
            json.dump(meta, f)
        with open(os.path.join(outdir, f"{n}.eml.tmp"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(os.path.join(outdir, f"{n}.json.tmp"), os.path.join(outdir, f"{n}.json"))
        os.rename(os.path.join(outdir, f"{n}.eml.tmp"), os.path.join(outdir, f"{n}.eml"))
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)

tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)
controller = Controller(Handler(), hostname=host, port=int(port), tls_context=tls, require_starttls=True,
                        authenticator=authenticator, auth_required=True, auth_require_tls=True)
controller.start()
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *a: (controller.stop(), sys.exit(0)))
signal.pause()
"#;

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The message as received (headers, blank line, body; MIME-encoded).
    pub raw: String,
    /// How the session went: `tls`, `authenticated`, `mail_from`, `rcpt_tos`.
    pub session: Value,
}

#[derive(Debug)]
pub struct SmtpServer {
    port: u16,
    proc: Process,
    pub user: String,
    pub password: String,
    mail: PathBuf,
    dir: TempDir,
}

impl SmtpServer {
    /// Start on a free port with a server certificate of `pki` (for
    /// 127.0.0.1 and localhost), STARTTLS and AUTH required.
    pub async fn start(pki: &Pki) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating the SMTP server's temp dir")?;
        let mail = dir.path().join("mail");
        std::fs::create_dir_all(&mail)?;
        let script = dir.path().join("smtpd.py");
        std::fs::write(&script, SERVER_PY)?;
        let port = process::free_port()?;
        let (user, password) = ("telegate".to_owned(), "mật-khẩu-42".to_owned());
        let args = vec![
            script.display().to_string(),
            "127.0.0.1".into(),
            port.to_string(),
            pki.server_cert.display().to_string(),
            pki.server_key.display().to_string(),
            mail.display().to_string(),
            user.clone(),
            password.clone(),
        ];
        let proc = Process::new("aiosmtpd", "python3", args, dir.path().join("smtpd.log"));
        let mut server = Self {
            port,
            proc,
            user,
            password,
            mail,
            dir,
        };
        server.start_again().await?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    /// Start again after [`stop`](Self::stop): same port, same mailbox.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.proc.spawn()?;
        let addr = format!("127.0.0.1:{}", self.port);
        self.proc
            .wait_ready(&addr.clone(), || {
                let addr = addr.clone();
                async move {
                    // The greeting, not just an open port.
                    let Ok(Ok(mut s)) =
                        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(&addr)).await
                    else {
                        return false;
                    };
                    let mut buf = [0u8; 64];
                    matches!(
                        tokio::time::timeout(Duration::from_secs(1), tokio::io::AsyncReadExt::read(&mut s, &mut buf)).await,
                        Ok(Ok(n)) if buf[..n].starts_with(b"220")
                    )
                }
            })
            .await
    }

    /// Stop (SIGTERM); [`start_again`](Self::start_again) brings it back.
    pub fn stop(&mut self) {
        self.proc.terminate();
    }

    /// Every message accepted so far, oldest first.
    pub fn mail(&self) -> anyhow::Result<Vec<Mail>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.mail)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let raw = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
                let meta = std::fs::read_to_string(p.with_extension("json"))?;
                Ok(Mail {
                    raw,
                    session: serde_json::from_str(&meta)?,
                })
            })
            .collect()
    }
}
