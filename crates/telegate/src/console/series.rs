//! `GET /api/series`: one device's field over the last hours or days, read
//! back from the database the gateway writes to, for the console's trend
//! chart, with the levels of the threshold rules that watch it (BĐ I/II/III).
//!
//! Two ways to ask (`[trend] query`, docs/console.md):
//!
//! - `influxql`: `GET {influx.url}/query?db=…&epoch=ms` with InfluxQL and
//!   the writes' credentials. InfluxDB 1.x; InfluxDB 2.x through its
//!   v1-compatible API (the bucket needs a DBRP mapping, `db` = the bucket);
//!   InfluxDB 3 serves it natively.
//! - `prometheus`: VictoriaMetrics, which stores `{measurement}_{field}`
//!   series and answers neither InfluxQL nor Flux: its raw samples from
//!   `GET /api/v1/export`.
//!
//! Every name in a query is validated (`telegate_model::is_valid_identifier`)
//! *and* escaped, so nothing a browser sends can change a query's meaning.
//! At most `[trend] max_samples` samples are read (the newest ones), then
//! cut to `[trend] max_points` by [`downsample`], which keeps each time
//! bucket's lowest and highest value: a flood peak stays on the chart.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use telegate_alert::{AlertConfig, LevelLine, Severity};
use telegate_influx::{ApiVersion, InfluxConfig, Output};
use telegate_model::{InvalidSetting, is_valid_identifier};
use thiserror::Error;

/// How the chart reads series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeriesQuery {
    /// InfluxQL on `/query` (InfluxDB 1.x, 2.x via v1 compatibility, 3.x).
    #[default]
    Influxql,
    /// VictoriaMetrics' `/api/v1/export`.
    Prometheus,
    /// No chart (`/api/series` answers 501).
    Off,
}

/// `[trend]`: the console's trend chart.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TrendConfig {
    pub query: SeriesQuery,
    /// Points in one answer at most (after downsampling).
    pub max_points: usize,
    /// Samples read from the database for one chart at most (the newest).
    pub max_samples: usize,
    /// Timeout of one query.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for TrendConfig {
    fn default() -> Self {
        Self {
            query: SeriesQuery::Influxql,
            max_points: 600,
            max_samples: 50_000,
            timeout: Duration::from_secs(10),
        }
    }
}

impl TrendConfig {
    /// The `[trend]` part of [`crate::Config::validate`].
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(10..=10_000).contains(&self.max_points) {
            return Err(InvalidSetting::new(
                "trend.max_points",
                format!("{} is outside 10..=10000", self.max_points),
                "the default 600 is about one point per pixel of a wide chart",
            ));
        }
        if self.max_samples < self.max_points || self.max_samples > 1_000_000 {
            return Err(InvalidSetting::new(
                "trend.max_samples",
                format!("{} is below trend.max_points or above 1000000", self.max_samples),
                "the default 50000 covers 7 days of one-minute samples",
            ));
        }
        if self.timeout.is_zero() {
            return Err(InvalidSetting::new("trend.timeout", "is 0", "e.g. \"10s\""));
        }
        Ok(())
    }
}

/// The longest range a chart may ask for.
const MAX_RANGE: Duration = Duration::from_secs(31 * 86_400);

