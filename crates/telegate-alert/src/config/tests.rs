use super::*;
use crate::rule::{Bounds, Calc, Direction, Kind};
use crate::series::Grouping;

const EXAMPLE: &str = include_str!("../../../../config/alerts.example.toml");

fn err(text: &str) -> String {
    match AlertConfig::from_toml_str(text, "alerts.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        // As the gateway prints it: with its causes (toml's message).
        Err(e) => telegate_model::error_chain(&e),
    }
}

const RIVER: &str = r#"
[[rule]]
id = "flood"
name = "Flood"
kind = "threshold"
measurement = "river_level"
field = "stage_m"

[[rule.level]]
name = "BĐ I"
severity = "info"
threshold = 287.0

[[rule.level]]
name = "BĐ II"
severity = "warning"
threshold = 288.5
"#;

#[test]
fn example_config_parses_with_every_kind() {
    let cfg = AlertConfig::from_toml_str(EXAMPLE, "config/alerts.example.toml").unwrap();
    let kinds: std::collections::BTreeSet<&str> = cfg.rules().iter().map(Rule::kind).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["combined", "deadman", "mean", "rate", "state", "sum", "threshold"]
    );
    let muong_te = cfg.rule("flood-muong-te").unwrap();
    assert_eq!(muong_te.level_names().collect::<Vec<_>>(), ["BĐ I", "BĐ II", "BĐ III"]);
    assert_eq!(
        muong_te.levels[2].bounds,
        Bounds::Above {
            threshold: 290.0,
            clear: 289.8
        }
    );
    assert_eq!(muong_te.renotify_ns, 2 * 3600 * 1_000_000_000);
    // A rule without its own renotify takes [defaults].
    assert_eq!(cfg.rule("rain-3h").unwrap().renotify_ns, 4 * 3600 * 1_000_000_000);
    let Kind::Value { calc, .. } = &cfg.rule("rain-24h").unwrap().kind else {
        panic!("rain-24h is a value rule");
    };
    assert_eq!(
        *calc,
        Calc::Sum {
            window_ns: 24 * 3600 * 1_000_000_000,
            min_samples: 1
        }
    );
    let Kind::Deadman {
        cadence_ns,
        factor,
        mode_cadence,
        ..
    } = &cfg.rule("offline-river").unwrap().kind
    else {
        panic!("offline-river is a deadman rule");
    };
    assert_eq!((*cadence_ns, *factor), (600_000_000_000, 3.0));
    assert_eq!(mode_cadence, &vec![("flood".to_owned(), 300_000_000_000)]);
    let Kind::Combined { all_of } = &cfg.rule("landslide-rain-and-soil").unwrap().kind else {
        panic!("combined");
    };
    let ids: Vec<&str> = all_of.iter().map(|&i| cfg.rules()[i].id()).collect();
    assert_eq!(ids, ["rain-24h", "soil-saturated"]);
    assert_eq!(cfg.labels["rl-003"], vec![("station".to_owned(), "lao-cai".to_owned())]);
    let Kind::Value { direction, .. } = &cfg.rule("tilt-rate").unwrap().kind else {
        panic!("tilt-rate is a value rule");
    };
    assert_eq!(*direction, Direction::Outside);
}

#[test]
fn defaults_fill_unset_keys() {
    let cfg = AlertConfig::from_toml_str(RIVER, "alerts.toml").unwrap();
    let rule = &cfg.rules()[0];
    assert_eq!(
        (rule.for_ns, rule.renotify_ns, rule.decimals, rule.notify),
        (0, 0, 2, true)
    );
    assert_eq!(rule.grouping, Grouping::AllTags);
    // clear defaults to the threshold.
    assert_eq!(
        rule.levels[0].bounds,
        Bounds::Above {
            threshold: 287.0,
            clear: 287.0
        }
    );
}

#[test]
fn unknown_key_names_file_line_key_and_the_expected_ones() {
    let e = err(&RIVER.replace("field = \"stage_m\"", "field = \"stage_m\"\nfro = \"10m\""));
    assert!(e.starts_with("alerts.toml:8: "), "{e}");
    assert!(e.contains("unknown field `fro`") && e.contains("`for`"), "{e}");
    assert!(e.ends_with("(in `fro = \"10m\"`)"), "the offending line is quoted: {e}");
    let e = err(&format!("{RIVER}\n[defaults]\nrenotfy = \"1h\"\n"));
    assert!(e.contains("unknown field `renotfy`") && e.contains("`renotify`"), "{e}");
}

#[test]
fn bad_duration_names_key_value_and_fix() {
    let e = err(&RIVER.replace("field = \"stage_m\"", "field = \"stage_m\"\nfor = \"ten minutes\""));
    assert!(
        e.starts_with("alerts.toml:8: rule `flood`: key `for`: `ten minutes` is not a duration"),
        "{e}"
    );
    assert!(e.contains("Fix: write a number and a unit"), "{e}");
    let e = err(&RIVER
        .replace("kind = \"threshold\"", "kind = \"sum\"")
        .replace("field = \"stage_m\"", "field = \"stage_m\"\nwindow = \"0s\""));
    assert!(
        e.contains("key `window`") && e.contains("must be longer than zero"),
        "{e}"
    );
}

