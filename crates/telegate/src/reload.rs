//! Hot reload of sensor types: the schema directory and the config file are
//! watched (polled by modification time and size — no inotify dependency,
//! works on every filesystem including network mounts and bind mounts),
//! and SIGHUP forces a reload. A change is compiled off the hot path (on
//! the blocking pool) and swapped in atomically; a broken schema or config
//! is reported with its file, line and problem, and the registry in service
//! stays in service.
//!
//! The decoder takes a snapshot ([`Active`]) per message, so a message in
//! flight is decoded entirely with the registry it started with.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use telegate_schema::{Limits, Registry};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, LoadedConfig};
use crate::registry::load_registry_or_explain;

/// What the decoder decodes with: one consistent registry and limits.
#[derive(Debug)]
pub struct Active {
    pub registry: Arc<Registry>,
    pub limits: Limits,
    /// 1 for the registry the gateway started with, +1 per successful reload.
    pub generation: u64,
}

/// Outcome counters of reloads, for the summary and for tests.
#[derive(Debug)]
pub struct ReloadStats {
    generation: AtomicU64,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Default for ReloadStats {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(1),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }
}

impl ReloadStats {
    /// Generation of the registry in service.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Reloads refused because the new schemas or config were broken.
    pub fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }

    /// The most recent refusal's message (file, line, problem); cleared by
    /// the next successful reload.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    fn failed(&self, message: String) {
        self.failures.fetch_add(1, Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(message);
        }
    }

    fn succeeded(&self, generation: u64) {
        self.generation.store(generation, Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = None;
        }
    }
}

/// Lets the caller (SIGHUP, tests) ask for a reload now.
#[derive(Debug, Clone, Default)]
pub struct Reloader {
    trigger: Arc<Notify>,
    pub stats: Arc<ReloadStats>,
}

impl Reloader {
    pub(crate) fn new(stats: Arc<ReloadStats>) -> Self {
        Self {
            trigger: Arc::default(),
            stats,
        }
    }

    /// Re-read the config and the schema directory now, even if their
    /// modification times did not change. No-op for a gateway started
    /// without a config to watch.
    pub fn reload_now(&self) {
        self.trigger.notify_one();
    }
}

/// Modification time and size of the config file and of every `.proto`
/// under the schema directory: a change in any means "reload".
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

fn fingerprint(loaded: &LoadedConfig) -> Fingerprint {
    let mut out = Vec::new();
    let stat = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| (m.modified().ok(), m.len()))
            .unwrap_or((None, u64::MAX))
    };
    if let Some(path) = &loaded.path {
        let (t, n) = stat(path);
        out.push((path.clone(), t, n));
    }
    if let Some(dir) = loaded.schema_dir() {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                out.push((d, None, u64::MAX));
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "proto") {
                    let (t, n) = stat(&p);
                    out.push((p, t, n));
                }
            }
        }
    }
    out.sort();
    out
}

/// Sections and keys that only take effect at start: a change is logged,
/// not applied. Only `[schema]` types/dir and `[limits]` apply live
/// (`[alerts]` rules and outputs are reloaded by the alert service itself).
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let debug_differs = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
    if debug_differs(&old.mqtt, &new.mqtt) {
        keys.push("mqtt");
    }
    if debug_differs(&old.influx, &new.influx) {
        keys.push("influx");
    }
    if old.file_sink != new.file_sink {
        keys.push("file_sink");
    }
    if debug_differs(&old.wal, &new.wal) {
        keys.push("wal");
    }
    if debug_differs(&old.pipeline, &new.pipeline) {
        keys.push("pipeline");
    }
    // The poll timer is armed once, at start.
    if old.schema.reload_interval != new.schema.reload_interval {
        keys.push("schema.reload_interval");
    }
    // Secrets print as `<redacted>` in Debug: compare the token itself.
    if debug_differs(&old.admin, &new.admin) || old.admin.token.expose() != new.admin.token.expose() {
        keys.push("admin");
    }
    if old.log != new.log {
        keys.push("log");
    }
    if old.feedback != new.feedback {
        keys.push("feedback");
    }
    if old.trend != new.trend {
        keys.push("trend");
    }
    if old.map != new.map {
        keys.push("map");
    }
    // With alerting off there is no alert service to notice it being turned on.
    if old.alerts.rules_file.is_empty() && !new.alerts.rules_file.is_empty() {
        keys.push("alerts.rules_file");
    }
    keys
}

