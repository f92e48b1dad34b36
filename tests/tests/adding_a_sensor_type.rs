//! docs/adding-a-sensor-type.md, followed literally: its files and its
//! commands are read out of the page, and run with the real binary against
//! real Mosquitto and InfluxDB. A sensor type defined only in files (no
//! Rust) is added to a running gateway; its readings are stored and its bad
//! readings dead-lettered.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use telegate_e2e::gateway::{Binary, telegate_binary};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::{eventually, repo_dir};

fn guide() -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(
        repo_dir().join("docs/adding-a-sensor-type.md"),
    )?)
}

/// `(path, content)` of every `<!-- file: PATH -->` + fenced block in the guide.
fn guide_files(guide: &str) -> anyhow::Result<Vec<(String, String)>> {
    marked_blocks(guide, "<!-- file: ")
}

/// `(label, body)` of every `{marker}LABEL -->` followed by a fenced block.
fn marked_blocks(guide: &str, marker: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut rest = guide;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let end = rest.find(" -->").ok_or_else(|| anyhow::anyhow!("unclosed marker"))?;
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

/// The command lines of every ```sh block of the guide.
fn guide_commands(guide: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in guide.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if in_sh && !line.trim().is_empty() {
            out.push(line.trim().to_owned());
        }
    }
    out
}

/// The arguments of the guide's command starting with `prefix` (up to a
/// pipe or a trailing `&`), split like a shell does for single quotes.
fn command(commands: &[String], prefix: &str) -> anyhow::Result<Vec<String>> {
    let line = commands
        .iter()
        .find(|c| c.starts_with(prefix))
        .ok_or_else(|| anyhow::anyhow!("the guide has no command starting with `{prefix}`"))?;
    let line = line.split(" | ").next().unwrap_or(line).trim_end_matches('&').trim();
    let mut args = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    args.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(word);
    }
    Ok(args)
}

