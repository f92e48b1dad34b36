//! A hostile device: an MQTT 5 publisher that sends exactly the topic bytes
//! it is given (invalid UTF-8, NUL, non-characters, wildcards…), one QoS 1
//! message at a time, and never resends one. A broker that drops the
//! connection over a message gets a fresh connection (clean start) for the
//! next one, so a refused message cannot start a resend loop.

use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// What the broker did with one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawOutcome {
    /// PUBACK with this reason code (0 = success, 0x10 = no subscribers,
    /// ≥ 0x80 = refused).
    Acked(u8),
    /// The broker closed the connection (or sent DISCONNECT) instead.
    Disconnected,
}

/// See the module docs.
#[derive(Debug)]
pub struct RawPublisher {
    id: String,
    port: u16,
    stream: Option<TcpStream>,
    next_pkid: u16,
    /// Connections made, including the first.
    pub connects: u64,
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    varint(body.len(), &mut p);
    p.extend_from_slice(body);
    p
}

/// Read one packet: (first byte, body); `None` on EOF or timeout.
async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let read = async {
        let first = s.read_u8().await.ok()?;
        let mut len = 0usize;
        let mut mul = 1usize;
        for _ in 0..4 {
            let b = s.read_u8().await.ok()?;
            len += usize::from(b & 0x7f) * mul;
            mul *= 128;
            if b & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.ok()?;
        Some((first, body))
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok().flatten()
}

impl RawPublisher {
    pub async fn connect(id: &str, port: u16) -> anyhow::Result<Self> {
        let mut p = Self {
            id: id.to_owned(),
            port,
            stream: None,
            next_pkid: 0,
            connects: 0,
        };
        p.reconnect().await?;
        Ok(p)
    }

    async fn reconnect(&mut self) -> anyhow::Result<()> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .context("raw publisher: connect")?;
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, 0];
        body.extend_from_slice(&u16::try_from(self.id.len())?.to_be_bytes());
        body.extend_from_slice(self.id.as_bytes());
        s.write_all(&packet(0x10, &body)).await?;
        match read_packet(&mut s).await {
            Some((0x20, b)) if b.get(1) == Some(&0) => {}
            other => bail!("raw publisher: no CONNACK success: {other:?}"),
        }
        self.stream = Some(s);
        self.connects += 1;
        Ok(())
    }

    /// Publish `topic` (any bytes, at most 65,535) and `payload` with QoS 1
    /// and wait for the broker's answer.
    pub async fn publish(&mut self, topic: &[u8], payload: &[u8]) -> anyhow::Result<RawOutcome> {
        if self.stream.is_none() {
            self.reconnect().await?;
        }
        self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
        let pkid = self.next_pkid;
        let mut body = Vec::with_capacity(topic.len() + payload.len() + 8);
        body.extend_from_slice(&u16::try_from(topic.len())?.to_be_bytes());
        body.extend_from_slice(topic);
        body.extend_from_slice(&pkid.to_be_bytes());
        body.push(0); // no properties
        body.extend_from_slice(payload);
        let Some(s) = self.stream.as_mut() else {
            bail!("raw publisher: not connected")
        };
        if s.write_all(&packet(0x32, &body)).await.is_err() {
            self.stream = None;
            return Ok(RawOutcome::Disconnected);
        }
        loop {
            match read_packet(s).await {
                Some((0x40, b)) if b.get(..2) == Some(&pkid.to_be_bytes()[..]) => {
                    return Ok(RawOutcome::Acked(b.get(2).copied().unwrap_or(0)));
                }
                Some((0xE0, _)) | None => {
                    self.stream = None;
                    return Ok(RawOutcome::Disconnected);
                }
                Some(_) => {}
            }
        }
    }
}
