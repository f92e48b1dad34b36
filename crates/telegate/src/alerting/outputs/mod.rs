//! Where transitions go: MQTT, InfluxDB and a webhook, each a task of its
//! own behind a bounded queue, so a slow or dead destination delays only
//! itself. The evaluator hands each transition to every queue with
//! `try_send`: a full queue drops the transition for that output (counted
//! as `telegate_alert_queue_dropped_total{queue=…}`) rather than making the
//! evaluator, and through it ingestion, wait.
//!
//! Each output retries failed deliveries with capped, jittered exponential
//! backoff. When its queue closes (shutdown, or the output is replaced by a
//! reload) it keeps delivering what is queued for a grace period, then gives
//! up on the rest, logging how many it dropped.

pub mod email;
pub mod influx;
pub mod mqtt;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_influx::Output;
use telegate_mqtt::MqttConfig;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use telegate_alert::{Change, Transition};

use super::config::{AlertsConfig, Retry};
use super::payload::Delivery;
use super::stats::{AlertStats, OutputKind, OutputStats};

/// An output that cannot be set up (bad TLS files, an HTTP client that
/// cannot be built).
#[derive(Debug, Error)]
pub enum OutputError {
    #[error("alerts.mqtt")]
    Mqtt(#[from] telegate_mqtt::MqttError),
    #[error("alerts.webhook.url = {url:?}: cannot build the HTTP client")]
    WebhookClient {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A setting that does not fit the URL (no error below it to keep).
    #[error("alerts.webhook.url = {url:?}: {message}")]
    Webhook { url: String, message: String },
    #[error("alerts.webhook.url = {url:?}: alerts.webhook.token_header `{header}` is not a header name")]
    TokenHeader {
        url: String,
        header: String,
        #[source]
        source: reqwest::header::InvalidHeaderName,
    },
    #[error("alerts.webhook.url = {url:?}: the token contains characters not allowed in an HTTP header")]
    TokenValue {
        url: String,
        #[source]
        source: reqwest::header::InvalidHeaderValue,
    },
    /// `problem` names the value; the source (lettre's, or the file's I/O
    /// error) says what is wrong with it.
    #[error("alerts.email.{key}: {problem}")]
    Email {
        key: &'static str,
        problem: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What outputs share with the rest of the gateway and cannot change
/// without a restart: the broker and the database.
#[derive(Debug, Clone)]
pub struct OutputEnv {
    pub mqtt: MqttConfig,
    /// The gateway's [`Output`]: InfluxDB, or the `[file_sink]` files.
    pub influx: Output,
}

/// Sleep `d`, or return false at once if the output was told to give up.
pub(crate) async fn pause(d: Duration, give_up: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        () = give_up.cancelled() => false,
    }
}

/// Log the first failure of a streak and then every power of two, so a
/// long outage does not flood the log.
pub(crate) fn worth_logging(failures: u32) -> bool {
    failures <= 1 || failures.is_power_of_two()
}

/// Account for `n` transitions leaving an output's queue.
pub(crate) fn settled(stats: &OutputStats, n: usize, delivered: bool) {
    let n = n as u64;
    stats.depth.fetch_sub(n.min(stats.depth.load(Relaxed)), Relaxed);
    if delivered {
        stats.delivered.fetch_add(n, Relaxed);
    } else {
        stats.dropped.fetch_add(n, Relaxed);
    }
}

/// Whether output `kind` takes transition `t`: **the one place** where
/// silences and escalation routing are decided, so every output — present
/// or added later — agrees.
///
/// - Recording outputs ([`OutputKind::records`]: the `alerts` measurement)
///   take every transition, silenced or not.
/// - Notifying outputs skip silenced transitions ([`Transition::notifies`]).
/// - An escalation (`change = "unacknowledged"`) goes to the outputs the
///   rules file's `[escalation] outputs` names, or to every notifying output
///   when it names none.
/// - `oncall` takes escalations only.
pub fn delivers(kind: OutputKind, t: &Transition, escalate_to: &[String]) -> bool {
    if kind.records() {
        return true;
    }
    if !t.notifies() {
        return false;
    }
    if t.change == Change::Unacknowledged {
        escalate_to.is_empty() || escalate_to.iter().any(|n| n == kind.label())
    } else {
        kind != OutputKind::Oncall
    }
}

/// Why one delivery attempt of a one-at-a-time output (webhook, email) failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another attempt, after `retry_after` if the receiver said so.
    Retry {
        problem: String,
        retry_after: Option<Duration>,
    },
    /// Another attempt would get the same answer.
    Refused(String),
}

/// How a one-at-a-time output retries.
#[derive(Debug, Clone)]
pub(crate) struct OneByOne {
    pub(crate) kind: OutputKind,
    /// Where it delivers, for the log (a URL, an SMTP server).
    pub(crate) target: String,
    pub(crate) retry: Retry,
    /// Attempts per transition before it is dropped; 0: no limit.
    pub(crate) max_attempts: u32,
}

/// The loop of the outputs that deliver one transition at a time and in
/// order (webhook, email): `attempt` until delivered, retried with backoff
/// (or the receiver's `Retry-After`) up to `max_attempts`, dropped at once
/// when refused for good; transitions `wanted` says no to leave the queue
/// uncounted. At `give_up` (shutdown past the grace period) what is left is
/// counted as dropped.
pub(crate) async fn deliver_each<F, Fut>(
    how: OneByOne,
    mut rx: mpsc::Receiver<Arc<Delivery>>,
    give_up: CancellationToken,
    stats: Arc<AlertStats>,
    wanted: impl Fn(&Delivery) -> bool,
    mut attempt: F,
) where
    F: FnMut(Arc<Delivery>) -> Fut,
    Fut: Future<Output = Result<(), Failure>>,
{
    let out = stats.output(how.kind);
    let (name, target) = (how.kind.label(), how.target.as_str());
    let mut backoff = how.retry.backoff();
    let at_shutdown = |rx: &mpsc::Receiver<Arc<Delivery>>| {
        tracing::error!(
            transitions = 1 + rx.len(),
            output = name,
            target,
            "alert output: giving up at shutdown; these transitions were not delivered"
        );
        settled(out, 1 + rx.len(), false);
    };
    while let Some(d) = rx.recv().await {
        if !wanted(&d) {
            out.depth.fetch_sub(1.min(out.depth.load(Relaxed)), Relaxed);
            continue;
        }
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let result = tokio::select! {
                r = attempt(d.clone()) => r,
                () = give_up.cancelled() => return at_shutdown(&rx),
            };
            let (problem, retry_after) = match result {
                Ok(()) => {
                    if backoff.failures() > 0 {
                        tracing::info!(
                            after_failures = backoff.failures(),
                            output = name,
                            target,
                            "alert output: delivering again"
                        );
                    }
                    backoff.reset();
                    settled(out, 1, true);
                    break;
                }
                Err(Failure::Refused(problem)) => {
                    out.errors.fetch_add(1, Relaxed);
                    tracing::error!(output = name, target, problem, alert_id = %d.transition.alert_id, "alert output: the receiver refused the transition; dropped (retrying cannot help)");
                    // The next transition starts from retry_initial, as documented.
                    backoff.reset();
                    settled(out, 1, false);
                    break;
                }
                Err(Failure::Retry { problem, retry_after }) => (problem, retry_after),
            };
            out.errors.fetch_add(1, Relaxed);
            if how.max_attempts > 0 && attempts >= how.max_attempts {
                tracing::error!(output = name, target, problem, attempts, alert_id = %d.transition.alert_id, "alert output: giving up on the transition after max_attempts");
                backoff.reset();
                settled(out, 1, false);
                break;
            }
            let delay = retry_after.unwrap_or_else(|| backoff.next_delay());
            if worth_logging(attempts) {
                tracing::warn!(output = name, target, problem, attempt = attempts, retry_in = ?delay, "alert output: delivery failed; will retry");
            }
            if !pause(delay, &give_up).await {
                return at_shutdown(&rx);
            }
        }
    }
}

pub(crate) use telegate_model::error_chain;

/// A running output: its queue and its task.
#[derive(Debug)]
struct Handle {
    kind: OutputKind,
    tx: mpsc::Sender<Arc<Delivery>>,
    give_up: CancellationToken,
    task: JoinHandle<()>,
}

impl Handle {
    fn spawn<F, Fut>(kind: OutputKind, queue: usize, run: F) -> Handle
    where
        F: FnOnce(mpsc::Receiver<Arc<Delivery>>, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(queue);
        let give_up = CancellationToken::new();
        let task = tokio::spawn(run(rx, give_up.clone()));
        Handle {
            kind,
            tx,
            give_up,
            task,
        }
    }

