//! Operators in the console, against a real gateway, Mosquitto, InfluxDB
//! and two webhook receivers (the team's and the on-call chief's), in
//! headless Chromium with one browser context per operator (own cookies,
//! like two machines):
//!
//! - operator `lan` acknowledges a critical flood alert with a note, and
//!   operator `minh`'s open console shows it live with her name and note;
//! - viewer `xem` gets 403 from the API and sees no acknowledge button;
//! - `lan` silences gauge rl-002 from the page: its alert is recorded
//!   (InfluxDB `alerts`, the console's history marked silenced) but not
//!   sent to the webhook; the silence ends by itself and the next
//!   transition is sent;
//! - the critical alert nobody acknowledged is escalated to the on-call
//!   webhook after `[escalation] after`, and again; the acknowledged one
//!   is not escalated after its acknowledgement;
//! - the page is in Vietnamese (`language = "vi"`) with no English UI
//!   string left (checked against the message catalogues).
//!
//! The security test (no browser) measures the login backoff, checks the
//! session cookie's flags, refuses changes without the CSRF token, and
//! reads the audit log before and after more actions: existing lines never
//! change, and the gateway holds the file open with `O_APPEND`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};
use telegate_e2e::client::Publisher;
use telegate_e2e::gateway::{Gateway, telegate_binary, test_config};
use telegate_e2e::rules::{MUONG_TE, NAM_GIANG};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::webhook::Receiver;
use telegate_model::Secret;
use telegate_schema::Registry;

use super::cdp::{Browser, Page};
use super::views::picture;
use super::{Fleet, now_ns};

const TOKEN: &str = "ops-e2e-token-7f3a";
/// Unacknowledged critical alerts are escalated after this.
const ESCALATE_AFTER: Duration = Duration::from_secs(6);

const RESOLVED_VI: &str = "{device_id} tại {site}: mực nước {value} m, dưới {level_name}";

fn alert_rules() -> String {
    format!(
        "[escalation]\nafter = \"6s\"\noutputs = [\"oncall\"]\n{}{}",
        MUONG_TE
            .rule("Báo động lũ, Mường Tè (sông Đà)")
            .resolved_message(RESOLVED_VI)
            .toml(),
        NAM_GIANG
            .rule("Báo động lũ, Nậm Giàng (sông Nậm Na)")
            .site("nam-giang")
            .critical_only()
            .resolved_message(RESOLVED_VI)
            .toml(),
    )
}

/// The operators' page as the test reads it.
const OPS_JS: &str = r#"(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const text = (n) => (n ? n.textContent.replace(/\s+/g, ' ').trim() : null);
  const $ = (id) => document.getElementById(id);
  return {
    conn: $('conn')?.dataset.state ?? null,
    who: text($('who')),
    role: document.body?.dataset.role ?? null,
    lang: document.documentElement.lang,
    loginShown: $('login-form') ? !$('login-form').hidden : null,
    loginMsg: text($('login-msg2')),
    alarms: Number(document.body?.dataset.alarms || 0),
    cards: all('#firing article.alert').map((a) => ({ id: a.dataset.alertId, device: a.dataset.device,
      acked: a.dataset.acked, ackBy: a.dataset.ackBy, silenced: a.dataset.silenced, text: text(a),
      ackButton: !!a.querySelector('.ack-btn') })),
    banner: $('silence-banner') ? !$('silence-banner').hidden : null,
    silences: all('#silence-banner .silence').map((s) => ({ id: s.dataset.silenceId, value: s.dataset.value, text: text(s) })),
    silenceForm: $('silence-form') ? !$('silence-form').hidden : null,
    recent: all('#recent tr[data-change]').map((r) => ({ change: r.dataset.change, silenced: r.dataset.silenced,
      alert: r.dataset.alertId, text: text(r) })),
    audit: all('#audit tr[data-action]').map((r) => ({ action: r.dataset.action, who: r.dataset.who, text: text(r) })),
  };
})()"#;

