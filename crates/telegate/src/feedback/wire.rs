//! Just enough protobuf encoding for the two feedback messages: varints and
//! length-delimited fields, proto3 rules (a default scalar is left out, an
//! `optional` one is written when set).

#[derive(Debug, Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

const VARINT: u64 = 0;
const LEN: u64 = 2;

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u64) {
        self.varint((u64::from(field) << 3) | wire_type);
    }

    pub(crate) fn bytes(&mut self, field: u32, b: &[u8]) {
        if b.is_empty() {
            return;
        }
        self.key(field, LEN);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    pub(crate) fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    /// An `int64` or `uint64` (negative `int64`s take ten bytes, as protobuf says).
    pub(crate) fn uint64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.optional_uint64(field, Some(v));
        }
    }

    pub(crate) fn int64(&mut self, field: u32, v: i64) {
        self.uint64(field, v as u64);
    }

    pub(crate) fn optional_uint64(&mut self, field: u32, v: Option<u64>) {
        if let Some(v) = v {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    pub(crate) fn optional_int64(&mut self, field: u32, v: Option<i64>) {
        self.optional_uint64(field, v.map(|v| v as u64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_protobuf() {
        let mut w = Writer::default();
        w.string(1, "rl-1");
        w.int64(2, -1);
        w.uint64(3, 0);
        w.optional_uint64(4, Some(0));
        w.uint64(5, 300);
        w.bytes(6, &[]);
        let mut want = vec![0x0a, 4, b'r', b'l', b'-', b'1', 0x10];
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        want.extend_from_slice(&[0x20, 0x00, 0x28, 0xac, 0x02]);
        assert_eq!(w.0, want);
    }
}
