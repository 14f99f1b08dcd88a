//! CSRF protection: the synchronizer-token pattern (OWASP) on top of our server-side session.
//!
//! Each session holds one random token; every state-changing form carries it in a hidden
//! `csrf_token` field, and [`CsrfForm`] compares it in constant time *before* the handler runs,
//! so a POST without a valid token gets 403 and changes nothing.
//!
//! Why not a crate: the actix CSRF crates we evaluated (`actix-csrf`, `actix-csrf-middleware`)
//! implement double-submit cookies, describe themselves as unaudited and not ready for
//! production, and would add a second cookie; with sessions already server-side the
//! synchronizer token is the simpler and stronger design, and it is these few lines.

use actix_session::{Session, SessionExt as _};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq as _;

use super::error::AppError;
use crate::domain::token::fill_random;

const SESSION_KEY: &str = "csrf";

/// The form field every protected form carries.
pub const FIELD: &str = "csrf_token";

/// The session's CSRF token, created on first use.
///
/// # Errors
/// [`AppError::Internal`] if the session cannot be written.
pub fn token(session: &Session) -> Result<String, AppError> {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return Ok(existing);
    }
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    session
        .insert(SESSION_KEY, &token)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session write: {e}")))?;
    Ok(token)
}

/// Whether `submitted` is this session's token (constant-time comparison).
pub fn verify(session: &Session, submitted: &str) -> bool {
    match session.get::<String>(SESSION_KEY) {
        Ok(Some(expected)) => {
            !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
        }
        _ => false,
    }
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
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let form = form.await.map_err(|e| {
                AppError::BadRequest(format!("The form could not be read: {e}").into())
            })?;
            if !verify(&session, form.csrf_token()) {
                return Err(AppError::Csrf);
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
