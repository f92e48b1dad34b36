//! The users file: one operator per line, `name:role:hash`, where `hash`
//! is an Argon2id PHC string ([`super::password`]). `#` starts a comment.
//!
//! ```text
//! # telegate console users (telegate user add|passwd|remove|list)
//! lan:operator:$argon2id$v=19$m=19456,t=2,p=1$...$...
//! minh:admin:$argon2id$v=19$m=19456,t=2,p=1$...$...
//! ```
//!
//! The file is rewritten whole by the CLI (temporary file, fsync, rename,
//! mode 0600), so the gateway never reads half a file; the gateway re-reads
//! it when its modification time or size changes ([`Users`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use thiserror::Error;

/// What a user may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees alerts, devices, silences and the audit log.
    Viewer,
    /// Also acknowledges alerts and silences or unsilences them.
    Operator,
    /// Also decommissions devices.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the users file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub hash: String,
}

#[derive(Debug, Error)]
pub enum UserError {
    #[error("{path}: cannot read the users file")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write the users file")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {problem}. Fix: {fix}")]
    Line {
        path: String,
        line: usize,
        problem: String,
        fix: &'static str,
    },
    #[error("user name {0:?} is not allowed: use 1-64 of the characters a-z A-Z 0-9 . _ @ -")]
    BadName(String),
    #[error("user {0:?} already exists (change its password with `telegate user passwd`)")]
    Exists(String),
    #[error("no user {0:?} in the users file (`telegate user list` shows them)")]
    Unknown(String),
}

/// Whether `name` may be a user name: short, and safe in the file, a log
/// line and the page.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

/// The users file's contents, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFile {
    pub users: BTreeMap<String, User>,
}

