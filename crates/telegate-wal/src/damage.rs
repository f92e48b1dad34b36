//! Damaged bytes in a segment: finding the next whole frame after them, and
//! saving them aside in `quarantine/` (bounded) so nothing vanishes unseen.
//!
//! Only the newest segment a previous run left can end in a torn frame (a
//! crash mid-append); damage anywhere else — a flipped bit, a cut or
//! overwritten stretch, an older segment cut short — is corruption: it is
//! quarantined, counted in `corrupt_frames`, logged with its offset, and
//! reading resumes at the next whole frame, while the gateway runs.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use crate::frame::{MAGIC, Scan, scan};
use crate::log::Wal;

/// Most bytes kept in `quarantine/`: beyond it damage is still counted and
/// logged, but its bytes are not saved (a disk-eating corruption loop must
/// not fill the disk the log needs).
pub const QUARANTINE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Offset of the first frame start after `from` in `data`: a whole, valid
/// frame, or — when `data` stops short of what is committed (`at_end`
/// false) — a marker whose frame may continue past `data`. Without one,
/// the end of `data` (keeping a last partial marker when more follows).
pub(crate) fn resync(data: &[u8], from: usize, at_end: bool) -> usize {
    let mut i = from;
    while i + MAGIC.len() <= data.len() {
        if data[i..i + MAGIC.len()] == MAGIC {
            match scan(&data[i..]) {
                Scan::Frame { .. } => return i,
                Scan::Incomplete if !at_end => return i,
                _ => {}
            }
        }
        i += 1;
    }
    if at_end {
        data.len()
    } else {
        // A marker may straddle the end of what was read.
        data.len().saturating_sub(MAGIC.len() - 1).max(from)
    }
}

/// Count `bytes` (found at `offset` of segment `id`) as one corrupt frame,
/// and save them as `quarantine/<segment>-<offset>.bin` while the
/// quarantine has room. Saving is best effort: a failure is logged, and
/// the damage still counted.
pub(crate) fn quarantine(wal: &Wal, id: u64, offset: u64, bytes: &[u8]) {
    wal.stats_ref().corrupt_frames.fetch_add(1, Relaxed);
    let q = wal.dir().join("quarantine").join(format!("{id:020}-{offset}.bin"));
    let len = bytes.len() as u64;
    let saved = if wal.reserve_quarantine(len) {
        match std::fs::write(&q, bytes) {
            Ok(()) => true,
            Err(e) => {
                wal.unreserve_quarantine(len);
                tracing::error!(path = %q.display(), error = %e, "WAL: cannot save corrupt bytes aside");
                false
            }
        }
    } else {
        false
    };
    tracing::error!(
        segment = id,
        offset,
        bytes = len,
        quarantined = %if saved { q.display().to_string() } else { "no (quarantine full or unwritable)".into() },
        "WAL: corrupt frame skipped; reading resumes at the next whole frame"
    );
}

/// Bytes already in `dir`'s quarantine (counted against the bound).
pub(crate) fn quarantined_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("quarantine"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::frame::Record;

    fn frame(i: u32) -> Vec<u8> {
        let mut f = Vec::new();
        Record {
            topic: Bytes::from_static(b"t"),
            lines: Bytes::from(format!("m v={i} {i}\n")),
            points: 1,
        }
        .encode_frame(&mut f);
        f
    }

    #[test]
    fn resync_finds_the_next_whole_frame_or_a_straddling_one() {
        let (a, b) = (frame(1), frame(2));
        let mut data = vec![0xAA; 5];
        data.extend_from_slice(&a);
        assert_eq!(resync(&data, 0, true), 5);
        // A marker inside garbage is not a frame.
        let mut junk = b"xxTGW1yy".to_vec();
        junk.extend_from_slice(&b);
        assert_eq!(resync(&junk, 0, true), 8);
        // The start of a frame cut by the end of the read: resume there when more follows.
        let cut = &junk[..junk.len() - 3];
        assert_eq!(resync(cut, 3, false), 8);
        assert_eq!(resync(cut, 3, true), cut.len());
        // No marker at all: keep a possible partial marker at the end.
        assert_eq!(resync(&[0u8; 10], 0, false), 7);
        assert_eq!(resync(&[0u8; 10], 0, true), 10);
        assert_eq!(resync(&[0u8; 2], 1, false), 1);
    }
}
