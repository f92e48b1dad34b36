//! The schema registry a config names: what `telegate run` (and its hot
//! reload), `check`, `sim` and `demo` all load, so it lives beside the
//! config rather than in one of the commands.

use telegate_model::{ErrorChain, error_chain};
use telegate_schema::{Registry, SchemaError};

use crate::config::LoadedConfig;

/// Load the registry the config names (a directory, beside the built-in
/// schemas unless `schema.builtin = false`, or the built-in schemas alone).
pub fn load_registry(loaded: &LoadedConfig) -> Result<Registry, telegate_schema::SchemaError> {
    let schema = &loaded.config.schema;
    match loaded.schema_dir() {
        Some(dir) if schema.builtin => Registry::load_with_builtin(&dir, &schema.types),
        Some(dir) => Registry::load(&dir, &schema.types),
        None => Registry::builtin(&schema.types),
    }
}

/// A schema error as the CLI and the reload log show it: an error about the
/// config names the config file and key; an error about a `.proto` file
/// names that file and line itself.
pub fn registry_error(loaded: &LoadedConfig, e: &SchemaError) -> String {
    match e.config_key() {
        Some(key) => format!("{}: key `{key}`: {}", loaded.file, ErrorChain(e)),
        None => error_chain(e),
    }
}

/// [`load_registry`] with the error as [`registry_error`] words it.
pub fn load_registry_or_explain(loaded: &LoadedConfig) -> Result<Registry, String> {
    load_registry(loaded).map_err(|e| registry_error(loaded, &e))
}
