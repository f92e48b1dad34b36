//! Prometheus text exposition of the gateway's counters.
//!
//! Every family is declared once. A stage's counter is declared with its
//! family where the stage keeps it, in a `telegate_model::stats!` struct
//! (`WalStats`, `SourceStats`, …); the [`families!`] list below includes
//! each such struct with one `group` line, and declares by hand only the
//! families that are computed (labelled rows, derived values, the write
//! health, whether the WAL is on). The page ([`render`]) and [`NAMES`]
//! (which deploy files, dashboards and tests are checked against) both
//! follow from the list, so a family can be neither rendered without being
//! listed nor listed without being rendered. Values are read from the same
//! atomics the stages already bump (relaxed loads): no registry, no lock or
//! allocation on the hot path; a scrape takes a few microseconds.
//! docs/architecture.md, "How to add a metric", shows the steps.

use std::fmt::{Display, Write as _};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_influx::{WriteHealth, WriterStats};
use telegate_model::RejectReason;
pub use telegate_model::metric::{Family, Group, Kind};
use telegate_model::metric::{Field, HistogramSnapshot};
use telegate_mqtt::SourceStats;
use telegate_wal::WalStats;

use crate::quarantine::QuarantineStats;
use crate::stats::{PipelineStats, Stats};

/// `# HELP` and `# TYPE` of a family.
fn header(family: &Family, out: &mut String) {
    let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
    let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind.as_str());
}

/// What a family's value expression gives; writes the whole family
/// (`# HELP`, `# TYPE` and samples).
pub trait Value {
    fn render(self, family: &Family, out: &mut String);
}

macro_rules! unlabelled {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn render(self, family: &Family, out: &mut String) {
                header(family, out);
                let _ = writeln!(out, "{} {}", family.name, self);
            }
        }
    )*};
}
unlabelled!(u64, u8, f64);

/// `None` leaves the family out (the WAL's, with the WAL off).
impl<T: Value> Value for Option<T> {
    fn render(self, family: &Family, out: &mut String) {
        if let Some(v) = self {
            v.render(family, out);
        }
    }
}

impl Value for HistogramSnapshot {
    fn render(self, family: &Family, out: &mut String) {
        header(family, out);
        let name = family.name;
        for (le, n) in &self.buckets {
            if le.is_infinite() {
                let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
            } else {
                let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
            }
        }
        let _ = writeln!(out, "{name}_sum {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// A field a `stats!` struct declares: a flag as 1 or 0.
impl Value for Field<'_> {
    fn render(self, family: &Family, out: &mut String) {
        match self {
            Field::Number(n) => n.load(Relaxed).render(family, out),
            Field::Flag(f) => u8::from(f.load(Relaxed)).render(family, out),
            Field::Histogram(h) => h.snapshot().render(family, out),
        }
    }
}

/// One sample per row: the values of the family's labels, in order, and
/// the sample's value. Label values are escaped.
#[derive(Debug)]
pub struct Rows<I>(pub I);

impl<I, L, S, V> Value for Rows<I>
where
    I: IntoIterator<Item = (L, V)>,
    L: IntoIterator<Item = S>,
    S: AsRef<str>,
    V: Display,
{
    fn render(self, family: &Family, out: &mut String) {
        header(family, out);
        for (values, v) in self.0 {
            out.push_str(family.name);
            for (i, (label, value)) in family.labels.iter().zip(values).enumerate() {
                out.push(if i == 0 { '{' } else { ',' });
                out.push_str(label);
                out.push_str("=\"");
                label_value(out, value.as_ref());
                out.push('"');
            }
            if !family.labels.is_empty() {
                out.push('}');
            }
            let _ = writeln!(out, " {v}");
        }
    }
}

/// Escape a label value (backslash, quote, newline), per the text format.
pub fn label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// One entry of a [`families!`] list with its value, written to the page
/// in list order.
pub trait Entry {
    fn render(self, out: &mut String);
}

/// A family declared in the list itself, and its value.
#[derive(Debug)]
pub struct Declared<V>(pub Family, pub V);

impl<V: Value> Entry for Declared<V> {
    fn render(self, out: &mut String) {
        self.1.render(&self.0, out);
    }
}

/// Every family a `stats!` struct declares, in its order; `None` leaves
/// them out (the WAL's, with the WAL off).
#[derive(Debug)]
pub struct Members<'a, G>(Option<&'a G>);

impl<'a, G> From<&'a G> for Members<'a, G> {
    fn from(group: &'a G) -> Self {
        Members(Some(group))
    }
}

