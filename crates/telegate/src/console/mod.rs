//! The operator API and console: what is firing, what just changed, how
//! every device is doing, and what the people on duty did about it.
//!
//! [`router`] serves both, with the console's own authentication
//! ([`auth`]): operator accounts with sessions (login page, cookie, CSRF
//! token, roles viewer/operator/admin) when `admin.console.users_file` is
//! set, and the admin bearer token beside them (machines, and the console
//! when there are no accounts).
//!
//! | route | who | does |
//! | --- | --- | --- |
//! | `GET /`, `/console.css`, `/console.js`, `/i18n.js`, `/views.css`, `/trend.js`, `/map.js` | anyone | the page (no data in it) |
//! | `POST /api/login` | anyone | `{user, password}` → session cookie + `{user, role, csrf}`; 401 wrong (with `Retry-After` when it started a lock), 429 locked: refused unchecked (`Retry-After`) |
//! | `POST /api/logout` | session | ends it |
//! | `GET /api/session` | any principal | `{user, role, auth, csrf?, language}` |
//! | `GET /api/alerts`, `/api/devices`, `/api/events`, `/api/silences`, `/api/audit` | viewer | read |
//! | `POST /api/alerts/{alert_id}/ack` | operator | `{note}` |
//! | `POST /api/silences`, `DELETE /api/silences/{id}` | operator | `{scope, value, duration, reason}` |
//! | `DELETE /api/devices/{device_id}` | admin | decommission |
//! | `GET /api/series`, `/api/stations` | viewer | the trend chart's points and the station map ([`views_router`], passed as `extra`) |
//!
//! **The token in the browser** (no accounts): the operator opens
//! `http://127.0.0.1:9464/#token=…`; the script keeps it in the tab's
//! `sessionStorage`, removes it from the address bar and sends it as
//! `Authorization: Bearer` (and `?token=` for `EventSource`, which cannot
//! set headers).
//!
//! The page is plain HTML, CSS and JavaScript compiled into the binary
//! (`include_str!`): no build step, no CDN, nothing fetched from outside, so
//! it works at a border gate without internet.

pub mod auth;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get, post};
use futures_util::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use telegate_model::now_ns;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::alerting::hub::HubEvent;
use crate::alerting::operator::{OperatorError, Scope};
use crate::alerting::{AlertHub, AlertsView, DeviceStatus};
use crate::operators::lockout::{addr_key, user_key};
use crate::operators::sessions;
use crate::operators::{AuditEntry, Role};
use auth::{Auth, Principal, client_addr, refuse};

pub mod series;
pub mod stations;
#[cfg(test)]
mod tests;

/// A comment line on an idle stream this often, so proxies and NAT boxes
/// on a flaky link do not drop it and the browser notices a dead server.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Audit entries `GET /api/audit` returns at most.
const AUDIT_MAX: usize = 500;

/// `GET /api/alerts`: the hub's view plus the server's clock, so the page
/// computes "since" and "last seen" against the gateway's time, not a
/// possibly wrong laptop clock.
#[derive(Debug, Serialize)]
pub struct AlertsBody {
    pub now_ns: i64,
    #[serde(flatten)]
    pub view: AlertsView,
}

/// `GET /api/devices`: every device, sorted by site then id.
#[derive(Debug, Serialize)]
pub struct DevicesBody {
    pub now_ns: i64,
    /// `alerts.silent_after`: the page judges silence itself, every second.
    pub silent_after_ns: i64,
    pub devices: Vec<DeviceStatus>,
}

#[derive(Debug, Clone)]
struct ApiState {
    hub: Arc<AlertHub>,
    /// Ends the event streams: a browser holding one open would otherwise
    /// keep the admin listener's graceful shutdown waiting forever.
    shutdown: CancellationToken,
    auth: Arc<Auth>,
}

