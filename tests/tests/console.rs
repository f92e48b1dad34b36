//! The operator console in a real browser, fed by a real gateway: readings
//! published over MQTT to Mosquitto, decoded, stored in InfluxDB, evaluated
//! against an alert rules file; the page, already open, shows the alerts
//! they trigger without a reload.
//!
//! **How Chromium runs.** Debian's `/usr/bin/chromium` (installed by
//! `.ci/run`), `--headless --no-sandbox --disable-gpu`, a throw-away
//! profile, a 1366×768 window (a small laptop), driven over the DevTools
//! protocol on `--remote-debugging-pipe` (see `console/cdp.rs`): no Node,
//! no WebSocket. `--dump-dom` cannot do this job: it dumps at the load
//! event, before the page's fetches answer, and `--virtual-time-budget`
//! waits for every request to finish, which an event stream never does.
//! The test opens the page, polls one DOM summary (`SNAPSHOT_JS`) every
//! 100 ms until it holds or a deadline passes (the failure shows the last
//! summary and Chromium's log), and the browser's whole process group is
//! killed when the test ends, failed or not.
//!
//! The screenshot is written to `$CARGO_TARGET_TMPDIR/console.png` on every
//! run, and to `docs/console.png` with `UPDATE_DOCS_SCREENSHOT=1` (CI does
//! not rewrite a tracked file).

// In a directory of its own: a file beside this one would be a test target.
mod cdp;
mod operators;
mod staleness;
mod views;

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cdp::{Browser, Page};
use prost_reflect::Value as Proto;
use serde_json::{Value, json};
use telegate_e2e::admin;
use telegate_e2e::client::Publisher;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::rules::{MESSAGE_EN, MUONG_TE, NAM_GIANG};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_model::{Secret, now_ns};
use telegate_schema::Registry;

const TOKEN: &str = "console-e2e-Zk4+q/7w=";
/// Short, so one device is shown "silent" within the test.
const SILENT_AFTER: Duration = Duration::from_secs(4);

/// Two stations' flood levels (values from FIELD.md and
/// config/alerts.example.toml) and a device deadman, which makes the
/// evaluator read every sensor type, so the console lists them all.
fn alert_rules() -> String {
    let deadman = r#"
[[rule]]
id = "device-offline"
name = "Device offline"
kind = "deadman"
cadence = "10m"
severity = "warning"
level_name = "offline"
message = "{device_id} at {site}: nothing for {silence}"
"#;
    format!(
        "{}{}{deadman}",
        MUONG_TE.rule("Flood alarm, Mường Tè (Đà)").message(MESSAGE_EN).toml(),
        NAM_GIANG
            .rule("Flood alarm, Nậm Giàng (Nậm Na)")
            .message(MESSAGE_EN)
            .toml(),
    )
}

