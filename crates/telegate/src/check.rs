//! `telegate check`: validate config and schemas and show what each sensor
//! type becomes.

use std::fmt::Write as _;

use telegate_model::TopicPattern;
use telegate_schema::{ColumnRole, Registry, SensorSchema};

use crate::config::LoadedConfig;

fn describe(out: &mut String, pattern: &TopicPattern, s: &SensorSchema) {
    let _ = writeln!(out, "{}", s.sensor_type);
    if !s.description.is_empty() {
        let _ = writeln!(out, "  {}", s.description);
    }
    let _ = writeln!(
        out,
        "  topic:       {}",
        pattern.render("{site}", "{device_id}", &s.sensor_type)
    );
    let _ = writeln!(out, "  message:     {} ({})", s.message.full_name(), s.file);
    let _ = writeln!(out, "  measurement: {}", s.measurement);
    let _ = writeln!(
        out,
        "  time:        samples[].{} ({})",
        s.time.field_name(),
        s.time.kind_and_unit()
    );
    let _ = writeln!(out, "  tags:        {}", s.tag_keys().join(", "));
    let fields: Vec<String> = s
        .columns
        .iter()
        .filter(|c| c.role == ColumnRole::Value)
        .map(|c| {
            let mut f = format!(
                "{}{} ({}",
                c.name,
                if c.is_repeated() { "_N" } else { "" },
                c.value_type.influx_type()
            );
            if !c.unit.is_empty() {
                f.push_str(", ");
                f.push_str(&c.unit);
            }
            f.push(')');
            f
        })
        .collect();
    let _ = writeln!(out, "  fields:      {}", fields.join(", "));
}

/// The report printed by `telegate check`.
pub fn report(loaded: &LoadedConfig, registry: &Registry) -> String {
    let mut out = String::new();
    let c = &loaded.config;
    let _ = writeln!(out, "config {}: ok", loaded.file);
    let _ = writeln!(
        out,
        "broker {}:{} as `{}`, subscribing to `{}`",
        c.mqtt.host,
        c.mqtt.port,
        c.mqtt.client_id,
        c.subscription()
    );
    let _ = writeln!(out, "dead letters to `{}/<original topic>`", c.mqtt.dead_letter_prefix);
    let _ = writeln!(out, "influx {:?} at {}", c.influx.api, c.influx.url);
    let _ = writeln!(
        out,
        "schemas from {}: {} sensor types\n",
        registry.dir().display(),
        registry.schemas().count()
    );
    if let Ok(pattern) = TopicPattern::parse(&c.mqtt.topic_pattern) {
        for s in registry.schemas() {
            describe(&mut out, &pattern, s);
        }
    }
    let warnings = registry.warnings();
    if !warnings.is_empty() {
        let _ = writeln!(out, "\n{} schema warnings:", warnings.len());
        for w in warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    out
}

/// The alerting part of `telegate check`: the rules file parsed and
/// validated exactly as `run` would (an error names its file, line, rule and
/// fix), its rules listed, and a warning for a rule reading a measurement
/// no sensor type writes (a typo there would never fire).
pub fn alerts_report(loaded: &LoadedConfig, registry: &Registry) -> Result<String, telegate_alert::ConfigError> {
    let a = &loaded.config.alerts;
    let mut out = String::new();
    if !a.enabled() {
        let _ = writeln!(out, "\nalerts: off (alerts.rules_file is empty)");
        return Ok(out);
    }
    let rules = telegate_alert::AlertConfig::from_file(&a.rules_file)?;
    let _ = writeln!(
        out,
        "\nalert rules from {}: {} rules, state in {}",
        a.rules_file,
        rules.rules().len(),
        a.state_file
    );
    let known: Vec<&str> = registry.schemas().map(|s| &*s.measurement).collect();
    for rule in rules.rules() {
        let reads = rule.measurement().unwrap_or(if rule.kind() == "combined" {
            "its components"
        } else {
            "every measurement"
        });
        let _ = writeln!(out, "  {} ({}, reads {reads})", rule.id(), rule.kind());
        if let Some(risk) = rule.flap_risk() {
            let _ = writeln!(out, "    warning: {risk}");
        }
        if let Some(m) = rule.measurement().filter(|m| !known.contains(m)) {
            let _ = writeln!(
                out,
                "    warning: no sensor type writes measurement `{m}`; this rule will never see a reading"
            );
        }
    }
    let outputs: Vec<String> = [
        a.mqtt
            .enabled
            .then(|| format!("mqtt {}/{{site}}/{{device_id}}/{{rule_id}}", a.mqtt.topic_prefix)),
        a.influx.enabled.then(|| "influx measurement alerts".to_owned()),
        (!a.webhook.url.is_empty()).then(|| {
            format!(
                "webhook {}",
                crate::alerting::outputs::webhook::redacted_url(&a.webhook.url)
            )
        }),
        (!a.oncall.url.is_empty()).then(|| {
            format!(
                "oncall {} (escalations only)",
                crate::alerting::outputs::webhook::redacted_url(&a.oncall.url)
            )
        }),
        a.email.enabled().then(|| {
            format!(
                "email to {} via {}:{} ({})",
                a.email.to.join(", "),
                a.email.server,
                a.email.port,
                match a.email.language {
                    crate::alerting::text::Lang::Vi => "Vietnamese",
                    crate::alerting::text::Lang::En => "English",
                }
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _ = writeln!(
        out,
        "alert outputs: {}",
        if outputs.is_empty() {
            "none".to_owned()
        } else {
            outputs.join(", ")
        }
    );
    let esc = rules.escalation();
    if esc.after_ns > 0 {
        let after = humantime::format_duration(std::time::Duration::from_nanos(
            u64::try_from(esc.after_ns).unwrap_or(0),
        ));
        let to = if esc.outputs.is_empty() {
            "every notifying output".to_owned()
        } else {
            esc.outputs.join(", ")
        };
        let _ = writeln!(out, "escalation: unacknowledged critical alerts after {after}, to {to}");
    }
    Ok(out)
}

/// The console part of `telegate check`: the users file read as `run`
/// reads it (an error names file, line and fix).
pub fn console_report(loaded: &LoadedConfig) -> Result<String, crate::operators::users::UserError> {
    let c = &loaded.config.admin.console;
    if !loaded.config.alerts.enabled() {
        return Ok(String::new());
    }
    let mut out = String::new();
    if c.users_file.is_empty() {
        let _ = writeln!(out, "operator console: no accounts (admin.console.users_file is empty)");
    } else {
        let users = crate::operators::users::UserFile::load(std::path::Path::new(&c.users_file))?;
        let _ = writeln!(
            out,
            "operator console: {} account(s) in {}, audit log {}",
            users.users.len(),
            c.users_file,
            c.audit_path(&loaded.config.alerts.state_file).display()
        );
    }
    Ok(out)
}
