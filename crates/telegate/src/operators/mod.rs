//! Operator identities for the console: who may look, who may act, and
//! the record of what they did.
//!
//! - [`users`] — the users file (`name:role:argon2id-hash` per line),
//!   managed by `telegate user add|passwd|remove|list`, re-read by the
//!   gateway whenever it changes (a removed user's sessions end at their
//!   next request).
//! - [`password`] — Argon2id hashing and verification.
//! - [`lockout`] — backoff after repeated failed logins, per user name and
//!   per source address, so guessing is slowed whichever one varies.
//! - [`sessions`] — login sessions (a random id in an `HttpOnly`,
//!   `SameSite=Strict` cookie, a CSRF token the page sends back on every
//!   state-changing request, an expiry).
//! - [`audit`] — the append-only audit log (JSON lines).
//! - [`config`] — `[admin.console]`.
//!
//! The HTTP side (login page, middleware, roles per route) is in
//! `crate::console`; what operators act on (acknowledgements, silences) is
//! in `crate::alerting::operator`.

pub mod audit;
pub mod cli;
pub mod config;
pub mod lockout;
pub mod password;
pub mod sessions;
pub mod users;

pub use audit::{AuditEntry, AuditLog};
pub use config::ConsoleConfig;
pub use users::{Role, User, Users};