/// The console: page, login and API, with its own authentication.
/// `extra`: more data routes (state applied), mounted behind the same
/// authentication (any role may read; a handler that changes something
/// checks the [`auth::Principal`] extension's role itself). `shutdown`
/// must be cancelled no later than the listener's own shutdown signal, or
/// an open event stream delays it.
pub fn router(hub: Arc<AlertHub>, shutdown: CancellationToken, auth: Arc<Auth>, extra: Option<Router>) -> Router {
    let pages = page_router_for(auth.language.as_str(), auth.mode());
    let state = ApiState { hub, shutdown, auth };
    let mut api = Router::new()
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/{alert_id}/ack", post(ack))
        .route("/api/devices", get(devices))
        .route("/api/devices/{device_id}", delete(decommission))
        .route("/api/events", get(events))
        .route("/api/session", get(session))
        .route("/api/logout", post(logout))
        .route("/api/silences", get(silences).post(add_silence))
        .route("/api/silences/{id}", delete(end_silence))
        .route("/api/audit", get(audit))
        .with_state(state.clone());
    if let Some(extra) = extra {
        api = api.merge(extra);
    }
    let api = api.route_layer(middleware::from_fn_with_state(state.auth.clone(), auth::authenticate));
    let public = Router::new().route("/api/login", post(login)).with_state(state);
    api.merge(public).merge(pages)
}

#[derive(Debug, Clone)]
struct ViewsState {
    hub: Arc<AlertHub>,
    series: Arc<series::SeriesReader>,
    map: Arc<stations::MapConfig>,
}

/// The trend chart's and the station map's data routes: pass them to
/// [`router`] as `extra`, so they sit behind the console's authentication
/// (any role may read them).
pub fn views_router(hub: Arc<AlertHub>, series: series::SeriesReader, map: stations::MapConfig) -> Router {
    Router::new()
        .route("/api/series", get(series_of))
        .route("/api/stations", get(stations_now))
        .with_state(ViewsState {
            hub,
            series: Arc::new(series),
            map: Arc::new(map),
        })
}