/// Why a series cannot be answered.
#[derive(Debug, Error)]
pub enum SeriesError {
    #[error("{name} `{value}` is not a valid name (letters, digits, `.`, `_`, `-`; at most 64)")]
    BadName { name: &'static str, value: String },
    #[error("range `{0}` is not a duration between 1m and 31d (e.g. 6h, 24h, 7d)")]
    BadRange(String),
    #[error("rule `{0}` is not in the rules in service")]
    UnknownRule(String),
    #[error("rule `{0}` reads no single field of one measurement (only threshold, sum, mean and rate rules do)")]
    NoField(String),
    #[error("device `{0}` has not reported; give measurement= and field=")]
    UnknownDevice(String),
    #[error("cannot tell which series of device `{device}` to show; give {missing} (it reports {types})")]
    Ambiguous {
        device: String,
        missing: &'static str,
        types: String,
    },
    #[error("trend charts are off ([trend] query = \"off\")")]
    Off,
    #[error("trend charts need a database; the gateway writes line-protocol files ([file_sink])")]
    NoDatabase,
    /// The database answered, but not with series: `message` is its own
    /// words (the HTTP status and body, or what its JSON says).
    #[error("the database refused the query ({url}): {message}")]
    Database { url: String, message: String },
    /// No answer: the query could not be built or sent, or its body read.
    #[error("the query to the database ({url}) failed")]
    Query {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SeriesError {
    /// Whose fault: the request's (400/404), the setup's (501), the database's (502).
    pub fn status(&self) -> u16 {
        match self {
            SeriesError::BadName { .. } | SeriesError::BadRange(_) | SeriesError::NoField(_) => 400,
            SeriesError::Ambiguous { .. } => 400,
            SeriesError::UnknownRule(_) | SeriesError::UnknownDevice(_) => 404,
            SeriesError::Off | SeriesError::NoDatabase => 501,
            SeriesError::Database { .. } | SeriesError::Query { .. } => 502,
        }
    }
}

/// The query string of `/api/series`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SeriesParams {
    pub device: String,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub measurement: Option<String>,
    /// Take measurement and field from this rule.
    #[serde(default)]
    pub rule: Option<String>,
    /// `6h`, `24h` (default), `7d`, or any duration from 1m to 31d.
    #[serde(default)]
    pub range: Option<String>,
}

/// A level line with the rule it belongs to.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleLevel {
    pub rule_id: String,
    pub rule_name: String,
    #[serde(flatten)]
    pub line: LevelLine,
}

/// `GET /api/series`.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesBody {
    pub device_id: String,
    pub measurement: String,
    pub field: String,
    pub range: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub source: SeriesQuery,
    /// Samples read from the database.
    pub samples: usize,
    /// `max_samples` was reached: older samples of the range were not read.
    pub truncated: bool,
    /// The samples were cut to `max_points` (each bucket's low and high kept).
    pub downsampled: bool,
    /// `[time in ms since the epoch, value]`, oldest first.
    pub points: Vec<(i64, f64)>,
    /// The levels of the threshold rules watching this field of this device.
    pub levels: Vec<RuleLevel>,
}

/// Which series: checked names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesKey {
    pub device: String,
    pub measurement: String,
    pub field: String,
}

fn checked(name: &'static str, value: &str) -> Result<String, SeriesError> {
    if is_valid_identifier(value) {
        Ok(value.to_owned())
    } else {
        Err(SeriesError::BadName {
            name,
            value: value.chars().take(80).collect(),
        })
    }
}

/// The range asked for (default 24 h).
pub fn parse_range(range: Option<&str>) -> Result<(String, Duration), SeriesError> {
    let text = range.unwrap_or("24h").trim();
    let d = humantime::parse_duration(text).map_err(|_| SeriesError::BadRange(text.chars().take(40).collect()))?;
    if d < Duration::from_secs(60) || d > MAX_RANGE {
        return Err(SeriesError::BadRange(text.to_owned()));
    }
    Ok((text.to_owned(), d))
}

/// What the device looks like to the registry: site and sensor types.
#[derive(Debug, Clone, Default)]
pub struct DeviceFacts {
    pub site: Option<String>,
    pub sensor_types: Vec<String>,
    pub fields: Vec<String>,
}

