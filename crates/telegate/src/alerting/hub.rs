//! What the operator API reads: the alerts firing now, the recent
//! transitions, a live stream of them, and each device's health.
//!
//! The alert task writes here; the HTTP handlers only read. Readers never
//! wait on the alert task and the alert task never waits on a slow browser:
//! the live stream is a broadcast channel whose laggards skip ahead.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::Serialize;
use telegate_alert::{ActiveAlert, AlertConfig, DeviceRecord, Transition};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::operator::{Ack, OperatorError, OperatorState, Scope, Silence};
use crate::operators::AuditLog;

/// Transitions kept for `GET /api/alerts` (`recent`).
pub const RECENT: usize = 200;
/// Operator commands waiting for the evaluator (people click; a full
/// queue makes the request wait, never the evaluator).
const COMMANDS: usize = 16;
/// Longest an operator's request waits for the evaluator's answer.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the live stream (`GET /api/events`) carries.
#[derive(Debug, Clone)]
pub enum HubEvent {
    /// An alert changed (or was escalated).
    Transition(Arc<Transition>),
    /// An operator acknowledged a firing alert.
    Ack(Arc<Ack>),
    /// The active silences changed (added, ended, expired): the whole list.
    Silences(Arc<Vec<Silence>>),
}

/// One device as the console shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DeviceStatus {
    pub device_id: String,
    pub site: String,
    pub sensor_types: BTreeSet<String>,
    /// Wall time its first reading arrived.
    pub first_seen_ns: i64,
    /// Device time of its newest sample.
    pub last_event_ns: i64,
    /// Wall time its last reading arrived (restored across restarts).
    pub last_seen_ns: i64,
    /// Numeric fields of its newest sample of each sensor type.
    pub last_values: BTreeMap<String, f64>,
    /// From `device_health` (battery_pct, battery_v, rsrp_dbm), when it reports them.
    pub battery_pct: Option<f64>,
    pub battery_v: Option<f64>,
    pub signal_dbm: Option<f64>,
    /// Firing alerts whose series names this device.
    pub firing: usize,
    /// Nothing received for `silent_after`.
    pub silent: bool,
    /// "silent" (nothing for `silent_after`; wins over alerting),
    /// "alerting" (an alert firing) or "ok". Computed when read.
    pub status: &'static str,
}

/// A firing alert with the age of its device's last reading.
#[derive(Debug, Clone, Serialize)]
pub struct FiringView {
    #[serde(flatten)]
    pub alert: ActiveAlert,
    /// Wall time the series' device last sent anything; `None` for a series
    /// without a device (a combined rule grouped by site).
    pub last_seen_ns: Option<i64>,
    /// That device is silent (nothing for `silent_after`).
    pub silent: bool,
    /// The operator's acknowledgement, while it covers the alert.
    pub ack: Option<Ack>,
    /// The active silence covering it: its transitions are not notified.
    pub silenced_by: Option<String>,
}

/// `GET /api/alerts`.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsView {
    pub firing: Vec<FiringView>,
    /// Newest first.
    pub recent: Vec<Arc<Transition>>,
    /// Devices silent now (the console's header).
    pub silent_devices: usize,
    /// Active silences (the console's banner).
    pub silences: Vec<Silence>,
}

/// An operator's request to the evaluator.
#[derive(Debug)]
pub enum Command {
    /// Forget a device and clear its deadman; answers whether it was known.
    Decommission {
        device_id: String,
        reply: oneshot::Sender<bool>,
    },
    /// Acknowledge a firing alert.
    Ack {
        alert_id: String,
        by: String,
        note: String,
        reply: oneshot::Sender<Result<Ack, OperatorError>>,
    },
    /// Silence a rule, device or site.
    Silence {
        scope: Scope,
        value: String,
        reason: String,
        by: String,
        duration_ns: i64,
        reply: oneshot::Sender<Result<Silence, OperatorError>>,
    },
    /// End a silence early.
    Unsilence {
        id: String,
        reply: oneshot::Sender<Result<Silence, OperatorError>>,
    },
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("device `{0}` is not known to the gateway")]
    UnknownDevice(String),
    #[error("the alert evaluator is not running (shutting down?)")]
    NotRunning,
}

#[derive(Debug, Default)]
struct State {
    firing: Vec<ActiveAlert>,
    recent: VecDeque<Arc<Transition>>,
    devices: BTreeMap<String, DeviceRecord>,
    /// The evaluator's acknowledgements and silences, as last pushed.
    operator: OperatorState,
    /// The rules in service (the trend chart draws their levels).
    rules: Option<Arc<AlertConfig>>,
}

