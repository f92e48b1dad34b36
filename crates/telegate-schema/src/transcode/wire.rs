//! Protobuf wire format over a byte slice, accepting exactly what
//! `prost` 0.14 (through `prost-reflect`'s `DynamicMessage::decode`) accepts.
//!
//! Why not `prost::encoding`: its readers work on `impl Buf` and report
//! errors without a position; here every read is a bounds-checked slice
//! access and every error names the byte offset in the payload, which goes
//! into the dead letter's detail.
//!
//! Equivalence notes (each mirrors a `prost` rule):
//! - a varint is at most 10 bytes and its 10th byte must be 0 or 1;
//! - a key above `u32::MAX`, wire type 6 or 7, or field number 0 is invalid;
//! - a read that crosses the end of the enclosing message is an error.
//!   `prost` reads a nested message from the whole buffer and then fails with
//!   "delimited length exceeded"; bounding the reader at the nested end fails
//!   the same inputs, only with a different message;
//! - unknown groups are skipped to their matching end tag, counting the same
//!   recursion budget as `prost`'s `DecodeContext` (100 at the top level,
//!   one less per nested message or group).

use thiserror::Error;

/// The three-bit wire type of a field key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    I64,
    Len,
    StartGroup,
    EndGroup,
    I32,
}

impl WireType {
    fn from_bits(bits: u64) -> Option<Self> {
        Some(match bits {
            0 => Self::Varint,
            1 => Self::I64,
            2 => Self::Len,
            3 => Self::StartGroup,
            4 => Self::EndGroup,
            5 => Self::I32,
            _ => return None,
        })
    }
}

/// Why a payload is not valid protobuf, with the byte offset where reading failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum WireError {
    #[error("invalid varint at byte {at}")]
    Varint { at: usize },
    #[error("invalid field key {key} at byte {at}")]
    Key { key: u64, at: usize },
    #[error("invalid wire type {bits} at byte {at}")]
    WireTypeBits { bits: u64, at: usize },
    #[error("field number 0 at byte {at}")]
    FieldZero { at: usize },
    #[error("field {field} has wire type {actual:?}, expected {expected:?} (byte {at})")]
    WireTypeMismatch {
        field: u32,
        actual: WireType,
        expected: WireType,
        at: usize,
    },
    #[error("{needed} bytes needed at byte {at}, the enclosing message ends at byte {end}")]
    Truncated { needed: u64, at: usize, end: usize },
    #[error("end-group tag of field {field} without a matching start at byte {at}")]
    UnexpectedEndGroup { field: u32, at: usize },
    #[error("groups nested too deeply at byte {at}")]
    RecursionLimit { at: usize },
    #[error("string field {field} is not valid UTF-8 (byte {at})")]
    Utf8 { field: u32, at: usize },
}

/// Prost's recursion budget at the top level of a message (`RECURSION_LIMIT`).
pub(crate) const TOP_LEVEL_BUDGET: u32 = 100;

/// A cursor over `buf[pos..end]`; positions are absolute offsets into the payload.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// A reader over `len` bytes starting at the current position, which it
    /// skips in `self`.
    pub(crate) fn sub(&mut self, len: u64) -> Result<Reader<'a>, WireError> {
        let start = self.pos;
        let end = self.take(len)?;
        Ok(Reader {
            buf: self.buf,
            pos: start,
            end,
        })
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    pub(crate) fn bytes(&self, start: usize, end: usize) -> &'a [u8] {
        self.buf.get(start..end).unwrap_or_default()
    }

    /// Advance by `len` bytes; returns the new position.
    fn take(&mut self, len: u64) -> Result<usize, WireError> {
        let available = (self.end - self.pos) as u64;
        if len > available {
            return Err(WireError::Truncated {
                needed: len,
                at: self.pos,
                end: self.end,
            });
        }
        // `len <= available`, which is a usize.
        self.pos += len as usize;
        Ok(self.pos)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let at = self.pos;
        let Some(&first) = self.buf.get(at).filter(|_| at < self.end) else {
            return Err(WireError::Varint { at });
        };
        if first < 0x80 {
            self.pos += 1;
            return Ok(u64::from(first));
        }
        self.varint_slow(at)
    }

    #[cold]
    fn varint_slow(&mut self, at: usize) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf.get(at + i).filter(|_| at + i < self.end) else {
                return Err(WireError::Varint { at });
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b >= 0x02 {
                    return Err(WireError::Varint { at });
                }
                self.pos = at + i + 1;
                return Ok(value);
            }
        }
        Err(WireError::Varint { at })
    }

    /// The next field key: (field number, wire type).
    pub(crate) fn key(&mut self) -> Result<(u32, WireType), WireError> {
        let at = self.pos;
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(WireError::Key { key, at });
        }
        let wire = WireType::from_bits(key & 7).ok_or(WireError::WireTypeBits { bits: key & 7, at })?;
        let field = (key >> 3) as u32;
        if field == 0 {
            return Err(WireError::FieldZero { at });
        }
        Ok((field, wire))
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(self.bytes(start, start + 8));
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn fixed32(&mut self) -> Result<u32, WireError> {
        let start = self.pos;
        self.take(4)?;
        let mut b = [0u8; 4];
        b.copy_from_slice(self.bytes(start, start + 4));
        Ok(u32::from_le_bytes(b))
    }

    /// A length-delimited value: (start, end) absolute offsets.
    pub(crate) fn len_delimited(&mut self) -> Result<(usize, usize), WireError> {
        let len = self.varint()?;
        let start = self.pos;
        let end = self.take(len)?;
        Ok((start, end))
    }

    /// Skip the value of an unknown field, as `prost-reflect` keeps it as an
    /// unknown field: `budget` is the recursion budget of the message the
    /// field is in.
    pub(crate) fn skip(&mut self, field: u32, wire: WireType, budget: u32) -> Result<(), WireError> {
        match wire {
            WireType::Varint => self.varint().map(drop),
            WireType::I64 => self.take(8).map(drop),
            WireType::I32 => self.take(4).map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::StartGroup => {
                if budget == 0 {
                    return Err(WireError::RecursionLimit { at: self.pos });
                }
                loop {
                    let at = self.pos;
                    let (inner, inner_wire) = self.key()?;
                    if inner_wire == WireType::EndGroup {
                        if inner != field {
                            return Err(WireError::UnexpectedEndGroup { field: inner, at });
                        }
                        return Ok(());
                    }
                    self.skip(inner, inner_wire, budget - 1)?;
                }
            }
            WireType::EndGroup => Err(WireError::UnexpectedEndGroup { field, at: self.pos }),
        }
    }
}

