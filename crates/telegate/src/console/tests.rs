//! The API handlers driven through the routers (`tower::ServiceExt::oneshot`)
//! with an [`AlertHub`] fed directly, and static checks of the page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt as _;
use telegate_alert::{ActiveAlert, AlertState, Change, SeriesKey, Severity, Transition};
use telegate_model::{FieldValue, Point, Secret};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::*;
use crate::admin::{self, AdminState};
use crate::stats::Stats;

fn series(device: &str, site: &str) -> SeriesKey {
    SeriesKey {
        measurement: Some("river_level".into()),
        device_id: Some(device.into()),
        site: Some(site.into()),
        tags: BTreeMap::new(),
    }
}

fn transition(n: i64, change: Change, level: &str, severity: Severity) -> Transition {
    Transition {
        alert_id: format!("a{n:015}"),
        rule_id: "flood-muong-te".into(),
        rule_name: "Flood alarm, Mường Tè (Đà)".into(),
        level: level.into(),
        previous_level: None,
        severity,
        series: series("rl-001", "muong-te"),
        from: AlertState::Ok,
        to: AlertState::Firing,
        change,
        value: Some(290.42),
        threshold: Some(290.0),
        values: BTreeMap::new(),
        event_time_ns: 1_700_000_000_000_000_000 + n,
        episode_start_ns: 1_700_000_000_000_000_000,
        evaluated_at_ns: 1_700_000_000_100_000_000 + n,
        late: false,
        silenced_by: None,
        message: "rl-001 at muong-te: stage 290.42 m ≥ BĐ III (290 m)".into(),
    }
}

fn active(t: &Transition) -> ActiveAlert {
    ActiveAlert {
        alert_id: t.alert_id.clone(),
        rule_id: t.rule_id.clone(),
        rule_name: t.rule_name.clone(),
        level: t.level.clone(),
        severity: t.severity,
        series: t.series.clone(),
        since_ns: t.event_time_ns - 600_000_000_000,
        episode_start_ns: t.episode_start_ns,
        fired_ns: t.event_time_ns,
        last_notified_ns: t.evaluated_at_ns,
        flapping: false,
        value: t.value,
        threshold: t.threshold,
        message: t.message.clone(),
    }
}

fn health(device: &str, site: &str, battery: f64, rsrp: f64) -> Point {
    Point {
        measurement: "device_health".into(),
        tags: vec![("device_id".into(), device.into()), ("site".into(), site.into())],
        fields: vec![
            ("battery_pct".into(), FieldValue::Float(battery)),
            ("rsrp_dbm".into(), FieldValue::Float(rsrp)),
        ],
        time_ns: 1_700_000_000_000_000_000,
    }
}

