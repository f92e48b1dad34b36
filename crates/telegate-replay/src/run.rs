//! Feeding a scripted period to the engine, in event time.

use telegate_alert::{AlertConfig, Engine, Transition};
use telegate_model::{Point, TopicFields, TopicPattern};
use telegate_schema::{Limits, Registry};
use telegate_sim::scenario::{Encoder, MonthConfig, Reading, Scenario, month};

use crate::error::ReplayError;
use crate::score::{Report, score};

/// How often the engine's wall-clock timers run (simulated time).
const TICK_NS: i64 = 60_000_000_000;
/// Most samples in one late batch (the schemas' `max_items`).
const MAX_BATCH: usize = 1000;

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Days to simulate (at least 6).
    pub days: u32,
    /// Seed of the scenario.
    pub seed: u64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { days: 30, seed: 1 }
    }
}

/// The engine's output for a scenario.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub scenario: Scenario,
    pub transitions: Vec<Transition>,
    /// Messages sent (one per live reading, one per late batch).
    pub messages: usize,
    /// Messages the gateway would have refused (a scenario bug: expected 0).
    pub rejected: Vec<String>,
}

/// Script the period, run it and score it.
pub fn replay(rules: &AlertConfig, registry: &Registry, options: &ReplayOptions) -> Result<Report, ReplayError> {
    let scenario = month(&MonthConfig {
        days: options.days,
        seed: options.seed,
        ..MonthConfig::default()
    });
    let replayed = run(rules, registry, scenario)?;
    Ok(score(rules, &replayed, options))
}

/// Feed `scenario`'s readings, as the messages devices send, to a fresh
/// engine with `rules`.
pub fn run(rules: &AlertConfig, registry: &Registry, scenario: Scenario) -> Result<Replayed, ReplayError> {
    let pattern = TopicPattern::parse("telemetry/{site}/{device_id}/{sensor_type}")?;
    let mut encoder = Encoder::new(registry, pattern)?;
    let mut engine = Engine::new(rules.clone());
    let limits = Limits::default();
    let mut out = Vec::new();
    let mut points: Vec<Point> = Vec::new();
    let mut rejected = Vec::new();
    let mut messages = 0;
    let mut next_tick = scenario.start_ns;
    for batch in batches(&scenario.readings) {
        let Some(first) = batch.first() else { continue };
        let arrive = first.arrive_ns;
        while next_tick <= arrive {
            engine.tick_into(next_tick, &mut out);
            next_tick += TICK_NS;
        }
        let Some(msg) = encoder.encode(batch, arrive) else {
            rejected.push(format!(
                "{}: sensor type {} not in the registry",
                first.device_id, first.sensor_type
            ));
            continue;
        };
        messages += 1;
        let origin = TopicFields {
            site: &first.site,
            device_id: &first.device_id,
            sensor_type: first.sensor_type,
        };
        points.clear();
        if let Err(r) = registry.decode(&origin, &msg.payload, arrive, &limits, &mut points) {
            rejected.push(format!("{}: {r}", msg.topic));
            continue;
        }
        for p in &points {
            engine.observe_into(p, arrive, &mut out);
        }
    }
    while next_tick <= scenario.end_ns {
        engine.tick_into(next_tick, &mut out);
        next_tick += TICK_NS;
    }
    Ok(Replayed {
        scenario,
        transitions: out,
        messages,
        rejected,
    })
}

/// One message per live reading; a device's samples that arrive together
/// (after a coverage gap) as batches.
fn batches(readings: &[Reading]) -> Vec<&[Reading]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=readings.len() {
        let same = readings.get(i).is_some_and(|r| {
            let f = &readings[start];
            r.arrive_ns == f.arrive_ns
                && r.arrive_ns > r.time_ns
                && r.device_id == f.device_id
                && r.sensor_type == f.sensor_type
                && i - start < MAX_BATCH
        });
        if !same {
            out.push(&readings[start..i]);
            start = i;
        }
    }
    out
}
