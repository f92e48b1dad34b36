//! The deployment files under `deploy/`, checked without Docker or a cluster:
//! every YAML and JSON file parses; the Grafana dashboards query only
//! measurements, fields and tags telegate writes (built-in registry, plus
//! `alerts`) and only metrics it exports; the datasources, compose stack and
//! Kubernetes manifests are wired to each other consistently; the three
//! deployment configs load with the real config loader; the systemd unit
//! passes `systemd-analyze verify` and its offline security check; the
//! Dockerfile is multi-stage and runs unprivileged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;
use telegate::Config;
use telegate::registry::load_registry;
use telegate_e2e::deploy::{ALERTS_FIELDS, ALERTS_MEASUREMENT, ALERTS_TAGS, metric_of};
use telegate_e2e::repo_dir;
use telegate_influx::ApiVersion;
use telegate_model::RejectReason;
use telegate_schema::Registry;
use yaml_rust2::{Yaml, YamlLoader};

// ---------------------------------------------------------------- helpers

fn deploy_dir() -> PathBuf {
    repo_dir().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Files under `dir` (recursively) whose name ends with one of `suffixes`, sorted.
fn files_under(dir: &Path, suffixes: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(s) => s
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.clone())),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("unsupported YAML key {other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML value {y:?}"),
    }
}

/// Every document of a YAML file (duplicate keys are an error), as JSON values.
fn yaml_docs(path: &Path) -> Vec<Value> {
    let docs = YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs.iter().map(yaml_to_json).collect()
}

fn yaml_doc(path: &Path) -> Value {
    let mut docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{}: expected one YAML document", path.display());
    docs.remove(0)
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn toml_table(text: &str, what: &str) -> toml::Table {
    toml::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// `table.key.key...` as a string.
fn toml_str<'a>(t: &'a toml::Table, dotted: &str) -> &'a str {
    let mut parts = dotted.split('.').peekable();
    let mut cur = t;
    while let Some(p) = parts.next() {
        let v = cur.get(p).unwrap_or_else(|| panic!("config has no `{dotted}`"));
        if parts.peek().is_none() {
            return v.as_str().unwrap_or_else(|| panic!("`{dotted}` is not a string"));
        }
        cur = v.as_table().unwrap_or_else(|| panic!("`{dotted}` is not a table"));
    }
    unreachable!("empty key")
}

fn duration(s: &str) -> Duration {
    if s.chars().all(|c| c.is_ascii_digit()) {
        Duration::from_secs(s.parse().unwrap())
    } else {
        humantime::parse_duration(s).unwrap_or_else(|e| panic!("duration {s:?}: {e}"))
    }
}

fn port_of(listen: &str) -> u16 {
    listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {listen:?}"))
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no array at {pointer}"))
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

const COMPOSE_TOML: &str = "compose/telegate.toml";
const SYSTEMD_TOML: &str = "systemd/telegate.toml";

/// The `telegate.toml` key of the Kubernetes ConfigMap.
fn k8s_config_text() -> String {
    let cm = yaml_doc(&deploy_dir().join("k8s/configmap.yaml"));
    assert_eq!(str_at(&cm, "/kind"), "ConfigMap");
    str_at(&cm, "/data/telegate.toml").to_owned()
}

// ---------------------------------------------------------------- what telegate writes

/// Tag and field keys of one measurement.
#[derive(Debug, Default)]
struct Columns {
    tags: BTreeSet<String>,
    fields: BTreeSet<String>,
    /// Repeated fields, written as `name_1`, `name_2`, ...
    repeated: BTreeSet<String>,
}

impl Columns {
    fn has_field(&self, f: &str) -> bool {
        self.fields.contains(f)
            || f.rsplit_once('_').is_some_and(|(base, n)| {
                self.repeated.contains(base) && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
            })
    }
}

/// Every measurement telegate writes: the built-in sensor types and `alerts`.
fn written_measurements() -> BTreeMap<String, Columns> {
    let registry = Registry::builtin(&BTreeMap::new()).expect("built-in registry");
    let mut out: BTreeMap<String, Columns> = BTreeMap::new();
    for s in registry.schemas() {
        let c = out.entry(s.measurement.to_string()).or_default();
        c.tags.extend(s.tag_keys().into_iter().map(str::to_owned));
        for v in s.value_columns() {
            c.fields.insert(v.name.to_string());
            if v.is_repeated() {
                c.repeated.insert(v.name.to_string());
            }
        }
    }
    assert!(out.len() >= 8, "the built-in registry has {} measurements", out.len());
    let alerts = out.entry(ALERTS_MEASUREMENT.to_owned()).or_default();
    alerts.tags.extend(ALERTS_TAGS.iter().map(|s| (*s).to_owned()));
    alerts.fields.extend(ALERTS_FIELDS.iter().map(|s| (*s).to_owned()));
    out
}

// ---------------------------------------------------------------- dashboards

const DASHBOARDS: [&str; 3] = ["telemetry", "rejections", "alerts"];

#[derive(Debug)]
struct Query {
    /// `dashboard.json: panel title` or `dashboard.json: variable name`.
    place: String,
    datasource_uid: String,
    text: String,
    /// A panel's query (a variable's may name no measurement or metric).
    in_panel: bool,
}

fn dashboard(name: &str) -> Value {
    json_file(&deploy_dir().join(format!("grafana/dashboards/{name}.json")))
}

/// The panels of a dashboard, rows' nested panels included (rows themselves left out).
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in array_at(d, "/panels") {
        if p["type"] == "row" {
            if let Some(nested) = p["panels"].as_array() {
                out.extend(nested);
            }
        } else {
            out.push(p);
        }
    }
    out
}

