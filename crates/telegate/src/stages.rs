//! The decode and dead-letter stages: small loops over bounded channels.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Bytes, BytesMut};
use telegate_influx::{RefusedLines, WriteItem};
use telegate_lp::encode_points;
use telegate_model::{RejectReason, Rejection, TopicPattern, now_ns};
use telegate_mqtt::{DeadLetter, Envelope, Seq};
use telegate_schema::{Limits, Registry, TranscodeScratch};
use telegate_wal::{Record, SegmentId};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::alerting::AlertTap;
use crate::feedback::envelope::Envelopes;
use crate::feedback::status::{Newest, StatusBoard, newest_sample};
use crate::quarantine::{Finished, RefusedOutput};
use crate::reload::Active;
use crate::stats::PipelineStats;

/// What travels with a message's lines through the writer: what completes
/// it (`C`: its [`Seq`] without the WAL — the source acknowledges it; its
/// [`SegmentId`] with it — the WAL releases it) and the topic, to
/// dead-letter lines the database refuses.
#[derive(Debug)]
pub(crate) struct WriteToken<C> {
    pub(crate) completion: C,
    pub(crate) topic: Bytes,
    /// The message's newest sample, for the device status; found only when
    /// `feedback.status` is on.
    pub(crate) newest: Option<Newest>,
}

impl From<WriteToken<Seq>> for Seq {
    fn from(t: WriteToken<Seq>) -> Seq {
        t.completion
    }
}

impl From<WriteToken<SegmentId>> for SegmentId {
    fn from(t: WriteToken<SegmentId>) -> SegmentId {
        t.completion
    }
}

/// Where accepted messages go: straight to the writer, or into the WAL
/// (whose appender acknowledges them once fsynced).
#[derive(Debug)]
pub(crate) enum AcceptedTo {
    /// With `true`, each message's newest sample is found for the device status.
    Writer(mpsc::Sender<WriteItem<WriteToken<Seq>>>, bool),
    Wal(mpsc::Sender<(Record, Seq)>),
}

