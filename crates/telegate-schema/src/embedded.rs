//! Schemas built into the binary: `telegate/v1/options.proto` (so a schema
//! directory only needs the integrator's own files; a copy on disk takes
//! precedence), the repository's sensor types (so `telegate run` works
//! with no schema directory at all) and the source of
//! `buf/validate/validate.proto` (for `telegate schema export`).

use protox::file::{File, FileResolver};

macro_rules! proto {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../proto/", $name)))
    };
}

pub(crate) const OPTIONS: &[(&str, &str)] = &[proto!("telegate/v1/options.proto")];

/// The source of the `buf.validate` rules, only for `telegate schema
/// export` (compiling uses the descriptors prost-protovalidate embeds).
pub(crate) const VALIDATE: &[(&str, &str)] = &[(
    "buf/validate/validate.proto",
    include_str!("../../../vendor/prost-protovalidate-types/proto/buf/validate/validate.proto"),
)];

/// The built-in sensor types. A new file under `proto/telegate/v1/` is added here.
pub(crate) const SENSORS: &[(&str, &str)] = &[
    proto!("telegate/v1/air_quality.proto"),
    proto!("telegate/v1/device_health.proto"),
    proto!("telegate/v1/gate_barrier.proto"),
    proto!("telegate/v1/landslide.proto"),
    proto!("telegate/v1/lane_counter.proto"),
    proto!("telegate/v1/rain_gauge.proto"),
    proto!("telegate/v1/river_level.proto"),
    proto!("telegate/v1/weighbridge.proto"),
];

#[derive(Debug)]
pub(crate) struct EmbeddedResolver {
    pub(crate) sets: &'static [&'static [(&'static str, &'static str)]],
}

impl FileResolver for EmbeddedResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        for (n, src) in self.sets.iter().flat_map(|s| s.iter()) {
            if *n == name {
                return File::from_source(name, src);
            }
        }
        Err(protox::Error::file_not_found(name))
    }
}
