//! Flood rules for the tests, built from one copy of the official levels
//! (FIELD.md: BĐ I/II/III of Mường Tè on the Đà, of Nậm Giàng on the Nậm
//! Na). Tests differ in the names and messages they assert on (Vietnamese
//! or English), never in the levels.

use std::fmt::Write as _;

/// One official flood level: name, severity, threshold and the level it
/// clears below (0.20 m under the threshold).
#[derive(Debug, Clone, Copy)]
pub struct Level {
    pub name: &'static str,
    pub severity: &'static str,
    pub threshold: f64,
    pub clear: f64,
}

/// A river gauge station and its three levels.
#[derive(Debug, Clone, Copy)]
pub struct Station {
    /// The rule id (`flood-…`).
    pub rule_id: &'static str,
    /// The site its gauges report under.
    pub site: &'static str,
    pub levels: [Level; 3],
}

const fn levels(bd1: f64, bd2: f64, bd3: f64) -> [Level; 3] {
    [
        Level {
            name: "BĐ I",
            severity: "info",
            threshold: bd1,
            clear: bd1 - 0.2,
        },
        Level {
            name: "BĐ II",
            severity: "warning",
            threshold: bd2,
            clear: bd2 - 0.2,
        },
        Level {
            name: "BĐ III",
            severity: "critical",
            threshold: bd3,
            clear: bd3 - 0.2,
        },
    ]
}

/// Mường Tè on the Đà: BĐ I 287.00 (info), BĐ II 288.50 (warning), BĐ III
/// 290.00 (critical).
pub const MUONG_TE: Station = Station {
    rule_id: "flood-muong-te",
    site: "muong-te",
    levels: levels(287.00, 288.50, 290.00),
};

/// Nậm Giàng on the Nậm Na (site `ma-lu-thang`): BĐ I 208.50, BĐ II 210.00,
/// BĐ III 211.50.
pub const NAM_GIANG: Station = Station {
    rule_id: "flood-nam-giang",
    site: "ma-lu-thang",
    levels: levels(208.50, 210.00, 211.50),
};

/// The Vietnamese message of a level crossing.
pub const MESSAGE_VI: &str = "{device_id} tại {site}: mực nước {value} m ≥ {level_name} ({threshold} m)";
/// The English message of a level crossing.
pub const MESSAGE_EN: &str = "{device_id} at {site}: stage {value} m ≥ {level_name} ({threshold} m)";

/// A threshold rule on `river_level.stage_m` for one station; by default its
/// Vietnamese name and message and all three levels.
#[derive(Debug, Clone)]
pub struct FloodRule {
    station: Station,
    name: String,
    site: &'static str,
    message: &'static str,
    resolved_message: Option<&'static str>,
    from_level: usize,
}

impl Station {
    pub fn rule(&self, name: &str) -> FloodRule {
        FloodRule {
            station: *self,
            name: name.to_owned(),
            site: self.site,
            message: MESSAGE_VI,
            resolved_message: None,
            from_level: 0,
        }
    }
}

impl FloodRule {
    pub fn message(mut self, message: &'static str) -> Self {
        self.message = message;
        self
    }

    pub fn resolved_message(mut self, message: &'static str) -> Self {
        self.resolved_message = Some(message);
        self
    }

    /// Match another site than the station's own.
    pub fn site(mut self, site: &'static str) -> Self {
        self.site = site;
        self
    }

    /// Only BĐ III.
    pub fn critical_only(mut self) -> Self {
        self.from_level = 2;
        self
    }

    /// The rule as a rules file holds it.
    pub fn toml(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "\n[[rule]]\nid = \"{}\"\nname = \"{}\"\nkind = \"threshold\"\nmeasurement = \"river_level\"\n\
             field = \"stage_m\"\nmatch = {{ site = \"{}\" }}\nmessage = \"{}\"\n",
            self.station.rule_id, self.name, self.site, self.message
        );
        if let Some(resolved) = self.resolved_message {
            let _ = writeln!(out, "resolved_message = \"{resolved}\"");
        }
        for l in &self.station.levels[self.from_level..] {
            let _ = write!(
                out,
                "[[rule.level]]\nname = \"{}\"\nseverity = \"{}\"\nthreshold = {:.2}\nclear = {:.2}\n",
                l.name, l.severity, l.threshold, l.clear
            );
        }
        out
    }
}

/// Mường Tè's rule as a Vietnamese deployment names it.
pub fn flood_muong_te_vi() -> String {
    MUONG_TE.rule("Lũ sông Đà tại Mường Tè").toml()
}

/// Nậm Giàng's rule as a Vietnamese deployment names it.
pub fn flood_nam_giang_vi() -> String {
    NAM_GIANG.rule("Lũ sông Nậm Na tại Nậm Giàng").toml()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_holds_the_official_levels_and_clears_twenty_centimetres_below() {
        let rule = flood_muong_te_vi();
        for want in [
            "id = \"flood-muong-te\"",
            "match = { site = \"muong-te\" }",
            "name = \"BĐ III\"\nseverity = \"critical\"\nthreshold = 290.00\nclear = 289.80\n",
            "name = \"BĐ I\"\nseverity = \"info\"\nthreshold = 287.00\nclear = 286.80\n",
        ] {
            assert!(rule.contains(want), "{want} missing from\n{rule}");
        }
        let only = NAM_GIANG.rule("x").critical_only().site("nam-giang").toml();
        assert_eq!(only.matches("[[rule.level]]").count(), 1, "{only}");
        assert!(only.contains("threshold = 211.50\nclear = 211.30\n"), "{only}");
        assert!(only.contains("site = \"nam-giang\""), "{only}");
    }
}
