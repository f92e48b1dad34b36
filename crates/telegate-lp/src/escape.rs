//! Escaping, per the line-protocol reference: measurement names escape
//! comma and space; tag keys, tag values and field keys escape comma, equals
//! and space; string field values escape double quote and backslash. A
//! backslash in a name or tag value is doubled (a name or tag value that
//! *ends* in a backslash is refused by [`encode_point`](crate::encode_point),
//! because InfluxDB's parsers reject it however it is escaped). Newline,
//! carriage return, tab and NUL cannot be represented in names or tag values
//! (they end the line or the token), so they are written as an escaped space.
//!
//! Escaping looks bytes up in a 256-entry table and copies runs of plain
//! bytes at once. Not `#[inline]`: the transcoder calls them from another
//! crate, and letting them inline there measured slower under callgrind.

/// Bytes that need work in a measurement name: `,` and space, plus the
/// bytes every name rewrites (backslash doubled; newline, CR, tab, NUL → space).
const MEASUREMENT: [bool; 256] = table(b", ");
/// Tag keys, tag values and field keys: `,`, `=` and space, plus the same.
const KEY: [bool; 256] = table(b",= ");

const fn table(special: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    t[b'\\' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\t' as usize] = true;
    t[0] = true;
    let mut i = 0;
    while i < special.len() {
        t[special[i] as usize] = true;
        i += 1;
    }
    t
}

fn escape(out: &mut Vec<u8>, s: &[u8], table: &[bool; 256]) {
    let mut plain = 0;
    for (i, &b) in s.iter().enumerate() {
        if !table[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&s[plain..i]);
        plain = i + 1;
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            // Control bytes end a line or a token: written as a space, escaped.
            b'\n' | b'\r' | b'\t' | 0 => out.extend_from_slice(b"\\ "),
            _ => out.extend_from_slice(&[b'\\', b]),
        }
    }
    out.extend_from_slice(&s[plain..]);
}

/// Measurement name: escapes comma and space.
pub fn escape_measurement(out: &mut Vec<u8>, s: &[u8]) {
    escape(out, s, &MEASUREMENT);
}

/// Tag key or field key: escapes comma, equals and space.
pub fn escape_key(out: &mut Vec<u8>, s: &[u8]) {
    escape(out, s, &KEY);
}

/// Tag value: the same rules as a key.
pub fn escape_tag_value(out: &mut Vec<u8>, s: &[u8]) {
    escape(out, s, &KEY);
}

/// String field value with its surrounding double quotes; escapes `"` and `\`.
pub fn push_string_value(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut plain = 0;
    for (i, &b) in s.iter().enumerate() {
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&s[plain..i]);
            out.push(b'\\');
            plain = i;
        }
    }
    out.extend_from_slice(&s[plain..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_the_rules() {
        let mut out = Vec::new();
        escape_key(&mut out, "a b,c=d\\e\nf\tg\rh\0i".as_bytes());
        assert_eq!(out, b"a\\ b\\,c\\=d\\\\e\\ f\\ g\\ h\\ i");
        out.clear();
        escape_measurement(&mut out, b"m=1,2 3");
        assert_eq!(out, b"m=1\\,2\\ 3");
        out.clear();
        escape_tag_value(&mut out, b"a=b");
        assert_eq!(out, b"a\\=b");
        out.clear();
        push_string_value(&mut out, br#"say "hi" \ bye"#);
        assert_eq!(out, br#""say \"hi\" \\ bye""#);
    }
}
