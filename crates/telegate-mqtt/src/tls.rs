//! The rustls client configuration for `[mqtt.tls]`: the broker's
//! certificate is always verified (against `ca_file` or the system's trust
//! store), and a client certificate is presented when one is configured.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::config::MqttTlsConfig;
use crate::error::TlsError;

/// Build the client configuration. Errors name the file and the key.
pub fn client_config(cfg: &MqttTlsConfig) -> Result<Arc<ClientConfig>, TlsError> {
    // ring, as for the InfluxDB client; a no-op when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = RootCertStore::empty();
    if cfg.ca_file.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // Skip the odd malformed system certificate rather than fail.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(TlsError::NoRoots);
        }
    } else {
        let certs = read_certs("mqtt.tls.ca_file", &cfg.ca_file)?;
        for cert in certs {
            roots.add(cert).map_err(|source| TlsError::BadCa {
                file: cfg.ca_file.clone(),
                source,
            })?;
        }
    }
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let config = match (cfg.cert_file.is_empty(), cfg.key_file.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, false) => {
            let chain = read_certs("mqtt.tls.cert_file", &cfg.cert_file)?;
            let key = PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|source| TlsError::Pem {
                key: "mqtt.tls.key_file",
                file: cfg.key_file.clone(),
                source,
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| TlsError::ClientCert {
                    cert_file: cfg.cert_file.clone(),
                    key_file: cfg.key_file.clone(),
                    source,
                })?
        }
        _ => return Err(TlsError::HalfClientAuth),
    };
    Ok(Arc::new(config))
}

fn read_certs(key: &'static str, file: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            key,
            file: file.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            key,
            file: file.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key_and_file() {
        let cfg = MqttTlsConfig {
            enabled: true,
            ca_file: "/nonexistent/ca.pem".into(),
            ..Default::default()
        };
        let e = client_config(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("mqtt.tls.ca_file") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );

        let dir = std::env::temp_dir().join(format!("telegate-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let cfg = MqttTlsConfig {
            enabled: true,
            ca_file: garbage.display().to_string(),
            ..Default::default()
        };
        let e = client_config(&cfg).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");

        let cfg = MqttTlsConfig {
            enabled: true,
            cert_file: "client.pem".into(),
            ..Default::default()
        };
        let e = client_config(&cfg).unwrap_err().to_string();
        assert!(e.contains("mqtt.tls.key_file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
