//! A stats struct whose metric fields declare their own families:
//! [`stats!`](crate::stats) and the [`Group`] it implements.

use std::sync::atomic::{AtomicBool, AtomicU64};

use super::{Family, Histogram};

/// A struct declared with [`stats!`](crate::stats): the families it
/// declares, and the field behind each, so a renderer needs one line per
/// struct rather than one per family.
pub trait Group {
    /// The declared families, in declaration order.
    const FAMILIES: &'static [Family];

    /// Each declared family with its field, in [`Group::FAMILIES`] order.
    fn fields(&self) -> impl Iterator<Item = (&'static Family, Field<'_>)>;
}

/// The field behind a declared family.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// `counter` or `gauge`.
    Number(&'a AtomicU64),
    /// `flag`: a gauge that is 1 while true, else 0.
    Flag(&'a AtomicBool),
    /// `histogram`.
    Histogram(&'a Histogram),
}

impl<'a> From<&'a AtomicU64> for Field<'a> {
    fn from(n: &'a AtomicU64) -> Self {
        Field::Number(n)
    }
}

impl<'a> From<&'a AtomicBool> for Field<'a> {
    fn from(f: &'a AtomicBool) -> Self {
        Field::Flag(f)
    }
}

impl<'a> From<&'a Histogram> for Field<'a> {
    fn from(h: &'a Histogram) -> Self {
        Field::Histogram(h)
    }
}

/// Declares a stats struct whose metric fields are also its metric
/// families: each is one line giving kind, field, family name and help.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
/// use telegate_model::metric::Group;
///
/// telegate_model::stats! {
///     /// Counters of the example stage.
///     pub struct ExampleStats {
///         counter done: "telegate_example_done_total" "Items finished.",
///         /// Doc comments add the why to the help.
///         gauge queued: "telegate_example_queued" "Items waiting.",
///         flag stalled: "telegate_example_stalled" "1 while the stage waits for its output.",
///         histogram took: "telegate_example_seconds" "Duration of each item.",
///         /// Not on `/metrics`: any field without a kind keyword.
///         pub retried: AtomicU64,
///     }
/// }
///
/// let stats = ExampleStats::default();
/// stats.done.fetch_add(1, Relaxed);
/// assert_eq!(ExampleStats::FAMILIES[0].name, "telegate_example_done_total");
/// assert_eq!(stats.fields().count(), 4);
/// ```
///
/// The kinds: `counter` and `gauge` (an `AtomicU64`), `flag` (an
/// `AtomicBool`, a gauge of 1 or 0), `histogram` (a
/// [`metric::Histogram`](crate::metric::Histogram)). The struct gets
/// `Debug` and `Default`; declared fields are `pub`, each documented with
/// its help, and [`Group`] lists them in declaration order. Families that
/// are computed rather than read from one field (labelled samples, values
/// derived from several fields) are written by hand where the page is
/// rendered.
#[macro_export]
macro_rules! stats {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($body:tt)* }
    ) => {
        $crate::stats!(@field [$(#[$meta])* $vis struct $name] [] [] $($body)*);
    };
    // A declared field: `counter`, `gauge`, `flag` or `histogram`.
    (@field $head:tt [$($fields:tt)*] [$($families:tt)*]
        $(#[$attr:meta])* $kind:ident $field:ident : $family:literal $help:literal $(, $($rest:tt)*)?
    ) => {
        $crate::stats!(@field $head
            [$($fields)* #[doc = $help] $(#[$attr])* pub $field: $crate::stats!(@type $kind),]
            [$($families)* $field $kind $family $help,]
            $($($rest)*)?);
    };
    // Any other field: part of the struct, not a family.
    (@field $head:tt [$($fields:tt)*] [$($families:tt)*]
        $(#[$attr:meta])* $field_vis:vis $field:ident : $ty:ty $(, $($rest:tt)*)?
    ) => {
        $crate::stats!(@field $head
            [$($fields)* $(#[$attr])* $field_vis $field: $ty,]
            [$($families)*]
            $($($rest)*)?);
    };
    (@field [$(#[$meta:meta])* $vis:vis struct $name:ident] [$($fields:tt)*]
        [$($field:ident $kind:ident $family:literal $help:literal,)*]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        $vis struct $name {
            $($fields)*
        }

        impl $crate::metric::Group for $name {
            const FAMILIES: &'static [$crate::metric::Family] = &[$(
                $crate::metric::Family {
                    name: $family,
                    kind: $crate::stats!(@kind $kind),
                    labels: &[],
                    help: $help,
                },
            )*];

            fn fields(
                &self,
            ) -> impl ::std::iter::Iterator<Item = (&'static $crate::metric::Family, $crate::metric::Field<'_>)>
            {
                <Self as $crate::metric::Group>::FAMILIES
                    .iter()
                    .zip([$($crate::metric::Field::from(&self.$field)),*])
            }
        }
    };
    (@type counter) => { ::std::sync::atomic::AtomicU64 };
    (@type gauge) => { ::std::sync::atomic::AtomicU64 };
    (@type flag) => { ::std::sync::atomic::AtomicBool };
    (@type histogram) => { $crate::metric::Histogram };
    (@kind counter) => { $crate::metric::Kind::Counter };
    (@kind gauge) => { $crate::metric::Kind::Gauge };
    (@kind flag) => { $crate::metric::Kind::Gauge };
    (@kind histogram) => { $crate::metric::Kind::Histogram };
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use super::*;
    use crate::metric::Kind;

    crate::stats! {
        /// Every kind of field, and fields that are not families.
        struct Declared {
            counter done: "x_done_total" "Done.",
            /// Not part of the help.
            gauge queued: "x_queued" "Queued.",
            plain: AtomicU64,
            flag stalled: "x_stalled" "Stalled.",
            /// Private, with a type that is not an atomic.
            notes: std::sync::Mutex<Vec<String>>,
            histogram took: "x_seconds" "Took."
        }
    }

    #[test]
    fn families_follow_the_declarations_in_order() {
        let names: Vec<_> = Declared::FAMILIES.iter().map(|f| (f.name, f.kind, f.help)).collect();
        assert_eq!(
            names,
            [
                ("x_done_total", Kind::Counter, "Done."),
                ("x_queued", Kind::Gauge, "Queued."),
                ("x_stalled", Kind::Gauge, "Stalled."),
                ("x_seconds", Kind::Histogram, "Took."),
            ]
        );
        assert!(Declared::FAMILIES.iter().all(|f| f.labels.is_empty()));
    }

    /// What a renderer sees of a field: a number, a flag as 0 or 1, a
    /// histogram's count.
    fn value(field: Field<'_>) -> u64 {
        match field {
            Field::Number(n) => n.load(Relaxed),
            Field::Flag(f) => u64::from(f.load(Relaxed)),
            Field::Histogram(h) => h.snapshot().count,
        }
    }

    #[test]
    fn fields_are_the_declared_fields_in_order() {
        let s = Declared::default();
        s.done.fetch_add(3, Relaxed);
        s.queued.store(5, Relaxed);
        s.plain.store(99, Relaxed);
        s.stalled.store(true, Relaxed);
        s.took.record(Duration::from_millis(20));
        s.took.record(Duration::from_millis(30));
        if let Ok(mut notes) = s.notes.lock() {
            notes.push("kept".into());
        }
        let fields: Vec<_> = s.fields().map(|(f, v)| (f.name, value(v))).collect();
        assert_eq!(
            fields,
            [("x_done_total", 3), ("x_queued", 5), ("x_stalled", 1), ("x_seconds", 2)]
        );
    }
}
