use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::{Appender, Record, SegmentId, Wal, WalConfig};

fn record(i: u32) -> Record {
    Record {
        topic: Bytes::from(format!("telemetry/s/d-{i}/river_level")),
        lines: Bytes::from(format!("river_level,device_id=d-{i} seq={i}i {i}\n")),
        points: 1,
    }
}

fn cfg() -> WalConfig {
    WalConfig {
        commit_linger: Duration::from_millis(2),
        ..Default::default()
    }
}

/// Append `n` records through a running appender; returns the acked tokens.
async fn append(wal: &std::sync::Arc<Wal>, cfg: &WalConfig, range: std::ops::Range<u32>) -> Vec<u32> {
    let (tx, rx) = mpsc::channel(64);
    let (ack_tx, mut ack_rx) = mpsc::channel(1024);
    let appender = Appender::new(wal.clone(), cfg).unwrap();
    let task = tokio::spawn(appender.run(rx, ack_tx));
    for i in range {
        tx.send((record(i), i)).await.unwrap();
    }
    drop(tx);
    task.await.unwrap();
    let mut acked = Vec::new();
    while let Ok(t) = ack_rx.try_recv() {
        acked.push(t);
    }
    acked
}

async fn tail_all(tailer: crate::Tailer) -> Vec<(SegmentId, Record)> {
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(tailer.run(tx, |s, r| (s, r)));
    let mut out = Vec::new();
    while let Some(r) = rx.recv().await {
        out.push(r);
    }
    task.await.unwrap().unwrap();
    out
}

#[tokio::test]
async fn appended_records_are_acked_tailed_in_order_and_replayed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg();
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let acked = append(&wal, &cfg, 0..500).await;
    assert_eq!(acked, (0..500).collect::<Vec<_>>());
    let tailed = tail_all(tailer).await;
    assert_eq!(
        tailed.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        (0..500).map(record).collect::<Vec<_>>()
    );
    drop(wal);

    // Nothing released: a restart replays everything.
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    assert_eq!(tailer.segments_to_replay(), 1);
    let (tx, mut rx) = mpsc::channel(1024);
    let wal2 = wal.clone();
    let task = tokio::spawn(tailer.run(tx, |s, r| (s, r)));
    let mut replayed = Vec::new();
    for _ in 0..500 {
        let (seg, r) = rx.recv().await.unwrap();
        replayed.push(r);
        wal2.release(seg);
    }
    assert_eq!(replayed, (0..500).map(record).collect::<Vec<_>>());
    assert_eq!(wal.stats().replayed.load(std::sync::atomic::Ordering::Relaxed), 500);
    // All released and the old segment fully read: it is deleted.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let old = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wal"))
        .count();
    assert_eq!(old, 0, "the replayed segment is deleted once every record is released");
    // No appender here, so the tailer would wait for new data forever.
    task.abort();
}