#[derive(Debug)]
pub struct AlertHub {
    events: broadcast::Sender<HubEvent>,
    /// The audit log (operator actions, expired silences).
    audit: Option<Arc<AuditLog>>,
    state: RwLock<State>,
    /// A device with no reading for this long is shown "silent".
    silent_after_ns: i64,
    commands: mpsc::Sender<Command>,
    /// Taken once by the evaluator.
    command_rx: Mutex<Option<mpsc::Receiver<Command>>>,
}

impl AlertHub {
    pub fn new(silent_after: std::time::Duration) -> Arc<Self> {
        Self::with_audit(silent_after, None)
    }

    pub fn with_audit(silent_after: std::time::Duration, audit: Option<Arc<AuditLog>>) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        let (commands, command_rx) = mpsc::channel(COMMANDS);
        Arc::new(Self {
            events,
            audit,
            state: RwLock::default(),
            silent_after_ns: i64::try_from(silent_after.as_nanos()).unwrap_or(i64::MAX),
            commands,
            command_rx: Mutex::new(Some(command_rx)),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The evaluator's end of the command queue (once).
    pub(crate) fn take_commands(&self) -> Option<mpsc::Receiver<Command>> {
        self.command_rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Decommission a device: the evaluator forgets it and clears its
    /// deadman.
    pub async fn decommission(&self, device_id: &str) -> Result<(), CommandError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Decommission {
                device_id: device_id.to_owned(),
                reply,
            })
            .await
            .map_err(|_| CommandError::NotRunning)?;
        match answer.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CommandError::UnknownDevice(device_id.to_owned())),
            Err(_) => Err(CommandError::NotRunning),
        }
    }

    /// A transition happened: keep it and tell live subscribers.
    pub fn publish(&self, t: Transition) {
        let t = Arc::new(t);
        {
            let mut st = self.write();
            st.recent.push_front(t.clone());
            st.recent.truncate(RECENT);
        }
        // No subscriber is fine.
        let _ = self.events.send(HubEvent::Transition(t));
    }

    /// The audit log, when there is one.
    pub fn audit(&self) -> Option<&Arc<AuditLog>> {
        self.audit.as_ref()
    }

    /// The evaluator's operator state after a change.
    pub fn set_operator(&self, operator: OperatorState) {
        self.write().operator = operator;
    }

    /// Tell live consoles about an acknowledgement.
    pub fn announce_ack(&self, ack: Ack) {
        let _ = self.events.send(HubEvent::Ack(Arc::new(ack)));
    }

    /// Tell live consoles the active silences changed.
    pub fn announce_silences(&self, now_ns: i64) {
        let list = self.read().operator.active_silences(now_ns);
        let _ = self.events.send(HubEvent::Silences(Arc::new(list)));
    }

    /// Send a command to the evaluator and wait for its answer.
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, OperatorError>>) -> Command,
    ) -> Result<T, OperatorError> {
        let (reply, answer) = oneshot::channel();
        // Bounded: a request never waits for ever on an evaluator that is
        // stuck or was never started.
        let asked = async {
            self.commands
                .send(make(reply))
                .await
                .map_err(|_| OperatorError::NotRunning)?;
            answer.await.unwrap_or(Err(OperatorError::NotRunning))
        };
        tokio::time::timeout(COMMAND_TIMEOUT, asked)
            .await
            .unwrap_or(Err(OperatorError::NotRunning))
    }

    /// Acknowledge a firing alert as `by`.
    pub async fn ack(&self, alert_id: &str, by: &str, note: &str) -> Result<Ack, OperatorError> {
        self.ask(|reply| Command::Ack {
            alert_id: alert_id.to_owned(),
            by: by.to_owned(),
            note: note.to_owned(),
            reply,
        })
        .await
    }

    /// Silence a rule, device or site for `duration_ns`.
    pub async fn silence(
        &self,
        scope: Scope,
        value: &str,
        reason: &str,
        by: &str,
        duration_ns: i64,
    ) -> Result<Silence, OperatorError> {
        self.ask(|reply| Command::Silence {
            scope,
            value: value.to_owned(),
            reason: reason.to_owned(),
            by: by.to_owned(),
            duration_ns,
            reply,
        })
        .await
    }

    /// End a silence early.
    pub async fn unsilence(&self, id: &str) -> Result<Silence, OperatorError> {
        self.ask(|reply| Command::Unsilence {
            id: id.to_owned(),
            reply,
        })
        .await
    }

    /// The active silences at `now_ns`.
    pub fn silences(&self, now_ns: i64) -> Vec<Silence> {
        self.read().operator.active_silences(now_ns)
    }

    /// The engine's firing list after a round of evaluation.
    pub fn set_firing(&self, firing: Vec<ActiveAlert>) {
        self.write().firing = firing;
    }

    /// The engine's device registry (every second, and after a change).
    pub fn set_devices(&self, devices: impl IntoIterator<Item = DeviceRecord>) {
        self.write().devices = devices.into_iter().map(|d| (d.device_id.clone(), d)).collect();
    }

    /// The rules in service, at start and after each reload.
    pub fn set_rules(&self, rules: AlertConfig) {
        self.write().rules = Some(Arc::new(rules));
    }

    /// The rules in service (`None` before the evaluator started).
    pub fn rules(&self) -> Option<Arc<AlertConfig>> {
        self.read().rules.clone()
    }

    /// One device's registry record.
    pub fn device(&self, device_id: &str) -> Option<DeviceRecord> {
        self.read().devices.get(device_id).cloned()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.events.subscribe()
    }

    /// `alerts.silent_after` in nanoseconds.
    pub fn silent_after_ns(&self) -> i64 {
        self.silent_after_ns
    }

    fn is_silent(&self, d: &DeviceRecord, now_ns: i64) -> bool {
        now_ns.saturating_sub(d.last_seen_ns) > self.silent_after_ns
    }

    /// The firing alerts (each with its device's last reading), the recent
    /// transitions and the number of silent devices, as of `now_ns`.
    pub fn alerts(&self, now_ns: i64) -> AlertsView {
        let st = self.read();
        let firing = st
            .firing
            .iter()
            .map(|a| {
                let device = a.series.device_id.as_deref().and_then(|d| st.devices.get(d));
                FiringView {
                    alert: a.clone(),
                    last_seen_ns: device.map(|d| d.last_seen_ns),
                    silent: device.is_some_and(|d| self.is_silent(d, now_ns)),
                    ack: st.operator.ack_of(a).cloned(),
                    silenced_by: st.operator.silenced_by(&a.rule_id, &a.series, now_ns),
                }
            })
            .collect();
        AlertsView {
            firing,
            recent: st.recent.iter().cloned().collect(),
            silent_devices: st.devices.values().filter(|d| self.is_silent(d, now_ns)).count(),
            silences: st.operator.active_silences(now_ns),
        }
    }

    /// Every device, by site then id, with its status as of `now_ns`.
    pub fn devices(&self, now_ns: i64) -> Vec<DeviceStatus> {
        let st = self.read();
        let mut firing: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &st.firing {
            if let Some(d) = a.series.device_id.as_deref() {
                *firing.entry(d).or_default() += 1;
            }
        }
        let mut out: Vec<DeviceStatus> = st
            .devices
            .values()
            .map(|d| {
                let alerts = firing.get(d.device_id.as_str()).copied().unwrap_or(0);
                let silent = self.is_silent(d, now_ns);
                let value = |k: &str| d.last_values.get(k).copied();
                DeviceStatus {
                    device_id: d.device_id.clone(),
                    site: d.site.clone().unwrap_or_default(),
                    sensor_types: d.sensor_types.clone(),
                    first_seen_ns: d.first_seen_ns,
                    last_event_ns: d.last_event_ns,
                    last_seen_ns: d.last_seen_ns,
                    last_values: d.last_values.clone(),
                    battery_pct: value("battery_pct"),
                    battery_v: value("battery_v"),
                    signal_dbm: value("rsrp_dbm"),
                    firing: alerts,
                    silent,
                    status: if silent {
                        "silent"
                    } else if alerts > 0 {
                        "alerting"
                    } else {
                        "ok"
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| (&a.site, &a.device_id).cmp(&(&b.site, &b.device_id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn record(device: &str, values: &[(&str, f64)], t: i64, seen: i64) -> DeviceRecord {
        DeviceRecord {
            device_id: device.into(),
            site: Some("ma-lu-thang".into()),
            sensor_types: BTreeSet::from(["device_health".to_owned()]),
            first_seen_ns: seen,
            last_seen_ns: seen,
            last_event_ns: t,
            last_values: values.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn devices_track_health_and_go_silent() {
        let hub = AlertHub::new(Duration::from_secs(60));
        hub.set_devices([record("dh-1", &[("battery_pct", 81.0), ("rsrp_dbm", -97.0)], 5, 1_000)]);
        let d = &hub.devices(2_000)[0];
        assert_eq!(
            (d.status, d.battery_pct, d.signal_dbm, d.last_event_ns),
            ("ok", Some(81.0), Some(-97.0), 5)
        );
        assert_eq!(d.site, "ma-lu-thang");
        let later = 1_000 + 61_000_000_000;
        assert_eq!(hub.devices(later)[0].status, "silent");
        assert_eq!(hub.alerts(later).silent_devices, 1);
        assert_eq!(hub.alerts(2_000).silent_devices, 0);
    }
}
