//! Hostile input against real Mosquitto (issue 13): 5,000 seeded messages
//! with random bytes and random Unicode (every plane, controls, NUL,
//! non-characters, surrogates encoded as bytes, empty and long strings) in
//! every topic level and in the payload's device id, wire damage, oversized
//! payloads and over-long topics, interleaved with 1,000 good readings.
//!
//! The broker refuses some (illegal topic strings, payloads over its
//! `message_size_limit`) and never routes others (a `/` in a level): those
//! never reach the gateway. For everything that does, counted by the test's
//! own subscriber on the gateway's filter, exactly:
//! `received = accepted + dead-lettered + quarantined`; every good reading is
//! stored; the gateway's source connection never reconnects and its
//! dead-letter connection reconnects at most once per quarantined message.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use telegate_e2e::client::Subscriber;
use telegate_e2e::eventually;
use telegate_e2e::gateway::{Gateway, test_config};
use telegate_e2e::payloads::{batch, valid_sample};
use telegate_e2e::raw_mqtt::{RawOutcome, RawPublisher};
use telegate_e2e::servers::{Influxd, Mosquitto};
use telegate_e2e::stream::reading;

const HOSTILE: usize = 5_000;
const GOOD_EVERY: usize = 5;
/// The gateway's payload limit, and the broker's (above it: refused there).
const GATEWAY_LIMIT: usize = 4096;
const BROKER_LIMIT: usize = 8192;
const SENSOR_TYPES: [&str; 4] = ["river_level", "rain_gauge", "device_health", "no_such_type"];

/// Characters a broker may refuse, and some it must not.
const NASTY: [u32; 16] = [
    0, 1, 0x1F, 0x7F, 0x85, 0x9F, 0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0x1FFFF, 0x10FFFF, 0xFFFD, 0x200B, 0xFEFF, 0xE000,
];

fn random_unicode(rng: &mut fastrand::Rng, max_chars: usize) -> String {
    let n = rng.usize(0..=max_chars);
    (0..n)
        .map(|_| {
            let c = match rng.u8(0..4) {
                0 => NASTY[rng.usize(0..NASTY.len())],
                1 => rng.u32(0x20..0x7F),
                _ => rng.u32(0..=0x10FFFF),
            };
            // Surrogates cannot be a char: those are sent as bytes elsewhere.
            char::from_u32(c).unwrap_or('\u{D7FF}')
        })
        .collect()
}

/// One topic level, of every kind a device might send.
fn random_level(rng: &mut fastrand::Rng) -> Vec<u8> {
    match rng.u8(0..9) {
        0 => (0..rng.usize(0..40)).map(|_| rng.u8(..)).collect(),
        1 | 2 => random_unicode(rng, 12).into_bytes(),
        3 => b"d\xed\xa0\x80x".to_vec(), // an encoded surrogate: not UTF-8
        4 => Vec::new(),
        5 => format!("w{}", rng.u32(0..1000)).into_bytes(),
        6 => [&b"a"[..], [b"+", b"#", b"/", b"\0"][rng.usize(0..4)], b"b"].concat(),
        7 => vec![b'x'; rng.usize(100..22_000)],
        _ => SENSOR_TYPES[rng.usize(0..SENSOR_TYPES.len())].as_bytes().to_vec(),
    }
}

fn random_topic(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut t = b"telemetry/".to_vec();
    if rng.u8(0..10) == 0 {
        // Over-long: right up to the protocol's limit.
        t.extend_from_slice(b"s/");
        t.resize(rng.usize(65_400..=65_535 - 12), b'L');
        t.extend_from_slice(b"/river_level");
        return t;
    }
    // Each level hostile one time in three, so that most topics are ones
    // the broker routes and the gateway has to deal with.
    let level = |rng: &mut fastrand::Rng, plain: Vec<u8>| {
        if rng.u8(0..3) == 0 { random_level(rng) } else { plain }
    };
    let site = level(rng, b"hz".to_vec());
    let plain_device = format!("h{}", rng.u32(0..100)).into_bytes();
    let device = level(rng, plain_device);
    let plain_sensor = SENSOR_TYPES[rng.usize(0..SENSOR_TYPES.len())].as_bytes().to_vec();
    let sensor = level(rng, plain_sensor);
    t.extend_from_slice(&site);
    t.push(b'/');
    t.extend_from_slice(&device);
    t.push(b'/');
    t.extend_from_slice(&sensor);
    t.truncate(65_535);
    t
}

