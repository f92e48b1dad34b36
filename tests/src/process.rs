//! One server process under test: its command line, its log file (stdout and
//! stderr, appended across restarts) and the running child. The child is
//! killed on drop; stopping and starting again reuses the same command line,
//! so the server comes back on the same port with the same data.

use std::fs::File;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long a server gets to answer its readiness check.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Interval between readiness checks.
const READY_POLL: Duration = Duration::from_millis(50);
/// How long a graceful stop (SIGTERM) may take before SIGKILL.
const TERM_TIMEOUT: Duration = Duration::from_secs(10);
/// Log lines quoted in errors.
const LOG_TAIL_LINES: usize = 30;
/// Attempts at a first start, each on fresh ports, when the port was taken.
pub(crate) const START_ATTEMPTS: u32 = 3;

/// Run `start_once` (which picks fresh ports each time) until it succeeds or
/// fails for a reason other than a port taken between choosing and binding it.
pub(crate) async fn start_with_retries<T, F, Fut>(mut start_once: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match start_once().await {
            Err(e) if attempt < START_ATTEMPTS && port_taken(&e) => attempt += 1,
            result => return result,
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released). Another process may
/// take it before the server binds it; servers retry a first start on a
/// fresh port when that happens (see [`port_taken`]).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding an ephemeral port on 127.0.0.1")?;
    Ok(listener.local_addr().context("reading the ephemeral port")?.port())
}

/// Whether a start failed because a port was already in use (all three
/// servers log "address already in use", in some capitalisation).
pub(crate) fn port_taken(e: &anyhow::Error) -> bool {
    format!("{e:#}").to_ascii_lowercase().contains("address already in use")
}

/// The last `lines` lines of a log file, or a note that it cannot be read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// The Debian packages put `mosquitto` in /usr/sbin, which is not always on
/// a non-root PATH.
fn find_binary(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// A server process: command line, log file and (while running) the child.
#[derive(Debug)]
pub struct Process {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// A process not yet started; `program` is looked up in the usual
    /// binary directories, then on PATH.
    pub fn new(name: &'static str, program: &str, args: Vec<String>, log: PathBuf) -> Self {
        Self {
            name,
            program: find_binary(program),
            args,
            log,
            child: None,
        }
    }

    /// The name used in errors ("mosquitto", "influxd", ...).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The log file: stdout and stderr of every run, each run preceded by a
    /// `=== telegate-e2e:` line with the command.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The end of the log, for error messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log, LOG_TAIL_LINES)
    }

    /// The running child's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child is alive (reaps it if it has exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.reap();
                false
            }
            None => false,
        }
    }

    fn reap(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// Start the child, output appended to the log. Fails if it is already
    /// running.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is already running (pid {:?})", self.name, self.pid());
        }
        let mut stdout = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}'s log {}", self.name, self.log.display()))?;
        writeln!(
            stdout,
            "=== telegate-e2e: {} {}",
            self.program.display(),
            self.args.join(" ")
        )
        .with_context(|| format!("writing {}", self.log.display()))?;
        let stderr = stdout
            .try_clone()
            .with_context(|| format!("duplicating the handle of {}", self.log.display()))?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} ({}): is its Debian package installed?",
                    self.name,
                    self.program.display()
                )
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Poll `ready` every 50 ms until it holds. Fails, quoting the log tail,
    /// if the child exits first or after [`READY_TIMEOUT`] (the child is then
    /// killed). `at` names where the server should listen, for the error.
    pub async fn wait_ready<F, Fut>(&mut self, at: &str, mut ready: F) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let up = ready().await;
            if self.child.is_none() {
                bail!(
                    "{} at {at} is not running; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                );
            }
            // Checked even when `ready` holds: what answered may be another
            // process that took the port while ours failed to bind it.
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                bail!(
                    "{} at {at} exited ({status}) before it was ready; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                );
            }
            if up {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!(
                    "{} at {at} not ready within {READY_TIMEOUT:?} (killed); log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// SIGKILL and reap: a crash. Files stay. No-op when not running.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait up to 10 s for a clean exit, then SIGKILL. Blocks
    /// the calling thread (a clean exit takes well under a second for all
    /// three servers). No-op when not running.
    pub fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let signalled = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + if signalled { TERM_TIMEOUT } else { Duration::ZERO };
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
