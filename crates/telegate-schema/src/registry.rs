use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::Diagnostic;
use prost_protovalidate::Validator;
use prost_reflect::{DescriptorPool, DynamicMessage};
use protox::file::{ChainFileResolver, DescriptorSetFileResolver, GoogleFileResolver, IncludeFileResolver};
use telegate_model::{Point, RejectReason, Rejection, TopicFields, is_valid_identifier};

use crate::decode::Window;
use crate::embedded::{self, EmbeddedResolver};
use crate::error::SchemaError;
use crate::limits::Limits;
use crate::location::Locator;
use crate::mapping::SensorSchema;
use crate::options::OptionReader;
use crate::transcode::{Rules, TranscodeScratch};
use crate::warning::SchemaWarning;

/// Every sensor type the gateway accepts, compiled from a schema directory.
/// Immutable once loaded: a reload builds a new registry and swaps it in.
pub struct Registry {
    dir: PathBuf,
    pool: DescriptorPool,
    schemas: BTreeMap<String, Arc<SensorSchema>>,
    validator: Validator,
    warnings: Vec<SchemaWarning>,
    sources: BTreeMap<String, Arc<str>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.dir)
            .field("sensor_types", &self.schemas.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn proto_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), SchemaError> {
    let read_err = |source| SchemaError::ReadDir {
        dir: dir.to_owned(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            proto_files(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto")
            && let Ok(rel) = path.strip_prefix(root)
        {
            let name: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect();
            out.push(name.join("/"));
        }
    }
    Ok(())
}

/// What to add to a file whose compile error names something it did not
/// import (protox only says `name '…' is not defined`).
fn import_hint(problem: &str) -> Option<&'static str> {
    let names = |prefix: &str| problem.contains(&format!("'{prefix}")) || problem.contains(&format!("`{prefix}"));
    if !(problem.contains("not defined") || problem.contains("not found") || problem.contains("unknown")) {
        return None;
    }
    if names("buf.validate") {
        Some(
            "add `import \"buf/validate/validate.proto\";` to the file (built into telegate; `telegate schema export DIR` writes a copy for protoc)",
        )
    } else if names("telegate.v1") {
        Some(
            "add `import \"telegate/v1/options.proto\";` to the file (built into telegate; `telegate schema export DIR` writes a copy for protoc)",
        )
    } else if names("google.protobuf.Timestamp") {
        Some("add `import \"google/protobuf/timestamp.proto\";` to the file")
    } else {
        None
    }
}

/// `file:line:column: ` of the first use of the name in `name '…' is not
/// defined`, for the errors protox reports without a position (options).
fn undefined_name_at(loc: &Locator, file: &str, problem: &str) -> Option<String> {
    let name = problem.strip_prefix("name '")?.split('\'').next()?;
    let text = std::fs::read_to_string(loc.path(file)?).ok()?;
    text.lines().enumerate().find_map(|(i, line)| {
        let col = line.find(name)?;
        Some(format!("{}:{}:{}: ", loc.file(file), i + 1, col + 1))
    })
}

/// `file:line:column: message` for every error protox reports (its Display
/// alone omits where the error is), with the schema directory in front of
/// the file and a hint for a missing import.
fn describe_compile_error(err: &protox::Error, loc: &Locator) -> String {
    fn one(diag: &dyn Diagnostic, file_hint: Option<&str>, loc: &Locator) -> String {
        let position = diag
            .source_code()
            .zip(diag.labels().and_then(|mut l| l.next()))
            .and_then(|(src, label)| {
                let span = src.read_span(label.inner(), 0, 0).ok()?;
                let name = span.name().map(str::to_owned).or(file_hint.map(str::to_owned))?;
                Some((name, span.line() + 1, span.column() + 1))
            });
        let location = position
            .as_ref()
            .map(|(name, line, col)| format!("{}:{line}:{col}: ", loc.file(name)));
        let mut problem = diag.to_string();
        // An option value with a key its type lacks: name the key.
        if let Some(key) = position.as_ref().and_then(|(name, line, col)| {
            let text = std::fs::read_to_string(loc.path(name)?).ok()?;
            crate::option_keys::unknown_key(&text, *line, *col, &problem)
        }) {
            problem.push_str(": ");
            problem.push_str(&key);
        }
        let location = location
            .or_else(|| file_hint.and_then(|f| undefined_name_at(loc, f, &problem)))
            .unwrap_or_else(|| file_hint.map(|f| format!("{}: ", loc.file(f))).unwrap_or_default());
        let mut line = format!("{location}{problem}");
        if let Some(hint) = import_hint(&problem) {
            line.push_str(": ");
            line.push_str(hint);
        }
        line
    }
    let mut lines: Vec<String> = err
        .related()
        .into_iter()
        .flatten()
        .map(|d| one(d, err.file(), loc))
        .collect();
    if lines.is_empty() {
        lines.push(one(err, err.file(), loc));
    }
    lines.dedup();
    lines.join("; ")
}

/// Which files a registry compiles: the schema directory's, the built-in
/// sensor types', or both (a file of the directory with a built-in's name
/// takes its place).
struct Sources<'a> {
    dir: Option<&'a Path>,
    on_disk: Vec<String>,
    builtin: bool,
}

