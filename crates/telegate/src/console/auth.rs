//! Who is asking: the console's authentication and authorization.
//!
//! Every `/api/*` request (except `POST /api/login`) names a
//! [`Principal`], in this order:
//!
//! 1. the admin bearer token (`Authorization: Bearer`, or `?token=` for
//!    `EventSource`) → [`Principal::Token`], role admin, recorded as
//!    `token`: machines (Prometheus, scripts, `telegate device
//!    decommission`) keep working with operator accounts on;
//! 2. a session cookie of a user still in the users file →
//!    [`Principal::User`] with the role the file gives now;
//! 3. neither token nor users configured → [`Principal::Open`] (role
//!    admin, recorded as `anonymous`): `telegate demo`, a loopback-only box.
//!
//! Anything else is 401. A state-changing request (not GET/HEAD) of a
//! session must carry the session's CSRF token in `X-CSRF-Token`, or it is
//! refused with 403 before its handler runs. Roles are checked by the
//! handlers ([`Principal::require`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use telegate_model::Secret;

use crate::operators::config::Language;
use crate::operators::lockout::Lockout;
use crate::operators::sessions::{self, Sessions};
use crate::operators::{Role, Users};

/// The header the page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the console decides who is asking (see the module docs).
#[derive(Debug)]
pub struct Auth {
    pub token: Secret,
    /// `None`: no operator accounts (`admin.console.users_file` empty).
    pub users: Option<Arc<Users>>,
    pub sessions: Sessions,
    pub lockout: Lockout,
    /// `admin.console.secure_cookie`.
    pub secure_cookie: bool,
    pub language: Language,
}

impl Auth {
    /// No token, no users: everyone is [`Principal::Open`] (tests, and the
    /// API mounted behind `admin::router`'s own token check).
    pub fn open() -> Auth {
        let c = crate::operators::ConsoleConfig::default();
        Auth {
            token: Secret::default(),
            users: None,
            sessions: Sessions::new(c.session_ttl),
            lockout: Lockout::new(c.lockout()),
            secure_cookie: false,
            language: c.language,
        }
    }

    /// From `[admin]`: the token, and `[admin.console]`'s users file (which
    /// must parse: a broken file stops the start rather than locking
    /// everyone out silently).
    pub fn from_config(admin: &crate::config::AdminConfig) -> Result<Auth, crate::operators::users::UserError> {
        let c = &admin.console;
        let users = if c.users_file.is_empty() {
            None
        } else {
            let users = Users::open(c.users_file.clone().into())?;
            if users.current().users.is_empty() {
                tracing::warn!(file = %c.users_file, "the console users file has no users yet: add one with `telegate user add NAME --role admin`");
            }
            Some(Arc::new(users))
        };
        Ok(Auth {
            token: admin.token.clone(),
            users,
            sessions: Sessions::new(c.session_ttl),
            lockout: Lockout::new(c.lockout()),
            secure_cookie: c.secure_cookie,
            language: c.language,
        })
    }

    /// `"users"` (login page), `"token"` (token form) or `"open"`.
    pub fn mode(&self) -> &'static str {
        if self.users.is_some() {
            "users"
        } else if self.token.is_empty() {
            "open"
        } else {
            "token"
        }
    }
}

/// The one asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Open,
    Token,
    User {
        name: String,
        role: Role,
        csrf: String,
        session: String,
    },
}

/// A refusal, as JSON `{"error": …}`.
pub fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "error": error.into() })),
    )
        .into_response()
}

impl Principal {
    /// The name recorded in the audit log and shown on acknowledgements.
    pub fn name(&self) -> &str {
        match self {
            Principal::Open => "anonymous",
            Principal::Token => "token",
            Principal::User { name, .. } => name,
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Principal::Open | Principal::Token => Role::Admin,
            Principal::User { role, .. } => *role,
        }
    }

    /// 403 unless the role is at least `role`.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, role: Role) -> Result<(), Response> {
        if self.role() >= role {
            Ok(())
        } else {
            Err(refuse(
                StatusCode::FORBIDDEN,
                format!("{} is {}; this needs the {role} role", self.name(), self.role()),
            ))
        }
    }
}

/// What `GET /api/session` answers.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    pub user: &'a str,
    pub role: Role,
    /// `session`, `token` or `open`.
    pub auth: &'static str,
    /// For `X-CSRF-Token` (sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<&'a str>,
    pub language: &'static str,
}

impl Principal {
    pub fn view(&self, language: Language) -> SessionView<'_> {
        let (auth, csrf) = match self {
            Principal::Open => ("open", None),
            Principal::Token => ("token", None),
            Principal::User { csrf, .. } => ("session", Some(csrf.as_str())),
        };
        SessionView {
            user: self.name(),
            role: self.role(),
            auth,
            csrf,
            language: language.as_str(),
        }
    }
}

/// The client's address, when the listener recorded it.
pub fn client_addr(req_extensions: &axum::http::Extensions) -> String {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}

/// The session cookie's id, if the request has one.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(sessions::from_cookie_header)
        .map(str::to_owned)
}

/// Who is asking, or `None`.
pub fn identify(auth: &Auth, headers: &HeaderMap, uri: &axum::http::Uri) -> Option<Principal> {
    if crate::admin::bearer_matches(&auth.token, headers, uri) {
        return Some(Principal::Token);
    }
    if let Some(users) = &auth.users
        && let Some(id) = session_id(headers)
        && let Some(s) = auth.sessions.get(&id)
    {
        return match users.get(&s.user) {
            Some(u) => Some(Principal::User {
                name: u.name,
                role: u.role,
                csrf: s.csrf,
                session: id,
            }),
            None => {
                // Removed from the users file: every session of it ends.
                auth.sessions.end_user(&s.user);
                None
            }
        };
    }
    (auth.users.is_none() && auth.token.is_empty()).then_some(Principal::Open)
}

/// The middleware: identify, check CSRF on state-changing requests, and
/// hand the [`Principal`] to the handler as an extension.
pub async fn authenticate(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    let Some(p) = identify(&auth, req.headers(), req.uri()) else {
        return (
            StatusCode::UNAUTHORIZED,
            [
                (header::WWW_AUTHENTICATE, "Bearer realm=\"telegate\""),
                (header::CACHE_CONTROL, "no-store"),
            ],
            Json(serde_json::json!({ "error": "log in (or send the admin bearer token)", "auth": auth.mode() })),
        )
            .into_response();
    };
    if let Principal::User { csrf, .. } = &p
        && !matches!(*req.method(), Method::GET | Method::HEAD)
    {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !sessions::same(sent, csrf) {
            return refuse(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (X-CSRF-Token): reload the page",
            );
        }
    }
    req.extensions_mut().insert(p);
    next.run(req).await
}
