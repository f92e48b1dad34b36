//! Certificates generated inside the test (rcgen): a CA, a server
//! certificate for 127.0.0.1/localhost and a client certificate signed by
//! it, and a second, unrelated CA to prove that verification happens.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// PEM files in a directory.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here: trusting only it must fail.
    pub other_ca: PathBuf,
}

fn ca(name: &str) -> anyhow::Result<(Certificate, KeyPair)> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate()?;
    Ok((params.self_signed(&key)?, key))
}

fn leaf(
    name: &str,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    ca: &Certificate,
    ca_key: &KeyPair,
) -> anyhow::Result<(Certificate, KeyPair)> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.subject_alt_names = sans;
    params.distinguished_name.push(DnType::CommonName, name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    Ok((params.signed_by(&key, ca, ca_key)?, key))
}

impl Pki {
    pub fn generate(dir: &Path) -> anyhow::Result<Self> {
        let (ca_cert, ca_key) = ca("telegate test CA")?;
        let (other, _) = ca("someone else's CA")?;
        let (server, server_key) = leaf(
            "127.0.0.1",
            vec![
                SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
                SanType::DnsName("localhost".try_into()?),
            ],
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca_cert,
            &ca_key,
        )?;
        let (client, client_key) = leaf(
            "telegate-gateway",
            vec![],
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca_cert,
            &ca_key,
        )?;
        let write = |name: &str, pem: String| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        };
        Ok(Self {
            ca: write("ca.pem", ca_cert.pem())?,
            server_cert: write("server.pem", server.pem())?,
            server_key: write("server.key", server_key.serialize_pem())?,
            client_cert: write("client.pem", client.pem())?,
            client_key: write("client.key", client_key.serialize_pem())?,
            other_ca: write("other-ca.pem", other.pem())?,
        })
    }
}