fn compile(sources: &Sources<'_>, loc: &Locator) -> Result<DescriptorPool, SchemaError> {
    let shown_dir = sources.dir.unwrap_or(Path::new(BUILTIN_DIR)).to_owned();
    let compile_err = |e: &dyn std::fmt::Display| SchemaError::Compile {
        dir: shown_dir.clone(),
        message: e.to_string(),
    };
    // buf/validate/validate.proto comes from the descriptors prost-protovalidate embeds.
    let validate_set = prost_protovalidate::types::DESCRIPTOR_POOL.encode_to_vec();
    let validate = DescriptorSetFileResolver::decode(validate_set.as_slice()).map_err(|e| compile_err(&e))?;
    let mut resolver = ChainFileResolver::new();
    if let Some(dir) = sources.dir {
        resolver.add(IncludeFileResolver::new(dir.to_owned()));
    }
    resolver.add(EmbeddedResolver {
        sets: if sources.builtin {
            &[embedded::OPTIONS, embedded::SENSORS]
        } else {
            &[embedded::OPTIONS]
        },
    });
    resolver.add(validate);
    resolver.add(GoogleFileResolver::new());
    let mut files = sources.on_disk.clone();
    if sources.builtin {
        for (name, _) in embedded::SENSORS {
            if !files.iter().any(|f| f == name) {
                files.push((*name).to_owned());
            }
        }
    }
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    // Source info: mapping errors and warnings name the line.
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files).map_err(|e| SchemaError::Compile {
        dir: shown_dir.clone(),
        message: describe_compile_error(&e, loc),
    })?;
    // Never `file_descriptor_set()`: its prost-types structs drop custom options,
    // and with them every buf.validate rule and mapping annotation.
    Ok(compiler.descriptor_pool())
}

/// How [`Registry::dir`] shows the built-in schemas.
const BUILTIN_DIR: &str = "<built-in>";

/// The source of every file in the pool (google/protobuf's aside), plus the
/// two files every schema may import, for `telegate schema export`.
fn source_texts(pool: &DescriptorPool, sources: &Sources<'_>) -> Result<BTreeMap<String, Arc<str>>, SchemaError> {
    let mut out = BTreeMap::new();
    for (name, text) in embedded::OPTIONS.iter().chain(embedded::VALIDATE) {
        out.insert((*name).to_owned(), Arc::from(*text));
    }
    for file in pool.files() {
        let name = file.name();
        if name.starts_with("google/protobuf/") {
            continue;
        }
        if let (Some(dir), true) = (sources.dir, sources.on_disk.iter().any(|f| f == name)) {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|source| SchemaError::ReadDir { dir: path, source })?;
            out.insert(name.to_owned(), Arc::from(text));
        } else if let Some((_, text)) = embedded::SENSORS.iter().find(|(n, _)| *n == name) {
            out.insert(name.to_owned(), Arc::from(*text));
        }
    }
    Ok(out)
}

