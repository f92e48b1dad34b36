//! The binary's command line: `check` output and error messages.

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

#[test]
fn help_explains_commands() {
    let (ok, out, _) = telegate(&["--help"]);
    assert!(ok);
    assert!(
        out.contains("run") && out.contains("check") && out.contains("Examples:"),
        "{out}"
    );
}
