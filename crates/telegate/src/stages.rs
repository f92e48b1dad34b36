//! The decode and dead-letter stages: small loops over bounded channels.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use telegate_influx::{RefusedLines, WriteItem, encode_points};
use telegate_model::{Point, RejectReason, Rejection, TopicPattern};
use telegate_mqtt::{DeadLetter, DeadLetterPublisher, Envelope};
use telegate_schema::{Limits, Registry};
use telegate_wal::Record;
use tokio::sync::{mpsc, watch};

use crate::reload::Active;
use crate::stats::PipelineStats;

/// What travels with a message's lines through the writer: the id to
/// complete (the message's sequence number without the WAL, its WAL segment
/// with it) and the topic, to dead-letter lines the database refuses.
#[derive(Debug)]
pub(crate) struct WriteToken {
    pub(crate) id: u64,
    pub(crate) topic: Bytes,
}

impl From<WriteToken> for u64 {
    fn from(t: WriteToken) -> u64 {
        t.id
    }
}

/// Where accepted messages go: straight to the writer, or into the WAL
/// (whose appender acknowledges them once fsynced).
#[derive(Debug)]
pub(crate) enum Sink {
    Writer(mpsc::Sender<WriteItem<WriteToken>>),
    Wal(mpsc::Sender<(Record, u64)>),
}

impl Sink {
    /// False when the next stage is gone.
    async fn send(&self, seq: u64, topic: Bytes, lines: Bytes, points: usize) -> bool {
        match self {
            Sink::Writer(tx) => tx
                .send(WriteItem {
                    lines,
                    token: WriteToken { id: seq, topic },
                })
                .await
                .is_ok(),
            Sink::Wal(tx) => {
                let record = Record {
                    topic,
                    lines,
                    points: u32::try_from(points).unwrap_or(u32::MAX),
                };
                tx.send((record, seq)).await.is_ok()
            }
        }
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
    /// The registry in service; hot reload replaces it between messages.
    pub(crate) active: watch::Receiver<Arc<Active>>,
    pub(crate) stats: Arc<PipelineStats>,
}

impl DecodeStage {
    /// Ends when the source closes its channel (shutdown) or a downstream
    /// stage is gone.
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Envelope>, sink: Sink, refused_tx: mpsc::Sender<Refused>) {
        while let Some(env) = rx.recv().await {
            // One snapshot per message: it is decoded wholly with one registry.
            let active = self.active.borrow().clone();
            let encoded =
                decode_one(&self.pattern, &active.registry, &active.limits, &env, now_ns()).and_then(|points| {
                    let lines = encode_points(&points).map_err(|e| {
                        Rejection::new(
                            RejectReason::ConstraintViolated,
                            format!("cannot be written as line protocol: {e}"),
                        )
                    })?;
                    Ok((points.len(), lines))
                });
            match encoded {
                Ok((points, lines)) => {
                    self.stats.accepted_messages.fetch_add(1, Relaxed);
                    self.stats.accepted_points.fetch_add(points as u64, Relaxed);
                    if !sink.send(env.seq, env.topic, lines, points).await {
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
/// database refused — then reports each done: a refused message to the
/// source (`acks`, so it is acknowledged), refused lines to whoever tracks
/// the writer's completions (`written_done`: the source without the WAL, the
/// WAL's releaser with it). The source's sender is dropped as soon as the
/// decoder is finished, so shutdown does not wait on the writer.
pub(crate) async fn dead_letter_stage(
    mut decoded: mpsc::Receiver<Refused>,
    mut written: mpsc::Receiver<RefusedLines<WriteToken>>,
    publisher: DeadLetterPublisher,
    acks: mpsc::Sender<u64>,
    written_done: mpsc::Sender<u64>,
    stats: Arc<PipelineStats>,
) {
    let mut acks = Some(acks);
    let mut written_open = true;
    while acks.is_some() || written_open {
        let (id, letter, from_decoder) = tokio::select! {
            r = decoded.recv(), if acks.is_some() => match r {
                Some(Refused { envelope, rejection }) => (envelope.seq, DeadLetter {
                    topic: envelope.topic,
                    payload: envelope.payload,
                    reason: rejection.reason.label(),
                    detail: rejection.detail,
                }, true),
                None => { acks = None; continue; }
            },
            r = written.recv(), if written_open => match r {
                Some(RefusedLines { token, lines, error }) => {
                    stats.reject(RejectReason::WriteRejected);
                    (token.id, DeadLetter {
                        topic: token.topic,
                        payload: Bytes::from(lines),
                        reason: RejectReason::WriteRejected.label(),
                        detail: error,
                    }, false)
                }
                None => { written_open = false; continue; }
            },
        };
        match publisher.publish(letter).await {
            Ok(()) => {
                stats.dead_letters_published.fetch_add(1, Relaxed);
                let done = if from_decoder {
                    acks.as_ref()
                } else {
                    Some(&written_done)
                };
                if let Some(done) = done {
                    let _ = done.send(id).await;
                }
            }
            Err(e) => {
                // Not completed: the message is redelivered (or replayed from the WAL) later.
                stats.dead_letter_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, "cannot publish dead letter; the message stays unacknowledged");
            }
        }
    }
}
