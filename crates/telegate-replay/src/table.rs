//! The report as the text table `telegate alerts replay` prints.

use std::fmt::Write as _;

use crate::score::Report;

fn secs(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.abs() >= 60.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{s:.0} s"),
    }
}

impl Report {
    /// The per-rule table, the totals against the targets, and every miss,
    /// spurious alert and late detection.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "replay: {} days, seed {}, sites {}: {} readings in {} messages ({} refused), {} transitions, {} truth events",
            self.days,
            self.seed,
            self.sites.join(", "),
            self.readings,
            self.messages,
            self.rejected.len(),
            self.transitions,
            self.truth_events
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "| rule | kind | events | detected | missed | spurious | flaps | mean delay | max delay | over budget |"
        );
        let _ = writeln!(
            o,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for r in &self.rules {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.rule_id,
                r.kind,
                r.events,
                r.detected,
                r.missed,
                r.spurious,
                r.flaps,
                secs(r.mean_delay_s),
                secs(r.max_delay_s),
                r.over_budget
            );
        }
        let per_site: Vec<String> = self.spurious_per_site.iter().map(|(s, n)| format!("{s} {n}")).collect();
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "missed {} · flaps {} · spurious per site {} (worst {:.1} per 30 days) · detections over one reporting interval {}",
            self.missed(),
            self.flaps(),
            per_site.join(", "),
            self.spurious_per_site_month(),
            self.late.len()
        );
        for m in &self.misses {
            let _ = writeln!(o, "  missed   {} {}: {}", m.rule_id, m.level, m.what);
        }
        for s in &self.spurious {
            let _ = writeln!(o, "  spurious {} {} at {}: {}", s.rule_id, s.level, s.site, s.message);
        }
        for l in &self.late {
            let _ = writeln!(
                o,
                "  late     {} {}: {} ({:.0} s, budget {:.0} s)",
                l.rule_id, l.level, l.what, l.delay_s, l.budget_s
            );
        }
        for (what, level) in &self.unreported {
            let _ = writeln!(o, "  no rule  {level}: {what}");
        }
        for r in &self.rejected {
            let _ = writeln!(o, "  refused  {r}");
        }
        o
    }
}
