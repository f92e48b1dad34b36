//! Backoff after failed logins, per key: the user name tried and the
//! source address, each counted on its own, so guessing one user's
//! password from many addresses and trying many users from one address
//! are both slowed.
//!
//! The first `free_failures` failures of a key cost nothing but the
//! password check; each further one locks the key for `initial`, doubling
//! up to `max`. While a key is locked every attempt for it is refused with
//! the time left (HTTP 429 and `Retry-After`), *without* checking the
//! password — so a correct guess during a lock does not reveal itself. A
//! success clears the user's key (not the address's: an attacker who also
//! owns an account does not reset his address's count by logging in as
//! himself; the address's count fades after twice `max` of quiet, like any
//! key's).
//!
//! Time is `tokio::time::Instant`, so tests run the clock paused. Memory is
//! bounded: at most [`MAX_KEYS`] keys, the oldest forgotten first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Keys remembered at most (a spray from many addresses cannot grow the map
/// without bound).
pub const MAX_KEYS: usize = 10_000;

/// How failures turn into waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub free_failures: u32,
    pub initial: Duration,
    pub max: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

#[derive(Debug)]
pub struct Lockout {
    policy: Policy,
    keys: Mutex<HashMap<String, Entry>>,
}

impl Lockout {
    pub fn new(policy: Policy) -> Lockout {
        Lockout {
            policy,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The longest wait any of `keys` is locked for now; `None`: go ahead.
    pub fn locked(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let map = self.lock();
        keys.iter()
            .filter_map(|k| map.get(k)?.locked_until)
            .filter(|&until| until > now)
            .map(|until| until - now)
            .max()
    }

    /// Count a failure for every key; returns the lock it started (the
    /// longest), if any.
    pub fn failed(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let p = self.policy;
        let mut map = self.lock();
        // Forget keys quiet for twice `max` (at least a minute): their lock,
        // if any, is long over. And the oldest when full.
        let keep = (p.max * 2).max(Duration::from_secs(60));
        map.retain(|_, e| now.saturating_duration_since(e.last) < keep);
        while map.len() + keys.len() > MAX_KEYS {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| k.clone()) else {
                break;
            };
            map.remove(&oldest);
        }
        let mut longest = None;
        for k in keys {
            let e = map.entry(k.clone()).or_insert(Entry {
                failures: 0,
                locked_until: None,
                last: now,
            });
            e.failures = e.failures.saturating_add(1);
            e.last = now;
            if e.failures > p.free_failures {
                let doublings = (e.failures - p.free_failures - 1).min(20);
                let wait = p.initial.saturating_mul(1 << doublings).min(p.max);
                e.locked_until = Some(now + wait);
                longest = longest.max(Some(wait));
            }
        }
        longest
    }

    /// A successful login: forget `key`'s failures.
    pub fn succeeded(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The lockout key of a user name.
pub fn user_key(name: &str) -> String {
    format!("user:{name}")
}

/// The lockout key of a source address.
pub fn addr_key(addr: std::net::IpAddr) -> String {
    format!("addr:{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            free_failures: 3,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn free_failures_then_doubling_locks_up_to_the_cap() {
        let l = Lockout::new(policy());
        let k = [user_key("lan")];
        for _ in 0..3 {
            assert_eq!(l.failed(&k), None);
            assert_eq!(l.locked(&k), None);
        }
        let mut waits = Vec::new();
        for _ in 0..9 {
            let w = l.failed(&k).unwrap();
            assert_eq!(l.locked(&k), Some(w));
            waits.push(w.as_secs());
            tokio::time::advance(w).await;
            assert_eq!(l.locked(&k), None, "the lock ends by itself");
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_independent_and_success_clears_the_user() {
        let l = Lockout::new(policy());
        let a = addr_key("10.0.0.7".parse().unwrap());
        for user in ["lan", "minh", "hoa", "tuan"] {
            l.failed(&[user_key(user), a.clone()]);
        }
        // Four names from one address: the address is locked, no name is.
        assert!(l.locked(std::slice::from_ref(&a)).is_some());
        assert_eq!(l.locked(&[user_key("lan")]), None);
        assert!(l.locked(&[user_key("lan"), a.clone()]).is_some());
        for _ in 0..4 {
            l.failed(&[user_key("lan")]);
        }
        assert!(l.locked(&[user_key("lan")]).is_some());
        l.succeeded(&user_key("lan"));
        assert_eq!(l.locked(&[user_key("lan")]), None);
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_keys_are_forgotten_and_memory_is_bounded() {
        let l = Lockout::new(policy());
        for i in 0..(MAX_KEYS + 50) {
            l.failed(&[format!("addr:{i}")]);
        }
        assert!(l.lock().len() <= MAX_KEYS);
        tokio::time::advance(Duration::from_secs(121)).await;
        l.failed(&[user_key("x")]);
        assert_eq!(l.lock().len(), 1);
    }
}
