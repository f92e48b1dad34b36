//! `telegate alerts replay`: the thin CLI over [`telegate_replay`].

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use telegate_alert::AlertConfig;
use telegate_replay::{ReplayOptions, replay};
use telegate_schema::Registry;

use crate::cli::ReplayArgs;

/// Replay, print the table (or JSON); exit 1 when a target is missed.
pub fn run(args: &ReplayArgs, registry: &Registry) -> anyhow::Result<ExitCode> {
    let rules = AlertConfig::from_file(&args.rules)?;
    let options = ReplayOptions {
        days: args.days,
        seed: args.seed,
    };
    let report = replay(&rules, registry, &options).context("replay")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.text())?;
    }
    let met = report.missed() == 0
        && report.flaps() == 0
        && report.late.is_empty()
        && report.spurious_per_site_month() <= 1.0
        && report.rejected.is_empty();
    Ok(if met { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
