//! Frame format: `MAGIC | len: u32 LE | crc32(payload): u32 LE | payload`,
//! and the record inside a payload: `topic_len: u16 LE | topic | points: u32 LE | lines`.
//! The magic marker lets recovery find the next good frame after a corrupt one.

use bytes::Bytes;

pub(crate) const MAGIC: [u8; 4] = *b"TGW1";
pub(crate) const HEADER: usize = 12;
/// Largest payload accepted; anything claiming more is corruption.
pub(crate) const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// One message as the log keeps it: already-encoded line protocol, plus the
/// topic (for dead-lettering lines the database refuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: Bytes,
    pub lines: Bytes,
    pub points: u32,
}

impl Record {
    #[cfg(test)]
    pub(crate) fn encoded_len(&self) -> usize {
        HEADER + 2 + self.topic.len().min(u16::MAX as usize) + 4 + self.lines.len()
    }

    /// Append the whole frame to `out`.
    pub(crate) fn encode_frame(&self, out: &mut Vec<u8>) {
        let topic = &self.topic[..self.topic.len().min(u16::MAX as usize)];
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
        out.extend_from_slice(topic);
        out.extend_from_slice(&self.points.to_le_bytes());
        out.extend_from_slice(&self.lines);
        let payload = &out[start + HEADER..];
        let len = payload.len() as u32;
        let crc = crc32fast::hash(payload);
        out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
        out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    }

    /// Where the topic ends and the point count, if `payload` is a record.
    fn layout(payload: &[u8]) -> Option<(usize, u32)> {
        let topic_len = usize::from(u16::from_le_bytes(payload.get(..2)?.try_into().ok()?));
        let points = u32::from_le_bytes(payload.get(2 + topic_len..6 + topic_len)?.try_into().ok()?);
        Some((topic_len, points))
    }

    #[cfg(test)]
    pub(crate) fn decode_payload(payload: &[u8]) -> Option<Record> {
        Record::from_payload(Bytes::copy_from_slice(payload))
    }

    /// The record in a frame's payload, sliced from the shared bytes it was
    /// read into (no copy).
    pub(crate) fn from_payload(payload: Bytes) -> Option<Record> {
        let (topic_len, points) = Record::layout(&payload)?;
        Some(Record {
            topic: payload.slice(2..2 + topic_len),
            lines: payload.slice(6 + topic_len..),
            points,
        })
    }
}

/// What the bytes at an offset are.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A valid frame of this total length.
    Frame { len: usize },
    /// Not enough bytes left for the frame the header announces (or for a header).
    Incomplete,
    /// Magic, length or checksum wrong.
    Corrupt,
}

pub(crate) fn scan(buf: &[u8]) -> Scan {
    if buf.len() < HEADER {
        return if MAGIC.starts_with(&buf[..buf.len().min(4)]) {
            Scan::Incomplete
        } else {
            Scan::Corrupt
        };
    }
    if buf[..4] != MAGIC {
        return Scan::Corrupt;
    }
    let len = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if len > MAX_PAYLOAD {
        return Scan::Corrupt;
    }
    let Some(payload) = buf.get(HEADER..HEADER + len) else {
        return Scan::Incomplete;
    };
    let crc = u32::from_le_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if crc32fast::hash(payload) != crc || Record::layout(payload).is_none() {
        return Scan::Corrupt;
    }
    Scan::Frame { len: HEADER + len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_damage_detection() {
        let r = Record {
            topic: Bytes::from_static(b"telemetry/a/b/c"),
            lines: Bytes::from_static(b"m v=1 1\n"),
            points: 1,
        };
        let mut buf = Vec::new();
        r.encode_frame(&mut buf);
        assert_eq!(buf.len(), r.encoded_len());
        assert_eq!(scan(&buf), Scan::Frame { len: buf.len() });
        assert_eq!(Record::decode_payload(&buf[HEADER..]), Some(r));
        assert_eq!(scan(&buf[..buf.len() - 1]), Scan::Incomplete);
        assert_eq!(scan(&buf[..3]), Scan::Incomplete);
        let mut bad = buf.clone();
        let last = bad.len() - 2;
        bad[last] ^= 0x40;
        assert_eq!(scan(&bad), Scan::Corrupt);
        bad = buf.clone();
        bad[0] = b'X';
        assert_eq!(scan(&bad), Scan::Corrupt);
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Recovery scans arbitrary bytes: it must classify them consistently, never panic.
        #[test]
        fn scan_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), magic in any::<bool>()) {
            let mut buf = bytes;
            if magic && buf.len() >= 4 {
                buf[..4].copy_from_slice(&MAGIC);
            }
            match scan(&buf) {
                // A frame it accepts lies within the bytes and decodes.
                Scan::Frame { len } => {
                    prop_assert!(len <= buf.len());
                    prop_assert!(Record::decode_payload(&buf[HEADER..len]).is_some());
                }
                // Without the marker nothing is ever taken for a frame.
                other => prop_assert!(magic || buf.starts_with(&MAGIC) || other == Scan::Corrupt || buf.len() < 4),
            }
        }
    }
}
