//! The webhook output: each transition's JSON POSTed to `alerts.webhook.url`,
//! one at a time and in order (a receiver sees `fired` before `resolved`).
//! 2xx is delivered. Network errors, timeouts, 408, 429 and 5xx are retried
//! with backoff (`Retry-After` honoured) up to `max_attempts`; any other
//! answer (a 4xx: the receiver refuses this request, retrying cannot help;
//! a redirect: point the URL at its target) drops the transition at once.
//! Either way the failure is logged with the receiver's answer and counted.
//!
//! Chat bots (Telegram, Slack, Zalo…) want their own JSON, not ours:
//! `alerts.webhook.body` is a template whose placeholders become
//! JSON-escaped strings (the transition told in `alerts.webhook.language`,
//! [`crate::alerting::text`]), and the token can go into the URL
//! (`{token}`: Telegram's `/bot{token}/sendMessage`, Slack's hook path) or
//! into a header of the bot's choosing (`token_header`).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use bytes::Bytes;

use super::{Failure, OneByOne, OutputError, deliver_each, error_chain};
use crate::alerting::config::WebhookConfig;
use crate::alerting::payload::{Delivery, state_name};
use crate::alerting::stats::{AlertStats, OutputKind};
use crate::alerting::text::{Lang, render};

/// Where a token goes in a URL (`https://api.telegram.org/bot{token}/…`).
const TOKEN_IN_URL: &str = "{token}";

/// The HTTP client and request parts that do not change per transition.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    client: reqwest::Client,
    /// With the token in place of `{token}`.
    url: String,
    /// The header carrying the token, unless the URL does.
    auth: Option<(HeaderName, HeaderValue)>,
    body: String,
    language: Lang,
}

/// The start of a response body, for the log.
fn excerpt(body: &str) -> String {
    let body = body.trim();
    let mut cut = body.len().min(300);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    body[..cut].replace(['\n', '\r'], " ")
}

impl Webhook {
    pub(crate) fn new(cfg: &WebhookConfig) -> Result<Webhook, OutputError> {
        telegate_influx::install_crypto_provider();
        let bad = |message: String| OutputError::Webhook {
            url: cfg.url.clone(),
            message,
        };
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| OutputError::WebhookClient {
                url: cfg.url.clone(),
                source,
            })?;
        let in_url = cfg.url.contains(TOKEN_IN_URL);
        if in_url && cfg.token.is_empty() {
            return Err(bad(
                "has {token} but no token is set (alerts.webhook.token_file or token_env)".into(),
            ));
        }
        let auth = if cfg.token.is_empty() || in_url {
            None
        } else {
            let (name, value) = if cfg.token_header.is_empty() {
                (AUTHORIZATION, format!("Bearer {}", cfg.token.expose()))
            } else {
                let name =
                    HeaderName::from_bytes(cfg.token_header.as_bytes()).map_err(|source| OutputError::TokenHeader {
                        url: cfg.url.clone(),
                        header: cfg.token_header.clone(),
                        source,
                    })?;
                (name, cfg.token.expose().to_owned())
            };
            let mut v = HeaderValue::from_str(&value).map_err(|source| OutputError::TokenValue {
                url: cfg.url.clone(),
                source,
            })?;
            v.set_sensitive(true);
            Some((name, v))
        };
        Ok(Webhook {
            client,
            url: cfg.url.replace(TOKEN_IN_URL, cfg.token.expose()),
            auth,
            body: cfg.body.clone(),
            language: cfg.language,
        })
    }

    async fn post(&self, d: &Delivery) -> Result<(), Failure> {
        let mut req = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("telegate/", env!("CARGO_PKG_VERSION")))
            .header("Idempotency-Key", d.idempotency_key())
            .body(body_of(d, &self.body, self.language));
        if let Some((name, value)) = &self.auth {
            req = req.header(name.clone(), value.clone());
        }
        let resp = req.send().await.map_err(|e| Failure::Retry {
            // reqwest's errors name the URL, which may hold the token.
            problem: error_chain(&e.without_url()),
            retry_after: None,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(telegate_model::retry::parse_retry_after);
        let body = resp.text().await.unwrap_or_default();
        let problem = format!("answered {status}: {}", excerpt(&body));
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            Err(Failure::Retry { problem, retry_after })
        } else {
            Err(Failure::Refused(problem))
        }
    }
}

/// The URL with a `{token}` in it replaced by `<token>`, for the log.
pub(crate) fn redacted_url(url: &str) -> String {
    url.replace(TOKEN_IN_URL, "<token>")
}

/// What the placeholders of a body template stand for.
const PLACEHOLDERS: [&str; 12] = [
    "text",
    "subject",
    "body",
    "alert_id",
    "rule_id",
    "rule_name",
    "severity",
    "change",
    "level",
    "device_id",
    "site",
    "json",
];

