//! Issue 16: every mistake an integrator made while adding a sensor type
//! gets an error or a warning at load time (so `telegate check` shows it)
//! that names the file and line and says how to fix it.

use std::collections::BTreeMap;

use prost::Message as _;
use prost_reflect::{DynamicMessage, Value};
use telegate_model::TopicFields;

use crate::{Limits, Registry, SchemaError, TimeSource, TranscodeScratch};

const NOW_NS: i64 = 1_764_383_400_000_000_000; // 2025-11-29T02:30:00Z

fn write_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, src) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, src).unwrap();
    }
    dir
}

fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Registry, SchemaError>) {
    let dir = write_dir(files);
    let r = Registry::load(dir.path(), &BTreeMap::new());
    (dir, r)
}

fn load_err(files: &[(&str, &str)]) -> (String, String) {
    let (dir, r) = load(files);
    let err = r.expect_err("the schema must be refused").to_string();
    (dir.path().display().to_string(), err)
}

/// A valid sensor type; tests break one thing each.
const PROBE: &str = r#"syntax = "proto3";
package acme.v1;
import "buf/validate/validate.proto";
import "google/protobuf/timestamp.proto";
import "telegate/v1/options.proto";
message ProbeBatch {
  option (telegate.v1.sensor) = { type: "probe" };
  string device_id = 1 [(buf.validate.field).string.min_len = 1];
  repeated ProbeSample samples = 2;
}
message ProbeSample {
  google.protobuf.Timestamp time = 1;
  double temp_c = 2 [(telegate.v1.field).unit = "degC", (buf.validate.field).double = {gte: -40, lte: 40}];
}
"#;

#[test]
fn the_valid_probe_loads_without_warnings() {
    let (_d, r) = load(&[("acme/v1/probe.proto", PROBE)]);
    let reg = r.unwrap();
    assert!(reg.warnings().is_empty(), "{:?}", reg.warnings());
}

#[test]
fn a_batch_without_the_sensor_option_is_warned_about_with_file_and_line() {
    let src = PROBE.replace("  option (telegate.v1.sensor) = { type: \"probe\" };\n", "");
    // Another type keeps the registry non-empty.
    let other = PROBE
        .replace("package acme.v1;", "package other.v1;")
        .replace("\"probe\"", "\"other\"");
    let (dir, r) = load(&[("acme/v1/probe.proto", &src), ("other/v1/other.proto", &other)]);
    let reg = r.unwrap();
    assert!(reg.get("probe").is_none());
    let w: Vec<String> = reg.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    let expected = format!(
        "{}:6:1: warning: acme.v1.ProbeBatch looks like a sensor batch",
        dir.path().join("acme/v1/probe.proto").display()
    );
    assert!(w[0].starts_with(&expected), "{w:?}");
    assert!(
        w[0].contains("unknown_sensor_type") && w[0].contains("Fix: add `option (telegate.v1.sensor)"),
        "{w:?}"
    );
    // Mapped in the config instead: no warning.
    let map = BTreeMap::from([("probe".to_owned(), "acme.v1.ProbeBatch".to_owned())]);
    let reg = Registry::load(dir.path(), &map).unwrap();
    assert!(reg.warnings().is_empty(), "{:?}", reg.warnings());
}

