//! Building a fleet: which sensor types can be simulated (probed against
//! the registry's decoder), where devices stand, and their names.

use std::cmp::Reverse;
use std::collections::VecDeque;

use telegate_schema::Registry;

use super::{DEVICE_STREAM, Device, Fleet, Link, SITE_STREAM, STRIDE_PER_S, Site};
use crate::bad::{BadClass, BadTargets, Probe};
use crate::config::{FleetConfig, SimError};
use crate::fields::TypePlan;
use crate::gate::GateTraffic;
use crate::models::{DeviceModel, ModelKind, Setup};
use crate::params::{FieldParams, RiverStation};
use crate::rng::{Draw, stream};
use crate::weather::SiteWeather;

/// A sensor type name the registry lacks, for [`BadClass::UnknownType`].
fn unknown_type(registry: &Registry) -> String {
    ["tide_gauge", "seismograph", "soil_probe"]
        .into_iter()
        .map(str::to_owned)
        .chain((1..).map(|i| format!("unknown_sensor_{i}")))
        .find(|t| registry.get(t).is_none())
        .unwrap_or_default()
}

/// Short, unique device id prefixes: initials of the type's words (`rl` for
/// river_level), the first two letters of a one-word type, or the whole
/// type name when those collide.
fn prefixes(types: &[&str]) -> Vec<String> {
    let initials: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "landslide" => "ls".to_owned(),
            "weighbridge" => "wb".to_owned(),
            _ => {
                let words: Vec<&str> = t.split(['_', '-', '.']).filter(|w| !w.is_empty()).collect();
                let p: String = match words.as_slice() {
                    [one] => one.chars().take(2).collect(),
                    many => many.iter().filter_map(|w| w.chars().next()).collect(),
                };
                p.to_ascii_lowercase()
            }
        })
        .collect();
    initials
        .iter()
        .zip(types)
        .map(|(p, t)| {
            let unique = !p.is_empty() && initials.iter().filter(|q| *q == p).count() == 1;
            let p = if unique { p.clone() } else { t.replace('_', "-") };
            p.chars().take(48).collect()
        })
        .collect()
}

impl Fleet {
    /// A fleet over every sensor type of `registry`, with FIELD.md's defaults.
    pub fn new(registry: &Registry, config: FleetConfig) -> Result<Fleet, SimError> {
        Self::with_params(registry, config, FieldParams::default())
    }

