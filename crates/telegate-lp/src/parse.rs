//! Reading line protocol back into [`Point`]s: the alert evaluator taps the
//! encoded lines the writer gets (so the decoder does no extra work for it)
//! and turns them back into typed points here. Accepts what
//! [`encode_point`](crate::encode_point) writes, and the general syntax of
//! the line-protocol reference (escapes, bool spellings, optional time).
//! That it inverts the encoder is a property test in `tests.rs`.

use std::sync::Arc;

use telegate_model::{FieldValue, Point};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("line protocol: {problem} at byte {at} of `{line}`")]
pub struct ParseError {
    pub problem: &'static str,
    pub at: usize,
    pub line: String,
}

struct Cursor<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, problem: &'static str) -> ParseError {
        ParseError {
            problem,
            at: self.pos,
            line: String::from_utf8_lossy(self.line).into_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    /// An escaped token up to an unescaped byte of `stops` (not consumed).
    fn token(&mut self, stops: &[u8]) -> Result<String, ParseError> {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            if stops.contains(&b) {
                break;
            }
            if b == b'\\'
                && let Some(&next) = self.line.get(self.pos + 1)
                && (next == b'\\' || stops.contains(&next) || matches!(next, b',' | b'=' | b' '))
            {
                out.push(next);
                self.pos += 2;
                continue;
            }
            out.push(b);
            self.pos += 1;
        }
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))
    }

    fn eat(&mut self, b: u8, problem: &'static str) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(problem))
        }
    }

    fn string_value(&mut self) -> Result<String, ParseError> {
        self.eat(b'"', "expected a string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') if matches!(self.line.get(self.pos + 1), Some(b'"' | b'\\')) => {
                    out.push(self.line[self.pos + 1]);
                    self.pos += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in a string"))
    }

    fn field_value(&mut self) -> Result<FieldValue, ParseError> {
        if self.peek() == Some(b'"') {
            return self.string_value().map(FieldValue::Str);
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b',' || b == b' ' {
                break;
            }
            self.pos += 1;
        }
        let raw = std::str::from_utf8(&self.line[start..self.pos]).map_err(|_| self.err("invalid UTF-8"))?;
        let value = match raw {
            "t" | "T" | "true" | "True" | "TRUE" => FieldValue::Bool(true),
            "f" | "F" | "false" | "False" | "FALSE" => FieldValue::Bool(false),
            _ if raw.ends_with('i') => {
                FieldValue::Int(raw[..raw.len() - 1].parse().map_err(|_| self.err("bad integer"))?)
            }
            _ if raw.ends_with('u') => FieldValue::UInt(
                raw[..raw.len() - 1]
                    .parse()
                    .map_err(|_| self.err("bad unsigned integer"))?,
            ),
            _ => FieldValue::Float(raw.parse().map_err(|_| self.err("bad number"))?),
        };
        Ok(value)
    }
}

/// Parse one line (without its newline). A line without a timestamp gets
/// `default_time_ns`.
pub fn parse_line(line: &[u8], default_time_ns: i64) -> Result<Point, ParseError> {
    let mut c = Cursor { line, pos: 0 };
    let measurement = c.token(b", ")?;
    if measurement.is_empty() {
        return Err(c.err("empty measurement"));
    }
    let mut tags = Vec::new();
    while c.peek() == Some(b',') {
        c.pos += 1;
        let key = c.token(b"=, ")?;
        c.eat(b'=', "expected `=` after a tag key")?;
        let value = c.token(b", ")?;
        tags.push((Arc::from(key), value));
    }
    c.eat(b' ', "expected a space before the fields")?;
    let mut fields = Vec::new();
    loop {
        let key = c.token(b"=, ")?;
        c.eat(b'=', "expected `=` after a field key")?;
        fields.push((Arc::from(key), c.field_value()?));
        if c.peek() == Some(b',') {
            c.pos += 1;
        } else {
            break;
        }
    }
    let time_ns = match c.peek() {
        None => default_time_ns,
        Some(b' ') => {
            let rest = std::str::from_utf8(&line[c.pos + 1..]).map_err(|_| c.err("invalid UTF-8"))?;
            rest.trim().parse().map_err(|_| c.err("bad timestamp"))?
        }
        Some(_) => return Err(c.err("expected a space before the timestamp")),
    };
    Ok(Point {
        measurement: Arc::from(measurement),
        tags,
        fields,
        time_ns,
    })
}

/// The measurement of a line without parsing the rest: lets a consumer
/// skip lines it has no interest in for the cost of a scan to the first
/// separator.
pub fn measurement_of(line: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    let mut c = Cursor { line, pos: 0 };
    if !line.contains(&b'\\') {
        let end = line.iter().position(|&b| b == b',' || b == b' ')?;
        return std::str::from_utf8(&line[..end]).ok().map(std::borrow::Cow::Borrowed);
    }
    c.token(b", ").ok().map(std::borrow::Cow::Owned)
}

/// Every non-empty line of `lines`.
pub fn parse_lines(lines: &[u8]) -> impl Iterator<Item = Result<Point, ParseError>> + '_ {
    lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| parse_line(l, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn general_syntax_and_errors() {
        let p = parse_line(br#"m,a=1 b=t,c=F,d="x" "#.trim_ascii_end(), 42).unwrap();
        assert_eq!(p.time_ns, 42);
        assert_eq!(p.fields[0].1, FieldValue::Bool(true));
        assert_eq!(p.fields[1].1, FieldValue::Bool(false));
        assert_eq!(p.fields[2].1, FieldValue::Str("x".into()));
        for (bad, problem) in [
            (&b"m"[..], "expected a space before the fields"),
            (b"m v=\"open", "unterminated string"),
            (b"m v=1x 5", "bad number"),
            (b"m v=1 12ab", "bad timestamp"),
            (b",t=1 v=1", "empty measurement"),
        ] {
            let e = parse_line(bad, 0).unwrap_err();
            assert_eq!(e.problem, problem, "{}", String::from_utf8_lossy(bad));
        }
        let lines: Vec<_> = parse_lines(b"a v=1i 1\n\nb v=2u 2\n")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].fields[0].1, FieldValue::UInt(2));
    }
}
