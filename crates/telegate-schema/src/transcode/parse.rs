//! Reading a batch's wire bytes into reused slots, following a plan.
//!
//! Proto3 merge semantics, as `DynamicMessage::decode` applies them:
//! singular fields keep the last value on the wire; repeated fields append
//! every occurrence wherever it appears (packed or not, mixed freely);
//! a message field that appears twice is merged field by field; every
//! occurrence of the samples field is one more sample; fields the plan does
//! not know are skipped by wire type. A known field with the wrong wire type
//! is malformed, as in `prost`.

use super::Transcoder;
use super::plan::{Action, MessagePlan, Scalar, ScalarKind, Slot};
use super::wire::{Reader, WireError, WireType, expect};

/// One item of a repeated field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item {
    pub(crate) list: u16,
    pub(crate) value: Scalar,
}

/// Reused buffers for decoding: after the first messages of a type, decoding
/// allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) batch: Vec<Slot>,
    pub(crate) batch_items: Vec<Item>,
    /// Every sample's slots, one block of the sample plan's size each.
    slots: Vec<Slot>,
    items: Vec<Item>,
    /// Each sample's range in `items`.
    samples: Vec<(usize, usize)>,
}

impl Scratch {
    pub(crate) fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// Sample `i`'s slots (`width` per sample) and list items.
    pub(crate) fn sample(&self, i: usize, width: usize) -> (&[Slot], &[Item]) {
        let slots = self.slots.get(i * width..(i + 1) * width).unwrap_or_default();
        let items = self
            .samples
            .get(i)
            .and_then(|&(a, b)| self.items.get(a..b))
            .unwrap_or_default();
        (slots, items)
    }
}

/// Decode `payload` as the plan's batch message into `s`.
pub(crate) fn batch(t: &Transcoder, payload: &[u8], s: &mut Scratch) -> Result<(), WireError> {
    s.batch.clear();
    s.batch.extend_from_slice(&t.batch.defaults);
    s.batch_items.clear();
    s.slots.clear();
    s.items.clear();
    s.samples.clear();
    let mut r = Reader::new(payload);
    while !r.is_empty() {
        let at = r.pos();
        let (number, wire) = r.key()?;
        match t.batch.action(number) {
            None => r.skip(number, wire, t.batch.budget)?,
            Some((_, Action::Samples)) => {
                expect(number, wire, WireType::Len, at)?;
                let len = r.varint()?;
                let sub = r.sub(len)?;
                sample(t, sub, s)?;
            }
            Some((_, action)) => field(
                &t.batch,
                &mut r,
                number,
                wire,
                at,
                action,
                &mut s.batch,
                &mut s.batch_items,
            )?,
        }
    }
    Ok(())
}