#[test]
fn built_in_types_stay_beside_a_schema_dir_unless_turned_off() {
    let dir = write_dir(&[("acme/v1/probe.proto", PROBE)]);
    let only = Registry::load(dir.path(), &BTreeMap::new()).unwrap();
    assert_eq!(only.schemas().count(), 1);
    let both = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    let builtin = Registry::builtin(&BTreeMap::new()).unwrap();
    assert_eq!(both.schemas().count(), builtin.schemas().count() + 1);
    assert!(both.get("probe").is_some() && both.get("river_level").is_some());
    assert!(both.warnings().is_empty(), "{:?}", both.warnings());
    // The old guide's layout (copies of the built-in files in the directory)
    // still loads: a file of the directory replaces the built-in one.
    let river = include_str!("../../../proto/telegate/v1/river_level.proto")
        .replace("description: \"", "description: \"(site copy) ");
    std::fs::create_dir_all(dir.path().join("telegate/v1")).unwrap();
    std::fs::write(dir.path().join("telegate/v1/river_level.proto"), river).unwrap();
    let copied = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    assert_eq!(copied.schemas().count(), builtin.schemas().count() + 1);
    assert!(
        copied
            .get("river_level")
            .unwrap()
            .description
            .starts_with("(site copy)")
    );
    // …with a warning, because it differs from the built-in file.
    let w: Vec<String> = copied.warnings().iter().map(ToString::to_string).collect();
    let file = dir.path().join("telegate/v1/river_level.proto");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(&format!(
            "{}: warning: replaces the built-in telegate/v1/river_level.proto",
            file.display()
        )),
        "{w:?}"
    );
    // An identical copy is no news.
    std::fs::write(&file, include_str!("../../../proto/telegate/v1/river_level.proto")).unwrap();
    let same = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    assert!(same.warnings().is_empty(), "{:?}", same.warnings());
    // The same type defined a second time under another name is refused, with the way out.
    let twin = include_str!("../../../proto/telegate/v1/river_level.proto")
        .replace("package telegate.v1;", "package site.v1;");
    std::fs::write(dir.path().join("acme/v1/river.proto"), twin).unwrap();
    let err = Registry::load_with_builtin(dir.path(), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("defined twice") && err.contains("schema.builtin = false"),
        "{err}"
    );
}

#[test]
fn integer_times_of_32_bits_decode_in_their_unit_and_say_it() {
    let src = PROBE.replace(
        "google.protobuf.Timestamp time = 1;",
        "uint32 time = 1 [(telegate.v1.field).unit = \"s\"];",
    );
    for kind in ["uint32", "int32", "fixed32", "sfixed32", "sint32"] {
        let src = src.replace("uint32 time", &format!("{kind} time"));
        let (_d, r) = load(&[("acme/v1/probe.proto", &src)]);
        let reg = r.unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(reg.warnings().is_empty(), "{kind}: {:?}", reg.warnings());
        let schema = reg.get("probe").unwrap();
        assert!(matches!(schema.time, TimeSource::Integer { unit: "s", .. }));
        assert_eq!(
            schema.time.kind_and_unit(),
            format!("{kind}, seconds since 1970-01-01T00:00:00Z (s)")
        );
        let secs = NOW_NS / 1_000_000_000;
        let mut sample = DynamicMessage::new(schema.sample.clone());
        let t = match kind {
            "uint32" | "fixed32" => Value::U32(u32::try_from(secs).unwrap()),
            _ => Value::I32(i32::try_from(secs).unwrap()),
        };
        sample.set_field_by_name("time", t);
        sample.set_field_by_name("temp_c", Value::F64(4.5));
        let mut batch = DynamicMessage::new(schema.message.clone());
        batch.set_field_by_name("device_id", Value::String("p-1".into()));
        batch.set_field_by_name("samples", Value::List(vec![Value::Message(sample)]));
        let payload = batch.encode_to_vec();
        let origin = TopicFields {
            site: "yard",
            device_id: "p-1",
            sensor_type: "probe",
        };
        let mut points = Vec::new();
        reg.decode(&origin, &payload, NOW_NS, &Limits::default(), &mut points)
            .unwrap_or_else(|r| panic!("{kind}: {r:?}"));
        assert_eq!(points[0].time_ns, NOW_NS, "{kind}");
        // The transcoder (the gateway's hot path) agrees.
        let mut lines = Vec::new();
        let n = reg
            .transcode(
                &origin,
                &payload,
                NOW_NS,
                &Limits::default(),
                &mut TranscodeScratch::default(),
                &mut lines,
            )
            .unwrap_or_else(|r| panic!("{kind}: {r:?}"));
        assert_eq!(n, Some(1), "{kind}");
        assert!(
            String::from_utf8_lossy(&lines).ends_with(&format!(" {NOW_NS}\n")),
            "{kind}"
        );
    }
}