/// Every query of a dashboard: panel targets and template variables.
fn queries(name: &str) -> Vec<Query> {
    let d = dashboard(name);
    let mut out = Vec::new();
    for p in panels(&d) {
        let title = str_at(p, "/title");
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(!targets.is_empty(), "{name}.json: panel {title:?} has no query");
        for t in targets {
            let uid = t.pointer("/datasource/uid").or(p.pointer("/datasource/uid"));
            let text = t["query"].as_str().or(t["expr"].as_str()).unwrap_or_default();
            assert!(!text.trim().is_empty(), "{name}.json: panel {title:?}: empty query");
            out.push(Query {
                place: format!("{name}.json: panel {title:?}"),
                datasource_uid: uid.and_then(Value::as_str).unwrap_or_default().to_owned(),
                text: text.to_owned(),
                in_panel: true,
            });
        }
    }
    for v in d
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if v["type"] != "query" {
            continue;
        }
        let q = &v["query"];
        let text = q.as_str().or(q["query"].as_str()).unwrap_or_default();
        out.push(Query {
            place: format!("{name}.json: variable {}", v["name"]),
            datasource_uid: v
                .pointer("/datasource/uid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            text: text.to_owned(),
            in_panel: false,
        });
    }
    out
}

/// Provisioned datasources: uid → (type, the whole entry).
fn datasources() -> BTreeMap<String, (String, Value)> {
    let doc = yaml_doc(&deploy_dir().join("grafana/provisioning/datasources/telegate.yaml"));
    array_at(&doc, "/datasources")
        .iter()
        .map(|d| (str_at(d, "/uid").to_owned(), (str_at(d, "/type").to_owned(), d.clone())))
        .collect()
}

fn influx_uid() -> String {
    let ds = datasources();
    let uids: Vec<_> = ds
        .iter()
        .filter(|(_, (t, _))| t == "influxdb")
        .map(|(u, _)| u.clone())
        .collect();
    assert_eq!(uids.len(), 1, "expected one InfluxDB datasource, got {uids:?}");
    uids.into_iter().next().unwrap()
}