fn sample(t: &Transcoder, mut r: Reader<'_>, s: &mut Scratch) -> Result<(), WireError> {
    let base = s.slots.len();
    s.slots.extend_from_slice(&t.sample.defaults);
    let first_item = s.items.len();
    let slots = s.slots.get_mut(base..).unwrap_or_default();
    while !r.is_empty() {
        let at = r.pos();
        let (number, wire) = r.key()?;
        match t.sample.action(number) {
            None => r.skip(number, wire, t.sample.budget)?,
            Some((_, action)) => field(&t.sample, &mut r, number, wire, at, action, slots, &mut s.items)?,
        }
    }
    s.samples.push((first_item, s.items.len()));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn field(
    plan: &MessagePlan,
    r: &mut Reader<'_>,
    number: u32,
    wire: WireType,
    at: usize,
    action: Action,
    slots: &mut [Slot],
    items: &mut Vec<Item>,
) -> Result<(), WireError> {
    match action {
        Action::Scalar { kind, slot } => {
            expect(number, wire, kind.wire(), at)?;
            let value = scalar(r, kind, number)?;
            if let Some(s) = slots.get_mut(usize::from(slot)) {
                *s = Slot { set: true, value };
            }
        }
        Action::List { kind, list } => {
            if wire == WireType::Len && kind.packable() {
                let len = r.varint()?;
                let mut packed = r.sub(len)?;
                while !packed.is_empty() {
                    let value = scalar(&mut packed, kind, number)?;
                    items.push(super::parse::Item { list, value });
                }
            } else {
                expect(number, wire, kind.wire(), at)?;
                let value = scalar(r, kind, number)?;
                items.push(Item { list, value });
            }
        }
        Action::Timestamp { slot } => {
            expect(number, wire, WireType::Len, at)?;
            let len = r.varint()?;
            let sub = r.sub(len)?;
            timestamp(sub, slot, plan.budget.saturating_sub(1), slots)?;
        }
        // Samples are only dispatched in the batch, by `batch`.
        Action::Samples => r.skip(number, wire, plan.budget)?,
    }
    Ok(())
}

/// A `google.protobuf.Timestamp`, merged into `slots[slot]` (seconds) and `slots[slot + 1]` (nanos).
fn timestamp(mut r: Reader<'_>, slot: u16, budget: u32, slots: &mut [Slot]) -> Result<(), WireError> {
    let slot = usize::from(slot);
    if let Some(s) = slots.get_mut(slot) {
        s.set = true;
    }
    while !r.is_empty() {
        let at = r.pos();
        let (number, wire) = r.key()?;
        let (kind, index) = match number {
            1 => (ScalarKind::Int64, slot),
            2 => (ScalarKind::Int32, slot + 1),
            _ => {
                r.skip(number, wire, budget)?;
                continue;
            }
        };
        expect(number, wire, WireType::Varint, at)?;
        let value = scalar(&mut r, kind, number)?;
        if let Some(s) = slots.get_mut(index) {
            s.value = value;
        }
    }
    Ok(())
}

#[inline]
fn scalar(r: &mut Reader<'_>, kind: ScalarKind, number: u32) -> Result<Scalar, WireError> {
    // The casts are protobuf's: 32-bit varints keep the low bits, sint* are zigzag.
    Ok(match kind {
        ScalarKind::Double => Scalar::F64(f64::from_bits(r.fixed64()?)),
        ScalarKind::Float => Scalar::F32(f32::from_bits(r.fixed32()?)),
        ScalarKind::Int32 => Scalar::I32(r.varint()? as i32),
        ScalarKind::Int64 => Scalar::I64(r.varint()? as i64),
        ScalarKind::Uint32 => Scalar::U32(r.varint()? as u32),
        ScalarKind::Uint64 => Scalar::U64(r.varint()?),
        ScalarKind::Sint32 => {
            let v = r.varint()? as u32;
            Scalar::I32(((v >> 1) as i32) ^ -((v & 1) as i32))
        }
        ScalarKind::Sint64 => {
            let v = r.varint()?;
            Scalar::I64(((v >> 1) as i64) ^ -((v & 1) as i64))
        }
        ScalarKind::Fixed32 => Scalar::U32(r.fixed32()?),
        ScalarKind::Fixed64 => Scalar::U64(r.fixed64()?),
        ScalarKind::Sfixed32 => Scalar::I32(r.fixed32()? as i32),
        ScalarKind::Sfixed64 => Scalar::I64(r.fixed64()? as i64),
        ScalarKind::Bool => Scalar::Bool(r.varint()? != 0),
        ScalarKind::Enum => Scalar::Enum(r.varint()? as i32),
        ScalarKind::String | ScalarKind::Bytes => {
            let (start, end) = r.len_delimited()?;
            if kind == ScalarKind::String && std::str::from_utf8(r.bytes(start, end)).is_err() {
                return Err(WireError::Utf8 {
                    field: number,
                    at: start,
                });
            }
            // The transcoder only runs on payloads below 4 GiB (`Registry::transcode`).
            Scalar::Str(start as u32, end as u32)
        }
    })
}
