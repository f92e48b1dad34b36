//! The admin listener on a real gateway: `/metrics` counts what happened
//! (exactly), the bearer token guards it, the probes answer without it and
//! `/readyz` names what is wrong; secrets never reach a log or a dump.

use std::time::Duration;

use telegate_e2e::admin::{get, require, value};
use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Binary, Gateway, telegate_binary, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::servers::{Influxd, Mosquitto, free_port};
use telegate_e2e::stream::{TOPIC, assert_stored_exactly, reading};
use telegate_model::Secret;

const TOKEN: &str = "s3cret-admin-token-7f2c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_and_probes_report_readiness() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let mut influx = Influxd::start().await?;
    let mut config = test_config("gw-metrics", broker.port(), &influx.url());
    config.admin.token = Secret::new(TOKEN);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().expect("admin listener on");

    // The probes need no token; /metrics does.
    assert_eq!(get(addr, "/healthz", None).await?.0, 200);
    let (status, body) = get(addr, "/metrics", None).await?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(get(addr, "/metrics", Some("wrong")).await?.0, 401);
    let (status, body) = get(addr, "/readyz", None).await?;
    assert_eq!(status, 200, "{body}");

    let registry = &gw.registry;
    let t0 = now_ms_ns() - 60_000_000_000;
    let mut publisher = Publisher::connect("metrics-fleet", broker.port()).await?;
    const GOOD: u64 = 40;
    const BAD: u64 = 3;
    for i in 0..GOOD {
        publisher.publish(TOPIC, reading(registry, t0, i)).await?;
    }
    for _ in 0..BAD {
        publisher.publish(TOPIC, b"\xff\xff not protobuf".to_vec()).await?;
    }
    publisher.flush().await?;
    let page = eventually(Duration::from_secs(15), || async {
        let (_, page) = get(addr, "/metrics", Some(TOKEN)).await?;
        // With the WAL, a reading is acknowledged once logged: wait for both.
        let done = value(&page, "telegate_messages_acked_total") == Some((GOOD + BAD) as f64)
            && value(&page, "telegate_points_written_total") == Some(GOOD as f64);
        Ok(done.then_some(page))
    })
    .await?;
    assert_eq!(require(&page, "telegate_messages_received_total")?, (GOOD + BAD) as f64);
    assert_eq!(require(&page, "telegate_messages_accepted_total")?, GOOD as f64);
    assert_eq!(require(&page, "telegate_points_written_total")?, GOOD as f64);
    assert_eq!(
        require(&page, "telegate_messages_rejected_total{reason=\"malformed_protobuf\"}")?,
        BAD as f64
    );
    assert_eq!(
        require(
            &page,
            "telegate_messages_rejected_total{reason=\"constraint_violated\"}"
        )?,
        0.0
    );
    assert_eq!(require(&page, "telegate_acks_pending")?, 0.0);
    assert_eq!(require(&page, "telegate_mqtt_connected")?, 1.0);
    assert_eq!(require(&page, "telegate_influx_reachable")?, 1.0);
    let batches = require(&page, "telegate_write_batches_total")?;
    assert!(batches >= 1.0);
    // One histogram observation per write request (no retries here).
    assert_eq!(require(&page, "telegate_write_duration_seconds_count")?, batches);
    assert_eq!(
        require(&page, "telegate_write_duration_seconds_bucket{le=\"+Inf\"}")?,
        batches
    );
    assert_eq!(require(&page, "telegate_wal_enabled")?, 1.0);
    // Every family on the page is in the published list (dashboards rely on it).
    for line in page.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let name = line.split(' ').next().unwrap_or_default();
        assert!(telegate::metrics::NAMES.contains(&name), "{name} not in metrics::NAMES");
    }

    // The database goes away: /readyz says so, by name; it comes back: ready.
    influx.stop();
    let body = eventually(Duration::from_secs(10), || async {
        let (status, body) = get(addr, "/readyz", None).await?;
        Ok((status == 503).then_some(body))
    })
    .await?;
    assert!(body.contains("influx:"), "{body}");
    assert!(!body.contains("mqtt:"), "{body}");
    influx.start_again().await?;
    eventually(Duration::from_secs(10), || async {
        Ok((get(addr, "/readyz", None).await?.0 == 200).then_some(()))
    })
    .await?;
    // The broker goes away: not ready, naming MQTT.
    drop(broker);
    let body = eventually(Duration::from_secs(20), || async {
        let (status, body) = get(addr, "/readyz", None).await?;
        Ok((status == 503 && body.contains("mqtt:")).then_some(body))
    })
    .await?;
    eprintln!("readyz with the broker gone: {body}");
    gw.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_from_files_and_env_never_reach_logs_or_the_config_dump() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let dir = tempfile::tempdir()?;
    const INFLUX_PASSWORD: &str = "influx-pw-from-file-91ab";
    const MQTT_PASSWORD: &str = "mqtt-pw-from-env-c04d";
    std::fs::write(dir.path().join("influx_password"), format!("{INFLUX_PASSWORD}\n"))?;
    std::fs::write(dir.path().join("admin_token"), TOKEN)?;
    let admin_port = free_port()?;
    let cfg = dir.path().join("telegate.toml");
    std::fs::write(
        &cfg,
        format!(
            "[mqtt]\nport = {}\nclient_id = \"gw-secrets\"\nusername = \"gateway\"\npassword_env = \"SITE_MQTT_PASSWORD\"\n\
             [influx]\nurl = \"{}\"\nusername = \"writer\"\npassword_file = \"influx_password\"\n\
             [admin]\nlisten = \"127.0.0.1:{admin_port}\"\ntoken_file = \"admin_token\"\n\
             [log]\nformat = \"json\"\n[pipeline]\nstats_interval = \"1s\"\n",
            broker.port(),
            influx.url()
        ),
    )?;
    let env = [("SITE_MQTT_PASSWORD", MQTT_PASSWORD)];

    // The dump shows that secrets are set, never what they are.
    let dump = std::process::Command::new(telegate_binary()?)
        .args(["check", "--print-config", "--config"])
        .arg(&cfg)
        .envs(env)
        .output()?;
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    assert!(text.contains("password = \"<redacted>\""), "{text}");
    assert!(text.contains("token = \"<redacted>\""), "{text}");
    for secret in [INFLUX_PASSWORD, MQTT_PASSWORD, TOKEN] {
        assert!(!text.contains(secret), "secret in the dump:\n{text}");
    }

    // A running gateway at debug level: JSON lines, none carrying a secret.
    let log = dir.path().join("gateway.log");
    let mut gw = {
        let mut envs = env.to_vec();
        envs.push(("RUST_LOG", "debug"));
        Binary::start_with_env(&cfg, &log, &envs)?
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], admin_port));
    eventually(Duration::from_secs(15), || async {
        let Ok((_, page)) = get(addr, "/metrics", Some(TOKEN)).await else {
            return Ok(None);
        };
        Ok((value(&page, "telegate_mqtt_connected") == Some(1.0)).then_some(()))
    })
    .await?;
    let registry = telegate_schema::Registry::builtin(&Default::default())?;
    let mut publisher = Publisher::connect("secrets-fleet", broker.port()).await?;
    publisher.publish(TOPIC, reading(&registry, now_ms_ns(), 0)).await?;
    publisher.publish(TOPIC, b"\xff\xff not protobuf".to_vec()).await?;
    publisher.flush().await?;
    eventually(Duration::from_secs(15), || async {
        Ok((influx.count("telegate", "river_level", "seq").await.unwrap_or(0) == 1).then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let status = gw.sigterm(Duration::from_secs(20)).await?;
    assert!(status.success());
    let text = std::fs::read_to_string(&log)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{text}");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("not a JSON log line ({e}): {line}"))?;
        assert!(v.get("level").is_some() && v.get("timestamp").is_some(), "{line}");
    }
    for secret in [INFLUX_PASSWORD, MQTT_PASSWORD, TOKEN] {
        assert!(!text.contains(secret), "secret `{secret}` in the log:\n{text}");
    }
    // The rejection's log line carries the device it came from, as fields.
    let rejection = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["reason"] == "malformed_protobuf")
        .ok_or_else(|| anyhow::anyhow!("no rejection line in:\n{text}"))?;
    assert_eq!(rejection["device_id"], "rl-1", "{rejection}");
    assert_eq!(rejection["site"], "site-a", "{rejection}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_file_or_variable_is_a_config_error_naming_the_key() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cases = [
        (
            "[influx]\ntoken_file = \"nope/token\"\n",
            "key `influx.token`",
            "cannot read influx.token_file",
        ),
        (
            "[mqtt]\npassword_env = \"TELEGATE_TEST_UNSET_VAR\"\n",
            "key `mqtt.password`",
            "TELEGATE_TEST_UNSET_VAR, which is unset or empty",
        ),
        (
            "[influx]\ntoken_file = \"a\"\ntoken_env = \"B\"\n",
            "key `influx.token`",
            "both influx.token_file and influx.token_env are set",
        ),
    ];
    for (i, (text, key, problem)) in cases.into_iter().enumerate() {
        let cfg = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&cfg, text)?;
        let out = std::process::Command::new(telegate_binary()?)
            .args(["check", "--config"])
            .arg(&cfg)
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} was accepted");
        assert!(err.contains(&format!("bad-{i}.toml")), "{err}");
        assert!(
            err.contains(key) && err.contains(problem) && err.contains("Fix:"),
            "{err}"
        );
    }
    Ok(())
}