/// Files of the schema directory that replace a built-in file with other
/// content: a copy from an older telegate (the guide once said to copy
/// `proto/telegate` into the directory) that hides the built-in's changes.
fn stale_copies(texts: &BTreeMap<String, Arc<str>>, loc: &Locator) -> Vec<SchemaWarning> {
    embedded::SENSORS
        .iter()
        .chain(embedded::OPTIONS)
        .filter(|(name, builtin)| {
            loc.is_on_disk(name) && texts.get(*name).is_some_and(|text| &**text != *builtin)
        })
        .map(|(name, _)| {
            SchemaWarning::new(
                loc.file(name),
                format!("replaces the built-in {name}, which differs from it (an old copy hides this telegate's version)"),
                "delete the file to serve the built-in version, or rename it (and its package) if it is a type of your own",
            )
        })
        .collect()
}

/// What a reload changed, by sensor type name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Types in both whose batch or sample message, enums or options differ.
    pub changed: Vec<String>,
}

/// A message that looks like a sensor batch: a device id and a repeated
/// message field of samples.
fn batch_shaped(message: &prost_reflect::MessageDescriptor, options: &OptionReader) -> bool {
    use crate::options::Role;
    let mut device = false;
    let mut samples = false;
    for f in message.fields() {
        let role = options.field(&f).role;
        if role == Role::DeviceId || (f.name() == "device_id" && f.kind() == prost_reflect::Kind::String) {
            device = true;
        }
        if role == Role::Samples
            || (f.is_list()
                && matches!(f.kind(), prost_reflect::Kind::Message(m) if m.full_name() != "google.protobuf.Timestamp"))
        {
            samples = true;
        }
    }
    device && samples
}

impl Registry {
    /// Compile every `.proto` file under `dir` (and nothing else: the
    /// built-in sensor types are not loaded). `type_map` adds sensor types for
    /// messages that carry no `(telegate.v1.sensor)` option (sensor type →
    /// fully-qualified message name); it overrides an option of the same type.
    pub fn load(dir: &Path, type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        Self::load_dir(dir, type_map, false)
    }

    /// [`Registry::load`] plus the built-in sensor types (`schema.builtin`);
    /// a file of `dir` with a built-in file's name replaces it.
    pub fn load_with_builtin(dir: &Path, type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        Self::load_dir(dir, type_map, true)
    }

    fn load_dir(dir: &Path, type_map: &BTreeMap<String, String>, builtin: bool) -> Result<Self, SchemaError> {
        let mut on_disk = Vec::new();
        proto_files(dir, dir, &mut on_disk)?;
        // Beside the built-in types an empty directory is a fresh install.
        if on_disk.is_empty() && !builtin {
            return Err(SchemaError::NoProtoFiles { dir: dir.to_owned() });
        }
        let sources = Sources {
            dir: Some(dir),
            on_disk,
            builtin,
        };
        Self::compile_sources(&sources, type_map)
    }

    /// The sensor types built into the binary (the repository's `proto/`).
    pub fn builtin(type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        let sources = Sources {
            dir: None,
            on_disk: Vec::new(),
            builtin: true,
        };
        Self::compile_sources(&sources, type_map)
    }

    fn compile_sources(sources: &Sources<'_>, type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        let loc = Locator::new(sources.dir, &sources.on_disk);
        let pool = compile(sources, &loc)?;
        let texts = source_texts(&pool, sources)?;
        let shown = match sources.dir {
            Some(dir) if sources.builtin => format!("{} and the built-in types", dir.display()),
            Some(dir) => dir.display().to_string(),
            None => BUILTIN_DIR.to_owned(),
        };
        let mut registry = Self::from_pool(PathBuf::from(shown), pool, type_map, &loc)?;
        if sources.builtin {
            registry.warnings.extend(stale_copies(&texts, &loc));
        }
        registry.sources = texts;
        Ok(registry)
    }

