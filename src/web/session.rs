//! The visitor's session (DESIGN.md, "Security rules"): who is signed in, and what travels in
//! the browser's cookies whether or not anyone is.
//!
//! - **Signed in**: a server-side row behind actix-session's store ([`super::session_store`]);
//!   the session cookie holds only a random key. It is written when someone signs in (with a
//!   new key) and read on every request; a log-out deletes it.
//! - **Signed out**: no server-side session exists, so reading a page never writes to the
//!   database. The forms such a visitor sees (log-in, sign-up, acceptance) carry a CSRF token
//!   bound to a cookie — OWASP's signed double-submit pattern: the cookie holds a random seed,
//!   and the token is an HMAC of the seed and of who is signed in, under a server key. A forged
//!   POST has neither the seed nor the key; a token made for one account is refused for another.
//! - **One-shot messages** ("You joined Acme as Editor") travel in an encrypted, authenticated
//!   cookie (actix-web's private cookie jar, AES-256-GCM), for signed-in and signed-out
//!   visitors alike, so a message never costs a database write.
//!
//! [`cookies`] is the middleware that reads those cookies before the handler and writes the
//! changes after it; [`Session`] is what handlers hold.

use std::cell::RefCell;
use std::rc::Rc;

use actix_session::SessionExt as _;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde::de::DeserializeOwned;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq as _;

use super::error::AppError;
use super::flash::Flash;
use super::session_store::USER_ID_KEY;
use crate::domain::UserId;
use crate::domain::token::fill_random;

/// The longest flash message carried in the cookie, in characters (a cookie holds ~4 KB).
const MAX_FLASH_CHARS: usize = 1_500;

/// The keys and names of the session's cookies, derived once from the session key.
pub struct CookieConfig {
    /// Keys the CSRF token's HMAC.
    csrf_key: [u8; 32],
    /// Encrypts and authenticates the flash cookie.
    flash_key: Key,
    /// Whether the base URL is https: cookies are `Secure` and `__Host-` prefixed.
    secure: bool,
}

impl CookieConfig {
    /// Keys derived from `session_key` (each purpose its own HMAC-SHA512 of a label), so the
    /// session cookie's key is never used for anything else. `secure` when the base URL is
    /// https.
    pub fn new(session_key: &Key, secure: bool) -> Self {
        let derive = |label: &[u8]| {
            // HMAC accepts a key of any length, so `new_from_slice` cannot fail.
            let mut mac = <Hmac<Sha512> as hmac::Mac>::new_from_slice(session_key.master())
                .unwrap_or_else(|_| unreachable_hmac());
            mac.update(label);
            mac.finalize().into_bytes()
        };
        let mut csrf_key = [0u8; 32];
        csrf_key.copy_from_slice(&derive(b"joinery csrf token v1")[..32]);
        Self {
            csrf_key,
            flash_key: Key::from(&derive(b"joinery flash cookie v1")),
            secure,
        }
    }

    fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-joinery_csrf"
        } else {
            "joinery_csrf"
        }
    }

    fn flash_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-joinery_flash"
        } else {
            "joinery_flash"
        }
    }

    fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish()
    }

    /// The CSRF token for `seed` when `user` is signed in (or nobody is).
    fn csrf_token(&self, seed: &str, user: Option<UserId>) -> String {
        let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.csrf_key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(seed.as_bytes());
        mac.update(b"\0");
        if let Some(user) = user {
            mac.update(user.to_string().as_bytes());
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

#[allow(clippy::panic)]
fn unreachable_hmac() -> ! {
    panic!("HMAC refused a key, which it accepts at any length")
}

/// What one request's cookies say and what the response should change in them.
#[derive(Default)]
struct CookieState {
    /// The CSRF seed the browser sent, if any.
    seed: Option<String>,
    /// A seed made during this request (the browser had none): set on the response.
    new_seed: Option<String>,
    /// The flash message the browser sent.
    flash_in: Option<Flash>,
    /// Whether the handler took `flash_in` (then the cookie is cleared).
    flash_taken: bool,
    /// A flash message for the next page.
    flash_out: Option<Flash>,
}

type SharedState = Rc<RefCell<CookieState>>;

/// Middleware (`actix_web::middleware::from_fn`): reads the CSRF seed and the flash message
/// from the request's cookies for [`Session`], and after the handler writes what changed: a
/// new seed, a new message, or the removal of a message that was shown.
///
/// # Errors
/// Whatever the rest of the chain returns; [`AppError::Internal`] if the app's state is
/// missing.
pub async fn cookies(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let config = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|state| state.cookies.clone())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("app state missing")))?;
    let mut jar = CookieJar::new();
    if let Ok(sent) = req.cookies() {
        for cookie in sent.iter() {
            jar.add_original(cookie.clone().into_owned());
        }
    }
    let state: SharedState = Rc::new(RefCell::new(CookieState {
        seed: jar
            .get(config.csrf_cookie())
            .map(|c| c.value().to_owned())
            .filter(|seed| (32..=64).contains(&seed.len())),
        flash_in: jar
            .private(&config.flash_key)
            .get(config.flash_cookie())
            .and_then(|c| serde_json::from_str(c.value()).ok()),
        ..CookieState::default()
    }));
    req.extensions_mut().insert(state.clone());
    let mut res = next.call(req).await?;
    let state = state.borrow();
    let mut out = CookieJar::new();
    if let Some(seed) = &state.new_seed {
        out.add(config.cookie(config.csrf_cookie(), seed.clone()));
    }
    if let Some(flash) = &state.flash_out {
        if let Ok(json) = serde_json::to_string(flash) {
            out.private_mut(&config.flash_key)
                .add(config.cookie(config.flash_cookie(), json));
        }
    } else if state.flash_taken {
        let mut gone = config.cookie(config.flash_cookie(), String::new());
        gone.make_removal();
        out.add(gone);
    }
    for cookie in out.delta() {
        if let Ok(value) = HeaderValue::from_str(&cookie.encoded().to_string()) {
            res.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(res)
}

/// The visitor's session, as handlers see it: who is signed in, the CSRF token for the page's
/// forms, the one-shot message, and (for signed-in people only) small server-side values.
pub struct Session {
    server: actix_session::Session,
    cookies: SharedState,
    config: std::sync::Arc<CookieConfig>,
}

impl FromRequest for Session {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Session::of(req))
    }
}

