//! Running compiled rules over a decoded message.
//!
//! One walk serves two purposes through its [`Sink`]: on the hot path
//! [`Found`] stops at the first violation (a valid message pays only for
//! the comparisons); when something failed, [`Explain`] walks again and
//! collects what the dynamic path's detail shows — the first three
//! violations in the validator's order (fields by number, list rules before
//! items, a message's fields inside its list item), the total count, and
//! whether any was `required` (which makes the reason `missing_field`).

use std::fmt;

use prost_protovalidate_types::rules_meta::{boolean, enumeration, numeric, repeated};
use telegate_model::{RejectReason, Rejection};

use super::Transcoder;
use super::parse::{Item, Scratch};
use super::plan::{Scalar, Slot};
use super::rules::{CheckKind, ListRules, NumRules, StrCheck, StrRules, ValueRules};

/// Where a violation is: `device_id`, `samples[2].stage_m`, `samples[0].axle_loads_t[3]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    sample: Option<(&'a str, usize)>,
    field: &'a str,
    item: Option<usize>,
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((samples, i)) = self.sample {
            write!(f, "{samples}[{i}].")?;
        }
        f.write_str(self.field)?;
        if let Some(j) = self.item {
            write!(f, "[{j}]")?;
        }
        Ok(())
    }
}

pub(crate) trait Sink {
    /// Record a violation; true means stop walking.
    fn violation(&mut self, at: At<'_>, rule_id: &str, message: &str) -> bool;
}

/// Whether any rule fails; stops at the first.
#[derive(Debug, Default)]
pub(crate) struct Found(pub(crate) bool);

impl Sink for Found {
    fn violation(&mut self, _: At<'_>, _: &str, _: &str) -> bool {
        self.0 = true;
        true
    }
}

/// The rejection the dynamic path builds from the validator's violations.
#[derive(Debug, Default)]
pub(crate) struct Explain {
    count: usize,
    required: bool,
    detail: String,
}

impl Sink for Explain {
    fn violation(&mut self, at: At<'_>, rule_id: &str, message: &str) -> bool {
        use std::fmt::Write as _;
        self.count += 1;
        self.required |= rule_id == "required";
        if self.count <= 3 {
            if self.count > 1 {
                self.detail.push_str("; ");
            }
            let _ = write!(self.detail, "{at}: {message} [{rule_id}]");
        }
        false
    }
}

impl Explain {
    pub(crate) fn into_rejection(mut self) -> Rejection {
        use std::fmt::Write as _;
        if self.count > 3 {
            let _ = write!(self.detail, "; and {} more", self.count - 3);
        }
        let reason = if self.required {
            RejectReason::MissingField
        } else {
            RejectReason::ConstraintViolated
        };
        Rejection::new(reason, self.detail)
    }
}

/// Walk every rule of the message; true if the sink stopped it.
pub(crate) fn validate<S: Sink>(t: &Transcoder, payload: &[u8], s: &Scratch, sink: &mut S) -> bool {
    let no_items: &[Item] = &s.batch_items;
    for check in &t.batch_checks {
        let at = At {
            sample: None,
            field: &check.name,
            item: None,
        };
        let stopped = match &check.kind {
            CheckKind::Samples { rules } => {
                list_rules(rules, s.sample_count(), at, sink)
                    || (0..s.sample_count()).any(|i| {
                        let (slots, items) = s.sample(i, t.sample.defaults.len());
                        t.sample_checks.iter().any(|c| {
                            let at = At {
                                sample: Some((&t.samples_field, i)),
                                field: &c.name,
                                item: None,
                            };
                            field(&c.kind, slots, items, payload, at, sink)
                        })
                    })
            }
            kind => field(kind, &s.batch, no_items, payload, at, sink),
        };
        if stopped {
            return true;
        }
    }
    false
}

fn field<S: Sink>(kind: &CheckKind, slots: &[Slot], items: &[Item], payload: &[u8], at: At<'_>, sink: &mut S) -> bool {
    match kind {
        CheckKind::Scalar {
            slot,
            presence,
            required,
            rules,
        } => {
            let Some(slot) = slots.get(usize::from(*slot)) else {
                return false;
            };
            if *required && !slot.set {
                return sink.violation(at, "required", "value is required");
            }
            if *presence && !slot.set {
                return false;
            }
            rules.as_ref().is_some_and(|r| value(r, slot.value, payload, at, sink))
        }
        CheckKind::Required { slot } => {
            let set = slots.get(usize::from(*slot)).is_some_and(|s| s.set);
            !set && sink.violation(at, "required", "value is required")
        }
        CheckKind::List {
            list,
            rules,
            items: item_rules,
        } => {
            let mine = || items.iter().filter(|it| it.list == *list);
            if list_rules(rules, mine().count(), at, sink) {
                return true;
            }
            let Some(item_rules) = item_rules else {
                return false;
            };
            mine().enumerate().any(|(j, it)| {
                let at = At { item: Some(j), ..at };
                value(item_rules, it.value, payload, at, sink)
            })
        }
        // Only the batch has samples; `validate` handles them.
        CheckKind::Samples { .. } => false,
    }
}

fn list_rules<S: Sink>(rules: &ListRules, count: usize, at: At<'_>, sink: &mut S) -> bool {
    let count = count as u64;
    if let Some((min, message)) = &rules.min_items
        && count < *min
        && sink.violation(at, repeated::MIN_ITEMS_ID, message)
    {
        return true;
    }
    if let Some((max, message)) = &rules.max_items
        && count > *max
        && sink.violation(at, repeated::MAX_ITEMS_ID, message)
    {
        return true;
    }
    false
}

fn value<S: Sink>(rules: &ValueRules, v: Scalar, payload: &[u8], at: At<'_>, sink: &mut S) -> bool {
    match (rules, v) {
        (ValueRules::F64(r), Scalar::F64(x)) => number(r, x, at, sink),
        (ValueRules::F32(r), Scalar::F32(x)) => number(r, x, at, sink),
        (ValueRules::I32(r), Scalar::I32(x)) => number(r, x, at, sink),
        (ValueRules::I64(r), Scalar::I64(x)) => number(r, x, at, sink),
        (ValueRules::U32(r), Scalar::U32(x)) => number(r, x, at, sink),
        (ValueRules::U64(r), Scalar::U64(x)) => number(r, x, at, sink),
        (ValueRules::Bool { constant }, Scalar::Bool(b)) => match constant {
            Some((c, message)) if b != *c => sink.violation(at, boolean::CONST_ID, message),
            _ => false,
        },
        (ValueRules::Str(r), Scalar::Str(start, end)) => string(
            r,
            payload.get(start as usize..end as usize).unwrap_or_default(),
            at,
            sink,
        ),
        (ValueRules::Enum(r), Scalar::Enum(n)) => {
            if let Some((c, message)) = &r.constant
                && n != *c
                && sink.violation(at, enumeration::CONST_ID, message)
            {
                return true;
            }
            match &r.defined {
                Some(defined) if defined.binary_search(&n).is_err() => {
                    sink.violation(at, enumeration::DEFINED_ONLY_ID, enumeration::DEFINED_ONLY_MESSAGE)
                }
                _ => false,
            }
        }
        // The plan pairs rules with their field's kind; nothing else reaches here.
        _ => false,
    }
}

/// The numeric kinds' float behaviour, as the validator's two macros split it.
pub(crate) trait Num: PartialOrd + Copy {
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
}

macro_rules! int_num {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn is_nan(self) -> bool { false }
            fn is_infinite(self) -> bool { false }
        }
    )*};
}
int_num!(i32, i64, u32, u64);

