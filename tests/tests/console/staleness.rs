//! What the console shows when the picture goes stale, in headless
//! Chromium against a real gateway: a BĐ II → BĐ III escalation moves the
//! card to the top with "since" = the escalation; a device that falls
//! silent while alerting shows its age and "silent" within
//! `silent_after` + 10 s; after a gateway restart every device (also those
//! no rule reads) is listed again with its true last-seen time; a
//! decommissioned device is gone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use telegate_e2e::admin;
use telegate_e2e::client::Publisher;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::rules::{MESSAGE_EN, MUONG_TE};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_model::Secret;
use telegate_schema::Registry;

use super::cdp::Browser;
use super::{Fleet, TOKEN, device_row, now_ns, wait_for, wait_within};

const SILENT_AFTER: Duration = Duration::from_secs(4);

/// Mường Tè's flood levels only: lane counters and weighbridges are read by
/// no rule, and must be listed all the same.
fn alert_rules() -> String {
    MUONG_TE.rule("Flood alarm, Mường Tè (Đà)").message(MESSAGE_EN).toml()
}

fn last_seen(devices: &Value) -> BTreeMap<String, (i64, i64)> {
    devices["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["device_id"].as_str().unwrap_or_default().to_owned(),
                (
                    d["first_seen_ns"].as_i64().unwrap_or(-1),
                    d["last_seen_ns"].as_i64().unwrap_or(-1),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_silence_and_restart_in_headless_chromium() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(&rules, alert_rules())?;
    let mut config = test_config("gw-staleness", broker.port(), &influx.url());
    config.admin.token = Secret::new(TOKEN);
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.path().join("alerts-state.json").display().to_string();
    config.alerts.silent_after = SILENT_AFTER;
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().context("the gateway's admin listener")?;
    let mut fleet = Fleet {
        publisher: Publisher::connect("staleness-fleet", broker.port()).await?,
        registry: Registry::builtin(&Default::default())?,
    };
    let now = now_ns();
    let min = 60_000_000_000_i64;

    // Devices no rule reads.
    fleet
        .send("ma-lu-thang", "lc-01", "lane_counter", now - 3 * min, &[])
        .await?;
    fleet
        .send("ma-lu-thang", "wb-01", "weighbridge", now - 3 * min, &[])
        .await?;
    // rl-001's episode starts first (BĐ I, then BĐ II); rl-009 reaches
    // BĐ III later in one step.
    for (t, stage) in [(40, 286.40), (35, 287.35), (30, 288.70)] {
        fleet
            .send(
                "muong-te",
                "rl-001",
                "river_level",
                now - t * min,
                &[("stage_m", stage)],
            )
            .await?;
    }
    fleet
        .send(
            "muong-te",
            "rl-009",
            "river_level",
            now - 20 * min,
            &[("stage_m", 290.10)],
        )
        .await?;
    fleet.publisher.flush().await?;

    let log = dir.path().join("chromium.log");
    let mut browser = Browser::start(1366, 768, &log).await?;
    let page = browser.open(&format!("http://{addr}/#token={TOKEN}")).await?;
    wait_for(&mut browser, &page, "rl-009 critical, rl-001 warning, 4 devices", |s| {
        s["conn"] == "live"
            && s["alerts"].as_array().map_or(0, Vec::len) == 2
            && s["alerts"][0]["device"] == "rl-009"
            && s["devices"].as_array().map_or(0, Vec::len) == 4
    })
    .await?;

    // BĐ II → BĐ III at rl-001: its card goes to the top, since = now.
    // A live reading (a minute old), unlike the backlog above.
    let escalated_at = now_ns() - min;
    fleet
        .send(
            "muong-te",
            "rl-001",
            "river_level",
            escalated_at,
            &[("stage_m", 290.42)],
        )
        .await?;
    fleet.publisher.flush().await?;
    let last_reading = Instant::now();
    let snap = wait_for(&mut browser, &page, "rl-001's BĐ III card on top", |s| {
        s["alerts"][0]["device"] == "rl-001" && s["alerts"][0]["group"] == "sev-critical"
    })
    .await?;
    let top = &snap["alerts"][0];
    // JavaScript numbers hold ns times to within a few hundred ns.
    let since: f64 = top["since"].as_str().unwrap_or_default().parse()?;
    assert!(
        (since - escalated_at as f64).abs() < 1e3,
        "since {since} vs {escalated_at}: {snap:#}"
    );
    assert!(
        top["text"]
            .as_str()
            .is_some_and(|t| t.contains("BĐ III") && t.contains("episode from")),
        "{top}"
    );
    assert_eq!(snap["alerts"][1]["device"], "rl-009", "{snap:#}");

    // Recent transitions: the info row (BĐ I) collapsed, the rest by event
    // time, newest first; the backfilled ones (20-40 min old on arrival)
    // marked late, the live escalation not.
    let recent: Vec<(String, String, String)> = snap["recent"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (s("change"), s("severity"), s("late"))
        })
        .collect();
    let want = |c: &str, s: &str, l: &str| (c.to_owned(), s.to_owned(), l.to_owned());
    assert_eq!(
        recent,
        [
            want("escalated", "critical", "false"),
            want("fired", "critical", "true"),
            want("escalated", "warning", "true"),
        ],
        "{snap:#}"
    );
    assert_eq!(snap["infoHidden"], 1, "{snap:#}");
    // Filter: critical only.
    browser
        .eval(
            &page,
            "(() => { const s = document.getElementById('f-severity'); s.value = 'critical'; \
             s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()",
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let snap = wait_for(&mut browser, &page, "only critical transitions", |s| {
        s["recent"]
            .as_array()
            .is_some_and(|r| r.len() == 2 && r.iter().all(|x| x["severity"] == "critical"))
    })
    .await?;
    assert_eq!(snap["infoHidden"], 0, "{snap:#}");
    let (status, body) = admin::get(addr, "/api/alerts", Some(TOKEN)).await?;
    assert_eq!(status, 200, "{body}");
    let api: Value = serde_json::from_str(&body)?;
    assert_eq!(api["firing"][0]["series"]["device_id"], "rl-001", "{api:#}");
    assert_eq!(api["firing"][0]["since_ns"].as_i64(), Some(escalated_at));
    assert_eq!(api["firing"][0]["episode_start_ns"].as_i64(), Some(now - 35 * min));

    // rl-001 says nothing more: silent while alerting, shown within
    // silent_after + 10 s of its last reading.
    let budget = SILENT_AFTER + Duration::from_secs(10);
    let snap = wait_within(&mut browser, &page, "rl-001 silent and alerting", budget, |s| {
        s["alerts"][0]["device"] == "rl-001"
            && s["alerts"][0]["silent"] == "true"
            && s["devices"]
                .as_array()
                .is_some_and(|d| d.iter().any(|r| r["device"] == "rl-001" && r["status"] == "silent"))
    })
    .await?;
    let shown_after = last_reading.elapsed();
    assert!(shown_after <= budget, "silent shown after {shown_after:?}");
    let card = snap["alerts"][0]["text"].as_str().unwrap_or_default();
    assert!(
        card.contains("SILENT") && card.contains("last reading") && card.contains("290.42"),
        "{card}"
    );
    let row = device_row(&snap, "rl-001")?;
    assert_eq!(row["alerting"], "true", "alerting and silent, both shown: {row}");
    let row_text = row["text"].as_str().unwrap_or_default();
    assert!(
        row_text.contains("silent") && row_text.contains("alerting") && row_text.contains("ago"),
        "{row_text}"
    );
    assert!(snap["silentCount"].as_u64().is_some_and(|n| n >= 1), "{snap:#}");
    eprintln!("rl-001 shown silent {shown_after:?} after its last reading (silent_after {SILENT_AFTER:?})");

    // Restart: every device again, with its true first and last seen.
    let (_, body) = admin::get(addr, "/api/devices", Some(TOKEN)).await?;
    let before = last_seen(&serde_json::from_str(&body)?);
    assert_eq!(before.len(), 4, "{before:?}");
    tokio::time::timeout(Duration::from_secs(20), gw.stop())
        .await
        .context("stop")?;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().context("the restarted gateway's admin listener")?;
    let (status, body) = admin::get(addr, "/api/devices", Some(TOKEN)).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(last_seen(&serde_json::from_str(&body)?), before, "restored registry");
    let page = browser.open(&format!("http://{addr}/#token={TOKEN}")).await?;
    let snap = wait_for(&mut browser, &page, "every device listed again, silent", |s| {
        s["devices"]
            .as_array()
            .is_some_and(|d| d.len() == 4 && d.iter().all(|r| r["status"] == "silent"))
    })
    .await?;
    for (device, (_, seen)) in &before {
        let row = device_row(&snap, device)?;
        let shown: f64 = row["lastSeen"].as_str().unwrap_or_default().parse()?;
        assert!((shown - *seen as f64).abs() < 1e3, "{device}: {shown} vs {seen}: {row}");
    }
    assert_eq!(snap["silentCount"], 4, "{snap:#}");

    // Decommission: gone from the list and the saved state.
    let (status, body) = admin::delete(addr, "/api/devices/lc-01", Some(TOKEN)).await?;
    assert_eq!(status, 200, "{body}");
    let (status, _) = admin::delete(addr, "/api/devices/lc-01", Some(TOKEN)).await?;
    assert_eq!(status, 404);
    let (_, body) = admin::get(addr, "/api/devices", Some(TOKEN)).await?;
    let after = last_seen(&serde_json::from_str(&body)?);
    assert_eq!(
        after.keys().map(String::as_str).collect::<Vec<_>>(),
        ["rl-001", "rl-009", "wb-01"]
    );

    let errors = browser.script_errors();
    assert!(errors.is_empty(), "the page's script failed: {errors:#?}");
    tokio::time::timeout(Duration::from_secs(20), gw.stop())
        .await
        .context("stop")?;
    drop(browser);
    Ok(())
}
