//! A fault-injecting stand-in for a database's write endpoint: answers
//! what a real InfluxDB or VictoriaMetrics won't produce on demand (429 with
//! `Retry-After`, 503, a 400 naming one line of a batch), chosen per request
//! by a script, and records every request with its decompressed body so a
//! test can count what was stored. Only for faults: whatever a real server
//! does, the tests ask the real server.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use tokio::task::JoinHandle;

/// What to answer: status, extra headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// Chooses the answer from the request's number (0, 1, …) and its
/// decompressed body.
pub type Script = Arc<dyn Fn(usize, &str) -> Answer + Send + Sync>;

/// One request the server got.
#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    /// What the server answered.
    pub status: u16,
    /// The body, gunzipped when it came with `Content-Encoding: gzip`.
    pub body: String,
}

struct Shared {
    script: Script,
    requests: Mutex<Vec<Request>>,
}

/// The server; stops on drop.
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let gzip = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let body = if gzip {
        let mut text = String::new();
        match flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text) {
            Ok(_) => text,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")).into_response(),
        }
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    // Numbered and recorded under one lock: concurrent requests get distinct
    // numbers and are logged in the order their answers were chosen.
    let answer = {
        let mut requests = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
        let answer = (shared.script)(requests.len(), &body);
        requests.push(Request {
            at: Instant::now(),
            status: answer.status,
            body,
        });
        answer
    };
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer.body,
    )
        .into_response();
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}

impl FaultServer {
    /// Listen on `127.0.0.1:<free port>`, answering every path and method
    /// as `script` says.
    pub async fn start(script: Script) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::default(),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let (addr, task) = crate::serve(app, "the fault server").await?;
        Ok(Self { addr, shared, task })
    }

    /// The base URL, as a writer's `url` setting.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The line-protocol lines of every request answered 2xx: what the
    /// database would hold.
    pub fn stored_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| r.body.lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
