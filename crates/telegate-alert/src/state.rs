//! What the engine remembers per (rule, series) between points.

use crate::flap::FlapGuard;
use crate::machine::Phase;
use crate::window::Window;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesState {
    pub(crate) phase: Phase,
    /// Newest device time evaluated: the series' watermark. Samples at or
    /// before it never drive the state machine again.
    pub(crate) watermark_ns: Option<i64>,
    /// Wall time the watermark last advanced; `for` timers extrapolate the
    /// series' event time from it when no new data comes.
    pub(crate) advanced_wall_ns: i64,
    /// Wall time the last reading of any age was received (deadman).
    pub(crate) last_seen_wall_ns: i64,
    /// The number last compared with the levels (deadman: silence in
    /// seconds).
    pub(crate) value: Option<f64>,
    /// Deadman: the device's reporting mode (`normal`, `flood`).
    pub(crate) mode: Option<String>,
    /// Samples of sum, mean and rate rules.
    pub(crate) window: Window,
    /// Combined rules: each component's value at the last evaluation.
    pub(crate) components: Vec<(String, f64)>,
    /// The flap limiter's memory.
    pub(crate) flap: FlapGuard,
}

impl SeriesState {
    pub(crate) fn new(now_ns: i64) -> SeriesState {
        SeriesState {
            phase: Phase::Ok,
            watermark_ns: None,
            advanced_wall_ns: now_ns,
            last_seen_wall_ns: now_ns,
            value: None,
            mode: None,
            window: Window::default(),
            components: Vec::new(),
            flap: FlapGuard::default(),
        }
    }

    /// The sample at `t` is the newest so far.
    pub(crate) fn advance(&mut self, t: i64, now_ns: i64) {
        self.watermark_ns = Some(t);
        self.advanced_wall_ns = now_ns;
    }

    /// Whether `t` is newer than everything evaluated so far.
    pub(crate) fn is_new(&self, t: i64) -> bool {
        self.watermark_ns.is_none_or(|w| t > w)
    }

    /// The series' event time now, assuming the device clock runs at the
    /// rate of ours since its last new sample; wall time before `epoch_ns`
    /// (engine start or restore) does not count.
    pub(crate) fn estimated_event_ns(&self, now_ns: i64, epoch_ns: i64) -> Option<i64> {
        let since = self.advanced_wall_ns.max(epoch_ns);
        self.watermark_ns
            .map(|w| w.saturating_add(now_ns.saturating_sub(since).max(0)))
    }
}