impl AcceptedTo {
    /// False when the next stage is gone.
    async fn send(&self, seq: Seq, topic: Bytes, lines: Bytes, points: usize) -> bool {
        match self {
            AcceptedTo::Writer(tx, status) => {
                let newest = if *status { newest_sample(&lines) } else { None };
                tx.send(WriteItem {
                    token: WriteToken {
                        completion: seq,
                        topic,
                        newest,
                    },
                    lines,
                })
                .await
                .is_ok()
            }
            AcceptedTo::Wal(tx) => {
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

/// Messages the decoder takes from its channel at once (fewer wake-ups and
/// one registry snapshot and clock reading per batch).
const DECODE_BATCH: usize = 64;

/// Accepted lines are cut from blocks of this size: one allocation per
/// block instead of one per message.
const LINE_BLOCK_BYTES: usize = 64 * 1024;

/// What the decode stage reuses between messages, so that a message of a
/// type with a transcoder allocates nothing of its own.
#[derive(Debug, Default)]
pub(crate) struct DecodeBuffers {
    scratch: TranscodeScratch,
    lines: Vec<u8>,
    /// The block accepted lines are copied into and split off from; a block
    /// is freed when the last message cut from it has been written.
    block: BytesMut,
}

impl DecodeBuffers {
    fn take_lines(&mut self) -> Bytes {
        if self.block.capacity() < self.lines.len() {
            self.block.reserve(self.lines.len().max(LINE_BLOCK_BYTES));
        }
        self.block.extend_from_slice(&self.lines);
        self.block.split().freeze()
    }
}

/// Topic → origin → registry → line protocol: the whole check of one
/// message. Returns its point count and lines. Types with a compiled
/// transcoder go from wire bytes to lines directly; the others are decoded
/// to points and encoded, with the same result.
pub(crate) fn decode_one(
    pattern: &TopicPattern,
    registry: &Registry,
    limits: &Limits,
    env: &Envelope,
    now_ns: i64,
    buffers: &mut DecodeBuffers,
) -> Result<(usize, Bytes), Rejection> {
    let topic = std::str::from_utf8(&env.topic)
        .map_err(|_| Rejection::new(RejectReason::BadTopic, "topic is not valid UTF-8"))?;
    let origin = pattern
        .parse_topic(topic)
        .map_err(|e| Rejection::new(RejectReason::BadTopic, e.to_string()))?;
    buffers.lines.clear();
    if let Some(points) = registry.transcode(
        &origin,
        &env.payload,
        now_ns,
        limits,
        &mut buffers.scratch,
        &mut buffers.lines,
    )? {
        return Ok((points, buffers.take_lines()));
    }
    let mut points = Vec::new();
    registry.decode(&origin, &env.payload, now_ns, limits, &mut points)?;
    let lines = encode_points(&points).map_err(|e| {
        Rejection::new(
            RejectReason::ConstraintViolated,
            format!("cannot be written as line protocol: {e}"),
        )
    })?;
    Ok((points.len(), lines))
}

/// Say which sensor types of a newly active registry are decoded through a
/// `DynamicMessage` (slower) and why.
fn log_dynamic_types(active: &Active) {
    for schema in active.registry.schemas() {
        if let Err(why) = schema.transcoder() {
            tracing::info!(
                sensor_type = %schema.sensor_type,
                generation = active.generation,
                reason = %why,
                "sensor type has no transcoder; decoding it through the dynamic path"
            );
        }
    }
}

#[derive(Debug)]
pub(crate) struct DecodeStage {
    pub(crate) pattern: TopicPattern,
    /// The registry in service; hot reload replaces it between messages.
    pub(crate) active: watch::Receiver<Arc<Active>>,
    pub(crate) stats: Arc<PipelineStats>,
    /// The alert evaluator's queue, when alerting is configured: each
    /// accepted message's lines are offered to it (never waiting).
    pub(crate) alerts: Option<AlertTap>,
}

impl DecodeStage {
    /// Ends when the source closes its channel (shutdown) or a downstream
    /// stage is gone.
    pub(crate) async fn run(
        self,
        mut rx: mpsc::Receiver<Envelope>,
        accepted: AcceptedTo,
        refused_tx: mpsc::Sender<Refused>,
    ) {
        let mut buffers = DecodeBuffers::default();
        let mut logged_generation = None;
        let mut batch = Vec::with_capacity(DECODE_BATCH);
        // What is waiting is taken in one go: one registry snapshot and one
        // clock reading per batch, not per message.
        while rx.recv_many(&mut batch, DECODE_BATCH).await > 0 {
            // One snapshot per batch: each message is decoded wholly with one registry.
            let active = self.active.borrow().clone();
            if logged_generation != Some(active.generation) {
                logged_generation = Some(active.generation);
                log_dynamic_types(&active);
            }
            let now = now_ns();
            for env in batch.drain(..) {
                if !self.one(env, &active, now, &mut buffers, &accepted, &refused_tx).await {
                    return;
                }
            }
        }
    }

    /// Decode one message and send it on; false when a next stage is gone.
    async fn one(
        &self,
        env: Envelope,
        active: &Active,
        now: i64,
        buffers: &mut DecodeBuffers,
        accepted: &AcceptedTo,
        refused_tx: &mpsc::Sender<Refused>,
    ) -> bool {
        let encoded = decode_one(&self.pattern, &active.registry, &active.limits, &env, now, buffers);
        match encoded {
            Ok((points, lines)) => {
                self.stats.accepted_messages.fetch_add(1, Relaxed);
                self.stats.accepted_points.fetch_add(points as u64, Relaxed);
                if let Some(tap) = &self.alerts {
                    tap.offer(&lines);
                }
                accepted.send(env.seq, env.topic, lines, points).await
            }
            Err(rejection) => {
                let first = self.stats.reject(rejection.reason);
                if first || tracing::enabled!(tracing::Level::DEBUG) {
                    // Per-device context (parsed again only on this rare path),
                    // so an operator can grep or filter the log by device.
                    let topic = String::from_utf8_lossy(&env.topic);
                    let origin = self.pattern.parse_topic(&topic).ok();
                    let (device_id, site) = origin.as_ref().map_or(("", ""), |o| (o.device_id, o.site));
                    if first {
                        tracing::warn!(device_id, site, reason = %rejection.reason, detail = %rejection.detail, %topic, "first rejection of this kind (later ones are counted, logged at debug)");
                    } else {
                        tracing::debug!(device_id, site, reason = %rejection.reason, detail = %rejection.detail, %topic, "rejected");
                    }
                }
                refused_tx
                    .send(Refused {
                        envelope: env,
                        rejection,
                    })
                    .await
                    .is_ok()
            }
        }
    }
}

/// Publishes dead letters — messages the decoder refused and lines the
/// database refused — each confirmed by the broker's PUBACK, or quarantines
/// the message when its dead letter cannot be published; then reports each
/// completion: a refused message to the
/// source (`acks`, so it is acknowledged), refused lines to whoever tracks
/// the writer's completions (`written_completed`: the source without the WAL,
/// the WAL's releaser with it). The source's sender is dropped as soon as the
/// decoder is finished, so shutdown does not wait on the writer.
///
/// With `feedback` on, a dead-lettered message is also published once as a
/// `DeadLetterEnvelope` on its device's topic (never retried; the message is
/// complete either way), and every refusal is noted on the status board.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn dead_letter_stage<C>(
    mut decoded: mpsc::Receiver<Refused>,
    mut written: mpsc::Receiver<RefusedLines<WriteToken<C>>>,
    mut output: RefusedOutput,
    acks: mpsc::Sender<Seq>,
    written_completed: mpsc::Sender<C>,
    stats: Arc<PipelineStats>,
    feedback: RefusedFeedback,
    give_up: CancellationToken,
) {
    let mut acks = Some(acks);
    let mut written_open = true;
    while acks.is_some() || written_open {
        let (completion, letter) = tokio::select! {
            r = decoded.recv(), if acks.is_some() => match r {
                Some(Refused { envelope, rejection }) => (Completion::Ack(envelope.seq), DeadLetter {
                    topic: envelope.topic,
                    payload: envelope.payload,
                    reason: rejection.reason.label(),
                    detail: rejection.detail,
                }),
                None => { acks = None; continue; }
            },
            r = written.recv(), if written_open => match r {
                Some(RefusedLines { token, lines, error }) => {
                    stats.reject(RejectReason::WriteRejected);
                    (Completion::Written(token.completion), DeadLetter {
                        topic: token.topic,
                        payload: Bytes::from(lines),
                        reason: RejectReason::WriteRejected.label(),
                        detail: error,
                    })
                }
                None => { written_open = false; continue; }
            },
        };
        let finished = output.finish(&letter, &give_up).await;
        match finished {
            Finished::DeadLettered => stats.dead_letters_published.fetch_add(1, Relaxed),
            Finished::Quarantined => stats.dead_letter_errors.fetch_add(1, Relaxed),
            // Shutting down with the broker unreachable: not completed, so the
            // message is redelivered (or replayed from the WAL) later.
            Finished::GaveUp => break,
        };
        feedback.refused(&letter, finished, &mut output, &stats).await;
        stats.dead_letter_connects.store(output.connects(), Relaxed);
        match completion {
            Completion::Ack(seq) => {
                if let Some(acks) = &acks {
                    let _ = acks.send(seq).await;
                }
            }
            Completion::Written(c) => {
                let _ = written_completed.send(c).await;
            }
        }
    }
    output.disconnect().await;
}

/// What the dead-letter stage tells devices besides the dead letter.
#[derive(Debug, Default)]
pub(crate) struct RefusedFeedback {
    /// `feedback.dead_letter_envelope`.
    pub(crate) envelopes: Option<Envelopes>,
    /// `feedback.status`.
    pub(crate) board: Option<Arc<StatusBoard>>,
}

impl RefusedFeedback {
    async fn refused(
        &self,
        letter: &DeadLetter,
        finished: Finished,
        output: &mut RefusedOutput,
        stats: &PipelineStats,
    ) {
        let now = now_ns();
        if let Some(board) = &self.board {
            board.rejected(&letter.topic, letter.reason, &letter.detail, now);
        }
        let Some(envelopes) = &self.envelopes else {
            return;
        };
        // Only after its dead letter: what the broker refused or dropped
        // as a dead letter it would refuse or drop as an envelope too.
        if finished != Finished::DeadLettered {
            return;
        }
        let Some(message) = envelopes.message(letter, now) else {
            return;
        };
        match output.publisher.publish_once(&message).await {
            telegate_mqtt::Delivery::Acked => {
                stats.feedback_published.fetch_add(1, Relaxed);
            }
            other => {
                if stats.feedback_errors.fetch_add(1, Relaxed) == 0 {
                    tracing::warn!(topic = %message.topic, outcome = ?other, "dead-letter envelope not published (not retried; the dead letter was; later failures are logged at debug)");
                } else {
                    tracing::debug!(topic = %message.topic, outcome = ?other, "dead-letter envelope not published");
                }
            }
        }
    }
}

/// What a published dead letter completes.
enum Completion<C> {
    /// A message the decoder refused: acknowledge it.
    Ack(Seq),
    /// Lines the database refused: complete them like written ones.
    Written(C),
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use telegate_model::TopicFields;
    use telegate_schema::sample;

    use super::*;

    const NOW_NS: i64 = 1_764_383_400_000_000_000;

    fn pattern() -> TopicPattern {
        TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}").expect("valid pattern")
    }

    fn envelope(sensor_type: &str, payload: Vec<u8>) -> Envelope {
        Envelope {
            seq: Seq(1),
            topic: Bytes::from(format!("telemetry/site-1/dev-01/{sensor_type}")),
            payload: Bytes::from(payload),
        }
    }

    /// What the stage did before the transcoder: decode to points, encode.
    fn dynamic(registry: &Registry, sensor_type: &str, payload: &[u8]) -> Result<(usize, Bytes), RejectReason> {
        let origin = TopicFields {
            site: "site-1",
            device_id: "dev-01",
            sensor_type,
        };
        let mut points = Vec::new();
        registry
            .decode(&origin, payload, NOW_NS, &Limits::default(), &mut points)
            .map_err(|r| r.reason)?;
        let lines = encode_points(&points).map_err(|_| RejectReason::ConstraintViolated)?;
        Ok((points.len(), lines))
    }

    #[test]
    fn transcoded_messages_give_the_lines_and_counts_of_the_dynamic_path() {
        let registry = Registry::builtin(&BTreeMap::new()).expect("built-in schemas");
        let mut buffers = DecodeBuffers::default();
        let mut kept = Vec::new();
        for schema in registry.schemas() {
            assert!(schema.transcoder().is_ok(), "{}", schema.sensor_type);
            for n in [1u64, 3] {
                let samples = (0..n)
                    .map(|i| sample::valid_sample(&schema.sample, NOW_NS - 1_000_000_000 * (n - i) as i64, i))
                    .collect();
                let payload = sample::batch(&schema.message, "dev-01", samples);
                let env = envelope(&schema.sensor_type, payload.clone());
                let got = decode_one(&pattern(), &registry, &Limits::default(), &env, NOW_NS, &mut buffers);
                let want = dynamic(&registry, &schema.sensor_type, &payload);
                assert_eq!(got.as_ref().map_err(|r| r.reason), want.as_ref().map_err(|r| *r));
                assert_eq!(got.as_ref().map(|(points, _)| *points), Ok(n as usize));
                kept.extend(got.ok().zip(want.ok()));
            }
        }
        // Lines cut from one shared block stay intact after later messages.
        assert_eq!(kept.len(), 16);
        for ((_, got), (_, want)) in kept {
            assert_eq!(got, want);
        }
        // A refused message gets the dynamic path's reason.
        let river = registry.get("river_level").expect("built in");
        let mut bad = sample::valid_sample(&river.sample, NOW_NS, 1);
        bad.set_field_by_name("stage_m", prost_reflect::Value::F64(f64::NAN));
        let payload = sample::batch(&river.message, "dev-01", vec![bad]);
        let got = decode_one(
            &pattern(),
            &registry,
            &Limits::default(),
            &envelope("river_level", payload),
            NOW_NS,
            &mut buffers,
        );
        assert_eq!(got.map_err(|r| r.reason), Err(RejectReason::NonFiniteValue));
    }

    #[test]
    fn types_without_a_transcoder_still_decode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = r#"syntax = "proto3";
package t.v1;
import "google/protobuf/timestamp.proto";
import "telegate/v1/options.proto";
message Batch {
  option (telegate.v1.sensor) = { type: "pick" };
  string device_id = 1;
  repeated Sample samples = 2;
}
message Sample {
  google.protobuf.Timestamp time = 1;
  oneof value { double a = 2; int64 b = 3; }
}
"#;
        std::fs::write(dir.path().join("pick.proto"), src).expect("write schema");
        let registry = Registry::load(dir.path(), &BTreeMap::new()).expect("schema loads");
        let schema = registry.get("pick").expect("pick");
        assert!(schema.transcoder().is_err(), "oneofs are not transcoded");
        let mut one = prost_reflect::DynamicMessage::new(schema.sample.clone());
        let time = schema.sample.get_field_by_name("time").expect("time");
        one.set_field(&time, sample::timestamp(&time, NOW_NS - 1_000_000_000));
        one.set_field_by_name("a", prost_reflect::Value::F64(1.5));
        let payload = sample::batch(&schema.message, "dev-01", vec![one]);
        let got = decode_one(
            &pattern(),
            &registry,
            &Limits::default(),
            &envelope("pick", payload.clone()),
            NOW_NS,
            &mut DecodeBuffers::default(),
        );
        let want = dynamic(&registry, "pick", &payload);
        assert_eq!(got.map_err(|r| r.reason), want);
        assert!(want.is_ok_and(|(n, lines)| n == 1 && lines.starts_with(b"pick,device_id=dev-01,site=site-1 a=1.5 ")));
    }
}