fn error_json(status: u16, message: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

/// `GET /api/series?device=…[&field=…&measurement=…|&rule=…][&range=24h]`.
async fn series_of(State(st): State<ViewsState>, Query(p): Query<series::SeriesParams>) -> Response {
    use series::{DeviceFacts, SeriesBody, downsample, levels_for, parse_range, resolve};
    let rules = st.hub.rules();
    let record = st.hub.device(&p.device);
    let facts = record.as_ref().map(|d| DeviceFacts {
        site: d.site.clone(),
        sensor_types: d.sensor_types.iter().cloned().collect(),
        fields: d.last_values.keys().cloned().collect(),
    });
    let asked = parse_range(p.range.as_deref()).and_then(|r| Ok((r, resolve(&p, rules.as_deref(), facts.as_ref())?)));
    let ((range, span), key) = match asked {
        Ok(v) => v,
        Err(e) => return error_json(e.status(), e.to_string()),
    };
    let to_ns = now_ns();
    let from_ns = to_ns.saturating_sub(i64::try_from(span.as_nanos()).unwrap_or(i64::MAX));
    let (samples, truncated) = match st.series.read(&key, from_ns, to_ns).await {
        Ok(v) => v,
        Err(e) => {
            let why = telegate_model::error_chain(&e);
            tracing::warn!(error = %why, device = %key.device, "console: trend series not read");
            return error_json(e.status(), why);
        }
    };
    let max = st.series.config().max_points;
    let points = downsample(&samples, max);
    let site = facts.as_ref().and_then(|f| f.site.as_deref());
    no_store(SeriesBody {
        levels: levels_for(&key, rules.as_deref(), site),
        device_id: key.device,
        measurement: key.measurement,
        field: key.field,
        range,
        from_ms: from_ns / 1_000_000,
        to_ms: to_ns / 1_000_000,
        source: st.series.config().query,
        samples: samples.len(),
        truncated,
        downsampled: points.len() < samples.len(),
        points,
    })
}

/// `GET /api/stations`.
async fn stations_now(State(st): State<ViewsState>) -> Response {
    let now = now_ns();
    no_store(stations::stations(
        &st.map,
        &st.hub.devices(now),
        &st.hub.alerts(now),
        now,
    ))
}

/// The API alone, open to whoever reaches it: for mounting behind
/// `admin::router`'s token check, and for tests.
pub fn api_router(hub: Arc<AlertHub>, shutdown: CancellationToken) -> Router {
    let state = ApiState {
        hub,
        shutdown,
        auth: Arc::new(Auth::open()),
    };
    Router::new()
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/{alert_id}/ack", post(ack))
        .route("/api/devices", get(devices))
        .route("/api/devices/{device_id}", delete(decommission))
        .route("/api/events", get(events))
        .route("/api/silences", get(silences).post(add_silence))
        .route("/api/silences/{id}", delete(end_silence))
        .route("/api/audit", get(audit))
        .route_layer(middleware::from_fn_with_state(state.auth.clone(), auth::authenticate))
        .with_state(state)
}

/// The page and its assets, without the token (they contain no data),
/// in the token mode and the browser's language.
pub fn page_router() -> Router {
    page_router_for("auto", "token")
}

/// The page with its default language (`vi`, `en`, `auto`) and login mode
/// (`users`, `token`, `open`) written into `<html>`.
fn page_router_for(language: &str, mode: &str) -> Router {
    let index: Arc<str> = INDEX_HTML
        .replace(
            "data-default-lang=\"auto\" data-auth=\"token\"",
            &format!("data-default-lang=\"{language}\" data-auth=\"{mode}\""),
        )
        .into();
    Router::new()
        .route(
            "/",
            get(move || {
                let index = index.clone();
                async move { page("text/html; charset=utf-8", index.to_string()) }
            }),
        )
        .route(
            "/console.css",
            get(|| async { page("text/css; charset=utf-8", CONSOLE_CSS.to_owned()) }),
        )
        .route(
            "/console.js",
            get(|| async { page("text/javascript; charset=utf-8", CONSOLE_JS.to_owned()) }),
        )
        .route(
            "/i18n.js",
            get(|| async { page("text/javascript; charset=utf-8", I18N_JS.to_owned()) }),
        )
        .route(
            "/views.css",
            get(|| async { page("text/css; charset=utf-8", VIEWS_CSS.to_owned()) }),
        )
        .route(
            "/trend.js",
            get(|| async { page("text/javascript; charset=utf-8", TREND_JS.to_owned()) }),
        )
        .route(
            "/map.js",
            get(|| async { page("text/javascript; charset=utf-8", MAP_JS.to_owned()) }),
        )
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const I18N_JS: &str = include_str!("assets/i18n.js");
const VIEWS_CSS: &str = include_str!("assets/views.css");
const TREND_JS: &str = include_str!("assets/trend.js");
const MAP_JS: &str = include_str!("assets/map.js");

/// Only our own files may run or be fetched (no inline script, nothing from
/// outside), the page cannot be framed, and no URL (which may carry the
/// token) leaks through a referrer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // Revalidate: after an upgrade the browser gets the new script.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        body,
    )
        .into_response()
}

/// Live data is never cached (by the browser or anything in between).
fn no_store<T: Serialize>(body: T) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Write an audit entry (blocking pool: it fsyncs).
async fn record(hub: &AlertHub, entry: AuditEntry) {
    if let Some(log) = hub.audit().cloned() {
        let _ = tokio::task::spawn_blocking(move || log.record(entry)).await;
    }
}

fn entry(p: &Principal, action: &str, addr: &str) -> AuditEntry {
    let e = AuditEntry::now(p.name(), action).addr(addr);
    match p {
        Principal::User { role, .. } => e.role(role.as_str()),
        _ => e,
    }
}

