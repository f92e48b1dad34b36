//! The InfluxDB output: each transition as a point of the `alerts`
//! measurement (see [`crate::alerting::payload::influx_point`]) at its event
//! time, written to the gateway's `[influx]` target — or its `[file_sink]`
//! files — so Grafana shows alerts next to the readings that raised them.
//! What is queued is written in one request; a refused batch (400/413/422:
//! the data itself, e.g. a field type conflict with an older `alerts`) is
//! dropped with the database's message, anything else is retried.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use telegate_influx::Output;
use telegate_lp::encode_point;
use telegate_model::ErrorChain;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{pause, settled, worth_logging};
use crate::alerting::config::InfluxOutputConfig;
use crate::alerting::payload::{Delivery, influx_point};
use crate::alerting::stats::{AlertStats, OutputKind};

/// Transitions written per request at most.
const BATCH: usize = 500;

pub(crate) async fn run(
    influx: Output,
    cfg: InfluxOutputConfig,
    mut rx: mpsc::Receiver<Arc<Delivery>>,
    give_up: CancellationToken,
    stats: Arc<AlertStats>,
) {
    let out = stats.output(OutputKind::Influx);
    let mut backoff = cfg.retry().backoff();
    let mut lines = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        lines.clear();
        let mut n = 0;
        for d in &batch {
            match encode_point(&influx_point(&d.transition), &mut lines) {
                Ok(()) => n += 1,
                Err(e) => {
                    tracing::error!(error = %e, alert_id = %d.transition.alert_id, "alert output influx: transition cannot be written as line protocol; dropped");
                    settled(out, 1, false);
                }
            }
        }
        if n == 0 {
            continue;
        }
        loop {
            let result = tokio::select! {
                r = influx.write(&lines) => r,
                () = give_up.cancelled() => {
                    tracing::error!(transitions = n + rx.len(), "alert output influx: giving up at shutdown; these transitions were not written");
                    settled(out, n + rx.len(), false);
                    return;
                }
            };
            match result {
                Ok(()) => {
                    if backoff.failures() > 0 {
                        tracing::info!(
                            after_failures = backoff.failures(),
                            "alert output influx: writing again"
                        );
                    }
                    backoff.reset();
                    settled(out, n, true);
                    break;
                }
                Err(e) if !e.is_retryable() => {
                    out.errors.fetch_add(1, Relaxed);
                    tracing::error!(error = %ErrorChain(&e), transitions = n, "alert output influx: the database refused the alert points; dropped");
                    settled(out, n, false);
                    break;
                }
                Err(e) => {
                    out.errors.fetch_add(1, Relaxed);
                    let delay = e.retry_after().unwrap_or_else(|| backoff.next_delay());
                    if worth_logging(backoff.failures().max(1)) {
                        tracing::warn!(error = %ErrorChain(&e), hint = e.hint().unwrap_or(""), transitions = n, retry_in = ?delay, "alert output influx: write failed; will retry");
                    }
                    if !pause(delay, &give_up).await {
                        tracing::error!(
                            transitions = n + rx.len(),
                            "alert output influx: giving up at shutdown; these transitions were not written"
                        );
                        settled(out, n + rx.len(), false);
                        return;
                    }
                }
            }
        }
    }
}
