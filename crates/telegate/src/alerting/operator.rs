//! What operators decide about alerts, kept beside the engine's state:
//! acknowledgements, silences, and the clock that escalates a critical
//! alert nobody has acknowledged.
//!
//! - **Acknowledge**: an operator says "I am on it" for one firing alert
//!   (its `alert_id`, i.e. this episode), with a note. The ack holds while
//!   the alert fires at the acknowledged severity or a lower one; an
//!   escalation to a more severe level (BĐ II → BĐ III) needs a new ack. It
//!   ends with the episode (resolved).
//! - **Silence**: by rule, device or site, for a duration, with a reason
//!   (maintenance). A transition it covers is still recorded (the `alerts`
//!   measurement, the console) but marked `silenced_by` and not notified
//!   (`super::outputs::delivers`). It expires by itself.
//! - **Escalate**: with `[escalation] after` set in the rules file, a
//!   critical alert that is neither acknowledged nor silenced nor flapping
//!   `after` (wall time) after the gateway first saw it firing at a
//!   critical level gets a transition `change = "unacknowledged"`, and
//!   another every `after` until it is acknowledged or resolves.
//!
//! [`OperatorState`] is plain data owned by the evaluator task; it is
//! saved (temporary file, fsync, rename) after every change to
//! `<state_file stem>.operator.json` beside `alerts.state_file`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use telegate_alert::{ActiveAlert, AlertState, Change, SeriesKey, Severity, Transition};
use thiserror::Error;

const VERSION: u32 = 1;
/// Longest silence: a forgotten silence must not hide a station for good.
pub const MAX_SILENCE_NS: i64 = 30 * 24 * 3600 * 1_000_000_000;
/// Shortest silence (the console offers 30 min and more; the API takes
/// any duration from this on).
pub const MIN_SILENCE_NS: i64 = 5 * 1_000_000_000;
/// Longest note or reason, in characters.
pub const MAX_NOTE: usize = 500;
/// Silences held at most (active ones; expired ones are dropped).
pub const MAX_SILENCES: usize = 1000;

/// An operator's acknowledgement of one firing alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub alert_id: String,
    pub rule_id: String,
    /// The level and severity acknowledged.
    pub level: String,
    pub severity: Severity,
    /// User name (`token` for the machine token).
    pub by: String,
    pub note: String,
    /// Wall time.
    pub at_ns: i64,
}

/// What a silence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Rule,
    Device,
    Site,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "rule" => Some(Scope::Rule),
            "device" => Some(Scope::Device),
            "site" => Some(Scope::Site),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Rule => "rule",
            Scope::Device => "device",
            Scope::Site => "site",
        }
    }
}

/// A silence: transitions of one rule, device or site are not notified
/// until `until_ns`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// `s1`, `s2`, … (unique for the state file's life).
    pub id: String,
    pub scope: Scope,
    /// The rule id, device id or site.
    pub value: String,
    pub reason: String,
    pub by: String,
    /// Wall time.
    pub created_ns: i64,
    pub until_ns: i64,
}

impl Silence {
    /// Whether it covers the series of `rule_id` (at wall time `now_ns`).
    pub fn covers(&self, rule_id: &str, series: &SeriesKey, now_ns: i64) -> bool {
        now_ns < self.until_ns
            && match self.scope {
                Scope::Rule => rule_id == self.value,
                Scope::Device => series.device_id.as_deref() == Some(self.value.as_str()),
                Scope::Site => series.site.as_deref() == Some(self.value.as_str()),
            }
    }
}

/// When a critical alert was first seen unacknowledged, and last escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationClock {
    pub critical_since_ns: i64,
    pub last_escalated_ns: Option<i64>,
}

/// Why an operator's request was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OperatorError {
    #[error("alert `{0}` is not firing (resolved meanwhile?)")]
    NotFiring(String),
    #[error("no active silence `{0}`")]
    UnknownSilence(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the alert evaluator is not running (shutting down?)")]
    NotRunning,
}

