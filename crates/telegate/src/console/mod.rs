//! The operator API and console: what is firing, what just changed, and
//! how every device is doing, for the people on duty.
//!
//! Two routers, because they need different protection:
//!
//! - [`api_router`] — `GET /api/alerts`, `GET /api/devices`,
//!   `DELETE /api/devices/{device_id}` (decommission) and
//!   `GET /api/events` (server-sent events). It carries live data, so it is
//!   handed to [`crate::admin::router`] as its `api`, behind the bearer token.
//! - [`views_router`] — `GET /api/series` (a device's field from the
//!   database, for the trend chart; [`series`]) and `GET /api/stations`
//!   (the station map; [`stations`]). Data too: merged into `api`.
//! - [`page_router`] — `GET /` and its static files. They hold no data
//!   (a browser cannot attach a header to the page load, so it could not
//!   load them behind the token), and are merged *outside* the token check:
//!
//! ```ignore
//! let app = admin::router(state, token, Some(console::api_router(hub, admin_stop.clone())))
//!     .merge(console::page_router());
//! ```
//!
//! **How the page gets the token.** The operator opens
//! `http://127.0.0.1:9464/#token=…` (or `?token=…`). The script reads it,
//! keeps it in the tab's `sessionStorage` (gone when the tab closes) and
//! removes it from the address bar. `fetch` sends it as
//! `Authorization: Bearer`; `EventSource` cannot set headers, so the stream
//! sends it as `?token=`, which the admin middleware accepts. A missing or
//! wrong token shows a token field instead of data. The fragment form is
//! preferred: a browser never sends the fragment, so the initial page load
//! carries no secret.
//!
//! The page is plain HTML, CSS and JavaScript compiled into the binary
//! (`include_str!`): no build step, no CDN, nothing fetched from outside, so
//! it works at a border gate without internet.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{delete, get};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::alerting::{AlertHub, AlertsView, DeviceStatus};

pub mod series;
pub mod stations;
#[cfg(test)]
mod tests;

/// A comment line on an idle stream this often, so proxies and NAT boxes
/// on a flaky link do not drop it and the browser notices a dead server.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
}

/// The data routes; mount them behind the token (see the module docs).
/// `shutdown` must be cancelled no later than the listener's own shutdown
/// signal, or an open event stream delays it.
pub fn api_router(hub: Arc<AlertHub>, shutdown: CancellationToken) -> Router {
    Router::new()
        .route("/api/alerts", get(alerts))
        .route("/api/devices", get(devices))
        .route("/api/devices/{device_id}", delete(decommission))
        .route("/api/events", get(events))
        .with_state(ApiState { hub, shutdown })
}

#[derive(Debug, Clone)]
struct ViewsState {
    hub: Arc<AlertHub>,
    series: Arc<series::SeriesReader>,
    map: Arc<stations::MapConfig>,
}

/// The trend chart's and the station map's data routes; merge them into
/// the `api` router (behind the token).
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
            tracing::warn!(error = %e, device = %key.device, "console: trend series not read");
            return error_json(e.status(), e.to_string());
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

/// The page and its assets, without the token (they contain no data).
pub fn page_router() -> Router {
    Router::new()
        .route("/", get(|| async { page("text/html; charset=utf-8", INDEX_HTML) }))
        .route(
            "/console.css",
            get(|| async { page("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
        .route(
            "/console.js",
            get(|| async { page("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/views.css",
            get(|| async { page("text/css; charset=utf-8", VIEWS_CSS) }),
        )
        .route(
            "/trend.js",
            get(|| async { page("text/javascript; charset=utf-8", TREND_JS) }),
        )
        .route(
            "/map.js",
            get(|| async { page("text/javascript; charset=utf-8", MAP_JS) }),
        )
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const VIEWS_CSS: &str = include_str!("assets/views.css");
const TREND_JS: &str = include_str!("assets/trend.js");
const MAP_JS: &str = include_str!("assets/map.js");

/// Only our own files may run or be fetched (no inline script, nothing from
/// outside), the page cannot be framed, and no URL (which may carry the
/// token) leaks through a referrer.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> Response {
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

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
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

/// `DELETE /api/devices/{device_id}`: decommission a device — forget it
/// and clear its deadman (a firing one is resolved). 200 with
/// `{"decommissioned": id}`, 404 for an unknown device, 503 while the
/// evaluator is not running.
async fn decommission(State(st): State<ApiState>, Path(device_id): Path<String>) -> Response {
    use crate::alerting::hub::CommandError;
    match st.hub.decommission(&device_id).await {
        Ok(()) => no_store(serde_json::json!({ "decommissioned": device_id })),
        Err(e) => {
            let status = match e {
                CommandError::UnknownDevice(_) => StatusCode::NOT_FOUND,
                CommandError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
            };
            (
                status,
                [(header::CACHE_CONTROL, "no-store")],
                Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    }
}

/// One `event: transition` per transition, as JSON. A client that falls
/// more than the hub's channel behind gets `event: lagged` with
/// `{"skipped": n}` and continues from the oldest transition still held:
/// the alert task never waits for a slow browser, and the page refetches
/// `/api/alerts` to catch up.
async fn events(State(st): State<ApiState>) -> impl IntoResponse {
    // Subscribed before the response starts: once the browser sees the
    // stream open, nothing published afterwards is missed, so a fetch of
    // `/api/alerts` after `open` leaves no gap.
    let rx = st.hub.subscribe();
    let stream = transition_events(rx, st.shutdown);
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

fn transition_events(
    rx: tokio::sync::broadcast::Receiver<Arc<telegate_alert::Transition>>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    stream::unfold((rx, shutdown), |(mut rx, shutdown)| async move {
        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => return None,
                r = rx.recv() => r,
            };
            let event = match received {
                Ok(t) => match Event::default().event("transition").json_data(&*t) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, alert_id = %t.alert_id, "console: cannot encode a transition; skipped");
                        continue;
                    }
                },
                Err(RecvError::Lagged(skipped)) => Event::default()
                    .event("lagged")
                    .data(format!("{{\"skipped\":{skipped}}}")),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, shutdown)));
        }
    })
}