/// `SHOW DATABASES` as a list of names.
async fn databases(influx: &Influxd) -> anyhow::Result<Vec<String>> {
    let rows = influx.rows("", "SHOW DATABASES").await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get("name").and_then(|v| v.as_str()).map(str::to_owned))
        .collect())
}

/// Issue 20: the database is dropped under a running gateway (an
/// administrator's mistake). With `create_database = true` (the default) the
/// first write that finds it gone re-creates it and is posted again: every
/// acknowledged reading is stored, the re-creation is counted, and the
/// gateway stays ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_database_is_recreated_and_every_reading_stored() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let config = test_config("gw-dropped-db", broker.port(), &influx.url());
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().expect("admin listener on");
    let t0 = now_ms_ns() - 60_000_000_000;
    let mut publisher = Publisher::connect("dropped-db-fleet", broker.port()).await?;
    for i in 0..50 {
        publisher.publish(TOPIC, reading(&gw.registry, t0, i)).await?;
    }
    publisher.flush().await?;
    assert_stored_exactly(&influx, 50, Duration::from_secs(15)).await?;

    influx.execute("DROP DATABASE telegate").await?;
    assert!(!databases(&influx).await?.contains(&"telegate".to_owned()));
    for i in 50..120 {
        publisher.publish(TOPIC, reading(&gw.registry, t0, i)).await?;
    }
    publisher.flush().await?;
    // The first 50 went with the dropped database; the 70 after it are all there.
    assert_stored_exactly(&influx, 70, Duration::from_secs(20)).await?;
    let (_, page) = get(addr, "/metrics", None).await?;
    let created = require(&page, "telegate_influx_databases_created_total")?;
    // Each writer task that met the 404 may have re-created it (idempotent).
    assert!((1.0..=2.0).contains(&created), "re-created {created} times");
    assert_eq!(require(&page, "telegate_influx_writes_failing_seconds")?, 0.0);
    let (status, body) = get(addr, "/readyz", None).await?;
    assert_eq!(status, 200, "{body}");
    gw.stop().await;
    Ok(())
}

