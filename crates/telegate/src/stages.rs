//! The decode and dead-letter stages: small loops over bounded channels.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use telegate_influx::{RefusedLines, WriteItem};
use telegate_model::{Point, RejectReason, Rejection, TopicPattern};
use telegate_mqtt::{DeadLetter, DeadLetterPublisher, Envelope};
use telegate_schema::{Limits, Registry};
use tokio::sync::mpsc;

use crate::stats::PipelineStats;

/// What travels with a message's points through the writer: enough to
/// acknowledge it, and to dead-letter lines the database refuses.
#[derive(Debug)]
pub(crate) struct WriteToken {
    pub(crate) seq: u64,
    pub(crate) topic: Bytes,
}

impl From<WriteToken> for u64 {
    fn from(t: WriteToken) -> u64 {
        t.seq
    }
}

/// A refused message with what the dead-letter topic needs.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) envelope: Envelope,
    pub(crate) rejection: Rejection,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Topic → origin → registry: the whole check of one message.
pub(crate) fn decode_one(
    pattern: &TopicPattern,
    registry: &Registry,
    limits: &Limits,
    env: &Envelope,
    now_ns: i64,
) -> Result<Vec<Point>, Rejection> {
    let topic = std::str::from_utf8(&env.topic)
        .map_err(|_| Rejection::new(RejectReason::BadTopic, "topic is not valid UTF-8"))?;
    let origin = pattern
        .parse_topic(topic)
        .map_err(|e| Rejection::new(RejectReason::BadTopic, e.to_string()))?;
    let mut points = Vec::new();
    registry.decode(&origin, &env.payload, now_ns, limits, &mut points)?;
    Ok(points)
}

#[derive(Debug)]
pub(crate) struct DecodeStage {
    pub(crate) pattern: TopicPattern,
    pub(crate) registry: Arc<Registry>,
    pub(crate) limits: Limits,
    pub(crate) stats: Arc<PipelineStats>,
}

impl DecodeStage {
    /// Ends when the source closes its channel (shutdown) or a downstream
    /// stage is gone.
    pub(crate) async fn run(
        self,
        mut rx: mpsc::Receiver<Envelope>,
        write_tx: mpsc::Sender<WriteItem<WriteToken>>,
        refused_tx: mpsc::Sender<Refused>,
    ) {
        while let Some(env) = rx.recv().await {
            match decode_one(&self.pattern, &self.registry, &self.limits, &env, now_ns()) {
                Ok(points) => {
                    self.stats.accepted_messages.fetch_add(1, Relaxed);
                    self.stats.accepted_points.fetch_add(points.len() as u64, Relaxed);
                    let token = WriteToken {
                        seq: env.seq,
                        topic: env.topic,
                    };
                    if write_tx.send(WriteItem { points, token }).await.is_err() {
                        break;
                    }
                }
                Err(rejection) => {
                    if self.stats.reject(rejection.reason) {
                        tracing::warn!(reason = %rejection.reason, detail = %rejection.detail, topic = %String::from_utf8_lossy(&env.topic), "first rejection of this kind (later ones are counted, logged at debug)");
                    } else {
                        tracing::debug!(reason = %rejection.reason, detail = %rejection.detail, topic = %String::from_utf8_lossy(&env.topic), "rejected");
                    }
                    if refused_tx
                        .send(Refused {
                            envelope: env,
                            rejection,
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    }
}

/// Publishes dead letters — messages the decoder refused and lines the
/// database refused — then reports each message done so it is acked.
pub(crate) async fn dead_letter_stage(
    mut decoded: mpsc::Receiver<Refused>,
    mut written: mpsc::Receiver<RefusedLines<WriteToken>>,
    publisher: DeadLetterPublisher,
    done: mpsc::Sender<u64>,
    stats: Arc<PipelineStats>,
) {
    let (mut decoded_open, mut written_open) = (true, true);
    while decoded_open || written_open {
        let (seq, letter) = tokio::select! {
            r = decoded.recv(), if decoded_open => match r {
                Some(Refused { envelope, rejection }) => (envelope.seq, DeadLetter {
                    topic: envelope.topic,
                    payload: envelope.payload,
                    reason: rejection.reason.label(),
                    detail: rejection.detail,
                }),
                None => { decoded_open = false; continue; }
            },
            r = written.recv(), if written_open => match r {
                Some(RefusedLines { token, lines, error }) => {
                    stats.reject(RejectReason::WriteRejected);
                    (token.seq, DeadLetter {
                        topic: token.topic,
                        payload: Bytes::from(lines),
                        reason: RejectReason::WriteRejected.label(),
                        detail: error,
                    })
                }
                None => { written_open = false; continue; }
            },
        };
        match publisher.publish(letter).await {
            Ok(()) => {
                stats.dead_letters_published.fetch_add(1, Relaxed);
                if done.send(seq).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                // Not acknowledged: the broker redelivers it to a later session.
                stats.dead_letter_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, "cannot publish dead letter; the message stays unacknowledged");
            }
        }
    }
}