    fn from_pool(
        dir: PathBuf,
        pool: DescriptorPool,
        type_map: &BTreeMap<String, String>,
        loc: &Locator,
    ) -> Result<Self, SchemaError> {
        let options = OptionReader::new(&pool);
        let mut schemas: BTreeMap<String, Arc<SensorSchema>> = BTreeMap::new();
        let mut warnings = Vec::new();
        for message in pool.all_messages() {
            let Some(opt) = options.sensor(&message) else {
                if loc.is_on_disk(message.parent_file().name())
                    && !type_map.values().any(|m| m == message.full_name())
                    && batch_shaped(&message, &options)
                {
                    warnings.push(SchemaWarning::new(
                        loc.message(&message),
                        format!(
                            "{} looks like a sensor batch (a device id and repeated samples) but has no option (telegate.v1.sensor): no topic reaches it, and devices sending it get unknown_sensor_type",
                            message.full_name()
                        ),
                        format!(
                            "add `option (telegate.v1.sensor) = {{type: \"my_type\"}};` inside `message {}`, or map it in the config: [schema.types] my_type = \"{}\"",
                            message.name(),
                            message.full_name()
                        ),
                    ));
                }
                continue;
            };
            if type_map.contains_key(&opt.sensor_type) {
                continue;
            }
            if opt.sensor_type.is_empty() {
                return Err(SchemaError::BadMapping {
                    message: message.full_name().to_owned(),
                    location: loc.message(&message),
                    problem:
                        "option (telegate.v1.sensor) has no `type`: add `type: \"my_type\"` (the topic's {sensor_type})"
                            .to_owned(),
                });
            }
            if !is_valid_identifier(&opt.sensor_type) {
                return Err(SchemaError::BadSensorType {
                    sensor_type: opt.sensor_type,
                });
            }
            let schema = SensorSchema::compile(
                &opt.sensor_type,
                &opt.measurement,
                &opt.description,
                &message,
                &options,
                loc,
            )?;
            if let Some(first) = schemas.get(&opt.sensor_type) {
                let builtin = [&first.file, &schema.file]
                    .iter()
                    .any(|f| !loc.is_on_disk(f) || embedded::SENSORS.iter().any(|(n, _)| n == f));
                return Err(SchemaError::DuplicateSensorType {
                    sensor_type: opt.sensor_type,
                    first: format!("{} ({})", first.message.full_name(), loc.message(&first.message)),
                    second: format!("{} ({})", message.full_name(), loc.message(&message)),
                    hint: if builtin {
                        "; to replace a built-in type, set schema.builtin = false and keep the built-in files you want (telegate schema export DIR writes them)".to_owned()
                    } else {
                        String::new()
                    },
                });
            }
            schemas.insert(opt.sensor_type, Arc::new(schema));
        }
        for (sensor_type, name) in type_map {
            if !is_valid_identifier(sensor_type) {
                return Err(SchemaError::BadSensorType {
                    sensor_type: sensor_type.clone(),
                });
            }
            let message = pool
                .get_message_by_name(name)
                .ok_or_else(|| SchemaError::UnknownMessage {
                    sensor_type: sensor_type.clone(),
                    message: name.clone(),
                })?;
            let (measurement, description) = options
                .sensor(&message)
                .map(|o| (o.measurement, o.description))
                .unwrap_or_default();
            let schema = SensorSchema::compile(sensor_type, &measurement, &description, &message, &options, loc)?;
            schemas.insert(sensor_type.clone(), Arc::new(schema));
        }
        if schemas.is_empty() {
            return Err(SchemaError::NoSensorTypes);
        }
        let mut by_measurement: BTreeMap<&str, Vec<&SensorSchema>> = BTreeMap::new();
        for schema in schemas.values() {
            warnings.extend(schema.warnings.iter().cloned());
            by_measurement.entry(&schema.measurement).or_default().push(schema);
        }
        for group in by_measurement.values_mut() {
            // The measurement belongs to the type of its name, else to a
            // built-in type; the others are warned about.
            group.sort_by_key(|s| (s.sensor_type != s.measurement, loc.is_on_disk(&s.file)));
            let Some((first, rest)) = group.split_first() else {
                continue;
            };
            for schema in rest {
                warnings.push(SchemaWarning::new(
                    loc.message(&schema.message),
                    format!(
                        "sensor type `{}` writes into measurement `{}`, which sensor type `{}` ({}) already writes: their points mix in one measurement, and a column both have with different types makes InfluxDB refuse writes",
                        schema.sensor_type,
                        schema.measurement,
                        first.sensor_type,
                        loc.message(&first.message)
                    ),
                    format!(
                        "give it a measurement of its own: (telegate.v1.sensor).measurement = \"{}\" (leave it only if the types are meant to share one)",
                        schema.sensor_type
                    ),
                ));
            }
        }
        let validator = Validator::new();
        for schema in schemas.values() {
            // Compile every rule now, so a schema the validator cannot run (CEL
            // rules: this build evaluates standard rules only; a rule of the
            // wrong type, `double` rules on a `float`) fails at load time
            // instead of rejecting every reading later. The probe holds one
            // default sample: the validator compiles a nested message's rules
            // only when it meets one.
            let mut probe = DynamicMessage::new(schema.message.clone());
            probe.set_field(
                schema.samples_field(),
                prost_reflect::Value::List(vec![prost_reflect::Value::Message(DynamicMessage::new(
                    schema.sample.clone(),
                ))]),
            );
            if let Err(e @ (prost_protovalidate::Error::Compilation(_) | prost_protovalidate::Error::Runtime(_))) =
                validator.validate(&probe)
            {
                return Err(SchemaError::BadRules {
                    message: schema.message.full_name().to_owned(),
                    location: loc.message(&schema.message),
                    source: Box::new(e),
                });
            }
        }
        Ok(Self {
            dir,
            pool,
            schemas,
            validator,
            warnings,
            sources: BTreeMap::new(),
        })
    }

