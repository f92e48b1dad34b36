//! Alerting end to end on a real Mosquitto and InfluxDB 1.x, with a webhook
//! receiver in the test: a scripted scenario — a river rising past two
//! alarm levels and falling back (with a gateway restart mid-alert), a
//! barrier's tamper switch, a gauge going silent and coming back with a
//! late batch — must produce exactly the expected transitions, in the same
//! order, on the MQTT alert topics, in the `alerts` measurement and at the
//! webhook. A webhook failing with 503 is retried until delivered without
//! delaying MQTT or InfluxDB. Reading → alert on MQTT is measured.

// In a directory of its own: a file beside this one would be a test target.
mod scenario;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::ensure;
use scenario::{Scenario, Seen, from_json, from_row, json, percentile, text};
use serde_json::Value;
use telegate_e2e::admin::require;
use telegate_e2e::client::{Publisher, Subscriber};
use telegate_e2e::deploy::{ALERTS_FIELDS, ALERTS_TAGS};
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::webhook::Receiver;
use telegate_model::Secret;

const RULES: &str = r#"
[[rule]]
id = "river-high"
name = "River high at Mường Tè"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
match = { site = "muong-te" }
message = "{device_id}: stage {value} m ≥ {level_name} ({threshold} m)"
resolved_message = "{device_id}: stage {value} m, below {level_name} again"

[[rule.level]]
name = "BĐ I"
severity = "warning"
threshold = 287.0
clear = 286.8

[[rule.level]]
name = "BĐ II"
severity = "critical"
threshold = 288.5
clear = 288.3

[[rule]]
id = "river-offline"
name = "River gauge offline"
kind = "deadman"
measurement = "river_level"
match = { site = "pa-tan" }
cadence = "1s"
factor = 3
severity = "warning"
level_name = "offline"

[[rule]]
id = "barrier-tamper"
name = "Barrier tamper"
kind = "state"
measurement = "gate_barrier"
when = { tamper = true }
severity = "critical"
level_name = "tamper"
message = "{device_id} lane {tag.lane}: tamper switch fired"
resolved_message = "{device_id} lane {tag.lane}: tamper switch reset"
"#;

