//! `telegate demo` (the README's first command) as a user runs it: the real
//! binary with its embedded broker, simulated fleet and file sink, stopped
//! with SIGINT (Ctrl-C). Nothing to install: no Mosquitto, no InfluxDB.
//! Its scripted episode, shortened to 20 s, is checked over the console's
//! API: the river's flood alarm fires through BĐ I, II and III and clears,
//! the silent gauge's deadman fires and clears, the overloaded truck alarms.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use telegate_e2e::admin;
use telegate_e2e::gateway::telegate_binary;

/// (rule, device, change, level) of a transition the episode must produce.
type Seen = (String, String, String, String);

/// The console's address from the demo's banner.
fn console_addr(log_path: &Path, child: &mut Child) -> anyhow::Result<SocketAddr> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let log = std::fs::read_to_string(log_path)?;
        if let Some(line) = log.lines().find(|l| l.trim_start().starts_with("console: http://")) {
            let addr = line
                .trim_start()
                .trim_start_matches("console: http://")
                .split('/')
                .next()
                .unwrap_or_default();
            return addr.parse().with_context(|| format!("console line `{line}`"));
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("demo exited early ({status}):\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("no console line in the banner:\n{}", std::fs::read_to_string(log_path)?)
}

/// Poll `GET /api/alerts` (its `recent` transitions) until every expected
/// transition has been seen; returns what is still missing.
fn watch_episode(addr: SocketAddr, expected: &BTreeSet<Seen>, within: Duration) -> anyhow::Result<BTreeSet<Seen>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut seen = BTreeSet::new();
    let started = Instant::now();
    while started.elapsed() < within {
        let (status, body) = rt.block_on(admin::get(addr, "/api/alerts", None))?;
        anyhow::ensure!(status == 200, "GET /api/alerts: {status} {body}");
        let view: serde_json::Value = serde_json::from_str(&body)?;
        for t in view["recent"].as_array().into_iter().flatten() {
            let field = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            seen.insert((
                field(&t["rule_id"]),
                field(&t["series"]["device_id"]),
                field(&t["change"]),
                field(&t["level"]),
            ));
        }
        if expected.is_subset(&seen) {
            return Ok(BTreeSet::new());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(expected.difference(&seen).cloned().collect())
}

/// `key=value` from the gateway's final summary line.
fn summary_value(log: &str, key: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.starts_with("gateway: "))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

#[test]
fn demo_ingests_through_the_embedded_broker_into_files_and_stops_on_sigint() -> anyhow::Result<()> {
    let bin = telegate_binary()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("demo");
    let log_path = dir.path().join("demo.log");
    let log = std::fs::File::create(&log_path)?;
    let mut child = Command::new(&bin)
        .args([
            "demo",
            "--devices",
            "16",
            "--rate",
            "100",
            "--bad-ratio",
            "0.1",
            "--seed",
            "3",
            "--episode",
            "20s",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "info,rumqttd=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let points = data.join("points/points.lp");
    // Let it run until points have been written for a few seconds.
    let started = Instant::now();
    let mut lines = 0;
    while started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(500));
        lines = std::fs::read_to_string(&points).map(|s| s.lines().count()).unwrap_or(0);
        if lines >= 200 {
            break;
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("demo exited early ({status}):\n{}", std::fs::read_to_string(&log_path)?);
        }
    }
    assert!(
        lines >= 200,
        "only {lines} points after 30 s:\n{}",
        std::fs::read_to_string(&log_path)?
    );

    // The scripted episode, seen by an operator through the console's API.
    let addr = console_addr(&log_path, &mut child)?;
    let expect = |rule: &str, device: &str, change: &str, level: &str| {
        (rule.to_owned(), device.to_owned(), change.to_owned(), level.to_owned())
    };
    let expected: BTreeSet<Seen> = [
        expect("flood-muong-te", "rl-101", "fired", "BĐ I"),
        expect("flood-muong-te", "rl-101", "escalated", "BĐ II"),
        expect("flood-muong-te", "rl-101", "escalated", "BĐ III"),
        expect("flood-muong-te", "rl-101", "deescalated", "BĐ II"),
        expect("flood-muong-te", "rl-101", "deescalated", "BĐ I"),
        expect("flood-muong-te", "rl-101", "resolved", "BĐ I"),
        expect("offline-river", "rl-102", "fired", "offline"),
        expect("offline-river", "rl-102", "resolved", "offline"),
        expect("overload", "wb-101", "fired", "over 110 %"),
        expect("overload", "wb-101", "resolved", "over 110 %"),
    ]
    .into_iter()
    .collect();
    let missing = watch_episode(addr, &expected, Duration::from_secs(45))?;
    if !missing.is_empty() {
        let _ = child.kill();
        anyhow::bail!(
            "the episode's transitions never showed in /api/alerts: {missing:#?}\n{}",
            std::fs::read_to_string(&log_path)?
        );
    }

    let pid = i32::try_from(child.id())?;
    let sent = Command::new("kill").args(["-INT", &pid.to_string()]).status()?;
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            anyhow::bail!(
                "demo did not exit within 30 s of SIGINT:\n{}",
                std::fs::read_to_string(&log_path)?
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&log_path)?;
    assert!(status.success(), "exit status {status}:\n{log}");
    assert!(log.contains("embedded MQTT 5 on 127.0.0.1:"), "{log}");
    assert!(
        log.contains(&format!("{}", data.join("points").display())),
        "prints its data dir:\n{log}"
    );

    // Counts agree: every point the gateway says it wrote is in the file,
    // every message it received was either accepted or rejected, none is left
    // unacknowledged, and the bad ones were rejected with reasons.
    let stored = std::fs::read_to_string(&points)?.lines().count() as u64;
    let written = summary_value(&log, "written").ok_or_else(|| anyhow::anyhow!("no summary:\n{log}"))?;
    assert_eq!(stored, written, "{log}");
    let received = summary_value(&log, "received").unwrap_or(0);
    let accepted = summary_value(&log, "accepted").unwrap_or(0);
    let rejected = summary_value(&log, "rejected").unwrap_or(0);
    assert_eq!(received, accepted + rejected, "{log}");
    assert_eq!(summary_value(&log, "unacked"), Some(0), "{log}");
    assert!(rejected > 0 && accepted > rejected, "{log}");
    let fleet = log
        .lines()
        .find(|l| l.starts_with("fleet: sent "))
        .ok_or_else(|| anyhow::anyhow!("no fleet report:\n{log}"))?;
    let fleet_sent: u64 = fleet
        .trim_start_matches("fleet: sent ")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        fleet_sent, received,
        "the gateway received every message the fleet sent:\n{log}"
    );
    for line in std::fs::read_to_string(&points)?.lines().take(50) {
        assert!(line.contains(",device_id=") && line.contains(",site="), "{line}");
    }
    Ok(())
}
