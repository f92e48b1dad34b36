//! The committed code under `src/generated/` is what protox and prost-build
//! make of `proto/buf/validate/validate.proto` today. Regenerate it with
//! `TELEGATE_REGENERATE=1 cargo test -p prost-protovalidate-types`.
//!
//! protox compiles in pure Rust, so neither this test nor the build needs
//! `protoc` or the well-known types' `.proto` files (protox carries them).

use std::path::{Path, PathBuf};

use prost::Message;

const PROTO: &str = "buf/validate/validate.proto";

fn generate(out: &Path) -> (Vec<u8>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut compiler = protox::Compiler::new([root.join("proto")]).expect("proto dir exists");
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files([PROTO])
        .expect("validate.proto compiles with protox");
    // The encoded set keeps custom options (validate.proto's own
    // `(buf.validate.predefined)` annotations); protox's `prost_types` view
    // would drop them, so it is used only to drive code generation.
    let descriptor_bytes = compiler.encode_file_descriptor_set();
    let fds = prost_types::FileDescriptorSet::decode(descriptor_bytes.as_slice())
        .expect("protox encodes a valid descriptor set");

    // What prost-reflect-build's `Builder::descriptor_pool("DESCRIPTOR_POOL")` does.
    let pool = prost_reflect::DescriptorPool::decode(descriptor_bytes.as_slice()).expect("descriptor set decodes");
    let mut config = prost_build::Config::new();
    config.out_dir(out);
    for message in pool.all_messages() {
        let name = message.full_name();
        config
            .type_attribute(name, "#[derive(::prost_reflect::ReflectMessage)]")
            .type_attribute(name, format!(r#"#[prost_reflect(message_name = "{name}")]"#))
            .type_attribute(name, r#"#[prost_reflect(descriptor_pool = "DESCRIPTOR_POOL")]"#);
    }
    config.compile_fds(fds).expect("prost-build generates code");
    let code = std::fs::read_to_string(out.join("buf.validate.rs")).expect("generated file");
    (descriptor_bytes, code)
}

#[test]
fn committed_code_matches_what_protox_generates() {
    let out = tempfile::tempdir().expect("temp dir");
    let (descriptor_bytes, code) = generate(out.path());
    let generated = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/generated");
    if std::env::var_os("TELEGATE_REGENERATE").is_some() {
        std::fs::write(generated.join("file_descriptor_set.bin"), &descriptor_bytes).expect("write descriptor set");
        std::fs::write(generated.join("buf.validate.rs"), &code).expect("write code");
    }
    let committed_code = std::fs::read_to_string(generated.join("buf.validate.rs")).expect("committed code");
    let committed_bytes = std::fs::read(generated.join("file_descriptor_set.bin")).expect("committed descriptor set");
    assert!(
        committed_code == code && committed_bytes == descriptor_bytes,
        "src/generated/ is stale: run TELEGATE_REGENERATE=1 cargo test -p prost-protovalidate-types"
    );
}

#[test]
fn descriptor_pool_keeps_validate_proto_and_its_imports() {
    assert_eq!(prost_protovalidate_types::descriptor_pool_decode_error(), None);
    let pool = &*prost_protovalidate_types::DESCRIPTOR_POOL;
    for file in [
        PROTO,
        "google/protobuf/descriptor.proto",
        "google/protobuf/duration.proto",
    ] {
        assert!(pool.get_file_by_name(file).is_some(), "{file} missing from the pool");
    }
    // Custom options survive: the extension that carries field rules exists.
    assert!(pool.get_extension_by_name("buf.validate.field").is_some());
}