async fn get(app: &Router, uri: &str, bearer: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(uri);
    if let Some(t) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("a valid request"))
        .await
        .expect("routers are infallible");
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("a complete body");
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test]
async fn alerts_lists_firing_and_recent_newest_first() {
    let hub = AlertHub::new(Duration::from_secs(1800));
    let first = transition(1, Change::Fired, "BĐ II", Severity::Warning);
    let second = transition(1, Change::Escalated, "BĐ III", Severity::Critical);
    hub.publish(first);
    hub.publish(second.clone());
    hub.set_firing(vec![active(&second)]);
    let app = api_router(hub, CancellationToken::new());

    let (status, headers, body) = get(&app, "/api/alerts", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let v = json(&body);
    assert!(
        v["now_ns"].as_i64().is_some_and(|n| n > 1_700_000_000_000_000_000),
        "{v}"
    );
    let firing = &v["firing"][0];
    assert_eq!(firing["rule_name"], "Flood alarm, Mường Tè (Đà)");
    assert_eq!(firing["level"], "BĐ III");
    assert_eq!(firing["severity"], "critical");
    assert_eq!(firing["series"]["device_id"], "rl-001");
    assert_eq!(firing["series"]["site"], "muong-te");
    assert_eq!(firing["value"], 290.42);
    assert_eq!(firing["threshold"], 290.0);
    assert!(firing["since_ns"].is_i64());
    let recent = v["recent"].as_array().expect("recent is a list");
    let changes: Vec<_> = recent.iter().map(|t| t["change"].as_str()).collect();
    assert_eq!(changes, [Some("escalated"), Some("fired")], "newest first");
    assert_eq!(recent[0]["to"], "firing");
}

#[tokio::test]
async fn devices_report_health_and_status() {
    let hub = AlertHub::new(Duration::from_secs(1800));
    let now = now_ns();
    let mut engine = telegate_alert::Engine::new(
        telegate_alert::AlertConfig::from_toml_str("", "rules.toml").expect("no rules is a valid file"),
    );
    engine.observe(&health("rl-001", "muong-te", 76.0, -97.0), now);
    engine.observe(&health("lc-01", "ma-lu-thang", 12.0, -84.0), now - 3_600_000_000_000);
    hub.set_devices(engine.devices().cloned());
    hub.set_firing(vec![active(&transition(
        1,
        Change::Fired,
        "BĐ III",
        Severity::Critical,
    ))]);
    let app = api_router(hub, CancellationToken::new());

    let (status, _, body) = get(&app, "/api/devices", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    let devices = v["devices"].as_array().expect("devices is a list");
    let summary: Vec<_> = devices
        .iter()
        .map(|d| {
            (
                d["site"].as_str(),
                d["device_id"].as_str(),
                d["status"].as_str(),
                d["battery_pct"].as_f64(),
                d["signal_dbm"].as_f64(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some("ma-lu-thang"),
                Some("lc-01"),
                Some("silent"),
                Some(12.0),
                Some(-84.0)
            ),
            (
                Some("muong-te"),
                Some("rl-001"),
                Some("alerting"),
                Some(76.0),
                Some(-97.0)
            ),
        ],
        "sorted by site, silent after 30 min, alerting while an alert names the device"
    );
    assert_eq!(devices[1]["sensor_types"][0], "device_health");
    assert!(devices[1]["last_seen_ns"].is_i64());
}

/// Read the event stream until it holds `n` events or `within` passes.
async fn events(body: Body, n: usize, within: Duration) -> Vec<(String, String)> {
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.matches("\n\n").count() >= n {
                break;
            }
        }
    })
    .await;
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::to_owned)
                    .unwrap_or_default()
            };
            (field("event: "), field("data: "))
        })
        .collect()
}

async fn open_stream(app: &Router) -> Body {
    let resp = app
        .clone()
        .oneshot(
            Request::get("/api/events")
                .body(Body::empty())
                .expect("a valid request"),
        )
        .await
        .expect("routers are infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    resp.into_body()
}

#[tokio::test]
async fn events_stream_each_transition_as_json() {
    let hub = AlertHub::new(Duration::from_secs(1800));
    let app = api_router(hub.clone(), CancellationToken::new());
    let body = open_stream(&app).await;
    // The handler has subscribed once its response exists.
    hub.publish(transition(7, Change::Fired, "BĐ III", Severity::Critical));
    hub.publish(transition(8, Change::Fired, "BĐ II", Severity::Warning));
    let got = events(body, 2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|(e, _)| e == "transition"), "{got:?}");
    let first = json(&got[0].1);
    assert_eq!(first["alert_id"], "a000000000000007");
    assert_eq!(first["level"], "BĐ III");
    assert_eq!(first["severity"], "critical");
    assert_eq!(first["series"]["device_id"], "rl-001");
    assert_eq!(json(&got[1].1)["level"], "BĐ II");
}

