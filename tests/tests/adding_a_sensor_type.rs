//! docs/adding-a-sensor-type.md, followed literally: its files are read out
//! of the page, and its commands are run with the real binary against real
//! Mosquitto and InfluxDB. A sensor type defined only in files (no Rust) is
//! added to a running gateway; its readings are stored and its bad readings
//! dead-lettered.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use telegate_e2e::client::Subscriber;
use telegate_e2e::gateway::{Binary, telegate_binary};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::{copy_dir, eventually, repo_dir};

/// `(path, content)` of every `<!-- file: PATH -->` + fenced block in the guide.
fn guide_files() -> anyhow::Result<Vec<(String, String)>> {
    let guide = std::fs::read_to_string(repo_dir().join("docs/adding-a-sensor-type.md"))?;
    let mut files = Vec::new();
    let mut rest = guide.as_str();
    while let Some(i) = rest.find("<!-- file: ") {
        rest = &rest[i + "<!-- file: ".len()..];
        let end = rest
            .find(" -->")
            .ok_or_else(|| anyhow::anyhow!("unclosed file marker"))?;
        let path = rest[..end].to_owned();
        let fence = rest
            .find("```")
            .ok_or_else(|| anyhow::anyhow!("no code block after {path}"))?;
        let body_start = fence + rest[fence..].find('\n').unwrap_or(0) + 1;
        let body_end = body_start
            + rest[body_start..]
                .find("\n```")
                .ok_or_else(|| anyhow::anyhow!("unclosed code block for {path}"))?;
        files.push((path, rest[body_start..=body_end].to_owned()));
        rest = &rest[body_end..];
    }
    Ok(files)
}

