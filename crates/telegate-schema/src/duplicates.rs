//! Two samples of one series with the same time in one batch.
//!
//! InfluxDB merges such points field by field (a field present only in the
//! earlier one survives), which is neither sample. telegate refuses the
//! batch instead, as `duplicate_sample`, naming both samples. Both decode
//! paths check it here: the transcoder on its lines (one per sample), the
//! dynamic path on its points; the series is the measurement and tag set,
//! exactly what the line's text before its first unescaped space holds.

use std::collections::HashMap;

use telegate_model::{Point, RejectReason, Rejection};

use crate::rejections::format_ns;

fn rejection(first: usize, second: usize, time_ns: i64) -> Rejection {
    Rejection::new(
        RejectReason::DuplicateSample,
        format!(
            "samples[{second}] has the series and time ({}, {time_ns} ns) of samples[{first}]; give each sample of a series its own time",
            format_ns(time_ns)
        ),
    )
}

/// The first repeat of a key among `keys` (in order), as (first, second) indexes.
fn first_repeat<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> Option<(usize, usize)> {
    let mut seen: HashMap<K, usize> = HashMap::new();
    for (i, k) in keys.enumerate() {
        if let Some(&first) = seen.get(&k) {
            return Some((first, i));
        }
        seen.insert(k, i);
    }
    None
}

/// Splits line protocol into (series key, time) per line. A string field
/// may hold a raw newline, so lines end at a newline outside quotes; the
/// key ends at the first unescaped space, the time follows the last space
/// outside quotes.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], i64);

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.rest;
        if line.is_empty() {
            return None;
        }
        let mut key_end = None;
        let mut last_space = 0;
        let mut quoted = false;
        let mut i = 0;
        let mut end = line.len();
        while i < line.len() {
            match line[i] {
                b'\\' => i += 1,
                b'"' if key_end.is_some() => quoted = !quoted,
                b' ' if !quoted => {
                    key_end.get_or_insert(i);
                    last_space = i;
                }
                b'\n' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = line.get(end + 1..).unwrap_or_default();
        let time = std::str::from_utf8(line.get(last_space + 1..end).unwrap_or_default())
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(i64::MIN);
        Some((&line[..key_end.unwrap_or(end)], time))
    }
}

fn split_lines(rest: &[u8]) -> Lines<'_> {
    Lines { rest }
}

/// Check line protocol with one line per sample (the transcoder's output).
pub(crate) fn check_lines(lines: &[u8]) -> Result<(), Rejection> {
    // One sample: nothing to compare, nothing to allocate.
    if split_lines(lines).nth(1).is_none() {
        return Ok(());
    }
    match first_repeat(split_lines(lines)) {
        None => Ok(()),
        Some((first, second)) => {
            let time = split_lines(lines).nth(second).map_or(0, |(_, t)| t);
            Err(rejection(first, second, time))
        }
    }
}

/// Check points with one point per sample (the dynamic path's output).
pub(crate) fn check_points(points: &[Point]) -> Result<(), Rejection> {
    if points.len() < 2 {
        return Ok(());
    }
    match first_repeat(points.iter().map(|p| (&p.measurement, &p.tags, p.time_ns))) {
        None => Ok(()),
        Some((first, second)) => Err(rejection(first, second, points[second].time_ns)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use telegate_model::FieldValue;

    use super::*;

    fn point(tags: &[(&str, &str)], time_ns: i64) -> Point {
        Point {
            measurement: Arc::from("m"),
            tags: tags.iter().map(|(k, v)| (Arc::from(*k), (*v).to_owned())).collect(),
            fields: vec![(Arc::from("f"), FieldValue::Float(1.0))],
            time_ns,
        }
    }

    #[test]
    fn same_series_same_time_is_refused_by_both_checks() {
        let lines = b"m,device_id=a f=1 10\nm,device_id=a f=2 20\nm,device_id=a g=\"x y\" 10\n";
        let err = check_lines(lines).expect_err("duplicate");
        assert_eq!(err.reason, RejectReason::DuplicateSample);
        assert!(
            err.detail.starts_with("samples[2] has the series and time"),
            "{}",
            err.detail
        );
        let points = [
            point(&[("device_id", "a")], 10),
            point(&[("device_id", "a")], 20),
            point(&[("device_id", "a")], 10),
        ];
        assert_eq!(check_points(&points), Err(err));
    }

    #[test]
    fn other_series_or_times_are_fine() {
        assert!(check_lines(b"m,device_id=a f=1 10\nm,device_id=b f=1 10\nm,device_id=a f=1 11\n").is_ok());
        assert!(check_lines(b"m,lane=a\\ b f=1 10\nm,lane=a\\ c f=1 10\n").is_ok());
        assert!(check_lines(b"m f=1 10\n").is_ok());
        assert!(check_lines(b"").is_ok());
        // A raw newline and spaces inside a string field do not end the line.
        assert!(check_lines(b"m s=\"a 9\n m s=1 10\" 10\nm s=\"b\" 11\n").is_ok());
        assert!(check_lines(b"m s=\"a 9\n m s=1 10\" 10\nm s=\"b\\\"\" 10\n").is_err());
        let points = [point(&[("lane", "1")], 10), point(&[("lane", "2")], 10)];
        assert!(check_points(&points).is_ok());
    }
}