#[tokio::test]
async fn a_lagging_client_is_told_and_skips_ahead() {
    let hub = AlertHub::new(Duration::from_secs(1800));
    let app = api_router(hub.clone(), CancellationToken::new());
    let body = open_stream(&app).await;
    // More than the hub's channel holds, before the client reads anything:
    // publishing never waits for it.
    let total = 300;
    for n in 0..total {
        hub.publish(transition(n, Change::Fired, "BĐ I", Severity::Info));
    }
    let got = events(body, 2, Duration::from_secs(5)).await;
    assert_eq!(got.first().map(|(e, _)| e.as_str()), Some("lagged"), "{got:?}");
    let skipped = json(&got[0].1)["skipped"].as_i64().expect("skipped is a number");
    assert!(skipped > 0 && skipped < total, "skipped {skipped}");
    // It continues with the oldest transition the channel still holds.
    let next = json(&got[1].1);
    assert_eq!(got[1].0, "transition");
    assert_eq!(next["alert_id"], format!("a{skipped:015}"));
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let hub = AlertHub::new(Duration::from_secs(1800));
    let stop = CancellationToken::new();
    let app = api_router(hub, stop.clone());
    let body = open_stream(&app).await;
    stop.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(5), axum::body::to_bytes(body, 1 << 20)).await;
    assert!(ended.is_ok_and(|b| b.is_ok()), "the stream did not end on shutdown");
}

/// Mounted as the module docs say: the page without the token, the data
/// only with it (header, or `?token=` for EventSource).
#[tokio::test]
async fn page_is_public_and_the_api_needs_the_token() {
    let hub = AlertHub::new(Duration::from_secs(1800));
    let dir = tempfile::tempdir().expect("a temp dir");
    let sink_config = telegate_influx::FileSinkConfig::default();
    let sink = telegate_influx::FileSink::open(dir.path(), &sink_config).expect("a file sink");
    let state = AdminState {
        stats: Stats {
            stages: Arc::default(),
            pipeline: Arc::default(),
            source: Arc::default(),
            writer: Arc::default(),
            wal: None,
            reload: Arc::default(),
        },
        output: telegate_influx::Output::from(sink),
        ready_grace: std::time::Duration::from_secs(5),
        wal: None,
        extra: None,
    };
    let stop = CancellationToken::new();
    let app = admin::router(state, Secret::new("tok-123"), Some(api_router(hub, stop.clone()))).merge(page_router());

    let (status, headers, body) = get(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .is_ok_and(|c| c.contains("script-src 'self'"))
    );
    assert!(body.contains("<script src=\"console.js\""), "{body}");
    let (status, headers, body) = get(&app, "/console.js", None).await;
    assert_eq!(
        (status, &headers[header::CONTENT_TYPE]),
        (
            StatusCode::OK,
            &"text/javascript; charset=utf-8".parse().expect("a header")
        )
    );
    assert!(body.contains("EventSource"));
    assert_eq!(get(&app, "/console.css", None).await.0, StatusCode::OK);

    for uri in ["/api/alerts", "/api/devices", "/api/events", "/api/alerts?token=wrong"] {
        assert_eq!(get(&app, uri, None).await.0, StatusCode::UNAUTHORIZED, "{uri}");
    }
    assert_eq!(get(&app, "/api/alerts", Some("tok-123")).await.0, StatusCode::OK);
    assert_eq!(get(&app, "/api/devices", Some("tok-123")).await.0, StatusCode::OK);
    let resp = app
        .clone()
        .oneshot(
            Request::get("/api/events?token=tok-123")
                .body(Body::empty())
                .expect("a valid request"),
        )
        .await
        .expect("routers are infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    stop.cancel();
}

/// Every element the script looks up exists, and nothing is written as
/// markup (device-provided strings must stay text).
#[test]
fn script_matches_the_page_and_never_writes_markup() {
    let ids: Vec<&str> = CONSOLE_JS
        .split("$('")
        .skip(1)
        .filter_map(|rest| rest.split_once("')").map(|(id, _)| id))
        .collect();
    assert!(ids.len() >= 10, "{ids:?}");
    for id in ids {
        assert!(
            INDEX_HTML.contains(&format!("id=\"{id}\"")),
            "console.js uses #{id}, index.html lacks it"
        );
    }
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!CONSOLE_JS.contains(sink), "console.js uses {sink}");
    }
    // Nothing from outside: the page must work without internet.
    for asset in [INDEX_HTML, CONSOLE_CSS, CONSOLE_JS] {
        assert!(
            !asset.contains("http://") && !asset.contains("https://"),
            "an external URL in an asset"
        );
    }
}

