//! A webhook receiver for the alerting tests: an HTTP server on a free
//! loopback port that records every request (when, headers that matter,
//! JSON body, the status it answered) and can be told to fail the next
//! requests with 503, to exercise the sender's retries.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::task::JoinHandle;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    /// What the receiver answered.
    pub status: u16,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub content_type: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Debug, Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    fail_next: AtomicU32,
}

/// The receiver; stops on drop.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let fail = shared
        .fail_next
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    };
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    let hit = Hit {
        at: Instant::now(),
        status: status.as_u16(),
        authorization: header(&headers, "authorization"),
        idempotency_key: header(&headers, "idempotency-key"),
        content_type: header(&headers, "content-type"),
        body,
    };
    shared.hits.lock().unwrap_or_else(|e| e.into_inner()).push(hit);
    status
}

impl Receiver {
    /// Listen on `127.0.0.1:<free port>` at path `/hook`.
    pub async fn start() -> anyhow::Result<Self> {
        let shared = Arc::new(Shared::default());
        let app = Router::new().route("/hook", post(receive)).with_state(shared.clone());
        let (addr, task) = crate::serve(app, "the webhook receiver").await?;
        Ok(Self { addr, shared, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answer the next `n` requests with 503 Service Unavailable.
    pub fn fail_next(&self, n: u32) {
        self.shared.fail_next.store(n, SeqCst);
    }

    /// Every request so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The requests answered 2xx: the deliveries.
    pub fn delivered(&self) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.status < 300).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
