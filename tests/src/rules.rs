//! Alert rules shared by tests: the flood levels of two stations as a
//! Vietnamese deployment names them (FIELD.md: BĐ I/II/III of Mường Tè on
//! the Đà, of Nậm Giàng on the Nậm Na).

/// Mường Tè: BĐ I 287.00 (info), BĐ II 288.50 (warning), BĐ III 290.00
/// (critical), each clearing 0.20 m below.
pub const FLOOD_MUONG_TE_VI: &str = r#"
[[rule]]
id = "flood-muong-te"
name = "Lũ sông Đà tại Mường Tè"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
match = { site = "muong-te" }
message = "{device_id} tại {site}: mực nước {value} m ≥ {level_name} ({threshold} m)"
[[rule.level]]
name = "BĐ I"
severity = "info"
threshold = 287.00
clear = 286.80
[[rule.level]]
name = "BĐ II"
severity = "warning"
threshold = 288.50
clear = 288.30
[[rule.level]]
name = "BĐ III"
severity = "critical"
threshold = 290.00
clear = 289.80
"#;

/// Nậm Giàng (site `ma-lu-thang`): BĐ I 208.50, BĐ II 210.00, BĐ III 211.50.
pub const FLOOD_NAM_GIANG_VI: &str = r#"
[[rule]]
id = "flood-nam-giang"
name = "Lũ sông Nậm Na tại Nậm Giàng"
kind = "threshold"
measurement = "river_level"
field = "stage_m"
match = { site = "ma-lu-thang" }
message = "{device_id} tại {site}: mực nước {value} m ≥ {level_name} ({threshold} m)"
[[rule.level]]
name = "BĐ I"
severity = "info"
threshold = 208.50
clear = 208.30
[[rule.level]]
name = "BĐ II"
severity = "warning"
threshold = 210.00
clear = 209.80
[[rule.level]]
name = "BĐ III"
severity = "critical"
threshold = 211.50
clear = 211.30
"#;