/// Keys of one `registerMessages(lang, {...})` block of i18n.js.
fn catalogue(lang: &str) -> Vec<String> {
    let start = I18N_JS
        .find(&format!("registerMessages('{lang}', {{"))
        .unwrap_or_else(|| panic!("no {lang} catalogue"));
    let body = &I18N_JS[start..];
    let end = body.find("\n});").expect("the catalogue ends");
    body[..end]
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix('\'')?
                .split_once("': ")
                .map(|(k, _)| k.to_owned())
        })
        .collect()
}

/// Both catalogues hold the same keys, and every key the page and the
/// script name literally is in them.
#[test]
fn vietnamese_and_english_catalogues_are_complete() {
    let en = catalogue("en");
    let vi = catalogue("vi");
    assert!(en.len() > 150, "{}", en.len());
    let missing: Vec<_> = en.iter().filter(|k| !vi.contains(k)).collect();
    assert!(missing.is_empty(), "keys without Vietnamese text: {missing:?}");
    let extra: Vec<_> = vi.iter().filter(|k| !en.contains(k)).collect();
    assert!(extra.is_empty(), "Vietnamese keys without English text: {extra:?}");
    // Calls of t('key'…), not of split('…') or closest('…').
    let mut used: Vec<&str> = CONSOLE_JS
        .match_indices("t('")
        .filter(|(i, _)| {
            CONSOLE_JS[..*i]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
        })
        .filter_map(|(i, _)| CONSOLE_JS[i + 3..].split_once('\'').map(|(k, _)| k))
        .collect();
    for attr in ["data-i18n=\"", "data-i18n-title=\"", "data-i18n-placeholder=\""] {
        used.extend(
            INDEX_HTML
                .split(attr)
                .skip(1)
                .filter_map(|rest| rest.split_once('"').map(|(k, _)| k)),
        );
    }
    assert!(used.len() > 60, "{}", used.len());
    // `t('sev.' + s)`: a prefix, completed at run time.
    for key in used.into_iter().filter(|k| !k.ends_with('.')) {
        assert!(en.iter().any(|k| k == key), "`{key}` is used but not in the catalogues");
    }
}

fn users_auth(dir: &std::path::Path, secure: bool) -> Auth {
    let path = dir.join("users");
    let mut f = crate::operators::users::UserFile::default();
    let hash = crate::operators::password::hash("mật-khẩu-đủ-dài").expect("a hash");
    f.add("lan", crate::operators::Role::Operator, hash.clone())
        .expect("added");
    f.add("xem", crate::operators::Role::Viewer, hash).expect("added");
    f.save(&path).expect("saved");
    let mut admin = crate::config::AdminConfig::default();
    admin.console.users_file = path.display().to_string();
    admin.console.secure_cookie = secure;
    admin.token = Secret::new("tok-123");
    Auth::from_config(&admin).expect("auth")
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.expect("routers are infallible");
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("a complete body");
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn login_req(user: &str, password: &str) -> Request<Body> {
    Request::post("/api/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({ "user": user, "password": password }).to_string(),
        ))
        .expect("a request")
}

