//! The trend chart and the station map, in headless Chromium against a real
//! gateway writing to a real InfluxDB 1.x (and, for the series API alone,
//! VictoriaMetrics): readings published over MQTT are stored, read back by
//! `GET /api/series` and drawn as SVG with the rule's BĐ I/II/III lines;
//! the map's markers take their station's worst state. The page is shown in
//! Vietnamese (`Accept-Language: vi`); with `UPDATE_DOCS_SCREENSHOT=1` the
//! pictures of docs/console.md are rewritten (`docs/console-*.png`).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};
use telegate::console::series::SeriesQuery;
use telegate::console::stations::{MapConfig, Place};
use telegate_e2e::admin;
use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::rules::{flood_muong_te_vi, flood_nam_giang_vi};
use telegate_e2e::servers::{Influxd, Mosquitto, Victoria};
use telegate_influx::ApiVersion;
use telegate_model::Secret;
use telegate_schema::Registry;

use super::cdp::{Browser, Page};
use super::{Fleet, TOKEN, now_ns};

/// rg-001 falls silent before the others report; the others must still be
/// fresh when the map is checked.
const SILENT_AFTER: Duration = Duration::from_secs(10);

/// Both stations' flood levels, and a device deadman (which makes the
/// evaluator read every sensor type, so the registry lists them all).
fn rules() -> String {
    format!(
        "{}{}{}",
        flood_muong_te_vi(),
        flood_nam_giang_vi(),
        r#"
[[rule]]
id = "device-offline"
name = "Mất kết nối thiết bị"
kind = "deadman"
cadence = "10m"
severity = "warning"
level_name = "offline"
message = "{device_id} tại {site}: không có số liệu trong {silence}"
"#
    )
}

/// A gateway with [`rules`], the admin token, and `config` changed by `set`.
async fn gateway(
    name: &str,
    broker: &Mosquitto,
    db_url: &str,
    dir: &std::path::Path,
    set: impl FnOnce(&mut telegate::Config),
) -> anyhow::Result<(Gateway, std::net::SocketAddr, Fleet)> {
    let rules_file = dir.join("alerts.toml");
    std::fs::write(&rules_file, rules())?;
    let mut config = test_config(name, broker.port(), db_url);
    config.admin.token = Secret::new(TOKEN);
    config.alerts.rules_file = rules_file.display().to_string();
    config.alerts.state_file = dir.join("alerts-state.json").display().to_string();
    set(&mut config);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().context("admin listener")?;
    let fleet = Fleet {
        publisher: Publisher::connect(&format!("{name}-fleet"), broker.port()).await?,
        registry: Registry::builtin(&Default::default())?,
    };
    Ok((gw, addr, fleet))
}

/// Where the stations are (approximately: Mường Tè town, Ma Lù Thàng gate).
fn map() -> MapConfig {
    let place = |lat: f64, lon: f64, name: &str| Place {
        lat,
        lon,
        name: name.into(),
    };
    MapConfig {
        sites: [
            ("muong-te".to_owned(), place(22.377, 102.832, "Mường Tè")),
            ("ma-lu-thang".to_owned(), place(22.527, 103.125, "Ma Lù Thàng")),
        ]
        .into(),
        devices: [
            ("rl-001".to_owned(), place(22.370, 102.845, "Trạm thủy văn Mường Tè")),
            ("rl-002".to_owned(), place(22.480, 103.070, "Trạm Nậm Giàng")),
            ("rl-009".to_owned(), place(22.300, 102.950, "Trạm Pa Tần (chưa lắp)")),
        ]
        .into(),
    }
}

/// The stage of rl-001 at Mường Tè: two readings older than 6 h, then a
/// flood rising through BĐ I, II and III in the last hours.
const RL1: [(i64, f64); 14] = [
    (20 * 60, 285.90),
    (7 * 60, 286.10),
    (300, 286.20),
    (270, 286.40),
    (240, 286.70),
    (210, 287.10),
    (180, 287.60),
    (150, 288.10),
    (120, 288.60),
    (100, 289.05),
    (80, 289.50),
    (60, 289.85),
    (40, 290.20),
    (20, 290.42),
];