impl<'a, G> From<Option<&'a G>> for Members<'a, G> {
    fn from(group: Option<&'a G>) -> Self {
        Members(group)
    }
}

impl<G: Group> Entry for Members<'_, G> {
    fn render(self, out: &mut String) {
        for (family, field) in self.0.into_iter().flat_map(G::fields) {
            field.render(family, out);
        }
    }
}

/// How many families `families` holds: the length of a [`families!`]
/// list's names.
pub const fn count(families: &[&[Family]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < families.len() {
        n += families[i].len();
        i += 1;
    }
    n
}

/// The names of `families`, in order, at compile time.
pub const fn names<const N: usize>(families: &[&[Family]]) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut k) = (0, 0);
    while i < families.len() {
        let mut j = 0;
        while j < families[i].len() {
            out[k] = families[i][j].name;
            (j, k) = (j + 1, k + 1);
        }
        i += 1;
    }
    out
}

/// Declares metric families, in page order, and from them the list of their
/// names and the function that renders them:
///
/// ```text
/// families! {
///     const NAMES;                                   // every name, in order
///     fn render(s: &Stats);                          // writes each family
///     group WalStats => s.wal.as_deref();            // a stats! struct's families
///     counter "telegate_x_total" "Help." => s.x();   // one computed family
///     gauge "telegate_y" ["label"] "Help." => Rows(...);
/// }
/// ```
///
/// A `group` is a struct declared with `telegate_model::stats!`: its value is
/// a reference to it, or an `Option` of one (`None`: its families are left
/// out). Any other entry's value is a [`Value`]: a number, an `Option` of
/// one (absent: the family is left out), a [`Rows`] of labelled samples, a
/// histogram.
macro_rules! families {
    (
        $(#[$names_meta:meta])* $names_vis:vis const $names:ident;
        $render_vis:vis fn $render:ident($($arg:ident: $arg_ty:ty),* $(,)?);
        $($entries:tt)*
    ) => {
        $crate::metrics::families!(@entry
            [$(#[$names_meta])* $names_vis const $names; $render_vis fn $render($($arg: $arg_ty),*);]
            [] []
            $($entries)*
        );
    };
    // Each entry adds its families to the first list and its value to the
    // second (a value, not a statement: a statement could not name the
    // render function's `out`, which a later expansion declares).
    (@entry $head:tt [$($families:tt)*] [$($values:tt)*]
        group $group:ty => $value:expr; $($rest:tt)*
    ) => {
        $crate::metrics::families!(@entry $head
            [$($families)* <$group as $crate::metrics::Group>::FAMILIES,]
            [$($values)* ($crate::metrics::Members::<$group>::from($value))]
            $($rest)*
        );
    };
    (@entry $head:tt [$($families:tt)*] [$($values:tt)*]
        $kind:ident $name:literal $([$($label:literal),+])? $help:literal => $value:expr;
        $($rest:tt)*
    ) => {
        $crate::metrics::families!(@entry $head
            [$($families)* &[$crate::metrics::families!(@family $kind $name [$($($label),+)?] $help)],]
            [$($values)* ($crate::metrics::Declared(
                $crate::metrics::families!(@family $kind $name [$($($label),+)?] $help),
                $value,
            ))]
            $($rest)*
        );
    };
    (@entry
        [$(#[$names_meta:meta])* $names_vis:vis const $names:ident;
            $render_vis:vis fn $render:ident($($arg:ident: $arg_ty:ty),*);]
        [$($families:tt)*] [$($values:tt)*]
    ) => {
        $(#[$names_meta])*
        $names_vis const $names: &[&str] = {
            const FAMILIES: &[&[$crate::metrics::Family]] = &[$($families)*];
            const LIST: [&str; $crate::metrics::count(FAMILIES)] = $crate::metrics::names(FAMILIES);
            &LIST
        };

        $render_vis fn $render(out: &mut String, $($arg: $arg_ty),*) {
            $( $crate::metrics::Entry::render($values, out); )*
        }
    };
    (@family $kind:ident $name:literal [$($label:literal),*] $help:literal) => {
        $crate::metrics::Family {
            name: $name,
            kind: $crate::metrics::families!(@kind $kind),
            labels: &[$($label),*],
            help: $help,
        }
    };
    (@kind counter) => { $crate::metrics::Kind::Counter };
    (@kind gauge) => { $crate::metrics::Kind::Gauge };
    (@kind histogram) => { $crate::metrics::Kind::Histogram };
}
pub(crate) use families;

/// What the gateway's own families read.
#[derive(Debug, Clone, Copy)]
struct Scrape<'a> {
    stats: &'a Stats,
    health: &'a WriteHealth,
    wal_oldest: Option<Duration>,
}

families! {
    /// The gateway's own families (the alert families are
    /// `alerting::stats::NAMES`).
    const CORE_NAMES;
    fn render_core(c: Scrape<'_>);
    gauge "telegate_up" "1 while the gateway runs." => 1u8;
    group SourceStats => &*c.stats.source;
    counter "telegate_mqtt_reconnects_total" "Connections after the first."
        => c.stats.source.connects.load(Relaxed).saturating_sub(1);
    group PipelineStats => &*c.stats.pipeline;
    counter "telegate_messages_rejected_total" ["reason"] "Messages rejected and sent to the dead-letter topic, by reason."
        => Rows(RejectReason::ALL.iter().map(|r| ([r.label()], c.stats.pipeline.rejected[r.index()].load(Relaxed))));
    group QuarantineStats => &*c.stats.pipeline.quarantine;
    group WriterStats => &*c.stats.writer;
    gauge "telegate_influx_writes_failing_seconds" "How long writes to the database have kept failing (0 while they succeed); /readyz is 503 past admin.ready_grace."
        => c.health.failing().map_or(0.0, |f| f.for_.as_secs_f64());
    counter "telegate_influx_databases_created_total" "Times a missing database was re-created while running (influx.create_database = true)."
        => c.health.databases_created();
    gauge "telegate_wal_enabled" "1 when the write-ahead log is on."
        => u8::from(c.stats.wal.is_some());
    group WalStats => c.stats.wal.as_deref();
    gauge "telegate_wal_oldest_age_seconds" "Age of the oldest WAL segment still holding readings not yet stored (0: none)."
        => c.stats.wal.as_ref().map(|_| c.wal_oldest.map_or(0.0, |d| d.as_secs_f64()));
    gauge "telegate_schema_generation" "Generation of the schemas in service (1 = as started)."
        => c.stats.reload.generation();
    counter "telegate_schema_reload_failures_total" "Schema or config reloads refused."
        => c.stats.reload.failures();
}

const ALL_NAMES: [&str; CORE_NAMES.len() + crate::alerting::stats::NAMES.len()] =
    concat(CORE_NAMES, crate::alerting::stats::NAMES);

/// Every metric family `/metrics` exposes, in page order (deploy files and
/// dashboards are checked against this list).
pub const NAMES: &[&str] = &ALL_NAMES;

const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

/// Families from other subsystems (the alert engine) appended to the page.
pub trait ExtraMetrics: Send + Sync + std::fmt::Debug {
    fn render(&self, out: &mut String);
}

/// The whole `/metrics` page.
pub fn render(
    stats: &Stats,
    health: &WriteHealth,
    wal_oldest: Option<Duration>,
    extra: Option<&dyn ExtraMetrics>,
) -> String {
    let mut out = String::with_capacity(8 * 1024);
    render_core(
        &mut out,
        Scrape {
            stats,
            health,
            wal_oldest,
        },
    );
    if let Some(extra) = extra {
        extra.render(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::alerting::stats::{AlertStats, OutputKind};

    /// Every declared field of every group set (a different number each,
    /// flags true, a few write durations), the counters behind the
    /// labelled families too, two rules' transitions (one name needing
    /// escapes).
    fn busy(wal: bool) -> (Stats, AlertStats) {
        let stats = Stats {
            stages: Arc::default(),
            pipeline: Arc::default(),
            source: Arc::default(),
            writer: Arc::default(),
            wal: wal.then(Arc::default),
            reload: Arc::default(),
        };
        let alerts = AlertStats::default();
        let p = &stats.pipeline;
        let declared = stats
            .source
            .fields()
            .chain(p.fields())
            .chain(p.quarantine.fields())
            .chain(stats.writer.fields())
            .chain(stats.wal.iter().flat_map(|w| w.fields()))
            .chain(alerts.fields())
            .map(|(_, field)| field);
        let outputs = OutputKind::ALL.map(|k| alerts.output(k));
        let labelled = p
            .rejected
            .iter()
            .chain([&alerts.queue_dropped, &alerts.queue_depth])
            .chain(
                outputs
                    .iter()
                    .flat_map(|o| [&o.delivered, &o.errors, &o.dropped, &o.depth]),
            )
            .map(Field::Number);
        for (i, field) in declared.chain(labelled).enumerate() {
            match field {
                Field::Number(n) => n.store(3 + 7 * i as u64, Relaxed),
                Field::Flag(f) => f.store(true, Relaxed),
                Field::Histogram(h) => {
                    for ms in [2, 30, 30, 900, 20_000] {
                        h.record(Duration::from_millis(ms));
                    }
                }
            }
        }
        alerts.transition("flood \"mường tè\"\\x", "firing");
        alerts.transition("flood \"mường tè\"\\x", "firing");
        alerts.transition("deadman\nrl-102", "resolved");
        (stats, alerts)
    }

    /// The page for [`busy`] stats, as scrapers and dashboards see it: a
    /// change of the page (a family, its help, its order) shows as a diff
    /// of these files.
    const BEFORE: [(bool, bool, &str); 4] = [
        (
            true,
            true,
            include_str!("../tests/golden/metrics/wal-true-oldest-true.prom"),
        ),
        (
            true,
            false,
            include_str!("../tests/golden/metrics/wal-true-oldest-false.prom"),
        ),
        (
            false,
            true,
            include_str!("../tests/golden/metrics/wal-false-oldest-true.prom"),
        ),
        (
            false,
            false,
            include_str!("../tests/golden/metrics/wal-false-oldest-false.prom"),
        ),
    ];

    #[test]
    fn declared_families_render_the_page_byte_for_byte_as_before() {
        let health = WriteHealth::default();
        for (wal, oldest, before) in BEFORE {
            let (stats, alerts) = busy(wal);
            let page = render(
                &stats,
                &health,
                oldest.then_some(Duration::from_millis(1500)),
                Some(&alerts as &dyn ExtraMetrics),
            );
            // A deliberate change of the page (a new family, a new output):
            // UPDATE_GOLDEN=1 rewrites the files, and the diff shows it.
            if std::env::var_os("UPDATE_GOLDEN").is_some() && page != before {
                let path = format!(
                    "{}/tests/golden/metrics/wal-{wal}-oldest-{oldest}.prom",
                    env!("CARGO_MANIFEST_DIR")
                );
                std::fs::write(&path, &page).unwrap_or_else(|e| panic!("{path}: {e}"));
                continue;
            }
            let oldest = oldest.then_some(Duration::from_millis(1500));
            assert_eq!(page, before);
            // Without alerting: the same page up to the alert families.
            let core = &before[..before.find("# HELP telegate_alert_").unwrap_or(before.len())];
            assert_eq!(render(&stats, &health, oldest, None), core);
        }
    }

    #[test]
    fn names_are_exactly_the_families_on_the_page() {
        let (stats, alerts) = busy(true);
        let page = render(
            &stats,
            &WriteHealth::default(),
            None,
            Some(&alerts as &dyn ExtraMetrics),
        );
        let on_page: Vec<&str> = page
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        assert_eq!(on_page, NAMES);
    }

    #[test]
    fn no_two_families_share_a_name() {
        let mut seen = HashSet::new();
        for name in NAMES {
            assert!(seen.insert(name), "{name} declared twice");
            assert!(name.starts_with("telegate_"), "{name}");
        }
    }
}