async fn alerts(State(st): State<ApiState>) -> Response {
    no_store(AlertsBody {
        now_ns: now_ns(),
        view: st.hub.alerts(now_ns()),
    })
}

async fn devices(State(st): State<ApiState>) -> Response {
    let now = now_ns();
    no_store(DevicesBody {
        now_ns: now,
        silent_after_ns: st.hub.silent_after_ns(),
        devices: st.hub.devices(now),
    })
}

/// `DELETE /api/devices/{device_id}` (admin): decommission a device —
/// forget it and clear its deadman (a firing one is resolved). 200 with
/// `{"decommissioned": id}`, 404 for an unknown device, 503 while the
/// evaluator is not running.
async fn decommission(
    State(st): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(device_id): Path<String>,
    req: Request,
) -> Response {
    use crate::alerting::hub::CommandError;
    if let Err(r) = p.require(Role::Admin) {
        return r;
    }
    let addr = client_addr(req.extensions());
    match st.hub.decommission(&device_id).await {
        Ok(()) => {
            record(
                &st.hub,
                entry(&p, "decommission", &addr).target(format!("device {device_id}")),
            )
            .await;
            no_store(serde_json::json!({ "decommissioned": device_id }))
        }
        Err(e) => {
            let status = match e {
                CommandError::UnknownDevice(_) => StatusCode::NOT_FOUND,
                CommandError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
            };
            refuse(status, e.to_string())
        }
    }
}

fn operator_refusal(e: &OperatorError) -> Response {
    let status = match e {
        OperatorError::NotFiring(_) | OperatorError::UnknownSilence(_) => StatusCode::NOT_FOUND,
        OperatorError::Invalid(_) => StatusCode::BAD_REQUEST,
        OperatorError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
    };
    refuse(status, e.to_string())
}

#[derive(Debug, Deserialize)]
struct AckBody {
    #[serde(default)]
    note: String,
}

/// `POST /api/alerts/{alert_id}/ack` (operator): `{"note": "…"}` → the ack;
/// every open console gets it live (`event: ack`).
async fn ack(
    State(st): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(alert_id): Path<String>,
    req: Request,
) -> Response {
    if let Err(r) = p.require(Role::Operator) {
        return r;
    }
    let addr = client_addr(req.extensions());
    let body: AckBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match st.hub.ack(&alert_id, p.name(), &body.note).await {
        Ok(a) => {
            record(
                &st.hub,
                entry(&p, "ack", &addr)
                    .target(format!("alert {} ({}, {})", a.alert_id, a.rule_id, a.level))
                    .note(&a.note),
            )
            .await;
            no_store(a)
        }
        Err(e) => operator_refusal(&e),
    }
}

/// A JSON body of at most 16 KiB (notes and reasons are short).
async fn read_json<T: serde::de::DeserializeOwned>(req: Request) -> Result<T, Response> {
    let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is larger than 16 KiB"))?;
    if bytes.is_empty() {
        return serde_json::from_slice(b"{}").map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()));
    }
    serde_json::from_slice(&bytes).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("not the expected JSON: {e}")))
}

async fn silences(State(st): State<ApiState>) -> Response {
    no_store(serde_json::json!({ "now_ns": now_ns(), "silences": st.hub.silences(now_ns()) }))
}

#[derive(Debug, Deserialize)]
struct SilenceBody {
    scope: String,
    value: String,
    /// A humantime duration: `"2h"`, `"30m"`, `"1d"`.
    duration: String,
    reason: String,
}