fn quoted_list(list: &str) -> Vec<String> {
    re(r#""([^"]*)""#)
        .captures_iter(list)
        .map(|c| c[1].to_owned())
        .collect()
}

/// Flux columns every table has.
const FLUX_COLUMNS: [&str; 6] = ["_time", "_value", "_field", "_measurement", "_start", "_stop"];

/// Checks one Flux query against what telegate writes; returns the
/// (measurement, field) pairs it reads.
fn check_flux(q: &Query, written: &BTreeMap<String, Columns>, bucket: &str) -> BTreeSet<(String, String)> {
    let place = &q.place;
    let text = &q.text;
    for c in re(r#"bucket:\s*"([^"]*)""#).captures_iter(text) {
        assert_eq!(&c[1], bucket, "{place}: bucket");
    }
    let measurements: Vec<String> = re(r#"r\._measurement\s*==\s*"([^"]+)""#)
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect();
    if q.in_panel {
        assert!(
            !measurements.is_empty(),
            "{place}: the query names no measurement:\n{text}"
        );
    }
    let cols: Vec<&Columns> = measurements
        .iter()
        .map(|m| {
            written
                .get(m)
                .unwrap_or_else(|| panic!("{place}: telegate writes no measurement {m:?}"))
        })
        .collect();
    let mut read = BTreeSet::new();
    for c in re(r#"r\._field\s*==\s*"([^"]+)""#).captures_iter(text) {
        let f = &c[1];
        let owners: Vec<&String> = measurements
            .iter()
            .zip(&cols)
            .filter(|(_, c)| c.has_field(f))
            .map(|(m, _)| m)
            .collect();
        assert!(!owners.is_empty(), "{place}: no field {f:?} in {measurements:?}");
        read.extend(owners.into_iter().map(|m| (m.clone(), f.to_owned())));
    }
    if !text.contains("r._field") {
        // A whole measurement, e.g. pivoted into a table.
        read.extend(measurements.iter().map(|m| (m.clone(), "*".to_owned())));
    }
    for c in re(r"\br\.([A-Za-z][A-Za-z0-9_]*)").captures_iter(text) {
        let tag = &c[1];
        for (m, cs) in measurements.iter().zip(&cols) {
            assert!(cs.tags.contains(tag), "{place}: {m:?} has no tag {tag:?}");
        }
    }
    let pivoted = text.contains("pivot(");
    for c in re(r"(?:columns|rowKey|columnKey):\s*\[([^\]]*)\]").captures_iter(text) {
        for col in quoted_list(&c[1]) {
            let ok = FLUX_COLUMNS.contains(&col.as_str())
                || cols.iter().all(|cs| cs.tags.contains(&col))
                || (pivoted && cols.iter().all(|cs| cs.tags.contains(&col) || cs.has_field(&col)));
            assert!(
                ok,
                "{place}: column {col:?} is not a tag (or pivoted field) of {measurements:?}"
            );
        }
    }
    for c in re(r#"\btag:\s*"([^"]+)""#).captures_iter(text) {
        assert!(
            written.values().any(|cs| cs.tags.contains(&c[1])),
            "{place}: no measurement has the tag {:?}",
            &c[1]
        );
    }
    read
}

/// Checks one PromQL query against telegate's metrics; returns the metrics it names.
fn check_promql(q: &Query) -> BTreeSet<&'static str> {
    let place = &q.place;
    let mut named = BTreeSet::new();
    for m in re(r"\btelegate_[a-z0-9_]+\b").find_iter(&q.text) {
        let metric =
            metric_of(m.as_str()).unwrap_or_else(|| panic!("{place}: telegate exports no metric {:?}", m.as_str()));
        named.insert(metric);
    }
    assert!(
        !named.is_empty(),
        "{place}: the query names no telegate metric:\n{}",
        q.text
    );
    let reasons: Vec<&str> = RejectReason::ALL.iter().map(|r| r.label()).collect();
    for c in re(r#"\breason\s*=\s*"([^"]*)""#).captures_iter(&q.text) {
        assert!(reasons.contains(&&c[1]), "{place}: no rejection reason {:?}", &c[1]);
    }
    named
}

// ---------------------------------------------------------------- tests

#[test]
fn every_yaml_and_json_file_under_deploy_parses() {
    let yaml = files_under(&deploy_dir(), &[".yaml", ".yml"]);
    let json = files_under(&deploy_dir(), &[".json"]);
    for p in &yaml {
        let docs = yaml_docs(p);
        assert!(!docs.is_empty(), "{}: no YAML document", p.display());
        for d in &docs {
            assert!(d.is_object(), "{}: a document is not a mapping: {d}", p.display());
        }
    }
    for p in &json {
        assert!(json_file(p).is_object(), "{}: not a JSON object", p.display());
    }
    let names: BTreeSet<String> = yaml
        .iter()
        .chain(&json)
        .map(|p| p.strip_prefix(deploy_dir()).unwrap().display().to_string())
        .collect();
    for expected in [
        "compose/compose.yaml",
        "compose/prometheus.yml",
        "grafana/provisioning/datasources/telegate.yaml",
        "grafana/provisioning/dashboards/telegate.yaml",
        "grafana/dashboards/telemetry.json",
        "grafana/dashboards/rejections.json",
        "grafana/dashboards/alerts.json",
        "k8s/configmap.yaml",
        "k8s/statefulset.yaml",
        "k8s/service.yaml",
        "k8s/poddisruptionbudget.yaml",
        "k8s/secret.example.yaml",
        "k8s/kustomization.yaml",
    ] {
        assert!(
            names.contains(expected),
            "deploy/{expected} is missing (found {names:?})"
        );
    }
    eprintln!("parsed {} YAML and {} JSON files under deploy/", yaml.len(), json.len());
}

#[test]
fn dashboards_query_only_measurements_fields_and_tags_telegate_writes() {
    let written = written_measurements();
    let influx = influx_uid();
    let ds = datasources();
    let bucket = str_at(&ds[&influx].1, "/jsonData/defaultBucket").to_owned();
    let mut read: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut checked = 0;
    for name in DASHBOARDS {
        for q in queries(name).iter().filter(|q| q.datasource_uid == influx) {
            read.entry(name).or_default().extend(check_flux(q, &written, &bucket));
            checked += 1;
        }
    }
    let has = |dash: &str, m: &str, f: &str| {
        read.get(dash)
            .is_some_and(|r| r.contains(&(m.to_owned(), f.to_owned())))
    };
    for (m, f) in [
        ("river_level", "stage_m"),
        ("rain_gauge", "rain_mm"),
        ("lane_counter", "queue_length_m"),
        ("weighbridge", "gross_t"),
        ("air_quality", "pm2_5_ugm3"),
    ] {
        assert!(has("telemetry", m, f), "telemetry.json has no panel reading {m}.{f}");
    }
    for f in ["state", "value"] {
        assert!(has("alerts", ALERTS_MEASUREMENT, f), "alerts.json reads no alerts.{f}");
    }
    assert!(
        has("alerts", ALERTS_MEASUREMENT, "*"),
        "alerts.json has no table of whole alert transitions"
    );
    eprintln!("checked {checked} Flux queries against {} measurements", written.len());
}

#[test]
fn dashboards_name_only_metrics_telegate_exports() {
    let ds = datasources();
    let mut named: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut checked = 0;
    for name in DASHBOARDS {
        for q in queries(name) {
            if ds.get(&q.datasource_uid).is_some_and(|(t, _)| t == "prometheus") {
                named.entry(name).or_default().extend(check_promql(&q));
                checked += 1;
            }
        }
    }
    let rejections = named.get("rejections").cloned().unwrap_or_default();
    for m in [
        "telegate_messages_rejected_total",
        "telegate_points_written_total",
        "telegate_write_duration_seconds",
        "telegate_wal_bytes",
        "telegate_acks_pending",
        "telegate_mqtt_connected",
    ] {
        assert!(rejections.contains(m), "rejections.json has no panel on {m}");
    }
    let rejections_json = read(&deploy_dir().join("grafana/dashboards/rejections.json"));
    assert!(
        rejections_json.contains("histogram_quantile(0.99")
            && rejections_json.contains("telegate_write_duration_seconds_bucket"),
        "rejections.json: no p99 write latency"
    );
    assert!(
        rejections_json.contains("by (reason)"),
        "rejections.json: no rejections by reason"
    );
    assert!(
        named
            .get("alerts")
            .is_some_and(|m| m.contains("telegate_alert_transitions_total")),
        "alerts.json has no panel on telegate_alert_transitions_total"
    );
    eprintln!("checked {checked} PromQL queries");
}

#[test]
fn dashboards_use_the_provisioned_datasources() {
    let ds = datasources();
    let influx = influx_uid();
    let (_, influx_entry) = &ds[&influx];
    assert_eq!(
        str_at(influx_entry, "/jsonData/version"),
        "Flux",
        "InfluxDB datasource language"
    );
    assert!(ds.values().any(|(t, _)| t == "prometheus"), "no Prometheus datasource");
    let mut uids = BTreeSet::new();
    for name in DASHBOARDS {
        let d = dashboard(name);
        assert!(
            uids.insert(str_at(&d, "/uid").to_owned()),
            "{name}.json: duplicate dashboard uid"
        );
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = str_at(p, "/title");
            assert!(
                ids.insert(p["id"].as_i64().unwrap_or(-1)),
                "{name}.json: duplicate panel id at {title:?}"
            );
            assert!(
                p["gridPos"]["w"].as_i64().is_some(),
                "{name}.json: {title:?} has no gridPos"
            );
            let panel_uid = str_at(p, "/datasource/uid");
            assert!(
                ds.contains_key(panel_uid),
                "{name}.json: {title:?}: datasource {panel_uid:?} is not provisioned"
            );
            for t in array_at(p, "/targets") {
                if let Some(uid) = t.pointer("/datasource/uid") {
                    assert_eq!(
                        uid, panel_uid,
                        "{name}.json: {title:?}: a query and its panel use different datasources"
                    );
                }
            }
        }
        for q in queries(name) {
            let (kind, _) = ds
                .get(&q.datasource_uid)
                .unwrap_or_else(|| panic!("{}: datasource uid {:?} is not provisioned", q.place, q.datasource_uid));
            match kind.as_str() {
                // Flux throughout, never InfluxQL.
                "influxdb" => assert!(
                    q.text.contains("from(bucket:") || q.text.contains("schema.tagValues("),
                    "{}: not a Flux query:\n{}",
                    q.place,
                    q.text
                ),
                "prometheus" => assert!(!q.text.contains("from(bucket"), "{}: Flux sent to Prometheus", q.place),
                other => panic!("{}: unexpected datasource type {other}", q.place),
            }
        }
    }
    // The dashboards provider reads where compose mounts deploy/grafana/dashboards.
    let provider = yaml_doc(&deploy_dir().join("grafana/provisioning/dashboards/telegate.yaml"));
    let path = str_at(&array_at(&provider, "/providers")[0], "/options/path");
    let compose = yaml_doc(&deploy_dir().join("compose/compose.yaml"));
    let mounts: Vec<&str> = array_at(&compose, "/services/grafana/volumes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("../grafana/dashboards:") && m.contains(&format!(":{path}"))),
        "compose does not mount ../grafana/dashboards at the provider's path {path}: {mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("../grafana/provisioning:/etc/grafana/provisioning")),
        "compose does not mount the provisioning directory: {mounts:?}"
    );
}