/// Load config and registry afresh; the error text names file, key or line.
fn load(path: Option<&Path>) -> Result<(LoadedConfig, Registry), String> {
    let loaded = Config::load(path).map_err(|e| telegate_model::error_chain(&e))?;
    let registry = load_registry_or_explain(&loaded)?;
    Ok((loaded, registry))
}

/// Editors write a file in several steps; wait for it to settle.
const SETTLE: Duration = Duration::from_millis(150);

/// Poll for changes (and wait for SIGHUP / [`Reloader::reload_now`]) until
/// shutdown; swap in each registry that compiles.
pub(crate) async fn watch_loop(
    mut loaded: LoadedConfig,
    tx: watch::Sender<Arc<Active>>,
    reloader: Reloader,
    shutdown: CancellationToken,
) {
    let interval = loaded.config.schema.reload_interval;
    let mut last = fingerprint(&loaded);
    let mut tick = tokio::time::interval(if interval.is_zero() {
        Duration::from_secs(3600)
    } else {
        interval
    });
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let forced = tokio::select! {
            () = shutdown.cancelled() => return,
            () = reloader.trigger.notified() => true,
            _ = tick.tick() => false,
        };
        if !forced {
            if interval.is_zero() {
                continue;
            }
            let now = fingerprint(&loaded);
            if now == last {
                continue;
            }
            tokio::time::sleep(SETTLE).await;
        }
        let path = loaded.path.clone();
        let result = tokio::task::spawn_blocking(move || load(path.as_deref()))
            .await
            .unwrap_or_else(|e| Err(format!("reload task failed: {e}")));
        last = fingerprint(&loaded);
        match result {
            Err(message) => {
                tracing::error!(error = %message, "schema reload refused; the schemas in service stay in service");
                reloader.stats.failed(message);
            }
            Ok((new_loaded, registry)) => {
                let old = tx.borrow().clone();
                let restart = restart_only_changes(&loaded.config, &new_loaded.config);
                if !restart.is_empty() {
                    tracing::warn!(sections = ?restart, "config sections changed that take effect only after a restart");
                }
                let changes = registry.changes_since(&old.registry);
                let generation = old.generation + 1;
                tracing::info!(
                    generation,
                    sensor_types = registry.schemas().count(),
                    added = ?changes.added,
                    removed = ?changes.removed,
                    changed = ?changes.changed,
                    "schemas reloaded"
                );
                for w in registry.warnings() {
                    tracing::warn!(warning = %w, "schema warning");
                }
                let active = Arc::new(Active {
                    registry: Arc::new(registry),
                    limits: new_loaded.config.limits.clone(),
                    generation,
                });
                tx.send_replace(active);
                reloader.stats.succeeded(generation);
                loaded = new_loaded;
                last = fingerprint(&loaded);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::restart_only_changes;
    use crate::Config;

    #[test]
    fn changes_that_need_a_restart_are_named_not_ignored() {
        let old = Config::default();
        assert!(restart_only_changes(&old, &old.clone()).is_empty());
        // Applied live: no warning.
        let mut live = old.clone();
        live.limits.max_payload_bytes += 1;
        assert!(restart_only_changes(&old, &live).is_empty());

        let mut new = old.clone();
        new.schema.reload_interval *= 2;
        new.admin.token = telegate_model::Secret::new("rotated");
        new.log.format = crate::config::LogFormat::Json;
        new.alerts.rules_file = "alerts.toml".into();
        new.feedback.status = true;
        assert_eq!(
            restart_only_changes(&old, &new),
            [
                "schema.reload_interval",
                "admin",
                "log",
                "feedback",
                "alerts.rules_file"
            ]
        );
    }
}