/// `POST /api/silences` (operator).
async fn add_silence(State(st): State<ApiState>, Extension(p): Extension<Principal>, req: Request) -> Response {
    if let Err(r) = p.require(Role::Operator) {
        return r;
    }
    let addr = client_addr(req.extensions());
    let body: SilenceBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(scope) = Scope::parse(&body.scope) else {
        return refuse(StatusCode::BAD_REQUEST, "scope must be rule, device or site");
    };
    let Ok(d) = humantime::parse_duration(body.duration.trim()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "duration {:?} is not a duration such as \"2h\" or \"30m\"",
                body.duration
            ),
        );
    };
    let duration_ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match st
        .hub
        .silence(scope, &body.value, &body.reason, p.name(), duration_ns)
        .await
    {
        Ok(s) => {
            record(
                &st.hub,
                entry(&p, "silence", &addr)
                    .target(format!(
                        "{} {} ({}, {})",
                        s.scope.as_str(),
                        s.value,
                        s.id,
                        body.duration.trim()
                    ))
                    .note(&s.reason),
            )
            .await;
            (StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(s)).into_response()
        }
        Err(e) => operator_refusal(&e),
    }
}

/// `DELETE /api/silences/{id}` (operator).
async fn end_silence(
    State(st): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    if let Err(r) = p.require(Role::Operator) {
        return r;
    }
    let addr = client_addr(req.extensions());
    match st.hub.unsilence(&id).await {
        Ok(s) => {
            record(
                &st.hub,
                entry(&p, "unsilence", &addr).target(format!("{} {} ({})", s.scope.as_str(), s.value, s.id)),
            )
            .await;
            no_store(s)
        }
        Err(e) => operator_refusal(&e),
    }
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
}

/// `GET /api/audit?limit=N`: the newest entries first (at most 500).
async fn audit(State(st): State<ApiState>, Query(q): Query<AuditQuery>) -> Response {
    let Some(log) = st.hub.audit().cloned() else {
        return no_store(serde_json::json!({ "entries": [] }));
    };
    let n = q.limit.unwrap_or(100).min(AUDIT_MAX);
    match tokio::task::spawn_blocking(move || log.tail(n)).await {
        Ok(Ok(entries)) => no_store(serde_json::json!({ "entries": entries })),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, telegate_model::error_chain(&e)),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn session(State(st): State<ApiState>, Extension(p): Extension<Principal>) -> Response {
    no_store(p.view(st.auth.language))
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    user: String,
    password: String,
}

/// `POST /api/login`: see [`crate::operators::lockout`] for the backoff.
async fn login(State(st): State<ApiState>, req: Request) -> Response {
    let Some(users) = st.auth.users.clone() else {
        return refuse(
            StatusCode::NOT_FOUND,
            "no operator accounts on this gateway (admin.console.users_file): use the admin token",
        );
    };
    let addr = client_addr(req.extensions());
    let body: LoginBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let name = body.user.trim().to_owned();
    let mut keys = vec![user_key(&name)];
    if let Ok(ip) = addr.parse() {
        keys.push(addr_key(ip));
    }
    let audit_name = if crate::operators::users::valid_name(&name) {
        name.clone()
    } else {
        "(invalid name)".to_owned()
    };
    if let Some(wait) = st.auth.lockout.locked(&keys) {
        record(
            &st.hub,
            AuditEntry::now(&audit_name, "login_locked").addr(&addr).note(format!(
                "refused without checking: locked for {} s more",
                wait.as_secs() + 1
            )),
        )
        .await;
        return locked(wait);
    }
    // Argon2 takes tens of milliseconds: off the async workers. An unknown
    // name is checked against a decoy hash, so it takes as long.
    let user = users.get(&name);
    let hash = user
        .as_ref()
        .map_or_else(|| crate::operators::password::decoy().to_owned(), |u| u.hash.clone());
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || crate::operators::password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
        let lock = st.auth.lockout.failed(&keys);
        record(
            &st.hub,
            AuditEntry::now(&audit_name, "login_failed")
                .addr(&addr)
                .note(match lock {
                    Some(w) => format!("wrong user name or password; locked for {} s", w.as_secs_f64().ceil()),
                    None => "wrong user name or password".to_owned(),
                }),
        )
        .await;
        // 401 either way (the password was checked and is wrong); a lock
        // this failure started is announced with Retry-After.
        return match lock {
            Some(w) => {
                let secs = w.as_secs() + u64::from(w.subsec_nanos() > 0);
                (
                    StatusCode::UNAUTHORIZED,
                    [
                        (header::RETRY_AFTER, secs.to_string()),
                        (header::CACHE_CONTROL, "no-store".to_owned()),
                    ],
                    Json(serde_json::json!({
                        "error": format!("wrong user name or password; locked for {secs} s"),
                        "retry_after_s": secs,
                    })),
                )
                    .into_response()
            }
            None => refuse(StatusCode::UNAUTHORIZED, "wrong user name or password"),
        };
    };
    st.auth.lockout.succeeded(&user_key(&name));
    let (id, s) = match st.auth.sessions.start(&user.name) {
        Ok(v) => v,
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    record(
        &st.hub,
        AuditEntry::now(&user.name, "login")
            .role(user.role.as_str())
            .addr(&addr),
    )
    .await;
    let cookie = sessions::set_cookie(&id, st.auth.sessions.ttl(), st.auth.secure_cookie);
    (
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(serde_json::json!({
            "user": user.name,
            "role": user.role,
            "csrf": s.csrf,
            "auth": "session",
            "language": st.auth.language.as_str(),
        })),
    )
        .into_response()
}

fn locked(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, secs.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(serde_json::json!({
            "error": format!("too many failed logins: try again in {secs} s"),
            "retry_after_s": secs,
        })),
    )
        .into_response()
}

