//! Reading our `(telegate.v1.sensor)` and `(telegate.v1.field)` annotations
//! from descriptors. The extensions are looked up in the compiled pool itself,
//! so they are only found when the pool was built from descriptor bytes that
//! kept custom options (`Compiler::descriptor_pool`).

use prost_reflect::{DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, MessageDescriptor, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Auto,
    Value,
    Tag,
    Time,
    DeviceId,
    Samples,
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SensorOption {
    pub(crate) sensor_type: String,
    pub(crate) measurement: String,
    pub(crate) description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldOption {
    pub(crate) role: Role,
    pub(crate) unit: String,
    pub(crate) name: String,
}

#[derive(Debug)]
pub(crate) struct OptionReader {
    sensor: Option<ExtensionDescriptor>,
    field: Option<ExtensionDescriptor>,
}

fn string_field(msg: &DynamicMessage, name: &str) -> String {
    msg.get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn extension(options: &DynamicMessage, ext: Option<&ExtensionDescriptor>) -> Option<DynamicMessage> {
    let ext = ext?;
    if !options.has_extension(ext) {
        return None;
    }
    match options.get_extension(ext).into_owned() {
        Value::Message(m) => Some(m),
        _ => None,
    }
}

impl OptionReader {
    pub(crate) fn new(pool: &DescriptorPool) -> Self {
        Self {
            sensor: pool.get_extension_by_name("telegate.v1.sensor"),
            field: pool.get_extension_by_name("telegate.v1.field"),
        }
    }

    pub(crate) fn sensor(&self, message: &MessageDescriptor) -> Option<SensorOption> {
        let opt = extension(&message.options(), self.sensor.as_ref())?;
        Some(SensorOption {
            sensor_type: string_field(&opt, "type"),
            measurement: string_field(&opt, "measurement"),
            description: string_field(&opt, "description"),
        })
    }

    pub(crate) fn field(&self, field: &FieldDescriptor) -> FieldOption {
        let Some(opt) = extension(&field.options(), self.field.as_ref()) else {
            return FieldOption {
                role: Role::Auto,
                unit: String::new(),
                name: String::new(),
            };
        };
        let role = match opt.get_field_by_name("role").and_then(|v| v.as_enum_number()) {
            Some(1) => Role::Value,
            Some(2) => Role::Tag,
            Some(3) => Role::Time,
            Some(4) => Role::DeviceId,
            Some(5) => Role::Samples,
            Some(6) => Role::Ignore,
            _ => Role::Auto,
        };
        FieldOption {
            role,
            unit: string_field(&opt, "unit"),
            name: string_field(&opt, "name"),
        }
    }
}
