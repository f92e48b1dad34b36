//! The writer against a fault-injecting HTTP server (no real server answers
//! 429 + Retry-After or a per-line 400 on demand): it waits as told, retries
//! what can succeed, isolates refused lines, and loses nothing.

use std::sync::Arc;
use std::time::Duration;

use telegate_e2e::fault_server::{Answer, FaultServer, Script};
use telegate_influx::{ApiVersion, Batcher, InfluxClient, InfluxConfig, WriteItem, WriterStats};
use telegate_lp::encode_points;
use telegate_model::{FieldValue, Point};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn point(measurement: &str, seq: i64, value: FieldValue) -> Point {
    Point {
        measurement: measurement.into(),
        tags: vec![("device_id".into(), "d-1".into())],
        fields: vec![("seq".into(), FieldValue::Int(seq)), ("v".into(), value)],
        time_ns: 1_764_383_400_000_000_000 + seq,
    }
}

struct Harness {
    tx: mpsc::Sender<WriteItem<u64>>,
    done: mpsc::Receiver<u64>,
    refused: mpsc::Receiver<telegate_influx::RefusedLines<u64>>,
    stats: Arc<WriterStats>,
}

fn start(url: &str) -> Harness {
    let cfg = InfluxConfig {
        url: url.into(),
        api: ApiVersion::V2,
        bucket: "b".into(),
        org: "o".into(),
        token: "t".into(),
        batch_size: 1000,
        linger: Duration::from_millis(50),
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        ..Default::default()
    };
    let stats = Arc::new(WriterStats::default());
    let (tx, rx) = mpsc::channel(4096);
    let (done_tx, done) = mpsc::channel(4096);
    let (refused_tx, refused) = mpsc::channel(4096);
    let batcher = Batcher::new(
        &cfg,
        InfluxClient::new(&cfg).unwrap(),
        stats.clone(),
        done_tx,
        refused_tx,
        CancellationToken::new(),
    );
    tokio::spawn(batcher.run(rx));
    Harness {
        tx,
        done,
        refused,
        stats,
    }
}

async fn collect(rx: &mut mpsc::Receiver<u64>, n: usize) -> Vec<u64> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(t)) => out.push(t),
            _ => break,
        }
    }
    out.sort_unstable();
    out
}

#[tokio::test]
async fn honours_retry_after_then_retries_503_and_loses_nothing() {
    let script: Script = Arc::new(|n, _| match n {
        0 => Answer::new(429, "slow down").header("retry-after", "2"),
        1 => Answer::new(503, "unavailable"),
        _ => Answer::new(204, ""),
    });
    let server = FaultServer::start(script).await.unwrap();
    let mut h = start(&server.url());
    const N: i64 = 500;
    for seq in 0..N {
        h.tx.send(WriteItem {
            lines: encode_points(&[point("m", seq, FieldValue::Float(seq as f64))]).unwrap(),
            token: seq as u64,
        })
        .await
        .unwrap();
    }
    let done = collect(&mut h.done, N as usize).await;
    assert_eq!(
        done,
        (0..N as u64).collect::<Vec<_>>(),
        "every message completed exactly once"
    );

    let requests = server.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(&statuses[..3], [429, 503, 204]);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "Retry-After: 2 honoured, waited {waited:?}"
    );
    // Every line reached the server in an accepted request, none twice.
    let mut stored: Vec<i64> = server
        .stored_lines()
        .iter()
        .map(|l| {
            l.split("seq=")
                .nth(1)
                .unwrap()
                .split('i')
                .next()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, (0..N).collect::<Vec<_>>());
    assert_eq!(h.stats.retries.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_refused_line_is_isolated_and_every_other_line_stored() {
    // Like InfluxDB: a batch holding the bad line is refused with a 400 naming it.
    let script: Script = Arc::new(|_, body| {
        if body.contains("v=\"boom\"") {
            Answer::new(
                400,
                r#"{"error":"partial write: field type conflict: input field \"v\" on measurement \"m\" is type string, already exists as type float dropped=1"}"#,
            )
        } else {
            Answer::new(204, "")
        }
    });
    let server = FaultServer::start(script).await.unwrap();
    let mut h = start(&server.url());
    const N: i64 = 300;
    for seq in 0..N {
        let value = if seq == 137 {
            FieldValue::Str("boom".into())
        } else {
            FieldValue::Float(1.5)
        };
        // Message 137 has two samples: only its bad line is refused, both are dead-lettered with it.
        let mut points = vec![point("m", seq, value)];
        if seq == 137 {
            points.push(point("m", 10_000, FieldValue::Str("boom".into())));
        }
        h.tx.send(WriteItem {
            lines: encode_points(&points).unwrap(),
            token: seq as u64,
        })
        .await
        .unwrap();
    }
    let done = collect(&mut h.done, N as usize - 1).await;
    assert_eq!(done, (0..N as u64).filter(|&s| s != 137).collect::<Vec<_>>());
    let refused = tokio::time::timeout(Duration::from_secs(5), h.refused.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refused.token, 137);
    let lines = String::from_utf8(refused.lines).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.lines().all(|l| l.contains("v=\"boom\"")), "{lines}");
    assert!(refused.error.contains("field type conflict"), "{}", refused.error);
    assert!(h.refused.try_recv().is_err(), "only message 137 is refused");

    let mut stored = server.stored_lines();
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), N as usize - 1, "every good line stored");
    assert_eq!(h.stats.points_refused.load(std::sync::atomic::Ordering::Relaxed), 2);
}
