//! MQTT 5 test clients: a QoS 1 publisher that waits for PUBACKs, and a
//! subscriber that collects messages with their user properties.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// Publishes with QoS 1 and counts the broker's PUBACKs.
#[derive(Debug)]
pub struct Publisher {
    client: AsyncClient,
    acked: Arc<AtomicU64>,
    sent: u64,
    task: JoinHandle<()>,
}

/// A persistent session, like a field device's: unacknowledged publishes are
/// resent after a reconnect, even to a restarted broker.
fn options(id: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(10))
        .set_max_packet_size(Some(4 * 1024 * 1024))
        .set_clean_start(false)
        .set_session_expiry_interval(Some(3600));
    o
}

impl Publisher {
    pub async fn connect(id: &str, port: u16) -> anyhow::Result<Self> {
        let (client, mut eventloop) = AsyncClient::new(options(id, port), 1024);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = acked.clone();
        let (ready_tx, mut ready_rx) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
            .await
            .context("publisher did not connect")?;
        Ok(Self {
            client,
            acked,
            sent: 0,
            task,
        })
    }

    pub async fn publish(&mut self, topic: &str, payload: impl Into<Bytes>) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await?;
        self.sent += 1;
        Ok(())
    }

    /// Wait until the broker acknowledged everything published so far.
    pub async fn flush(&self) -> anyhow::Result<()> {
        for _ in 0..1200 {
            if self.acked.load(SeqCst) >= self.sent {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "broker acknowledged {} of {} publishes",
            self.acked.load(SeqCst),
            self.sent
        )
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Bytes,
    pub properties: HashMap<String, String>,
    /// When the subscriber's event loop handed it over (latency measurements).
    pub at: std::time::Instant,
}

/// Subscribes to a filter and keeps everything it receives.
#[derive(Debug)]
pub struct Subscriber {
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Subscriber {
    pub async fn connect(id: &str, port: u16, filter: &str) -> anyhow::Result<Self> {
        let (client, mut eventloop) = AsyncClient::new(options(id, port), 64);
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let (ready_tx, mut ready_rx) = mpsc::channel(1);
        let filter = filter.to_owned();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let properties = p
                            .properties
                            .map(|pr| pr.user_properties.into_iter().collect())
                            .unwrap_or_default();
                        sink.lock().await.push(Received {
                            topic: String::from_utf8_lossy(&p.topic).into_owned(),
                            payload: p.payload,
                            properties,
                            at: std::time::Instant::now(),
                        });
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
            .await
            .context("subscriber did not get its SUBACK")?;
        Ok(Self { received, task })
    }

    pub async fn messages(&self) -> Vec<Received> {
        self.received.lock().await.clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
