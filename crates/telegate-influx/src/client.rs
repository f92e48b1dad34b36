use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::GzEncoder;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use telegate_model::ErrorChain;

use crate::config::{ApiVersion, InfluxConfig};
use crate::error::WriteError;
use crate::health::WriteHealth;

/// Posts line-protocol batches to one InfluxDB endpoint.
#[derive(Debug, Clone)]
pub struct InfluxClient {
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

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`)
/// is percent-encoded in a query parameter value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encode a query parameter value onto `out`.
fn encode_param(out: &mut String, s: &str) {
    out.extend(utf8_percent_encode(s, QUERY_VALUE));
}

/// RFC 7617 Basic credentials: `Basic base64(user:password)`.
fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

impl InfluxClient {
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
                let mut v = HeaderValue::from_str(&a).map_err(|_| WriteError::Credentials { url: url.clone() })?;
                v.set_sensitive(true);
                Ok(v)
            })
            .transpose()?;
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(5)));
        if !cfg.ca_file.is_empty() {
            let pem = std::fs::read(&cfg.ca_file).map_err(|source| WriteError::ReadCaFile {
                path: cfg.ca_file.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| WriteError::BadCaFile {
                path: cfg.ca_file.clone(),
                source,
            })?;
            if certs.is_empty() {
                return Err(WriteError::EmptyCaFile {
                    path: cfg.ca_file.clone(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|source| WriteError::Client {
            url: url.clone(),
            source,
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
            .map_err(|source| WriteError::Transport {
                url: self.ping.clone(),
                source,
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
        let resp = req.send().await.map_err(|source| WriteError::Transport {
            url: url.clone(),
            source,
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
                tracing::warn!(error = %ErrorChain(&e), "the database is missing and re-creating it failed");
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
        let resp = resp.map_err(|source| WriteError::Transport {
            url: self.url.clone(),
            source,
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
            InfluxClient::new(&cfg).unwrap().url(),
            "http://h:1/write?precision=ns&db=tele%20gate"
        );
        cfg.api = ApiVersion::V2;
        cfg.org = "lai-chau".into();
        cfg.bucket = "b/1".into();
        assert_eq!(
            InfluxClient::new(&cfg).unwrap().url(),
            "http://h:1/api/v2/write?precision=ns&org=lai-chau&bucket=b%2F1"
        );
    }
}