#[test]
fn compose_stack_is_wired_together() {
    let dir = deploy_dir().join("compose");
    let compose = yaml_doc(&dir.join("compose.yaml"));
    let services = compose["services"].as_object().expect("services");
    for s in ["mosquitto", "influxdb", "telegate", "prometheus", "grafana"] {
        assert!(services.contains_key(s), "compose.yaml has no service {s}");
    }
    let secrets = compose["secrets"].as_object().expect("top-level secrets");
    for (name, svc) in services {
        let image = svc["image"].as_str().unwrap_or_default();
        if let Some(build) = svc.get("build") {
            let dockerfile = dir.join(str_at(build, "/context")).join(str_at(build, "/dockerfile"));
            assert!(dockerfile.is_file(), "{name}: no {}", dockerfile.display());
        } else if name != "sim" {
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
            assert!(
                !tag.is_empty() && tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()),
                "{name}: image {image:?} is not pinned to a version"
            );
        }
        for v in svc["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let source = v.split(':').next().unwrap();
            if source.starts_with('.') {
                assert!(
                    dir.join(source).exists(),
                    "{name}: bind mount source {source} does not exist"
                );
            } else {
                assert!(
                    compose["volumes"].get(source).is_some(),
                    "{name}: undeclared volume {source}"
                );
            }
        }
        for s in svc["secrets"].as_array().into_iter().flatten() {
            let s = s.as_str().expect("short secret syntax");
            assert!(secrets.contains_key(s), "{name}: undeclared secret {s}");
        }
        for (key, value) in svc["environment"].as_object().into_iter().flatten() {
            let k = key.to_ascii_uppercase();
            if k.contains("PASSWORD") || k.contains("TOKEN") {
                assert!(
                    k.ends_with("_FILE") && value.as_str().is_some_and(|v| v.starts_with("/run/secrets/")),
                    "{name}: {key} must come from a secret file, not a value"
                );
            }
        }
    }
    // Secrets: files under secrets/, git-ignored, each with a committed example.
    let ignore = read(&dir.join("secrets/.gitignore"));
    assert!(
        ignore.lines().any(|l| l.trim() == "*") && ignore.contains("!*.example"),
        "secrets/.gitignore"
    );
    for (name, s) in secrets {
        let file = str_at(s, "/file");
        assert!(
            file.starts_with("./secrets/"),
            "secret {name}: {file} is outside secrets/"
        );
        let example = dir.join(format!("{file}.example"));
        assert!(example.is_file(), "secret {name}: no {}", example.display());
    }

    // telegate's config against the other services.
    let cfg = toml_table(&read(&deploy_dir().join(COMPOSE_TOML)), COMPOSE_TOML);
    let tg = &services["telegate"];
    let secret_path = |svc: &str, secret: &str| -> String {
        let has = services[svc]["secrets"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s == secret);
        assert!(has, "service {svc} does not mount the secret {secret}");
        format!("/run/secrets/{secret}")
    };
    assert_eq!(toml_str(&cfg, "mqtt.host"), "mosquitto");
    assert_eq!(toml_str(&cfg, "influx.url"), "http://influxdb:8086");
    let influx_env = &services["influxdb"]["environment"];
    assert_eq!(
        toml_str(&cfg, "influx.org"),
        str_at(influx_env, "/DOCKER_INFLUXDB_INIT_ORG")
    );
    assert_eq!(
        toml_str(&cfg, "influx.bucket"),
        str_at(influx_env, "/DOCKER_INFLUXDB_INIT_BUCKET")
    );
    let token_file = toml_str(&cfg, "influx.token_file");
    assert_eq!(token_file, secret_path("telegate", "influx_token"));
    assert_eq!(
        str_at(influx_env, "/DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"),
        secret_path("influxdb", "influx_token")
    );
    // Grafana's InfluxDB datasource: same org, bucket and token.
    let ds = datasources();
    let (_, influx_ds) = &ds[&influx_uid()];
    assert_eq!(str_at(influx_ds, "/url"), toml_str(&cfg, "influx.url"));
    assert_eq!(
        str_at(influx_ds, "/jsonData/organization"),
        toml_str(&cfg, "influx.org")
    );
    assert_eq!(
        str_at(influx_ds, "/jsonData/defaultBucket"),
        toml_str(&cfg, "influx.bucket")
    );
    assert_eq!(
        str_at(influx_ds, "/secureJsonData/token"),
        format!("$__file{{{}}}", secret_path("grafana", "influx_token"))
    );
    // Prometheus scrapes telegate's admin port with its bearer token.
    let listen = toml_str(&cfg, "admin.listen");
    assert!(
        listen.starts_with("0.0.0.0:"),
        "admin.listen {listen:?} is unreachable from other containers"
    );
    let port = port_of(listen);
    let prom = yaml_doc(&dir.join("prometheus.yml"));
    let job = array_at(&prom, "/scrape_configs")
        .iter()
        .find(|j| j["job_name"] == "telegate")
        .expect("a telegate scrape job");
    let targets = array_at(job, "/static_configs/0/targets");
    assert_eq!(targets[0], Value::from(format!("telegate:{port}")));
    let admin_token = toml_str(&cfg, "admin.token_file");
    assert_eq!(admin_token, secret_path("telegate", "telegate_admin_token"));
    assert_eq!(
        str_at(job, "/authorization/credentials_file"),
        secret_path("prometheus", "telegate_admin_token")
    );
    assert!(
        array_at(&compose, "/services/prometheus/volumes").iter().any(|v| v
            .as_str()
            .is_some_and(|v| v.starts_with("./prometheus.yml:/etc/prometheus/prometheus.yml"))),
        "prometheus.yml is not mounted"
    );
    assert!(
        array_at(tg, "/ports")
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.ends_with(&format!(":{port}")))),
        "telegate does not publish its admin port {port}"
    );
    // The WAL is on the telegate-wal volume; the config is mounted where the command reads it.
    let wal = toml_str(&cfg, "wal.dir");
    let volumes: Vec<&str> = array_at(tg, "/volumes").iter().filter_map(Value::as_str).collect();
    assert!(
        volumes
            .iter()
            .any(|v| v.split(':').nth(1).is_some_and(|target| wal.starts_with(target)) && !v.starts_with('.')),
        "wal.dir {wal} is not on a named volume: {volumes:?}"
    );
    let command: Vec<&str> = array_at(tg, "/command").iter().filter_map(Value::as_str).collect();
    let config_path = command
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1])
        .expect("--config");
    assert!(
        volumes.contains(&format!("./telegate.toml:{config_path}:ro").as_str()),
        "telegate.toml is not mounted at {config_path}"
    );
    // Hardening, and a grace period longer than the drain.
    assert_eq!(tg["read_only"], Value::Bool(true), "telegate: read_only");
    assert!(
        array_at(tg, "/cap_drop").contains(&Value::from("ALL")),
        "telegate: cap_drop ALL"
    );
    let grace = duration(str_at(tg, "/stop_grace_period"));
    let drain = duration(toml_str(&cfg, "pipeline.shutdown_timeout"));
    assert!(
        grace > drain + Duration::from_secs(2),
        "stop_grace_period {grace:?} vs shutdown_timeout {drain:?}"
    );
    // Mosquitto keeps what telegate has not acknowledged.
    let mosquitto = read(&dir.join("mosquitto.conf"));
    for line in ["persistence true", "max_queued_messages 0"] {
        assert!(
            mosquitto.lines().any(|l| l.trim() == line),
            "mosquitto.conf lacks `{line}`"
        );
    }
    compose_broker_refuses_anonymous_and_uses_the_generated_files(&dir, &compose, &mosquitto, &cfg);
}