/// The DOM the test reads: map markers, the trend panel, the chart.
const VIEWS_JS: &str = r#"(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const trend = document.getElementById('trend');
  const svg = document.querySelector('#trend-chart svg');
  return {
    conn: document.getElementById('conn')?.dataset.state ?? null,
    markers: all('#map g.marker').map((m) => ({ device: m.dataset.device, state: m.dataset.state, fill: getComputedStyle(m.querySelector('circle')).fill })),
    sites: all('#map g.site').map((s) => ({ site: s.dataset.site, state: s.dataset.state })),
    alerts: all('#firing article.alert').map((a) => a.dataset.device),
    devices: all('#devices tr[data-device]').map((r) => ({ device: r.dataset.device, status: r.dataset.status })),
    trend: trend ? { hidden: trend.hidden, state: trend.dataset.state ?? null, device: trend.dataset.device ?? null, range: trend.dataset.range ?? null,
      title: document.getElementById('trend-h')?.textContent ?? null, note: document.getElementById('trend-note')?.textContent ?? null } : null,
    chart: svg ? { points: Number(svg.dataset.points), dots: svg.querySelectorAll('.trend-points circle').length,
      polyline: (svg.querySelector('polyline.trend-line')?.getAttribute('points') || '').trim().split(/\s+/).filter(Boolean).length,
      levels: all('#trend-chart line.level').map((l) => ({ name: l.dataset.level, value: Number(l.dataset.value), cls: l.getAttribute('class') })),
      labels: all('#trend-chart text.level-label').map((t) => t.textContent), device: svg.dataset.device, range: svg.dataset.range,
      values: all('#trend-chart .trend-points circle').map((c) => Number(c.dataset.v)) } : null,
    mapTitle: document.getElementById('stations-h')?.textContent ?? null,
  };
})()"#;

async fn views(browser: &mut Browser, page: &Page) -> anyhow::Result<Value> {
    browser.eval(page, VIEWS_JS).await?.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Poll [`VIEWS_JS`] until `ok` holds (15 s).
async fn wait_views(
    browser: &mut Browser,
    page: &Page,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = views(browser, page).await;
        if let Ok(v) = &v
            && ok(v)
        {
            return Ok(v.clone());
        }
        if Instant::now() >= deadline {
            bail!(
                "the console did not show {what}; script errors: {:?}; it shows: {v:#?}",
                browser.script_errors()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Open `url` in a new tab that reads as a Vietnamese browser
/// (`navigator.languages` = vi-VN, vi; `Accept-Language` likewise).
async fn open_vietnamese(browser: &mut Browser, url: &str) -> anyhow::Result<Page> {
    let page = browser.open("about:blank").await?;
    let version = browser
        .call(None, "Browser.getVersion", json!({}), Duration::from_secs(10))
        .await?;
    let ua = version["userAgent"].as_str().unwrap_or("Mozilla/5.0").to_owned();
    let s = Some(page.session.as_str());
    browser
        .call(
            s,
            "Emulation.setUserAgentOverride",
            json!({ "userAgent": ua, "acceptLanguage": "vi-VN,vi" }),
            Duration::from_secs(10),
        )
        .await?;
    browser
        .call(
            s,
            "Emulation.setLocaleOverride",
            json!({ "locale": "vi-VN" }),
            Duration::from_secs(10),
        )
        .await?;
    let reduce = json!({ "features": [{ "name": "prefers-reduced-motion", "value": "reduce" }] });
    browser
        .call(s, "Emulation.setEmulatedMedia", reduce, Duration::from_secs(10))
        .await?;
    browser
        .call(s, "Page.navigate", json!({ "url": url }), Duration::from_secs(20))
        .await?;
    Ok(page)
}

/// Click what `selector` finds (a JS click: the page's own handlers run).
async fn click(browser: &mut Browser, page: &Page, selector: &str) -> anyhow::Result<()> {
    let js = format!(
        "(() => {{ const n = document.querySelector({sel}); if (!n) return false; \
         n.dispatchEvent(new MouseEvent('click', {{ bubbles: true }})); return true; }})()",
        sel = serde_json::to_string(selector)?
    );
    match browser.eval(page, &js).await? {
        Ok(Value::Bool(true)) => Ok(()),
        other => bail!("nothing to click at {selector}: {other:?}"),
    }
}

/// Save a screenshot under the target dir, and to docs/ when asked
/// (`UPDATE_DOCS_SCREENSHOT=1`): the pictures of docs/console.md.
pub(super) async fn picture(browser: &mut Browser, page: &Page, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot(page).await?;
    ensure!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "not a plausible PNG"
    );
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&tmp, &png)?;
    eprintln!("screenshot: {}", tmp.display());
    if std::env::var_os("UPDATE_DOCS_SCREENSHOT").is_some_and(|v| v == "1") {
        let docs = telegate_e2e::repo_dir().join("docs").join(name);
        std::fs::write(&docs, &png).with_context(|| format!("writing {}", docs.display()))?;
        eprintln!("screenshot: {}", docs.display());
    }
    Ok(())
}

/// `[(name, value)]` of a JSON array of levels (API or chart).
fn named_levels(levels: &Value) -> Vec<(String, f64)> {
    levels
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["name"].as_str().unwrap_or_default().to_owned(),
                l["value"].as_f64().unwrap_or(0.0),
            )
        })
        .collect()
}