fn telegate(dir: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(telegate_binary()?)
        .current_dir(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()?)
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_adds_a_sensor_type_to_a_running_gateway() -> anyhow::Result<()> {
    let broker = Mosquitto::start().await?;
    let influx = Influxd::start().await?;
    let work = tempfile::tempdir()?;
    let dir = work.path();
    let files = guide_files()?;
    let (proto_path, proto) = files
        .iter()
        .find(|(p, _)| p.ends_with("cold_chain.proto"))
        .ok_or_else(|| anyhow::anyhow!("the guide has no cold_chain.proto"))?;
    let (config_path, config) = files
        .iter()
        .find(|(p, _)| p.ends_with("telegate.toml"))
        .ok_or_else(|| anyhow::anyhow!("the guide has no telegate.toml"))?;

    // Step 1: the schema directory, with the built-in types.
    std::fs::create_dir_all(dir.join("site/proto/acme/v1"))?;
    copy_dir(&repo_dir().join("proto/telegate"), &dir.join("site/proto/telegate"))?;
    // Step 3: the config, pointed at this test's servers instead of the defaults.
    let config = config
        .replace("port = 1883", &format!("port = {}", broker.port()))
        .replace("http://127.0.0.1:8086", &influx.url());
    assert!(config.contains(&influx.url()) && config.contains(&broker.port().to_string()));
    std::fs::write(dir.join(config_path), &config)?;
    let cfg = config_path.as_str();

    // Step 6: the gateway runs before the new type exists.
    let log = dir.join("gateway.log");
    let mut gw = Binary::start(&dir.join(cfg), &log)?;
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually(Duration::from_secs(20), || async {
        Ok(read_log().contains("subscribed").then_some(()))
    })
    .await?;
    let before = telegate(dir, &["check", "--config", cfg])?;
    assert!(before.status.success(), "{}", text(&before));
    assert!(!String::from_utf8_lossy(&before.stdout).contains("cold_chain"));

    // Step 2 (the file) lands in the running gateway's directory.
    std::fs::write(dir.join(proto_path), proto)?;
    eventually(Duration::from_secs(20), || async {
        Ok(read_log()
            .lines()
            .any(|l| l.contains("schemas reloaded") && l.contains("cold_chain"))
            .then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\ngateway log:\n{}", read_log()))?;

    // Step 4: check and describe.
    let check = telegate(dir, &["check", "--config", cfg])?;
    let out = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        out.contains("topic:       telemetry/{site}/{device_id}/cold_chain"),
        "{out}"
    );
    assert!(out.contains("tags:        compartment, device_id, site"), "{out}");
    assert!(
        out.contains(
            "fields:      temp_c (float, degC), setpoint_c (float, degC), door_open (boolean), state (string)"
        ),
        "{out}"
    );
    let describe = telegate(dir, &["schema", "describe", "cold_chain", "--config", cfg])?;
    let out = String::from_utf8_lossy(&describe.stdout).into_owned();
    assert!(describe.status.success(), "{}", text(&describe));
    assert!(out.contains("double {gte: -40, lte: 40}"), "{out}");
    assert!(out.contains("cold_chain,compartment="), "{out}");

    // Step 5: a simulated payload, through decode.
    let dry = telegate(
        dir,
        &["sim", "--config", cfg, "--types", "cold_chain", "--dry-run", "1"],
    )?;
    assert!(dry.status.success(), "{}", text(&dry));
    let line = String::from_utf8_lossy(&dry.stdout).into_owned();
    let hex = line
        .split_whitespace()
        .nth(3)
        .ok_or_else(|| anyhow::anyhow!("dry run line: {line}"))?;
    std::fs::write(dir.join("reading.hex"), hex)?;
    let decoded = telegate(dir, &["decode", "--config", cfg, "--type", "cold_chain", "reading.hex"])?;
    let out = String::from_utf8_lossy(&decoded.stdout).into_owned();
    assert!(decoded.status.success(), "{}", text(&decoded));
    assert!(out.contains("verdict: accepted"), "{out}");
    assert!(out.contains("\"tempC\""), "{out}");

    // Step 7: readings stored — as many points as the fleet sent samples.
    let dlq = Subscriber::connect("guide-dlq", broker.port(), "telegate/dead-letter/#").await?;
    let sim = telegate(
        dir,
        &[
            "sim",
            "--config",
            cfg,
            "--types",
            "cold_chain",
            "--devices",
            "4",
            "--rate",
            "50",
            "--messages",
            "200",
        ],
    )?;
    assert!(sim.status.success(), "{}", text(&sim));
    let report = String::from_utf8_lossy(&sim.stderr).into_owned();
    // "sent 200 messages (200 good with N samples, 0 bad), 200 acknowledged …"
    let samples: u64 = report
        .split("good with ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no sample count in: {report}"))?;
    assert!(samples >= 200, "{report}");
    let stored = eventually(Duration::from_secs(30), || async {
        let n = influx.count("telegate", "cold_chain", "temp_c").await?;
        Ok((n >= samples).then_some(n))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\n{report}\ngateway log:\n{}", read_log()))?;
    assert_eq!(stored, samples, "each sample stored once");
    let tags = influx.rows("telegate", "SHOW TAG KEYS FROM cold_chain").await?;
    assert!(format!("{tags:?}").contains("compartment"), "{tags:?}");

    // Step 8: bad readings dead-lettered, with reasons, and nothing of them stored.
    let bad = telegate(
        dir,
        &[
            "sim",
            "--config",
            cfg,
            "--types",
            "cold_chain",
            "--bad-ratio",
            "1",
            "--messages",
            "8",
            "--seed",
            "5",
        ],
    )?;
    assert!(bad.status.success(), "{}", text(&bad));
    let letters = eventually(Duration::from_secs(20), || async {
        let m = dlq.messages().await;
        Ok((m.len() >= 8).then_some(m))
    })
    .await?;
    assert_eq!(letters.len(), 8);
    let mut reasons: Vec<&str> = letters
        .iter()
        .map(|m| m.properties.get("reason").map_or("", String::as_str))
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(
        reasons,
        [
            "constraint_violated",
            "device_id_mismatch",
            "malformed_protobuf",
            "non_finite_value",
            "payload_too_large",
            "timestamp_in_future",
            "timestamp_too_old",
            "unknown_sensor_type"
        ],
        "{letters:?}"
    );
    for m in &letters {
        assert!(m.topic.starts_with("telegate/dead-letter/telemetry/"), "{}", m.topic);
        assert!(m.properties.get("detail").is_some_and(|d| !d.is_empty()), "{m:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(influx.count("telegate", "cold_chain", "temp_c").await?, samples);

    let status = gw.sigterm(Duration::from_secs(20)).await?;
    assert!(status.success(), "{status}\n{}", read_log());
    Ok(())
}
