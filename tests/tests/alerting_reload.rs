//! Alert rules and outputs change without a restart: a broken rules file is
//! refused (counted, logged with its file and line) while the rules in
//! service keep working, a fixed one is applied, and on SIGHUP the real
//! binary picks up a new webhook. `telegate check` validates the rules file.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use prost_reflect::Value as Field;
use telegate_e2e::admin::{get, require};
use telegate_e2e::client::{Publisher, Subscriber};
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Binary, Gateway, telegate_binary, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::servers::{Influxd, Mosquitto, free_port};
use telegate_e2e::webhook::Receiver;
use telegate_schema::Registry;

const TAMPER: &str = r#"
[[rule]]
id = "barrier-tamper"
name = "Barrier tamper"
kind = "state"
measurement = "gate_barrier"
when = { tamper = true }
severity = "critical"
level_name = "tamper"
"#;

const DOOR: &str = r#"
[[rule]]
id = "cabinet-door"
name = "Cabinet door open"
kind = "state"
measurement = "gate_barrier"
when = { door_open = true }
severity = "warning"
level_name = "door open"
"#;

/// `when = ...` misspelt as a key the state kind does not have.
const BROKEN: &str = r#"
[[rule]]
id = "barrier-tamper"
name = "Barrier tamper"
kind = "state"
measurement = "gate_barrier"
whne = { tamper = true }
severity = "critical"
"#;

fn barrier(reg: &Registry, seq: u64, tamper: bool, door_open: bool) -> anyhow::Result<Vec<u8>> {
    let s = reg.get("gate_barrier").context("gate_barrier schema")?;
    let mut m = valid_sample(&s.sample, now_ms_ns(), seq);
    m.set_field_by_name("lane", Field::String("in-1".into()));
    m.set_field_by_name("tamper", Field::Bool(tamper));
    m.set_field_by_name("door_open", Field::Bool(door_open));
    Ok(batch(&s.message, "gb-1", vec![m]))
}

/// The `change` of every transition received so far, as `rule:change`.
async fn changes(sub: &Subscriber) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for m in sub.messages().await {
        let v: serde_json::Value = serde_json::from_slice(&m.payload)?;
        out.push(format!(
            "{}:{}",
            v["rule_id"].as_str().unwrap_or_default(),
            v["change"].as_str().unwrap_or_default()
        ));
    }
    Ok(out)
}

