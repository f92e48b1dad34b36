//! The log's third stage: what the writer stored comes back here, so that
//! drained segments are deleted and a checkpoint says where a restart must
//! begin replaying.

use std::sync::Arc;
use std::time::Duration;

use telegate_model::ErrorChain;
use tokio::sync::mpsc;

use crate::log::{SegmentId, Wal};

/// How often the checkpoint of what is stored is written (when something
/// was released since): after a crash, at most about this much stored data
/// is replayed.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Takes the [`SegmentId`] of every record the writer stored (or
/// dead-lettered), releases it — a sealed segment whose records are all
/// stored is deleted — and checkpoints what is stored every
/// [`CHECKPOINT_EVERY`] and once its input closes (the writers are done),
/// so a restart after a clean stop replays nothing.
#[derive(Debug)]
pub struct Releaser {
    wal: Arc<Wal>,
}

impl Releaser {
    pub fn new(wal: Arc<Wal>) -> Self {
        Self { wal }
    }

    /// Run until every sender of `stored` is gone.
    pub async fn run(self, mut stored: mpsc::Receiver<SegmentId>) {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut released = false;
        let mut failing = false;
        loop {
            tokio::select! {
                segment = stored.recv() => match segment {
                    Some(segment) => {
                        self.wal.release(segment);
                        released = true;
                    }
                    None => break,
                },
                _ = tick.tick(), if released => {
                    released = false;
                    self.checkpoint(&mut failing).await;
                }
            }
        }
        self.checkpoint(&mut failing).await;
    }

    /// Write the checkpoint off the async threads. A failure (disk full)
    /// only means more is replayed after a crash: logged when it starts and
    /// when it ends.
    async fn checkpoint(&self, failing: &mut bool) {
        let wal = self.wal.clone();
        match tokio::task::spawn_blocking(move || wal.checkpoint()).await {
            Ok(Ok(())) => {
                if std::mem::take(failing) {
                    tracing::info!("WAL checkpoint written again");
                }
            }
            Ok(Err(e)) if !*failing => {
                *failing = true;
                tracing::warn!(error = %ErrorChain(&e), "cannot write the WAL checkpoint; a crash now replays more than what was not stored");
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint task failed"),
        }
    }
}
