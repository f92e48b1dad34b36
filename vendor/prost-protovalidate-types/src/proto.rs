//! The generated `buf.validate` types and the descriptor pool they reflect
//! through. Both files under `generated/` are written by
//! `TELEGATE_REGENERATE=1 cargo test -p prost-protovalidate-types` (see
//! `tests/generated.rs`), never by hand.

use prost_reflect::DescriptorPool;
use std::sync::LazyLock;

static DESCRIPTOR_POOL_DECODE: LazyLock<(DescriptorPool, Option<String>)> =
    LazyLock::new(
        || match DescriptorPool::decode(include_bytes!("generated/file_descriptor_set.bin").as_ref()) {
            Ok(pool) => (pool, None),
            Err(err) => (DescriptorPool::new(), Some(err.to_string())),
        },
    );

/// The file descriptor set of `buf/validate/validate.proto` and its imports.
pub static DESCRIPTOR_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| DESCRIPTOR_POOL_DECODE.0.clone());

/// Why [`DESCRIPTOR_POOL`] is empty, if decoding the embedded set failed.
#[must_use]
pub fn descriptor_pool_decode_error() -> Option<&'static str> {
    DESCRIPTOR_POOL_DECODE.1.as_deref()
}

include!("generated/buf.validate.rs");