#[derive(Debug, Error)]
pub enum StateFileError {
    #[error("{path}: cannot read the operator state")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot decode the operator state")]
    Decode {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: cannot write the operator state")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Acknowledgements, silences and escalation clocks (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    version: u32,
    pub acks: BTreeMap<String, Ack>,
    pub silences: Vec<Silence>,
    pub escalation: BTreeMap<String, EscalationClock>,
    next_silence: u64,
}

impl Default for OperatorState {
    fn default() -> Self {
        Self {
            version: VERSION,
            acks: BTreeMap::new(),
            silences: Vec::new(),
            escalation: BTreeMap::new(),
            next_silence: 1,
        }
    }
}

/// `alerts-state.json` → `alerts-state.operator.json`.
pub fn path_beside(state_file: &Path) -> PathBuf {
    let s = state_file.display().to_string();
    match s.strip_suffix(".json") {
        Some(stem) => PathBuf::from(format!("{stem}.operator.json")),
        None => PathBuf::from(format!("{s}.operator.json")),
    }
}

fn check_text(what: &str, s: &str, required: bool) -> Result<String, OperatorError> {
    let s = s.trim();
    if required && s.is_empty() {
        return Err(OperatorError::Invalid(format!("a {what} is required")));
    }
    if s.chars().count() > MAX_NOTE {
        return Err(OperatorError::Invalid(format!(
            "the {what} is longer than {MAX_NOTE} characters"
        )));
    }
    Ok(s.chars().filter(|c| !c.is_control() || *c == '\n').collect())
}

impl OperatorState {
    /// Read `path`; a missing file is a fresh state.
    pub fn load(path: &Path) -> Result<OperatorState, StateFileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OperatorState::default()),
            Err(source) => {
                return Err(StateFileError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|source| StateFileError::Decode {
            path: path.display().to_string(),
            source,
        })
    }