/// `{name}` → `value(name)`; everything else as written. `Err(name)` for a
/// `{word}` that is no placeholder.
fn fill(template: &str, value: impl Fn(&str) -> String) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word_len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(after.len());
        if word_len > 0 && after[word_len..].starts_with('}') {
            let name = &after[..word_len];
            if !PLACEHOLDERS.contains(&name) {
                return Err(name.to_owned());
            }
            out.push_str(&value(name));
            rest = &after[word_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A string's JSON escape, without the quotes (the template has them).
fn escaped(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Checked at config load: every placeholder known, and the result JSON.
pub(crate) fn check_body(template: &str) -> Result<(), String> {
    if template.is_empty() {
        return Ok(());
    }
    let filled = fill(template, |name| if name == "json" { "{}".into() } else { "x".into() })
        .map_err(|name| format!("unknown placeholder {{{name}}}"))?;
    serde_json::from_str::<serde_json::Value>(&filled)
        .map(|_| ())
        .map_err(|e| format!("is not JSON once its placeholders are filled in: {e}"))
}

/// The request body of a transition: its JSON, or the template filled in.
fn body_of(d: &Delivery, template: &str, lang: Lang) -> Bytes {
    if template.is_empty() {
        return d.json.clone();
    }
    let t = &d.transition;
    let text = render(t, d.deadman, lang);
    let filled = fill(template, |name| match name {
        "json" => String::from_utf8_lossy(&d.json).into_owned(),
        "text" => escaped(&format!("{}\n\n{}", text.subject, text.body)),
        "subject" => escaped(&text.subject),
        "body" => escaped(&text.body),
        "alert_id" => escaped(&t.alert_id),
        "rule_id" => escaped(&t.rule_id),
        "rule_name" => escaped(&t.rule_name),
        "severity" => t.severity.as_str().to_owned(),
        "change" => escaped(&state_name(&t.change)),
        "level" => escaped(&t.level),
        "device_id" => escaped(t.series.device_id.as_deref().unwrap_or("")),
        "site" => escaped(t.series.site.as_deref().unwrap_or("")),
        _ => String::new(),
    });
    // Checked at load: a template that got here has only known placeholders.
    Bytes::from(filled.unwrap_or_default())
}

pub(crate) async fn run(
    hook: Webhook,
    cfg: WebhookConfig,
    rx: mpsc::Receiver<Arc<Delivery>>,
    give_up: CancellationToken,
    stats: Arc<AlertStats>,
    // `webhook` or `oncall`: the same code, counted apart.
    kind: OutputKind,
) {
    let how = OneByOne {
        kind,
        target: redacted_url(&cfg.url),
        retry: cfg.retry(),
        max_attempts: cfg.max_attempts,
    };
    let hook = Arc::new(hook);
    deliver_each(
        how,
        rx,
        give_up,
        stats,
        |_| true,
        move |d| {
            let hook = hook.clone();
            async move { hook.post(&d).await }
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_escaped_strings_and_refuse_unknown_names() {
        assert_eq!(check_body(""), Ok(()));
        assert_eq!(check_body(r#"{"chat_id": "-100", "text": "{text}"}"#), Ok(()));
        assert_eq!(check_body(r#"{"data": {json}}"#), Ok(()));
        assert!(check_body(r#"{"text": "{txt}"}"#).unwrap_err().contains("{txt}"));
        assert!(check_body(r#"{"text": {text}}"#).unwrap_err().contains("not JSON"));
        let filled = fill(r#"{"t": "{subject}", "n": {"x": 1}}"#, |_| escaped("a \"b\"\nc")).unwrap();
        assert_eq!(filled, r#"{"t": "a \"b\"\nc", "n": {"x": 1}}"#);
        assert_eq!(
            redacted_url("https://api.telegram.org/bot{token}/sendMessage"),
            "https://api.telegram.org/bot<token>/sendMessage"
        );
    }

    #[test]
    fn docs_chat_bot_presets_are_valid() {
        let doc = include_str!("../../../../../docs/alerts.md");
        let section = doc
            .split("### Chat bots")
            .nth(1)
            .and_then(|s| s.split("### Email").next())
            .unwrap_or_default();
        let presets: Vec<&str> = section
            .split("```toml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        assert_eq!(presets.len(), 3, "Telegram, Slack, Zalo");
        for preset in presets {
            let config = crate::Config::parse(preset, "docs/alerts.md").unwrap();
            let mut alerts = config.alerts.clone();
            alerts.rules_file = "alerts.toml".into();
            alerts.validate().unwrap();
            let mut cfg = alerts.webhook.clone();
            cfg.token = telegate_model::Secret::new("SECRET");
            let hook = Webhook::new(&cfg).unwrap();
            assert!(!hook.body.is_empty());
            if cfg.url.contains(TOKEN_IN_URL) {
                assert!(hook.url.contains("SECRET") && hook.auth.is_none(), "{preset}");
            } else {
                assert_eq!(
                    hook.auth.as_ref().map(|(n, _)| n.as_str()),
                    Some("access_token"),
                    "{preset}"
                );
            }
        }
    }
}
