//! The MQTT output: each transition's JSON to
//! `{topic_prefix}/{site}/{device_id}/{rule_id}`, QoS 1, on the gateway's
//! broker over a connection of its own (`{client_id}-alerts`). A batch
//! counts as delivered once the broker has acknowledged every message of it;
//! otherwise the whole batch is sent again after a backoff (QoS 1 is at
//! least once: a subscriber may see a transition twice, same `alert_id`,
//! `change` and `evaluated_at_ns`).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use telegate_model::ErrorChain;

use telegate_mqtt::{MAX_BATCH, Message, Publisher};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{pause, settled, worth_logging};
use crate::alerting::config::MqttOutputConfig;
use crate::alerting::payload::{Delivery, mqtt_topic, state_name};
use crate::alerting::stats::{AlertStats, OutputKind};

fn message(cfg: &MqttOutputConfig, d: &Delivery) -> Message {
    let t = &d.transition;
    Message {
        topic: mqtt_topic(&cfg.topic_prefix, t),
        payload: d.json.clone(),
        retain: cfg.retain,
        content_type: Some("application/json".into()),
        // Lets a subscriber route without parsing the JSON.
        user_properties: vec![
            ("change".into(), state_name(&t.change)),
            ("severity".into(), t.severity.as_str().into()),
            ("alert_id".into(), t.alert_id.clone()),
        ],
    }
}

/// Runs until the queue closes and is drained (or given up on).
pub(crate) async fn run(
    mut publisher: Publisher,
    cfg: MqttOutputConfig,
    mut rx: mpsc::Receiver<Arc<Delivery>>,
    give_up: CancellationToken,
    stats: Arc<AlertStats>,
) {
    let out = stats.output(OutputKind::Mqtt);
    let mut backoff = cfg.retry().backoff();
    // While the broker is unreachable, idle polls wait until then.
    let mut down_until: Option<Instant> = None;
    loop {
        let first = tokio::select! {
            biased;
            d = rx.recv() => match d {
                Some(d) => d,
                None => break,
            },
            () = async {
                match down_until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            }, if down_until.is_some() => {
                down_until = None;
                continue;
            }
            r = publisher.idle(), if down_until.is_none() => {
                if let Err(e) = r {
                    let delay = backoff.next_delay();
                    if worth_logging(backoff.failures()) {
                        tracing::warn!(error = %ErrorChain(&e), retry_in = ?delay, "alert output mqtt: broker unreachable");
                    }
                    down_until = Some(Instant::now() + delay);
                }
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        let messages: Vec<Message> = batch.iter().map(|d| message(&cfg, d)).collect();
        loop {
            let result = tokio::select! {
                r = publisher.publish_confirmed(&messages, cfg.timeout) => r,
                () = give_up.cancelled() => Err(telegate_mqtt::MqttError::ShuttingDown {
                    topic: messages[0].topic.clone(),
                }),
            };
            match result {
                Ok(()) => {
                    if backoff.failures() > 0 {
                        tracing::info!(
                            after_failures = backoff.failures(),
                            "alert output mqtt: delivering again"
                        );
                    }
                    backoff.reset();
                    down_until = None;
                    settled(out, batch.len(), true);
                    break;
                }
                Err(e) => {
                    out.errors.fetch_add(1, Relaxed);
                    let delay = backoff.next_delay();
                    if worth_logging(backoff.failures()) {
                        tracing::warn!(error = %ErrorChain(&e), transitions = batch.len(), retry_in = ?delay, "alert output mqtt: publish failed; will retry");
                    }
                    if give_up.is_cancelled() || !pause(delay, &give_up).await {
                        tracing::error!(
                            transitions = batch.len() + rx.len(),
                            "alert output mqtt: giving up at shutdown; these transitions were not published"
                        );
                        settled(out, batch.len() + rx.len(), false);
                        return;
                    }
                }
            }
        }
    }
    publisher.disconnect(std::time::Duration::from_secs(1)).await;
}
