//! A windowed rule's `window`, `min_samples` and rate settings: how its
//! value is calculated (`Calc`).

use crate::config::RawRule;
use crate::error::ConfigError;
use crate::rule::Calc;

use super::Cx;

pub(crate) fn calc(cx: &Cx<'_>, kind: &str, raw: &RawRule) -> Result<Calc, ConfigError> {
    if kind == "threshold" {
        return Ok(Calc::Last);
    }
    let window = raw
        .window
        .as_ref()
        .ok_or_else(|| cx.missing("window", "add window = \"24h\" (event time, device clock)"))?;
    let window_ns = cx.duration("window", window, true)?;
    let min_samples = match &raw.min_samples {
        Some(n) if *n.get_ref() == 0 => {
            return Err(cx.bad(
                cx.line_at(n.span()),
                "min_samples",
                0,
                "must be at least 1",
                "use 1 or more",
            ));
        }
        Some(n) => *n.get_ref(),
        None => 1,
    };
    Ok(match kind {
        "sum" => Calc::Sum { window_ns, min_samples },
        "mean" => Calc::Mean { window_ns, min_samples },
        _ => {
            let per_ns = cx.opt_duration("per", &raw.per, true)?.unwrap_or(window_ns);
            let min_span_ns = match &raw.min_span {
                None => per_ns.min(window_ns),
                Some(v) => {
                    let ns = cx.duration("min_span", v, true)?;
                    if ns > window_ns {
                        return Err(cx.bad(
                            cx.line_at(v.span()),
                            "min_span",
                            v.get_ref(),
                            "is longer than the window, so the rate could never be judged",
                            format!("use at most the window ({})", window.get_ref()),
                        ));
                    }
                    ns
                }
            };
            Calc::Rate {
                window_ns,
                per_ns,
                min_span_ns,
            }
        }
    })
}
