//! Test support for telegate's end-to-end tests: real servers started on
//! free loopback ports ([`servers`]), MQTT test clients ([`client`]), payloads
//! built from the schemas ([`payloads`]) and the gateway run in-process
//! ([`gateway`]).

pub mod client;
pub mod gateway;
pub mod payloads;
pub mod servers;

use std::time::{Duration, Instant};

/// Poll `f` every 100 ms until it yields `Some`, or fail after `timeout`
/// with the last error.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => last = "condition never held".into(),
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() >= deadline {
            anyhow::bail!("not reached within {timeout:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