/// The page as the test reads it: one evaluation, plain JSON. textContent,
/// not innerText, so CSS (upper-casing, hidden overflow) does not matter.
const SNAPSHOT_JS: &str = r#"(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const text = (n) => (n ? n.textContent.replace(/\s+/g, ' ').trim() : null);
  return {
    conn: document.getElementById('conn')?.dataset.state ?? null,
    login: document.getElementById('login') ? getComputedStyle(document.getElementById('login')).display !== 'none' : null,
    events: Number(document.body?.dataset.events || 0),
    url: location.href,
    silentCount: Number(document.getElementById('silent-count')?.dataset.silent ?? -1),
    alerts: all('#firing article.alert').map((a) => ({
      severity: a.dataset.severity, group: a.closest('.group')?.id ?? null, text: text(a),
      device: a.dataset.device, since: a.dataset.sinceNs, silent: a.dataset.silent })),
    devices: all('#devices tr[data-device]').map((r) => ({
      device: r.dataset.device, status: r.dataset.status, site: r.closest('tbody')?.dataset.site ?? null, text: text(r),
      alerting: r.dataset.alerting, lastSeen: r.dataset.lastSeenNs })),
    recent: all('#recent tr[data-change]').map((r) => ({ change: r.dataset.change, text: text(r),
      severity: r.dataset.severity, late: r.dataset.late })),
    infoHidden: Number(document.getElementById('info-collapsed')?.dataset.hidden ?? 0),
  };
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_a_triggered_alert_live_in_headless_chromium() -> anyhow::Result<()> {
    let started = Instant::now();
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(&rules, alert_rules())?;
    let mut config = test_config("gw-console", broker.port(), &influx.url());
    config.admin.token = Secret::new(TOKEN);
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.path().join("alerts-state.json").display().to_string();
    config.alerts.silent_after = SILENT_AFTER;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().context("the gateway's admin listener")?;
    let mut fleet = Fleet {
        publisher: Publisher::connect("console-fleet", broker.port()).await?,
        registry: Registry::builtin(&Default::default())?,
    };
    let now = now_ns();
    let min = 60_000_000_000_i64;

    // A landslide station reports once, then nothing: "silent" later on.
    let ls = [("battery_pct", 41.0), ("battery_v", 3.62), ("rsrp_dbm", -104.0)];
    fleet
        .send("muong-te", "ls-001", "device_health", now - 50 * min, &ls)
        .await?;
    fleet
        .send("muong-te", "ls-001", "landslide", now - 50 * min, &[])
        .await?;
    fleet.publisher.flush().await?;
    let quiet_from = Instant::now();

    // The operator opens the console with the token in the fragment.
    let log = dir.path().join("chromium.log");
    let mut browser = Browser::start(1366, 768, &log).await?;
    let page = browser.open(&format!("http://{addr}/#token={TOKEN}")).await?;
    let snap = wait_for(&mut browser, &page, "connected, ls-001 listed, nothing firing", |s| {
        s["conn"] == "live" && has_device(s, "ls-001")
    })
    .await?;
    assert_eq!(snap["alerts"].as_array().map(Vec::len), Some(0), "{snap:#}");
    assert_eq!(snap["login"], false, "the token was accepted: {snap:#}");
    let url = snap["url"].as_str().unwrap_or_default();
    assert!(
        !url.contains("token"),
        "the token is kept out of the address bar: {url}"
    );

    // Let ls-001 fall silent before the rest of the fleet reports, so the
    // page's next device fetch shows it so.
    if let Some(rest) = (SILENT_AFTER + Duration::from_millis(300)).checked_sub(quiet_from.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let health = [
        ("rl-001", "muong-te", 76.0, 12.41, -97.0),
        ("rg-001", "muong-te", 88.0, 12.86, -84.0),
        ("rl-002", "ma-lu-thang", 92.0, 13.02, -78.0),
        ("lc-01", "ma-lu-thang", 64.0, 12.55, -88.0),
        ("wb-01", "ma-lu-thang", 17.0, 11.93, -92.0),
    ];
    for (device, site, pct, volts, rsrp) in health {
        let fields = [("battery_pct", pct), ("battery_v", volts), ("rsrp_dbm", rsrp)];
        fleet
            .send(site, device, "device_health", now - 2 * min, &fields)
            .await?;
    }
    fleet
        .send("muong-te", "rg-001", "rain_gauge", now - 2 * min, &[])
        .await?;
    fleet
        .send("ma-lu-thang", "lc-01", "lane_counter", now - 2 * min, &[])
        .await?;
    fleet
        .send("ma-lu-thang", "wb-01", "weighbridge", now - 2 * min, &[])
        .await?;
    // The Đà rises through BĐ I and II to BĐ III at Mường Tè; the Nậm Na
    // reaches BĐ II at Nậm Giàng. One reading per message, oldest first.
    let rises = [
        ("muong-te", "rl-001", [286.40, 287.35, 288.70, 290.42]),
        ("ma-lu-thang", "rl-002", [207.90, 208.85, 209.60, 210.25]),
    ];
    for (site, device, stages) in rises {
        for (i, stage) in (0_i64..).zip(stages) {
            let t = now - (40 - 12 * i) * min;
            fleet
                .send(site, device, "river_level", t, &[("stage_m", stage)])
                .await?;
        }
    }
    fleet.publisher.flush().await?;

    let snap = wait_for(&mut browser, &page, "a critical and a warning flood alert", |s| {
        let alerts = s["alerts"].as_array().map_or(0, Vec::len);
        alerts == 2 && has_status(s, "ls-001", "silent") && has_status(s, "rl-002", "alerting")
    })
    .await?;
    let critical = alert_in(&snap, "sev-critical")?;
    for want in [
        "Critical",
        "Flood alarm, Mường Tè (Đà)",
        "BĐ III",
        "rl-001",
        "muong-te",
        "290.42 ≥ 290",
    ] {
        assert!(critical.contains(want), "the critical alert lacks {want:?}: {critical}");
    }
    assert!(
        critical.contains("rl-001 at muong-te: stage 290.42 m ≥ BĐ III (290 m)"),
        "{critical}"
    );
    let warning = alert_in(&snap, "sev-warning")?;
    for want in [
        "Warning",
        "Flood alarm, Nậm Giàng (Nậm Na)",
        "BĐ II",
        "rl-002",
        "ma-lu-thang",
        "210.25 ≥ 210",
    ] {
        assert!(warning.contains(want), "the warning alert lacks {want:?}: {warning}");
    }
    // The page was open before the alerts existed and its periodic alert
    // refresh is a minute away: they came over the event stream.
    let events = snap["events"].as_u64().unwrap_or(0);
    assert!(events >= 5, "transitions received over the stream: {events}\n{snap:#}");
    let recent = snap["recent"].as_array().context("recent transitions")?;
    assert!(
        recent
            .iter()
            .any(|r| r["change"] == "escalated" && r["text"].as_str().is_some_and(|t| t.contains("BĐ II → BĐ III"))),
        "the escalation to BĐ III is in the history: {recent:#?}"
    );
    for (device, site, status) in [
        ("rl-001", "muong-te", "alerting"),
        ("ls-001", "muong-te", "silent"),
        ("rl-002", "ma-lu-thang", "alerting"),
    ] {
        let row = device_row(&snap, device)?;
        assert_eq!(
            (row["site"].as_str(), row["status"].as_str()),
            (Some(site), Some(status)),
            "{row}"
        );
    }
    let rl1 = device_row(&snap, "rl-001")?["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        rl1.contains("76 %") && rl1.contains("−97 dBm"),
        "battery and signal of rl-001: {rl1}"
    );
    assert_eq!(snap["devices"].as_array().map(Vec::len), Some(6), "{snap:#}");

    // The same figures through the API the page reads.
    let (status, body) = admin::get(addr, "/api/alerts", Some(TOKEN)).await?;
    assert_eq!(status, 200, "{body}");
    let api: Value = serde_json::from_str(&body)?;
    let mut levels: Vec<_> = api["firing"]
        .as_array()
        .context("firing")?
        .iter()
        .map(|a| {
            (
                a["series"]["device_id"].as_str(),
                a["level"].as_str(),
                a["severity"].as_str(),
            )
        })
        .collect();
    levels.sort();
    assert_eq!(
        levels,
        [
            (Some("rl-001"), Some("BĐ III"), Some("critical")),
            (Some("rl-002"), Some("BĐ II"), Some("warning"))
        ]
    );

    // Without the highlight of just-arrived alerts, for a still picture.
    let reduce = json!({ "features": [{ "name": "prefers-reduced-motion", "value": "reduce" }] });
    browser
        .call(
            Some(&page.session),
            "Emulation.setEmulatedMedia",
            reduce,
            Duration::from_secs(10),
        )
        .await?;
    save_screenshot(&browser.screenshot(&page).await?)?;

    // Without the token, a new tab shows the token form and no data.
    let anonymous = browser.open(&format!("http://{addr}/")).await?;
    let snap = wait_for(&mut browser, &anonymous, "the token form", |s| {
        s["conn"] == "unauthorized" && s["login"] == true
    })
    .await?;
    assert_eq!(snap["alerts"].as_array().map(Vec::len), Some(0), "{snap:#}");
    assert_eq!(snap["devices"].as_array().map(Vec::len), Some(0), "{snap:#}");

    let errors = browser.script_errors();
    assert!(errors.is_empty(), "the page's script failed: {errors:#?}");
    // The first tab still holds its event stream open: it must not hold up
    // shutdown.
    tokio::time::timeout(Duration::from_secs(20), gw.stop())
        .await
        .context("the gateway did not stop while a console was open")?;
    drop(browser);
    eprintln!("console e2e took {:?}", started.elapsed());
    Ok(())
}

/// The simulated devices' MQTT connection.
struct Fleet {
    publisher: Publisher,
    registry: Registry,
}

impl Fleet {
    /// One reading of `sensor` from `device`: valid mid-range values, with
    /// `fields` set.
    async fn send(
        &mut self,
        site: &str,
        device: &str,
        sensor: &str,
        time_ns: i64,
        fields: &[(&str, f64)],
    ) -> anyhow::Result<()> {
        let schema = self
            .registry
            .get(sensor)
            .with_context(|| format!("no built-in {sensor}"))?;
        let mut sample = valid_sample(&schema.sample, time_ns, 1);
        for (name, v) in fields {
            let field = schema
                .sample
                .get_field_by_name(name)
                .with_context(|| format!("{sensor} has no field {name}"))?;
            sample.set_field(&field, Proto::F64(*v));
        }
        let topic = format!("telemetry/{site}/{device}/{sensor}");
        self.publisher
            .publish(&topic, batch(&schema.message, device, vec![sample]))
            .await
    }
}

/// Poll the page until `ok` holds (10 s), or fail showing what it shows.
async fn wait_for(
    browser: &mut Browser,
    page: &Page,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    wait_within(browser, page, what, Duration::from_secs(10), ok).await
}

/// [`wait_for`] with a deadline of `within`.
async fn wait_within(
    browser: &mut Browser,
    page: &Page,
    what: &str,
    within: Duration,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    browser.poll(page, SNAPSHOT_JS, what, within, ok).await
}

fn has_device(s: &Value, device: &str) -> bool {
    s["devices"]
        .as_array()
        .is_some_and(|d| d.iter().any(|r| r["device"] == device))
}

fn has_status(s: &Value, device: &str, status: &str) -> bool {
    s["devices"]
        .as_array()
        .is_some_and(|d| d.iter().any(|r| r["device"] == device && r["status"] == status))
}

fn device_row<'a>(s: &'a Value, device: &str) -> anyhow::Result<&'a Value> {
    s["devices"]
        .as_array()
        .and_then(|d| d.iter().find(|r| r["device"] == device))
        .with_context(|| format!("no row for {device}: {s:#}"))
}

/// The text of the one alert in severity group `group`.
fn alert_in(s: &Value, group: &str) -> anyhow::Result<String> {
    let found: Vec<_> = s["alerts"]
        .as_array()
        .map(|a| a.iter().filter(|x| x["group"] == group).collect())
        .unwrap_or_default();
    match found.as_slice() {
        [one] => Ok(one["text"].as_str().unwrap_or_default().to_owned()),
        _ => bail!("expected one alert in #{group}, found {}: {s:#}", found.len()),
    }
}

fn save_screenshot(png: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "not a plausible PNG ({} bytes)",
        png.len()
    );
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console.png");
    std::fs::write(&tmp, png)?;
    eprintln!("screenshot: {}", tmp.display());
    if std::env::var_os("UPDATE_DOCS_SCREENSHOT").is_some_and(|v| v == "1") {
        let docs = telegate_e2e::repo_dir().join("docs/console.png");
        std::fs::write(&docs, png).with_context(|| format!("writing {}", docs.display()))?;
        eprintln!("screenshot: {}", docs.display());
    }
    Ok(())
}