/// A guide command that starts with `telegate`, run with the binary; `extra`
/// arguments are appended.
fn run_guide(dir: &Path, commands: &[String], prefix: &str, extra: &[&str]) -> anyhow::Result<Output> {
    let args = command(commands, prefix)?;
    anyhow::ensure!(args.first().is_some_and(|a| a == "telegate"), "{args:?}");
    let mut all: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    telegate(dir, &all)
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
    let guide = guide()?;
    let files = guide_files(&guide)?;
    let commands = guide_commands(&guide);
    let (proto_path, proto) = files
        .iter()
        .find(|(p, _)| p.ends_with("cold_chain.proto"))
        .ok_or_else(|| anyhow::anyhow!("the guide has no cold_chain.proto"))?;
    let (config_path, config) = files
        .iter()
        .find(|(p, _)| p.ends_with("telegate.toml"))
        .ok_or_else(|| anyhow::anyhow!("the guide has no telegate.toml"))?;

    // Step 1: the schema directory, and the files in service exported from
    // the binary (no source checkout).
    let mkdir = command(&commands, "mkdir -p ")?;
    std::fs::create_dir_all(dir.join(&mkdir[2]))?;
    let export = run_guide(dir, &commands, "telegate schema export", &[])?;
    assert!(export.status.success(), "{}", text(&export));
    let reference = dir.join(&command(&commands, "telegate schema export")?[3]);
    for f in [
        "telegate/v1/options.proto",
        "buf/validate/validate.proto",
        "telegate/v1/river_level.proto",
    ] {
        assert!(reference.join(f).is_file(), "{f} not exported\n{}", text(&export));
    }
    // Step 2: the file; step 3: the config, pointed at this test's servers.
    std::fs::write(dir.join(proto_path), proto)?;
    let config = config
        .replace("port = 1883", &format!("port = {}", broker.port()))
        .replace("http://127.0.0.1:8086", &influx.url());
    assert!(config.contains(&influx.url()) && config.contains(&broker.port().to_string()));
    std::fs::write(dir.join(config_path), &config)?;
    let cfg = config_path.as_str();

    // Step 4: check shows the new type exactly as the guide does, beside the built-in ones.
    let check = run_guide(dir, &commands, "telegate check", &[])?;
    let out = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{}", text(&check));
    let (_, shown) = marked_blocks(&guide, "<!-- check: ")?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the guide shows no check output"))?;
    assert!(out.contains(&shown), "guide shows:\n{shown}\ncheck prints:\n{out}");
    assert!(out.contains("\nriver_level\n"), "built-in types stay: {out}");
    assert!(!out.contains("warning"), "{out}");
    let describe = telegate(dir, &["schema", "describe", "cold_chain", "--config", cfg])?;
    let out = String::from_utf8_lossy(&describe.stdout).into_owned();
    assert!(describe.status.success(), "{}", text(&describe));
    assert!(out.contains("double {gte: -40, lte: 40}"), "{out}");
    assert!(out.contains("cold_chain,compartment="), "{out}");

    // Step 5: a simulated payload, through decode.
    let dry = run_guide(
        dir,
        &commands,
        "telegate sim --config site/telegate.toml --types cold_chain --dry-run 1",
        &[],
    )?;
    assert!(dry.status.success(), "{}", text(&dry));
    let line = String::from_utf8_lossy(&dry.stdout).into_owned();
    let hex = line
        .split_whitespace()
        .nth(3)
        .ok_or_else(|| anyhow::anyhow!("dry run line: {line}"))?;
    std::fs::write(dir.join("reading.hex"), hex)?;
    let decoded = run_guide(dir, &commands, "telegate decode", &[])?;
    let out = String::from_utf8_lossy(&decoded.stdout).into_owned();
    assert!(decoded.status.success(), "{}", text(&decoded));
    assert!(out.contains("verdict: accepted"), "{out}");
    assert!(out.contains("\"tempC\""), "{out}");

    // Step 6: the file out, the gateway started, the file back in.
    let move_out = command(&commands, "mv site/proto")?;
    std::fs::rename(
        dir.join(&move_out[1]),
        dir.join(&move_out[2])
            .join(Path::new(&move_out[1]).file_name().unwrap_or_default()),
    )?;
    let run = command(&commands, "telegate run")?;
    assert_eq!(run[1..], ["run", "--config", cfg], "{run:?}");
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
    let move_in = command(&commands, "mv cold_chain.proto")?;
    std::fs::rename(dir.join(&move_in[1]), dir.join(&move_in[2]).join(&move_in[1]))?;
    assert!(
        dir.join(proto_path).is_file(),
        "step 6 puts the file where step 2 wrote it"
    );
    eventually(Duration::from_secs(20), || async {
        Ok(read_log()
            .lines()
            .any(|l| l.contains("schemas reloaded") && l.contains("added=[\"cold_chain\"]") && l.contains("changed=[]"))
            .then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}\ngateway log:\n{}", read_log()))?;

    // Step 7: readings stored — as many points as the fleet sent samples.
    let sim = run_guide(
        dir,
        &commands,
        "telegate sim --config site/telegate.toml --types cold_chain --devices",
        &[],
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

    // Step 8: bad readings dead-lettered, with reasons that the guide's
    // mosquitto_sub prints, and nothing of them stored.
    let mut sub_args = command(&commands, "mosquitto_sub")?;
    // Stop after the 8 dead letters, or after 30 s without one.
    sub_args.extend(["-p", &broker.port().to_string(), "-C", "8", "-W", "30"].map(str::to_owned));
    let sub = Command::new(&sub_args[0])
        .args(&sub_args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bad = run_guide(
        dir,
        &commands,
        "telegate sim --config site/telegate.toml --types cold_chain --bad-ratio",
        &[],
    )?;
    assert!(bad.status.success(), "{}", text(&bad));
    let printed = tokio::task::spawn_blocking(move || sub.wait_with_output()).await??;
    let printed = String::from_utf8_lossy(&printed.stdout).into_owned();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 8, "{printed}");
    for reason in [
        "constraint_violated",
        "device_id_mismatch",
        "malformed_protobuf",
        "non_finite_value",
        "payload_too_large",
        "timestamp_in_future",
        "timestamp_too_old",
        "unknown_sensor_type",
    ] {
        assert!(printed.contains(reason), "{reason} not printed:\n{printed}");
    }
    for l in &lines {
        assert!(l.starts_with("telegate/dead-letter/telemetry/"), "{l}");
        assert!(l.contains("detail"), "{l}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(influx.count("telegate", "cold_chain", "temp_c").await?, samples);

    let status = gw.sigterm(Duration::from_secs(20)).await?;
    assert!(status.success(), "{status}\n{}", read_log());
    Ok(())
}