    fn offer(&self, d: &Arc<Delivery>, stats: &AlertStats) {
        let s = stats.output(self.kind);
        s.depth.fetch_add(1, Relaxed);
        if self.tx.try_send(d.clone()).is_err() {
            s.depth.fetch_sub(1, Relaxed);
            let dropped = s.dropped.fetch_add(1, Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    output = self.kind.label(),
                    dropped,
                    alert_id = %d.transition.alert_id,
                    "alert output queue full: transition dropped for this output (telegate_alert_queue_dropped_total)"
                );
            }
        }
    }

    /// Close the queue, let the task deliver for `grace`, then make it give up.
    async fn close(self, grace: Duration) {
        drop(self.tx);
        let give_up = self.give_up.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            give_up.cancel();
        });
        if let Err(e) = self.task.await {
            tracing::error!(output = self.kind.label(), error = %e, "alert output task failed");
        }
        timer.abort();
    }
}

/// Every configured output.
#[derive(Debug)]
pub struct Outputs {
    config: AlertsConfig,
    env: OutputEnv,
    stats: Arc<AlertStats>,
    grace: Duration,
    handles: Vec<Handle>,
    /// `[escalation] outputs` of the rules in service.
    escalate_to: Vec<String>,
}

impl Outputs {
    /// Start the outputs `config` enables. `grace` is how long a closed
    /// output may keep delivering.
    pub fn start(
        config: &AlertsConfig,
        env: OutputEnv,
        stats: Arc<AlertStats>,
        grace: Duration,
    ) -> Result<Outputs, OutputError> {
        let mut outputs = Outputs {
            config: config.clone(),
            env,
            stats,
            grace,
            handles: Vec::new(),
            escalate_to: Vec::new(),
        };
        for kind in OutputKind::ALL {
            if let Some(h) = outputs.spawn(kind, config)? {
                outputs.handles.push(h);
            }
        }
        Ok(outputs)
    }

