//! `telegate/v1/options.proto` built into the binary, so a schema directory
//! only needs the integrator's own files. A copy on disk takes precedence.

use protox::file::{File, FileResolver};

pub(crate) const OPTIONS_PROTO_NAME: &str = "telegate/v1/options.proto";
const OPTIONS_PROTO: &str = include_str!("../../../proto/telegate/v1/options.proto");

#[derive(Debug, Default)]
pub(crate) struct EmbeddedResolver;

impl FileResolver for EmbeddedResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == OPTIONS_PROTO_NAME {
            File::from_source(name, OPTIONS_PROTO)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}
