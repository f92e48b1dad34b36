use std::io::{IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser as _;
use telegate::check::report;
use telegate::cli::{AlertsCommand, Cli, Command, DecodeArgs, SchemaCommand};
use telegate::config::{Config, LogFormat};
use telegate::inspect;
use telegate::registry::load_registry_or_explain;
use telegate_model::TopicPattern;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // rumqttd (the demo's broker) logs every connection, and errors when a
    // client leaves; the demo's summary says what matters.
    let default_filter = match cli.command {
        Command::Demo(_) => "info,rumqttd=off",
        _ => "info",
    };
    // `run` reads `[log] format` first; a config error is printed plainly.
    let (format, run_config) = match &cli.command {
        Command::Run(c) => match Config::load(c.config.as_deref()) {
            Ok(loaded) => (loaded.config.log.format, Some(loaded)),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: {}", telegate_model::ErrorChain(&e));
                return ExitCode::FAILURE;
            }
        },
        _ => (LogFormat::Text, None),
    };
    init_logging(default_filter, format);
    let result = match cli.command {
        Command::Check(c) => check(c.config.config.as_deref(), c.print_config, c.devices.as_deref()),
        Command::Run(_) => match run_config {
            Some(loaded) => run(loaded),
            None => Ok(ExitCode::FAILURE),
        },
        Command::Schema(SchemaCommand::List(c)) => schema_list(c.config.as_deref()),
        Command::Schema(SchemaCommand::Describe { sensor_type, config }) => {
            schema_describe(&sensor_type, config.config.as_deref())
        }
        Command::Schema(SchemaCommand::Export { dir, config }) => schema_export(&dir, config.config.as_deref()),
        Command::Decode(args) => decode(&args),
        Command::Sim(args) => telegate::simulate::run(&args),
        Command::Demo(args) => telegate::demo::run(&args),
        Command::Device(cmd) => {
            telegate::devices::run(cmd, |path| Ok(loaded_registry(path)?.1)).map(|()| ExitCode::SUCCESS)
        }
        Command::User(cmd) => telegate::operators::cli::run(cmd).map(|()| ExitCode::SUCCESS),
        Command::Alerts(AlertsCommand::Replay(args)) => loaded_registry(args.config.config.as_deref())
            .and_then(|(_, registry)| telegate::replay::run(&args, &registry)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn loaded_registry(
    path: Option<&std::path::Path>,
) -> anyhow::Result<(telegate::LoadedConfig, telegate_schema::Registry)> {
    let loaded = Config::load(path)?;
    let registry = load_registry_or_explain(&loaded).map_err(anyhow::Error::msg)?;
    Ok((loaded, registry))
}

fn init_logging(default_filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        // Colour only on a terminal: journald, files and pipes get plain text.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn check(
    path: Option<&std::path::Path>,
    print_config: bool,
    devices: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let (loaded, registry) = loaded_registry(path)?;
    if let Some(devices) = devices {
        anyhow::ensure!(devices.exists(), "--devices {}: no such file", devices.display());
        let inventory = telegate_devices::Inventory::load(devices)?;
        telegate::devices::check_sensor_types(&inventory, devices, &registry)?;
    }
    let mut out = std::io::stdout().lock();
    if print_config {
        writeln!(out, "# effective config of {} (secrets redacted)", loaded.file)?;
        out.write_all(loaded.config.to_redacted_toml().as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let alerts = telegate::check::alerts_report(&loaded, &registry)?;
    let console = telegate::check::console_report(&loaded)?;
    out.write_all(report(&loaded, &registry).as_bytes())?;
    out.write_all(alerts.as_bytes())?;
    out.write_all(console.as_bytes())?;
    if let Some(devices) = devices {
        writeln!(out, "device inventory {}: valid", devices.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn schema_list(path: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let (_, registry) = loaded_registry(path)?;
    std::io::stdout()
        .lock()
        .write_all(inspect::list(&registry).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn schema_describe(sensor_type: &str, path: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let (loaded, registry) = loaded_registry(path)?;
    let pattern = TopicPattern::parse(&loaded.config.mqtt.topic_pattern)?;
    let Some(schema) = registry.get(sensor_type) else {
        let known: Vec<&str> = registry.schemas().map(|s| &*s.sensor_type).collect();
        anyhow::bail!("no sensor type `{sensor_type}` (known: {})", known.join(", "));
    };
    std::io::stdout()
        .lock()
        .write_all(inspect::describe(&registry, &pattern, schema).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn schema_export(dir: &std::path::Path, path: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let (_, registry) = loaded_registry(path)?;
    let written = registry.export(dir)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} files under {} (the schemas in service, with the files they import):",
        written.len(),
        dir.display()
    )?;
    for file in &written {
        let shown = file.strip_prefix(dir).unwrap_or(file);
        writeln!(out, "  {}", shown.display())?;
    }
    writeln!(
        out,
        "compile them with e.g. `protoc -I {0} --include_imports -o schemas.pb $(cd {0} && find . -name '*.proto')` (google/protobuf/*.proto come with protoc)",
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn decode(args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    let (loaded, registry) = loaded_registry(args.config.config.as_deref())?;
    let pattern = TopicPattern::parse(&loaded.config.mqtt.topic_pattern)?;
    let raw = if args.input.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the payload from standard input")?;
        buf
    } else {
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?
    };
    let (payload, format) = inspect::read_payload(&raw, args.format).map_err(anyhow::Error::msg)?;
    let now_ns = match &args.at {
        Some(t) => telegate::simulate::parse_time(t).with_context(|| format!("--at `{t}`"))?,
        None => telegate_model::now_ns(),
    };
    let input = inspect::DecodeInput {
        sensor_type: &args.sensor_type,
        payload: &payload,
        device: args.device.as_deref(),
        site: &args.site,
        now_ns,
    };
    let report = inspect::decode_report(&registry, &pattern, input, &loaded.config.limits);
    let mut out = std::io::stdout().lock();
    writeln!(out, "input:   {format}")?;
    out.write_all(report.text.as_bytes())?;
    Ok(if report.accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run(loaded: telegate::LoadedConfig) -> anyhow::Result<ExitCode> {
    let registry = Arc::new(load_registry_or_explain(&loaded).map_err(anyhow::Error::msg)?);
    for w in registry.warnings() {
        tracing::warn!(warning = %w, "schema warning");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let running = telegate::start_watched(&loaded, registry, shutdown.clone()).await?;
        tokio::select! {
            r = wait_for_signal(&running) => r?,
            // A dead stage: acknowledgements have stopped; exit non-zero so
            // systemd or Kubernetes restarts the gateway.
            () = running.died() => {}
        }
        shutdown.cancel();
        let summary = running.wait().await;
        if let Some(dead) = &summary.dead_stage {
            tracing::error!(stage = %dead, "exiting non-zero: a pipeline stage died (the next start replays the log; the broker redelivers what was not acknowledged)");
            return Ok(ExitCode::FAILURE);
        }
        if summary.unacked > 0 {
            tracing::warn!(
                unacked = summary.unacked,
                "exited with unacknowledged readings; the broker will redeliver them"
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Wait for SIGTERM or Ctrl-C; SIGHUP on the way reloads the schemas and
/// the alert rules and outputs.
async fn wait_for_signal(running: &telegate::Running) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => {
                r.context("waiting for Ctrl-C")?;
                break;
            }
            _ = term.recv() => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading config, schemas and alert rules");
                running.reload_now();
            }
        }
    }
    tracing::info!("signal received");
    Ok(())
}