#[test]
fn an_integer_time_without_a_unit_is_warned_about() {
    let src = PROBE.replace("google.protobuf.Timestamp time = 1;", "uint64 time = 1;");
    let (dir, r) = load(&[("acme/v1/probe.proto", &src)]);
    let reg = r.unwrap();
    assert!(matches!(
        reg.get("probe").unwrap().time,
        TimeSource::Integer { unit: "ms", .. }
    ));
    let w: Vec<String> = reg.warnings().iter().map(ToString::to_string).collect();
    let file = dir.path().join("acme/v1/probe.proto").display().to_string();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(&format!(
            "{file}:12:3: warning: acme.v1.ProbeSample.time: integer time without a unit is read as milliseconds"
        )),
        "{w:?}"
    );
    assert!(w[0].contains("(telegate.v1.field).unit = \"s\""), "{w:?}");
    // A bool time is refused, naming the allowed kinds.
    let src = PROBE.replace("google.protobuf.Timestamp time = 1;", "bool time = 1;");
    let (_, err) = load_err(&[("acme/v1/probe.proto", &src)]);
    assert!(
        err.contains("probe.proto:12:3: acme.v1.ProbeSample.time: the time field must be") && err.contains("uint32"),
        "{err}"
    );
}

#[test]
fn a_missing_import_says_which_import_to_add_with_file_and_line() {
    let src = PROBE.replace("import \"buf/validate/validate.proto\";\n", "");
    let (dir, err) = load_err(&[("acme/v1/probe.proto", &src)]);
    let file = format!("{dir}/acme/v1/probe.proto:");
    assert!(err.starts_with(&file), "{err}");
    assert!(
        err.contains("buf.validate.field") && err.contains("add `import \"buf/validate/validate.proto\";`"),
        "{err}"
    );
    assert!(!err.contains("schema.dir"), "{err}");

    let src = PROBE.replace("import \"telegate/v1/options.proto\";\n", "");
    let (dir, err) = load_err(&[("acme/v1/probe.proto", &src)]);
    // protox gives this one no position: the first use of the name is found.
    assert!(err.starts_with(&format!("{dir}/acme/v1/probe.proto:")), "{err}");
    assert!(
        err.contains("probe.proto:6:13: name 'telegate.v1.sensor'")
            || err.contains("probe.proto:12:23: name 'telegate.v1.field'"),
        "{err}"
    );
    assert!(err.contains("add `import \"telegate/v1/options.proto\";`"), "{err}");

    let src = PROBE.replace("import \"google/protobuf/timestamp.proto\";\n", "");
    let (_, err) = load_err(&[("acme/v1/probe.proto", &src)]);
    assert!(
        err.contains("add `import \"google/protobuf/timestamp.proto\";`"),
        "{err}"
    );
}

#[test]
fn a_typo_inside_the_sensor_option_names_the_key() {
    let src = PROBE.replace("{ type: \"probe\" }", "{ type: \"probe\" measurment: \"x\" }");
    let (dir, err) = load_err(&[("acme/v1/probe.proto", &src)]);
    assert!(err.starts_with(&format!("{dir}/acme/v1/probe.proto:7:")), "{err}");
    assert!(
        err.contains("`measurment` is not a key of telegate.v1.Sensor (its keys: type, measurement, description)"),
        "{err}"
    );
    // No type at all.
    let src = PROBE.replace("{ type: \"probe\" }", "{ measurement: \"probe\" }");
    let (dir, err) = load_err(&[("acme/v1/probe.proto", &src)]);
    assert!(
        err.starts_with(&format!(
            "{dir}/acme/v1/probe.proto:6:1: acme.v1.ProbeBatch: option (telegate.v1.sensor) has no `type`"
        )),
        "{err}"
    );
}

#[test]
fn mapping_errors_name_file_and_line() {
    let cases = [
        ("double temp_c = 2", "bytes temp_c = 2", "bytes and messages cannot"),
        (
            "double temp_c = 2",
            "google.protobuf.Timestamp temp_c = 2",
            "bytes and messages cannot",
        ),
        ("double temp_c = 2", "double site = 2", "column name `site` is reserved"),
    ];
    for (from, to, problem) in cases {
        let src = PROBE
            .replace(from, to)
            .replace(", (buf.validate.field).double = {gte: -40, lte: 40}", "");
        let (dir, err) = load_err(&[("acme/v1/probe.proto", &src)]);
        let at = format!("{dir}/acme/v1/probe.proto:13:3: acme.v1.ProbeSample.");
        assert!(err.starts_with(&at) && err.contains(problem), "{to}: {err}");
    }
}