#[tokio::test]
async fn torn_tail_is_truncated_and_a_corrupt_frame_quarantined_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..6 {
        let mut f = Vec::new();
        record(i).encode_frame(&mut f);
        frames.push(f);
    }
    let mut data: Vec<u8> = frames[..5].concat();
    // Damage frame 2's payload (one bit), and tear frame 5 in half.
    let f2_start: usize = frames[..2].iter().map(Vec::len).sum();
    data[f2_start + frames[2].len() - 3] ^= 0x01;
    let torn = frames[5].len() / 2;
    data.extend_from_slice(&frames[5][..torn]);
    let seg = dir.path().join(format!("{:020}.wal", 7));
    std::fs::write(&seg, &data).unwrap();

    let cfg = cfg();
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(tailer.run(tx, |s, r| (s, r)));
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(rx.recv().await.unwrap().1);
    }
    assert_eq!(got, [record(0), record(1), record(3), record(4)]);
    let stats = wal.stats();
    assert_eq!(stats.corrupt_frames.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(
        stats.truncated_bytes.load(std::sync::atomic::Ordering::Relaxed),
        torn as u64
    );
    let quarantined: Vec<_> = std::fs::read_dir(dir.path().join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(quarantined.len(), 1);
    let mut damaged = frames[2].clone();
    let n = damaged.len();
    damaged[n - 3] ^= 0x01;
    assert_eq!(
        std::fs::read(&quarantined[0]).unwrap(),
        damaged,
        "exactly the corrupt frame"
    );
    assert!(
        quarantined[0]
            .to_string_lossy()
            .ends_with(&format!("{:020}-{f2_start}.bin", 7))
    );
    assert_eq!(
        std::fs::metadata(&seg).unwrap().len(),
        frames[..5].iter().map(|f| f.len() as u64).sum::<u64>(),
        "torn tail cut off"
    );
    // No appender here, so the tailer would wait for new data forever.
    task.abort();
}

#[tokio::test]
async fn a_full_budget_pauses_acks_until_the_writer_releases() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = WalConfig {
        budget_bytes: 16 * 1024,
        commit_bytes: 512,
        ..cfg()
    };
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let (tx, rx) = mpsc::channel(4096);
    let (ack_tx, mut ack_rx) = mpsc::channel(4096);
    tokio::spawn(Appender::new(wal.clone(), &cfg).unwrap().run(rx, ack_tx));
    for i in 0..2000 {
        tx.send((record(i), i)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut acked = 0;
    while ack_rx.try_recv().is_ok() {
        acked += 1;
    }
    assert!(acked > 0 && acked < 2000, "acks stop when the budget is full: {acked}");
    assert!(wal.stats().full.load(std::sync::atomic::Ordering::Relaxed));

    // The writer drains: everything gets acked, in the end nothing is lost.
    let (ttx, mut trx) = mpsc::channel(64);
    tokio::spawn(tailer.run(ttx, |s, r| (s, r)));
    drop(tx);
    let mut seen = Vec::new();
    while seen.len() < 2000 {
        let (seg, r) = tokio::time::timeout(Duration::from_secs(10), trx.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(r);
        wal.release(seg);
    }
    assert_eq!(seen, (0..2000).map(record).collect::<Vec<_>>());
    tokio::time::sleep(Duration::from_millis(100)).await;
    while ack_rx.try_recv().is_ok() {
        acked += 1;
    }
    assert_eq!(acked, 2000);
    assert!(wal.stats().bytes.load(std::sync::atomic::Ordering::Relaxed) <= 16 * 1024);
}

fn wal_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    files.sort();
    files
}

fn quarantined(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[tokio::test]
async fn a_corrupt_frame_in_the_live_segment_is_skipped_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg();
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let (tx, rx) = mpsc::channel(64);
    let (ack_tx, mut ack_rx) = mpsc::channel(1024);
    let appender = tokio::spawn(Appender::new(wal.clone(), &cfg).unwrap().run(rx, ack_tx));
    for i in 0..50 {
        tx.send((record(i), i)).await.unwrap();
    }
    for _ in 0..50 {
        ack_rx.recv().await.unwrap();
    }
    // Flip one byte of record 20 in the active segment before the tailer reads it.
    let seg = wal_files(dir.path()).pop().unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    let at = find(&data, b"seq=20i");
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[data[at + 4] ^ 0x01], at as u64 + 4).unwrap();
    data[at + 4] ^= 0x01;

    let (ttx, mut trx) = mpsc::channel(16);
    let tail = tokio::spawn(tailer.run(ttx, |s, r| (s, r)));
    let mut got = Vec::new();
    for _ in 0..49 {
        let (seg, r) = trx.recv().await.unwrap();
        wal.release(seg);
        got.push(r);
    }
    // The log keeps working after the damage: later records are read too.
    for i in 50..60 {
        tx.send((record(i), i)).await.unwrap();
    }
    for _ in 0..10 {
        got.push(trx.recv().await.unwrap().1);
    }
    drop(tx);
    appender.await.unwrap();
    tail.await.unwrap().unwrap();
    let want: Vec<Record> = (0..60).filter(|&i| i != 20).map(record).collect();
    assert_eq!(got, want);
    assert_eq!(wal.stats().corrupt_frames.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(
        wal.stats().truncated_bytes.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let q = quarantined(dir.path());
    assert_eq!(q.len(), 1);
    let mut frame = Vec::new();
    record(20).encode_frame(&mut frame);
    let quarantined_bytes = std::fs::read(&q[0]).unwrap();
    assert_eq!(quarantined_bytes.len(), frame.len(), "exactly the damaged frame");
    let frame_start = at - (find(&frame, b"seq=20i"));
    assert_eq!(quarantined_bytes, data[frame_start..frame_start + frame.len()]);
}

#[tokio::test]
async fn an_older_segment_cut_short_is_quarantined_not_taken_for_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..8 {
        let mut f = Vec::new();
        record(i).encode_frame(&mut f);
        frames.push(f);
    }
    // Segment 1: records 0..4 with record 3 cut in half (and 4 gone).
    let mut old = frames[..3].concat();
    let cut = frames[3].len() / 2;
    old.extend_from_slice(&frames[3][..cut]);
    std::fs::write(dir.path().join(format!("{:020}.wal", 1)), &old).unwrap();
    // Segment 2, the newest: records 5..8, whole.
    std::fs::write(dir.path().join(format!("{:020}.wal", 2)), frames[5..].concat()).unwrap();

    let (wal, tailer) = Wal::open(dir.path(), &cfg()).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(tailer.run(tx, |s, r| (s, r)));
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(rx.recv().await.unwrap().1);
    }
    assert_eq!(got, [0, 1, 2, 5, 6, 7].map(record));
    let stats = wal.stats();
    assert_eq!(stats.corrupt_frames.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.truncated_bytes.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(stats.replayed.load(std::sync::atomic::Ordering::Relaxed), 6);
    let q = quarantined(dir.path());
    assert_eq!(q.len(), 1);
    assert_eq!(std::fs::read(&q[0]).unwrap(), frames[3][..cut]);
    task.abort();
}

#[tokio::test]
async fn quarantine_is_bounded_but_damage_is_always_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..3 {
        let mut f = Vec::new();
        record(i).encode_frame(&mut f);
        frames.push(f);
    }
    let mut data = frames[0].clone();
    data.extend_from_slice(&[0xEE; 100]);
    data.extend_from_slice(&frames[1]);
    data.extend_from_slice(&[0xDD; 100]);
    data.extend_from_slice(&frames[2]);
    std::fs::write(dir.path().join(format!("{:020}.wal", 1)), &data).unwrap();
    // The quarantine already holds all but 150 bytes of its bound.
    std::fs::create_dir_all(dir.path().join("quarantine")).unwrap();
    let filler = std::fs::File::create(dir.path().join("quarantine").join("old.bin")).unwrap();
    filler.set_len(crate::QUARANTINE_MAX_BYTES - 150).unwrap();

    let (wal, tailer) = Wal::open(dir.path(), &cfg()).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(tailer.run(tx, |s, r| (s, r)));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(rx.recv().await.unwrap().1);
    }
    assert_eq!(got, [0, 1, 2].map(record));
    assert_eq!(wal.stats().corrupt_frames.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(
        quarantined(dir.path()).len(),
        2,
        "the first stretch saved, the second over the bound"
    );
    task.abort();
}

#[tokio::test]
async fn oldest_pending_age_is_that_of_the_oldest_unstored_reading() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg();
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let (tx, rx) = mpsc::channel(64);
    let (ack_tx, mut ack_rx) = mpsc::channel(1024);
    tokio::spawn(Appender::new(wal.clone(), &cfg).unwrap().run(rx, ack_tx));
    assert_eq!(wal.oldest_pending_age(), None, "an empty log has nothing pending");
    tx.send((record(0), 0)).await.unwrap();
    ack_rx.recv().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Committed, not read yet: pending since its commit.
    let age = wal.oldest_pending_age().unwrap();
    assert!(age >= Duration::from_millis(300), "{age:?}");
    let (ttx, mut trx) = mpsc::channel(16);
    tokio::spawn(tailer.run(ttx, |s, r| (s, r)));
    let (seg, _) = trx.recv().await.unwrap();
    assert!(
        wal.oldest_pending_age().unwrap() >= Duration::from_millis(300),
        "handed out, not stored"
    );
    wal.release(seg);
    assert_eq!(
        wal.oldest_pending_age(),
        None,
        "stored: nothing pending, though the segment is old"
    );
    // A new reading is young, however old the active segment is.
    tx.send((record(1), 1)).await.unwrap();
    ack_rx.recv().await.unwrap();
    let (seg, _) = trx.recv().await.unwrap();
    let age = wal.oldest_pending_age().unwrap();
    assert!(age < Duration::from_millis(250), "{age:?}");
    wal.release(seg);
    assert_eq!(wal.oldest_pending_age(), None);
}