/// Sessions through the router: the cookie's flags (Secure when asked),
/// the CSRF token, roles, and the token beside sessions.
#[tokio::test]
async fn sessions_cookies_csrf_and_roles() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let hub = AlertHub::new(Duration::from_secs(1800));
    let t = transition(1, Change::Fired, "BĐ III", Severity::Critical);
    hub.set_firing(vec![active(&t)]);
    let extra = Router::new().route("/api/extra", axum::routing::get(|| async { "data" }));
    let app = router(
        hub,
        CancellationToken::new(),
        Arc::new(users_auth(dir.path(), true)),
        Some(extra),
    );

    let (status, _, body) = get(&app, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("data-auth=\"users\""), "{body}");
    assert_eq!(get(&app, "/api/alerts", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "/api/alerts", Some("tok-123")).await.0, StatusCode::OK);
    assert_eq!(
        get(&app, "/api/extra", None).await.0,
        StatusCode::UNAUTHORIZED,
        "extra routes are behind it too"
    );
    assert_eq!(get(&app, "/api/extra", Some("tok-123")).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, login_req("lan", "wrong-password")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, login_req("nobody", "wrong-password")).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, headers, body) = call(&app, login_req("lan", "mật-khẩu-đủ-dài")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers[header::SET_COOKIE].to_str().expect("ascii").to_owned();
    assert!(
        cookie.ends_with("; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("a pair").to_owned();
    let csrf = json(&body)["csrf"].as_str().expect("a csrf token").to_owned();

    let with = |method: &str, uri: &str, csrf: Option<&str>, body: &str| {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &session)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.body(Body::from(body.to_owned())).expect("a request")
    };
    let (status, _, body) = call(&app, with("GET", "/api/session", None, "")).await;
    assert_eq!(status, StatusCode::OK);
    let v = json(&body);
    assert_eq!(
        (v["user"].as_str(), v["role"].as_str(), v["auth"].as_str()),
        (Some("lan"), Some("operator"), Some("session"))
    );
    let uri = format!("/api/alerts/{}/ack", t.alert_id);
    assert_eq!(
        call(&app, with("POST", &uri, None, "{}")).await.0,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        call(&app, with("POST", &uri, Some("forged"), "{}")).await.0,
        StatusCode::FORBIDDEN
    );
    // With the token the request reaches the handler (no evaluator runs
    // here, so one the handler itself refuses).
    let (status, _, body) = call(
        &app,
        with(
            "POST",
            "/api/silences",
            Some(&csrf),
            r#"{"scope":"planet","value":"x","duration":"1h","reason":"r"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("scope must be"), "{body}");
    // Decommission needs admin.
    assert_eq!(
        call(&app, with("DELETE", "/api/devices/rl-001", Some(&csrf), ""))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, with("POST", "/api/logout", Some(&csrf), "")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, with("GET", "/api/session", None, "")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_viewer_cannot_act_and_without_secure_cookie_there_is_no_secure_flag() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let hub = AlertHub::new(Duration::from_secs(1800));
    let app = router(
        hub,
        CancellationToken::new(),
        Arc::new(users_auth(dir.path(), false)),
        None,
    );
    let (status, headers, body) = call(&app, login_req("xem", "mật-khẩu-đủ-dài")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers[header::SET_COOKIE].to_str().expect("ascii").to_owned();
    assert!(!cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
    let session = cookie.split(';').next().expect("a pair").to_owned();
    let csrf = json(&body)["csrf"].as_str().expect("a csrf token").to_owned();
    let req = Request::post("/api/silences")
        .header(header::COOKIE, &session)
        .header("x-csrf-token", &csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"scope":"site","value":"muong-te","duration":"1h","reason":"x"}"#,
        ))
        .expect("a request");
    let (status, _, body) = call(&app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("operator"), "{body}");
}

#[test]
fn trend_and_map_scripts_never_write_markup_nor_fetch_from_outside() {
    for (name, js) in [("trend.js", TREND_JS), ("map.js", MAP_JS)] {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(sink), "{name} uses {sink}");
        }
        // The SVG namespace is a name, not a request.
        let without_ns = js.replace("'http://www.w3.org/2000/svg'", "");
        assert!(
            !without_ns.contains("http://") && !without_ns.contains("https://"),
            "{name}: an external URL"
        );
        // Every visible string goes through t(), in both languages.
        for lang in ["'vi'", "'en'"] {
            assert!(
                js.contains(&format!("registerMessages({lang}, {{")),
                "{name}: no {lang} messages"
            );
        }
    }
    for id in ["trend", "stations"] {
        assert!(INDEX_HTML.contains(&format!("id=\"{id}\"")), "index.html lacks #{id}");
    }
    for script in ["trend.js", "map.js"] {
        assert!(
            INDEX_HTML.contains(&format!("<script src=\"{script}\" defer>")),
            "index.html lacks {script}"
        );
    }
    assert!(!VIEWS_CSS.contains("http"), "views.css fetches nothing");
}
