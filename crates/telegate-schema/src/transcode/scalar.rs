//! How decoded values are held: a scalar kind read from the wire, its
//! value, and the slot that keeps a singular field's latest value. Kept
//! small and `Copy` so a sample's slots are reset by copying a template.

use prost_reflect::Kind;

use super::wire::WireType;

/// A scalar protobuf type, as read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarKind {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    Enum,
    String,
    Bytes,
}

impl ScalarKind {
    pub(crate) fn of(kind: &Kind) -> Option<Self> {
        Some(match kind {
            Kind::Double => Self::Double,
            Kind::Float => Self::Float,
            Kind::Int32 => Self::Int32,
            Kind::Int64 => Self::Int64,
            Kind::Uint32 => Self::Uint32,
            Kind::Uint64 => Self::Uint64,
            Kind::Sint32 => Self::Sint32,
            Kind::Sint64 => Self::Sint64,
            Kind::Fixed32 => Self::Fixed32,
            Kind::Fixed64 => Self::Fixed64,
            Kind::Sfixed32 => Self::Sfixed32,
            Kind::Sfixed64 => Self::Sfixed64,
            Kind::Bool => Self::Bool,
            Kind::Enum(_) => Self::Enum,
            Kind::String => Self::String,
            Kind::Bytes => Self::Bytes,
            Kind::Message(_) => return None,
        })
    }

    pub(crate) fn wire(self) -> WireType {
        match self {
            Self::Double | Self::Fixed64 | Self::Sfixed64 => WireType::I64,
            Self::Float | Self::Fixed32 | Self::Sfixed32 => WireType::I32,
            Self::String | Self::Bytes => WireType::Len,
            _ => WireType::Varint,
        }
    }

    /// Whether a repeated field of this kind may arrive packed.
    pub(crate) fn packable(self) -> bool {
        !matches!(self, Self::String | Self::Bytes)
    }

    /// The proto3 default, which an absent field reads as.
    pub(crate) fn default_value(self) -> Scalar {
        match self {
            Self::Double => Scalar::F64(0.0),
            Self::Float => Scalar::F32(0.0),
            Self::Int32 | Self::Sint32 | Self::Sfixed32 => Scalar::I32(0),
            Self::Int64 | Self::Sint64 | Self::Sfixed64 => Scalar::I64(0),
            Self::Uint32 | Self::Fixed32 => Scalar::U32(0),
            Self::Uint64 | Self::Fixed64 => Scalar::U64(0),
            Self::Bool => Scalar::Bool(false),
            Self::Enum => Scalar::Enum(0),
            Self::String | Self::Bytes => Scalar::Str(0, 0),
        }
    }
}

/// One decoded value. Strings and bytes are `start..end` offsets into the payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar {
    F64(f64),
    F32(f32),
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    Bool(bool),
    Enum(i32),
    Str(u32, u32),
}

/// A singular field's latest value; `set` is wire presence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) set: bool,
    pub(crate) value: Scalar,
}
