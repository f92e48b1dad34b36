//! `telegate user add|passwd|remove|list`: the users file, edited whole
//! (read, change, write atomically), each change recorded in the audit
//! log. A running gateway notices the new file at the next login or
//! request.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::audit::{AuditEntry, AuditLog};
use super::password;
use super::users::{Role, UserFile};
use crate::cli::{UserCommand, UserRole, UsersArg};
use crate::config::Config;

fn role(r: UserRole) -> Role {
    match r {
        UserRole::Viewer => Role::Viewer,
        UserRole::Operator => Role::Operator,
        UserRole::Admin => Role::Admin,
    }
}

/// The users file and the audit log `args` point at.
fn paths(args: &UsersArg) -> anyhow::Result<(PathBuf, PathBuf)> {
    let loaded = if args.users.is_some() && args.config.config.is_none() {
        None
    } else {
        Some(Config::load(args.config.config.as_deref())?)
    };
    let users = match (&args.users, &loaded) {
        (Some(u), _) => u.clone(),
        (None, Some(l)) if !l.config.admin.console.users_file.is_empty() => {
            PathBuf::from(&l.config.admin.console.users_file)
        }
        (None, Some(l)) => bail!(
            "{}: key `admin.console.users_file` is empty. Fix: set it (e.g. users_file = \"/etc/telegate/console-users\") or pass --users FILE",
            l.file
        ),
        (None, None) => bail!("give --config FILE or --users FILE"),
    };
    let audit = match &loaded {
        Some(l) => l.config.admin.console.audit_path(&l.config.alerts.state_file),
        None => users.parent().unwrap_or(Path::new(".")).join("audit.log"),
    };
    Ok((users, audit))
}

/// Who ran the command, for the audit log.
fn operator_of_the_shell() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("by OS user {user}")
}

/// Turn terminal echo off (or back on) with `stty`, so no unsafe termios
/// call is needed; harmless when there is no terminal.
fn echo(on: bool) {
    if let Ok(tty) = std::fs::File::open("/dev/tty") {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(tty)
            .status();
    }
}

fn prompt(text: &str) -> anyhow::Result<String> {
    let mut err = std::io::stderr();
    write!(err, "{text}")?;
    err.flush()?;
    echo(false);
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    echo(true);
    writeln!(err)?;
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// The new password: one line of stdin with `--password-stdin`, else asked
/// twice on the terminal.
fn read_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("standard input is not a terminal: pass --password-stdin and write the password to it");
    }
    let first = prompt(&format!(
        "New password for {name} (at least {} characters): ",
        password::MIN_LEN
    ))?;
    let again = prompt("Again: ")?;
    if first != again {
        bail!("the two passwords differ; nothing changed");
    }
    Ok(first)
}

fn hash_for(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    let pw = read_password(name, from_stdin)?;
    password::hash(&pw).with_context(|| format!("password of {name}"))
}

fn audit(path: &Path, entry: AuditEntry) -> anyhow::Result<()> {
    AuditLog::open(path)?.append(&entry)?;
    Ok(())
}

pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        UserCommand::Add {
            name,
            role: r,
            password_stdin,
            users,
        } => {
            let (path, audit_path) = paths(&users)?;
            let mut file = UserFile::load(&path)?;
            if file.users.contains_key(&name) {
                bail!(
                    "user {name:?} already exists in {} (use `telegate user passwd`)",
                    path.display()
                );
            }
            let hash = hash_for(&name, password_stdin)?;
            file.add(&name, role(r), hash)?;
            file.save(&path)?;
            audit(
                &audit_path,
                AuditEntry::now("cli", "user_add").target(&name).note(format!(
                    "role {}, {}",
                    role(r),
                    operator_of_the_shell()
                )),
            )?;
            writeln!(out, "{name}: added as {} in {}", role(r), path.display())?;
        }
        UserCommand::Passwd {
            name,
            role: r,
            keep_password,
            password_stdin,
            users,
        } => {
            let (path, audit_path) = paths(&users)?;
            let mut file = UserFile::load(&path)?;
            if !file.users.contains_key(&name) {
                bail!("no user {name:?} in {} (`telegate user list`)", path.display());
            }
            let hash = if keep_password {
                None
            } else {
                Some(hash_for(&name, password_stdin)?)
            };
            let what = match (r, &hash) {
                (Some(r), Some(_)) => format!("new password, role {}", role(r)),
                (Some(r), None) => format!("role {}", role(r)),
                _ => "new password".to_owned(),
            };
            file.update(&name, r.map(role), hash)?;
            file.save(&path)?;
            audit(
                &audit_path,
                AuditEntry::now("cli", "user_passwd")
                    .target(&name)
                    .note(format!("{what}, {}", operator_of_the_shell())),
            )?;
            writeln!(out, "{name}: {what}")?;
        }
        UserCommand::Remove { name, users } => {
            let (path, audit_path) = paths(&users)?;
            let mut file = UserFile::load(&path)?;
            file.remove(&name)?;
            file.save(&path)?;
            audit(
                &audit_path,
                AuditEntry::now("cli", "user_remove")
                    .target(&name)
                    .note(operator_of_the_shell()),
            )?;
            writeln!(out, "{name}: removed (its console sessions end at their next request)")?;
        }
        UserCommand::List(users) => {
            let (path, _) = paths(&users)?;
            let file = UserFile::load(&path)?;
            if file.users.is_empty() {
                writeln!(out, "no users in {}", path.display())?;
            }
            for u in file.users.values() {
                writeln!(out, "{:<24} {}", u.name, u.role)?;
            }
        }
    }
    Ok(())
}