/// Issue 17: the stack's broker takes identities and rights only from the
/// files `telegate device` generates from access/devices.toml, mounted where
/// mosquitto.conf reads them; the gateway and the simulator log in with the
/// accounts init-secrets.sh creates.
fn compose_broker_refuses_anonymous_and_uses_the_generated_files(
    dir: &Path,
    compose: &Value,
    mosquitto: &str,
    gateway_cfg: &toml::Table,
) {
    let directive = |key: &str| -> Vec<&str> {
        mosquitto
            .lines()
            .filter_map(|l| l.trim().strip_prefix(key).map(str::trim))
            .collect()
    };
    assert_eq!(
        directive("allow_anonymous "),
        ["false"],
        "mosquitto.conf: allow_anonymous"
    );
    assert!(
        !mosquitto.lines().any(|l| l.trim().starts_with("pattern")),
        "no pattern rules"
    );
    let broker = &compose["services"]["mosquitto"];
    let mount = array_at(broker, "/volumes")
        .iter()
        .filter_map(Value::as_str)
        .find(|v| v.starts_with("./access:"))
        .expect("access/ mounted into the broker");
    let target = mount.split(':').nth(1).expect("mount target");
    let inventory_path = dir.join("access/devices.toml");
    let inventory = telegate_devices::Inventory::load(&inventory_path).expect("access/devices.toml parses");
    for (key, file) in [
        ("password_file ", &inventory.broker.password_file),
        ("acl_file ", &inventory.broker.acl_file),
    ] {
        assert_eq!(
            directive(key),
            [format!("{target}/{file}").as_str()],
            "mosquitto.conf `{key}` is not the file the inventory writes"
        );
    }
    // The generated files are not committed (init-secrets.sh writes them).
    let ignored = read(&dir.join("../../.gitignore"));
    for f in ["access/passwd", "access/acl"] {
        assert!(
            ignored.contains(&format!("deploy/compose/{f}")),
            "{f} is not git-ignored"
        );
    }
    // The gateway logs in as the gateway account, its password a declared secret.
    assert_eq!(toml_str(gateway_cfg, "mqtt.username"), "telegate");
    let pw = toml_str(gateway_cfg, "mqtt.password_file");
    let secret = pw
        .strip_prefix("/run/secrets/")
        .expect("password_file is a compose secret");
    assert!(
        array_at(&compose["services"]["telegate"], "/secrets").contains(&Value::from(secret)),
        "telegate does not get the secret {secret}"
    );
    let init = read(&dir.join("init-secrets.sh"));
    assert!(
        init.contains("device account"),
        "init-secrets.sh creates the broker accounts"
    );
    // The simulator, too, and the broker's health check cannot be anonymous.
    let sim = toml_table(&read(&dir.join("sim.toml")), "sim.toml");
    assert_eq!(toml_str(&sim, "mqtt.username"), "simulator");
    let health = serde_json::to_string(&broker["healthcheck"]).expect("healthcheck");
    assert!(health.contains("-u healthcheck"), "healthcheck logs in: {health}");
}