/// Which measurement and field to chart: from `rule=`, from `field=` (and
/// `measurement=`), or the first value rule that watches the device.
pub fn resolve(
    p: &SeriesParams,
    rules: Option<&AlertConfig>,
    device: Option<&DeviceFacts>,
) -> Result<SeriesKey, SeriesError> {
    let device_id = checked("device", &p.device)?;
    let key = |m: &str, f: &str| -> Result<SeriesKey, SeriesError> {
        Ok(SeriesKey {
            device: device_id.clone(),
            measurement: checked("measurement", m)?,
            field: checked("field", f)?,
        })
    };
    if let Some(id) = p.rule.as_deref().filter(|r| !r.is_empty()) {
        let rule = rules
            .and_then(|c| c.rule(id))
            .ok_or_else(|| SeriesError::UnknownRule(id.chars().take(80).collect()))?;
        return match (rule.measurement(), rule.field()) {
            (Some(m), Some(f)) => key(m, f),
            _ => Err(SeriesError::NoField(id.to_owned())),
        };
    }
    if let (Some(m), Some(f)) = (p.measurement.as_deref(), p.field.as_deref()) {
        return key(m, f);
    }
    let facts = device.ok_or_else(|| SeriesError::UnknownDevice(device_id.clone()))?;
    let tags = device_tags(&device_id, facts);
    // The first notifying value rule watching the device reads what to show;
    // a threshold rule first (`drawable`: its levels can be drawn).
    let watching = |m: &str, drawable: bool| {
        rules
            .into_iter()
            .flat_map(|c| c.rules().iter().map(move |r| (c, r)))
            .find(|(c, r)| {
                r.notifies()
                    && r.measurement() == Some(m)
                    && r.field()
                        .is_some_and(|f| p.field.as_deref().is_none_or(|want| want == f))
                    && (!drawable || !r.level_lines().is_empty())
                    && c.selects(r, Some(m), &tags)
            })
    };
    let mut types: Vec<&str> = facts.sensor_types.iter().map(String::as_str).collect();
    types.sort_by_key(|t| *t == "device_health");
    for drawable in [true, false] {
        for m in types
            .iter()
            .filter(|m| p.measurement.as_deref().is_none_or(|want| want == **m))
        {
            if let Some(f) = watching(m, drawable).and_then(|(_, r)| r.field()) {
                return key(m, f);
            }
        }
    }
    let missing = if p.field.is_some() { "measurement=" } else { "field=" };
    let ambiguous = || SeriesError::Ambiguous {
        device: device_id.clone(),
        missing,
        types: facts.sensor_types.join(", "),
    };
    let only_type = match types.as_slice() {
        [only] => Some(*only),
        _ => None,
    };
    match (
        p.measurement.as_deref().or(only_type),
        p.field.as_deref(),
        facts.fields.as_slice(),
    ) {
        (Some(m), Some(f), _) => key(m, f),
        (Some(m), None, [only_field]) => key(m, only_field),
        _ => Err(ambiguous()),
    }
}

fn device_tags<'a>(device: &'a str, facts: &'a DeviceFacts) -> Vec<(&'a str, &'a str)> {
    let mut tags = vec![("device_id", device)];
    if let Some(site) = &facts.site {
        tags.push(("site", site.as_str()));
    }
    tags
}

/// The levels of the threshold rules that watch `key`.
pub fn levels_for(key: &SeriesKey, rules: Option<&AlertConfig>, site: Option<&str>) -> Vec<RuleLevel> {
    let Some(config) = rules else { return Vec::new() };
    let mut tags = vec![("device_id", key.device.as_str())];
    if let Some(site) = site {
        tags.push(("site", site));
    }
    let mut out = Vec::new();
    for r in config.rules() {
        if r.measurement() == Some(key.measurement.as_str())
            && r.field() == Some(key.field.as_str())
            && config.selects(r, Some(&key.measurement), &tags)
        {
            out.extend(r.level_lines().into_iter().map(|line| RuleLevel {
                rule_id: r.id().to_owned(),
                rule_name: r.name().to_owned(),
                line,
            }));
        }
    }
    out.sort_by(|a, b| a.line.value.total_cmp(&b.line.value));
    out
}

