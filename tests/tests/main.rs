//! Every end-to-end test of the workspace, in one test binary (the
//! binary's command line alone is tested in its own package,
//! `crates/telegate/tests/cli.rs`, which also makes cargo build it).
//!
//! Each module is one concern (a file of this directory); the harness they
//! share (servers, clients, the gateway in-process, expectations) is the
//! `telegate-e2e` library in `tests/src`. One binary instead of one per file:
//! each test binary links the whole workspace and compiles its own copy of
//! the generic code it uses, once per file before. nextest still runs every
//! test in a process of its own, so tests stay as isolated as before. Run one
//! concern with a filter on its module, e.g.
//! `cargo nextest run -p telegate-e2e -E 'test(/^zero_loss::/)'`.

mod adding_a_sensor_type;
mod alerting;
mod alerting_email;
mod alerting_reload;
mod console;
mod dead_stage;
mod demo;
mod deploy_files;
mod device_access;
mod device_kit;
mod device_protocol_doc;
mod feedback_mqtt311;
mod harness;
mod hostile_input;
mod hot_reload;
mod influx_faults;
mod ingest_influxdb_v1;
mod ingest_victoria_v2;
mod observability;
mod poison;
mod rejections;
mod scale_out;
mod shutdown;
mod tls;
mod wal_faults;
mod zero_loss;
