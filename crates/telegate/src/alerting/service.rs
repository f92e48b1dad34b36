//! The alert evaluator: one task that turns accepted readings into alert
//! transitions and hands them to the hub and the outputs.
//!
//! It is fed by a tap on the decoder ([`AlertTap`]): the encoded lines of
//! each accepted message (a reference-counted `Bytes`, no copy) offered
//! with `try_send` to a bounded queue. A full queue skips the message for
//! alerting and counts it (`telegate_alert_queue_dropped_total{queue="evaluator"}`);
//! ingestion never waits for alerting. The task parses back every line
//! (the engine's device registry lists every device, whatever its sensor
//! type), runs the engine, ticks its wall-clock timers every second,
//! saves the state after transitions, every `snapshot_interval` and at
//! shutdown, and reloads the rules (and `[alerts]` outputs) when their files
//! change or on SIGHUP.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use telegate_alert::{AlertState, Engine, Transition};
use telegate_lp::parse_line;
use telegate_model::{ErrorChain, now_ns};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::config::AlertsConfig;
use super::hub::{AlertHub, Command};
use super::operator::OperatorState;
use super::outputs::Outputs;
use super::payload::Delivery;
use super::stats::AlertStats;
use super::watch::{SETTLE, Watched};
use crate::operators::AuditEntry;

/// Messages taken from the queue per round before transitions are handed on.
const ROUND: usize = 256;
/// How often wall-clock timers (deadman, `for` without new data) are checked.
const TICK: Duration = Duration::from_secs(1);

/// The decoder's end of the evaluator's queue.
#[derive(Debug, Clone)]
pub struct AlertTap {
    tx: mpsc::Sender<Bytes>,
    stats: Arc<AlertStats>,
}

impl AlertTap {
    pub(crate) fn new(tx: mpsc::Sender<Bytes>, stats: Arc<AlertStats>) -> Self {
        Self { tx, stats }
    }

    /// Offer an accepted message's lines; never waits.
    pub fn offer(&self, lines: &Bytes) {
        self.stats.queue_depth.fetch_add(1, Relaxed);
        if let Err(e) = self.tx.try_send(lines.clone()) {
            self.stats.queue_depth.fetch_sub(1, Relaxed);
            if matches!(e, mpsc::error::TrySendError::Full(_)) {
                let dropped = self.stats.queue_dropped.fetch_add(1, Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        dropped,
                        "alert evaluator falling behind: queue full, message not evaluated for alerts (it is stored as usual)"
                    );
                }
            }
        }
    }
}

fn state_label(s: AlertState) -> &'static str {
    match s {
        AlertState::Ok => "ok",
        AlertState::Pending => "pending",
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
        AlertState::Flapping => "flapping",
    }
}

/// The evaluator task's state.
#[derive(Debug)]
pub(crate) struct Evaluator {
    pub(crate) engine: Engine,
    pub(crate) hub: Arc<AlertHub>,
    pub(crate) outputs: Outputs,
    pub(crate) stats: Arc<AlertStats>,
    pub(crate) state_file: PathBuf,
    pub(crate) watched: Watched,
    pub(crate) snapshot_interval: Duration,
    pub(crate) reload_interval: Duration,
    out: Vec<Transition>,
    /// Transitions happened since the state was last saved.
    dirty: bool,
    /// Devices the hub's list holds: a new one is pushed at once, not at
    /// the next tick, so a console that loads right after a device's first
    /// reading lists it.
    devices_in_hub: usize,
    saving: Option<JoinHandle<()>>,
    /// Acknowledgements, silences, escalation clocks (`operator.rs`).
    operator: OperatorState,
    operator_file: Option<PathBuf>,
}

