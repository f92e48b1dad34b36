//! Alert state across restarts: [`Snapshot`] to and from a JSON file.
//!
//! A snapshot holds, per rule and series, everything needed to continue as
//! if the process had not stopped: the phase (pending since, firing level,
//! episode start, last notification), the watermark, the window samples and
//! the deadman's last-seen time and mode. Levels are stored by name, not
//! position, so a reload that inserts a level does not shift alerts onto the
//! wrong one. Writing goes through a temporary file, fsync and rename, so a
//! crash mid-write leaves the previous snapshot intact.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::AlertConfig;
use crate::device::{DeviceRecord, DeviceRegistry};
use crate::engine::Engine;
use crate::error::SnapshotError;
use crate::flap::{FlapGuard, Flapping};
use crate::machine::{Phase, Rising};
use crate::rule::Rule;
use crate::series::{Grouping, SeriesKey};
use crate::state::SeriesState;
use crate::window::Window;

const VERSION: u32 = 1;

/// The engine's state at one moment (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    version: u32,
    rules: Vec<RuleSnapshot>,
    /// The device registry (absent in files written before it existed).
    #[serde(default)]
    devices: Vec<DeviceRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RuleSnapshot {
    id: String,
    kind: String,
    /// State is kept only if kind and grouping are unchanged: otherwise the
    /// series keys or window contents would mean something else.
    grouping: String,
    series: Vec<SeriesSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SeriesSnapshot {
    key: SeriesKey,
    phase: PhaseSnapshot,
    watermark_ns: Option<i64>,
    advanced_wall_ns: i64,
    last_seen_wall_ns: i64,
    value: Option<f64>,
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    window: Vec<(i64, f64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    components: Vec<(String, f64)>,
    /// The flap limiter: recent episode starts, and the flapping state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    flap_starts: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flapping: Option<FlappingSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FlappingSnapshot {
    level: String,
    since_ns: i64,
    last_change_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum PhaseSnapshot {
    Ok,
    Pending {
        level: String,
        since_ns: i64,
    },
    Firing {
        level: String,
        episode_ns: i64,
        fired_ns: i64,
        /// Absent in files written before it existed: the fire time.
        #[serde(default)]
        level_since_ns: Option<i64>,
        notified_wall_ns: i64,
        rising: Option<(String, i64)>,
    },
}

fn grouping_name(g: &Grouping) -> String {
    match g {
        Grouping::AllTags => "all_tags".to_owned(),
        Grouping::Device => "device".to_owned(),
        Grouping::Tags(t) => format!("tags:{}", t.join(",")),
    }
}

fn phase_out(rule: &Rule, phase: &Phase) -> PhaseSnapshot {
    let name = |i: usize| rule.levels.get(i).map(|l| l.name.clone()).unwrap_or_default();
    match *phase {
        Phase::Ok => PhaseSnapshot::Ok,
        Phase::Pending { level, since_ns } => PhaseSnapshot::Pending {
            level: name(level),
            since_ns,
        },
        Phase::Firing {
            level,
            episode_ns,
            fired_ns,
            level_since_ns,
            notified_wall_ns,
            rising,
        } => PhaseSnapshot::Firing {
            level: name(level),
            episode_ns,
            fired_ns,
            level_since_ns: Some(level_since_ns),
            notified_wall_ns,
            rising: rising.map(|r| (name(r.level), r.since_ns)),
        },
    }
}

/// The phase under the new rule; a level that no longer exists resets the
/// series to ok (if the condition still holds it starts a new episode).
fn phase_in(rule: &Rule, phase: &PhaseSnapshot) -> Phase {
    let index = |name: &str| rule.levels.iter().position(|l| l.name == name);
    match phase {
        PhaseSnapshot::Ok => Phase::Ok,
        PhaseSnapshot::Pending { level, since_ns } => index(level).map_or(Phase::Ok, |level| Phase::Pending {
            level,
            since_ns: *since_ns,
        }),
        PhaseSnapshot::Firing {
            level,
            episode_ns,
            fired_ns,
            level_since_ns,
            notified_wall_ns,
            rising,
        } => index(level).map_or(Phase::Ok, |level| Phase::Firing {
            level,
            episode_ns: *episode_ns,
            fired_ns: *fired_ns,
            level_since_ns: level_since_ns.unwrap_or(*fired_ns),
            notified_wall_ns: *notified_wall_ns,
            rising: rising
                .as_ref()
                .and_then(|(name, since_ns)| {
                    index(name).map(|level| Rising {
                        level,
                        since_ns: *since_ns,
                    })
                })
                .filter(|r| r.level > level),
        }),
    }
}

impl Engine {
    /// The state to save, e.g. every few seconds and at shutdown.
    pub fn snapshot(&self) -> Snapshot {
        let rules = self
            .config
            .rules
            .iter()
            .zip(&self.series)
            .map(|(rule, states)| {
                let mut series: Vec<SeriesSnapshot> = states
                    .iter()
                    .map(|(key, st)| SeriesSnapshot {
                        key: key.clone(),
                        phase: phase_out(rule, &st.phase),
                        watermark_ns: st.watermark_ns,
                        advanced_wall_ns: st.advanced_wall_ns,
                        last_seen_wall_ns: st.last_seen_wall_ns,
                        value: st.value.filter(|v| v.is_finite()),
                        mode: st.mode.clone(),
                        window: st.window.samples().filter(|s| s.1.is_finite()).collect(),
                        components: st.components.clone(),
                        flap_starts: st.flap.starts.iter().copied().collect(),
                        flapping: st.flap.flapping.as_ref().map(|f| FlappingSnapshot {
                            level: rule.levels.get(f.level).map(|l| l.name.clone()).unwrap_or_default(),
                            since_ns: f.since_ns,
                            last_change_ns: f.last_change_ns,
                        }),
                    })
                    .collect();
                series.sort_by(|a, b| a.key.cmp(&b.key));
                RuleSnapshot {
                    id: rule.id.clone(),
                    kind: rule.kind_name.to_owned(),
                    grouping: grouping_name(&rule.grouping),
                    series,
                }
            })
            .collect();
        Snapshot {
            version: VERSION,
            rules,
            devices: self.devices.devices.values().cloned().collect(),
        }
    }

    /// An engine for `config` continuing from `snapshot`. State is kept for
    /// every rule whose id still exists with the same kind and grouping;
    /// other state is dropped. Wall-clock timers restart their count at the
    /// first call after the restore.
    pub fn restore(config: AlertConfig, snapshot: Snapshot) -> Engine {
        let mut engine = Engine::new(config);
        engine.devices = DeviceRegistry::restore(snapshot.devices);
        for saved in snapshot.rules {
            let Some(ri) = engine.config.rules.iter().position(|r| r.id == saved.id) else {
                continue;
            };
            let rule = &engine.config.rules[ri];
            if rule.kind_name != saved.kind || grouping_name(&rule.grouping) != saved.grouping {
                continue;
            }
            let states = &mut engine.series[ri];
            for s in saved.series {
                let st = SeriesState {
                    phase: phase_in(rule, &s.phase),
                    watermark_ns: s.watermark_ns,
                    advanced_wall_ns: s.advanced_wall_ns,
                    last_seen_wall_ns: s.last_seen_wall_ns,
                    value: s.value,
                    mode: s.mode,
                    window: Window::from_samples(s.window),
                    components: s.components,
                    flap: FlapGuard {
                        starts: s.flap_starts.into(),
                        flapping: s.flapping.and_then(|f| {
                            let level = rule.levels.iter().position(|l| l.name == f.level)?;
                            Some(Flapping {
                                since_ns: f.since_ns,
                                last_change_ns: f.last_change_ns,
                                level,
                            })
                        }),
                    },
                };
                states.insert(s.key, st);
            }
        }
        engine
    }
}

impl Snapshot {
    pub fn to_json(&self) -> Result<Vec<u8>, SnapshotError> {
        serde_json::to_vec(self).map_err(SnapshotError::Encode)
    }

    /// Decode a snapshot; `path` names the source in errors.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Snapshot, SnapshotError> {
        let snap: Snapshot = serde_json::from_slice(bytes).map_err(|source| SnapshotError::Decode {
            path: path.display().to_string(),
            source,
        })?;
        if snap.version != VERSION {
            return Err(SnapshotError::Version {
                path: path.display().to_string(),
                found: snap.version,
                expected: VERSION,
            });
        }
        Ok(snap)
    }

    /// Write atomically: a temporary file beside `path`, fsync, rename over
    /// `path`, fsync the directory.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        let bytes = self.to_json()?;
        let err = |source| SnapshotError::Write {
            path: path.display().to_string(),
            source,
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{file_name}.tmp"));
        let mut file = File::create(&tmp).map_err(err)?;
        file.write_all(&bytes).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        fs::rename(&tmp, path).map_err(err)?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Make the rename itself durable (POSIX: fsync the directory).
        File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(())
    }

    /// Read a snapshot file; `Ok(None)` when there is none yet (first start).
    pub fn load(path: &Path) -> Result<Option<Snapshot>, SnapshotError> {
        match fs::read(path) {
            Ok(bytes) => Snapshot::from_json(&bytes, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SnapshotError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}