#[test]
fn levels_out_of_order_are_refused_with_both_levels_named() {
    let e = err(&RIVER.replace("threshold = 288.5", "threshold = 286.0"));
    assert_eq!(
        e,
        "alerts.toml:17: rule `flood`, level `BĐ II`: levels out of order: `threshold` = 286 of level `BĐ II` \
         must be higher than 287 of level `BĐ I` before it. Fix: list levels from least to most severe"
    );
    // For direction = "below" thresholds must fall.
    let e = err(&RIVER.replace("field = \"stage_m\"", "field = \"stage_m\"\ndirection = \"below\""));
    assert!(e.contains("must be lower than 287"), "{e}");
}

#[test]
fn clear_level_on_the_wrong_side_is_refused() {
    let e = err(&RIVER.replace("threshold = 287.0", "threshold = 287.0\nclear = 287.5"));
    assert!(
        e.starts_with("alerts.toml:13: rule `flood`, level `BĐ I`: key `clear` = 287.5"),
        "{e}"
    );
    assert!(
        e.contains("at or below the threshold (287)") && e.contains("Fix: set clear at or below 287"),
        "{e}"
    );
}

#[test]
fn unknown_kind_lists_the_kinds() {
    let e = err(&RIVER.replace("kind = \"threshold\"", "kind = \"treshold\""));
    assert_eq!(
        e,
        "alerts.toml:5: rule `flood`: unknown rule kind `treshold`. Fix: set `kind` to one of \
         threshold, sum, mean, rate, state, deadman, combined"
    );
}

#[test]
fn keys_of_another_kind_are_refused() {
    let e = err(&RIVER.replace("field = \"stage_m\"", "field = \"stage_m\"\nwindow = \"1h\""));
    assert!(
        e.starts_with("alerts.toml:8: rule `flood`: key `window` does not apply to kind `threshold`")
            && e.contains("kind = \"sum\""),
        "{e}"
    );
    let deadman = "[[rule]]\nid = \"d\"\nname = \"D\"\nkind = \"deadman\"\ncadence = \"10m\"\nseverity = \"warning\"\nfor = \"5m\"\n";
    let e = err(deadman);
    assert!(
        e.starts_with("alerts.toml:7: rule `d`: key `for` does not apply to kind `deadman`")
            && e.contains("cadence × factor"),
        "{e}"
    );
}

#[test]
fn missing_keys_say_what_to_add() {
    let e = err(&RIVER.replace("field = \"stage_m\"\n", ""));
    assert!(
        e.starts_with("alerts.toml:2: rule `flood`: key `field` is required. Fix: add field ="),
        "{e}"
    );
    let e = err(&RIVER.replace("severity = \"info\"\n", ""));
    assert!(e.contains("level `BĐ I`: key `severity` is required"), "{e}");
    let e = err(
        "[[rule]]\nid = \"t\"\nname = \"T\"\nkind = \"state\"\nmeasurement = \"gate_barrier\"\nseverity = \"critical\"\n",
    );
    assert!(e.contains("key `when` is required"), "{e}");
}

#[test]
fn wrong_types_severity_and_direction_are_refused() {
    let e = err(&RIVER.replace("threshold = 287.0", "threshold = \"287\""));
    assert_eq!(
        e,
        "alerts.toml:12: invalid type: string \"287\", expected f64 (in `threshold = \"287\"`)"
    );
    let e = err(&RIVER.replace("severity = \"info\"", "severity = \"urgent\""));
    assert!(
        e.starts_with("alerts.toml:11: unknown variant `urgent`") && e.contains("`critical`"),
        "{e}"
    );
    let e = err(&RIVER.replace("field = \"stage_m\"", "field = \"stage_m\"\ndirection = \"up\""));
    assert!(
        e.contains("key `direction` = up: unknown direction") && e.contains("\"outside\""),
        "{e}"
    );
}

#[test]
fn duplicate_ids_and_bad_components_are_refused() {
    let e = err(&format!("{RIVER}{RIVER}"));
    assert!(e.contains("rule id `flood` is already used on line 2"), "{e}");
    let combined = "\n[[rule]]\nid = \"c\"\nname = \"C\"\nkind = \"combined\"\nall_of = [\"flood\", \"nope\"]\nseverity = \"critical\"\n";
    let e = err(&format!("{RIVER}{combined}"));
    assert!(
        e.contains("rule `c`: key `all_of` names `nope`, which is not a rule in this file"),
        "{e}"
    );
}

#[test]
fn bad_templates_list_the_placeholders() {
    let e = err(&RIVER.replace(
        "field = \"stage_m\"",
        "field = \"stage_m\"\nmessage = \"{device_id}: {vaule}\"",
    ));
    assert!(
        e.starts_with("alerts.toml:8: rule `flood`: key `message`: unknown placeholder `{vaule}`"),
        "{e}"
    );
    assert!(e.contains("{value}") && e.contains("{threshold}"), "{e}");
    let e = err(&RIVER.replace("field = \"stage_m\"", "field = \"stage_m\"\nmessage = \"{silence}\""));
    assert!(e.contains("`{silence}` does not apply to this rule kind"), "{e}");
}

#[test]
fn labels_cannot_replace_topic_tags() {
    let e = err(&format!("[device_labels.rl-001]\nsite = \"x\"\n{RIVER}"));
    assert!(e.contains("[device_labels.rl-001]: key `site`"), "{e}");
}

#[test]
fn reading_a_missing_file_names_it() {
    let e = AlertConfig::from_file("/nonexistent/alerts.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/alerts.toml: cannot read alert rules"),
        "{e}"
    );
}