    fn spawn(&self, kind: OutputKind, c: &AlertsConfig) -> Result<Option<Handle>, OutputError> {
        let stats = self.stats.clone();
        let handle = match kind {
            OutputKind::Mqtt if c.mqtt.enabled => {
                let cfg = c.mqtt.clone();
                let publisher =
                    telegate_mqtt::Publisher::new(&self.env.mqtt, format!("{}-alerts", self.env.mqtt.client_id))?;
                Handle::spawn(kind, cfg.queue, move |rx, give_up| {
                    mqtt::run(publisher, cfg, rx, give_up, stats)
                })
            }
            OutputKind::Influx if c.influx.enabled => {
                let cfg = c.influx.clone();
                let influx = self.env.influx.clone();
                Handle::spawn(kind, cfg.queue, move |rx, give_up| {
                    influx::run(influx, cfg, rx, give_up, stats)
                })
            }
            OutputKind::Webhook if !c.webhook.url.is_empty() => {
                let hook = webhook::Webhook::new(&c.webhook)?;
                let cfg = c.webhook.clone();
                Handle::spawn(kind, cfg.queue, move |rx, give_up| {
                    webhook::run(hook, cfg, rx, give_up, stats, kind)
                })
            }
            OutputKind::Oncall if !c.oncall.url.is_empty() => {
                let hook = webhook::Webhook::new(&c.oncall)?;
                let cfg = c.oncall.clone();
                Handle::spawn(kind, cfg.queue, move |rx, give_up| {
                    webhook::run(hook, cfg, rx, give_up, stats, kind)
                })
            }
            OutputKind::Email if c.email.enabled() => {
                let mailer = email::Mailer::new(&c.email)?;
                let cfg = c.email.clone();
                Handle::spawn(kind, cfg.queue, move |rx, give_up| {
                    email::run(mailer, cfg, rx, give_up, stats)
                })
            }
            _ => return Ok(None),
        };
        tracing::info!(output = kind.label(), target = %self.describe(kind, c), "alert output started");
        Ok(Some(handle))
    }

    fn describe(&self, kind: OutputKind, c: &AlertsConfig) -> String {
        match kind {
            OutputKind::Mqtt => format!(
                "{}/{{site}}/{{device_id}}/{{rule_id}} on {}:{}",
                c.mqtt.topic_prefix, self.env.mqtt.host, self.env.mqtt.port
            ),
            OutputKind::Influx => format!("measurement alerts in {}", self.env.influx.describe()),
            OutputKind::Webhook => webhook::redacted_url(&c.webhook.url),
            OutputKind::Oncall => format!("{} (escalations only)", webhook::redacted_url(&c.oncall.url)),
            OutputKind::Email => format!("{} via {}:{}", c.email.to.join(", "), c.email.server, c.email.port),
        }
    }