    /// What may surprise at run time without stopping the load (`telegate
    /// check` prints them; the gateway logs them).
    pub fn warnings(&self) -> &[SchemaWarning] {
        &self.warnings
    }

    /// What changed from `old` to this registry, by sensor type.
    pub fn changes_since(&self, old: &Registry) -> SchemaChanges {
        let mut c = SchemaChanges::default();
        for (name, schema) in &self.schemas {
            match old.schemas.get(name) {
                None => c.added.push(name.clone()),
                Some(prev) if prev.fingerprint != schema.fingerprint => c.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        c.removed = old
            .schemas
            .keys()
            .filter(|n| !self.schemas.contains_key(*n))
            .cloned()
            .collect();
        c
    }

    /// The `.proto` source of every file in service (the schema
    /// directory's and the built-in ones), `telegate/v1/options.proto` and
    /// `buf/validate/validate.proto`, by import name.
    pub fn sources(&self) -> &BTreeMap<String, Arc<str>> {
        &self.sources
    }

    /// Write [`Registry::sources`] under `out` (directories created as
    /// needed), so `protoc -I out` or nanopb can compile the schemas in
    /// service. Returns the files written.
    pub fn export(&self, out: &Path) -> Result<Vec<PathBuf>, SchemaError> {
        let mut written = Vec::new();
        for (name, text) in &self.sources {
            let path = out.join(name);
            let err = |source| SchemaError::Export {
                path: path.clone(),
                source,
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(err)?;
            }
            std::fs::write(&path, text.as_bytes()).map_err(err)?;
            written.push(path);
        }
        Ok(written)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    pub fn get(&self, sensor_type: &str) -> Option<&Arc<SensorSchema>> {
        self.schemas.get(sensor_type)
    }

    /// Sensor types in name order.
    pub fn schemas(&self) -> impl Iterator<Item = &Arc<SensorSchema>> {
        self.schemas.values()
    }

    /// Check and map one payload, appending one point per sample to `out`.
    /// On rejection `out` is left as it was.
    pub fn decode(
        &self,
        origin: &TopicFields<'_>,
        payload: &[u8],
        now_ns: i64,
        limits: &Limits,
        out: &mut Vec<Point>,
    ) -> Result<(), Rejection> {
        let schema = self.resolve(origin, payload, limits)?;
        let start = out.len();
        let result = schema.decode_into(&self.validator, origin, payload, Window::new(now_ns, limits), out);
        if result.is_ok()
            && let Err(duplicate) = crate::duplicates::check_points(&out[start..])
        {
            out.truncate(start);
            return Err(duplicate);
        }
        result
    }

    /// Check one payload and append its line protocol (one line per sample)
    /// to `out` through the sensor type's compiled [`Transcoder`]: the same
    /// checks, lines and rejection reasons as [`Registry::decode`] followed
    /// by line-protocol encoding, without building a `DynamicMessage`.
    /// Returns the number of points written, or `Ok(None)` with nothing
    /// checked when the type has no transcoder (see
    /// [`SensorSchema::transcoder`]): use `decode` for it. On rejection
    /// `out` is left as it was.
    ///
    /// [`Transcoder`]: crate::Transcoder
    pub fn transcode(
        &self,
        origin: &TopicFields<'_>,
        payload: &[u8],
        now_ns: i64,
        limits: &Limits,
        scratch: &mut TranscodeScratch,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, Rejection> {
        self.transcode_with(origin, payload, now_ns, limits, Rules::Check, scratch, out)
    }

    /// [`Registry::transcode`] without the schemas' `buf.validate` rules:
    /// only for benchmarks measuring what the rules cost. Never enabled in
    /// the gateway.
    #[cfg(feature = "bench-internals")]
    pub fn transcode_unvalidated(
        &self,
        origin: &TopicFields<'_>,
        payload: &[u8],
        now_ns: i64,
        limits: &Limits,
        scratch: &mut TranscodeScratch,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, Rejection> {
        self.transcode_with(origin, payload, now_ns, limits, Rules::Skip, scratch, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn transcode_with(
        &self,
        origin: &TopicFields<'_>,
        payload: &[u8],
        now_ns: i64,
        limits: &Limits,
        rules: Rules,
        scratch: &mut TranscodeScratch,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, Rejection> {
        let schema = self.resolve(origin, payload, limits)?;
        // Offsets into the payload are kept as u32.
        let (Ok(transcoder), Ok(_)) = (schema.transcoder(), u32::try_from(payload.len())) else {
            return Ok(None);
        };
        let start = out.len();
        let points = transcoder.transcode(origin, payload, Window::new(now_ns, limits), rules, scratch, out)?;
        // One line per sample: a single sample has nothing to repeat.
        if points > 1
            && let Err(duplicate) = crate::duplicates::check_lines(&out[start..])
        {
            out.truncate(start);
            return Err(duplicate);
        }
        Ok(Some(points))
    }

    /// The size check and the sensor type's schema, shared by both paths.
    fn resolve(&self, origin: &TopicFields<'_>, payload: &[u8], limits: &Limits) -> Result<&SensorSchema, Rejection> {
        if payload.len() > limits.max_payload_bytes {
            return Err(Rejection::new(
                RejectReason::PayloadTooLarge,
                format!(
                    "payload is {} bytes, limit is {} (limits.max_payload_bytes)",
                    payload.len(),
                    limits.max_payload_bytes
                ),
            ));
        }
        let schema = self.get(origin.sensor_type).ok_or_else(|| {
            Rejection::new(
                RejectReason::UnknownSensorType,
                format!(
                    "no schema for sensor type `{}` (known: {})",
                    origin.sensor_type,
                    self.schemas.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        Ok(schema)
    }
}
