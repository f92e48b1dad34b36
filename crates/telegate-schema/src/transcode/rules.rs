//! `buf.validate` rules compiled into direct checks on decoded scalars.
//!
//! The subset is what sensor schemas use, evaluated as `prost-protovalidate`
//! 0.6 evaluates it (same order, same rule ids and messages, taken from
//! `prost_protovalidate_types::rules_meta`, the tables that crate uses):
//!
//! - numbers (all twelve kinds): `gt`/`gte`/`lt`/`lte` (including inverted,
//!   "exclusive" ranges), `const`, `in`, `not_in`, `finite`;
//! - strings: `const`, `len`, `min_len`, `max_len`, `len_bytes`,
//!   `min_bytes`, `max_bytes`, `pattern`, `prefix`, `suffix`, `contains`,
//!   `not_contains`;
//! - enums: `const`, `defined_only`; bools: `const`;
//! - repeated: `min_items`, `max_items`, `items` (with the rules above);
//! - `required` on fields with presence (the Timestamp time, `optional`).
//!
//! Anything else — CEL, `ignore`, string and enum `in`/`not_in` (their
//! messages list a hash set in no fixed order), `well_known`, `strict`,
//! `unique`, timestamp rules, `required` on implicit-presence fields — makes
//! the whole type [`Unsupported`]: a rule is never skipped. The rule structs
//! are destructured field by field, so a rule added to the types crate does
//! not compile here until it is handled.

use std::sync::Arc;

use prost_protovalidate_types::field_rules::Type;
use prost_protovalidate_types::rules_meta::{boolean, enumeration, numeric, repeated, string as smeta};
use prost_protovalidate_types::{
    BoolRules, EnumRules, FieldConstraintsExt as _, FieldRules, RepeatedRules as RepeatedProto, StringRules,
};
use prost_reflect::{FieldDescriptor, Kind};
use regex::Regex;

use super::Unsupported;
use super::pattern::ClassPattern;
use super::plan::Target;

/// One field's rules, evaluated in field-number order like the validator's
/// field evaluators.
#[derive(Debug)]
pub(crate) struct Check {
    /// The protobuf field name: violations are reported under it.
    pub(crate) name: Arc<str>,
    pub(crate) kind: CheckKind,
}

#[derive(Debug)]
pub(crate) enum CheckKind {
    /// A singular scalar. With presence, an absent field is skipped (or
    /// violates `required`); without, its rules see the default value.
    Scalar {
        slot: u16,
        presence: bool,
        required: bool,
        rules: Option<ValueRules>,
    },
    /// A repeated scalar: list rules, then item rules per item.
    List {
        list: u16,
        rules: ListRules,
        items: Option<ValueRules>,
    },
    /// A message field: `required` is its only supported rule.
    Required { slot: u16 },
    /// The samples: list rules, then each sample's checks in order.
    Samples { rules: ListRules },
}

#[derive(Debug, Default)]
pub(crate) struct ListRules {
    pub(crate) min_items: Option<(u64, String)>,
    pub(crate) max_items: Option<(u64, String)>,
}

#[derive(Debug)]
pub(crate) enum ValueRules {
    F64(NumRules<f64>),
    F32(NumRules<f32>),
    I32(NumRules<i32>),
    I64(NumRules<i64>),
    U32(NumRules<u32>),
    U64(NumRules<u64>),
    Bool { constant: Option<(bool, String)> },
    Str(Box<StrRules>),
    Enum(EnumChecks),
}