const SEC: i64 = 1_000_000_000;
const TOKEN: &str = "hook-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_scenario_gives_the_same_exact_transitions_on_every_output() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let hook = Receiver::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(&rules, RULES)?;
    let state_file: PathBuf = dir.path().join("state/alerts-state.json");

    let mut config = test_config("gw-alerts", broker.port(), &influx.url());
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = state_file.display().to_string();
    config.alerts.webhook.url = hook.url();
    config.alerts.webhook.token = Secret::new(TOKEN);
    config.alerts.webhook.retry_initial = Duration::from_millis(300);
    config.alerts.webhook.retry_max = Duration::from_secs(2);

    let alerts = Subscriber::connect("alert-watcher", broker.port(), "telegate/alerts/#").await?;
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    let mut sc = Scenario {
        registry: gw.registry.clone(),
        gw: Some(gw),
        config,
        publisher: Publisher::connect("alert-devices", broker.port()).await?,
        alerts,
        expected: Vec::new(),
        evaluated: 0,
        seq: 0,
        latencies: Vec::new(),
    };

    // 1. The river rises past BĐ I, then BĐ II.
    sc.river_step("rl-1", 286.0, None).await?;
    sc.river_step("rl-1", 287.2, Some(("fired", "BĐ I", "firing"))).await?;
    sc.river_step("rl-1", 288.7, Some(("escalated", "BĐ II", "firing")))
        .await?;
    let first = sc.alerts.messages().await;
    ensure!(
        first[0].topic == "telegate/alerts/muong-te/rl-1/river-high",
        "{}",
        first[0].topic
    );
    ensure!(first[0].properties.get("change").map(String::as_str) == Some("fired"));

    // 2. Restart mid-alert with the same state file: the alert carries on.
    sc.restart().await?;
    ensure!(state_file.exists(), "state saved at shutdown");
    sc.river_step("rl-1", 288.4, None).await?; // BĐ II holds down to its clear level 288.3
    sc.river_step("rl-1", 288.2, Some(("deescalated", "BĐ I", "firing")))
        .await?;
    sc.river_step("rl-1", 286.9, None).await?; // BĐ I holds down to 286.8
    sc.river_step("rl-1", 286.5, Some(("resolved", "BĐ I", "resolved")))
        .await?;
    let episode: Vec<String> = sc
        .alerts
        .messages()
        .await
        .iter()
        .map(|m| json(m).map(|v| from_json(&v).alert_id))
        .collect::<Result<_, _>>()?;
    ensure!(
        episode.iter().all(|id| id == &episode[0]),
        "one alert id across the restart: {episode:?}"
    );

    // 3. More rises and falls on another gauge, for the latency figures.
    for _ in 0..10 {
        sc.river_step("rl-3", 287.2, Some(("fired", "BĐ I", "firing"))).await?;
        sc.river_step("rl-3", 286.5, Some(("resolved", "BĐ I", "resolved")))
            .await?;
    }

    // 4. Tamper, while the webhook answers 503 three times.
    let topic = "telemetry/ma-lu-thang/gb-1/gate_barrier";
    let payload = sc.barrier("gb-1", now_ms_ns(), false)?;
    sc.send(topic, payload, 1).await?;
    sc.expect_nothing().await?;
    hook.fail_next(3);
    let payload = sc.barrier("gb-1", now_ms_ns(), true)?;
    let sent = sc.send(topic, payload, 1).await?;
    let (msg, v) = sc.expect("barrier-tamper", "gb-1", "fired", "tamper", "firing").await?;
    let mqtt_latency = msg.at.duration_since(sent);
    let tamper_id = text(&v["alert_id"]);
    let influx_at = eventually(Duration::from_secs(5), || async {
        let rows = influx
            .rows("telegate", "SELECT * FROM alerts WHERE rule = 'barrier-tamper'")
            .await?;
        Ok((!rows.is_empty()).then(Instant::now))
    })
    .await?;
    let hook_at = eventually(Duration::from_secs(15), || async {
        Ok(hook
            .delivered()
            .iter()
            .find(|h| text(&h.body["alert_id"]) == tamper_id)
            .map(|h| h.at))
    })
    .await?;
    let attempts: Vec<u16> = hook
        .hits()
        .iter()
        .filter(|h| text(&h.body["alert_id"]) == tamper_id)
        .map(|h| h.status)
        .collect();
    eprintln!(
        "tamper fired: MQTT after {mqtt_latency:?}, InfluxDB row seen after {:?}, webhook delivered after {:?} (answers {attempts:?})",
        influx_at.duration_since(sent),
        hook_at.duration_since(sent)
    );
    ensure!(
        attempts == [503, 503, 503, 204],
        "retried until delivered: {attempts:?}"
    );
    ensure!(
        mqtt_latency < Duration::from_secs(1),
        "MQTT not held up by the webhook: {mqtt_latency:?}"
    );
    ensure!(influx_at < hook_at, "InfluxDB not held up by the webhook");
    let payload = sc.barrier("gb-1", now_ms_ns(), false)?;
    sc.send(topic, payload, 1).await?;
    sc.expect("barrier-tamper", "gb-1", "resolved", "tamper", "resolved")
        .await?;

    // 5. A gauge goes silent (deadman fires by the wall clock), then uploads
    //    its backlog: resolved once, at the batch's first sample; a
    //    redelivery changes nothing; live readings keep it quiet.
    let topic = "telemetry/pa-tan/rl-2/river_level";
    let t1 = now_ms_ns();
    let payload = sc.river("rl-2", &[(t1, 212.0)])?;
    let silent_from = sc.send(topic, payload, 1).await?;
    let (_, v) = sc.expect("river-offline", "rl-2", "fired", "offline", "firing").await?;
    let silence = silent_from.elapsed();
    ensure!(
        silence >= Duration::from_secs(3),
        "fired after {silence:?}, before cadence × factor"
    );
    ensure!(
        v["event_time_ns"].as_i64() == Some(t1),
        "a deadman's event time is the last reading's: {v}"
    );
    let backlog: Vec<(i64, f64)> = (1..=5).map(|i| (t1 + i * SEC / 2, 212.0 + i as f64 / 100.0)).collect();
    let late = sc.river("rl-2", &backlog)?;
    sc.send(topic, late.clone(), 5).await?;
    let (_, v) = sc
        .expect("river-offline", "rl-2", "resolved", "offline", "resolved")
        .await?;
    ensure!(
        v["event_time_ns"].as_i64() == Some(t1 + SEC / 2),
        "resolved at the first late sample: {v}"
    );
    sc.send(topic, late, 5).await?;
    sc.expect_nothing().await?;
    for _ in 0..8 {
        let payload = sc.river("rl-2", &[(now_ms_ns(), 212.1)])?;
        sc.send(topic, payload, 1).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sc.expect_nothing().await?;

    // What the second gateway counted.
    let page = sc.metrics().await?;
    for (series, want) in [
        ("telegate_alert_queue_dropped_total{queue=\"evaluator\"}", 0.0),
        ("telegate_alert_output_errors_total{output=\"webhook\"}", 3.0),
        ("telegate_alert_output_errors_total{output=\"mqtt\"}", 0.0),
        ("telegate_alert_output_errors_total{output=\"influx\"}", 0.0),
        (
            "telegate_alert_transitions_total{rule=\"barrier-tamper\",to=\"firing\"}",
            1.0,
        ),
        (
            "telegate_alert_transitions_total{rule=\"river-offline\",to=\"resolved\"}",
            1.0,
        ),
        ("telegate_alert_firing", 0.0),
    ] {
        ensure!(
            require(&page, series)? == want,
            "{series} = {}, expected {want}",
            require(&page, series)?
        );
    }
    if let Some(gw) = sc.gw.take() {
        gw.stop().await;
    }

    // Every output saw exactly the expected transitions, in order.
    let mqtt: Vec<Seen> = sc
        .alerts
        .messages()
        .await
        .iter()
        .map(|m| json(m).map(|v| from_json(&v)))
        .collect::<Result<_, _>>()?;
    let projected: Vec<_> = mqtt
        .iter()
        .map(|s| {
            (
                s.rule.clone(),
                s.device.clone(),
                s.change.clone(),
                s.level.clone(),
                s.state.clone(),
            )
        })
        .collect();
    ensure!(
        projected == sc.expected,
        "MQTT: {projected:#?}\nexpected: {:#?}",
        sc.expected
    );
    let delivered = hook.delivered();
    let webhook: Vec<Seen> = delivered.iter().map(|h| from_json(&h.body)).collect();
    ensure!(webhook == mqtt, "webhook: {webhook:#?}\nMQTT: {mqtt:#?}");
    for h in &delivered {
        ensure!(h.authorization.as_deref() == Some("Bearer hook-secret"), "{h:?}");
        ensure!(h.content_type.as_deref() == Some("application/json"), "{h:?}");
    }
    let keys: std::collections::BTreeSet<_> = delivered.iter().map(|h| h.idempotency_key.clone()).collect();
    ensure!(keys.len() == delivered.len(), "one idempotency key per transition");
    let rows = eventually(Duration::from_secs(5), || async {
        let rows = influx.select_all("telegate", "alerts").await?;
        Ok((rows.len() >= mqtt.len()).then_some(rows))
    })
    .await?;
    let types = influx.field_types("telegate", "alerts").await?;
    for f in ALERTS_FIELDS {
        ensure!(types.contains_key(*f), "alerts.{f} missing: {types:?}");
    }
    ensure!(
        types["state"] == "string" && types["value"] == "float" && types["message"] == "string",
        "{types:?}"
    );
    for t in ALERTS_TAGS {
        ensure!(
            rows.iter().any(|r| r.get(*t).is_some_and(Value::is_string)),
            "tag {t} never written"
        );
    }
    let stored: Vec<Seen> = rows.iter().map(from_row).collect();
    ensure!(stored == mqtt, "alerts measurement: {stored:#?}\nMQTT: {mqtt:#?}");
    ensure!(
        rows.iter()
            .all(|r| r["severity"].is_string() && r["site"].is_string() && r["message"].is_string())
    );

    let mut l = sc.latencies.clone();
    l.sort();
    let (p50, max) = (percentile(&l, 0.5), percentile(&l, 1.0));
    eprintln!(
        "reading → alert on MQTT (river threshold, {} transitions): p50 {p50:?}, p90 {:?}, max {max:?}",
        l.len(),
        percentile(&l, 0.9)
    );
    ensure!(max <= Duration::from_secs(1), "reading → alert took {max:?}");
    eprintln!(
        "{} transitions, identical on MQTT, InfluxDB and the webhook",
        mqtt.len()
    );
    Ok(())
}

