//! CSRF protection (DESIGN.md, "Security rules": a CSRF token on every state-changing form; a
//! POST without a valid one gets 403 and changes nothing).
//!
//! The token is OWASP's signed double-submit token: an HMAC of a random seed held in a cookie
//! and of who is signed in (see [`super::session`]), so it needs no server-side session and a
//! signed-out visitor's page view writes nothing. Every protected form carries it in a hidden
//! `csrf_token` field, and [`CsrfForm`] compares it in constant time *before* the handler runs.
//!
//! Why not a crate: the actix CSRF crates we evaluated (`actix-csrf`, `actix-csrf-middleware`)
//! describe themselves as unaudited and not ready for production; the pattern is these few
//! lines over the HMAC and cookie crates we already use.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::error::AppError;
use super::session::Session;

/// The form field every protected form carries.
pub const FIELD: &str = "csrf_token";

/// The token for forms on the page `session` is rendering.
pub fn token(session: &Session) -> String {
    session.csrf_token()
}

/// Whether `submitted` is this browser's token (constant-time comparison).
pub fn verify(session: &Session, submitted: &str) -> bool {
    session.verify_csrf(submitted)
}

/// A form whose CSRF token has been checked. `T` must have a `csrf_token` field (see
/// [`HasCsrfToken`]).
pub struct CsrfForm<T>(pub T);

/// Forms that carry a CSRF token.
pub trait HasCsrfToken {
    /// The submitted token.
    fn csrf_token(&self) -> &str;
}

impl<T> FromRequest for CsrfForm<T>
where
    T: DeserializeOwned + HasCsrfToken + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        let session = Session::of(req);
        Box::pin(async move {
            let session = session?;
            // An unreadable or oversized body keeps the answer the app's `FormConfig` gave it
            // (400 or 413).
            let form = form.await?;
            if !verify(&session, form.csrf_token()) {
                return Err(AppError::Csrf.into());
            }
            Ok(CsrfForm(form.into_inner()))
        })
    }
}

/// A form with nothing but its CSRF token (for buttons such as Revoke, Resend, Log out).
#[derive(Debug, serde::Deserialize)]
pub struct TokenOnly {
    /// The submitted token.
    #[serde(default)]
    pub csrf_token: String,
    /// Where to go afterwards (a local path; checked by the handler).
    #[serde(default)]
    pub next: Option<String>,
}

impl HasCsrfToken for TokenOnly {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
