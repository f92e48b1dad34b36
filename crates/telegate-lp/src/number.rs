//! Numbers as line protocol writes them, without `core::fmt` on the fast
//! paths: integers two digits per division, floats as `Display` prints them
//! (the shortest decimal that reads back as the same `f64`, no exponent),
//! which is what InfluxDB parses back exactly. Only the small `push_i64`
//! is `#[inline]`: inlining the others into the transcoder (another crate)
//! measured slower under callgrind than calling them.

/// "00" to "99", for formatting two digits per division.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `v` in decimal, as `Display` writes it.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// `v` in decimal, as `Display` writes it.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Powers of ten exactly representable as f64 (up to 10^22).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `x` as `Display` writes it (shortest decimal that reads back as `x`, no
/// exponent). Sensor readings usually have a few decimals; for those the
/// digits are found directly: the smallest `k` with an integer `d` such that
/// `d / 10^k` rounds to `x` (one correctly rounded IEEE division of two exact
/// values, so it is what parsing the decimal string gives). When `d` has at
/// most 15 digits, adjacent candidates at that `k` lie more than 4 ulp apart,
/// so `d` is the only (hence the shortest) one and equals what `Display`
/// prints. Anything else goes through `core::fmt`.
pub fn push_f64(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() && x != 0.0 {
        let a = x.abs();
        if a < 1e15 {
            for (k, &p) in POW10.iter().enumerate() {
                let scaled = a * p;
                if scaled >= 1e15 {
                    break;
                }
                let d = scaled.round();
                if d / p == a {
                    if x < 0.0 {
                        out.push(b'-');
                    }
                    push_fixed(out, d as u64, k);
                    return;
                }
            }
        }
    }
    fmt_f64(out, x);
}

#[cold]
fn fmt_f64(out: &mut Vec<u8>, x: f64) {
    use std::fmt::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(Bytes(out), "{x}");
}

/// `core::fmt` into the line buffer. Through `fmt::Write`, not `io::Write`,
/// whose `Result` carries an `io::Error` that has to be dropped (a call per
/// number, measured under callgrind).
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `d / 10^k` with exactly `k` decimals, trailing zeros removed (they cannot
/// occur for the smallest `k`, but this keeps the function total).
fn push_fixed(out: &mut Vec<u8>, d: u64, k: usize) {
    if k == 0 {
        push_u64(out, d);
        return;
    }
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = d;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // digits[0..n] are little-endian; pad to k+1 digits for "0.xxx".
    while n <= k {
        digits[n] = b'0';
        n += 1;
    }
    let mut frac_end = 0;
    while frac_end < k && digits[frac_end] == b'0' {
        frac_end += 1;
    }
    for i in (k..n).rev() {
        out.push(digits[i]);
    }
    if frac_end < k {
        out.push(b'.');
        for i in (frac_end..k).rev() {
            out.push(digits[i]);
        }
    }
}

/// `x` as `Display` writes an `f32` (a float tag's value).
pub fn push_f32(out: &mut Vec<u8>, x: f32) {
    use std::fmt::Write as _;
    let _ = write!(Bytes(out), "{x}");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn f64_text(x: f64) -> String {
        let mut out = Vec::new();
        push_f64(&mut out, x);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn floats_print_like_display() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.2,
            0.3,
            285.4,
            1475.0,
            1e15,
            1e16,
            123456789012345.6,
            0.000001,
            1e-7,
            2.5e-5,
            9007199254740993.0,
            1e300,
            5e-324,
            3000.000000001,
            -50.0,
            0.30000000000000004,
        ] {
            assert_eq!(f64_text(x), x.to_string(), "{x:e}");
        }
    }

    proptest! {
        #[test]
        fn any_f64_prints_like_display(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            prop_assert_eq!(f64_text(x), x.to_string());
        }

        /// Decimal-looking readings, the fast path's domain.
        #[test]
        fn decimal_f64_prints_like_display(d in any::<i64>(), k in 0u32..18) {
            let x = d as f64 / 10f64.powi(k as i32);
            prop_assert_eq!(f64_text(x), x.to_string());
            let y = (d % 100_000_000) as f64 / 10f64.powi(k as i32);
            prop_assert_eq!(f64_text(y), y.to_string());
        }

        #[test]
        fn integers_print_like_display(v in any::<i64>(), small in -1000i64..1000, u in any::<u64>()) {
            for v in [v, small, v >> 20] {
                let mut out = Vec::new();
                push_i64(&mut out, v);
                prop_assert_eq!(out, v.to_string().into_bytes());
            }
            let mut out = Vec::new();
            push_u64(&mut out, u);
            prop_assert_eq!(out, u.to_string().into_bytes());
        }
    }
}
