//! Publishing to a real Mosquitto (skipped when it is not installed).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::{AsyncClient, Event, MqttOptions};
use tokio_util::sync::CancellationToken;

use super::{BUILTIN, config};
use crate::{Fleet, FleetConfig, Limit, PublishTarget, SimError, publish};

/// A broker on a free loopback port, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn broker() -> Option<Broker> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n"
        ),
    )
    .unwrap();
    let child = match Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mosquitto not available ({e}); skipping");
            return None;
        }
    };
    let broker = Broker { child, port, _dir: dir };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(broker);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mosquitto did not start on port {port}");
}

fn target(port: u16) -> PublishTarget {
    PublishTarget {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
    }
}

/// Counts what arrives on `telemetry/#`.
async fn subscriber(port: u16) -> (Arc<AtomicU64>, CancellationToken) {
    let mut opts = MqttOptions::new("sim-test-sub", "127.0.0.1", port);
    opts.set_max_packet_size(Some(4 * 1024 * 1024));
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    client.subscribe("telemetry/#", QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.unwrap() {
            break;
        }
    }
    let stop = CancellationToken::new();
    let done = stop.clone();
    let count = Arc::new(AtomicU64::new(0));
    let n = count.clone();
    tokio::spawn(async move {
        let _client = client;
        loop {
            tokio::select! {
                () = done.cancelled() => return,
                ev = eventloop.poll() => if let Ok(Event::Incoming(Packet::Publish(_))) = ev {
                    n.fetch_add(1, Ordering::Relaxed);
                },
            }
        }
    });
    (count, stop)
}

#[tokio::test]
async fn publishes_paced_messages_and_counts_pubacks() {
    let Some(broker) = broker().await else { return };
    let (received, stop) = subscriber(broker.port).await;
    let cfg = FleetConfig {
        rate: 200.0,
        ..config(16, 0.1)
    };
    let fleet = Fleet::new(&BUILTIN, cfg).unwrap();
    let mut calls = 0;
    let limit = Limit {
        duration: None,
        messages: Some(120),
    };
    let report = publish(fleet, target(broker.port), limit, CancellationToken::new(), |_| {
        calls += 1
    })
    .await
    .unwrap();
    assert_eq!(report.sent, 120);
    assert_eq!(report.acked, 120);
    assert_eq!(report.unrouted, 0, "a subscriber was listening");
    assert_eq!(report.good + report.bad_by_class.values().sum::<u64>(), 120);
    assert_eq!(report.bad_by_class.values().sum::<u64>(), 12);
    assert!(
        report.bad_by_class.contains_key("oversized"),
        "{:?}",
        report.bad_by_class
    );
    assert!(report.samples >= report.good);
    assert!(
        report.elapsed >= Duration::from_millis(590),
        "paced at 200/s: {:?}",
        report.elapsed
    );
    assert!(calls >= 1);
    for _ in 0..100 {
        if received.load(Ordering::Relaxed) >= 120 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    assert_eq!(
        received.load(Ordering::Relaxed),
        120,
        "the broker delivered every message"
    );
}

#[tokio::test]
async fn a_duration_limit_and_cancel_stop_a_run() {
    let Some(broker) = broker().await else { return };
    let cfg = FleetConfig {
        rate: 100.0,
        ..config(8, 0.0)
    };
    let limit = Limit {
        duration: Some(Duration::from_millis(300)),
        messages: None,
    };
    let fleet = Fleet::new(&BUILTIN, cfg.clone()).unwrap();
    let report = publish(fleet, target(broker.port), limit, CancellationToken::new(), |_| {})
        .await
        .unwrap();
    // 30 when on time; fewer only if this box is too busy to keep the pace.
    assert!((10..=30).contains(&report.sent), "{} in 300 ms at 100/s", report.sent);
    assert_eq!(report.acked, report.sent);
    // Nobody subscribed: the broker says so in each PUBACK, and it is counted.
    assert_eq!(report.unrouted, report.sent);

    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let fleet = Fleet::new(&BUILTIN, FleetConfig { rate: 5.0, ..cfg }).unwrap();
    let report = publish(fleet, target(broker.port), Limit::default(), cancel, |_| {})
        .await
        .unwrap();
    assert!(report.sent <= 3, "at 5/s, cancelled after 300 ms: {}", report.sent);
}

#[tokio::test]
async fn an_unreachable_broker_is_a_connect_error() {
    let fleet = Fleet::new(&BUILTIN, config(2, 0.0)).unwrap();
    let err = publish(
        fleet,
        target(free_port()),
        Limit::default(),
        CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SimError::Connect { .. }), "{err}");
}

/// The CLI spawns the publisher on a multi-threaded runtime.
#[test]
fn the_publisher_future_is_send() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let fleet = Fleet::new(&BUILTIN, config(2, 0.0)).unwrap();
    let run = publish(fleet, target(1), Limit::default(), CancellationToken::new(), |_| {});
    assert_send(&run);
}
