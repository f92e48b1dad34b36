//! Alerting on the stream: the evaluator task, its outputs, and the hub the
//! operator API reads. See `docs/alerts.md`.
//!
//! ```text
//! decoder ──try_send(lines)──▶ [evaluator] ──▶ hub (console API)
//!   (tap, never waits)           │ engine: rules, state, timers
//!                                ├─try_send──▶ [mqtt output]    ──▶ {prefix}/{site}/{device}/{rule}
//!                                ├─try_send──▶ [influx output]  ──▶ measurement `alerts`
//!                                ├─try_send──▶ [webhook output] ──▶ POST JSON (or a chat bot's body)
//!                                └─try_send──▶ [email output]   ──▶ SMTP, Vietnamese or English
//! ```

pub mod config;
pub mod hub;
pub mod operator;
pub mod outputs;
pub mod payload;
pub mod service;
pub mod stats;
pub mod text;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use telegate_alert::{AlertConfig, Engine, Snapshot, SnapshotError};
use telegate_influx::Output;
use telegate_model::ErrorChain;
use thiserror::Error;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

pub use hub::{AlertHub, AlertsView, DeviceStatus};
pub use service::AlertTap;
pub use stats::AlertStats;

use crate::config::Config;
use outputs::{OutputEnv, OutputError, Outputs};
use service::Evaluator;
use watch::Watched;

/// Longest an output may keep delivering once it is closed (shutdown, or
/// replaced by a reload).
const OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// Alerting cannot start. Each variant names the key; the error below it
/// (its source, printed with the chain) names the file, line and fix.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("alerts.rules_file")]
    Rules(#[source] telegate_alert::ConfigError),
    #[error("alerts.state_file")]
    State(#[source] SnapshotError),
    #[error("alerts.state_file = {path:?}: cannot create its directory")]
    StateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("alerts.state_file")]
    Operator(#[from] operator::StateFileError),
    #[error(transparent)]
    Audit(#[from] crate::operators::audit::AuditError),
}

/// Ask the evaluator to re-read its rules and outputs now (SIGHUP).
#[derive(Debug, Clone, Default)]
pub struct AlertReloader(Arc<Notify>);

impl AlertReloader {
    pub fn reload_now(&self) {
        self.0.notify_one();
    }
}

/// A started alert evaluator.
#[derive(Debug)]
pub struct AlertService {
    pub hub: Arc<AlertHub>,
    pub stats: Arc<AlertStats>,
    pub reloader: AlertReloader,
    /// For the decoder.
    pub tap: AlertTap,
    /// Ends after the tap (every clone) is dropped, the state is saved and
    /// the outputs have flushed.
    pub task: JoinHandle<()>,
}

/// Restore the engine from `path`. An unreadable snapshot (corrupt, or of
/// another version) is moved aside and alerting starts afresh: losing
/// alert state must not stop ingestion. A file that cannot be read at all
/// (permissions) is an error the operator has to fix.
fn restore(config: AlertConfig, path: &Path) -> Result<Engine, StartError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StartError::StateDir {
            path: path.display().to_string(),
            source,
        })?;
    }
    match Snapshot::load(path) {
        Ok(Some(snapshot)) => {
            tracing::info!(file = %path.display(), "alert state restored");
            Ok(Engine::restore(config, snapshot))
        }
        Ok(None) => {
            tracing::info!(file = %path.display(), "no alert state yet; starting afresh");
            Ok(Engine::new(config))
        }
        Err(e @ (SnapshotError::Decode { .. } | SnapshotError::Version { .. })) => {
            let aside = PathBuf::from(format!("{}.unreadable", path.display()));
            match std::fs::rename(path, &aside) {
                Ok(()) => {
                    tracing::error!(error = %ErrorChain(&e), moved_to = %aside.display(), "alert state unreadable; moved aside, starting with no alert state");
                    Ok(Engine::new(config))
                }
                Err(_) => Err(StartError::State(e)),
            }
        }
        Err(e) => Err(StartError::State(e)),
    }
}

/// Load the rules and the saved state, start the outputs and the
/// evaluator. `config_path` is the gateway's config file, watched for
/// `[alerts]` output changes (`None`: not watched). `influx` is the
/// gateway's [`Output`] (InfluxDB, or the `[file_sink]` files), shared by the
/// `alerts` output.
pub fn start(config: &Config, config_path: Option<PathBuf>, influx: Output) -> Result<AlertService, StartError> {
    let a = &config.alerts;
    if !config.mqtt.share_group.is_empty() {
        tracing::warn!(
            share_group = %config.mqtt.share_group,
            "alerting with a shared subscription: alert state is per replica, so all of a device's readings must \
             reach the same replica (broker strategy hash_topic, hash_clientid or sticky; see docs/scaling.md), \
             or thresholds miss values and deadman rules fire falsely"
        );
    }
    let rules_path = PathBuf::from(&a.rules_file);
    let rules = AlertConfig::from_file(&rules_path).map_err(StartError::Rules)?;
    let rule_count = rules.rules().len();
    let state_file = PathBuf::from(&a.state_file);
    let engine = restore(rules, &state_file)?;
    let stats = Arc::new(AlertStats::default());
    let grace = OUTPUT_GRACE.min(config.pipeline.shutdown_timeout / 2);
    let env = OutputEnv {
        mqtt: config.mqtt.clone(),
        influx,
    };
    let outputs = Outputs::start(a, env, stats.clone(), grace)?;
    let audit = crate::operators::AuditLog::open(&config.admin.console.audit_path(&a.state_file))?;
    let hub = AlertHub::with_audit(a.silent_after, Some(Arc::new(audit)));
    let operator_file = operator::path_beside(&state_file);
    let operator_state = operator::OperatorState::load(&operator_file)?;
    let (tx, rx) = mpsc::channel(a.queue);
    let reloader = AlertReloader::default();
    let evaluator = Evaluator::new(
        engine,
        hub.clone(),
        outputs,
        stats.clone(),
        state_file,
        Watched::new(rules_path, config_path),
        a.snapshot_interval,
        a.reload_interval,
    )
    .with_operator(operator_state, operator_file);
    let task = tokio::spawn(evaluator.run(rx, reloader.0.clone()));
    tracing::info!(rules = rule_count, file = %a.rules_file, state = %a.state_file, "alerting started");
    Ok(AlertService {
        hub,
        stats: stats.clone(),
        reloader,
        tap: AlertTap::new(tx, stats),
        task,
    })
}