impl Evaluator {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        engine: Engine,
        hub: Arc<AlertHub>,
        outputs: Outputs,
        stats: Arc<AlertStats>,
        state_file: PathBuf,
        watched: Watched,
        snapshot_interval: Duration,
        reload_interval: Duration,
    ) -> Self {
        hub.set_devices(engine.devices().cloned());
        hub.set_rules(engine.config().clone());
        Self {
            engine,
            hub,
            outputs,
            stats,
            state_file,
            watched,
            snapshot_interval,
            reload_interval,
            out: Vec::new(),
            dirty: false,
            devices_in_hub: 0,
            saving: None,
            operator: OperatorState::default(),
            operator_file: None,
        }
    }

    /// Start from saved operator state, saved back to `path` on change.
    pub(crate) fn with_operator(mut self, operator: OperatorState, path: PathBuf) -> Self {
        self.operator = operator;
        self.operator_file = Some(path);
        self.hub.set_operator(self.operator.clone());
        self.outputs
            .set_escalation_outputs(&self.engine.config().escalation().outputs);
        self
    }

    /// Save the operator state (small: acks and silences; written at once)
    /// and show it to the console.
    fn operator_changed(&mut self) {
        self.hub.set_operator(self.operator.clone());
        if let Some(path) = &self.operator_file
            && let Err(e) = self.operator.save(path)
        {
            tracing::error!(error = %ErrorChain(&e), "cannot save acknowledgements and silences; they may be lost at a restart");
        }
    }

    /// Once a second: end expired silences, escalate unacknowledged
    /// critical alerts, forget acks of alerts that no longer fire.
    fn operator_tick(&mut self, now: i64) {
        let mut changed = false;
        let ended = self.operator.expire(now);
        if !ended.is_empty() {
            changed = true;
            for s in &ended {
                tracing::info!(silence = %s.id, scope = s.scope.as_str(), value = %s.value, "silence expired");
                if let Some(audit) = self.hub.audit() {
                    audit.record(
                        AuditEntry::now("system", "silence_expired")
                            .target(format!("{} {} ({})", s.scope.as_str(), s.value, s.id))
                            .note(&s.reason),
                    );
                }
            }
        }
        let firing = self.engine.firing();
        changed |= self.operator.prune(&firing);
        let after = self.engine.config().escalation().after_ns;
        let (escalations, clocks) = self.operator.escalations(&firing, after, now);
        changed |= clocks;
        self.out.extend(escalations);
        if changed {
            self.operator_changed();
        }
        if !ended.is_empty() {
            self.hub.announce_silences(now);
        }
    }

    /// Evaluate one accepted message's lines.
    fn take(&mut self, lines: &[u8], now: i64) {
        for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            match parse_line(line, now) {
                Ok(point) => {
                    self.engine.observe_into(&point, now, &mut self.out);
                    self.stats.evaluated.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    if self.stats.parse_errors.fetch_add(1, Relaxed) == 0 {
                        tracing::error!(error = %e, "alert evaluator cannot read back an accepted line (first of its kind)");
                    }
                }
            }
        }
    }

    /// Hand on what the round produced; refresh the firing list and the
    /// device registry the console reads when something changed or the clock
    /// moved.
    fn after_round(&mut self, ticked: bool) {
        let changed = !self.out.is_empty();
        // The hub's lists first: a console that refetches on a transition
        // event must find the device and the alert it names.
        let devices = self.engine.device_count();
        if changed || ticked || devices != self.devices_in_hub {
            let firing = self.engine.firing();
            self.stats.firing.store(firing.len() as u64, Relaxed);
            self.hub.set_firing(firing);
            self.hub.set_devices(self.engine.devices().cloned());
            self.devices_in_hub = devices;
        }
        let now = now_ns();
        for mut t in self.out.drain(..) {
            t.silenced_by = self.operator.silenced_by(&t.rule_id, &t.series, now);
            self.stats.transition(&t.rule_id, state_label(t.to));
            let kind = self.engine.config().rule(&t.rule_id).map_or("", |r| r.kind());
            match Delivery::new(t.clone(), kind) {
                Ok(d) => self.outputs.send(&d),
                Err(e) => tracing::error!(error = %e, alert_id = %t.alert_id, "alert transition cannot be serialized"),
            }
            tracing::info!(
                rule = %t.rule_id,
                alert_id = %t.alert_id,
                change = ?t.change,
                level = %t.level,
                message = %t.message,
                silenced_by = t.silenced_by.as_deref().unwrap_or(""),
                "alert transition"
            );
            self.hub.publish(t);
        }
        if changed {
            self.dirty = true;
        }
    }

    /// Carry out an operator's command.
    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Decommission { device_id, reply } => {
                let known = self.engine.decommission(&device_id, now_ns(), &mut self.out);
                if known {
                    tracing::info!(device = %device_id, "device decommissioned: forgotten, its deadman cleared");
                }
                self.after_round(true);
                self.save();
                // The requester may have gone away: fine.
                let _ = reply.send(known);
            }
            Command::Ack {
                alert_id,
                by,
                note,
                reply,
            } => {
                let firing = self.engine.firing();
                let result = self.operator.ack(&firing, &alert_id, &by, &note, now_ns());
                if let Ok(ack) = &result {
                    tracing::info!(alert_id = %ack.alert_id, by = %ack.by, note = %ack.note, "alert acknowledged");
                    self.operator_changed();
                    self.hub.announce_ack(ack.clone());
                }
                let _ = reply.send(result);
            }
            Command::Silence {
                scope,
                value,
                reason,
                by,
                duration_ns,
                reply,
            } => {
                let now = now_ns();
                let result = self.operator.silence(scope, &value, &reason, &by, duration_ns, now);
                if let Ok(s) = &result {
                    tracing::info!(silence = %s.id, scope = scope.as_str(), value = %s.value, by = %s.by, reason = %s.reason, "silence added");
                    self.operator_changed();
                    self.hub.announce_silences(now);
                }
                let _ = reply.send(result);
            }
            Command::Unsilence { id, reply } => {
                let now = now_ns();
                let result = self.operator.unsilence(&id, now);
                if result.is_ok() {
                    tracing::info!(silence = %id, "silence ended early");
                    self.operator_changed();
                    self.hub.announce_silences(now);
                }
                let _ = reply.send(result);
            }
        }
    }

    /// Save the state on the blocking pool; one save at a time (a save
    /// still running when the next is due is not doubled: `dirty` stays).
    fn save(&mut self) {
        if self.saving.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let snapshot = self.engine.snapshot();
        self.dirty = false;
        let path = self.state_file.clone();
        self.saving = Some(tokio::task::spawn_blocking(move || {
            if let Err(e) = snapshot.save(&path) {
                tracing::error!(error = %ErrorChain(&e), "cannot save alert state; alerts may be reported again after a restart");
            }
        }));
    }

    async fn finish_saving(&mut self) {
        if let Some(h) = self.saving.take() {
            let _ = h.await;
        }
    }

    /// Apply a re-read `[alerts]` section: changed outputs are replaced;
    /// keys that need a restart are named in the log.
    fn reload_outputs(&mut self, alerts: &AlertsConfig) {
        let restart = self.outputs.config().restart_only_changes(alerts);
        if !restart.is_empty() {
            tracing::warn!(keys = ?restart, "[alerts] keys changed that take effect only after a restart");
        }
        match self.outputs.reload(alerts) {
            Ok(changed) if !changed.is_empty() => tracing::info!(outputs = ?changed, "alert outputs reloaded"),
            Ok(_) => {}
            Err(e) => {
                self.stats.reload_failures.fetch_add(1, Relaxed);
                tracing::error!(error = %ErrorChain(&e), "alert outputs not reloaded; the outputs in service stay in service");
            }
        }
    }

    /// Re-read the rules (and `[alerts]` outputs) if their files changed, or
    /// always when `forced` (SIGHUP).
    async fn reload(&mut self, forced: bool) {
        if !forced {
            if !self.watched.changed() {
                return;
            }
            tokio::time::sleep(SETTLE).await;
        }
        let mut watched = std::mem::replace(&mut self.watched, Watched::new(PathBuf::new(), None));
        let (watched, reread) = match tokio::task::spawn_blocking(move || {
            let r = watched.reread();
            (watched, r)
        })
        .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "alert reload task failed");
                return;
            }
        };
        self.watched = watched;
        match reread.alerts {
            Some(Ok(alerts)) => self.reload_outputs(&alerts),
            Some(Err(e)) => {
                self.stats.reload_failures.fetch_add(1, Relaxed);
                tracing::error!(error = %e, "config not reloaded for alert outputs; the outputs in service stay in service");
            }
            None => {}
        }
        match reread.rules {
            Ok(config) if &config == self.engine.config() => {
                tracing::debug!("alert rules unchanged");
            }
            Ok(config) => {
                let rules = config.rules().len();
                self.outputs.set_escalation_outputs(&config.escalation().outputs);
                self.engine.reload(config);
                self.hub.set_rules(self.engine.config().clone());
                tracing::info!(rules, file = %self.watched.rules.display(), "alert rules reloaded");
                self.save();
            }
            Err(e) => {
                self.stats.reload_failures.fetch_add(1, Relaxed);
                tracing::error!(error = %e, "alert rules reload refused; the rules in service stay in service");
            }
        }
    }

    /// Run until the tap closes (the decoder ended: shutdown), then save the
    /// state and let the outputs flush.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Bytes>, trigger: Arc<Notify>) {
        // `None` only if another evaluator took them: then no commands.
        let mut commands = self.hub.take_commands();
        let mut tick = tokio::time::interval(TICK);
        let mut snap = tokio::time::interval(self.snapshot_interval);
        let poll_every = if self.reload_interval.is_zero() {
            Duration::from_secs(3600)
        } else {
            self.reload_interval
        };
        let mut poll = tokio::time::interval(poll_every);
        for i in [&mut tick, &mut snap, &mut poll] {
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        snap.tick().await;
        poll.tick().await;
        loop {
            // Not biased: under a steady stream the timers still get their
            // turn (tokio picks among ready branches at random).
            tokio::select! {
                msg = rx.recv() => {
                    let Some(lines) = msg else { break };
                    let now = now_ns();
                    self.take(&lines, now);
                    let mut n = 1;
                    while n < ROUND {
                        let Ok(lines) = rx.try_recv() else { break };
                        self.take(&lines, now);
                        n += 1;
                    }
                    self.stats.queue_depth.fetch_sub(n as u64, Relaxed);
                    self.after_round(false);
                }
                _ = tick.tick() => {
                    let now = now_ns();
                    self.engine.tick_into(now, &mut self.out);
                    self.operator_tick(now);
                    self.after_round(true);
                    if self.dirty {
                        self.save();
                    }
                }
                _ = snap.tick() => self.save(),
                Some(cmd) = async {
                    match commands.as_mut() {
                        Some(c) => c.recv().await,
                        None => std::future::pending().await,
                    }
                } => self.command(cmd),
                () = trigger.notified() => self.reload(true).await,
                _ = poll.tick(), if !self.reload_interval.is_zero() => self.reload(false).await,
            }
        }
        self.after_round(true);
        self.finish_saving().await;
        self.save();
        self.finish_saving().await;
        tracing::info!(file = %self.state_file.display(), "alert evaluator stopped; state saved");
        self.outputs.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let stats = Arc::new(AlertStats::default());
        let (tx, mut rx) = mpsc::channel(1);
        let tap = AlertTap::new(tx, stats.clone());
        tap.offer(&Bytes::from_static(b"river_level,device_id=a stage_m=1 1\n"));
        tap.offer(&Bytes::from_static(b"river_level,device_id=a stage_m=2 2\n"));
        assert_eq!(stats.queue_dropped.load(Relaxed), 1);
        assert_eq!(stats.queue_depth.load(Relaxed), 1);
        assert!(rx.try_recv().is_ok());
    }
}