impl Session {
    /// The session of `req`.
    ///
    /// # Errors
    /// [`AppError::Internal`] when the [`cookies`] middleware or the app state is missing.
    pub fn of(req: &HttpRequest) -> Result<Self, AppError> {
        let missing = |what: &str| AppError::Internal(anyhow::anyhow!("{what} missing"));
        Ok(Self {
            server: req.get_session(),
            cookies: req
                .extensions()
                .get::<SharedState>()
                .cloned()
                .ok_or_else(|| missing("cookie middleware"))?,
            config: req
                .app_data::<actix_web::web::Data<super::AppState>>()
                .map(|state| state.cookies.clone())
                .ok_or_else(|| missing("app state"))?,
        })
    }

    /// The signed-in person's id, if anyone is signed in.
    pub fn user_id(&self) -> Option<UserId> {
        self.server
            .get::<String>(USER_ID_KEY)
            .ok()
            .flatten()
            .and_then(|s| s.parse().ok())
    }

    /// Signs `user` in with a new session key (DESIGN.md: renewed on log-in, sign-up and
    /// acceptance, against session fixation). Someone already signed in as `user` keeps their
    /// key: nothing is written, so a request in flight cannot bring back a session that a
    /// log-out ended meanwhile.
    ///
    /// # Errors
    /// [`AppError::Internal`] if the session cannot be written.
    pub fn sign_in(&self, user: UserId) -> Result<(), AppError> {
        if self.user_id() == Some(user) {
            return Ok(());
        }
        self.server.renew();
        self.server
            .insert(USER_ID_KEY, user.to_string())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("session write: {e}")))
    }

    /// Ends the server-side session: its row is deleted and the cookie removed.
    pub fn sign_out(&self) {
        self.server.purge();
    }

    /// The CSRF token for forms on this page, bound to the cookie's seed (set now if the
    /// browser has none) and to whoever is signed in.
    pub fn csrf_token(&self) -> String {
        let mut cookies = self.cookies.borrow_mut();
        let seed = match (&cookies.seed, &cookies.new_seed) {
            (Some(seed), _) | (None, Some(seed)) => seed.clone(),
            (None, None) => {
                let mut bytes = [0u8; 32];
                fill_random(&mut bytes);
                let seed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                cookies.new_seed = Some(seed.clone());
                seed
            }
        };
        self.config.csrf_token(&seed, self.user_id())
    }

    /// Whether `submitted` is the token for the seed the browser sent and whoever is signed
    /// in (constant-time comparison). A browser without the cookie never passes.
    pub fn verify_csrf(&self, submitted: &str) -> bool {
        let Some(seed) = self.cookies.borrow().seed.clone() else {
            return false;
        };
        let expected = self.config.csrf_token(&seed, self.user_id());
        !submitted.is_empty() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }

    /// Queues `flash` for the next page (replacing one queued earlier in this request).
    pub fn set_flash(&self, mut flash: Flash) {
        if flash.text.chars().count() > MAX_FLASH_CHARS {
            flash.text = flash.text.chars().take(MAX_FLASH_CHARS - 1).collect();
            flash.text.push('…');
        }
        self.cookies.borrow_mut().flash_out = Some(flash);
    }

    /// Takes the message the previous action left, if any (it is shown once).
    pub fn take_flash(&self) -> Option<Flash> {
        let mut cookies = self.cookies.borrow_mut();
        let flash = cookies.flash_in.take();
        if flash.is_some() {
            cookies.flash_taken = true;
        }
        flash
    }

    /// A value kept in the signed-in person's server-side session (for results too large for
    /// a cookie, such as a bulk invitation's per-address table).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.server.get(key).ok().flatten()
    }

    /// Keeps `value` in the server-side session. Only for signed-in people: it writes the
    /// session row.
    ///
    /// # Errors
    /// [`AppError::Internal`] if it cannot be serialized.
    pub fn insert(&self, key: &str, value: impl serde::Serialize) -> Result<(), AppError> {
        self.server
            .insert(key, value)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("session write: {e}")))
    }

    /// Removes a server-side value (writing the row only when it was there).
    pub fn remove(&self, key: &str) {
        if self.server.contains_key(key) {
            self.server.remove(key);
        }
    }
}
