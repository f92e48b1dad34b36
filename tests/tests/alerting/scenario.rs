//! The alerting test's scenario driver: publishes readings, waits for
//! each expected transition on the MQTT alert topics, and turns every
//! output's record of a transition into one comparable shape.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use prost_reflect::Value as Field;
use serde_json::Value;
use telegate::Config;
use telegate_e2e::admin::{get, require};
use telegate_e2e::client::{Publisher, Received, Subscriber};
use telegate_e2e::eventually;
use telegate_e2e::gateway::Gateway;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_schema::Registry;

use telegate_e2e::now_ms_ns;

/// One transition as every output must show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) rule: String,
    pub(crate) device: String,
    pub(crate) change: String,
    pub(crate) level: String,
    pub(crate) state: String,
    pub(crate) alert_id: String,
    pub(crate) event_ns: i64,
}

pub(crate) fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// From the JSON of the MQTT payload or the webhook body.
pub(crate) fn from_json(v: &Value) -> Seen {
    Seen {
        rule: text(&v["rule_id"]),
        device: text(&v["series"]["device_id"]),
        change: text(&v["change"]),
        level: text(&v["level"]),
        state: text(&v["to"]),
        alert_id: text(&v["alert_id"]),
        event_ns: v["event_time_ns"].as_i64().unwrap_or(0),
    }
}

/// From a row of `SELECT * FROM alerts`.
pub(crate) fn from_row(r: &serde_json::Map<String, Value>) -> Seen {
    Seen {
        rule: text(&r["rule"]),
        device: text(&r["device_id"]),
        change: text(&r["change"]),
        level: text(&r["level"]),
        state: text(&r["state"]),
        alert_id: text(&r["alert_id"]),
        event_ns: r["time"].as_i64().unwrap_or(0),
    }
}

pub(crate) fn json(m: &Received) -> anyhow::Result<Value> {
    serde_json::from_slice(&m.payload).with_context(|| format!("alert payload on {} is not JSON", m.topic))
}

/// The scenario's moving parts and what it expects so far.
pub(crate) struct Scenario {
    pub(crate) gw: Option<Gateway>,
    pub(crate) config: Config,
    pub(crate) registry: Arc<Registry>,
    pub(crate) publisher: Publisher,
    pub(crate) alerts: Subscriber,
    /// (rule, device, change, level, state) in order.
    pub(crate) expected: Vec<(String, String, String, String, String)>,
    /// Points published to this gateway instance (its evaluated counter).
    pub(crate) evaluated: u64,
    pub(crate) seq: u64,
    /// Reading published → transition received on MQTT, river threshold only.
    pub(crate) latencies: Vec<Duration>,
}

impl Scenario {
    pub(crate) fn gw(&self) -> anyhow::Result<&Gateway> {
        self.gw.as_ref().context("gateway not running")
    }

    pub(crate) async fn metrics(&self) -> anyhow::Result<String> {
        let addr = self.gw()?.admin_addr().context("admin listener")?;
        let (status, page) = get(addr, "/metrics", None).await?;
        ensure!(status == 200, "/metrics answered {status}");
        Ok(page)
    }

    pub(crate) fn river(&mut self, device: &str, samples: &[(i64, f64)]) -> anyhow::Result<Vec<u8>> {
        let s = self.registry.get("river_level").context("river_level schema")?;
        let mut out = Vec::new();
        for &(t, stage) in samples {
            self.seq += 1;
            let mut m = valid_sample(&s.sample, t, self.seq);
            m.set_field_by_name("stage_m", Field::F64(stage));
            out.push(m);
        }
        Ok(batch(&s.message, device, out))
    }

    pub(crate) fn barrier(&mut self, device: &str, t: i64, tamper: bool) -> anyhow::Result<Vec<u8>> {
        let s = self.registry.get("gate_barrier").context("gate_barrier schema")?;
        self.seq += 1;
        let mut m = valid_sample(&s.sample, t, self.seq);
        m.set_field_by_name("lane", Field::String("in-1".into()));
        m.set_field_by_name("tamper", Field::Bool(tamper));
        Ok(batch(&s.message, device, vec![m]))
    }

    /// Publish and wait for the broker's PUBACK; returns when it was sent.
    pub(crate) async fn send(&mut self, topic: &str, payload: Vec<u8>, points: u64) -> anyhow::Result<Instant> {
        let at = Instant::now();
        self.publisher.publish(topic, payload).await?;
        self.publisher.flush().await?;
        self.evaluated += points;
        Ok(at)
    }

    /// Wait for the next transition on MQTT and check it is this one.
    pub(crate) async fn expect(
        &mut self,
        rule: &str,
        device: &str,
        change: &str,
        level: &str,
        state: &str,
    ) -> anyhow::Result<(Received, Value)> {
        let n = self.expected.len();
        self.expected
            .push((rule.into(), device.into(), change.into(), level.into(), state.into()));
        let msg = eventually(Duration::from_secs(10), || async {
            let all = self.alerts.messages().await;
            ensure!(all.len() <= n + 1, "more transitions than expected: {:#?}", &all[n..]);
            Ok(all.get(n).cloned())
        })
        .await
        .with_context(|| format!("waiting for {rule} {device} {change}"))?;
        let v = json(&msg)?;
        let s = from_json(&v);
        ensure!(
            (
                s.rule.as_str(),
                s.device.as_str(),
                s.change.as_str(),
                s.level.as_str(),
                s.state.as_str()
            ) == (rule, device, change, level, state),
            "transition {n}: expected {rule} {device} {change} {level} {state}, got {v}"
        );
        Ok((msg, v))
    }

    /// A reading that must not change any alert: once the gateway has
    /// evaluated it, nothing new arrives.
    pub(crate) async fn expect_nothing(&self) -> anyhow::Result<()> {
        let want = self.evaluated as f64;
        eventually(Duration::from_secs(10), || async {
            let page = self.metrics().await?;
            Ok((require(&page, "telegate_alert_evaluated_total")? >= want).then_some(()))
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let all = self.alerts.messages().await;
        ensure!(
            all.len() == self.expected.len(),
            "unexpected transition(s): {:?}",
            all[self.expected.len()..].iter().map(json).collect::<Vec<_>>()
        );
        Ok(())
    }

    /// A river reading that must raise exactly this transition; its
    /// reading → MQTT latency is recorded.
    pub(crate) async fn river_step(
        &mut self,
        device: &str,
        stage: f64,
        then: Option<(&str, &str, &str)>,
    ) -> anyhow::Result<i64> {
        let t = now_ms_ns();
        let payload = self.river(device, &[(t, stage)])?;
        let site = if device == "rl-2" { "pa-tan" } else { "muong-te" };
        let sent = self
            .send(&format!("telemetry/{site}/{device}/river_level"), payload, 1)
            .await?;
        match then {
            None => self.expect_nothing().await?,
            Some((change, level, state)) => {
                let (msg, v) = self.expect("river-high", device, change, level, state).await?;
                ensure!(
                    v["event_time_ns"].as_i64() == Some(t),
                    "event time is the reading's: {v}"
                );
                self.latencies.push(msg.at.duration_since(sent));
            }
        }
        Ok(t)
    }

    pub(crate) async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(gw) = self.gw.take() {
            gw.stop().await;
        }
        let gw = Gateway::start(self.config.clone()).await?;
        gw.connected().await?;
        self.gw = Some(gw);
        self.evaluated = 0;
        Ok(())
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