fn one_of_kind<'a>(by_kind: &'a BTreeMap<String, Vec<Value>>, kind: &str) -> &'a Value {
    let v = by_kind.get(kind).unwrap_or_else(|| panic!("no {kind} in deploy/k8s"));
    assert_eq!(v.len(), 1, "several {kind}s");
    &v[0]
}

#[test]
fn k8s_statefulset_probes_volumes_and_security() {
    let dir = deploy_dir().join("k8s");
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in files_under(&dir, &[".yaml"]) {
        for d in yaml_docs(&p) {
            by_kind.entry(str_at(&d, "/kind").to_owned()).or_default().push(d);
        }
    }
    let one = |kind: &str| one_of_kind(&by_kind, kind);
    for d in by_kind.values().flatten() {
        assert!(
            d.pointer("/metadata/namespace").is_none(),
            "manifests are namespace-less: {}",
            d["metadata"]
        );
    }
    // kustomization: every resource exists, the Secret example is not applied.
    let kustomization = one("Kustomization");
    let resources: Vec<&str> = array_at(kustomization, "/resources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for r in &resources {
        assert!(dir.join(r).is_file(), "kustomization resource {r} does not exist");
    }
    assert!(
        !resources.iter().any(|r| r.contains("secret")),
        "the Secret example must not be applied"
    );

    let sts = one("StatefulSet");
    let pod = &sts["spec"]["template"];
    let labels = pod["metadata"]["labels"].as_object().expect("pod labels");
    let selects_pods = |selector: &Value, what: &str| {
        let sel = selector.as_object().unwrap_or_else(|| panic!("{what}: no selector"));
        assert!(!sel.is_empty(), "{what}: empty selector");
        for (k, v) in sel {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{what}: selector {k}={v} does not match the pod labels"
            );
        }
    };
    selects_pods(&sts["spec"]["selector"]["matchLabels"], "StatefulSet");
    let svc = one("Service");
    assert_eq!(svc["spec"]["clusterIP"], "None", "the Service must be headless");
    assert_eq!(
        sts["spec"]["serviceName"], svc["metadata"]["name"],
        "StatefulSet serviceName"
    );
    selects_pods(&svc["spec"]["selector"], "Service");
    let pdb = one("PodDisruptionBudget");
    selects_pods(&pdb["spec"]["selector"]["matchLabels"], "PodDisruptionBudget");

    let cfg_text = k8s_config_text();
    let cfg = toml_table(&cfg_text, "k8s ConfigMap telegate.toml");
    let admin_port = port_of(toml_str(&cfg, "admin.listen"));
    let spec = &pod["spec"];
    let containers = array_at(spec, "/containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let ports = array_at(c, "/ports");
    let resolve_port = |port: &Value| -> u16 {
        match port {
            Value::Number(n) => n.as_u64().unwrap() as u16,
            Value::String(name) => ports
                .iter()
                .find(|p| p["name"] == *name.as_str())
                .and_then(|p| p["containerPort"].as_u64())
                .unwrap_or_else(|| panic!("no container port named {name}")) as u16,
            other => panic!("bad probe port {other}"),
        }
    };
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        let Some(p) = c.get(probe) else {
            assert_ne!(probe, "livenessProbe", "no livenessProbe");
            assert_ne!(probe, "readinessProbe", "no readinessProbe");
            continue;
        };
        assert_eq!(str_at(p, "/httpGet/path"), path, "{probe} path");
        assert_eq!(
            resolve_port(&p["httpGet"]["port"]),
            admin_port,
            "{probe} port vs admin.listen"
        );
    }
    // Each pod's own MQTT client id: its name.
    let env = array_at(c, "/env");
    let client_id = env
        .iter()
        .find(|e| e["name"] == "TELEGATE_MQTT_CLIENT_ID")
        .expect("TELEGATE_MQTT_CLIENT_ID");
    assert_eq!(str_at(client_id, "/valueFrom/fieldRef/fieldPath"), "metadata.name");
    assert_eq!(
        toml_str(&cfg, "mqtt.share_group"),
        "telegate",
        "replicas share the subscription"
    );
    // Security.
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "pod runAsNonRoot");
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true, "readOnlyRootFilesystem");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "allowPrivilegeEscalation");
    assert!(
        array_at(sc, "/capabilities/drop").contains(&Value::from("ALL")),
        "capabilities drop ALL"
    );
    for r in [
        "/resources/requests/cpu",
        "/resources/requests/memory",
        "/resources/limits/memory",
    ] {
        assert!(c.pointer(r).is_some(), "container has no {r}");
    }
    // Drain time.
    let grace = spec["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    let drain = duration(toml_str(&cfg, "pipeline.shutdown_timeout"));
    assert!(
        Duration::from_secs(grace) > drain + Duration::from_secs(2),
        "grace {grace}s vs shutdown_timeout {drain:?}"
    );
    // Volumes: the WAL on the claim template, config from the ConfigMap, secrets from the Secret.
    let mount_of = |volume: &str| -> String {
        array_at(c, "/volumeMounts")
            .iter()
            .find(|m| m["name"] == volume)
            .map(|m| str_at(m, "/mountPath").to_owned())
            .unwrap_or_else(|| panic!("volume {volume} is not mounted"))
    };
    let claims = array_at(&sts["spec"], "/volumeClaimTemplates");
    let wal_claim = str_at(&claims[0], "/metadata/name");
    let wal = toml_str(&cfg, "wal.dir");
    assert!(
        wal.starts_with(&mount_of(wal_claim)),
        "wal.dir {wal} is not on the claim {wal_claim}"
    );
    let volumes = array_at(spec, "/volumes");
    let volume = |key: &str, name: &str| -> String {
        let v = volumes
            .iter()
            .find(|v| v.pointer(key).and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no volume with {key} = {name}"));
        mount_of(str_at(v, "/name"))
    };
    let cm = one("ConfigMap");
    let config_dir = volume("/configMap/name", str_at(cm, "/metadata/name"));
    let args: Vec<&str> = array_at(c, "/args").iter().filter_map(Value::as_str).collect();
    assert_eq!(args[0], "run");
    let config_path = args
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1])
        .expect("--config");
    assert_eq!(
        config_path,
        format!("{config_dir}/telegate.toml"),
        "--config vs the ConfigMap mount"
    );
    let secret = one("Secret");
    let secret_dir = volume("/secret/secretName", str_at(secret, "/metadata/name"));
    let keys = secret["stringData"].as_object().expect("stringData");
    let mut secret_files = 0;
    let active: String = cfg_text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for c in re(r#""(/run/secrets/[^"]+)""#).captures_iter(&active) {
        let (d, key) = c[1].rsplit_once('/').unwrap();
        assert_eq!(d, secret_dir, "{} is not in the Secret's mount", &c[1]);
        assert!(keys.contains_key(key), "the Secret example has no key {key}");
        secret_files += 1;
    }
    assert!(secret_files >= 1, "the k8s config reads no secret file");
}