impl Num for f64 {
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_infinite(self) -> bool {
        f64::is_infinite(self)
    }
}

impl Num for f32 {
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_infinite(self) -> bool {
        f32::is_infinite(self)
    }
}

fn number<T: Num, S: Sink>(r: &NumRules<T>, v: T, at: At<'_>, sink: &mut S) -> bool {
    // Floats: a failed `finite`, or a NaN against a range, is the only violation.
    if let Some(id) = &r.finite
        && (v.is_nan() || v.is_infinite())
    {
        return sink.violation(at, id, numeric::FINITE_MESSAGE);
    }
    if v.is_nan()
        && let Some((range, _, _)) = &r.range
    {
        return sink.violation(at, &range.rule_id, "");
    }
    if let Some((c, id, message)) = &r.constant
        && v != *c
        && sink.violation(at, id, message)
    {
        return true;
    }
    if let Some((range, gt, lt)) = &r.range
        && range.kind.violated(*gt, *lt, v)
        && sink.violation(at, &range.rule_id, &range.message)
    {
        return true;
    }
    if let Some((allowed, id)) = &r.allowed
        && !allowed.contains(&v)
        && sink.violation(at, id, numeric::IN_MESSAGE)
    {
        return true;
    }
    if let Some((denied, id)) = &r.denied
        && denied.contains(&v)
        && sink.violation(at, id, numeric::NOT_IN_MESSAGE)
    {
        return true;
    }
    false
}

/// String rules on the raw bytes, which were checked as UTF-8 when read:
/// characters are the bytes that do not continue a UTF-8 sequence.
fn string<S: Sink>(r: &StrRules, s: &[u8], at: At<'_>, sink: &mut S) -> bool {
    let text = || std::str::from_utf8(s).unwrap_or_default();
    let chars = if r.counts_chars {
        s.iter().filter(|&&b| b & 0xc0 != 0x80).count() as u64
    } else {
        0
    };
    let bytes = s.len() as u64;
    for (id, message, check) in &r.checks {
        let bad = match check {
            StrCheck::Const(c) => s != c.as_bytes(),
            StrCheck::Len(n) => chars != *n,
            StrCheck::MinLen(n) => chars < *n,
            StrCheck::MaxLen(n) => chars > *n,
            StrCheck::LenBytes(n) => bytes != *n,
            StrCheck::MinBytes(n) => bytes < *n,
            StrCheck::MaxBytes(n) => bytes > *n,
            StrCheck::Pattern(re) => !re.is_match(text()),
            StrCheck::Class(class) => !class.is_match(s),
            StrCheck::Prefix(p) => !s.starts_with(p.as_bytes()),
            StrCheck::Suffix(p) => !s.ends_with(p.as_bytes()),
            StrCheck::Contains(p) => !text().contains(p.as_str()),
            StrCheck::NotContains(p) => text().contains(p.as_str()),
        };
        if bad && sink.violation(at, id, message) {
            return true;
        }
    }
    false
}
