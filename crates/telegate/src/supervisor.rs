//! Pipeline stages as supervised tasks: a stage that panics, returns an
//! error, is aborted, or ends on its own while the gateway is not stopping
//! is *dead*. The first death is recorded (stage and reason, for `/readyz`,
//! the log and the exit status) and signalled at once, so the gateway stops
//! acknowledging instead of acknowledging into a log nothing reads.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;

/// What a stage's task returns: nothing, or a result whose error kills it.
pub(crate) trait StageOutcome: Send + 'static {
    /// Why the stage failed, if it did.
    fn failure(self) -> Option<String>;
}

impl StageOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

/// The reason is the error with its causes: `/readyz` and the log show it,
/// and a stage's error names only what failed, its source says why.
impl<E: std::error::Error + Send + 'static> StageOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| telegate_model::error_chain(&e))
    }
}

/// The first stage that died, shared with the admin listener.
#[derive(Debug, Default)]
pub struct StageHealth {
    dead: Mutex<Option<(&'static str, String)>>,
    died: CancellationToken,
}

impl StageHealth {
    /// The stage that died first and why; `None` while all are alive.
    pub fn dead(&self) -> Option<(&'static str, String)> {
        self.dead.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves once a stage has died.
    pub async fn died(&self) {
        self.died.cancelled().await;
    }

    fn record(&self, stage: &'static str, why: String) {
        let mut dead = self.dead.lock().unwrap_or_else(|e| e.into_inner());
        if dead.is_none() {
            tracing::error!(stage, reason = %why, "pipeline stage died: acknowledgements stopped; the gateway exits non-zero so its supervisor restarts it");
            *dead = Some((stage, why));
        } else {
            tracing::warn!(stage, reason = %why, "another stage ended after the first death");
        }
        drop(dead);
        self.died.cancel();
    }
}

/// How long a stage that merely ended waits before it is recorded as dead.
const ECHO_GRACE: std::time::Duration = std::time::Duration::from_millis(50);

struct Stage {
    name: &'static str,
    watcher: JoinHandle<()>,
    abort: AbortHandle,
}

/// The stages of a running pipeline, in the order they were started.
pub(crate) struct Stages {
    stages: Vec<Stage>,
    health: Arc<StageHealth>,
    /// Cancelled when the gateway is asked to stop: stages ending after it
    /// are draining, not dying.
    stopping: CancellationToken,
}

impl std::fmt::Debug for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.stages.iter().map(|s| s.name).collect();
        f.debug_struct("Stages").field("stages", &names).finish_non_exhaustive()
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return "aborted".into();
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    format!("panicked: {text}")
}

impl Stages {
    pub(crate) fn new(health: Arc<StageHealth>, stopping: CancellationToken) -> Self {
        Self {
            stages: Vec::new(),
            health,
            stopping,
        }
    }

    /// Spawn `fut` as stage `name`, watched.
    pub(crate) fn spawn<F>(&mut self, name: &'static str, fut: F)
    where
        F: Future + Send + 'static,
        F::Output: StageOutcome,
    {
        let task = tokio::spawn(fut);
        self.watch(name, task);
    }

    /// Watch a task spawned elsewhere as stage `name`.
    pub(crate) fn watch<T: StageOutcome>(&mut self, name: &'static str, task: JoinHandle<T>) {
        let abort = task.abort_handle();
        let health = self.health.clone();
        let stopping = self.stopping.clone();
        let watcher = tokio::spawn(async move {
            let why = match task.await {
                Ok(outcome) => match outcome.failure() {
                    Some(e) => Some(format!("failed: {e}")),
                    None if !stopping.is_cancelled() => {
                        // Most likely the echo of a death upstream (its
                        // input closed, e.g. the writer after the tailer):
                        // let the cause be recorded first, so `/readyz`
                        // names it and not the echo.
                        tokio::time::sleep(ECHO_GRACE).await;
                        Some("ended before shutdown".into())
                    }
                    None => None,
                },
                Err(e) => Some(panic_message(e)),
            };
            if let Some(why) = why {
                health.record(name, why);
            }
        });
        self.stages.push(Stage { name, watcher, abort });
    }

    /// Each stage's name and a handle that aborts it as if it had crashed
    /// (fault drills and tests).
    pub(crate) fn abort_handles(&self) -> Vec<(&'static str, AbortHandle)> {
        self.stages.iter().map(|s| (s.name, s.abort.clone())).collect()
    }

    /// Wait for the first stage (in start order) to end.
    pub(crate) async fn join_first(&mut self) {
        if !self.stages.is_empty() {
            let stage = self.stages.remove(0);
            let _ = stage.watcher.await;
        }
    }

    /// Wait for every stage to end, in start order.
    pub(crate) async fn join_all(&mut self) {
        while !self.stages.is_empty() {
            self.join_first().await;
        }
    }

    /// Abort every stage still running.
    pub(crate) fn abort_all(&self) {
        for s in &self.stages {
            s.abort.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_death_is_named_and_draining_is_not_death() {
        let health = Arc::new(StageHealth::default());
        let stopping = CancellationToken::new();
        let mut stages = Stages::new(health.clone(), stopping.clone());
        let gate = CancellationToken::new();
        let g = gate.clone();
        stages.spawn("quiet", async move { g.cancelled().await });
        #[derive(Debug, thiserror::Error)]
        #[error("writing the WAL")]
        struct WriteFailed(#[source] std::io::Error);
        stages.spawn("failing", async {
            Err::<(), _>(WriteFailed(std::io::Error::other("disk gone")))
        });
        health.died().await;
        assert_eq!(
            health.dead(),
            Some(("failing", "failed: writing the WAL: disk gone".into()))
        );

        let health = Arc::new(StageHealth::default());
        let mut stages = Stages::new(health.clone(), stopping.clone());
        let g = gate.clone();
        stages.spawn("a", async move { g.cancelled().await });
        let g = gate.clone();
        stages.spawn("b", async move {
            if g.is_cancelled() {
                return;
            }
            panic!("boom")
        });
        health.died().await;
        assert_eq!(health.dead(), Some(("b", "panicked: boom".into())));

        let health = Arc::new(StageHealth::default());
        let mut stages = Stages::new(health.clone(), CancellationToken::new());
        stages.spawn("victim", std::future::pending::<()>());
        let handles = stages.abort_handles();
        assert_eq!(handles.len(), 1);
        assert_eq!(handles[0].0, "victim");
        handles[0].1.abort();
        health.died().await;
        assert_eq!(health.dead(), Some(("victim", "aborted".into())));

        // Ending after the stop was asked is draining.
        let health = Arc::new(StageHealth::default());
        stopping.cancel();
        let mut stages = Stages::new(health.clone(), stopping);
        stages.spawn("drains", async {});
        stages.join_all().await;
        assert_eq!(health.dead(), None);
    }
}