    /// Write `path` atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), StateFileError> {
        let err = |source| StateFileError::Write {
            path: path.display().to_string(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&json).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// The ack of `a`, if it still covers the alert (same or lower severity).
    pub fn ack_of(&self, a: &ActiveAlert) -> Option<&Ack> {
        self.acks.get(&a.alert_id).filter(|ack| a.severity <= ack.severity)
    }

    /// Acknowledge a firing alert.
    pub fn ack(
        &mut self,
        firing: &[ActiveAlert],
        alert_id: &str,
        by: &str,
        note: &str,
        now_ns: i64,
    ) -> Result<Ack, OperatorError> {
        let note = check_text("note", note, false)?;
        let a = firing
            .iter()
            .find(|a| a.alert_id == alert_id)
            .ok_or_else(|| OperatorError::NotFiring(alert_id.to_owned()))?;
        let ack = Ack {
            alert_id: a.alert_id.clone(),
            rule_id: a.rule_id.clone(),
            level: a.level.clone(),
            severity: a.severity,
            by: by.to_owned(),
            note,
            at_ns: now_ns,
        };
        self.acks.insert(ack.alert_id.clone(), ack.clone());
        Ok(ack)
    }

    /// Add a silence lasting `duration_ns` from `now_ns`.
    pub fn silence(
        &mut self,
        scope: Scope,
        value: &str,
        reason: &str,
        by: &str,
        duration_ns: i64,
        now_ns: i64,
    ) -> Result<Silence, OperatorError> {
        let value = value.trim();
        if value.is_empty() || value.len() > 256 {
            return Err(OperatorError::Invalid(format!(
                "name the {} to silence (1-256 bytes)",
                scope.as_str()
            )));
        }
        let reason = check_text("reason", reason, true)?;
        if !(MIN_SILENCE_NS..=MAX_SILENCE_NS).contains(&duration_ns) {
            return Err(OperatorError::Invalid(
                "a silence lasts from 5 seconds to 30 days".to_owned(),
            ));
        }
        self.silences.retain(|s| s.until_ns > now_ns);
        if self.silences.len() >= MAX_SILENCES {
            return Err(OperatorError::Invalid(format!(
                "{MAX_SILENCES} silences are active already; end some first"
            )));
        }
        let s = Silence {
            id: format!("s{}", self.next_silence),
            scope,
            value: value.to_owned(),
            reason,
            by: by.to_owned(),
            created_ns: now_ns,
            until_ns: now_ns.saturating_add(duration_ns),
        };
        self.next_silence += 1;
        self.silences.push(s.clone());
        Ok(s)
    }

    /// End a silence before its time.
    pub fn unsilence(&mut self, id: &str, now_ns: i64) -> Result<Silence, OperatorError> {
        let pos = self
            .silences
            .iter()
            .position(|s| s.id == id && s.until_ns > now_ns)
            .ok_or_else(|| OperatorError::UnknownSilence(id.to_owned()))?;
        Ok(self.silences.remove(pos))
    }

    /// Drop the silences that ended by `now_ns`; returns them.
    pub fn expire(&mut self, now_ns: i64) -> Vec<Silence> {
        let (ended, active): (Vec<_>, Vec<_>) = std::mem::take(&mut self.silences)
            .into_iter()
            .partition(|s| s.until_ns <= now_ns);
        self.silences = active;
        ended
    }

    /// The active silences at `now_ns`.
    pub fn active_silences(&self, now_ns: i64) -> Vec<Silence> {
        self.silences.iter().filter(|s| s.until_ns > now_ns).cloned().collect()
    }

    /// The id of the first active silence covering `rule_id`'s `series`.
    pub fn silenced_by(&self, rule_id: &str, series: &SeriesKey, now_ns: i64) -> Option<String> {
        self.silences
            .iter()
            .find(|s| s.covers(rule_id, series, now_ns))
            .map(|s| s.id.clone())
    }

    /// Forget acks and clocks of alerts no longer firing. Returns whether
    /// anything was forgotten (the state then needs saving).
    pub fn prune(&mut self, firing: &[ActiveAlert]) -> bool {
        let (acks, clocks) = (self.acks.len(), self.escalation.len());
        let live = |id: &String| firing.iter().any(|a| &a.alert_id == id);
        self.acks.retain(|id, _| live(id));
        self.escalation.retain(|id, _| live(id));
        acks != self.acks.len() || clocks != self.escalation.len()
    }

    /// The escalations due at `now_ns` with `[escalation] after = after_ns`
    /// (0: none), updating the clocks. Returns them and whether a clock
    /// changed.
    pub fn escalations(&mut self, firing: &[ActiveAlert], after_ns: i64, now_ns: i64) -> (Vec<Transition>, bool) {
        let mut out = Vec::new();
        let mut changed = false;
        for a in firing {
            if a.severity != Severity::Critical || a.flapping {
                continue;
            }
            let clock = self.escalation.entry(a.alert_id.clone()).or_insert_with(|| {
                changed = true;
                EscalationClock {
                    critical_since_ns: now_ns,
                    last_escalated_ns: None,
                }
            });
            if after_ns <= 0
                || self.acks.get(&a.alert_id).is_some_and(|ack| a.severity <= ack.severity)
                || self.silences.iter().any(|s| s.covers(&a.rule_id, &a.series, now_ns))
            {
                continue;
            }
            let from = clock.last_escalated_ns.unwrap_or(clock.critical_since_ns);
            if now_ns.saturating_sub(from) < after_ns {
                continue;
            }
            clock.last_escalated_ns = Some(now_ns);
            changed = true;
            let unacked_for = now_ns.saturating_sub(clock.critical_since_ns);
            out.push(escalation(a, unacked_for, now_ns));
        }
        (out, changed)
    }
}

/// How an escalation's `message` starts: `not acknowledged for 15m: ` and
/// then the alert's own message. [`unacknowledged_parts`] reads it back, so
/// that the email and chat text ([`super::text`]) say it in their language.
const UNACKED_PREFIX: &str = "not acknowledged for ";

/// Of an escalation's `message`: how long the alert went unacknowledged,
/// and the alert's own message. `None` for any other message.
pub fn unacknowledged_parts(message: &str) -> Option<(std::time::Duration, &str)> {
    let (span, rest) = message.strip_prefix(UNACKED_PREFIX)?.split_once(": ")?;
    Some((humantime::parse_duration(span).ok()?, rest))
}

/// The `unacknowledged` transition of `a`.
fn escalation(a: &ActiveAlert, unacked_for_ns: i64, now_ns: i64) -> Transition {
    let secs = u64::try_from(unacked_for_ns / 1_000_000_000).unwrap_or(0);
    let span = humantime::format_duration(std::time::Duration::from_secs(secs));
    Transition {
        alert_id: a.alert_id.clone(),
        rule_id: a.rule_id.clone(),
        rule_name: a.rule_name.clone(),
        level: a.level.clone(),
        previous_level: None,
        severity: a.severity,
        series: a.series.clone(),
        from: AlertState::Firing,
        to: AlertState::Firing,
        change: Change::Unacknowledged,
        value: a.value,
        threshold: a.threshold,
        values: BTreeMap::new(),
        event_time_ns: now_ns,
        episode_start_ns: a.episode_start_ns,
        evaluated_at_ns: now_ns,
        late: false,
        message: format!("{UNACKED_PREFIX}{span}: {}", a.message),
        silenced_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const MIN: i64 = 60 * S;

    fn alert(id: &str, device: &str, site: &str, severity: Severity) -> ActiveAlert {
        ActiveAlert {
            alert_id: id.into(),
            rule_id: "flood-muong-te".into(),
            rule_name: "Flood".into(),
            level: "BĐ III".into(),
            severity,
            series: SeriesKey {
                measurement: Some("river_level".into()),
                device_id: Some(device.into()),
                site: Some(site.into()),
                tags: BTreeMap::new(),
            },
            since_ns: 0,
            episode_start_ns: 0,
            fired_ns: 0,
            last_notified_ns: 0,
            flapping: false,
            value: Some(290.4),
            threshold: Some(290.0),
            message: "rl-001 at muong-te: stage 290.4 m ≥ BĐ III".into(),
        }
    }

    #[test]
    fn silences_match_by_rule_device_or_site_and_expire() {
        let mut st = OperatorState::default();
        let a = alert("a1", "rl-001", "muong-te", Severity::Critical);
        let s = st
            .silence(Scope::Device, "rl-001", "bảo trì trạm", "lan", 10 * MIN, 0)
            .unwrap();
        assert_eq!(s.id, "s1");
        assert_eq!(st.silenced_by("flood-muong-te", &a.series, 5 * MIN), Some("s1".into()));
        assert_eq!(
            st.silenced_by("flood-muong-te", &a.series, 10 * MIN),
            None,
            "ends at until_ns"
        );
        let b = alert("a2", "rl-002", "muong-te", Severity::Critical);
        assert_eq!(st.silenced_by("flood-muong-te", &b.series, MIN), None);
        st.silence(Scope::Site, "muong-te", "x", "lan", 20 * MIN, 0).unwrap();
        assert_eq!(st.silenced_by("any", &b.series, MIN), Some("s2".into()));
        st.silence(Scope::Rule, "flood-muong-te", "x", "lan", 30 * MIN, 0)
            .unwrap();
        assert_eq!(st.active_silences(15 * MIN).len(), 2);
        let ended = st.expire(25 * MIN);
        assert_eq!(ended.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["s1", "s2"]);
        assert_eq!(st.silenced_by("flood-muong-te", &b.series, 25 * MIN), Some("s3".into()));
        assert_eq!(st.unsilence("s3", 26 * MIN).map(|s| s.id), Ok("s3".into()));
        assert_eq!(
            st.unsilence("s3", 26 * MIN),
            Err(OperatorError::UnknownSilence("s3".into()))
        );
    }

    #[test]
    fn silences_are_checked() {
        let mut st = OperatorState::default();
        assert!(matches!(
            st.silence(Scope::Device, "d", " ", "lan", MIN, 0),
            Err(OperatorError::Invalid(_))
        ));
        assert!(matches!(
            st.silence(Scope::Device, "", "r", "lan", MIN, 0),
            Err(OperatorError::Invalid(_))
        ));
        assert!(matches!(
            st.silence(Scope::Device, "d", "r", "lan", 4 * S, 0),
            Err(OperatorError::Invalid(_))
        ));
        assert!(matches!(
            st.silence(Scope::Device, "d", "r", "lan", MAX_SILENCE_NS + 1, 0),
            Err(OperatorError::Invalid(_))
        ));
        assert!(matches!(
            st.silence(Scope::Device, "d", &"x".repeat(MAX_NOTE + 1), "lan", MIN, 0),
            Err(OperatorError::Invalid(_))
        ));
    }

    #[test]
    fn acks_hold_for_their_severity_and_end_with_the_episode() {
        let mut st = OperatorState::default();
        let mut a = alert("a1", "rl-001", "muong-te", Severity::Warning);
        assert_eq!(
            st.ack(&[], "a1", "lan", "", 0),
            Err(OperatorError::NotFiring("a1".into()))
        );
        let ack = st
            .ack(std::slice::from_ref(&a), "a1", "lan", "đang đến trạm", 5)
            .unwrap();
        assert_eq!(
            (ack.by.as_str(), ack.note.as_str(), ack.at_ns),
            ("lan", "đang đến trạm", 5)
        );
        assert!(st.ack_of(&a).is_some());
        a.severity = Severity::Critical;
        assert!(st.ack_of(&a).is_none(), "a more severe level needs a new ack");
        assert!(st.prune(&[]));
        assert!(st.acks.is_empty());
    }

    #[test]
    fn escalation_fires_after_the_time_repeats_and_stops_at_an_ack() {
        let mut st = OperatorState::default();
        let firing = [
            alert("crit", "rl-001", "muong-te", Severity::Critical),
            alert("warn", "rl-002", "muong-te", Severity::Warning),
        ];
        let after = 15 * MIN;
        // First seen at t = 0: the clock starts.
        let (e, changed) = st.escalations(&firing, after, 0);
        assert!(e.is_empty() && changed);
        assert!(st.escalations(&firing, after, after - S).0.is_empty());
        let (e, _) = st.escalations(&firing, after, after);
        assert_eq!(e.len(), 1, "only the critical one");
        assert_eq!((e[0].change, e[0].alert_id.as_str()), (Change::Unacknowledged, "crit"));
        assert!(
            e[0].message.starts_with("not acknowledged for 15m: "),
            "{}",
            e[0].message
        );
        assert!(
            st.escalations(&firing, after, after + MIN).0.is_empty(),
            "once per `after`"
        );
        assert_eq!(st.escalations(&firing, after, 2 * after).0.len(), 1, "and again");
        st.ack(&firing, "crit", "lan", "", 2 * after + S).unwrap();
        assert!(
            st.escalations(&firing, after, 10 * after).0.is_empty(),
            "stops at the ack"
        );
    }

    #[test]
    fn escalation_is_off_by_default_and_skips_silenced_alerts() {
        let mut st = OperatorState::default();
        let firing = [alert("crit", "rl-001", "muong-te", Severity::Critical)];
        st.escalations(&firing, 0, 0);
        assert!(st.escalations(&firing, 0, 100 * MIN).0.is_empty());
        st.silence(Scope::Site, "muong-te", "bảo trì", "lan", 60 * MIN, 0)
            .unwrap();
        assert!(st.escalations(&firing, MIN, 30 * MIN).0.is_empty());
        assert_eq!(
            st.escalations(&firing, MIN, 61 * MIN).0.len(),
            1,
            "after the silence ends"
        );
    }

    #[test]
    fn saved_and_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_beside(&dir.path().join("alerts-state.json"));
        assert!(path.ends_with("alerts-state.operator.json"));
        let mut st = OperatorState::default();
        assert_eq!(OperatorState::load(&path).unwrap(), st);
        let a = alert("a1", "rl-001", "muong-te", Severity::Critical);
        st.ack(std::slice::from_ref(&a), "a1", "lan", "note", 1).unwrap();
        st.silence(Scope::Device, "rl-002", "maintenance", "lan", MIN, 0)
            .unwrap();
        st.escalations(std::slice::from_ref(&a), MIN, 0);
        st.save(&path).unwrap();
        let back = OperatorState::load(&path).unwrap();
        assert_eq!(back, st);
        let mut back = back;
        assert_eq!(
            back.silence(Scope::Site, "x", "r", "lan", MIN, 0).unwrap().id,
            "s2",
            "ids keep counting"
        );
    }
}
