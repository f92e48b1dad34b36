use super::*;
use telegate_model::error_chain;

#[test]
fn example_config_parses_and_validates() {
    let cfg = Config::parse(EMBEDDED_DEFAULT, "example").unwrap();
    cfg.validate("example").unwrap();
    assert_eq!(cfg.subscription(), "telemetry/+/+/+");
}

#[test]
fn every_key_of_the_example_is_a_known_key() {
    // deny_unknown_fields everywhere: parsing the example proves no key is misspelt.
    assert!(Config::parse(&format!("{EMBEDDED_DEFAULT}\n[influx.extra]\n"), "x").is_err());
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = "[mqtt]\nhost = \"h\"\n\n[influx]\nbatch_sise = 10\n";
    let err = error_chain(&Config::parse(text, "gw.toml").unwrap_err());
    assert!(err.starts_with("gw.toml:5"), "{err}");
    assert!(err.contains("batch_sise") && err.contains("batch_size"), "{err}");
}

#[test]
fn wrong_type_names_the_dotted_key() {
    let err = error_chain(&Config::parse("[influx]\nlinger = 5\n", "gw.toml").unwrap_err());
    assert!(
        err.contains("gw.toml:2") && err.contains("key `influx.linger`"),
        "{err}"
    );
    let err = error_chain(&Config::parse("[mqtt]\nport = \"x\"\n", "gw.toml").unwrap_err());
    assert!(err.contains("key `mqtt.port`"), "{err}");
    // toml's message once, on the line of its own: no snippet of the file.
    assert!(!err.contains('\n') && err.matches("gw.toml").count() == 1, "{err}");
}

#[test]
fn semantic_errors_name_key_and_fix() {
    let cfg = Config::parse("[influx]\napi = \"v2\"\n", "gw.toml").unwrap();
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(
        err.starts_with("gw.toml: key `influx.bucket`") && err.contains("Fix:"),
        "{err}"
    );
    let cfg = Config::parse(
        "[mqtt]\ntopic_pattern = \"telemetry/{site}/{sensor_type}\"\n",
        "gw.toml",
    )
    .unwrap();
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(
        err.contains("key `mqtt.topic_pattern`") && err.contains("{device_id}"),
        "{err}"
    );
}

#[test]
fn packet_size_must_leave_room_for_the_largest_payload_and_topic() {
    // 262144 + 69632 = 331776: one byte less is refused, naming the relation.
    let text = |packet: u32| format!("[mqtt]\nmax_packet_size = {packet}\n[limits]\nmax_payload_bytes = 262144\n");
    let cfg = Config::parse(&text(331_775), "gw.toml").unwrap();
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(
        err.contains("key `mqtt.max_packet_size`") && err.contains("69632"),
        "{err}"
    );
    Config::parse(&text(331_776), "gw.toml")
        .unwrap()
        .validate("gw.toml")
        .unwrap();
    let cfg = Config::parse("[quarantine]\nmax_bytes = 1000\n", "gw.toml").unwrap();
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(err.contains("key `quarantine.max_bytes`"), "{err}");
}

#[test]
fn secrets_come_from_the_environment() {
    let mut cfg = Config::default();
    cfg.apply_env(|k| (k == "TELEGATE_INFLUX_TOKEN").then(|| "s3cret".to_owned()));
    assert_eq!(cfg.influx.token.expose(), "s3cret");
    assert!(cfg.mqtt.password.is_empty());
    // A replica's client id from its environment (StatefulSet pod name).
    cfg.apply_env(|k| (k == CLIENT_ID_ENV).then(|| "telegate-2".to_owned()));
    assert_eq!(cfg.mqtt.client_id, "telegate-2");
}

#[test]
fn secrets_come_from_files_and_named_variables_and_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-from-file\n").unwrap();
    let mut cfg = Config::default();
    cfg.influx.token_file = token.display().to_string();
    cfg.mqtt.password_env = "SITE_PW".into();
    cfg.resolve_secrets("gw.toml", |k| (k == "SITE_PW").then(|| "pw-from-env".to_owned()))
        .unwrap();
    assert_eq!(cfg.influx.token.expose(), "tok-from-file");
    assert_eq!(cfg.mqtt.password.expose(), "pw-from-env");
    let dump = cfg.to_redacted_toml();
    assert!(
        !dump.contains("tok-from-file") && !dump.contains("pw-from-env"),
        "{dump}"
    );
    assert!(dump.contains("token = \"<redacted>\""), "{dump}");
    assert!(!format!("{cfg:?}").contains("tok-from-file"));
}

#[test]
fn shared_subscription_and_tls_keys_are_checked() {
    let mut cfg = Config::default();
    cfg.mqtt.share_group = "telegate".into();
    assert_eq!(cfg.subscription(), "$share/telegate/telemetry/+/+/+");
    cfg.validate("gw.toml").unwrap();
    cfg.mqtt.share_group = "a/b".into();
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(err.contains("mqtt.share_group") && err.contains("Fix:"), "{err}");
    let mut cfg = Config::default();
    cfg.mqtt.tls.enabled = true;
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(err.contains("mqtt.port") && err.contains("8883"), "{err}");
    let mut cfg = Config::default();
    cfg.admin.listen = "localhost".into();
    let err = cfg.validate("gw.toml").unwrap_err().to_string();
    assert!(err.contains("admin.listen"), "{err}");
}
