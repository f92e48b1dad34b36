//! Client certificates for devices, signed by a provisioning CA kept beside
//! the inventory, and the CA's revocation list (Mosquitto `crlfile`). A
//! device certificate's common name is the device id: with
//! `use_identity_as_username true` on the broker's TLS listener it becomes
//! the user name the ACL is written for.

use std::path::Path;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber, date_time_ymd,
};

use crate::error::DeviceError;

const CA_NAME: &str = "telegate device provisioning CA";

/// The provisioning CA: its certificate (for signing: name and key id) and key.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("name", &CA_NAME).finish_non_exhaustive()
    }
}

/// A certificate issued to a device: PEM texts and the serial (hex).
#[derive(Debug)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub serial: String,
}

fn cert_error(subject: &str, source: rcgen::Error) -> DeviceError {
    DeviceError::Certificate {
        subject: subject.into(),
        source,
    }
}

fn ca_params() -> Result<CertificateParams, DeviceError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| cert_error(CA_NAME, e))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2026, 1, 1);
    params.not_after = date_time_ymd(2046, 1, 1);
    Ok(params)
}

/// Today as (year, month, day), UTC, from the system clock.
fn today() -> (i32, u8, u8) {
    let (y, m, d) = telegate_model::civil_from_days(telegate_model::now_ns().div_euclid(86_400_000_000_000));
    // A year of the next few centuries, a month and a day: all fit.
    (y as i32, m as u8, d as u8)
}

impl Ca {
    /// Load the CA from its files, or create it (key 0600) if neither exists.
    pub fn open_or_create(cert_path: &Path, key_path: &Path) -> Result<Self, DeviceError> {
        if key_path.exists() {
            let pem = std::fs::read_to_string(key_path).map_err(|source| DeviceError::Read {
                path: key_path.to_owned(),
                source,
            })?;
            let key = KeyPair::from_pem(&pem).map_err(|e| cert_error(CA_NAME, e))?;
            // Same name and key as the certificate on disk: what signing needs
            // (issuer name, authority key id); the file itself is not rewritten.
            let cert = ca_params()?.self_signed(&key).map_err(|e| cert_error(CA_NAME, e))?;
            return Ok(Self { cert, key });
        }
        let key = KeyPair::generate().map_err(|e| cert_error(CA_NAME, e))?;
        let cert = ca_params()?.self_signed(&key).map_err(|e| cert_error(CA_NAME, e))?;
        crate::broker_files::write_atomically(key_path, key.serialize_pem().as_bytes(), 0o600)?;
        crate::broker_files::write_atomically(cert_path, cert.pem().as_bytes(), 0o644)?;
        Ok(Self { cert, key })
    }

    /// A client certificate for `device_id`, valid for ten years.
    pub fn issue(&self, device_id: &str) -> Result<Issued, DeviceError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| cert_error(device_id, e))?;
        params.distinguished_name.push(DnType::CommonName, device_id);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let (y, m, d) = today();
        params.not_before = date_time_ymd(y, m, d);
        params.not_after = date_time_ymd(y + 10, m, d.min(28));
        let mut serial: [u8; 16] = crate::password::random_bytes()?;
        serial[0] &= 0x7f; // a positive integer
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let key = KeyPair::generate().map_err(|e| cert_error(device_id, e))?;
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(|e| cert_error(device_id, e))?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial: serial.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// The revocation list naming `serials` (hex), valid for a year.
    pub fn crl(&self, serials: &[&str]) -> Result<String, DeviceError> {
        let (y, m, d) = today();
        let mut revoked = Vec::new();
        for s in serials {
            let bytes = (0..s.len())
                .step_by(2)
                .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| DeviceError::BadSerial {
                    subject: CA_NAME.into(),
                    serial: s.to_string(),
                })?;
            revoked.push(RevokedCertParams {
                serial_number: SerialNumber::from(bytes),
                revocation_time: date_time_ymd(y, m, d),
                reason_code: Some(RevocationReason::CessationOfOperation),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: date_time_ymd(y, m, d),
            next_update: date_time_ymd(y + 1, m, d.min(28)),
            crl_number: SerialNumber::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |t| t.as_secs()),
            ),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.cert, &self.key)
            .and_then(|crl| crl.pem())
            .map_err(|e| cert_error(CA_NAME, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_a_real_date() {
        let (y, m, d) = today();
        assert!(y >= 2026 && (1..=12).contains(&m) && (1..=31).contains(&d));
    }

    #[test]
    fn a_reopened_ca_signs_for_the_same_name_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
        let ca = Ca::open_or_create(&cert, &key).unwrap();
        let first = std::fs::read_to_string(&cert).unwrap();
        let issued = ca.issue("rl-1").unwrap();
        assert_eq!(issued.serial.len(), 32);
        assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = Ca::open_or_create(&cert, &key).unwrap();
        assert_eq!(std::fs::read_to_string(&cert).unwrap(), first, "the CA file is kept");
        assert_eq!(again.key.public_key_raw(), ca.key.public_key_raw());
        let crl = again.crl(&[&issued.serial]).unwrap();
        assert!(crl.starts_with("-----BEGIN X509 CRL-----"), "{crl}");
    }
}
