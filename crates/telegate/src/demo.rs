//! `telegate demo`: the whole system in one process — an embedded broker,
//! the simulated fleet and the gateway — so a newcomer sees readings flow,
//! bad ones rejected with reasons, and points stored, with nothing to install.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use telegate_influx::{ApiVersion, CURRENT_FILE};
use telegate_model::now_ns;
use telegate_schema::Registry;
use telegate_sim::{Fleet, Limit, PublishTarget};
use tokio_util::sync::CancellationToken;

use crate::broker;
use crate::cli::DemoArgs;
use crate::config::{Config, EMBEDDED_DEFAULT};
use crate::simulate::{ProgressLine, fleet_config, report_text};
use crate::stats::{Stats, Summary};

/// The demo's rules, in its data dir.
pub const RULES_FILE: &str = "alerts.toml";
/// The demo's alert state, in its data dir (removed at start: every demo
/// begins with no alert firing).
pub const STATE_FILE: &str = "alerts-state.json";

/// The gateway's config for the demo: the built-in defaults, pointed at the
/// embedded broker, with its data under `data_dir`.
///
/// Alerting runs the rules in `data_dir/alerts.toml` (written by
/// [`crate::episode::write_rules`]) with its state in
/// `data_dir/alerts-state.json`; transitions go to the console and the
/// broker (`telegate/alerts/#`), not into the line-protocol files.
pub fn demo_config(port: u16, data_dir: &Path, influx_url: Option<&str>) -> anyhow::Result<Config> {
    let mut c = Config::parse(EMBEDDED_DEFAULT, "<demo>")?;
    c.alerts.rules_file = data_dir.join(RULES_FILE).display().to_string();
    c.alerts.state_file = data_dir.join(STATE_FILE).display().to_string();
    c.alerts.influx.enabled = false;
    c.mqtt.host = "127.0.0.1".into();
    c.mqtt.port = port;
    c.mqtt.client_id = "telegate-demo".into();
    c.wal.dir = data_dir.join("wal").display().to_string();
    c.quarantine.dir = data_dir.join("quarantine").display().to_string();
    c.pipeline.stats_interval = Duration::ZERO;
    c.pipeline.shutdown_timeout = Duration::from_secs(10);
    // Any free port: the demo must not collide with a gateway already running.
    c.admin.listen = "127.0.0.1:0".into();
    // The console's station map: the fleet's sites, approximately where
    // they are (its devices are drawn around them).
    for (site, name, lat, lon) in [
        ("muong-te", "Mường Tè", 22.377, 102.832),
        ("sin-ho", "Sìn Hồ", 22.366, 103.243),
        ("ma-lu-thang", "Ma Lù Thàng", 22.617, 103.183),
    ] {
        c.map.sites.insert(
            site.into(),
            crate::console::stations::Place {
                lat,
                lon,
                name: name.into(),
            },
        );
    }
    match influx_url {
        Some(url) => {
            c.influx.url = url.trim_end_matches('/').to_owned();
            c.influx.api = ApiVersion::V1;
            c.influx.database = "telegate_demo".into();
            c.influx.create_database = true;
        }
        None => {
            c.file_sink.enabled = true;
            c.file_sink.dir = data_dir.join("points").display().to_string();
        }
    }
    c.validate("<demo>")?;
    Ok(c)
}

fn summary_text(elapsed: Duration, s: &Summary, rate: f64) -> String {
    let mut line = format!(
        "demo {:>5.0}s  {:>6.1} readings/s  received {:>7}  stored {:>7} points  rejected {:>5}",
        elapsed.as_secs_f64(),
        rate,
        s.received,
        s.points_written,
        s.rejected_total()
    );
    if !s.rejected.is_empty() {
        line.push_str(" (");
        let parts: Vec<String> = s.rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
        line.push_str(&parts.join(", "));
        line.push(')');
    }
    line
}

/// Print a summary line every second until `stop`.
async fn show_progress(stats: Stats, stop: CancellationToken) {
    let started = Instant::now();
    let mut line = ProgressLine::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut last_received, mut last_at) = (0u64, Instant::now());
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let s = stats.summary();
        let dt = last_at.elapsed().as_secs_f64().max(0.001);
        let rate = s.received.saturating_sub(last_received) as f64 / dt;
        (last_received, last_at) = (s.received, Instant::now());
        line.show(&summary_text(started.elapsed(), &s, rate));
    }
    line.finish();
}