/// The `vi` page against the catalogues: keys of `en` missing from `vi`,
/// and English UI strings (those that differ from their Vietnamese text)
/// found as words in the page's visible text.
const NO_ENGLISH_JS: &str = r#"(() => {
  const en = I18N_MESSAGES.en, vi = I18N_MESSAGES.vi;
  const missing = Object.keys(en).filter((k) => !(k in vi) || !vi[k]);
  // UI text only: alert messages (written by the rules file and the
  // gateway) and audit targets and notes are data, not UI.
  const saved = [];
  for (const n of document.querySelectorAll('.msg, #audit td:nth-child(4), #audit td:nth-child(5)')) {
    saved.push([n, n.textContent]);
    n.textContent = '';
  }
  const text = document.body.innerText;
  for (const [n, s] of saved) n.textContent = s;
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const word = (s) => new RegExp('(^|[^\\p{L}\\p{N}_])' + esc(s) + '($|[^\\p{L}\\p{N}_])', 'u');
  const found = [];
  for (const k of Object.keys(en)) {
    if (en[k] === vi[k]) continue;
    // Templates: each literal piece of four letters or more.
    const pieces = en[k].split(/\{\w+\}/).map((p) => p.trim()).filter((p) => /\p{L}{4}/u.test(p) || (p === en[k] && /\p{L}{2}/u.test(p)));
    for (const p of pieces) if (word(p).test(text)) found.push(k + ': ' + p);
  }
  return { missing, found, lang: document.documentElement.lang, checked: Object.keys(en).length };
})()"#;

async fn wait_page(
    browser: &mut Browser,
    page: &Page,
    what: &str,
    within: Duration,
    ok: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    browser.poll(page, OPS_JS, what, within, ok).await
}

/// Scroll section `id` into view and save the picture `name` (docs/console.md).
async fn picture_of(browser: &mut Browser, page: &Page, id: &str, name: &str) -> anyhow::Result<()> {
    let js = format!(
        "(() => {{ const n = document.getElementById({id}); if (!n) return false; n.scrollIntoView({{ block: 'start' }}); return true; }})()",
        id = json!(id)
    );
    act(browser, page, &js).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    picture(browser, page, name).await
}

async fn act(browser: &mut Browser, page: &Page, js: &str) -> anyhow::Result<()> {
    match browser.eval(page, js).await? {
        Ok(Value::Bool(true)) => Ok(()),
        other => bail!("page action failed ({other:?}): {js}"),
    }
}

async fn log_in(browser: &mut Browser, page: &Page, user: &str, password: &str) -> anyhow::Result<Value> {
    wait_page(browser, page, "the login form", Duration::from_secs(15), |s| {
        s["loginShown"] == true
    })
    .await?;
    let js = format!(
        "(() => {{ document.getElementById('user-input').value = {u}; document.getElementById('password-input').value = {p}; \
         document.getElementById('login-form').requestSubmit(); return true; }})()",
        u = json!(user),
        p = json!(password)
    );
    act(browser, page, &js).await?;
    wait_page(
        browser,
        page,
        &format!("{user} logged in"),
        Duration::from_secs(15),
        |s| s["conn"] == "live" && s["who"].as_str().is_some_and(|w| w.contains(user)),
    )
    .await
}

/// `telegate user add NAME --role ROLE --password-stdin --users FILE` with
/// the built binary (the CLI itself, end to end).
fn add_user(users: &Path, name: &str, role: &str, password: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = std::process::Command::new(telegate_binary()?)
        .args(["user", "add", name, "--role", role, "--password-stdin", "--users"])
        .arg(users)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running telegate user add")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{password}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    ensure!(
        out.status.success(),
        "telegate user add {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn hits_of(hook: &Receiver, device: &str, change: &str) -> Vec<telegate_e2e::webhook::Hit> {
    hook.delivered()
        .into_iter()
        .filter(|h| h.body["series"]["device_id"] == device && h.body["change"] == change)
        .collect()
}

/// A logged-in HTTP client: the session cookie and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn http_login(addr: SocketAddr, user: &str, password: &str) -> anyhow::Result<(u16, Option<Session>, Value)> {
    let resp = telegate_e2e::http_client()?
        .post(format!("http://{addr}/api/login"))
        .header("content-type", "application/json")
        .body(json!({ "user": user, "password": password }).to_string())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body: Value = serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    if let Some(r) = retry_after {
        body["retry_after_header"] = json!(r);
    }
    let session = (status == 200).then(|| Session {
        cookie: set_cookie.split(';').next().unwrap_or_default().to_owned(),
        csrf: body["csrf"].as_str().unwrap_or_default().to_owned(),
        set_cookie: set_cookie.clone(),
    });
    Ok((status, session, body))
}