/// The device id level of a topic that has the expected shape.
fn device_of(topic: &[u8]) -> Vec<u8> {
    topic.split(|&b| b == b'/').nth(2).unwrap_or_default().to_vec()
}

fn random_payload(rng: &mut fastrand::Rng, gw: &Gateway, topic: &[u8], now: i64) -> Vec<u8> {
    let river = gw.registry.get("river_level").expect("built in");
    let sample = |i: u64| valid_sample(&river.sample, now - 60_000_000_000 - i as i64 * 1_000_000, i);
    match rng.u8(0..8) {
        0 => (0..rng.usize(0..2000)).map(|_| rng.u8(..)).collect(),
        1 => {
            // A good batch for the topic's device, then damaged on the wire.
            let device = String::from_utf8_lossy(&device_of(topic)).into_owned();
            let mut p = batch(&river.message, &device, vec![sample(1), sample(2)]);
            for _ in 0..rng.usize(1..4) {
                match rng.u8(0..3) {
                    0 if !p.is_empty() => {
                        let i = rng.usize(0..p.len());
                        p[i] ^= 1 << rng.u8(0..8);
                    }
                    1 => p.truncate(rng.usize(0..=p.len())),
                    _ => {
                        let i = rng.usize(0..=p.len());
                        p.insert(i, rng.u8(..));
                    }
                }
            }
            p
        }
        2 => vec![rng.u8(..); rng.usize(GATEWAY_LIMIT + 1..=BROKER_LIMIT)],
        3 => vec![0x0a; rng.usize(BROKER_LIMIT + 1..20_000)],
        4 => batch(&river.message, &random_unicode(rng, 20), vec![sample(1)]),
        5 => {
            // The device id with raw bytes: a surrogate, NUL, U+FFFF.
            let samples = batch(&river.message, "", vec![sample(1)]);
            let device: &[u8] = [&b"d\xed\xa0\x80"[..], b"d\0", b"dev\xef\xbf\xbf", b"\xff"][rng.usize(0..4)];
            [&[0x0a, device.len() as u8][..], device, &samples].concat()
        }
        6 => {
            // Two samples of one series at one time.
            let device = String::from_utf8_lossy(&device_of(topic)).into_owned();
            batch(&river.message, &device, vec![sample(7), sample(7)])
        }
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_single_message_stops_ingestion() -> anyhow::Result<()> {
    let started = Instant::now();
    let broker = Mosquitto::start_with(&format!("message_size_limit {BROKER_LIMIT}\n")).await?;
    let influx = Influxd::start().await?;
    let mut config = test_config("gw-hostile", broker.port(), &influx.url());
    config.limits.max_payload_bytes = GATEWAY_LIMIT;
    let gw = Gateway::start(config.clone()).await?;
    gw.connected().await?;
    let watch = Subscriber::connect("hostile-watch", broker.port(), "telemetry/+/+/+").await?;
    let dlq = Subscriber::connect("hostile-dlq", broker.port(), "telegate/dead-letter/#").await?;
    let mut device = RawPublisher::connect("hostile-device", broker.port()).await?;

    let mut rng = fastrand::Rng::with_seed(13);
    let now = telegate_e2e::now_ms_ns();
    let (mut good, mut acked, mut refused, mut dropped) = (0u64, 0u64, 0u64, 0u64);
    let mut codes = std::collections::BTreeMap::<u8, u64>::new();
    for i in 0..HOSTILE {
        if i % GOOD_EVERY == 0 {
            let payload = reading(&gw.registry, now - 30_000_000_000, good);
            // The broker may close the connection right after answering a
            // refused message: then the good reading goes on a fresh one.
            let mut tries = 0;
            while device.publish(b"telemetry/ok/rl-1/river_level", &payload).await? != RawOutcome::Acked(0) {
                tries += 1;
                assert!(tries < 3, "good reading {good} not accepted");
            }
            good += 1;
        }
        let topic = random_topic(&mut rng);
        let payload = random_payload(&mut rng, &gw, &topic, now);
        let outcome = device.publish(&topic, &payload).await?;
        if let RawOutcome::Acked(code) = outcome {
            *codes.entry(code).or_default() += 1;
        }
        match outcome {
            RawOutcome::Acked(code) if code < 0x80 => acked += 1,
            RawOutcome::Acked(_) => refused += 1,
            RawOutcome::Disconnected => dropped += 1,
        }
    }
    eprintln!(
        "published {HOSTILE} hostile ({acked} acked, {refused} refused with a reason code, {dropped} dropped the device's connection; PUBACK codes {codes:x?}) and {good} good in {:?}",
        started.elapsed()
    );

    // Everything the broker routed to the gateway's filter is finished.
    let summary = eventually(Duration::from_secs(40), || async {
        let s = gw.summary();
        let seen = watch.messages().await.len() as u64;
        let settled = s.points_written + s.points_refused_by_database >= s.accepted_points
            && s.dead_letters_published + s.dead_letter_errors >= s.rejected_total();
        Ok((seen > 0 && s.received == seen && s.acked == seen && settled).then_some(s))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = watch.messages().await.len() as u64;
    let letters = dlq.messages().await;
    let stats = &gw.stats;
    let quarantined = stats.pipeline.quarantine.quarantined.load(Relaxed);
    let published = stats.pipeline.dead_letters_published.load(Relaxed);
    let rejections = letters
        .iter()
        .filter(|l| l.properties.get("reason").map(String::as_str) != Some("write_rejected"))
        .count() as u64;
    eprintln!(
        "received {received}: accepted {}, dead-lettered {} ({rejections} rejections), quarantined {quarantined}; rejected by reason {:?}; dead-letter connects {}",
        summary.accepted_messages,
        letters.len(),
        summary.rejected,
        stats.pipeline.dead_letter_connects.load(Relaxed),
    );

    assert!(
        acked as usize >= HOSTILE / 3,
        "too few hostile messages got through: {acked}"
    );
    assert_eq!(received, summary.received, "the gateway saw what the broker routed");
    assert_eq!(
        received,
        summary.accepted_messages + rejections + quarantined,
        "received = stored + dead-lettered + quarantined"
    );
    assert_eq!(
        letters.len() as u64,
        published,
        "published counts what the broker acknowledged"
    );
    assert!(
        quarantined > 0,
        "the over-long topics' enveloped dead letters exceed the broker's limit"
    );
    assert_eq!(stats.pipeline.quarantine.errors.load(Relaxed), 0);
    assert_eq!(
        stats.source.connects.load(Relaxed),
        1,
        "the source connection never dropped"
    );
    assert!(
        stats.pipeline.dead_letter_connects.load(Relaxed) <= 1 + quarantined,
        "at most one reconnect per quarantined message"
    );
    for l in &letters {
        assert!(
            l.properties.contains_key("reason") && l.properties.contains_key("format"),
            "{:?}",
            l.properties
        );
    }
    // Every good reading is stored, exactly once.
    let rows = influx
        .rows("telegate", "SELECT COUNT(seq) FROM river_level WHERE site = 'ok'")
        .await?;
    let stored = rows
        .first()
        .and_then(|r| r.get("count"))
        .and_then(serde_json::Value::as_u64);
    assert_eq!(stored, Some(good));
    gw.stop().await;
    eprintln!("hostile test took {:?}", started.elapsed());
    Ok(())
}
