//! The webhook output: each transition's JSON POSTed to `alerts.webhook.url`,
//! one at a time and in order (a receiver sees `fired` before `resolved`).
//! 2xx is delivered. Network errors, timeouts, 408, 429 and 5xx are retried
//! with backoff (`Retry-After` honoured) up to `max_attempts`; any other
//! answer (a 4xx: the receiver refuses this request, retrying cannot help;
//! a redirect: point the URL at its target) drops the transition at once.
//! Either way the failure is logged with the receiver's answer and counted.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Backoff, OutputError, pause, settled, worth_logging};
use crate::alerting::config::WebhookConfig;
use crate::alerting::payload::Delivery;
use crate::alerting::stats::{AlertStats, OutputKind};

/// Longest `Retry-After` obeyed.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The HTTP client and request parts that do not change per transition.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    client: reqwest::Client,
    url: String,
    auth: Option<HeaderValue>,
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt, after `retry_after` if the receiver said so.
    Retry {
        problem: String,
        retry_after: Option<Duration>,
    },
    /// Another attempt would get the same answer.
    Refused(String),
}

/// The start of a response body, for the log.
fn excerpt(body: &str) -> String {
    let body = body.trim();
    let mut cut = body.len().min(300);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    body[..cut].replace(['\n', '\r'], " ")
}

impl Webhook {
    pub(crate) fn new(cfg: &WebhookConfig) -> Result<Webhook, OutputError> {
        let bad = |message: String| OutputError::Webhook {
            url: cfg.url.clone(),
            message,
        };
        telegate_influx::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let auth = if cfg.token.is_empty() {
            None
        } else {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", cfg.token.expose()))
                .map_err(|_| bad("the token contains characters not allowed in an HTTP header".into()))?;
            v.set_sensitive(true);
            Some(v)
        };
        Ok(Webhook {
            client,
            url: cfg.url.clone(),
            auth,
        })
    }

    async fn post(&self, d: &Delivery) -> Result<(), Failure> {
        let mut req = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("telegate/", env!("CARGO_PKG_VERSION")))
            .header("Idempotency-Key", d.idempotency_key())
            .body(d.json.clone());
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let resp = req.send().await.map_err(|e| Failure::Retry {
            problem: error_chain(&e),
            retry_after: None,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = resp.text().await.unwrap_or_default();
        let problem = format!("answered {status}: {}", excerpt(&body));
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            Err(Failure::Retry { problem, retry_after })
        } else {
            Err(Failure::Refused(problem))
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

pub(crate) async fn run(
    hook: Webhook,
    cfg: WebhookConfig,
    mut rx: mpsc::Receiver<Arc<Delivery>>,
    give_up: CancellationToken,
    stats: Arc<AlertStats>,
    // `webhook` or `oncall`: the same code, counted apart.
    kind: OutputKind,
) {
    let out = stats.output(kind);
    let mut backoff = Backoff::new(cfg.retry());
    while let Some(d) = rx.recv().await {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let result = tokio::select! {
                r = hook.post(&d) => r,
                () = give_up.cancelled() => {
                    tracing::error!(transitions = 1 + rx.len(), url = %hook.url, "alert output webhook: giving up at shutdown; these transitions were not delivered");
                    settled(out, 1 + rx.len(), false);
                    return;
                }
            };
            let (problem, retry_after) = match result {
                Ok(()) => {
                    if backoff.failures() > 0 {
                        tracing::info!(after_failures = backoff.failures(), url = %hook.url, "alert output webhook: delivering again");
                    }
                    backoff.reset();
                    settled(out, 1, true);
                    break;
                }
                Err(Failure::Refused(problem)) => {
                    out.errors.fetch_add(1, Relaxed);
                    tracing::error!(url = %hook.url, problem, alert_id = %d.transition.alert_id, "alert output webhook: the receiver refused the transition; dropped (retrying cannot help)");
                    // The next transition starts from retry_initial, as documented.
                    backoff.reset();
                    settled(out, 1, false);
                    break;
                }
                Err(Failure::Retry { problem, retry_after }) => (problem, retry_after),
            };
            out.errors.fetch_add(1, Relaxed);
            if cfg.max_attempts > 0 && attempts >= cfg.max_attempts {
                tracing::error!(url = %hook.url, problem, attempts, alert_id = %d.transition.alert_id, "alert output webhook: giving up on the transition after max_attempts");
                backoff.reset();
                settled(out, 1, false);
                break;
            }
            let delay = retry_after.unwrap_or_else(|| backoff.next_delay());
            if worth_logging(attempts) {
                tracing::warn!(url = %hook.url, problem, attempt = attempts, retry_in = ?delay, "alert output webhook: delivery failed; will retry");
            }
            if !pause(delay, &give_up).await {
                tracing::error!(transitions = 1 + rx.len(), url = %hook.url, "alert output webhook: giving up at shutdown; these transitions were not delivered");
                settled(out, 1 + rx.len(), false);
                return;
            }
        }
    }
}