/// Check that a known field arrived with the wire type its kind needs.
pub(crate) fn expect(field: u32, actual: WireType, expected: WireType, at: usize) -> Result<(), WireError> {
    if actual == expected {
        Ok(())
    } else {
        Err(WireError::WireTypeMismatch {
            field,
            actual,
            expected,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::bytes::Buf as _;

    use super::*;

    /// The reader accepts exactly the varints prost accepts, with the same value.
    #[test]
    fn varints_match_prost() {
        let cases: &[&[u8]] = &[
            &[0x00],
            &[0x7f],
            &[0x80, 0x01],
            &[0x80, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            &[0x80],
            &[],
            &[0xff, 0xff, 0xff],
        ];
        for bytes in cases {
            let mut buf = *bytes;
            let prost = prost::encoding::decode_varint(&mut buf)
                .ok()
                .map(|v| (v, bytes.len() - buf.remaining()));
            let mut r = Reader::new(bytes);
            let ours = r.varint().ok().map(|v| (v, r.pos()));
            assert_eq!(ours, prost, "{bytes:02x?}");
        }
    }

    #[test]
    fn keys_reject_what_prost_rejects() {
        // Field 0, wire type 6, wire type 7, key above u32::MAX.
        for bytes in [&[0x00][..], &[0x0e], &[0x0f], &[0x80, 0x80, 0x80, 0x80, 0x10]] {
            let mut buf = bytes;
            assert!(prost::encoding::decode_key(&mut buf).is_err());
            assert!(Reader::new(bytes).key().is_err(), "{bytes:02x?}");
        }
        assert_eq!(Reader::new(&[0x1a]).key(), Ok((3, WireType::Len)));
    }

    #[test]
    fn groups_skip_to_their_end_within_the_recursion_budget() {
        // Field 5 group holding field 1 varint, then end of group 5.
        let group = [0x2b, 0x08, 0x01, 0x2c];
        let mut r = Reader::new(&group);
        let (f, w) = r.key().expect("key");
        r.skip(f, w, 1).expect("one level is within budget 1");
        assert!(r.is_empty());
        let mut r = Reader::new(&group);
        let (f, w) = r.key().expect("key");
        assert!(matches!(r.skip(f, w, 0), Err(WireError::RecursionLimit { .. })));
        // Mismatched end tag.
        let bad = [0x2b, 0x08, 0x01, 0x34];
        let mut r = Reader::new(&bad);
        let (f, w) = r.key().expect("key");
        assert!(matches!(
            r.skip(f, w, 5),
            Err(WireError::UnexpectedEndGroup { field: 6, .. })
        ));
    }

    #[test]
    fn sub_readers_stop_at_their_end() {
        // A 2-byte sub-message holding the start of a 3-byte fixed value.
        let bytes = [0x02, 0x0d, 0x01, 0x02, 0x03];
        let mut r = Reader::new(&bytes);
        let len = r.varint().expect("len");
        let mut sub = r.sub(len).expect("in bounds");
        let (_, w) = sub.key().expect("key");
        assert_eq!(w, WireType::I32);
        assert!(matches!(sub.fixed32(), Err(WireError::Truncated { .. })));
        assert_eq!(r.pos(), 3);
    }
}