/// Numeric rules: const, range, in, not_in, finite.
#[derive(Debug)]
pub(crate) struct NumRules<T> {
    pub(crate) constant: Option<(T, String, String)>,
    /// The range rule and its `gt`/`gte` and `lt`/`lte` bounds.
    pub(crate) range: Option<(numeric::RangeRule, Option<T>, Option<T>)>,
    pub(crate) allowed: Option<(Vec<T>, String)>,
    pub(crate) denied: Option<(Vec<T>, String)>,
    pub(crate) finite: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct StrRules {
    /// (rule id, message, check) in the validator's order.
    pub(crate) checks: Vec<(&'static str, String, StrCheck)>,
    pub(crate) counts_chars: bool,
}

#[derive(Debug)]
pub(crate) enum StrCheck {
    Const(String),
    Len(u64),
    MinLen(u64),
    MaxLen(u64),
    LenBytes(u64),
    MinBytes(u64),
    MaxBytes(u64),
    Pattern(Regex),
    /// A `^[class]+$`-style pattern, checked with a byte table.
    Class(Box<ClassPattern>),
    Prefix(String),
    Suffix(String),
    Contains(String),
    NotContains(String),
}

#[derive(Debug)]
pub(crate) struct EnumChecks {
    pub(crate) constant: Option<(i32, String)>,
    /// Sorted defined numbers, for `defined_only`.
    pub(crate) defined: Option<Vec<i32>>,
}

fn unsupported<T>(field: &FieldDescriptor, problem: &str) -> Result<T, Unsupported> {
    Err(Unsupported::field(field, problem))
}

/// The field's rules with the parts every check shares validated.
fn field_rules(field: &FieldDescriptor) -> Result<Option<(bool, Option<Type>)>, Unsupported> {
    let rules = field
        .field_constraints()
        .map_err(|e| Unsupported::field(field, &format!("buf.validate.field: {e}")))?;
    let Some(FieldRules {
        cel_expression,
        cel,
        required,
        ignore,
        r#type,
    }) = rules
    else {
        return Ok(None);
    };
    if !cel_expression.is_empty() || !cel.is_empty() {
        return unsupported(field, "CEL rules are not transcoded");
    }
    if ignore.is_some_and(|i| i != 0) {
        return unsupported(field, "buf.validate `ignore` is not transcoded");
    }
    Ok(Some((required.unwrap_or(false), r#type)))
}

/// The check of a scalar or repeated scalar field, if it has rules.
pub(crate) fn field_check(field: &FieldDescriptor, target: Target) -> Result<Option<Check>, Unsupported> {
    let Some((required, ty)) = field_rules(field)? else {
        return Ok(None);
    };
    let kind = match target {
        Target::Slot(slot) => {
            let presence = field.supports_presence();
            if required && !presence {
                return unsupported(field, "`required` on a field without presence is not transcoded");
            }
            let rules = ty.map(|t| value_rules(field, t)).transpose()?;
            if rules.is_none() && !required {
                return Ok(None);
            }
            CheckKind::Scalar {
                slot,
                presence,
                required,
                rules,
            }
        }
        Target::List(list) => {
            if required {
                return unsupported(field, "`required` on a repeated field is not transcoded");
            }
            let Some(Type::Repeated(r)) = ty else {
                return match ty {
                    None => Ok(None),
                    Some(_) => unsupported(field, "a repeated field takes `repeated` rules"),
                };
            };
            let (rules, items) = list_rules(field, *r)?;
            let items = items.map(|t| value_rules(field, t)).transpose()?;
            CheckKind::List { list, rules, items }
        }
    };
    Ok(Some(Check {
        name: field.name().into(),
        kind,
    }))
}

/// The samples field's check: always present, because sample checks run from it.
pub(crate) fn samples_check(field: &FieldDescriptor) -> Result<Check, Unsupported> {
    let rules = match field_rules(field)? {
        None | Some((false, None)) => ListRules::default(),
        Some((false, Some(Type::Repeated(r)))) => match list_rules(field, *r)? {
            (rules, None) => rules,
            (_, Some(_)) => return unsupported(field, "`repeated.items` rules on the samples are not transcoded"),
        },
        Some(_) => return unsupported(field, "only min_items and max_items are transcoded on the samples"),
    };
    Ok(Check {
        name: field.name().into(),
        kind: CheckKind::Samples { rules },
    })
}

/// The check of a message field (the Timestamp time): `required` only.
pub(crate) fn message_check(field: &FieldDescriptor, slot: u16) -> Result<Option<Check>, Unsupported> {
    match field_rules(field)? {
        None | Some((false, None)) => Ok(None),
        Some((true, None)) => Ok(Some(Check {
            name: field.name().into(),
            kind: CheckKind::Required { slot },
        })),
        Some((_, Some(_))) => unsupported(field, "rules on a message field are not transcoded"),
    }
}

fn list_rules(field: &FieldDescriptor, r: RepeatedProto) -> Result<(ListRules, Option<Type>), Unsupported> {
    let RepeatedProto {
        min_items,
        max_items,
        unique,
        items,
    } = r;
    if unique.unwrap_or(false) {
        return unsupported(field, "`repeated.unique` is not transcoded");
    }
    let items = match items.map(|b| *b) {
        None => None,
        Some(FieldRules {
            cel_expression,
            cel,
            required,
            ignore,
            r#type,
        }) => {
            if !cel_expression.is_empty() || !cel.is_empty() || required.is_some() || ignore.is_some_and(|i| i != 0) {
                return unsupported(field, "item rules other than typed rules are not transcoded");
            }
            r#type
        }
    };
    let rules = ListRules {
        min_items: min_items.map(|n| (n, repeated::min_items_message(n))),
        max_items: max_items.map(|n| (n, repeated::max_items_message(n))),
    };
    Ok((rules, items))
}

macro_rules! bounds {
    ($r:expr, $m:ident) => {{
        use prost_protovalidate_types::$m::{GreaterThan, LessThan};
        let (gt, gte) = match $r.0 {
            Some(GreaterThan::Gt(v)) => (Some(v), None),
            Some(GreaterThan::Gte(v)) => (None, Some(v)),
            None => (None, None),
        };
        let (lt, lte) = match $r.1 {
            Some(LessThan::Lt(v)) => (Some(v), None),
            Some(LessThan::Lte(v)) => (None, Some(v)),
            None => (None, None),
        };
        (gt, gte, lt, lte)
    }};
}

/// Numeric rules of one kind; `$finite` names the field of float rules.
macro_rules! num {
    ($r:expr, $ty:ident, $m:ident, $prefix:literal, $variant:ident) => {{
        let prost_protovalidate_types::$ty {
            r#const,
            r#in,
            not_in,
            example: _,
            less_than,
            greater_than,
        } = $r;
        let b = bounds!((greater_than, less_than), $m);
        ValueRules::$variant(NumRules::new($prefix, r#const, b, r#in, not_in, false))
    }};
    ($r:expr, $ty:ident, $m:ident, $prefix:literal, $variant:ident, finite) => {{
        let prost_protovalidate_types::$ty {
            r#const,
            r#in,
            not_in,
            finite,
            example: _,
            less_than,
            greater_than,
        } = $r;
        let b = bounds!((greater_than, less_than), $m);
        ValueRules::$variant(NumRules::new(
            $prefix,
            r#const,
            b,
            r#in,
            not_in,
            finite.unwrap_or(false),
        ))
    }};
}

impl<T: PartialOrd + Copy + std::fmt::Display> NumRules<T> {
    fn new(
        prefix: &'static str,
        constant: Option<T>,
        (gt, gte, lt, lte): (Option<T>, Option<T>, Option<T>, Option<T>),
        allowed: Vec<T>,
        denied: Vec<T>,
        finite: bool,
    ) -> Self {
        Self {
            constant: constant.map(|c| (c, numeric::const_id(prefix), numeric::const_message(c))),
            range: numeric::range_rule(prefix, gt, gte, lt, lte, T::to_string).map(|r| (r, gt.or(gte), lt.or(lte))),
            allowed: (!allowed.is_empty()).then(|| (allowed, numeric::in_id(prefix))),
            denied: (!denied.is_empty()).then(|| (denied, numeric::not_in_id(prefix))),
            finite: finite.then(|| numeric::finite_id(prefix)),
        }
    }
}

/// Typed rules for one value; the rule type must match the field's kind.
fn value_rules(field: &FieldDescriptor, ty: Type) -> Result<ValueRules, Unsupported> {
    Ok(match (field.kind(), ty) {
        (Kind::Double, Type::Double(r)) => num!(r, DoubleRules, double_rules, "double", F64, finite),
        (Kind::Float, Type::Float(r)) => num!(r, FloatRules, float_rules, "float", F32, finite),
        (Kind::Int32, Type::Int32(r)) => num!(r, Int32Rules, int32_rules, "int32", I32),
        (Kind::Int64, Type::Int64(r)) => num!(r, Int64Rules, int64_rules, "int64", I64),
        (Kind::Uint32, Type::Uint32(r)) => num!(r, UInt32Rules, u_int32_rules, "uint32", U32),
        (Kind::Uint64, Type::Uint64(r)) => num!(r, UInt64Rules, u_int64_rules, "uint64", U64),
        (Kind::Sint32, Type::Sint32(r)) => num!(r, SInt32Rules, s_int32_rules, "sint32", I32),
        (Kind::Sint64, Type::Sint64(r)) => num!(r, SInt64Rules, s_int64_rules, "sint64", I64),
        (Kind::Fixed32, Type::Fixed32(r)) => num!(r, Fixed32Rules, fixed32_rules, "fixed32", U32),
        (Kind::Fixed64, Type::Fixed64(r)) => num!(r, Fixed64Rules, fixed64_rules, "fixed64", U64),
        (Kind::Sfixed32, Type::Sfixed32(r)) => num!(r, SFixed32Rules, s_fixed32_rules, "sfixed32", I32),
        (Kind::Sfixed64, Type::Sfixed64(r)) => num!(r, SFixed64Rules, s_fixed64_rules, "sfixed64", I64),
        (Kind::Bool, Type::Bool(BoolRules { r#const, example: _ })) => ValueRules::Bool {
            constant: r#const.map(|c| (c, boolean::const_message(c))),
        },
        (Kind::String, Type::String(r)) => ValueRules::Str(Box::new(string_rules(field, r)?)),
        (
            Kind::Enum(e),
            Type::Enum(EnumRules {
                r#const,
                defined_only,
                r#in,
                not_in,
                example: _,
            }),
        ) => {
            if !r#in.is_empty() || !not_in.is_empty() {
                return unsupported(field, "enum `in`/`not_in` are not transcoded");
            }
            let defined = defined_only.unwrap_or(false).then(|| {
                let mut numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
                numbers.sort_unstable();
                numbers
            });
            ValueRules::Enum(EnumChecks {
                constant: r#const.map(|c| (c, enumeration::const_message(c))),
                defined,
            })
        }
        _ => return unsupported(field, "this rule type is not transcoded for this field"),
    })
}

fn string_rules(field: &FieldDescriptor, r: StringRules) -> Result<StrRules, Unsupported> {
    let StringRules {
        r#const,
        len,
        min_len,
        max_len,
        len_bytes,
        min_bytes,
        max_bytes,
        pattern,
        prefix,
        suffix,
        contains,
        not_contains,
        r#in,
        not_in,
        strict,
        example: _,
        well_known,
    } = r;
    if !r#in.is_empty() || !not_in.is_empty() || strict.is_some() || well_known.is_some() {
        return unsupported(field, "string in/not_in/strict/well-known rules are not transcoded");
    }
    let mut out = StrRules::default();
    let mut add = |id, message, check| out.checks.push((id, message, check));
    if let Some(c) = r#const {
        add(smeta::CONST_ID, smeta::const_message(&c), StrCheck::Const(c));
    }
    if let Some(n) = len {
        add(smeta::LEN_ID, smeta::len_message(n), StrCheck::Len(n));
    }
    if let Some(n) = min_len {
        add(smeta::MIN_LEN_ID, smeta::min_len_message(n), StrCheck::MinLen(n));
    }
    if let Some(n) = max_len {
        add(smeta::MAX_LEN_ID, smeta::max_len_message(n), StrCheck::MaxLen(n));
    }
    if let Some(n) = len_bytes {
        add(smeta::LEN_BYTES_ID, smeta::len_bytes_message(n), StrCheck::LenBytes(n));
    }
    if let Some(n) = min_bytes {
        add(smeta::MIN_BYTES_ID, smeta::min_bytes_message(n), StrCheck::MinBytes(n));
    }
    if let Some(n) = max_bytes {
        add(smeta::MAX_BYTES_ID, smeta::max_bytes_message(n), StrCheck::MaxBytes(n));
    }
    if let Some(p) = pattern {
        // The validator compiles the same string with the same crate (`regex` 1, one build).
        let re = Regex::new(&p).map_err(|e| Unsupported::field(field, &format!("pattern: {e}")))?;
        let check = match ClassPattern::parse(&p) {
            Some(class) => StrCheck::Class(Box::new(class)),
            None => StrCheck::Pattern(re),
        };
        add(smeta::PATTERN_ID, smeta::pattern_message(&p), check);
    }
    if let Some(s) = prefix {
        add(smeta::PREFIX_ID, smeta::prefix_message(&s), StrCheck::Prefix(s));
    }
    if let Some(s) = suffix {
        add(smeta::SUFFIX_ID, smeta::suffix_message(&s), StrCheck::Suffix(s));
    }
    if let Some(s) = contains {
        add(smeta::CONTAINS_ID, smeta::contains_message(&s), StrCheck::Contains(s));
    }
    if let Some(s) = not_contains {
        add(
            smeta::NOT_CONTAINS_ID,
            smeta::not_contains_message(&s),
            StrCheck::NotContains(s),
        );
    }
    out.counts_chars = out
        .checks
        .iter()
        .any(|(_, _, c)| matches!(c, StrCheck::Len(_) | StrCheck::MinLen(_) | StrCheck::MaxLen(_)));
    Ok(out)
}