    /// The `[alerts]` settings in service (outputs as last reloaded; the
    /// other keys as started).
    pub fn config(&self) -> &AlertsConfig {
        &self.config
    }

    /// Hand a transition to every output that takes it ([`delivers`]);
    /// never waits.
    pub fn send(&self, d: &Arc<Delivery>) {
        for h in &self.handles {
            if delivers(h.kind, &d.transition, &self.escalate_to) {
                h.offer(d, &self.stats);
            }
        }
    }

    /// The rules file's `[escalation] outputs` (empty: every notifying
    /// output). Names that are no output are logged: a typo must not
    /// silently send the chief nothing.
    pub fn set_escalation_outputs(&mut self, names: &[String]) {
        for n in names {
            if !OutputKind::ALL.iter().any(|k| k.label() == n) {
                tracing::error!(output = %n, "[escalation] outputs names no output (known: mqtt, webhook, oncall, email): nothing is sent to it");
            } else if !self.handles.iter().any(|h| h.kind.label() == n) {
                tracing::warn!(output = %n, "[escalation] outputs names an output that is not turned on");
            }
        }
        self.escalate_to = names.to_vec();
    }

    /// The outputs whose settings differ in `new`.
    fn changed(&self, new: &AlertsConfig) -> Vec<OutputKind> {
        let old = &self.config;
        OutputKind::ALL
            .into_iter()
            .filter(|k| match k {
                OutputKind::Mqtt => old.mqtt != new.mqtt,
                OutputKind::Influx => old.influx != new.influx,
                OutputKind::Webhook => old.webhook != new.webhook,
                OutputKind::Oncall => old.oncall != new.oncall,
                OutputKind::Email => old.email != new.email,
            })
            .collect()
    }

    /// Apply changed `[alerts.*]` output settings: each changed output is
    /// replaced by a new one (the old one delivers what it has queued, for
    /// the grace period, in the background). Returns the outputs replaced.
    pub fn reload(&mut self, new: &AlertsConfig) -> Result<Vec<&'static str>, OutputError> {
        let changed = self.changed(new);
        // Build every replacement first: a broken one leaves all as they were.
        let mut fresh = Vec::new();
        for &kind in &changed {
            fresh.push((kind, self.spawn(kind, new)?));
        }
        for (kind, handle) in fresh {
            if let Some(pos) = self.handles.iter().position(|h| h.kind == kind) {
                let old = self.handles.remove(pos);
                tokio::spawn(old.close(self.grace));
            }
            if let Some(h) = handle {
                self.handles.push(h);
            } else {
                tracing::info!(output = kind.label(), "alert output turned off");
            }
        }
        self.config.mqtt = new.mqtt.clone();
        self.config.influx = new.influx.clone();
        self.config.webhook = new.webhook.clone();
        self.config.oncall = new.oncall.clone();
        self.config.email = new.email.clone();
        Ok(changed.into_iter().map(OutputKind::label).collect())
    }

    /// Close every output and wait for them (each gets the grace period).
    pub async fn close(self) {
        let grace = self.grace;
        // Concurrently: each output's grace runs from now, not after the previous one.
        let closing: Vec<_> = self.handles.into_iter().map(|h| tokio::spawn(h.close(grace))).collect();
        for c in closing {
            let _ = c.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silenced_transitions_are_recorded_not_notified_and_escalations_are_routed() {
        let d = super::super::payload::tests_support::transition();
        let all = |t: &Transition, to: &[String]| -> Vec<&str> {
            OutputKind::ALL
                .into_iter()
                .filter(|k| delivers(*k, t, to))
                .map(OutputKind::label)
                .collect()
        };
        let mut t = d.clone();
        assert_eq!(all(&t, &[]), ["mqtt", "influx", "webhook", "email"]);
        t.silenced_by = Some("s1".into());
        assert_eq!(all(&t, &[]), ["influx"]);
        let mut e = d.clone();
        e.change = Change::Unacknowledged;
        assert_eq!(all(&e, &[]), ["mqtt", "influx", "webhook", "oncall", "email"]);
        assert_eq!(all(&e, &["oncall".to_owned()]), ["influx", "oncall"]);
        assert_eq!(
            all(&e, &["oncall".to_owned(), "email".to_owned()]),
            ["influx", "oncall", "email"]
        );
        e.silenced_by = Some("s1".into());
        assert_eq!(all(&e, &["oncall".to_owned()]), ["influx"]);
    }
}
