//! CPU accounting for the end-to-end benchmark (`examples/bench.rs`): how
//! much of the box, the broker and the database a run used, from /proc, and
//! waiting for the database to go idle between runs.

use std::time::{Duration, Instant};

use crate::influxdb::Influxd;
use crate::mosquitto::Mosquitto;

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn process_cpu(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the comm field: state is [0], utime [11], stime [12] (in clock ticks).
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(ticks as f64 / 100.0)
}

/// CPU seconds the whole box has been busy (all but idle and iowait), from /proc/stat.
pub fn box_busy() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((total - idle) as f64 / 100.0)
}

/// Wait until the database has digested earlier runs (cache snapshots and
/// TSM compactions run for seconds after a burst of writes): below 0.1 cores
/// over half a second, or 120 s at most. Without this, a run pays for the
/// one before it.
pub async fn wait_quiet(influx: &Influxd) -> anyhow::Result<Duration> {
    let pid = influx.pid().unwrap_or(0);
    let start = Instant::now();
    loop {
        let before = process_cpu(pid)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if (process_cpu(pid)? - before) / 0.5 < 0.1 || start.elapsed() > Duration::from_secs(120) {
            return Ok(start.elapsed());
        }
    }
}

/// Where the box's CPU went during a run, in cores.
#[derive(Debug, Default)]
pub struct Shares {
    pub busy: f64,
    pub broker: f64,
    pub database: f64,
}

#[derive(Debug)]
pub struct ShareMeter {
    pids: (u32, u32),
    start: (f64, f64, f64),
    at: Instant,
}

impl ShareMeter {
    pub fn start(broker: &Mosquitto, influx: &Influxd) -> anyhow::Result<Self> {
        let pids = (broker.pid().unwrap_or(0), influx.pid().unwrap_or(0));
        Ok(Self {
            pids,
            start: (box_busy()?, process_cpu(pids.0)?, process_cpu(pids.1)?),
            at: Instant::now(),
        })
    }

    pub fn stop(&self) -> anyhow::Result<Shares> {
        let secs = self.at.elapsed().as_secs_f64();
        Ok(Shares {
            busy: (box_busy()? - self.start.0) / secs,
            broker: (process_cpu(self.pids.0)? - self.start.1) / secs,
            database: (process_cpu(self.pids.1)? - self.start.2) / secs,
        })
    }
}
