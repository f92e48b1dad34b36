//! The binary's command line: `check` output and error messages.
//!
//! It is also why `cargo test --workspace` (and nextest) builds the
//! `telegate` binary at all: cargo builds a package's binaries only for
//! that package's own integration tests, and the end-to-end tests in
//! `tests/` run that binary (`telegate_e2e::gateway::telegate_binary`).
//! Keep at least one integration test in this package.

use std::process::Command;

fn telegate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_telegate"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/telegate.example.toml");

#[test]
fn check_lists_every_sensor_type_of_the_example_config() {
    let (ok, out, err) = telegate(&["check", "--config", EXAMPLE]);
    assert!(ok, "{err}");
    for t in [
        "river_level",
        "rain_gauge",
        "landslide",
        "lane_counter",
        "weighbridge",
        "gate_barrier",
        "air_quality",
        "device_health",
    ] {
        assert!(out.contains(&format!("\n{t}\n")), "{t} missing:\n{out}");
        assert!(
            out.contains(&format!("telemetry/{{site}}/{{device_id}}/{t}")),
            "{t} topic missing:\n{out}"
        );
    }
    assert!(out.contains("8 sensor types"), "{out}");
    assert!(
        out.contains("measurement: river_level") && out.contains("stage_m (float, m)"),
        "{out}"
    );
    assert!(out.contains("tags:        device_id, site"), "{out}");
}

