//! The demo's embedded MQTT 5 broker (rumqttd, behind the
//! `embedded-broker` feature), so `telegate demo` needs no broker installed.
//! It listens on loopback only and keeps nothing on disk: it is a demo
//! broker, not a production one (use Mosquitto, EMQX or HiveMQ there).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error("no free loopback port for the embedded broker")]
    NoPort(#[source] std::io::Error),
    #[error("port {port} on 127.0.0.1 is taken; pick another with --port, or 0 for a free one")]
    PortTaken { port: u16 },
    /// The settings this module writes do not parse (a bug, not the user's).
    #[error("embedded broker config")]
    Config(#[source] toml::de::Error),
    #[error("starting the embedded broker thread")]
    Thread(#[source] std::io::Error),
    #[error("the embedded broker did not accept connections on {addr} within {secs} s")]
    NotReady { addr: SocketAddr, secs: u64 },
    #[error("this telegate was built without the `embedded-broker` feature; rebuild with `--features embedded-broker`")]
    Disabled,
}

/// A running embedded broker. It lives until the process exits (rumqttd has
/// no shutdown call); the demo is its only user.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
}

fn free_port() -> Result<u16, BrokerError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(BrokerError::NoPort)?;
    l.local_addr().map(|a| a.port()).map_err(BrokerError::NoPort)
}

/// rumqttd's settings: one MQTT 5 listener on loopback, payloads up to 2 MiB
/// (the gateway's own limit decides what is too large, and dead-letters it).
#[cfg(feature = "embedded-broker")]
fn rumqttd_config(addr: SocketAddr) -> Result<rumqttd::Config, BrokerError> {
    let text = format!(
        r#"
id = 0
[router]
max_connections = 1000
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10

[v5.1]
name = "telegate-demo-v5"
listen = "{addr}"
next_connection_delay_ms = 1
[v5.1.connections]
connection_timeout_ms = 60000
max_payload_size = 2097152
max_inflight_count = 1000
dynamic_filters = true
"#
    );
    toml::from_str(&text).map_err(BrokerError::Config)
}

/// Start the broker on `port` (0: a free one) and wait until it accepts
/// connections.
pub fn start(port: u16) -> Result<EmbeddedBroker, BrokerError> {
    let port = if port == 0 { free_port()? } else { port };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        return Err(BrokerError::PortTaken { port });
    }
    spawn(addr)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(EmbeddedBroker { addr });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(BrokerError::NotReady { addr, secs: 10 })
}

#[cfg(feature = "embedded-broker")]
fn spawn(addr: SocketAddr) -> Result<(), BrokerError> {
    let config = rumqttd_config(addr)?;
    std::thread::Builder::new()
        .name("embedded-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %telegate_model::ErrorChain(&e), "embedded broker stopped");
            }
        })
        .map_err(BrokerError::Thread)?;
    Ok(())
}

#[cfg(not(feature = "embedded-broker"))]
fn spawn(_addr: SocketAddr) -> Result<(), BrokerError> {
    Err(BrokerError::Disabled)
}