async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `telegate demo`.
pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let broker = broker::start(args.port).context("starting the embedded MQTT broker")?;
    let episode = (!args.episode.is_zero()).then_some(args.episode);
    let interval = episode.map(|d| d / 60);
    crate::episode::write_rules(&args.data_dir.join(RULES_FILE), interval)?;
    match std::fs::remove_file(args.data_dir.join(STATE_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).context("removing the previous demo's alert state");
        }
        _ => {}
    }
    let config = demo_config(broker.addr.port(), &args.data_dir, args.influx_url.as_deref())?;
    let registry = Arc::new(Registry::builtin(&config.schema.types).context("built-in schemas")?);
    let fleet_cfg = fleet_config(&args.fleet, &config, now_ns(), 0.02)?;
    let pattern = fleet_cfg.topic_pattern.clone();
    let start_ns = fleet_cfg.start_ns;
    let mut fleet = Fleet::new(&registry, fleet_cfg).context("simulated fleet")?;
    if let Some(duration) = episode {
        // A few seconds in, so the console is open before the river rises.
        let begin = start_ns.saturating_add(3_000_000_000);
        fleet.play(crate::episode::messages(&registry, pattern, begin, duration)?);
    }
    let mut err = std::io::stderr().lock();
    writeln!(err, "telegate demo")?;
    writeln!(
        err,
        "  broker:  embedded MQTT 5 on {} (topics telemetry/<site>/<device>/<type>)",
        broker.addr
    )?;
    writeln!(
        err,
        "  fleet:   {} simulated devices, {} sensor types, {} messages/s",
        args.fleet.devices,
        registry.schemas().count(),
        args.fleet.rate
    )?;
    if config.file_sink.enabled {
        writeln!(
            err,
            "  output:  line protocol in {}/{CURRENT_FILE}",
            config.file_sink.dir
        )?;
    } else {
        writeln!(err, "  output:  InfluxDB {} database telegate_demo", config.influx.url)?;
    }
    writeln!(err, "  WAL:     {}", config.wal.dir)?;
    writeln!(
        err,
        "  alerts:  the example rules (config/alerts.example.toml) in {}",
        config.alerts.rules_file
    )?;
    match (episode, interval) {
        (Some(d), Some(i)) => writeln!(
            err,
            "  episode: over {}: river rl-101 at muong-te rises through BĐ I → II → III and back,\n           gauge rl-102 goes silent and returns, truck on wb-101 at 118 % of its legal load\n           (deadman cadences set to the episode's {} ms reporting interval)",
            humantime::format_duration(d),
            i.as_millis()
        )?,
        _ => writeln!(err, "  episode: none (--episode 0s)")?,
    }
    writeln!(err, "  stop:    Ctrl-C\n")?;
    drop(err);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let running = crate::start(&config, registry, shutdown.clone()).await?;
        let stats = running.stats.clone();
        if let Some(addr) = running.admin_addr {
            let _ = writeln!(
                std::io::stderr(),
                "  console: http://{addr}/   (alerts firing, recent transitions, devices; API /api/alerts, /api/devices)\n  admin:   http://{addr}/metrics  http://{addr}/readyz\n"
            );
        }
        // Start the fleet once the gateway's subscription is in place: a
        // reading published before it matches no subscriber and is gone
        // (rumqttd acknowledges it with "no matching subscribers").
        let subscribed_by = Instant::now() + Duration::from_secs(10);
        while !stats.source.subscribed.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < subscribed_by {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sim_cancel = CancellationToken::new();
        let target = PublishTarget {
            host: "127.0.0.1".into(),
            port: broker.addr.port(),
            username: None,
            password: None,
        };
        let limit = Limit {
            duration: args.duration,
            messages: None,
        };
        let mut sim = tokio::spawn(telegate_sim::publish(fleet, target, limit, sim_cancel.clone(), |_| {}));
        let progress_stop = CancellationToken::new();
        let progress = tokio::spawn(show_progress(stats.clone(), progress_stop.clone()));

        let sim_done = tokio::select! {
            () = wait_for_stop_signal() => None,
            r = &mut sim => Some(r),
        };
        sim_cancel.cancel();
        // The publisher waits (bounded) for the broker's last acknowledgements.
        let sim_done = match sim_done {
            Some(r) => Some(r),
            None => tokio::time::timeout(Duration::from_secs(10), sim).await.ok(),
        };
        // Let the gateway take in (and acknowledge) what the fleet sent
        // before stopping it, so the counts printed below add up.
        let sent = match &sim_done {
            Some(Ok(Ok(report))) => report.sent,
            _ => 0,
        };
        let drain_until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < drain_until {
            let s = stats.summary();
            if s.received >= sent && s.unacked == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        progress_stop.cancel();
        let _ = progress.await;
        shutdown.cancel();
        let summary = running.wait().await;
        let mut err = std::io::stderr().lock();
        if let Some(Ok(Ok(report))) = sim_done {
            writeln!(err, "fleet: {}", report_text(&report))?;
        }
        writeln!(err, "gateway: {summary}")?;
        if config.file_sink.enabled {
            writeln!(
                err,
                "points are in {}/{CURRENT_FILE} (InfluxDB line protocol; import with `influx write` or `curl --data-binary @file`)",
                config.file_sink.dir
            )?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
