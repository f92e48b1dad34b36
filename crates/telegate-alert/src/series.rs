//! Series keys: what one state machine of a rule is about.
//!
//! A point's identity is measurement + tags, so by default a rule keeps one
//! series per measurement and tag set (one per device and sensor, one per
//! gate lane). Deadman rules group by device; combined rules by site or by an
//! explicit tag or device label.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How a rule splits points into series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Grouping {
    /// Every tag of the point plus the device's labels.
    AllTags,
    /// `device_id` and, when present, `site` (deadman default).
    Device,
    /// Exactly these tags or labels; a point lacking one is not in the rule.
    Tags(Vec<String>),
}

/// Which series a transition is about. `device_id` and `site` have their own
/// fields because every consumer wants them; other grouping tags (a gate
/// lane, a device label such as a catchment) are in `tags`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The sensor type's measurement; `None` for a device-wide deadman and
    /// for combined rules, whose series span sensor types.
    pub measurement: Option<String>,
    pub device_id: Option<String>,
    pub site: Option<String>,
    /// Other tags and labels, sorted by key.
    pub tags: BTreeMap<String, String>,
}

impl SeriesKey {
    /// The key of a point's series under `grouping`, or `None` when the
    /// point lacks a tag the grouping needs. `tags` are the point's tags
    /// followed by the device's labels (the point's tags win on a clash).
    pub(crate) fn build(measurement: Option<&str>, tags: &[(&str, &str)], grouping: &Grouping) -> Option<SeriesKey> {
        let mut key = SeriesKey {
            measurement: measurement.map(str::to_owned),
            device_id: None,
            site: None,
            tags: BTreeMap::new(),
        };
        let lookup = |name: &str| tags.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        match grouping {
            Grouping::AllTags => {
                for (k, v) in tags {
                    key.set_if_absent(k, v);
                }
            }
            Grouping::Device => {
                key.device_id = Some(lookup("device_id")?.to_owned());
                key.site = lookup("site").map(str::to_owned);
            }
            Grouping::Tags(names) => {
                for name in names {
                    key.set_if_absent(name, lookup(name)?);
                }
            }
        }
        Some(key)
    }

    fn set_if_absent(&mut self, k: &str, v: &str) {
        match k {
            "device_id" => {
                self.device_id.get_or_insert_with(|| v.to_owned());
            }
            "site" => {
                self.site.get_or_insert_with(|| v.to_owned());
            }
            _ => {
                self.tags.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }

    /// A tag (or `device_id` / `site`) of this key.
    pub fn tag(&self, name: &str) -> Option<&str> {
        match name {
            "device_id" => self.device_id.as_deref(),
            "site" => self.site.as_deref(),
            _ => self.tags.get(name).map(String::as_str),
        }
    }

    /// The combined-rule group this series belongs to, or `None` when it
    /// lacks one of the grouping tags.
    pub(crate) fn project(&self, group_by: &[String]) -> Option<SeriesKey> {
        let mut key = SeriesKey {
            measurement: None,
            device_id: None,
            site: None,
            tags: BTreeMap::new(),
        };
        for name in group_by {
            key.set_if_absent(name, self.tag(name)?);
        }
        Some(key)
    }
}

/// Line-protocol style: `river_level,device_id=rl-001,site=muong-te`
/// (`*` when the series spans measurements).
impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.measurement.as_deref().unwrap_or("*"))?;
        if let Some(d) = &self.device_id {
            write!(f, ",device_id={d}")?;
        }
        if let Some(s) = &self.site {
            write!(f, ",site={s}")?;
        }
        for (k, v) in &self.tags {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGS: &[(&str, &str)] = &[
        ("device_id", "gb-001"),
        ("lane", "in-1"),
        ("site", "ma-lu-thang"),
        ("zone", "gate"),
    ];

    #[test]
    fn all_tags_make_one_series_per_lane() {
        let k = SeriesKey::build(Some("gate_barrier"), TAGS, &Grouping::AllTags).unwrap();
        assert_eq!(
            k.to_string(),
            "gate_barrier,device_id=gb-001,site=ma-lu-thang,lane=in-1,zone=gate"
        );
        assert_eq!(k.tag("lane"), Some("in-1"));
    }

    #[test]
    fn device_grouping_ignores_other_tags() {
        let k = SeriesKey::build(None, TAGS, &Grouping::Device).unwrap();
        assert_eq!(k.to_string(), "*,device_id=gb-001,site=ma-lu-thang");
        assert!(SeriesKey::build(None, &[("site", "x")], &Grouping::Device).is_none());
    }

    #[test]
    fn explicit_grouping_needs_every_tag_and_projects() {
        let g = Grouping::Tags(vec!["zone".into()]);
        let k = SeriesKey::build(Some("m"), TAGS, &g).unwrap();
        assert_eq!(k.to_string(), "m,zone=gate");
        let full = SeriesKey::build(Some("m"), TAGS, &Grouping::AllTags).unwrap();
        assert_eq!(
            full.project(&["site".into()]).unwrap().to_string(),
            "*,site=ma-lu-thang"
        );
        assert!(full.project(&["catchment".into()]).is_none());
        let missing = Grouping::Tags(vec!["catchment".into()]);
        assert!(SeriesKey::build(Some("m"), TAGS, &missing).is_none());
    }
}
