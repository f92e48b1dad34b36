//! The admin HTTP listener: `/healthz`, `/readyz`, `/metrics`, and room for
//! the operator API.
//!
//! It binds to loopback unless told otherwise. `/metrics` and `/api/*`
//! require the bearer token when one is configured; the probes never do
//! (a kubelet or load balancer has no token and learns nothing secret).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use telegate_influx::Output;
use telegate_model::Secret;
use telegate_wal::Wal;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{self, ExtraMetrics};
use crate::stats::Stats;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub stats: Stats,
    pub output: Output,
    pub wal: Option<Arc<Wal>>,
    pub extra: Option<Arc<dyn ExtraMetrics>>,
    /// `admin.ready_grace`: how long writes may keep failing before
    /// `/readyz` says the gateway is not storing.
    pub ready_grace: std::time::Duration,
}

/// Bind the listener (so a taken port fails start-up, not later).
pub async fn bind(listen: &str) -> anyhow::Result<TcpListener> {
    use anyhow::Context as _;
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("admin.listen = {listen:?}: cannot listen there (port taken, or not a local address)"))
}

/// The probes and `/metrics`; `api` is merged in behind the token check.
pub fn router(state: AdminState, token: Secret, api: Option<Router>) -> Router {
    let token = Arc::new(token);
    let mut protected = Router::new()
        .route("/metrics", get(metrics_page))
        .with_state(state.clone());
    if let Some(api) = api {
        protected = protected.merge(api);
    }
    let protected = protected.route_layer(middleware::from_fn_with_state(token, require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(protected)
}

/// Serve until `shutdown`.
pub fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // The peer address reaches handlers (login backoff per address, the audit log).
        let result = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "admin listener failed");
        }
    })
}

/// The bound address, for logs and for tests that listen on port 0.
pub fn local_addr(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

async fn require_token(State(token): State<Arc<Secret>>, headers: HeaderMap, req: Request, next: Next) -> Response {
    if token.is_empty() || bearer_matches(&token, &headers, req.uri()) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"telegate\"")],
            "a bearer token is required (admin.token_file / admin.token_env)\n",
        )
            .into_response()
    }
}

/// Whether the request carries the (non-empty) admin token, as
/// `Authorization: Bearer` or `?token=`. Also used by the console's own
/// authentication, where the token stands beside operator sessions.
pub(crate) fn bearer_matches(token: &Secret, headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    if token.is_empty() {
        return false;
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Also accepted as `?token=` so a browser's EventSource (which cannot
    // set headers) can open the operator stream.
    let query_token = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .map(percent_decode);
    match given.map(str::to_owned).or(query_token) {
        Some(t) => constant_time_eq(t.as_bytes(), token.expose().as_bytes()),
        None => false,
    }
}

/// `%XX` escapes decoded, so a token with `+`, `/` or `=` works in
/// `?token=` whether or not the client percent-encoded it. (`+` is kept as
/// is: browsers' `encodeURIComponent` encodes it, and base64 tokens sent raw
/// contain it.)
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Compare without an early exit, so response timing does not reveal how
/// much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn metrics_page(State(state): State<AdminState>) -> Response {
    let oldest = state.wal.as_ref().and_then(|w| w.oldest_pending_age());
    let body = metrics::render(&state.stats, state.output.health(), oldest, state.extra.as_deref());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Ready = storing right now: connected to the broker, the WAL (if on)
/// accepts writes and has room, and writes to the database succeed — judged
/// by what the writes did ([`telegate_influx::WriteHealth`]), not by a ping,
/// so a database that answers `/ping` but refuses every write (dropped,
/// wrong password) makes the gateway unready once the failures have lasted
/// `admin.ready_grace`. Each problem is one line naming what is wrong and
/// what to change; while no write has failed, a short ping still catches a
/// database that is down before the next batch is due.
async fn readyz(State(state): State<AdminState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let mut problems = Vec::new();
    if let Some((stage, why)) = state.stats.stages.dead() {
        problems.push(format!(
            "pipeline: stage `{stage}` died ({why}); acknowledgements stopped"
        ));
    }
    if !state.stats.source.connected.load(Relaxed) {
        problems.push("mqtt: not connected to the broker".to_owned());
    }
    if let Some(wal) = &state.stats.wal {
        if wal.write_failing.load(Relaxed) {
            problems.push("wal: writes are failing".to_owned());
        }
        if wal.full.load(Relaxed) {
            problems.push("wal: budget full (acknowledgements paused)".to_owned());
        }
    }
    match state.output.health().failing() {
        Some(failing) if failing.for_ >= state.ready_grace => problems.push(format!(
            "influx: writes failing for {}s: {}",
            failing.for_.as_secs(),
            failing.error
        )),
        Some(_) => {}
        None => {
            if let Err(e) = state.output.ping().await {
                problems.push(format!("influx: {}", telegate_model::ErrorChain(&e)));
            }
        }
    }
    // Degraded, not dead: storage goes on, but something was set aside.
    let mut degraded = Vec::new();
    let corrupt = state.stats.wal.as_ref().map_or(0, |w| w.corrupt_frames.load(Relaxed));
    if corrupt > 0 {
        degraded.push(format!("wal: {corrupt} corrupt frame(s) quarantined and skipped"));
    }
    let quarantine = &state.stats.pipeline.quarantine;
    let (quarantined, errors) = (quarantine.quarantined.load(Relaxed), quarantine.errors.load(Relaxed));
    if quarantined + errors > 0 {
        degraded.push(format!(
            "dead letters: {quarantined} messages quarantined ({} files, {} bytes in the quarantine directory; {errors} lost to write errors)",
            quarantine.files.load(Relaxed),
            quarantine.bytes.load(Relaxed),
        ));
    }
    if !problems.is_empty() {
        let mut body = problems.join("\n");
        body.push('\n');
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    } else if degraded.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = format!("ready (degraded)\n{}\n", degraded.join("\n"));
        (StatusCode::OK, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(super::percent_decode("Zk4%2Bq%2F7w%3D"), "Zk4+q/7w=");
        assert_eq!(super::percent_decode("Zk4+q/7w="), "Zk4+q/7w=");
        assert_eq!(super::percent_decode("50%"), "50%");
        assert_eq!(super::percent_decode("%zz"), "%zz");
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
