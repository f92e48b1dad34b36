//! Just enough of the Chrome DevTools Protocol to drive headless Chromium
//! from a test, with no Node, no WebSocket and no extra crate.
//!
//! Chromium is started with `--remote-debugging-pipe`: it reads commands on
//! its fd 3 and writes replies and events on its fd 4, each message one JSON
//! object followed by a NUL byte. `std::process` can only hand a child its
//! stdin and stdout, so a `sh -c 'exec … 3<&0 4>&1 0</dev/null 1>&2'`
//! moves them to 3 and 4 (and points the real stdin/stdout elsewhere, so
//! nothing Chromium prints can corrupt the protocol stream).
//!
//! Chromium runs in a process group of its own and the whole group is
//! SIGKILLed on drop, so a failing or panicking test leaves no renderer or
//! zygote behind.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium and its protocol connection.
#[derive(Debug)]
pub(crate) struct Browser {
    child: Child,
    commands: ChildStdin,
    replies: mpsc::UnboundedReceiver<Value>,
    next_id: u64,
    /// Events (messages without an id) seen while waiting for replies.
    pub(crate) events: Vec<Value>,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

/// One tab, attached with a flat session.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) session: String,
}

impl Browser {
    /// Start Chromium with a throw-away profile; its stderr goes to `log`.
    pub(crate) async fn start(width: u32, height: u32, log: &Path) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        anyhow::ensure!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} not found: install Debian's `chromium` package (.ci/run does)"
        );
        let profile = tempfile::tempdir()?;
        let flags = [
            "--headless".to_owned(),
            // Root in CI containers: the sandbox cannot start there.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            // Small /dev/shm in containers.
            "--disable-dev-shm-usage".to_owned(),
            "--remote-debugging-pipe".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={width},{height}"),
            "--force-device-scale-factor=1".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--mute-audio".to_owned(),
            "--lang=en-US".to_owned(),
            "about:blank".to_owned(),
        ];
        let stderr = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(CHROMIUM)
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Its own group: killed as a whole on drop.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {CHROMIUM}"))?;
        let commands = child.stdin.take().context("chromium's command pipe")?;
        let output = child.stdout.take().context("chromium's reply pipe")?;
        let (tx, replies) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            let mut buf = Vec::new();
            // Ends at EOF, when Chromium exits.
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        Ok(Self {
            child,
            commands,
            replies,
            next_id: 0,
            events: Vec::new(),
            log: log.to_owned(),
            _profile: profile,
        })
    }

    /// Send a command (to the browser, or to a page's `session`) and wait
    /// for its reply's `result`.
    pub(crate) async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        within: Duration,
    ) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg)?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .and_then(|()| self.commands.flush())
            .with_context(|| format!("sending {method} to chromium (exited?){}", self.log_tail()))?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.replies.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) => bail!("chromium closed the protocol pipe during {method}{}", self.log_tail()),
                Err(_) => bail!("no reply to {method} within {within:?}{}", self.log_tail()),
            };
            if msg["id"].as_u64() != Some(id) {
                self.events.push(msg);
                continue;
            }
            if let Some(err) = msg.get("error") {
                bail!("{method} failed: {err}");
            }
            return Ok(msg["result"].clone());
        }
    }

    /// Open `url` in a new tab and attach to it (Runtime events on, for
    /// script errors).
    pub(crate) async fn open(&mut self, url: &str) -> anyhow::Result<Page> {
        self.open_in(url, None).await
    }

    /// A new browser context: its own cookies and storage, like a second
    /// browser (two operators on one machine).
    #[allow(dead_code)]
    pub(crate) async fn new_context(&mut self) -> anyhow::Result<String> {
        let r = self
            .call(
                None,
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": false }),
                Duration::from_secs(30),
            )
            .await?;
        Ok(r["browserContextId"]
            .as_str()
            .context("createBrowserContext: no browserContextId")?
            .to_owned())
    }

    /// [`Browser::open`] in the browser context `context` (`None`: the default one).
    pub(crate) async fn open_in(&mut self, url: &str, context: Option<&str>) -> anyhow::Result<Page> {
        let mut params = json!({ "url": url });
        if let Some(c) = context {
            params["browserContextId"] = json!(c);
        }
        // The first command also waits for Chromium to start: generous.
        let target = self
            .call(None, "Target.createTarget", params, Duration::from_secs(30))
            .await?;
        let target_id = target["targetId"]
            .as_str()
            .context("createTarget: no targetId")?
            .to_owned();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                Duration::from_secs(10),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .context("attachToTarget: no sessionId")?
            .to_owned();
        for domain in ["Runtime.enable", "Log.enable"] {
            self.call(Some(&session), domain, json!({}), Duration::from_secs(10))
                .await?;
        }
        Ok(Page { session })
    }

    /// Evaluate an expression in the page: its value, or the exception it
    /// threw (`Err` inside: the page may still be loading). The outer error
    /// is the protocol's (Chromium gone, no reply).
    pub(crate) async fn eval(&mut self, page: &Page, expression: &str) -> anyhow::Result<Result<Value, String>> {
        let r = self
            .call(
                Some(&page.session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
                Duration::from_secs(10),
            )
            .await?;
        Ok(match r.get("exceptionDetails") {
            Some(ex) => Err(ex["exception"]["description"]
                .as_str()
                .map_or_else(|| ex.to_string(), str::to_owned)),
            None => Ok(r["result"]["value"].clone()),
        })
    }

    /// A PNG of the whole page (not only the window) at the window's width.
    pub(crate) async fn screenshot(&mut self, page: &Page) -> anyhow::Result<Vec<u8>> {
        use base64::Engine as _;
        let metrics = self
            .call(
                Some(&page.session),
                "Page.getLayoutMetrics",
                json!({}),
                Duration::from_secs(10),
            )
            .await?;
        let size = &metrics["cssContentSize"];
        let (width, height) = (size["width"].as_f64(), size["height"].as_f64());
        let (Some(width), Some(height)) = (width, height) else {
            bail!("getLayoutMetrics: no content size in {metrics}");
        };
        let clip = json!({ "x": 0, "y": 0, "width": width, "height": height, "scale": 1 });
        let r = self
            .call(
                Some(&page.session),
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }),
                Duration::from_secs(20),
            )
            .await?;
        let data = r["data"].as_str().context("captureScreenshot: no data")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(data)?)
    }

    /// Uncaught exceptions, `console.error` calls and browser errors (a
    /// Content-Security-Policy violation, say) seen so far. Failed requests
    /// are left out: a refused token is an expected 401.
    pub(crate) fn script_errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => Some(e["params"]["exceptionDetails"].to_string()),
                Some("Runtime.consoleAPICalled") if e["params"]["type"] == "error" => {
                    Some(e["params"]["args"].to_string())
                }
                Some("Log.entryAdded")
                    if e["params"]["entry"]["level"] == "error" && e["params"]["entry"]["source"] != "network" =>
                {
                    Some(e["params"]["entry"].to_string())
                }
                _ => None,
            })
            .collect()
    }

    /// Evaluate `script` on the page every 100 ms until `ok` holds for its
    /// value, or fail after `within` showing what the page last showed
    /// (and the page's script errors).
    pub(crate) async fn poll(
        &mut self,
        page: &Page,
        script: &str,
        what: &str,
        within: Duration,
        ok: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let value = self.eval(page, script).await?;
            if let Ok(v) = &value
                && ok(v)
            {
                return Ok(v.clone());
            }
            if std::time::Instant::now() >= deadline {
                let shows = match value {
                    Ok(v) => format!("{v:#}"),
                    Err(e) => format!("(the script threw) {e}"),
                };
                bail!(
                    "the console did not show {what} within {within:?}; script errors: {:?}; it shows:\n{shows}",
                    self.script_errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<_> = text.lines().filter(|l| !l.contains("dbus")).collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("\nchromium's log ({}):\n{tail}", self.log.display())
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: the browser, its zygote, renderers and GPU process.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
