//! Noticing that the rules file or the gateway's config file changed:
//! modification time and size, polled like the schema directory
//! (`crate::reload`), so it works on network mounts and on Kubernetes
//! ConfigMaps (symlink swaps) with no inotify dependency.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use telegate_alert::AlertConfig;
use telegate_model::error_chain;

use super::config::AlertsConfig;
use crate::config::Config;

/// Editors write a file in several steps; wait for it to settle.
pub const SETTLE: Duration = Duration::from_millis(150);

type Stamp = Option<(Option<SystemTime>, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).ok().map(|m| (m.modified().ok(), m.len()))
}

/// The files alerting reads after start, and how they looked last time.
#[derive(Debug)]
pub struct Watched {
    pub rules: PathBuf,
    /// The gateway's config file (for `[alerts]` outputs); `None` when the
    /// gateway was started from a config in memory (tests, the embedded default).
    pub config: Option<PathBuf>,
    last: (Stamp, Stamp),
}

/// What a reload read: each part independently, so a broken config file
/// does not hold back a fixed rules file.
#[derive(Debug)]
pub struct Reread {
    pub rules: Result<AlertConfig, String>,
    /// `None` without a config file.
    pub alerts: Option<Result<AlertsConfig, String>>,
}

impl Watched {
    pub fn new(rules: PathBuf, config: Option<PathBuf>) -> Self {
        let mut w = Watched {
            rules,
            config,
            last: (None, None),
        };
        w.last = w.now();
        w
    }

    fn now(&self) -> (Stamp, Stamp) {
        (stamp(&self.rules), self.config.as_deref().and_then(stamp))
    }

    /// Whether either file changed since the last [`Watched::reread`].
    pub fn changed(&self) -> bool {
        self.now() != self.last
    }

    /// Read both files afresh (blocking: run it on the blocking pool). The
    /// config is read first: it may name another rules file.
    pub fn reread(&mut self) -> Reread {
        self.last = self.now();
        let alerts = self.config.as_deref().map(|path| {
            Config::load(Some(path))
                .map(|loaded| loaded.config.alerts)
                .map_err(|e| error_chain(&e))
        });
        if let Some(Ok(a)) = &alerts
            && !a.rules_file.is_empty()
            && Path::new(&a.rules_file) != self.rules
        {
            tracing::info!(from = %self.rules.display(), to = %a.rules_file, "alerts.rules_file changed: reading the new file");
            self.rules = PathBuf::from(&a.rules_file);
            self.last = self.now();
        }
        let rules = AlertConfig::from_file(&self.rules).map_err(|e| error_chain(&e));
        Reread { rules, alerts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_size_is_noticed_and_reread_resets_it() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, "").unwrap();
        let mut w = Watched::new(rules.clone(), None);
        assert!(!w.changed());
        std::fs::write(&rules, "[defaults]\nrenotify = \"1h\"\n").unwrap();
        assert!(w.changed());
        let r = w.reread();
        assert!(r.rules.is_ok(), "{:?}", r.rules);
        assert!(r.alerts.is_none());
        assert!(!w.changed());
        std::fs::write(&rules, "[[rule]]\nid = 1\n").unwrap();
        let r = w.reread();
        assert!(r.rules.unwrap_err().contains("rules.toml"));
    }
}
