#![doc = r#"
Alert rules engine: decoded readings ([`telegate_model::Point`]s) in,
alert [`Transition`]s out.

# Main types

- [`AlertConfig`] — rules read from TOML (`config/alerts.example.toml`
  documents every key) and validated; errors name the file, line, rule, key
  and fix.
- [`Engine`] — one state machine per (rule, series). [`Engine::observe`]
  takes a point and the wall time; [`Engine::tick`] runs the wall-clock
  timers; [`Engine::firing`] lists active alerts; [`Engine::snapshot`] /
  [`Engine::restore`] carry state across restarts and reloads.
- [`Transition`] — a change of one alert, serializable, with a message
  rendered from the rule's template.

The engine is synchronous, never reads a clock and does no I/O except
[`Snapshot::save`] / [`Snapshot::load`]: the gateway runs it on one task
fed by a bounded channel from the ingest path. A point costs a hash lookup
per candidate rule and, for window rules, a pass over the window (a
microsecond for a day of one-minute samples), far inside the one-second
budget from reading to alert.

# Rule kinds

| kind | fires when |
| --- | --- |
| `threshold` | the field's value is at or past a level (`above`, `below`, `outside` a band) |
| `sum`, `mean` | the sum / mean of the field over an event-time window is past a level |
| `rate` | the slope over the real span of the window's samples (oldest to newest, at least `min_span` apart), per `per`, is past a level |
| `state` | every `when` field equals its value (tamper = true) |
| `deadman` | no reading for longer than cadence × factor, the cadence following the device's mode |
| `combined` | every rule in `all_of` is firing for the same group (site or label) |

Value rules have one or more named levels, least to most severe (BĐ I <
BĐ II < BĐ III), each with a threshold and a clear level: a level is entered
at its threshold and left only past its clear level (hysteresis), so a value
hovering at a threshold does not flap.

# States

```text
        condition on          held for `for`             condition off
  ok ───────────────▶ pending ───────────────▶ firing ───────────────▶ resolved ──▶ ok
   ▲                     │                       │ ▲
   └──── cancelled ◀─────┘ (off before `for`)     └─┘ escalated / de-escalated / renotified
```

With `for = "0s"` a machine goes from ok straight to firing. While firing,
a more severe level must also hold for `for` before it escalates; a less
severe one takes over as soon as the current level's clear level is passed.
`resolved` is reported once, then the machine rests in `ok`. Every
transition carries an `alert_id` that is the same for the whole episode and
across restarts, and the episode's start; a firing alert's `since` is when
its current level was entered. A per-series flap limiter (`flap_limit`,
`flap_window`; the `flap` module) turns a series that keeps starting
alerts into one `flapping` transition and quiet until it settles.

# Time

Conditions are evaluated in **event time**, the device's sample time
(`Point::time_ns`); wall time (`now_ns`) is used only where event time
cannot answer.

- **Watermark per (rule, series).** The newest event time evaluated. A
  sample newer than it advances it and is evaluated at its own time.
- **Out-of-order and duplicate samples** (at or before the watermark) never
  move a state machine backwards. Threshold and state rules ignore them: a
  newer reading already decided the state. Window rules (sum, mean, rate)
  insert them into the window if they still fall inside it as of the
  watermark (a duplicate time replaces the sample, so a redelivered reading
  is not counted twice) and re-evaluate the aggregate **at the watermark**;
  that may move the machine forward (a late rain sample can complete a 3 h
  sum), never back in time. Samples older than the window are dropped.
- **Late batches.** A device back from a coverage gap uploads hours of
  samples, oldest first. They are newer than its watermark, so they are
  evaluated in order at their own event times: an alarm that started and
  ended during the gap is reported (fired, then resolved) with the event
  times it happened at, and an alarm still on is fired once. Redelivery of
  the same batch changes nothing.
- **`for` timers without new data.** [`Engine::tick`] fires a pending alert
  when the series' *estimated* event time — its watermark plus the wall time
  since the watermark last advanced — passes `since + for`: the last value
  is assumed to hold, as Prometheus does. A late batch's old watermark is
  advanced at upload time, so it cannot fire stale timers.
- **Windows move with data.** A window's end is the series' watermark, so
  sums and means are re-evaluated when samples arrive, not as wall time
  passes: a 24 h rain sum from a gauge that went quiet holds its last value
  (its silence is the deadman's business), and a backlog is summed over the
  device's own timeline.
- **Deadman** counts wall time since the last reading was *received*,
  whatever its event time. A late batch is a sign of life, so it resolves a
  firing deadman once and never fires a stale one, however old its samples.
  The cadence follows the mode field of the newest sample (10 min normally,
  a few minutes in flood mode).
- **Restarts.** Wall-clock timers (deadman silence, `for` extrapolation)
  do not count time before the engine's first call after start or restore,
  so a gateway outage does not make every device look dead. Re-notify
  intervals are wall time and do count it.
- **Re-notify** uses wall time since the last notification, so replaying a
  long backlog of an ongoing alarm does not re-notify once per hour of
  backlog.

# Restarts and reloads

[`Engine::snapshot`] captures phases (with pending-since, episode start,
last notification), watermarks, window samples and deadman state;
[`Snapshot::save`] writes it atomically (temp file, fsync, rename).
[`Engine::restore`] continues from it with possibly changed rules: state is
kept for rules whose id, kind and grouping are unchanged, levels are matched
by name, everything else is dropped. [`Engine::reload`] does the same in
place.
"#]

mod build;
mod combined;
mod config;
mod deadman;
mod device;
mod engine;
mod error;
mod escalation;
mod evaluate;
mod flap;
mod levels;
mod machine;
mod rule;
mod series;
mod snapshot;
mod state;
mod template;
mod transition;
mod window;

#[cfg(test)]
mod tests;

pub use config::AlertConfig;
pub use device::DeviceRecord;
pub use engine::Engine;
pub use error::{ConfigError, Location, SnapshotError};
pub use escalation::Escalation;
pub use machine::{AlertState, Change};
pub use rule::{LevelLine, Rule, Severity};
pub use series::SeriesKey;
pub use snapshot::Snapshot;
pub use transition::{ActiveAlert, LATE_NS, Transition};
