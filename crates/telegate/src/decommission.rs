//! `telegate device decommission ID`: ask a running gateway (its admin
//! listener, `DELETE /api/devices/{id}` with the admin token) to forget a
//! device and clear its deadman. The gateway owns the alert state, so the
//! command goes through it rather than editing the state file.

use std::time::Duration;

use thiserror::Error;

use crate::config::Config;

/// Why a decommission was not done.
#[derive(Debug, Error)]
pub enum DecommissionError {
    #[error("admin.listen is empty: the gateway has no admin listener to ask; set admin.listen and restart it")]
    NoListener,
    #[error("cannot build an HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("cannot start the runtime the HTTP client runs on")]
    Runtime(#[source] std::io::Error),
    #[error("cannot reach the gateway at {url} (is `telegate run` running with this config?)")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the gateway at {url} answered {status}: {body}")]
    Refused { url: String, status: u16, body: String },
}

/// Decommission `device_id` on the gateway `config` describes; the line to
/// print on success.
pub fn run(config: &Config, device_id: &str) -> Result<String, DecommissionError> {
    let listen = config.admin.listen.trim();
    if listen.is_empty() {
        return Err(DecommissionError::NoListener);
    }
    let host = listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    let id: String = url_escape(device_id);
    let url = format!("http://{host}/api/devices/{id}");
    telegate_influx::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(DecommissionError::Client)?;
    let token = config.admin.token.expose().to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DecommissionError::Runtime)?;
    let (status, body) = rt.block_on(async {
        let mut req = client.delete(&url);
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(|e| DecommissionError::Unreachable {
            url: url.clone(),
            // The message names the URL already.
            source: e.without_url(),
        })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        Ok::<_, DecommissionError>((status, body))
    })?;
    if status == 200 {
        Ok(format!("{device_id}: decommissioned (forgotten, its deadman cleared)"))
    } else {
        Err(DecommissionError::Refused {
            url,
            status,
            body: body.trim().to_owned(),
        })
    }
}

/// Percent-encode everything but unreserved characters (device ids are
/// topic levels: anything but `/`, `+`, `#` may occur).
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_escaped_for_the_path() {
        assert_eq!(url_escape("rl-001"), "rl-001");
        assert_eq!(url_escape("gate 1/ä"), "gate%201%2F%C3%A4");
    }
}
