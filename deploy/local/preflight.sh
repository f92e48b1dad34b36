# Sourced by deploy/local/demo.sh, deploy/local/run.sh and .ci/run before they
# build: the build needs cargo and a C compiler (ring, the TLS library, builds
# C and assembly) and nothing else — no protoc, no protobuf include files (the
# buf.validate types are pre-generated, see vendor/prost-protovalidate-types).
# A missing piece stops here with one line naming the command that installs it,
# instead of a build that fails minutes later with a page of errors.
preflight_build() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "telegate: cargo not found; install Rust with: curl --proto '=https' -sSf https://sh.rustup.rs | sh" >&2
    return 1
  fi
  if ! command -v cc >/dev/null 2>&1; then
    echo "telegate: no C compiler (cc) found; install one with: apt-get install -y gcc" >&2
    return 1
  fi
}