/// An InfluxQL identifier: double-quoted, `"` and `\` escaped.
pub fn influxql_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An InfluxQL string literal: single-quoted, `'` and `\` escaped.
pub fn influxql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The InfluxQL statement: the newest `limit` samples of the range, newest
/// first (so a cut keeps the recent end).
pub fn influxql(key: &SeriesKey, from_ns: i64, to_ns: i64, limit: usize) -> String {
    format!(
        "SELECT {field} FROM {m} WHERE {dev} = {id} AND time >= {from_ns} AND time <= {to_ns} ORDER BY time DESC LIMIT {limit}",
        field = influxql_ident(&key.field),
        m = influxql_ident(&key.measurement),
        dev = influxql_ident("device_id"),
        id = influxql_string(&key.device),
    )
}

/// A MetricsQL/PromQL label value: double-quoted, `"` and `\` escaped
/// (newlines cannot occur: names are validated).
fn prom_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The series selector of VictoriaMetrics' export: its Influx import names
/// a series `{measurement}_{field}`.
pub fn prometheus_selector(key: &SeriesKey) -> String {
    format!(
        "{{__name__={},device_id={}}}",
        prom_string(&format!("{}_{}", key.measurement, key.field)),
        prom_string(&key.device)
    )
}

/// At most `max` points: all of them when they fit; otherwise the range
/// is cut into `max / 2` equal time buckets and each bucket keeps its
/// lowest and its highest sample (one when they are the same), in time
/// order. `points` must be sorted by time.
pub fn downsample(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    if max < 2 {
        return points.iter().copied().take(max).collect();
    }
    let buckets = (max / 2) as i128;
    let (first, last) = (points[0].0 as i128, points[points.len() - 1].0 as i128);
    let span = (last - first).max(1) + 1;
    let mut out = Vec::with_capacity(max);
    let mut i = 0;
    while i < points.len() {
        let b = (points[i].0 as i128 - first) * buckets / span;
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && (points[j].0 as i128 - first) * buckets / span == b {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let (a, z) = (lo.min(hi), lo.max(hi));
        out.push(points[a]);
        if z != a {
            out.push(points[z]);
        }
        i = j;
    }
    out
}

/// Reads series from the database the gateway writes to.
#[derive(Debug, Clone)]
pub struct SeriesReader {
    config: TrendConfig,
    /// `None`: the gateway writes files.
    http: Option<(reqwest::Client, Option<reqwest::header::HeaderValue>)>,
    base: String,
    /// `db=` of an InfluxQL query: the database (v1) or the bucket (v2).
    db: String,
    rp: String,
}

impl SeriesReader {
    pub fn new(config: &TrendConfig, influx: &InfluxConfig, output: &Output) -> SeriesReader {
        let http = output.http().map(|w| {
            let (client, auth) = w.client_and_auth();
            (client.clone(), auth.cloned())
        });
        let (db, rp) = match influx.api {
            ApiVersion::V1 => (influx.database.clone(), influx.retention_policy.clone()),
            ApiVersion::V2 => (influx.bucket.clone(), String::new()),
        };
        SeriesReader {
            config: config.clone(),
            http,
            base: influx.url.trim_end_matches('/').to_owned(),
            db,
            rp,
        }
    }

    pub fn config(&self) -> &TrendConfig {
        &self.config
    }

    /// The samples of `key` in `[from_ns, to_ns]`, oldest first, and
    /// whether `max_samples` cut the oldest off.
    pub async fn read(
        &self,
        key: &SeriesKey,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<(Vec<(i64, f64)>, bool), SeriesError> {
        let (client, auth) = match (&self.config.query, &self.http) {
            (SeriesQuery::Off, _) => return Err(SeriesError::Off),
            (_, None) => return Err(SeriesError::NoDatabase),
            (_, Some(h)) => h,
        };
        let limit = self.config.max_samples;
        let (url, query): (String, Vec<(&str, String)>) = match self.config.query {
            SeriesQuery::Prometheus => (
                format!("{}/api/v1/export", self.base),
                vec![
                    ("match[]", prometheus_selector(key)),
                    ("start", format!("{}", from_ns / 1_000_000_000)),
                    ("end", format!("{}", to_ns.div_euclid(1_000_000_000) + 1)),
                    ("max_rows_per_line", limit.to_string()),
                ],
            ),
            _ => {
                let mut q = vec![
                    ("db", self.db.clone()),
                    ("epoch", "ms".to_owned()),
                    ("q", influxql(key, from_ns, to_ns, limit)),
                ];
                if !self.rp.is_empty() {
                    q.push(("rp", self.rp.clone()));
                }
                (format!("{}/query", self.base), q)
            }
        };
        let failed = |message: String| SeriesError::Database {
            url: url.clone(),
            message,
        };
        let unanswered = |source: Box<dyn std::error::Error + Send + Sync>| SeriesError::Query {
            url: url.clone(),
            source,
        };
        let full = reqwest::Url::parse_with_params(&url, &query).map_err(|e| unanswered(e.into()))?;
        let mut req = client.get(full).timeout(self.config.timeout);
        if let Some(auth) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, auth.clone());
        }
        let resp = req.send().await.map_err(|e| unanswered(e.without_url().into()))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| unanswered(e.without_url().into()))?;
        if !status.is_success() {
            let cut: String = text.chars().take(300).collect();
            return Err(failed(format!("HTTP {status}: {}", cut.trim())));
        }
        let mut points = match self.config.query {
            SeriesQuery::Prometheus => parse_export(&text, from_ns, to_ns).map_err(failed)?,
            _ => parse_influxql(&text).map_err(failed)?,
        };
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        let truncated = points.len() >= limit;
        if points.len() > limit {
            points.drain(..points.len() - limit);
        }
        Ok((points, truncated))
    }
}