/// Every `"/run/..."` secret path in a config, rewritten to a temp file
/// holding a dummy value, so the real loader can read it.
fn with_secret_files(text: &str, tmp: &Path) -> String {
    let mut out = text.to_owned();
    for c in re(r#""(/run/(?:secrets|credentials)/[^"]+)""#).captures_iter(text) {
        let original = &c[1];
        let replacement = tmp
            .join("secrets")
            .join(original.trim_start_matches('/').replace('/', "_"));
        std::fs::create_dir_all(replacement.parent().unwrap()).unwrap();
        std::fs::write(&replacement, "dummy-secret-for-the-test\n").unwrap();
        out = out.replace(original, &replacement.display().to_string());
    }
    out
}

#[test]
fn deployment_configs_load_with_the_real_config_loader() {
    let inline_secret = re(r#"(?m)^\s*(token|password)\s*=\s*"[^"]+""#);
    for (what, text) in [
        (COMPOSE_TOML, read(&deploy_dir().join(COMPOSE_TOML))),
        (SYSTEMD_TOML, read(&deploy_dir().join(SYSTEMD_TOML))),
        ("k8s/configmap.yaml telegate.toml", k8s_config_text()),
    ] {
        assert!(!inline_secret.is_match(&text), "{what}: a secret written in the file");
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("telegate.toml");
        std::fs::write(&path, with_secret_files(&text, tmp.path())).unwrap();
        // As `telegate check` does: the config, then the schemas it names.
        let loaded = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{what}: {e}"));
        let registry = load_registry(&loaded).unwrap_or_else(|e| panic!("{what}: schemas: {e}"));
        assert!(registry.schemas().count() >= 8, "{what}: built-in sensor types");
        let c = &loaded.config;
        assert_eq!(c.wal.dir, "/var/lib/telegate/wal", "{what}: wal.dir");
        assert!(c.wal.enabled, "{what}: the WAL is on");
        assert_eq!(c.influx.api, ApiVersion::V2, "{what}: InfluxDB 2");
        assert!(!c.influx.token.is_empty(), "{what}: the token was read from its file");
    }
}

fn directive_values<'a>(directives: &[(&str, &'a str)], key: &str) -> Vec<&'a str> {
    directives.iter().filter(|(k, _)| *k == key).map(|(_, v)| *v).collect()
}

fn single_directive<'a>(directives: &[(&str, &'a str)], key: &str) -> &'a str {
    let v = directive_values(directives, key);
    assert_eq!(v.len(), 1, "{key}= set {} times", v.len());
    v[0]
}

#[test]
fn systemd_unit_passes_verify_and_the_offline_security_check() {
    let unit_path = deploy_dir().join("systemd/telegate.service");
    let unit = read(&unit_path);
    let binary = "/usr/local/bin/telegate";
    assert!(unit.contains(&format!("ExecStart={binary} run --config ")), "ExecStart");
    // verify needs ExecStart's binary to exist: substitute one that does.
    let this_exe = std::env::current_exe().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("telegate.service");
    std::fs::write(&copy, unit.replace(binary, &this_exe.display().to_string())).unwrap();

    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify failed:\n{report}");
    // verify exits 0 on unknown keys and bad values, only printing them.
    let about_unit: Vec<&str> = report.lines().filter(|l| l.contains("telegate.service")).collect();
    assert!(
        about_unit.is_empty(),
        "systemd-analyze verify:\n{}",
        about_unit.join("\n")
    );

    // Exposure 1.3 or less (systemd's scale: 0 safe ... 10 unsafe). The unit scores 1.2 with
    // systemd 252; dropping e.g. PrivateDevices= and PrivateUsers=, or the ~@privileged
    // @resources syscall filter, raises it to 1.5-1.6.
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=13", "--no-pager"])
        .arg(&copy)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let overall = stdout
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_default();
    assert!(out.status.success(), "exposure above 1.3: {overall}\n{stdout}");
    eprintln!("{}", overall.trim());

    // The directives the hardening relies on.
    let directives: Vec<(&str, &str)> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect();
    let values = |key: &str| directive_values(&directives, key);
    let one = |key: &str| single_directive(&directives, key);
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "telegate"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("KillSignal", "SIGTERM"),
        ("Restart", "on-failure"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
    ] {
        assert_eq!(one(key), value, "{key}=");
    }
    assert!(
        values("SystemCallFilter").contains(&"@system-service"),
        "SystemCallFilter=@system-service"
    );
    assert!(!one("MemoryMax").is_empty(), "MemoryMax=");

    // The config the unit runs with: WAL in the state directory, secrets as credentials.
    let cfg_text = read(&deploy_dir().join(SYSTEMD_TOML));
    let cfg = toml_table(&cfg_text, SYSTEMD_TOML);
    let exec = one("ExecStart");
    assert!(
        exec.ends_with("--config /etc/telegate/telegate.toml"),
        "ExecStart config path"
    );
    assert!(
        toml_str(&cfg, "wal.dir").starts_with("/var/lib/telegate/"),
        "wal.dir in StateDirectory"
    );
    let stop = duration(one("TimeoutStopSec"));
    let drain = duration(toml_str(&cfg, "pipeline.shutdown_timeout"));
    assert!(
        stop > drain + Duration::from_secs(2),
        "TimeoutStopSec {stop:?} vs shutdown_timeout {drain:?}"
    );
    let loaded: Vec<&str> = values("LoadCredential")
        .iter()
        .map(|v| v.split_once(':').map_or(*v, |(id, _)| id))
        .collect();
    let mut credentials = 0;
    for c in re(r#""/run/credentials/telegate\.service/([^"]+)""#).captures_iter(&cfg_text) {
        assert!(
            loaded.contains(&&c[1]),
            "{SYSTEMD_TOML} reads credential {} that the unit does not load",
            &c[1]
        );
        credentials += 1;
    }
    assert!(credentials >= 1, "{SYSTEMD_TOML} reads no credential");
}

