//! `telegate sim`: the fleet simulator's command line — publish, or print
//! (`--dry-run`) what would be published.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context as _;
use telegate_model::{TopicPattern, now_ns};
use telegate_schema::Registry;
use telegate_sim::{Fleet, FleetConfig, Limit, MessageKind, PublishProgress, PublishReport, PublishTarget};
use tokio_util::sync::CancellationToken;

use crate::cli::{FleetArgs, SimArgs};
use crate::config::{Config, LoadedConfig};
use crate::registry::load_registry_or_explain;

/// An RFC 3339 time (`2026-01-01T00:00:00Z`) in Unix nanoseconds.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    let t = humantime::parse_rfc3339_weak(text)
        .map_err(|e| anyhow::anyhow!("{e}; expected RFC 3339 such as 2026-01-01T00:00:00Z"))?;
    let d = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| anyhow::anyhow!("before 1970"))?;
    i64::try_from(d.as_nanos()).context("too far in the future")
}

/// The fleet's settings from the command line and the config.
pub fn fleet_config(args: &FleetArgs, config: &Config, start_ns: i64, default_bad: f64) -> anyhow::Result<FleetConfig> {
    Ok(FleetConfig {
        devices: args.devices,
        rate: args.rate,
        seed: args.seed,
        start_ns,
        speed: args.speed,
        bad_ratio: args.bad_ratio.unwrap_or(default_bad),
        topic_pattern: TopicPattern::parse(&config.mqtt.topic_pattern).context("mqtt.topic_pattern")?,
        max_payload_bytes: config.limits.max_payload_bytes,
        types: args.types.clone(),
        ..FleetConfig::default()
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Progress on one line: rewritten in place on a terminal, a line every
/// few seconds otherwise (logs, CI).
#[derive(Debug)]
pub struct ProgressLine {
    tty: bool,
    last_printed: std::time::Instant,
}

impl ProgressLine {
    pub fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last_printed: std::time::Instant::now(),
        }
    }

    pub fn show(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        } else if self.last_printed.elapsed() >= Duration::from_secs(5) {
            let _ = writeln!(err, "{line}");
            self.last_printed = std::time::Instant::now();
        }
    }

    pub fn finish(&mut self) {
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}

pub fn progress_text(p: &PublishProgress) -> String {
    let secs = p.elapsed.as_secs_f64().max(0.001);
    format!(
        "sim {:>6.1}s  sent {:>8}  acked {:>8}  bad {:>6}  {:>7.1} msg/s",
        secs,
        p.sent,
        p.acked,
        p.bad,
        p.sent as f64 / secs
    )
}

pub fn report_text(r: &PublishReport) -> String {
    let mut s = format!(
        "sent {} messages ({} good with {} samples, {} bad), {} acknowledged by the broker, in {:.1} s",
        r.sent,
        r.good,
        r.samples,
        r.sent.saturating_sub(r.good),
        r.acked,
        r.elapsed.as_secs_f64()
    );
    if r.unrouted > 0 {
        s.push_str(&format!(
            "; {} of them matched no subscriber and were dropped by the broker",
            r.unrouted
        ));
    }
    if !r.bad_by_class.is_empty() {
        s.push_str("\nbad messages by kind:");
        for (class, n) in &r.bad_by_class {
            s.push_str(&format!(" {class}={n}"));
        }
    }
    s
}

fn registry_of(loaded: &LoadedConfig) -> anyhow::Result<Registry> {
    load_registry_or_explain(loaded).map_err(anyhow::Error::msg)
}

/// `telegate sim`.
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let loaded = Config::load(args.config.config.as_deref())?;
    let registry = registry_of(&loaded)?;
    let start_ns = match &args.start {
        Some(t) => parse_time(t).with_context(|| format!("--start `{t}`"))?,
        None => now_ns(),
    };
    let fleet_cfg = fleet_config(&args.fleet, &loaded.config, start_ns, 0.0)?;
    let mut fleet = Fleet::new(&registry, fleet_cfg).context("simulated fleet")?;
    if let Some(n) = args.dry_run {
        let mut out = std::io::stdout().lock();
        for _ in 0..n {
            let m = fleet.next_message();
            let kind = match &m.kind {
                MessageKind::Good { samples } => format!("good({samples})"),
                MessageKind::Bad(class) => format!("bad({})", class.label()),
            };
            writeln!(out, "{} {} {} {}", m.at_ns, m.topic, kind, hex(&m.payload))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let target = PublishTarget {
        host: args.host.clone().unwrap_or_else(|| loaded.config.mqtt.host.clone()),
        port: args.port.unwrap_or(loaded.config.mqtt.port),
        username: (!loaded.config.mqtt.username.is_empty()).then(|| loaded.config.mqtt.username.clone()),
        password: (!loaded.config.mqtt.password.is_empty()).then(|| loaded.config.mqtt.password.expose().to_owned()),
    };
    let limit = Limit {
        duration: args.duration,
        messages: args.messages,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        });
        tracing::info!(broker = %format!("{}:{}", target.host, target.port), devices = args.fleet.devices, rate = args.fleet.rate, "simulated fleet publishing");
        let mut line = ProgressLine::new();
        let report = telegate_sim::publish(fleet, target, limit, cancel, |p| line.show(&progress_text(p))).await;
        line.finish();
        let report = report.context("publishing")?;
        writeln!(std::io::stderr(), "{}", report_text(&report))?;
        Ok(if report.acked == report.sent {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
