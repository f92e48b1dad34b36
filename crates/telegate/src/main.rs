use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser as _;
use telegate::check::{load_registry, report};
use telegate::cli::{Cli, Command};
use telegate::config::Config;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Check { config } => check(config.as_deref()),
        Command::Run { config } => run(config.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let loaded = Config::load(path)?;
    let registry = load_registry(&loaded).with_context(|| format!("{}: key `schema.dir`", loaded.file))?;
    let mut out = std::io::stdout().lock();
    out.write_all(report(&loaded, &registry).as_bytes())?;
    Ok(())
}

fn run(path: Option<&std::path::Path>) -> anyhow::Result<()> {
    let loaded = Config::load(path)?;
    let registry = Arc::new(load_registry(&loaded).with_context(|| format!("{}: key `schema.dir`", loaded.file))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let running = telegate::start_watched(&loaded, registry, shutdown.clone()).await?;
        wait_for_signal(&running.reloader).await?;
        shutdown.cancel();
        let summary = running.wait().await;
        if summary.unacked > 0 {
            tracing::warn!(
                unacked = summary.unacked,
                "exited with unacknowledged readings; the broker will redeliver them"
            );
        }
        Ok(())
    })
}

/// Wait for SIGTERM or Ctrl-C; SIGHUP on the way reloads the schemas.
async fn wait_for_signal(reloader: &telegate::reload::Reloader) -> anyhow::Result<()> {
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
                tracing::info!("SIGHUP: reloading config and schemas");
                reloader.reload_now();
            }
        }
    }
    tracing::info!("signal received");
    Ok(())
}