#[test]
fn check_names_file_key_and_fix_for_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, "[influx]\napi = \"v2\"\nurl = \"http://127.0.0.1:8428\"\n").unwrap();
    let (ok, _, err) = telegate(&["check", "--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("gw.toml: key `influx.bucket`") && err.contains("Fix:"),
        "{err}"
    );

    std::fs::write(&path, "[mqtt]\nport = 1883\nclient_idd = \"x\"\n").unwrap();
    let (ok, _, err) = telegate(&["check", "--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("gw.toml:3") && err.contains("client_idd") && err.contains("client_id"),
        "{err}"
    );

    std::fs::write(&path, "[schema]\ndir = \"does-not-exist\"\n").unwrap();
    let (ok, _, err) = telegate(&["check", "--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("gw.toml: key `schema.dir`") && err.contains("does-not-exist"),
        "{err}"
    );

    let (ok, _, err) = telegate(&["check", "--config", "/nonexistent/telegate.toml"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/telegate.toml: cannot read config"), "{err}");
}

/// Issue 19: errors keep their cause as a source, and the binary's edge
/// prints the whole chain, each cause once (`check` through anyhow's `{:#}`,
/// `run` before logging starts through `ErrorChain`).
#[test]
fn errors_at_the_edge_carry_their_cause_once() {
    for cmd in ["check", "run"] {
        let (ok, _, err) = telegate(&[cmd, "--config", "/nonexistent/telegate.toml"]);
        assert!(!ok, "{cmd}");
        let cause = "No such file or directory";
        assert!(
            err.contains(&format!("/nonexistent/telegate.toml: cannot read config: {cause}")),
            "{cmd}: {err}"
        );
        assert_eq!(err.matches(cause).count(), 1, "{cmd}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, "[mqtt]\nport = \"x\"\n").unwrap();
    for cmd in ["check", "run"] {
        let (ok, _, err) = telegate(&[cmd, "--config", path.to_str().unwrap()]);
        assert!(!ok, "{cmd}");
        assert!(err.contains("gw.toml:2: key `mqtt.port`: "), "{cmd}: {err}");
        assert_eq!(
            err.lines().count(),
            1,
            "toml's message on one line, no snippet: {cmd}: {err}"
        );
    }
}

#[test]
fn check_reports_a_broken_schema_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("proto")).unwrap();
    std::fs::write(
        dir.path().join("proto/bad.proto"),
        "syntax = \"proto3\";\nmessage A {\n  double x = 1\n}\n",
    )
    .unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, "[schema]\ndir = \"proto\"\n").unwrap();
    let (ok, _, err) = telegate(&["check", "--config", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.proto:4:"), "{err}");
}

/// Issue 16: a seconds-clock type (uint32) beside the built-in types; its
/// unit shown by check and describe; a warning printed by check with file,
/// line and fix; `schema.builtin = false` serves the directory alone; an
/// error in a .proto is not blamed on `schema.dir`; export writes the
/// files in service and their imports.
#[test]
fn a_schema_dir_keeps_the_built_in_types_shows_units_and_warnings_and_exports() {
    const PROBE: &str = r#"syntax = "proto3";
package acme.v1;
import "telegate/v1/options.proto";
message ProbeBatch {
  option (telegate.v1.sensor) = { type: "probe" };
  string device_id = 1;
  repeated ProbeSample samples = 2;
}
message ProbeSample {
  uint32 time = 1 [(telegate.v1.field).unit = "s"];
  double temp_c = 2;
}
message StrayBatch {
  string device_id = 1;
  repeated ProbeSample samples = 2;
}
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proto/acme")).unwrap();
    std::fs::write(dir.path().join("proto/acme/probe.proto"), PROBE).unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, "[schema]\ndir = \"proto\"\n").unwrap();
    let cfg = path.to_str().unwrap();
    let (ok, out, err) = telegate(&["check", "--config", cfg]);
    assert!(ok, "{err}");
    assert!(out.contains(": 9 sensor types"), "{out}");
    assert!(out.contains("\nriver_level\n") && out.contains("\nprobe\n"), "{out}");
    assert!(
        out.contains("  time:        samples[].time (uint32, seconds since 1970-01-01T00:00:00Z (s))"),
        "{out}"
    );
    let proto_file = dir.path().join("proto/acme/probe.proto");
    assert!(
        out.contains(&format!(
            "1 schema warnings:\n  {}:13:1: warning: acme.v1.StrayBatch looks like a sensor batch",
            proto_file.display()
        )),
        "{out}"
    );
    let (ok, out, err) = telegate(&["schema", "describe", "probe", "--config", cfg]);
    assert!(ok, "{err}");
    assert!(out.contains("samples[].time (uint32, seconds since"), "{out}");

    // Only the directory's types.
    std::fs::write(&path, "[schema]\ndir = \"proto\"\nbuiltin = false\n").unwrap();
    let (ok, out, err) = telegate(&["schema", "list", "--config", cfg]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");

    // Export: the files in service and the two imports, loadable alone.
    let export = dir.path().join("export");
    let (ok, out, err) = telegate(&["schema", "export", export.to_str().unwrap(), "--config", cfg]);
    assert!(ok, "{err}");
    assert!(
        out.contains("acme/probe.proto") && out.contains("buf/validate/validate.proto"),
        "{out}"
    );
    for f in [
        "acme/probe.proto",
        "telegate/v1/options.proto",
        "buf/validate/validate.proto",
    ] {
        assert!(export.join(f).is_file(), "{f}: {out}");
    }

    // A broken file: its path and line, not the config key.
    std::fs::write(&proto_file, PROBE.replace("double temp_c = 2;", "double temp_c = 2")).unwrap();
    let (ok, _, err) = telegate(&["check", "--config", cfg]);
    assert!(!ok);
    assert!(
        err.starts_with(&format!("error: {}:12:1:", proto_file.display())),
        "{err}"
    );
    assert!(!err.contains("schema.dir"), "{err}");
}

#[test]
fn help_explains_commands() {
    let (ok, out, _) = telegate(&["--help"]);
    assert!(ok);
    for cmd in ["run", "check", "schema", "decode", "sim", "demo", "Examples:"] {
        assert!(out.contains(cmd), "{cmd}:\n{out}");
    }
    for sub in ["schema", "decode", "sim", "demo"] {
        let (ok, out, err) = telegate(&[sub, "--help"]);
        assert!(ok, "{sub}: {err}");
        assert!(out.contains("Examples:"), "{sub} --help has examples:\n{out}");
    }
}

fn telegate_stdin(args: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_telegate"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// RiverLevelBatch{device_id: "g1", samples: [{time: 2026-01-01T00:00:00Z,
/// seq: 7, stage_m: 285.5, mode: MODE_FLOOD}]}, encoded by hand.
const KNOWN_RIVER_READING: &str = "0a02673112150a060880f2d6ca061007190000000000d871402802";

#[test]
fn decode_shows_json_line_protocol_and_verdict_of_a_known_payload() {
    let args = [
        "decode",
        "--type",
        "river_level",
        "--site",
        "muong-te",
        "--at",
        "2026-01-01T00:00:05Z",
        "-",
    ];
    let (code, out, err) = telegate_stdin(&args, KNOWN_RIVER_READING.as_bytes());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("input:   hex\n"), "{out}");
    assert!(out.contains("topic:   telemetry/muong-te/g1/river_level"), "{out}");
    assert!(out.contains("\"deviceId\": \"g1\""), "{out}");
    assert!(out.contains("\"stageM\": 285.5"), "{out}");
    assert!(out.contains("\"mode\": \"MODE_FLOOD\""), "{out}");
    assert!(
        out.contains(
            "\nriver_level,device_id=g1,site=muong-te seq=7i,stage_m=285.5,mode=\"flood\" 1767225600000000000\n"
        ),
        "{out}"
    );
    assert!(out.contains("verdict: accepted (1 points)"), "{out}");

    // Same bytes as base64 and raw; judged "now" the sample is too old.
    let raw: Vec<u8> = (0..KNOWN_RIVER_READING.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&KNOWN_RIVER_READING[i..i + 2], 16).unwrap())
        .collect();
    let (code, out, _) = telegate_stdin(&["decode", "--type", "river_level", "--format", "raw", "-"], &raw);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("verdict: rejected\n  timestamp_too_old: samples[0] time 2026-01-01T00:00:00.000Z"),
        "{out}"
    );

    // From another device's topic: spoofed.
    let (code, out, _) = telegate_stdin(
        &[
            "decode",
            "--type",
            "river_level",
            "--device",
            "g2",
            "--at",
            "2026-01-01T00:00:05Z",
            "-",
        ],
        KNOWN_RIVER_READING.as_bytes(),
    );
    assert_eq!(code, Some(1));
    assert!(
        out.contains("device_id_mismatch: payload device_id `g1` differs from topic device id `g2`"),
        "{out}"
    );

    // Not protobuf at all.
    let (code, out, _) = telegate_stdin(
        &["decode", "--type", "river_level", "--format", "raw", "-"],
        b"\xff\xff\xff",
    );
    assert_eq!(code, Some(1));
    assert!(
        out.contains("malformed_protobuf: not a valid telegate.v1.RiverLevelBatch (3 bytes)"),
        "{out}"
    );
}

#[test]
fn schema_describe_shows_fields_units_rules_and_example_line() {
    let (ok, out, err) = telegate(&["schema", "describe", "weighbridge"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("weighbridge — Axle and gross loads of one weighed vehicle\n"),
        "{out}"
    );
    assert!(
        out.contains("    lane             samples[].lane\n"),
        "tag from the sample:\n{out}"
    );
    assert!(
        out.contains("gross_t            float    t      gross_t      double {gte: 0, lte: 200}"),
        "{out}"
    );
    assert!(out.contains("axle_loads_t_1, _2… float    t      axle_loads_t repeated {max_items: 9, items: {double: {gte: 0, lte: 60}}}"), "{out}");
    assert!(
        out.contains("axle_config        string   -      axle_config  enum {defined_only: true}"),
        "{out}"
    );
    assert!(
        out.contains(",axle_config=\"rigid_2_axle\",speed_kmh=60,load_pct=250 1767225600000000000\n"),
        "{out}"
    );
    let (ok, _, err) = telegate(&["schema", "describe", "tide_gauge"]);
    assert!(!ok);
    assert!(
        err.contains("no sensor type `tide_gauge` (known: air_quality,"),
        "{err}"
    );
    let (ok, out, _) = telegate(&["schema", "list"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 8, "{out}");
}

#[test]
fn sim_dry_run_is_reproducible_by_seed() {
    let run = |seed: &str| {
        let (ok, out, err) = telegate(&[
            "sim",
            "--dry-run",
            "300",
            "--seed",
            seed,
            "--start",
            "2026-03-01T06:00:00Z",
            "--bad-ratio",
            "0.1",
        ]);
        assert!(ok, "{err}");
        out
    };
    let (a, b, c) = (run("42"), run("42"), run("43"));
    assert_eq!(a.lines().count(), 300);
    assert_eq!(a, b, "same seed, same topics and payload bytes");
    assert_ne!(a, c, "another seed, other values");
    // Every line: time, topic, kind, hex payload; bad ones are labelled.
    assert!(a.lines().all(|l| l.split(' ').count() == 4), "{a}");
    assert!(a.lines().any(|l| l.contains(" bad(")), "{a}");
    assert!(
        a.lines().next().unwrap().starts_with("1772344800000000000 telemetry/"),
        "{a}"
    );
}