/// `{"results":[{"series":[{"columns":["time","f"],"values":[[ms,v],…]}]}]}`;
/// `{"results":[{"error":…}]}` or `{"error":…}` for a refused statement.
fn parse_influxql(text: &str) -> Result<Vec<(i64, f64)>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not InfluxDB's JSON: {e}"))?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        return Err(e.to_owned());
    }
    let mut out = Vec::new();
    for result in v["results"].as_array().into_iter().flatten() {
        if let Some(e) = result.get("error").and_then(|e| e.as_str()) {
            return Err(e.to_owned());
        }
        for series in result["series"].as_array().into_iter().flatten() {
            for row in series["values"].as_array().into_iter().flatten() {
                if let (Some(t), Some(x)) = (row[0].as_i64(), row[1].as_f64()) {
                    out.push((t, x));
                }
            }
        }
    }
    Ok(out)
}

/// VictoriaMetrics' export: one JSON object per line and series,
/// `{"metric":{…},"values":[…],"timestamps":[ms…]}`.
fn parse_export(text: &str, from_ns: i64, to_ns: i64) -> Result<Vec<(i64, f64)>, String> {
    let (from_ms, to_ms) = (from_ns.div_euclid(1_000_000), to_ns.div_euclid(1_000_000));
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not VictoriaMetrics' export JSON: {e}"))?;
        let (Some(values), Some(times)) = (v["values"].as_array(), v["timestamps"].as_array()) else {
            continue;
        };
        for (x, t) in values.iter().zip(times) {
            if let (Some(x), Some(t)) = (x.as_f64(), t.as_i64())
                && (from_ms..=to_ms).contains(&t)
            {
                out.push((t, x));
            }
        }
    }
    Ok(out)
}