/// A request with the session cookie and, when `csrf`, its CSRF token.
async fn http_send(
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    session: &Session,
    csrf: Option<&str>,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut req = telegate_e2e::http_client()?
        .request(method, format!("http://{addr}{path}"))
        .header("cookie", &session.cookie)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_acknowledge_silence_and_escalate_in_two_browsers() -> anyhow::Result<()> {
    let started = Instant::now();
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let team = Receiver::start().await?;
    let oncall = Receiver::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(&rules, alert_rules())?;
    let users = dir.path().join("console-users");
    add_user(&users, "lan", "operator", "lan-mật-khẩu-2026")?;
    add_user(&users, "minh", "operator", "minh-mật-khẩu-2026")?;
    add_user(&users, "xem", "viewer", "xem-mật-khẩu-2026")?;

    let mut config = test_config("gw-console-ops", broker.port(), &influx.url());
    config.admin.token = Secret::new(TOKEN);
    config.admin.console.users_file = users.display().to_string();
    config.admin.console.language = telegate::operators::config::Language::Vi;
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.path().join("alerts-state.json").display().to_string();
    config.alerts.webhook.url = team.url();
    config.alerts.oncall.url = oncall.url();
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().context("the admin listener")?;
    let url = format!("http://{addr}/");
    let mut fleet = Fleet {
        publisher: Publisher::connect("console-ops-fleet", broker.port()).await?,
        registry: Registry::builtin(&Default::default())?,
    };

    // Two operators, each in a browser context of their own.
    let log = dir.path().join("chromium.log");
    let mut browser = Browser::start(1366, 900, &log).await?;
    let (ctx_a, ctx_b) = (browser.new_context().await?, browser.new_context().await?);
    let a = browser.open_in(&url, Some(&ctx_a)).await?;
    let b = browser.open_in(&url, Some(&ctx_b)).await?;
    wait_page(&mut browser, &a, "the login form", Duration::from_secs(10), |s| {
        s["loginShown"] == true
    })
    .await?;
    act(
        &mut browser,
        &a,
        "(() => { document.getElementById('user-input').value = 'lan'; return true; })()",
    )
    .await?;
    picture(&mut browser, &a, "console-login.png").await?;
    let sa = log_in(&mut browser, &a, "lan", "lan-mật-khẩu-2026").await?;
    assert_eq!(sa["role"], "operator", "{sa:#}");
    assert_eq!(sa["lang"], "vi", "the gateway's language: {sa:#}");
    log_in(&mut browser, &b, "minh", "minh-mật-khẩu-2026").await?;

    // Mường Tè rl-001 and Nậm Giàng rl-003 reach BĐ III.
    let now = now_ns();
    fleet
        .send("muong-te", "rl-001", "river_level", now, &[("stage_m", 290.42)])
        .await?;
    fleet
        .send("nam-giang", "rl-003", "river_level", now, &[("stage_m", 211.80)])
        .await?;
    fleet.publisher.flush().await?;
    let fired_at = Instant::now();
    let has_cards = |s: &Value, n: usize| s["cards"].as_array().is_some_and(|c| c.len() == n);
    let sb = wait_page(&mut browser, &b, "two critical alerts", Duration::from_secs(10), |s| {
        has_cards(s, 2)
    })
    .await?;
    assert!(
        sb["cards"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["ackButton"] == true)),
        "an operator may acknowledge: {sb:#}"
    );
    assert!(sb["alarms"].as_u64() >= Some(2), "a new critical is announced: {sb:#}");

    // lan acknowledges rl-001 with a note.
    let note = "Đang đến trạm Mường Tè, 20 phút nữa tới";
    let js = format!(
        "(() => {{ const c = document.querySelector('#firing article[data-device=\"rl-001\"]'); c.querySelector('.ack-btn').click(); \
         const f = document.querySelector('#firing article[data-device=\"rl-001\"] .ack-form'); const i = f.querySelector('.ack-note'); \
         i.value = {note}; i.dispatchEvent(new Event('input', {{ bubbles: true }})); f.requestSubmit(); return true; }})()",
        note = json!(note)
    );
    act(&mut browser, &a, &js).await?;
    let acked_at = Instant::now();
    let sb = wait_page(
        &mut browser,
        &b,
        "lan's acknowledgement, live",
        Duration::from_secs(5),
        |s| {
            s["cards"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["device"] == "rl-001" && c["acked"] == "true"))
        },
    )
    .await?;
    let live = acked_at.elapsed();
    let card = sb["cards"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["device"] == "rl-001"))
        .context("rl-001's card")?;
    assert_eq!(card["ackBy"], "lan", "{card:#}");
    let text = card["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("lan") && text.contains(note),
        "B's card shows who and the note: {text}"
    );
    assert_eq!(card["ackButton"], false, "{card:#}");
    eprintln!("acknowledgement shown in the other console after {live:?}");
    picture_of(&mut browser, &b, "alerts", "console-ack.png").await?;

    // A viewer: no button in the page, 403 from the API.
    let ctx_c = browser.new_context().await?;
    let c = browser.open_in(&url, Some(&ctx_c)).await?;
    log_in(&mut browser, &c, "xem", "xem-mật-khẩu-2026").await?;
    let sc = wait_page(&mut browser, &c, "the viewer's cards", Duration::from_secs(10), |s| {
        has_cards(s, 2)
    })
    .await?;
    assert!(
        sc["cards"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["ackButton"] == false)),
        "no acknowledge button for a viewer: {sc:#}"
    );
    assert_eq!(sc["silenceForm"], false, "no silence form for a viewer: {sc:#}");
    let rl3 = sc["cards"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["device"] == "rl-003"))
        .and_then(|c| c["id"].as_str())
        .context("rl-003's alert id")?
        .to_owned();
    let (status, viewer, _) = http_login(addr, "xem", "xem-mật-khẩu-2026").await?;
    assert_eq!(status, 200);
    let viewer = viewer.context("the viewer's session")?;
    let (status, body) = http_send(
        addr,
        reqwest::Method::POST,
        &format!("/api/alerts/{rl3}/ack"),
        &viewer,
        Some(&viewer.csrf),
        json!({ "note": "x" }),
    )
    .await?;
    assert_eq!(status, 403, "a viewer cannot acknowledge: {body}");

    // lan silences gauge rl-002 (maintenance) from the page, for 8 s (an
    // option the test adds to the list: the page offers 30 min and more).
    let js = "(() => { const $ = (id) => document.getElementById(id); $('s-scope').value = 'device'; $('s-value').value = 'rl-002'; \
              $('s-duration').add(new Option('8 giây', '8s')); $('s-duration').value = '8s'; \
              $('s-reason').value = 'Bảo trì cảm biến mực nước'; $('silence-form').requestSubmit(); return true; })()";
    act(&mut browser, &a, js).await?;
    let silenced_at = Instant::now();
    let sb = wait_page(&mut browser, &b, "the silence banner", Duration::from_secs(5), |s| {
        s["silences"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["value"] == "rl-002"))
    })
    .await?;
    let banner = sb["silences"][0]["text"].as_str().unwrap_or_default();
    assert!(
        banner.contains("rl-002") && banner.contains("Bảo trì cảm biến") && banner.contains("lan"),
        "{banner}"
    );
    fleet
        .send("muong-te", "rl-002", "river_level", now_ns(), &[("stage_m", 290.61)])
        .await?;
    fleet.publisher.flush().await?;
    let sa = wait_page(
        &mut browser,
        &a,
        "rl-002's silenced transition",
        Duration::from_secs(5),
        |s| {
            s["cards"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["device"] == "rl-002" && c["silenced"] != ""))
        },
    )
    .await?;
    picture(&mut browser, &a, "console-silence.png").await?;
    let recent = sa["recent"].as_array().context("recent")?;
    assert!(
        recent.iter().any(|r| r["change"] == "fired"
            && r["silenced"] != ""
            && r["text"].as_str().is_some_and(|t| t.contains("rl-002"))),
        "the history shows it, marked: {recent:#?}"
    );
    // Recorded: the `alerts` measurement has it.
    let recorded = telegate_e2e::eventually(Duration::from_secs(10), || async {
        let rows = influx.select_all("telegate", "alerts").await?;
        let n = rows
            .iter()
            .filter(|r| {
                r.get("device_id") == Some(&json!("rl-002"))
                    && r.get("change") == Some(&json!("fired"))
                    && r.get("silenced_by")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.starts_with('s'))
            })
            .count();
        Ok((n == 1).then_some(n))
    })
    .await?;
    assert_eq!(recorded, 1);

    // The silence ends by itself, in both consoles.
    wait_page(&mut browser, &b, "the silence gone", Duration::from_secs(12), |s| {
        s["banner"] == false
    })
    .await?;
    let ended_after = silenced_at.elapsed();
    assert!(
        ended_after >= Duration::from_secs(7),
        "not before its time: {ended_after:?}"
    );
    // Then rl-002 falls back: that transition is notified again.
    fleet
        .send("muong-te", "rl-002", "river_level", now_ns(), &[("stage_m", 286.00)])
        .await?;
    fleet.publisher.flush().await?;
    telegate_e2e::eventually(Duration::from_secs(10), || async {
        Ok((!hits_of(&team, "rl-002", "resolved").is_empty()).then_some(()))
    })
    .await?;
    assert!(
        hits_of(&team, "rl-002", "fired").is_empty(),
        "the silenced fired was not notified: {:#?}",
        team.delivered().iter().map(|h| h.body.clone()).collect::<Vec<_>>()
    );
    assert_eq!(hits_of(&team, "rl-001", "fired").len(), 1);
    assert_eq!(hits_of(&team, "rl-003", "fired").len(), 1);

    // Escalation: rl-003 (nobody acknowledged) reaches the on-call webhook
    // after ESCALATE_AFTER, and again; rl-001 not after its ack.
    telegate_e2e::eventually(Duration::from_secs(30), || async {
        Ok((hits_of(&oncall, "rl-003", "unacknowledged").len() >= 2).then_some(()))
    })
    .await?;
    let escalations = hits_of(&oncall, "rl-003", "unacknowledged");
    let first = escalations[0].at.duration_since(fired_at);
    assert!(
        first >= ESCALATE_AFTER - Duration::from_millis(500) && first <= ESCALATE_AFTER + Duration::from_secs(4),
        "first escalation {first:?} after the alert fired (after = {ESCALATE_AFTER:?})"
    );
    let again = escalations[1].at.duration_since(escalations[0].at);
    assert!(
        again >= ESCALATE_AFTER - Duration::from_millis(1500),
        "repeated every `after`: {again:?}"
    );
    let message = escalations[0].body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("not acknowledged for"), "{message}");
    let late_rl1: Vec<_> = hits_of(&oncall, "rl-001", "unacknowledged")
        .into_iter()
        .filter(|h| h.at > acked_at + Duration::from_secs(2))
        .collect();
    assert!(late_rl1.is_empty(), "rl-001 was escalated after its acknowledgement");
    assert!(
        team.delivered().iter().all(|h| h.body["change"] != "unacknowledged"),
        "escalations go to the outputs [escalation] names only"
    );
    eprintln!(
        "escalation of rl-003 after {first:?}, again after {again:?}; rl-001 acknowledged after {:?}",
        acked_at.duration_since(fired_at)
    );
    wait_page(
        &mut browser,
        &b,
        "the escalation in the history",
        Duration::from_secs(10),
        |s| {
            s["recent"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["change"] == "unacknowledged"))
        },
    )
    .await?;
    picture_of(&mut browser, &b, "history", "console-escalation.png").await?;

    // The audit panel shows who did what.
    let sb = wait_page(&mut browser, &b, "the audit entries", Duration::from_secs(35), |s| {
        let a = s["audit"].as_array();
        let has = |action: &str| a.is_some_and(|l| l.iter().any(|e| e["action"] == action && e["who"] == "lan"));
        has("ack") && has("silence") && a.is_some_and(|l| l.iter().any(|e| e["action"] == "silence_expired"))
    })
    .await?;
    let ack_row = sb["audit"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["action"] == "ack"))
        .and_then(|e| e["text"].as_str())
        .unwrap_or_default();
    assert!(ack_row.contains(note), "{ack_row}");
    picture_of(&mut browser, &b, "audit-panel", "console-audit.png").await?;

    // Filter by site: only Nậm Giàng's alert.
    act(
        &mut browser,
        &b,
        "(() => { const s = document.getElementById('f-site'); s.value = 'nam-giang'; \
         s.dispatchEvent(new Event('change', { bubbles: true })); return s.value === 'nam-giang'; })()",
    )
    .await?;
    wait_page(
        &mut browser,
        &b,
        "only nam-giang's alert",
        Duration::from_secs(5),
        |s| {
            s["cards"]
                .as_array()
                .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["device"] == "rl-003"))
        },
    )
    .await?;
    act(&mut browser, &b, "(() => { window.scrollTo(0, 0); return true; })()").await?;
    picture(&mut browser, &b, "console-filters.png").await?;
    act(
        &mut browser,
        &b,
        "(() => { const s = document.getElementById('f-site'); s.value = ''; \
         s.dispatchEvent(new Event('change', { bubbles: true })); return true; })()",
    )
    .await?;

    // On a phone (390 px): one column, nothing wider than the screen.
    browser
        .call(
            Some(&b.session),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true }),
            Duration::from_secs(10),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let phone = browser
        .eval(
            &b,
            "(() => ({ width: document.documentElement.scrollWidth, inner: window.innerWidth, \
              columns: getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length }))()",
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_eq!(phone["columns"], 1, "{phone}");
    act(&mut browser, &b, "(() => { window.scrollTo(0, 0); return true; })()").await?;
    picture(&mut browser, &b, "console-phone.png").await?;
    assert!(
        phone["width"].as_u64() <= phone["inner"].as_u64().map(|w| w + 1),
        "wider than the phone: {phone}"
    );
    browser
        .call(
            Some(&b.session),
            "Emulation.clearDeviceMetricsOverride",
            json!({}),
            Duration::from_secs(10),
        )
        .await?;

    // Vietnamese: every key translated, no English UI string on the page.
    let check = browser
        .eval(&b, NO_ENGLISH_JS)
        .await?
        .map_err(|e| anyhow::anyhow!("the catalogue check threw: {e}"))?;
    assert_eq!(check["lang"], "vi", "{check:#}");
    assert_eq!(check["missing"], json!([]), "keys without Vietnamese text: {check:#}");
    assert_eq!(
        check["found"],
        json!([]),
        "English UI strings on the vi page: {check:#}"
    );
    assert!(check["checked"].as_u64() > Some(150), "{check:#}");

    // minh logs out: the login form again, recorded.
    act(
        &mut browser,
        &b,
        "(() => { document.getElementById('logout').click(); return true; })()",
    )
    .await?;
    wait_page(
        &mut browser,
        &b,
        "the login form after logout",
        Duration::from_secs(5),
        |s| s["loginShown"] == true && s["cards"].as_array().is_some_and(Vec::is_empty),
    )
    .await?;

    let errors = browser.script_errors();
    assert!(errors.is_empty(), "the page's script failed: {errors:#?}");
    drop(browser);
    tokio::time::timeout(Duration::from_secs(20), gw.stop())
        .await
        .context("the gateway did not stop")?;
    let audit = std::fs::read_to_string(dir.path().join("audit.log"))?;
    for action in ["login", "ack", "silence", "silence_expired", "logout"] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "audit.log lacks {action}:\n{audit}"
        );
    }
    assert!(
        audit.contains("\"action\":\"user_add\""),
        "the CLI's user changes are audited too"
    );
    eprintln!("operators e2e took {:?}", started.elapsed());
    Ok(())
}

