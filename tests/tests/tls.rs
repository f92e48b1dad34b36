//! TLS end to end: the gateway subscribes over mutual TLS to a Mosquitto
//! listener that requires a client certificate, and writes to an HTTPS-only
//! InfluxDB whose certificate a private CA signed. Certificates are made in
//! the test (rcgen). A wrong CA or a missing client certificate never
//! connects: verification is real.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use telegate_e2e::client::Publisher;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::now_ms_ns;
use telegate_e2e::pki::Pki;
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::stream::{TOPIC, assert_stored_exactly, reading};
use telegate_mqtt::MqttTlsConfig;

fn tls(pki: &Pki, ca: &std::path::Path, client_cert: bool) -> MqttTlsConfig {
    MqttTlsConfig {
        enabled: true,
        ca_file: ca.display().to_string(),
        cert_file: if client_cert {
            pki.client_cert.display().to_string()
        } else {
            String::new()
        },
        key_file: if client_cert {
            pki.client_key.display().to_string()
        } else {
            String::new()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_to_the_broker_and_https_to_influxdb_with_a_private_ca() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(dir.path())?;
    let broker = Mosquitto::start_tls(&pki).await?;
    let influx = Influxd::start_https(&pki).await?;
    assert!(influx.url().starts_with("https://"));
    let tls_port = broker.tls_port().expect("TLS listener");

    let mut config = test_config("gw-mtls", tls_port, &influx.url());
    config.mqtt.tls = tls(&pki, &pki.ca, true);
    config.influx.ca_file = pki.ca.display().to_string();
    let gw = Gateway::start(config).await?;
    gw.connected().await?;

    // Devices publish on the plain listener of the same broker.
    let registry = telegate_schema::Registry::builtin(&Default::default())?;
    let t0 = now_ms_ns() - 10_000_000_000;
    let mut publisher = Publisher::connect("tls-fleet", broker.port()).await?;
    const N: u64 = 200;
    for i in 0..N {
        publisher.publish(TOPIC, reading(&registry, t0, i)).await?;
    }
    publisher.flush().await?;
    assert_stored_exactly(&influx, N, Duration::from_secs(20)).await?;
    let summary = gw.stop().await;
    assert_eq!(summary.received, N);
    assert_eq!(summary.points_written, N);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_or_no_client_certificate_never_connects_and_an_unknown_https_ca_never_writes() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(dir.path())?;
    let broker = Mosquitto::start_tls(&pki).await?;
    let influx = Influxd::start_https(&pki).await?;
    let tls_port = broker.tls_port().expect("TLS listener");

    // The broker's certificate is checked against the configured CA.
    let mut wrong_ca = test_config("gw-wrong-ca", tls_port, &influx.url());
    wrong_ca.mqtt.tls = tls(&pki, &pki.other_ca, true);
    wrong_ca.mqtt.reconnect_max = Duration::from_millis(500);
    // The broker requires a client certificate.
    let mut no_cert = test_config("gw-no-cert", tls_port, &influx.url());
    no_cert.mqtt.tls = tls(&pki, &pki.ca, false);
    no_cert.mqtt.reconnect_max = Duration::from_millis(500);
    for config in [wrong_ca, no_cert] {
        let id = config.mqtt.client_id.clone();
        let gw = Gateway::start(config).await?;
        let stats = gw.stats.source.clone();
        eventually(Duration::from_secs(10), || async {
            Ok((stats.connection_errors.load(Relaxed) >= 2).then_some(()))
        })
        .await?;
        assert!(!stats.connected.load(Relaxed), "{id} connected");
        assert_eq!(stats.connects.load(Relaxed), 0, "{id} connected");
        gw.stop().await;
    }

    // HTTPS to InfluxDB without our CA: the server is not trusted, nothing
    // is written, and the batch is retried (not dropped).
    let mut untrusted = test_config("gw-untrusted-db", broker.port(), &influx.url());
    untrusted.influx.retry_max = Duration::from_millis(200);
    let gw = Gateway::start(untrusted).await?;
    gw.connected().await?;
    let registry = telegate_schema::Registry::builtin(&Default::default())?;
    let mut publisher = Publisher::connect("tls-fleet-2", broker.port()).await?;
    publisher.publish(TOPIC, reading(&registry, now_ms_ns(), 0)).await?;
    publisher.flush().await?;
    let writer = gw.stats.writer.clone();
    eventually(Duration::from_secs(10), || async {
        Ok((writer.retries.load(Relaxed) >= 2).then_some(()))
    })
    .await?;
    assert_eq!(writer.points_written.load(Relaxed), 0);
    assert_eq!(influx.count("telegate", "river_level", "seq").await.unwrap_or(0), 0);
    gw.stop().await;
    Ok(())
}
