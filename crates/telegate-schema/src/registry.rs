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
use crate::mapping::SensorSchema;
use crate::options::OptionReader;
use crate::transcode::{Rules, TranscodeScratch};

/// Every sensor type the gateway accepts, compiled from a schema directory.
/// Immutable once loaded: a reload builds a new registry and swaps it in.
pub struct Registry {
    dir: PathBuf,
    pool: DescriptorPool,
    schemas: BTreeMap<String, Arc<SensorSchema>>,
    validator: Validator,
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

/// `file:line:column: message` for every error protox reports; its Display
/// alone omits where the error is.
fn describe_compile_error(err: &protox::Error) -> String {
    fn one(diag: &dyn Diagnostic, file_hint: Option<&str>) -> String {
        let location = diag
            .source_code()
            .zip(diag.labels().and_then(|mut l| l.next()))
            .and_then(|(src, label)| {
                let span = src.read_span(label.inner(), 0, 0).ok()?;
                let name = span
                    .name()
                    .map(str::to_owned)
                    .or(file_hint.map(str::to_owned))
                    .unwrap_or_default();
                Some(format!("{name}:{}:{}: ", span.line() + 1, span.column() + 1))
            });
        format!(
            "{}{diag}",
            location.unwrap_or_else(|| file_hint.map(|f| format!("{f}: ")).unwrap_or_default())
        )
    }
    let related: Vec<String> = err
        .related()
        .into_iter()
        .flatten()
        .map(|d| one(d, err.file()))
        .collect();
    if related.is_empty() {
        one(err, err.file())
    } else {
        related.join("; ")
    }
}

fn compile(dir: &Path, files: &[String], builtin: bool) -> Result<DescriptorPool, SchemaError> {
    let compile_err = |e: &dyn std::fmt::Display| SchemaError::Compile {
        dir: dir.to_owned(),
        message: e.to_string(),
    };
    // buf/validate/validate.proto comes from the descriptors prost-protovalidate embeds.
    let validate_set = prost_protovalidate::types::DESCRIPTOR_POOL.encode_to_vec();
    let validate = DescriptorSetFileResolver::decode(validate_set.as_slice()).map_err(|e| compile_err(&e))?;
    let mut resolver = ChainFileResolver::new();
    if builtin {
        resolver.add(EmbeddedResolver {
            sets: &[embedded::OPTIONS, embedded::SENSORS],
        });
    } else {
        resolver.add(IncludeFileResolver::new(dir.to_owned()));
        resolver.add(EmbeddedResolver {
            sets: &[embedded::OPTIONS],
        });
    }
    resolver.add(validate);
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(files).map_err(|e| SchemaError::Compile {
        dir: dir.to_owned(),
        message: describe_compile_error(&e),
    })?;
    // Never `file_descriptor_set()`: its prost-types structs drop custom options,
    // and with them every buf.validate rule and mapping annotation.
    Ok(compiler.descriptor_pool())
}

impl Registry {
    /// Compile every `.proto` file under `dir`. `type_map` adds sensor types for
    /// messages that carry no `(telegate.v1.sensor)` option (sensor type →
    /// fully-qualified message name); it overrides an option of the same type.
    pub fn load(dir: &Path, type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        let mut files = Vec::new();
        proto_files(dir, dir, &mut files)?;
        if files.is_empty() {
            return Err(SchemaError::NoProtoFiles { dir: dir.to_owned() });
        }
        let pool = compile(dir, &files, false)?;
        Self::from_pool(dir, pool, type_map)
    }

    /// The sensor types built into the binary (the repository's `proto/`).
    pub fn builtin(type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        let dir = Path::new("<built-in>");
        let files: Vec<String> = embedded::SENSORS.iter().map(|(n, _)| (*n).to_owned()).collect();
        let pool = compile(dir, &files, true)?;
        Self::from_pool(dir, pool, type_map)
    }

    fn from_pool(dir: &Path, pool: DescriptorPool, type_map: &BTreeMap<String, String>) -> Result<Self, SchemaError> {
        let options = OptionReader::new(&pool);
        let mut schemas: BTreeMap<String, Arc<SensorSchema>> = BTreeMap::new();
        for message in pool.all_messages() {
            let Some(opt) = options.sensor(&message) else { continue };
            if type_map.contains_key(&opt.sensor_type) {
                continue;
            }
            if !is_valid_identifier(&opt.sensor_type) {
                return Err(SchemaError::BadSensorType {
                    sensor_type: opt.sensor_type,
                });
            }
            let schema =
                SensorSchema::compile(&opt.sensor_type, &opt.measurement, &opt.description, &message, &options)?;
            if let Some(first) = schemas.get(&opt.sensor_type) {
                return Err(SchemaError::DuplicateSensorType {
                    sensor_type: opt.sensor_type,
                    first: format!("{} ({})", first.message.full_name(), first.file),
                    second: format!("{} ({})", message.full_name(), schema.file),
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
            let schema = SensorSchema::compile(sensor_type, &measurement, &description, &message, &options)?;
            schemas.insert(sensor_type.clone(), Arc::new(schema));
        }
        if schemas.is_empty() {
            return Err(SchemaError::NoSensorTypes);
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
                return Err(SchemaError::BadMapping {
                    message: schema.message.full_name().to_owned(),
                    file: schema.file.clone(),
                    problem: format!("buf.validate rules cannot be compiled: {e}"),
                });
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            pool,
            schemas,
            validator,
        })
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
        if let Err(duplicate) = crate::duplicates::check_lines(&out[start..]) {
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