/// The most severe of `a` and `b`.
pub fn worse(a: Option<Severity>, b: Severity) -> Option<Severity> {
    Some(a.map_or(b, |a| a.max(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(device: &str) -> SeriesKey {
        SeriesKey {
            device: device.into(),
            measurement: "river_level".into(),
            field: "stage_m".into(),
        }
    }

    #[test]
    fn influxql_names_are_validated_and_escaped() {
        assert_eq!(
            influxql(&key("rl-001"), 10, 20, 500),
            "SELECT \"stage_m\" FROM \"river_level\" WHERE \"device_id\" = 'rl-001' AND time >= 10 AND time <= 20 \
             ORDER BY time DESC LIMIT 500"
        );
        assert_eq!(influxql_string(r"a' OR 1=1 --\"), r"'a\' OR 1=1 --\\'");
        assert_eq!(influxql_ident(r#"x" FROM y"#), r#""x\" FROM y""#);
        assert_eq!(
            prometheus_selector(&key("rl-001")),
            r#"{__name__="river_level_stage_m",device_id="rl-001"}"#
        );
        // What a browser could send never reaches a query.
        for evil in [
            "rl-001' OR '1'='1",
            "a\"b",
            "x;DROP",
            "",
            "dev ice",
            &"x".repeat(65),
            "ä",
        ] {
            let p = SeriesParams {
                device: evil.into(),
                measurement: Some("river_level".into()),
                field: Some("stage_m".into()),
                ..SeriesParams::default()
            };
            assert!(
                matches!(
                    resolve(&p, None, None),
                    Err(SeriesError::BadName { name: "device", .. })
                ),
                "{evil}"
            );
        }
        let p = SeriesParams {
            device: "rl-001".into(),
            measurement: Some("river_level".into()),
            field: Some("stage_m\" FROM x".into()),
            ..SeriesParams::default()
        };
        assert!(matches!(
            resolve(&p, None, None),
            Err(SeriesError::BadName { name: "field", .. })
        ));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None).unwrap().1, Duration::from_secs(86_400));
        assert_eq!(parse_range(Some("7d")).unwrap().1, Duration::from_secs(7 * 86_400));
        assert_eq!(parse_range(Some("6h")).unwrap().0, "6h");
        for bad in ["0s", "30s", "32d", "soon", "1h; DROP"] {
            assert!(parse_range(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn downsampling_is_bounded_ordered_and_keeps_extremes() {
        let small: Vec<(i64, f64)> = (0..10).map(|i| (i, i as f64)).collect();
        assert_eq!(downsample(&small, 600), small);
        // A day of one-minute samples with a one-minute peak at 13:00.
        let day: Vec<(i64, f64)> = (0..1440)
            .map(|i| (i * 60_000, if i == 780 { 290.4 } else { 286.0 + (i % 7) as f64 * 0.01 }))
            .collect();
        let d = downsample(&day, 100);
        assert!(d.len() <= 100 && d.len() >= 50, "{}", d.len());
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(d.contains(&(780 * 60_000, 290.4)));
        assert!(d.iter().any(|p| p.1 == 286.0), "the lows stay too");
        assert_eq!(d[0].0, 0);
        assert_eq!(downsample(&day, 2).len(), 2);
    }

    #[test]
    fn answers_are_parsed() {
        let q = r#"{"results":[{"statement_id":0,"series":[{"name":"river_level","columns":["time","stage_m"],
            "values":[[3000,286.5],[2000,286.4],[1000,null]]}]}]}"#;
        assert_eq!(parse_influxql(q).unwrap(), vec![(3000, 286.5), (2000, 286.4)]);
        assert_eq!(parse_influxql(r#"{"results":[{"statement_id":0}]}"#).unwrap(), vec![]);
        assert_eq!(
            parse_influxql(r#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#).unwrap_err(),
            "database not found: x"
        );
        let e = "{\"metric\":{\"__name__\":\"river_level_stage_m\"},\"values\":[1.5,2.5,9],\"timestamps\":[1000,2000,99000]}\n";
        assert_eq!(
            parse_export(e, 0, 50_000_000_000).unwrap(),
            vec![(1000, 1.5), (2000, 2.5)]
        );
    }

    #[test]
    fn influxql_reads_the_database_or_the_bucket_with_the_writes_credentials() {
        let mut influx = InfluxConfig::default();
        let output = |c: &InfluxConfig| Output::from(telegate_influx::InfluxClient::new(c).unwrap());
        let r = SeriesReader::new(&TrendConfig::default(), &influx, &output(&influx));
        assert_eq!(
            (r.db.as_str(), r.rp.as_str(), r.base.as_str()),
            ("telegate", "", "http://127.0.0.1:8086")
        );
        influx.api = ApiVersion::V2;
        influx.bucket = "lai-chau".into();
        influx.org = "org".into();
        influx.token = telegate_model::Secret::new("tok");
        influx.url = "https://db.example:8086/".into();
        let r = SeriesReader::new(&TrendConfig::default(), &influx, &output(&influx));
        assert_eq!(
            (r.db.as_str(), r.base.as_str()),
            ("lai-chau", "https://db.example:8086")
        );
        let auth = r
            .http
            .as_ref()
            .and_then(|(_, a)| a.as_ref())
            .map(|a| a.to_str().unwrap_or_default().to_owned());
        assert_eq!(auth.as_deref(), Some("Token tok"));
    }

    const RULES: &str = r#"
[[rule]]
id = "flood-muong-te"
name = "Flood alarm, Mường Tè (Đà)"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
match = { site = "muong-te" }
[[rule.level]]
name = "BĐ I"
severity = "info"
threshold = 287.0
clear = 286.8
[[rule.level]]
name = "BĐ II"
severity = "warning"
threshold = 288.5
clear = 288.3

[[rule]]
id = "rise"
name = "Rise"
kind = "rate"
measurement = "river_level"
field = "stage_m"
window = "30m"
per = "1h"
[[rule.level]]
name = "fast"
severity = "warning"
threshold = 0.5
clear = 0.4
"#;

    #[test]
    fn the_series_and_its_levels_follow_the_rules() {
        let rules = AlertConfig::from_toml_str(RULES, "alerts.toml").unwrap();
        let facts = DeviceFacts {
            site: Some("muong-te".into()),
            sensor_types: vec!["device_health".into(), "river_level".into()],
            fields: vec!["battery_v".into(), "stage_m".into()],
        };
        let p = SeriesParams {
            device: "rl-001".into(),
            ..SeriesParams::default()
        };
        let k = resolve(&p, Some(&rules), Some(&facts)).unwrap();
        assert_eq!(k, key("rl-001"));
        let by_rule = SeriesParams {
            rule: Some("flood-muong-te".into()),
            ..p.clone()
        };
        assert_eq!(resolve(&by_rule, Some(&rules), None).unwrap(), key("rl-001"));
        let levels = levels_for(&k, Some(&rules), Some("muong-te"));
        let names: Vec<(&str, f64)> = levels.iter().map(|l| (l.line.name.as_str(), l.line.value)).collect();
        assert_eq!(
            names,
            [("BĐ I", 287.0), ("BĐ II", 288.5)],
            "the rate rule's levels are not stage values"
        );
        assert!(
            levels_for(&k, Some(&rules), Some("sin-ho")).is_empty(),
            "another site's levels"
        );
        let unknown = SeriesParams {
            rule: Some("nope".into()),
            ..p.clone()
        };
        assert!(matches!(
            resolve(&unknown, Some(&rules), None),
            Err(SeriesError::UnknownRule(_))
        ));
        let unwatched = DeviceFacts {
            site: Some("sin-ho".into()),
            sensor_types: vec!["device_health".into(), "weather".into()],
            fields: vec!["battery_v".into(), "temp_c".into()],
        };
        assert!(matches!(
            resolve(&p, Some(&rules), Some(&unwatched)),
            Err(SeriesError::Ambiguous { missing: "field=", .. })
        ));
        let only_weather = DeviceFacts {
            sensor_types: vec!["weather".into()],
            fields: vec!["temp_c".into()],
            ..unwatched
        };
        assert_eq!(resolve(&p, Some(&rules), Some(&only_weather)).unwrap().field, "temp_c");
    }
}