#[tokio::test]
async fn a_restart_replays_only_what_the_checkpoint_does_not_cover() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg();
    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let (tx, rx) = mpsc::channel(64);
    let (ack_tx, mut ack_rx) = mpsc::channel(1024);
    let appender = tokio::spawn(Appender::new(wal.clone(), &cfg).unwrap().run(rx, ack_tx));
    let (ttx, mut trx) = mpsc::channel(256);
    let tail = tokio::spawn(tailer.run(ttx, |s, r| (s, r)));
    // 0..50 read and all stored: checkpointed.
    for i in 0..50 {
        tx.send((record(i), i)).await.unwrap();
        ack_rx.recv().await.unwrap();
    }
    for _ in 0..50 {
        let (seg, _) = trx.recv().await.unwrap();
        wal.release(seg);
    }
    // 50..100 read; some stored, not all (releases out of order).
    let mut handed = Vec::new();
    for i in 50..100 {
        tx.send((record(i), i)).await.unwrap();
        ack_rx.recv().await.unwrap();
    }
    for _ in 50..100 {
        handed.push(trx.recv().await.unwrap().0);
    }
    for seg in &handed[20..40] {
        wal.release(*seg);
    }
    wal.checkpoint().unwrap();
    // A crash: nothing shut down in order.
    appender.abort();
    tail.abort();
    drop(wal);

    let (wal, tailer) = Wal::open(dir.path(), &cfg).unwrap();
    let (ttx, mut trx) = mpsc::channel(256);
    let tail = tokio::spawn(tailer.run(ttx, |s, r| (s, r)));
    let mut replayed = Vec::new();
    for _ in 50..100 {
        replayed.push(trx.recv().await.unwrap().1);
    }
    assert_eq!(
        replayed,
        (50..100).map(record).collect::<Vec<_>>(),
        "not 0..50, stored before the crash"
    );
    assert_eq!(wal.stats().replayed.load(std::sync::atomic::Ordering::Relaxed), 50);
    tail.abort();
}