/// The MQTT output retries until the broker takes the transition: a deadman
/// fires (by the wall clock) while the broker is down; the `alerts` row is
/// written meanwhile, and the MQTT alert arrives, once, when the broker is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_raised_while_the_broker_is_down_is_published_when_it_returns() -> anyhow::Result<()> {
    let mut broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"river-offline\"\nname = \"River gauge offline\"\nkind = \"deadman\"\n\
         measurement = \"river_level\"\ncadence = \"1s\"\nfactor = 2\nseverity = \"warning\"\nlevel_name = \"offline\"\n",
    )?;
    let mut config = test_config("gw-alerts-outage", broker.port(), &influx.url());
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.path().join("state.json").display().to_string();
    config.alerts.mqtt.retry_initial = Duration::from_millis(100);
    config.alerts.mqtt.retry_max = Duration::from_millis(500);
    let alerts = Subscriber::connect("outage-watcher", broker.port(), "telegate/alerts/#").await?;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().ok_or_else(|| anyhow::anyhow!("admin listener"))?;
    let mut publisher = Publisher::connect("outage-device", broker.port()).await?;
    let s = gw
        .registry
        .get("river_level")
        .ok_or_else(|| anyhow::anyhow!("river_level schema"))?;
    let payload = telegate_e2e::payloads::batch(
        &s.message,
        "rl-9",
        vec![telegate_e2e::payloads::valid_sample(&s.sample, now_ms_ns(), 1)],
    );
    publisher.publish("telemetry/pa-tan/rl-9/river_level", payload).await?;
    publisher.flush().await?;
    gw.wait_acked(1).await?;
    drop(publisher);

    broker.stop();
    let row = eventually(Duration::from_secs(10), || async {
        Ok(influx
            .rows("telegate", "SELECT * FROM alerts WHERE rule = 'river-offline'")
            .await?
            .pop())
    })
    .await?;
    ensure!(row["change"] == "fired" && row["device_id"] == "rl-9", "{row:?}");
    eventually(Duration::from_secs(10), || async {
        let page = telegate_e2e::admin::get(addr, "/metrics", None).await?.1;
        Ok((require(&page, "telegate_alert_output_errors_total{output=\"mqtt\"}")? >= 1.0).then_some(()))
    })
    .await?;
    ensure!(
        alerts.messages().await.is_empty(),
        "nothing can be published while the broker is down"
    );

    broker.start_again().await?;
    eventually(Duration::from_secs(15), || async {
        Ok((!alerts.messages().await.is_empty()).then_some(()))
    })
    .await?;
    // A second copy would follow within moments.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = alerts.messages().await;
    ensure!(got.len() == 1, "published once: {got:?}");
    let v = json(&got[0])?;
    ensure!(
        from_json(&v) == from_row(&row),
        "MQTT and InfluxDB agree: {v} vs {row:?}"
    );
    eprintln!(
        "fired while the broker was down; published on MQTT after it returned: {}",
        got[0].topic
    );
    gw.stop().await;
    Ok(())
}