async fn wait_for(sub: &Subscriber, want: &[&str]) -> anyhow::Result<()> {
    eventually(Duration::from_secs(10), || async {
        let got = changes(sub).await?;
        ensure!(
            got.len() <= want.len(),
            "more transitions than expected: {got:?}, expected {want:?}"
        );
        Ok((got == want).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rules_file_is_refused_and_a_fixed_one_applied_while_running() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    let rules = dir.path().join("alerts.toml");
    std::fs::write(&rules, TAMPER)?;
    let mut config = test_config("gw-alert-reload", broker.port(), &influx.url());
    config.alerts.rules_file = rules.display().to_string();
    config.alerts.state_file = dir.path().join("state.json").display().to_string();
    config.alerts.reload_interval = Duration::from_millis(200);
    let sub = Subscriber::connect("reload-watcher", broker.port(), "telegate/alerts/#").await?;
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().context("admin listener")?;
    let mut publisher = Publisher::connect("reload-devices", broker.port()).await?;
    let topic = "telemetry/ma-lu-thang/gb-1/gate_barrier";
    let mut seq = 0;
    let mut send = async |tamper: bool, door: bool| -> anyhow::Result<()> {
        seq += 1;
        publisher
            .publish(topic, barrier(&gw.registry, seq, tamper, door)?)
            .await?;
        publisher.flush().await
    };

    send(true, false).await?;
    wait_for(&sub, &["barrier-tamper:fired"]).await?;

    // Broken: refused and counted; the tamper rule keeps working.
    std::fs::write(&rules, BROKEN)?;
    eventually(Duration::from_secs(10), || async {
        let page = get(addr, "/metrics", None).await?.1;
        Ok((require(&page, "telegate_alert_reload_failures_total")? >= 1.0).then_some(()))
    })
    .await?;
    send(false, false).await?;
    wait_for(&sub, &["barrier-tamper:fired", "barrier-tamper:resolved"]).await?;

    // Fixed, with a second rule: applied within the reload interval. The
    // door reading is repeated until the new rule sees one (each is a new
    // sample; a firing state rule does not fire again).
    std::fs::write(&rules, format!("{TAMPER}\n{DOOR}"))?;
    let mut applied = false;
    for _ in 0..40 {
        send(false, true).await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
        if changes(&sub).await?.contains(&"cabinet-door:fired".to_owned()) {
            applied = true;
            break;
        }
    }
    ensure!(applied, "the fixed rules were not applied within 10 s");
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(
        changes(&sub).await? == ["barrier-tamper:fired", "barrier-tamper:resolved", "cabinet-door:fired"],
        "{:?}",
        changes(&sub).await?
    );
    let page = get(addr, "/metrics", None).await?.1;
    ensure!(require(&page, "telegate_alert_reload_failures_total")? == 1.0);
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_validates_rules_and_sighup_switches_the_webhook() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let run = |args: &[&str]| -> anyhow::Result<(bool, String)> {
        let out = std::process::Command::new(telegate_binary()?).args(args).output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    };
    let rules = dir.path().join("alerts.toml");
    let config_file = dir.path().join("telegate.toml");
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let (hook_a, hook_b) = (Receiver::start().await?, Receiver::start().await?);
    let admin_port = free_port()?;
    let write_config = |hook: &str| {
        std::fs::write(
            &config_file,
            format!(
                "[mqtt]\nport = {}\nclient_id = \"gw-alert-hup\"\n[influx]\nurl = \"{}\"\n[wal]\ndir = \"wal\"\n\
                 [admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\
                 [alerts]\nrules_file = \"alerts.toml\"\nstate_file = \"state/alerts.json\"\nreload_interval = \"0s\"\n\
                 [alerts.webhook]\nurl = \"{hook}\"\nretry_initial = \"100ms\"\n",
                broker.port(),
                influx.url()
            ),
        )
    };
    write_config(&hook_a.url())?;
    let config_arg = config_file.to_str().context("utf-8 path")?;

    // `check` reads the rules like `run` does.
    std::fs::write(&rules, BROKEN)?;
    let (ok, out) = run(&["check", "--config", config_arg])?;
    ensure!(!ok && out.contains("alerts.toml:") && out.contains("whne"), "{out}");
    std::fs::write(&rules, TAMPER)?;
    let (ok, out) = run(&["check", "--config", config_arg])?;
    ensure!(
        ok && out.contains("alert rules from") && out.contains("barrier-tamper (state, reads gate_barrier)"),
        "{out}"
    );

    let log = dir.path().join("telegate.log");
    let gw = Binary::start(&config_file, &log)?;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse()?;
    eventually(Duration::from_secs(20), || async {
        let Ok((200, page)) = get(addr, "/metrics", None).await else {
            return Ok(None);
        };
        Ok((require(&page, "telegate_mqtt_connected")? == 1.0).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let registry = Registry::builtin(&Default::default())?;
    let mut publisher = Publisher::connect("hup-devices", broker.port()).await?;
    let topic = "telemetry/ma-lu-thang/gb-1/gate_barrier";
    publisher.publish(topic, barrier(&registry, 1, true, false)?).await?;
    publisher.flush().await?;
    eventually(Duration::from_secs(10), || async {
        Ok((hook_a.delivered().len() == 1).then_some(()))
    })
    .await?;

    write_config(&hook_b.url())?;
    gw.signal("HUP")?;
    eventually(Duration::from_secs(10), || async {
        Ok(std::fs::read_to_string(&log)?
            .contains("alert outputs reloaded")
            .then_some(()))
    })
    .await
    .with_context(|| telegate_e2e::process::log_tail(&log, 30))?;
    publisher.publish(topic, barrier(&registry, 2, false, false)?).await?;
    publisher.flush().await?;
    let resolved = eventually(Duration::from_secs(10), || async {
        Ok(hook_b.delivered().first().cloned())
    })
    .await?;
    ensure!(resolved.body["change"] == "resolved", "{:?}", resolved.body);
    ensure!(hook_a.delivered().len() == 1, "the old webhook got nothing more");
    drop(gw);
    Ok(())
}