/// `POST /api/logout` (a session, with its CSRF token).
async fn logout(State(st): State<ApiState>, Extension(p): Extension<Principal>, req: Request) -> Response {
    let addr = client_addr(req.extensions());
    if let Principal::User { session, .. } = &p {
        st.auth.sessions.end(session);
        record(&st.hub, entry(&p, "logout", &addr)).await;
    }
    (
        [
            (header::SET_COOKIE, sessions::clear_cookie(st.auth.secure_cookie)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(serde_json::json!({ "logged_out": p.name() })),
    )
        .into_response()
}

/// One event per hub event, as JSON: `transition` (a transition), `ack`
/// (an acknowledgement: who, note, when) and `silences` (the whole list of
/// active silences after a change). A client that falls more than the
/// hub's channel behind gets `event: lagged` with `{"skipped": n}` and
/// continues from the oldest event still held: the alert task never waits
/// for a slow browser, and the page refetches to catch up.
async fn events(State(st): State<ApiState>) -> impl IntoResponse {
    // Subscribed before the response starts: once the browser sees the
    // stream open, nothing published afterwards is missed, so a fetch of
    // `/api/alerts` after `open` leaves no gap.
    let rx = st.hub.subscribe();
    let stream = hub_events(rx, st.shutdown);
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // Tells nginx not to buffer the stream, should one sit in front.
            (
                HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
}

fn hub_events(
    rx: tokio::sync::broadcast::Receiver<HubEvent>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    stream::unfold((rx, shutdown), |(mut rx, shutdown)| async move {
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return None,
                r = rx.recv() => r,
            };
            let encoded = match &received {
                Ok(HubEvent::Transition(t)) => Event::default().event("transition").json_data(&**t),
                Ok(HubEvent::Ack(a)) => Event::default().event("ack").json_data(&**a),
                Ok(HubEvent::Silences(s)) => Event::default().event("silences").json_data(&**s),
                Err(RecvError::Lagged(skipped)) => Ok(Event::default()
                    .event("lagged")
                    .data(format!("{{\"skipped\":{skipped}}}"))),
                Err(RecvError::Closed) => return None,
            };
            match encoded {
                Ok(e) => return Some((Ok(e), (rx, shutdown))),
                Err(e) => {
                    tracing::warn!(error = %e, "console: cannot encode an event; skipped");
                }
            }
        }
    })
}
