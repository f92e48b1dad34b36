use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

use crate::config::{ApiVersion, InfluxConfig};
use crate::error::WriteError;
use crate::health::WriteHealth;

/// Posts line-protocol batches to one InfluxDB endpoint.
#[derive(Debug, Clone)]
pub struct HttpWriter {
    client: reqwest::Client,
    url: String,
    /// v1 with `influx.create_database = true` only: where and what
    /// `CREATE DATABASE` goes to. `None` means the gateway never creates one.
    create: Option<(String, String)>,
    auth: Option<HeaderValue>,
    gzip: bool,
    /// `{base}/ping`: answered by InfluxDB 1.x/2.x and VictoriaMetrics.
    ping: String,
}

/// reqwest is built without a bundled crypto provider (ring is lighter to
/// build than aws-lc); rustls needs one installed process-wide before the
/// first HTTP client is built. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Percent-encode a query parameter value (RFC 3986 unreserved characters kept).
fn encode_param(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl HttpWriter {
    pub fn new(cfg: &InfluxConfig) -> Result<Self, WriteError> {
        install_crypto_provider();
        let base = cfg.url.trim_end_matches('/');
        let mut url = String::with_capacity(base.len() + 64);
        url.push_str(base);
        let mut create = None;
        let auth = match cfg.api {
            ApiVersion::V1 => {
                let mut body = String::from("q=CREATE%20DATABASE%20%22");
                encode_param(&mut body, &cfg.database.replace('"', "\\\""));
                body.push_str("%22");
                if cfg.create_database {
                    create = Some((format!("{base}/query"), body));
                }
                url.push_str("/write?precision=ns&db=");
                encode_param(&mut url, &cfg.database);
                if !cfg.retention_policy.is_empty() {
                    url.push_str("&rp=");
                    encode_param(&mut url, &cfg.retention_policy);
                }
                (!cfg.username.is_empty()).then(|| basic_auth(&cfg.username, cfg.password.expose()))
            }
            ApiVersion::V2 => {
                url.push_str("/api/v2/write?precision=ns&org=");
                encode_param(&mut url, &cfg.org);
                url.push_str("&bucket=");
                encode_param(&mut url, &cfg.bucket);
                (!cfg.token.is_empty()).then(|| format!("Token {}", cfg.token.expose()))
            }
        };
        let auth = auth
            .map(|a| {
                let mut v = HeaderValue::from_str(&a).map_err(|_| WriteError::Transport {
                    url: url.clone(),
                    message: "credentials contain characters not allowed in an HTTP header".into(),
                })?;
                v.set_sensitive(true);
                Ok(v)
            })
            .transpose()?;
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(5)));
        if !cfg.ca_file.is_empty() {
            let pem = std::fs::read(&cfg.ca_file).map_err(|e| WriteError::Transport {
                url: url.clone(),
                message: format!("reading influx.ca_file {}: {e}", cfg.ca_file),
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| WriteError::Transport {
                url: url.clone(),
                message: format!("influx.ca_file {} is not a PEM certificate bundle: {e}", cfg.ca_file),
            })?;
            if certs.is_empty() {
                return Err(WriteError::Transport {
                    url: url.clone(),
                    message: format!("influx.ca_file {} holds no certificate", cfg.ca_file),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| WriteError::Transport {
            url: url.clone(),
            message: e.to_string(),
        })?;
        Ok(Self {
            client,
            url,
            create,
            auth,
            gzip: cfg.gzip,
            ping: format!("{base}/ping"),
        })
    }

    /// The write URL (no credentials in it: they travel in a header).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP client (timeouts, CA file) and the `Authorization` value
    /// of the writes, so the operator console reads series from the same
    /// server with the same credentials (Basic for 1.x, `Token` for 2.x/3.x).
    pub fn client_and_auth(&self) -> (&reqwest::Client, Option<&HeaderValue>) {
        (&self.client, self.auth.as_ref())
    }

    /// Whether the server answers at all (for `/readyz`); short timeout.
    pub async fn ping(&self) -> Result<(), WriteError> {
        let resp = self
            .client
            .get(&self.ping)
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .map_err(|e| WriteError::Transport {
                url: self.ping.clone(),
                message: error_chain(&e),
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(WriteError::Http {
            url: self.ping.clone(),
            status: status.as_u16(),
            body: resp.text().await.unwrap_or_default(),
            headers: Box::default(),
        })
    }

    /// InfluxDB 1.x with `influx.create_database = true`: create the
    /// database if it does not exist (idempotent there). A no-op otherwise,
    /// and for the v2 API, where buckets are provisioned by the operator.
    pub async fn create_database(&self) -> Result<(), WriteError> {
        let Some((url, body)) = &self.create else { return Ok(()) };
        let mut req = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.clone());
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let resp = req.send().await.map_err(|e| WriteError::Transport {
            url: url.clone(),
            message: error_chain(&e),
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        // 1.x answers 200 with {"results":[{"error":...}]} for refused statements.
        if status.is_success() && !text.contains("\"error\"") {
            return Ok(());
        }
        Err(WriteError::Http {
            url: url.clone(),
            status: status.as_u16(),
            body: text,
            headers: Box::default(),
        })
    }

    /// Post one batch of newline-terminated lines. With
    /// `influx.create_database = true`, a 404 "database not found" (the
    /// database was dropped under a running gateway) re-creates the database
    /// and posts the batch once more, so writes resume by themselves.
    pub async fn write(&self, lines: &[u8], health: &WriteHealth) -> Result<(), WriteError> {
        let result = self.post(lines).await;
        let missing = matches!(&result, Err(WriteError::Http { status: 404, body, .. })
            if body.contains("database not found"));
        if !missing || self.create.is_none() {
            return result;
        }
        match self.create_database().await {
            Ok(()) => {
                health.database_created();
                tracing::warn!(
                    url = %self.url,
                    "the database was missing and has been re-created (influx.create_database = true)"
                );
                self.post(lines).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "the database is missing and re-creating it failed");
                Err(e)
            }
        }
    }

    async fn post(&self, lines: &[u8]) -> Result<(), WriteError> {
        let mut req = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8");
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        let body = if self.gzip {
            let mut enc = GzEncoder::new(Vec::with_capacity(lines.len() / 4 + 64), Compression::fast());
            enc.write_all(lines).map_err(WriteError::Compress)?;
            let compressed = enc.finish().map_err(WriteError::Compress)?;
            req = req.header(CONTENT_ENCODING, "gzip");
            compressed
        } else {
            lines.to_vec()
        };
        let resp = req.body(body).send().await;
        let resp = resp.map_err(|e| WriteError::Transport {
            url: self.url.clone(),
            message: error_chain(&e),
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let headers = Box::new(resp.headers().clone());
        let body = match resp.bytes().await {
            Ok(b) => String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned(),
            Err(e) => format!("(body unreadable: {e})"),
        };
        Err(WriteError::Http {
            url: self.url.clone(),
            status: status.as_u16(),
            body,
            headers,
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_matches_rfc7617_example() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("a", "b"), "Basic YTpi");
    }

    #[test]
    fn urls_per_api_version() {
        let mut cfg = InfluxConfig {
            url: "http://h:1/".into(),
            database: "tele gate".into(),
            ..Default::default()
        };
        assert_eq!(
            HttpWriter::new(&cfg).unwrap().url(),
            "http://h:1/write?precision=ns&db=tele%20gate"
        );
        cfg.api = ApiVersion::V2;
        cfg.org = "lai-chau".into();
        cfg.bucket = "b/1".into();
        assert_eq!(
            HttpWriter::new(&cfg).unwrap().url(),
            "http://h:1/api/v2/write?precision=ns&org=lai-chau&bucket=b%2F1"
        );
    }
}