#[test]
fn errors_about_files_are_not_blamed_on_the_config_key() {
    let (_, r) = load(&[(
        "acme/v1/probe.proto",
        "syntax = \"proto3\";\nmessage A {\n  double x = 1\n}\n",
    )]);
    assert_eq!(r.unwrap_err().config_key(), None);
    let empty = tempfile::tempdir().unwrap();
    let err = Registry::load(empty.path(), &BTreeMap::new()).unwrap_err();
    assert_eq!(err.config_key(), Some("schema.dir"));
    let map = BTreeMap::from([("x".to_owned(), "no.such.Message".to_owned())]);
    let dir = write_dir(&[("acme/v1/probe.proto", PROBE)]);
    let err = Registry::load(dir.path(), &map).unwrap_err();
    assert_eq!(err.config_key(), Some("schema.types"));
}

#[test]
fn a_reload_says_which_types_changed() {
    let dir = write_dir(&[("acme/v1/probe.proto", PROBE)]);
    let old = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    // A comment moves every line: nothing changed.
    std::fs::write(
        dir.path().join("acme/v1/probe.proto"),
        PROBE.replace("package acme.v1;", "package acme.v1;\n// moved"),
    )
    .unwrap();
    let same = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    assert_eq!(same.changes_since(&old), crate::SchemaChanges::default());
    // A range changes one type.
    std::fs::write(
        dir.path().join("acme/v1/probe.proto"),
        PROBE.replace("lte: 40", "lte: 50"),
    )
    .unwrap();
    let new = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    let c = new.changes_since(&old);
    assert_eq!(
        (c.added.len(), c.removed.len(), c.changed.as_slice()),
        (0, 0, ["probe".to_owned()].as_slice())
    );
    let only = Registry::load(dir.path(), &BTreeMap::new()).unwrap();
    let c = only.changes_since(&new);
    assert_eq!(c.removed.len(), 8, "{c:?}");
    assert!(c.added.is_empty() && c.changed.is_empty(), "{c:?}");
}

#[test]
fn a_second_type_writing_into_an_existing_measurement_is_warned_about() {
    let src = PROBE.replace(
        "{ type: \"probe\" }",
        "{ type: \"probe\" measurement: \"river_level\" }",
    );
    let dir = write_dir(&[("acme/v1/probe.proto", &src)]);
    let reg = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    let w: Vec<String> = reg.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("measurement `river_level`") && w[0].contains("`probe`") && w[0].contains("Fix:"),
        "{w:?}"
    );
    assert!(w[0].contains("probe.proto:6:1: warning: sensor type `probe` writes into measurement `river_level`, which sensor type `river_level`"), "{w:?}");
}

#[test]
fn export_writes_every_file_in_service_and_the_imports_and_reloads_alike() {
    let dir = write_dir(&[("acme/v1/probe.proto", PROBE)]);
    let reg = Registry::load_with_builtin(dir.path(), &BTreeMap::new()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let written = reg.export(out.path()).unwrap();
    for name in [
        "acme/v1/probe.proto",
        "telegate/v1/river_level.proto",
        "telegate/v1/options.proto",
        "buf/validate/validate.proto",
    ] {
        assert!(written.contains(&out.path().join(name)), "{name} in {written:?}");
    }
    assert_eq!(
        std::fs::read_to_string(out.path().join("acme/v1/probe.proto")).unwrap(),
        PROBE
    );
    // The exported tree alone (no built-in types, its own options and
    // validate files) is the same registry.
    let again = Registry::load(out.path(), &BTreeMap::new()).unwrap();
    let names = |r: &Registry| r.schemas().map(|s| s.sensor_type.to_string()).collect::<Vec<_>>();
    assert_eq!(names(&again), names(&reg));
    assert_eq!(again.changes_since(&reg), crate::SchemaChanges::default());
}