/// The fd of the open file `path` in this process, and its open flags.
fn open_flags(path: &Path) -> anyhow::Result<u32> {
    let want = std::fs::canonicalize(path)?;
    for fd in std::fs::read_dir("/proc/self/fd")? {
        let fd = fd?;
        if std::fs::read_link(fd.path()).is_ok_and(|p| p == want) {
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.file_name().to_string_lossy()))?;
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .context("fdinfo without flags")?;
            return Ok(u32::from_str_radix(flags.trim(), 8)?);
        }
    }
    bail!("{} is not open in this process", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_slowed_cookies_are_strict_csrf_is_required_and_the_audit_log_only_grows() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(&rules, alert_rules())?;
    let users = dir.path().join("console-users");
    add_user(&users, "lan", "operator", "lan-mật-khẩu-2026")?;
    let mut config = test_config("gw-console-sec", broker.port(), &influx.url());
    config.admin.token = Secret::new(TOKEN);
    config.admin.console.users_file = users.display().to_string();
    config.admin.console.login_free_failures = 3;
    config.admin.console.lockout_initial = Duration::from_millis(400);
    config.admin.console.lockout_max = Duration::from_millis(1600);
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.path().join("alerts-state.json").display().to_string();
    let gw = Gateway::start(config.clone()).await?;
    let addr = gw.admin_addr().context("the admin listener")?;

    // Unauthenticated: nothing but the login.
    assert_eq!(telegate_e2e::admin::get(addr, "/api/alerts", None).await?.0, 401);
    // The machine token stays valid for the API and /metrics.
    assert_eq!(telegate_e2e::admin::get(addr, "/api/alerts", Some(TOKEN)).await?.0, 200);
    assert_eq!(telegate_e2e::admin::get(addr, "/metrics", Some(TOKEN)).await?.0, 200);

    // Brute force, as fast as the gateway answers: after 3 failures every
    // attempt is refused (429, Retry-After) without a password check, and
    // the right password is refused too while locked.
    let hammer_start = Instant::now();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let (s, _, _) = http_login(addr, "lan", &format!("đoán-{i}")).await?;
        statuses.push(s);
    }
    let hammer = hammer_start.elapsed();
    // Three free failures, a fourth checked one that starts the lock, then
    // refusals without a check.
    assert_eq!(&statuses[..4], [401, 401, 401, 401], "{statuses:?}");
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert!(refused >= 7, "most of a burst is refused unchecked: {statuses:?}");
    let (s, session, body) = http_login(addr, "lan", "lan-mật-khẩu-2026").await?;
    assert_eq!(s, 429, "the right password while locked: {body}");
    assert!(session.is_none());
    assert!(
        body["retry_after_header"]
            .as_str()
            .is_some_and(|r| r.parse::<u64>().is_ok()),
        "{body}"
    );

    // An attacker who obeys Retry-After: 8 guesses take at least the sum of
    // the locks (0.4 + 0.8 + 1.6 + 1.6 + 1.6 s after the 3 free ones).
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let patient_start = Instant::now();
    let mut checked = 0;
    while checked < 8 {
        let (s, _, body) = http_login(addr, "lan", &format!("kiên-nhẫn-{checked}")).await?;
        match s {
            401 => {
                checked += 1;
                if let Some(wait) = body["retry_after_s"].as_u64() {
                    tokio::time::sleep(Duration::from_millis(wait * 1000 / 2)).await;
                }
            }
            429 => {
                let wait = body["retry_after_s"].as_u64().unwrap_or(1);
                tokio::time::sleep(Duration::from_millis(wait * 1000 / 2).max(Duration::from_millis(100))).await;
            }
            other => bail!("unexpected {other}: {body}"),
        }
    }
    let patient = patient_start.elapsed();
    eprintln!(
        "login brute force: a burst of 12 took {hammer:?} ({} refused unchecked); 8 checked guesses took {patient:?} ({:.2} guesses/s)",
        refused,
        8.0 / patient.as_secs_f64()
    );
    // The counter does not reset between rounds: the locks are 1.6 s now.
    assert!(patient >= Duration::from_secs(8), "8 checked guesses in {patient:?}");

    // Another name from the same address is locked too (per address).
    let (s, _, _) = http_login(addr, "minh", "whatever-12345").await?;
    assert_eq!(s, 429, "the address is locked as well");
    tokio::time::sleep(Duration::from_millis(1700)).await;

    // A correct login: the cookie's flags.
    let (s, session, body) = http_login(addr, "lan", "lan-mật-khẩu-2026").await?;
    assert_eq!(s, 200, "{body}");
    let session = session.context("a session")?;
    let flags: Vec<&str> = session.set_cookie.split(';').map(str::trim).collect();
    assert!(
        flags[0].starts_with("telegate_session=") && flags[0].len() > 40,
        "{flags:?}"
    );
    for want in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(flags.contains(&want), "Set-Cookie lacks {want}: {}", session.set_cookie);
    }
    assert!(flags.iter().any(|f| f.starts_with("Max-Age=")), "{flags:?}");
    assert!(
        !flags.contains(&"Secure"),
        "plain HTTP without secure_cookie: {flags:?}"
    );
    assert!(session.csrf.len() >= 40, "{body}");

    let audit_path = dir.path().join("audit.log");
    let flags = open_flags(&audit_path)?;
    assert_ne!(
        flags & 0o2000,
        0,
        "the audit log is open with O_APPEND (flags {flags:o})"
    );
    let before = std::fs::read(&audit_path)?;
    assert!(!before.is_empty());

    // CSRF: the cookie alone does not act.
    let silence = json!({ "scope": "site", "value": "muong-te", "duration": "1h", "reason": "bảo trì" });
    let (s, body) = http_send(
        addr,
        reqwest::Method::POST,
        "/api/silences",
        &session,
        None,
        silence.clone(),
    )
    .await?;
    assert_eq!(s, 403, "no CSRF token: {body}");
    let (s, _) = http_send(
        addr,
        reqwest::Method::POST,
        "/api/silences",
        &session,
        Some("forged"),
        silence.clone(),
    )
    .await?;
    assert_eq!(s, 403, "a wrong CSRF token");
    let (s, _) = http_send(addr, reqwest::Method::POST, "/api/logout", &session, None, json!({})).await?;
    assert_eq!(s, 403, "logout is a change too");
    let (s, created) = http_send(
        addr,
        reqwest::Method::POST,
        "/api/silences",
        &session,
        Some(&session.csrf),
        silence,
    )
    .await?;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().context("silence id")?;
    let (s, _) = http_send(
        addr,
        reqwest::Method::DELETE,
        &format!("/api/silences/{id}"),
        &session,
        None,
        json!({}),
    )
    .await?;
    assert_eq!(s, 403);
    let (s, _) = http_send(
        addr,
        reqwest::Method::DELETE,
        &format!("/api/silences/{id}"),
        &session,
        Some(&session.csrf),
        json!({}),
    )
    .await?;
    assert_eq!(s, 200);
    let (s, _) = http_send(
        addr,
        reqwest::Method::POST,
        "/api/logout",
        &session,
        Some(&session.csrf),
        json!({}),
    )
    .await?;
    assert_eq!(s, 200);
    let (s, _) = http_send(addr, reqwest::Method::GET, "/api/alerts", &session, None, json!({})).await?;
    assert_eq!(s, 401, "the session ended at logout");

    // The audit log only grew: every earlier byte is where it was.
    let after = std::fs::read(&audit_path)?;
    assert!(
        after.len() > before.len() && after.starts_with(&before),
        "existing lines changed"
    );
    let new: Vec<Value> = after[before.len()..]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(serde_json::from_slice)
        .collect::<Result<_, _>>()?;
    let actions: Vec<&str> = new.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["silence", "unsilence", "logout"], "{new:#?}");
    assert!(
        new.iter().all(|e| e["who"] == "lan" && e["addr"] == "127.0.0.1"),
        "{new:#?}"
    );
    let old = String::from_utf8(before)?;
    assert!(old.contains("\"action\":\"login_failed\"") && old.contains("\"action\":\"login_locked\""));

    // The machine token acts too (no CSRF: no cookie involved), recorded as
    // `token`; a silence survives a restart.
    let resp = telegate_e2e::http_client()?
        .post(format!("http://{addr}/api/silences"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({ "scope": "device", "value": "rl-007", "duration": "2h", "reason": "thay pin" }).to_string())
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 201);
    gw.stop().await;
    let gw = Gateway::start(config).await?;
    let addr = gw.admin_addr().context("the restarted admin listener")?;
    let (status, body) = telegate_e2e::admin::get(addr, "/api/silences", Some(TOKEN)).await?;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body)?;
    let kept: Vec<_> = v["silences"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|s| (s["value"].clone(), s["by"].clone(), s["reason"].clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(kept, [(json!("rl-007"), json!("token"), json!("thay pin"))], "{body}");
    gw.stop().await;
    Ok(())
}