/// Mường Tè's BĐ I, II and III.
fn muong_te_levels() -> Vec<(String, f64)> {
    vec![
        ("BĐ I".into(), 287.0),
        ("BĐ II".into(), 288.5),
        ("BĐ III".into(), 290.0),
    ]
}

fn marker_state(v: &Value, device: &str) -> Option<String> {
    v["markers"]
        .as_array()?
        .iter()
        .find(|m| m["device"] == device)
        .and_then(|m| m["state"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trend_chart_and_station_map_in_headless_chromium_in_vietnamese() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let (gw, addr, mut fleet) = gateway("gw-views", &broker, &influx.url(), dir.path(), |c| {
        c.alerts.silent_after = SILENT_AFTER;
        c.map = map();
    })
    .await?;
    let now = now_ns();
    let min = 60_000_000_000_i64;
    // A rain gauge reports once, then nothing: silent on the map.
    fleet
        .send("muong-te", "rg-001", "rain_gauge", now - 30 * min, &[])
        .await?;
    fleet.publisher.flush().await?;
    tokio::time::sleep(SILENT_AFTER + Duration::from_millis(300)).await;
    for (ago, stage) in RL1 {
        fleet
            .send(
                "muong-te",
                "rl-001",
                "river_level",
                now - ago * min,
                &[("stage_m", stage)],
            )
            .await?;
    }
    for (ago, stage) in [(90, 208.70), (45, 209.40), (15, 210.25)] {
        fleet
            .send(
                "ma-lu-thang",
                "rl-002",
                "river_level",
                now - ago * min,
                &[("stage_m", stage)],
            )
            .await?;
    }
    fleet
        .send("ma-lu-thang", "wb-01", "weighbridge", now - 2 * min, &[])
        .await?;
    fleet.publisher.flush().await?;
    gw.wait_acked(19).await?;
    eventually(Duration::from_secs(10), || async {
        let n = influx
            .rows(
                "telegate",
                "SELECT count(stage_m) FROM river_level WHERE device_id = 'rl-001'",
            )
            .await?
            .pop()
            .and_then(|r| r["count"].as_u64());
        Ok((n == Some(RL1.len() as u64)).then_some(()))
    })
    .await?;

    // The API first: every stored point, the levels, names refused.
    let (status, body) = admin::get(addr, "/api/series?device=rl-001", Some(TOKEN)).await?;
    ensure!(status == 200, "{status} {body}");
    let s: Value = serde_json::from_str(&body)?;
    ensure!(
        s["measurement"] == "river_level" && s["field"] == "stage_m" && s["range"] == "24h",
        "{s}"
    );
    ensure!(
        s["points"].as_array().map(Vec::len) == Some(RL1.len()),
        "every stored point: {s}"
    );
    ensure!(
        s["points"][RL1.len() - 1][1] == 290.42 && s["downsampled"] == false,
        "{s}"
    );
    let levels = named_levels(&s["levels"]);
    ensure!(levels == muong_te_levels(), "{levels:?}");
    let (_, body) = admin::get(
        addr,
        "/api/series?device=rl-001&rule=flood-muong-te&range=6h",
        Some(TOKEN),
    )
    .await?;
    let six: Value = serde_json::from_str(&body)?;
    ensure!(
        six["points"].as_array().map(Vec::len) == Some(RL1.len() - 2),
        "6 h: {six}"
    );
    let (status, body) = admin::get(addr, "/api/series?device=rl-002&range=7d", Some(TOKEN)).await?;
    let nam_giang: Value = serde_json::from_str(&body)?;
    ensure!(status == 200 && nam_giang["levels"][2]["value"] == 211.5, "{body}");
    for (path, want) in [
        (
            "/api/series?device=rl-001'%20OR%20'1'='1&field=stage_m&measurement=river_level",
            400,
        ),
        (
            "/api/series?device=rl-001&field=stage_m%22%20FROM%20x&measurement=river_level",
            400,
        ),
        ("/api/series?device=rl-001&range=1y", 400),
        ("/api/series?device=rl-001&rule=nope", 404),
        ("/api/series?device=nobody", 404),
    ] {
        let (status, body) = admin::get(addr, path, Some(TOKEN)).await?;
        ensure!(status == want && body.contains("\"error\""), "{path}: {status} {body}");
    }
    ensure!(
        admin::get(addr, "/api/series?device=rl-001", None).await?.0 == 401,
        "behind the token"
    );
    ensure!(
        admin::get(addr, "/api/stations", None).await?.0 == 401,
        "behind the token"
    );

    let (_, body) = admin::get(addr, "/api/stations", Some(TOKEN)).await?;
    let st: Value = serde_json::from_str(&body)?;
    let state = |d: &str| {
        st["stations"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["device_id"] == d))
            .map(|s| (s["state"].clone(), s["placed"].clone()))
    };
    ensure!(state("rl-001") == Some((json!("critical"), json!("device"))), "{st:#}");
    ensure!(state("rl-002") == Some((json!("warning"), json!("device"))), "{st:#}");
    ensure!(state("rg-001") == Some((json!("silent"), json!("site"))), "{st:#}");
    ensure!(state("wb-01") == Some((json!("ok"), json!("site"))), "{st:#}");
    ensure!(state("rl-009") == Some((json!("unknown"), json!("device"))), "{st:#}");

    // The console, as a Vietnamese operator opens it.
    let mut browser = Browser::start(1366, 900, &dir.path().join("chromium.log")).await?;
    let page = open_vietnamese(&mut browser, &format!("http://{addr}/#token={TOKEN}")).await?;
    let v = wait_views(&mut browser, &page, "five markers in their states", |v| {
        v["conn"] == "live"
            && v["markers"].as_array().map_or(0, Vec::len) == 5
            && marker_state(v, "rg-001").as_deref() == Some("silent")
            && v["alerts"].as_array().map_or(0, Vec::len) >= 2
    })
    .await?;
    for (device, want, fill) in [
        ("rl-001", "critical", "rgb(179, 38, 30)"),
        ("rl-002", "warning", "rgb(224, 145, 0)"),
        ("rg-001", "silent", "rgb(89, 96, 106)"),
        ("wb-01", "ok", "rgb(30, 122, 60)"),
        ("rl-009", "unknown", "rgb(255, 255, 255)"),
    ] {
        let m = v["markers"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["device"] == device))
            .context(device)?;
        ensure!(
            m["state"] == want && m["fill"] == fill,
            "marker {device}: {m} (want {want}, {fill})"
        );
    }
    let sites: Vec<(String, String)> = v["sites"]
        .as_array()
        .context("sites")?
        .iter()
        .map(|s| {
            (
                s["site"].as_str().unwrap_or_default().into(),
                s["state"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    ensure!(
        sites
            == [
                ("ma-lu-thang".into(), "warning".into()),
                ("muong-te".into(), "critical".into())
            ],
        "{sites:?}"
    );
    ensure!(v["mapTitle"] == "Bản đồ trạm", "in Vietnamese: {}", v["mapTitle"]);
    picture(&mut browser, &page, "console-map.png").await?;

    // Clicking the critical alert opens rl-001's chart: every stored point
    // of the last 24 h, and the three BĐ lines.
    click(&mut browser, &page, "#firing article.alert[data-device=\"rl-001\"]").await?;
    let v = wait_views(&mut browser, &page, "rl-001's chart", |v| {
        v["trend"]["state"] == "ready" && v["chart"]["device"] == "rl-001" && v["chart"]["range"] == "24h"
    })
    .await?;
    let chart = &v["chart"];
    ensure!(
        chart["points"] == RL1.len() && chart["dots"] == RL1.len() && chart["polyline"] == RL1.len(),
        "{chart:#}"
    );
    let mut values: Vec<f64> = chart["values"]
        .as_array()
        .context("values")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    values.sort_by(f64::total_cmp);
    let mut stored: Vec<f64> = RL1.iter().map(|(_, s)| *s).collect();
    stored.sort_by(f64::total_cmp);
    ensure!(values == stored, "the chart's points are the stored ones: {values:?}");
    let lines = named_levels(&chart["levels"]);
    ensure!(lines == muong_te_levels(), "{lines:?}");
    ensure!(
        chart["labels"] == json!(["BĐ I 287", "BĐ II 288,5", "BĐ III 290"]),
        "{chart:#}"
    );
    ensure!(
        v["trend"]["title"] == "Diễn biến rl-001 · stage_m"
            && v["trend"]["note"]
                .as_str()
                .is_some_and(|n| n.starts_with("14 điểm từ 14 mẫu")),
        "{:#}",
        v["trend"]
    );
    picture(&mut browser, &page, "console-trend.png").await?;

    // 6 h: the two older readings leave the chart.
    click(&mut browser, &page, "#trend button[data-range=\"6h\"]").await?;
    let v = wait_views(&mut browser, &page, "the 6 h range", |v| {
        v["trend"]["state"] == "ready" && v["chart"]["range"] == "6h"
    })
    .await?;
    ensure!(v["chart"]["points"] == RL1.len() - 2, "{:#}", v["chart"]);

    // A station on the map opens its own chart (its own station's levels).
    click(&mut browser, &page, "#map g.marker[data-device=\"rl-002\"]").await?;
    let v = wait_views(&mut browser, &page, "rl-002's chart from the map", |v| {
        v["trend"]["state"] == "ready" && v["chart"]["device"] == "rl-002"
    })
    .await?;
    ensure!(v["chart"]["points"] == 3, "{:#}", v["chart"]);
    ensure!(
        v["chart"]["labels"] == json!(["BĐ I 208,5", "BĐ II 210", "BĐ III 211,5"]),
        "{:#}",
        v["chart"]
    );
    // And a device row opens the chart of a device.
    click(&mut browser, &page, "#devices tr[data-device=\"rl-001\"]").await?;
    wait_views(&mut browser, &page, "rl-001's chart from its row", |v| {
        v["trend"]["state"] == "ready" && v["chart"]["device"] == "rl-001"
    })
    .await?;
    let errors = browser.script_errors();
    ensure!(errors.is_empty(), "the page's scripts failed: {errors:#?}");
    drop(browser);
    tokio::time::timeout(Duration::from_secs(20), gw.stop())
        .await
        .context("gateway stop")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_are_read_back_from_victoria_metrics() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let vm = Victoria::start().await?;
    let dir = tempfile::tempdir()?;
    let (gw, addr, mut fleet) = gateway("gw-views-vm", &broker, &vm.url(), dir.path(), |c| {
        c.influx.api = ApiVersion::V2;
        c.influx.org = "lai-chau".into();
        c.influx.bucket = "telegate".into();
        c.influx.token = "unused-by-victoria".into();
        c.trend.query = SeriesQuery::Prometheus;
    })
    .await?;
    let now = now_ns();
    let min = 60_000_000_000_i64;
    for (ago, stage) in [(600, 285.5), (50, 286.9), (40, 287.4), (30, 288.0), (20, 288.7)] {
        fleet
            .send(
                "muong-te",
                "rl-001",
                "river_level",
                now - ago * min,
                &[("stage_m", stage)],
            )
            .await?;
    }
    fleet.publisher.flush().await?;
    gw.wait_acked(5).await?;
    let s = eventually(Duration::from_secs(15), || async {
        vm.force_flush().await?;
        let (status, body) = admin::get(addr, "/api/series?device=rl-001&range=6h", Some(TOKEN)).await?;
        ensure!(status == 200, "{status} {body}");
        let s: Value = serde_json::from_str(&body)?;
        Ok((s["points"].as_array().map(Vec::len) == Some(4)).then_some(s))
    })
    .await?;
    ensure!(s["source"] == "prometheus", "{s}");
    let got: Vec<f64> = s["points"]
        .as_array()
        .context("points")?
        .iter()
        .filter_map(|p| p[1].as_f64())
        .collect();
    ensure!(
        got == [286.9, 287.4, 288.0, 288.7],
        "oldest first, the 10 h old one outside 6 h: {got:?}"
    );
    ensure!(s["levels"].as_array().map(Vec::len) == Some(3), "{s}");
    let (_, body) = admin::get(addr, "/api/series?device=rl-001&range=24h", Some(TOKEN)).await?;
    let day: Value = serde_json::from_str(&body)?;
    ensure!(day["points"].as_array().map(Vec::len) == Some(5), "{day}");
    gw.stop().await;
    Ok(())
}