    /// A fleet with other field facts (climate, gate hours, coverage).
    pub fn with_params(registry: &Registry, config: FleetConfig, params: FieldParams) -> Result<Fleet, SimError> {
        config.validate()?;
        let unknown_type = unknown_type(registry);
        let probe = Probe {
            registry,
            site: &config.sites[0],
            unknown_type: &unknown_type,
            at_ns: config.start_ns,
            max_payload_bytes: config.max_payload_bytes,
        };
        for wanted in &config.types {
            if registry.get(wanted).is_none() {
                return Err(SimError::UnknownType {
                    sensor_type: wanted.clone(),
                    known: registry
                        .schemas()
                        .map(|s| s.sensor_type.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let wanted = |t: &str| config.types.is_empty() || config.types.iter().any(|w| w == t);
        let all_types: Vec<&str> = registry
            .schemas()
            .map(|s| &*s.sensor_type)
            .filter(|t| wanted(t))
            .collect();
        let all_prefixes = prefixes(&all_types);
        let (mut plans, mut targets, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        let mut kept_prefixes = Vec::new();
        for (schema, prefix) in registry.schemas().filter(|s| wanted(&s.sensor_type)).zip(&all_prefixes) {
            let ids = (format!("{prefix}-001"), format!("{prefix}-002"));
            let checked = TypePlan::new(schema).and_then(|plan| {
                let t = probe.run(&plan, &plan.baseline(config.start_ns, 1), (&ids.0, &ids.1))?;
                kept_prefixes.push(prefix.clone());
                Ok((plan, t))
            });
            match checked {
                Ok((plan, t)) => {
                    plans.push(plan);
                    targets.push(t);
                }
                Err(why) => {
                    tracing::warn!(sensor_type = %schema.sensor_type, "not simulated: {why}");
                    skipped.push((schema.sensor_type.to_string(), why));
                }
            }
        }
        if plans.is_empty() {
            let why: Vec<String> = skipped.iter().map(|(t, w)| format!("{t}: {w}")).collect();
            return Err(SimError::NoSensorTypes(if why.is_empty() {
                "the registry is empty".into()
            } else {
                why.join("; ")
            }));
        }
        let bad_classes: Vec<BadClass> = BadClass::ALL
            .into_iter()
            .filter(|c| targets.iter().any(|t: &BadTargets| t.supports(*c)))
            .collect();
        if config.bad_ratio > 0.0 && bad_classes.is_empty() {
            return Err(SimError::NoBadClasses {
                ratio: config.bad_ratio,
            });
        }

        let mut sites: Vec<Site> = config
            .sites
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let climate = params.site(name);
                let gate_site = climate.gate;
                Site {
                    name: name.clone(),
                    weather: SiteWeather::new(
                        climate,
                        &params,
                        stream(config.seed, SITE_STREAM, i as u64),
                        config.start_ns,
                    ),
                    gate: GateTraffic::new(&params.gate, config.seed, i),
                    gate_site,
                }
            })
            .collect();
        let gate_sites: Vec<usize> = (0..sites.len()).filter(|&i| sites[i].gate_site).collect();

        // Types round-robin over devices; gate equipment at the gate.
        let types: Vec<&str> = plans.iter().map(TypePlan::sensor_type).collect();
        let prefixes = kept_prefixes;
        let placed: Vec<(usize, usize, usize)> = (0..config.devices)
            .map(|i| {
                let plan = i % plans.len();
                let nth = i / plans.len();
                let site = if ModelKind::of(types[plan]).at_gate() && !gate_sites.is_empty() {
                    gate_sites[nth % gate_sites.len()]
                } else {
                    (nth + plan) % sites.len()
                };
                (plan, nth, site)
            })
            .collect();
        let per_type = |plan: usize| placed.iter().filter(|p| p.0 == plan).count();
        let mut devices = Vec::with_capacity(config.devices);
        let mut rivers = 0;
        for (i, &(plan, nth, site)) in placed.iter().enumerate() {
            let kind = ModelKind::of(types[plan]);
            let mut rng = stream(config.seed, DEVICE_STREAM, i as u64);
            let river = sites[site].weather.climate.river.clone().unwrap_or_else(|| {
                rivers += 1;
                params
                    .river_stations
                    .get((rivers - 1) % params.river_stations.len().max(1))
                    .cloned()
                    .unwrap_or(RiverStation {
                        name: "generic".into(),
                        base_stage_m: 100.0,
                        flood_mode_m: 101.5,
                    })
            });
            let poor_coverage = rng.chance(params.coverage.poor_share);
            let setup = Setup {
                kind,
                nth,
                same_at_site: placed.iter().filter(|p| p.0 == plan && p.2 == site).count(),
                river,
                poor_coverage,
                model_ns: config.start_ns,
            };
            if kind.at_gate() {
                sites[site].gate_site = true;
            }
            let other = if per_type(plan) > 1 {
                (nth + 1) % per_type(plan)
            } else {
                nth + 1
            };
            devices.push(Device {
                id: format!("{}-{:03}", prefixes[plan], nth + 1),
                other_id: format!("{}-{:03}", prefixes[plan], other + 1),
                site,
                plan,
                seq: rng.uniform(0.0, 100_000.0) as u64,
                last_model_ns: None,
                last_dt_h: 0.0,
                model: DeviceModel::new(&setup, &mut rng),
                rng,
                poor_coverage,
                link: Link::Online,
                buffer: VecDeque::new(),
                last_time_unit: None,
            });
        }
        let n_devices = devices.len() as u64;
        let queue = devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let stride = (d.model.cadence_s() * STRIDE_PER_S) as u64;
                Reverse((stride * i as u64 / n_devices.max(1), i))
            })
            .collect();
        let mut bad_fallback = [None; 8];
        for class in BadClass::ALL {
            bad_fallback[class.index()] = devices.iter().position(|d| targets[d.plan].supports(class));
        }
        let fleet = Fleet {
            step_ns: 1e9 / config.rate,
            config,
            params,
            plans,
            targets,
            skipped,
            sites,
            devices,
            queue,
            vtime: 0,
            silent: Vec::new(),
            n: 0,
            bad_acc: 0.0,
            bad_next: 0,
            bad_classes,
            bad_fallback,
            unknown_type,
            script: VecDeque::new(),
        };
        fleet.check_time_resolution()?;
        Ok(fleet)
    }

    /// Refuse a rate at which a device would send more than one sample per
    /// unit of its type's time field (an integer time in seconds at several
    /// messages per second per device): two samples of one series at one
    /// time overwrite each other in InfluxDB. Occasional bursts above it are
    /// spaced one unit apart instead (see `Fleet::reading`).
    fn check_time_resolution(&self) -> Result<(), SimError> {
        for (idx, dev) in self.devices.iter().enumerate() {
            let plan = &self.plans[dev.plan];
            let Some((unit_ns, unit, field)) = plan.time_unit() else {
                continue;
            };
            let every_ns = self.expected_interval_ns(idx);
            if every_ns < unit_ns {
                let max_rate = self.config.rate * every_ns as f64 / unit_ns as f64;
                return Err(SimError::TimeTooCoarse {
                    sensor_type: plan.sensor_type().to_owned(),
                    field,
                    unit,
                    rate: self.config.rate,
                    every_s: every_ns as f64 / 1e9,
                    max_rate: (max_rate * 1000.0).floor() / 1000.0,
                });
            }
        }
        Ok(())
    }
}
