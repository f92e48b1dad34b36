//! A combined rule's `all_of`: its components must exist, not be combined
//! rules themselves, and group by what the combined rule groups by.

use crate::error::ConfigError;
use crate::rule::{Kind, Rule};
use crate::series::Grouping;

use super::Cx;

pub(crate) fn resolve_components(
    cx: &Cx<'_>,
    rules: &[Rule],
    index: usize,
    ids: &[String],
) -> Result<Vec<usize>, ConfigError> {
    let bad = |component: &str, problem: &'static str| ConfigError::BadComponent {
        at: cx.loc(cx.line),
        component: component.to_owned(),
        problem,
    };
    let Grouping::Tags(group_by) = &rules[index].grouping else {
        return Err(bad("", "but the rule has no group"));
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(i) = rules.iter().position(|r| &r.id == id) else {
            return Err(bad(id, "which is not a rule in this file"));
        };
        let provides = match &rules[i].kind {
            Kind::Combined { .. } => return Err(bad(id, "which is itself a combined rule")),
            _ => match &rules[i].grouping {
                Grouping::AllTags => true,
                Grouping::Device => group_by.iter().all(|g| g == "device_id" || g == "site"),
                Grouping::Tags(tags) => group_by.iter().all(|g| tags.contains(g)),
            },
        };
        if !provides {
            return Err(bad(id, "whose group_by lacks a tag of this rule's group_by"));
        }
        if out.contains(&i) {
            return Err(bad(id, "which is listed twice"));
        }
        out.push(i);
    }
    Ok(out)
}