impl UserFile {
    /// Parse the file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<UserFile, UserError> {
        let mut users = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |problem: String, fix| UserError::Line {
                path: path.to_owned(),
                line: i + 1,
                problem,
                fix,
            };
            let mut parts = line.splitn(3, ':');
            let (Some(name), Some(role), Some(hash)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(
                    "not `name:role:hash`".into(),
                    "manage the file with `telegate user add|passwd|remove`",
                ));
            };
            if !valid_name(name) {
                return Err(bad(format!("user name {name:?} is not allowed"), "rename the user"));
            }
            let Some(role) = Role::parse(role) else {
                return Err(bad(
                    format!("role {role:?} of {name:?} is not viewer, operator or admin"),
                    "use one of viewer, operator, admin",
                ));
            };
            if !hash.starts_with("$argon2id$") {
                return Err(bad(
                    format!("the password of {name:?} is not an Argon2id hash"),
                    "set it again with `telegate user passwd`",
                ));
            }
            if users.contains_key(name) {
                return Err(bad(format!("user {name:?} appears twice"), "keep one line per user"));
            }
            users.insert(
                name.to_owned(),
                User {
                    name: name.to_owned(),
                    role,
                    hash: hash.to_owned(),
                },
            );
        }
        Ok(UserFile { users })
    }

    /// Read `path`; a missing file is an empty one (the first `add` creates it).
    pub fn load(path: &Path) -> Result<UserFile, UserError> {
        match std::fs::read_to_string(path) {
            Ok(text) => UserFile::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UserFile::default()),
            Err(source) => Err(UserError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    pub fn render(&self) -> String {
        let mut out =
            String::from("# telegate console users: name:role:argon2id-hash (telegate user add|passwd|remove|list)\n");
        for u in self.users.values() {
            out.push_str(&format!("{}:{}:{}\n", u.name, u.role, u.hash));
        }
        out
    }

    /// Write the whole file: temporary file (mode 0600), fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), UserError> {
        let err = |source| UserError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(err)?;
        f.write_all(self.render().as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    pub fn add(&mut self, name: &str, role: Role, hash: String) -> Result<(), UserError> {
        if !valid_name(name) {
            return Err(UserError::BadName(name.to_owned()));
        }
        if self.users.contains_key(name) {
            return Err(UserError::Exists(name.to_owned()));
        }
        self.users.insert(
            name.to_owned(),
            User {
                name: name.to_owned(),
                role,
                hash,
            },
        );
        Ok(())
    }

    /// New hash and, when given, new role.
    pub fn update(&mut self, name: &str, role: Option<Role>, hash: Option<String>) -> Result<(), UserError> {
        let u = self
            .users
            .get_mut(name)
            .ok_or_else(|| UserError::Unknown(name.to_owned()))?;
        if let Some(r) = role {
            u.role = r;
        }
        if let Some(h) = hash {
            u.hash = h;
        }
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<User, UserError> {
        self.users
            .remove(name)
            .ok_or_else(|| UserError::Unknown(name.to_owned()))
    }
}

type Stamp = Option<(Option<SystemTime>, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| (m.modified().ok(), m.len()))
}

/// The gateway's view of the users file, re-read when it changes (one
/// `stat` per lookup). A file that turns unreadable or broken keeps the
/// last good contents in service and logs the error once per change.
#[derive(Debug)]
pub struct Users {
    path: PathBuf,
    cache: Mutex<(Stamp, Arc<UserFile>)>,
}

impl Users {
    /// Load `path` (an error stops the start: a broken file must be fixed,
    /// not silently serve no users).
    pub fn open(path: PathBuf) -> Result<Users, UserError> {
        let s = stamp(&path);
        let file = UserFile::load(&path)?;
        Ok(Users {
            path,
            cache: Mutex::new((s, Arc::new(file))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file as it is now.
    pub fn current(&self) -> Arc<UserFile> {
        let now = stamp(&self.path);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 != now {
            cache.0 = now;
            match UserFile::load(&self.path) {
                Ok(f) => {
                    tracing::info!(file = %self.path.display(), users = f.users.len(), "console users file re-read");
                    cache.1 = Arc::new(f);
                }
                Err(e) => {
                    tracing::error!(error = %telegate_model::ErrorChain(&e), "console users file not re-read; the previous users stay in service")
                }
            }
        }
        cache.1.clone()
    }

    pub fn get(&self, name: &str) -> Option<User> {
        self.current().users.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA";

    #[test]
    fn parse_render_round_trip() {
        let text = format!("# users\n\nlan:operator:{H}\nminh:admin:{H}\n");
        let f = UserFile::parse(&text, "users").unwrap();
        assert_eq!(f.users.len(), 2);
        assert_eq!(f.users["lan"].role, Role::Operator);
        assert_eq!(UserFile::parse(&f.render(), "users").unwrap(), f);
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let e = UserFile::parse(&format!("lan:operator:{H}\nhoa:chief:{H}\n"), "/etc/telegate/users").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/telegate/users:2: role \"chief\" of \"hoa\" is not viewer, operator or admin. Fix: use one of viewer, operator, admin"
        );
        assert!(
            UserFile::parse("lan:operator:$7$101$x$y\n", "u")
                .unwrap_err()
                .to_string()
                .contains("u:1:")
        );
        assert!(UserFile::parse("lan\n", "u").is_err());
        assert!(
            UserFile::parse(&format!("a:viewer:{H}\na:admin:{H}\n"), "u")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(UserFile::parse(&format!("bad name:viewer:{H}\n"), "u").is_err());
    }

    #[test]
    fn add_update_remove_and_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/users");
        let mut f = UserFile::load(&path).unwrap();
        assert!(f.users.is_empty(), "a missing file is empty");
        f.add("lan", Role::Viewer, H.into()).unwrap();
        assert!(matches!(f.add("lan", Role::Admin, H.into()), Err(UserError::Exists(_))));
        assert!(matches!(
            f.add("a:b", Role::Admin, H.into()),
            Err(UserError::BadName(_))
        ));
        f.update("lan", Some(Role::Operator), None).unwrap();
        assert!(matches!(f.update("x", None, None), Err(UserError::Unknown(_))));
        f.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let users = Users::open(path.clone()).unwrap();
        assert_eq!(users.get("lan").map(|u| u.role), Some(Role::Operator));
        f.remove("lan").unwrap();
        f.add("minh", Role::Admin, H.into()).unwrap();
        f.save(&path).unwrap();
        assert!(users.get("lan").is_none(), "re-read after the change");
        assert_eq!(users.get("minh").map(|u| u.role), Some(Role::Admin));
    }
}
