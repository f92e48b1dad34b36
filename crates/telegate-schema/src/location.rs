//! Where a message, field or option is written: `path/to/file.proto:line:column`,
//! from the source info protox keeps (`include_source_info(true)`), with the
//! schema directory in front so an editor can jump to it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use prost_reflect::{FieldDescriptor, FileDescriptor, MessageDescriptor};

/// Turns descriptors into `file:line:column` as the integrator sees the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Locator {
    /// The schema directory (`None` for the built-in schemas only).
    dir: Option<PathBuf>,
    /// Files read from `dir` (relative names); every other file is built in.
    on_disk: BTreeSet<String>,
}

impl Locator {
    pub(crate) fn new(dir: Option<&Path>, on_disk: &[String]) -> Self {
        Self {
            dir: dir.map(Path::to_owned),
            on_disk: on_disk.iter().cloned().collect(),
        }
    }

    /// Whether the file came from the schema directory (not built in).
    pub(crate) fn is_on_disk(&self, name: &str) -> bool {
        self.on_disk.contains(name)
    }

    /// The file as a path the integrator can open: `DIR/name` for a file of
    /// the schema directory, `name (built in)` otherwise.
    pub(crate) fn file(&self, name: &str) -> String {
        match &self.dir {
            Some(dir) if self.on_disk.contains(name) => dir.join(name).display().to_string(),
            _ => format!("{name} (built in)"),
        }
    }

    /// The file on disk, for a file of the schema directory.
    pub(crate) fn path(&self, name: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        self.on_disk.contains(name).then(|| dir.join(name))
    }

    fn at(&self, file: &FileDescriptor, path: &[i32]) -> String {
        let name = file.name();
        let shown = self.file(name);
        let span = file
            .file_descriptor_proto()
            .source_code_info
            .as_ref()
            .and_then(|info| info.location.iter().find(|l| l.path == path))
            .and_then(|l| Some((*l.span.first()?, *l.span.get(1)?)));
        match span {
            // Spans are 0-based; editors count from 1.
            Some((line, col)) if self.on_disk.contains(name) => format!("{shown}:{}:{}", line + 1, col + 1),
            _ => shown,
        }
    }

    pub(crate) fn message(&self, m: &MessageDescriptor) -> String {
        self.at(&m.parent_file(), m.path())
    }

    pub(crate) fn field(&self, f: &FieldDescriptor) -> String {
        self.at(&f.parent_file(), f.path())
    }
}
