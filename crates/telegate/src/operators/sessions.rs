//! Login sessions: a random id (256 bits) the browser holds in a cookie,
//! and a CSRF token (256 bits) the page holds in memory and sends back in
//! `X-CSRF-Token` on every state-changing request. A cross-site page can
//! make the browser send the cookie (were `SameSite=Strict` ever bypassed)
//! but cannot read the token, so it cannot act.
//!
//! A session ends at logout, `session_ttl` after login (absolute: an
//! operator logs in once per shift), when its user is removed from the
//! users file, or when the gateway restarts (sessions are in memory only).
//! At most [`MAX_SESSIONS`]; the oldest is dropped beyond that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::time::Instant;

use super::password::{PasswordError, random_bytes};

/// Sessions held at most.
pub const MAX_SESSIONS: usize = 10_000;
/// The cookie's name.
pub const COOKIE: &str = "telegate_session";

/// One logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub csrf: String,
    pub expires: Instant,
}

#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    map: Mutex<HashMap<String, Session>>,
}

fn token() -> Result<String, PasswordError> {
    let b: [u8; 32] = random_bytes()?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// Compare without an early exit.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start a session for `user`: its id (for the cookie) and the session.
    pub fn start(&self, user: &str) -> Result<(String, Session), PasswordError> {
        let id = token()?;
        let s = Session {
            user: user.to_owned(),
            csrf: token()?,
            expires: Instant::now() + self.ttl,
        };
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        while map.len() >= MAX_SESSIONS {
            let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()) else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(id.clone(), s.clone());
        Ok((id, s))
    }

    /// The live session of `id`; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// End every session of `user` (removed from the users file).
    pub fn end_user(&self, user: &str) {
        self.lock().retain(|_, s| s.user != user);
    }
}

/// The session id in a `Cookie` header, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value starting a session (`secure`: over HTTPS).
pub fn set_cookie(id: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value ending it.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_and_end() {
        let s = Sessions::new(Duration::from_secs(3600));
        let (id, sess) = s.start("lan").unwrap();
        assert_eq!(id.len(), 43);
        assert_ne!(id, sess.csrf);
        assert_eq!(s.get(&id).map(|x| x.user), Some("lan".to_owned()));
        tokio::time::advance(Duration::from_secs(3599)).await;
        assert!(s.get(&id).is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(s.get(&id).is_none(), "absolute expiry");
        let (a, _) = s.start("lan").unwrap();
        let (b, _) = s.start("minh").unwrap();
        s.end_user("lan");
        assert!(s.get(&a).is_none() && s.get(&b).is_some());
        s.end(&b);
        assert!(s.get(&b).is_none());
    }

    #[test]
    fn cookies() {
        assert_eq!(from_cookie_header("a=1; telegate_session=xyz; b=2"), Some("xyz"));
        assert_eq!(from_cookie_header("a=1"), None);
        assert_eq!(
            set_cookie("xyz", Duration::from_secs(60), true),
            "telegate_session=xyz; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!clear_cookie(false).contains("Secure"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