#[test]
fn dockerfile_is_multi_stage_and_runs_unprivileged() {
    let text = read(&deploy_dir().join("docker/Dockerfile"));
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    let args: BTreeMap<&str, &str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ARG "))
        .filter_map(|a| a.split_once('='))
        .collect();
    let resolve = |image: &str| -> String {
        let name = image.trim_start_matches("${").trim_end_matches('}');
        args.get(name).map_or(image.to_owned(), |v| (*v).to_owned())
    };
    let stages: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "not a multi-stage build");
    let builder_image = resolve(lines[stages[0]].split_whitespace().nth(1).unwrap());
    let runtime_image = resolve(lines[*stages.last().unwrap()].split_whitespace().nth(1).unwrap());
    assert!(builder_image.starts_with("rust:1"), "builder {builder_image}");
    assert_eq!(runtime_image, "debian:bookworm-slim");
    // Same Debian release on both sides, so the binary finds its glibc.
    assert!(
        builder_image.ends_with("-bookworm"),
        "builder {builder_image} is not bookworm"
    );
    let builder = lines[stages[0]..stages[1]].join("\n");
    let runtime = lines[*stages.last().unwrap()..].join("\n");
    // The build needs nothing but cargo (vendor/prost-protovalidate-types).
    assert!(!builder.contains("protoc"), "the build must not need protoc");
    for flag in [
        "cargo build --release",
        "--locked",
        "-p telegate",
        "--no-default-features",
    ] {
        assert!(builder.contains(flag), "builder: no `{flag}`");
    }
    assert!(builder.contains("--mount=type=cache"), "builder: no dependency cache");
    assert!(runtime.contains("ca-certificates"), "runtime: no CA certificates");
    let user = runtime
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("runtime stage has no USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "runs as root: USER {user}");
    assert!(runtime.lines().any(|l| l == "EXPOSE 9464"), "EXPOSE 9464");
    assert!(runtime.contains("VOLUME [\"/var/lib/telegate\"]"), "WAL volume");
    assert!(
        runtime.contains("ENTRYPOINT [\"/usr/local/bin/telegate\"]"),
        "ENTRYPOINT"
    );
    assert!(
        !runtime.contains("curl") && !runtime.contains("wget"),
        "no HTTP client in the image"
    );

    // The build context keeps what cargo needs and leaves out the rest.
    let ignore = read(&repo_dir().join(".dockerignore"));
    let ignored: BTreeSet<&str> = ignore.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    assert!(ignored.contains("target"), ".dockerignore: target");
    for needed in ["crates", "tests", "proto", "config", "Cargo.toml", "Cargo.lock"] {
        assert!(
            !ignored.contains(needed),
            ".dockerignore leaves out {needed}, which the build needs"
        );
    }
}

/// The broker's size guards match the gateway's limits (issue 13): Mosquitto
/// refuses a payload above `limits.max_payload_bytes` (so the device sees a
/// reason code) and any packet above `mqtt.max_packet_size`, in every broker
/// config we ship.
#[test]
fn mosquitto_size_limits_match_the_gateway_limits() {
    let defaults = telegate::Config::default();
    let payload = defaults.limits.max_payload_bytes.to_string();
    let packet = defaults.mqtt.max_packet_size.to_string();
    let dir = deploy_dir();
    for file in ["mosquitto/telegate.conf", "compose/mosquitto.conf", "local/run.sh"] {
        let text = read(&dir.join(file));
        let value = |key: &str| {
            let found: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix(key).map(str::trim))
                .collect();
            assert_eq!(found.len(), 1, "{file}: `{key}` set {} times", found.len());
            found[0].to_owned()
        };
        assert_eq!(value("message_size_limit "), payload, "{file}: message_size_limit");
        assert_eq!(value("max_packet_size "), packet, "{file}: max_packet_size");
    }
    // The shipped gateway configs keep the defaults these match.
    for file in ["compose/telegate.toml", "systemd/telegate.toml"] {
        let cfg = toml_table(&read(&dir.join(file)), file);
        for (section, key) in [("limits", "max_payload_bytes"), ("mqtt", "max_packet_size")] {
            assert!(
                cfg.get(section).and_then(|t| t.get(key)).is_none(),
                "{file} overrides {section}.{key}: change the broker configs with it"
            );
        }
    }
}