/// Issue 20: `create_database = false` means the gateway never creates a
/// database — not at start-up, not when a write finds it missing — and
/// `/readyz` goes 503 within the grace, quoting InfluxDB's 404 and naming
/// the key. Nothing is lost: once an operator creates it, every reading is
/// stored and the gateway is ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_create_database_nothing_is_created_and_readyz_names_the_key() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let mut config = test_config("gw-no-create", broker.port(), &influx.url());
    config.influx.create_database = false;
    config.admin.ready_grace = Duration::from_secs(1);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().expect("admin listener on");
    assert!(
        !databases(&influx).await?.contains(&"telegate".to_owned()),
        "created at start-up"
    );
    // Idle, and the server answers its ping: ready.
    let (status, body) = get(addr, "/readyz", None).await?;
    assert_eq!(status, 200, "{body}");

    let t0 = now_ms_ns() - 60_000_000_000;
    let mut publisher = Publisher::connect("no-create-fleet", broker.port()).await?;
    for i in 0..30 {
        publisher.publish(TOPIC, reading(&gw.registry, t0, i)).await?;
    }
    publisher.flush().await?;
    let body = eventually(Duration::from_secs(15), || async {
        let (status, body) = get(addr, "/readyz", None).await?;
        Ok((status == 503).then_some(body))
    })
    .await?;
    for needle in [
        "influx: writes failing for",
        "404",
        "database not found",
        "influx.create_database",
    ] {
        assert!(body.contains(needle), "/readyz lacks {needle:?}: {body}");
    }
    assert!(!body.contains("mqtt:"), "{body}");
    let (_, page) = get(addr, "/metrics", None).await?;
    assert!(require(&page, "telegate_influx_writes_failing_seconds")? >= 1.0);
    assert_eq!(require(&page, "telegate_influx_databases_created_total")?, 0.0);
    assert!(
        !databases(&influx).await?.contains(&"telegate".to_owned()),
        "created by a write"
    );

    // The operator creates it: everything acknowledged meanwhile is stored.
    influx.create_database("telegate").await?;
    assert_stored_exactly(&influx, 30, Duration::from_secs(20)).await?;
    eventually(Duration::from_secs(10), || async {
        Ok((get(addr, "/readyz", None).await?.0 == 200).then_some(()))
    })
    .await?;
    gw.stop().await;
    Ok(())
}

/// Issue 20: InfluxDB with authentication on answers `/ping` to anyone but
/// refuses the gateway's writes with 401: `/readyz` must not say "ready",
/// and must name the credential keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_make_the_gateway_unready_naming_the_keys() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start_with_auth("admin", "right-password").await?;
    influx.create_database("telegate").await?;
    let mut config = test_config("gw-bad-password", broker.port(), &influx.url());
    config.influx.username = "admin".into();
    config.influx.password = Secret::new("wrong-password");
    config.admin.ready_grace = Duration::from_secs(1);
    let gw = Gateway::start(config).await?;
    gw.connected().await?;
    let addr = gw.admin_addr().expect("admin listener on");
    let t0 = now_ms_ns() - 60_000_000_000;
    let mut publisher = Publisher::connect("bad-password-fleet", broker.port()).await?;
    for i in 0..5 {
        publisher.publish(TOPIC, reading(&gw.registry, t0, i)).await?;
    }
    publisher.flush().await?;
    let body = eventually(Duration::from_secs(15), || async {
        let (status, body) = get(addr, "/readyz", None).await?;
        Ok((status == 503).then_some(body))
    })
    .await?;
    for needle in ["401", "influx.username/password"] {
        assert!(body.contains(needle), "/readyz lacks {needle:?}: {body}");
    }
    assert_eq!(influx.count("telegate", "river_level", "seq").await?, 0);
    gw.stop().await;
    Ok(())
}
