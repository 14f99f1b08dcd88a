//! Log in and log out.

use crate::paths;
use crate::web::error::Rejection;
use crate::web::session::Session;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{render, render_with_status, see_other};
use crate::db;
use crate::domain::EmailAddress;
use crate::domain::User;
use crate::domain::password::{DUMMY_HASH, Password};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::MaybeUser;
use crate::web::{AppError, AppState, Layout, flash, is_local_path};

/// The one message for an unknown email and a wrong password alike.
pub const LOGIN_FAILED: &str = "That email and password do not match an account.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<&'static str>,
}

/// `?next=` on the log-in page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| is_local_path(n)).unwrap_or("/").to_owned()
}

/// GET /login — the form; someone already signed in goes straight on.
pub async fn login_page(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if user.0.is_some() {
        return Ok(see_other(&next));
    }
    render(&LoginPage {
        layout: Layout::new(&state, &session, "Log in", None)?,
        email: String::new(),
        next,
        error: None,
    })
}

/// The log-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

impl HasCsrfToken for LoginForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Checks an email and password the same way whether or not the account exists: an unknown
/// (or malformed) email is verified against [`DUMMY_HASH`], so the answer takes the same time.
/// Verification runs on the password threads (`AppState::verify_password`).
///
/// Failures are counted per account, keyed by the normalized address typed whether or not an
/// account has it (DESIGN.md, "Security rules": log-in attempts are limited per account):
/// past [`LOGIN_FAILURES_PER_ACCOUNT`](crate::web::limits::LOGIN_FAILURES_PER_ACCOUNT) in
/// [`LOGIN_FAILURE_WINDOW`](crate::web::limits::LOGIN_FAILURE_WINDOW) the address is locked
/// until governor would take another failure (90 s, then one more try each 90 s). A locked
/// address gets `None` — the caller's wrong-password page — even with the right password, and
/// still costs one verification (against the dummy hash), so neither the answer nor its timing
/// tells a lock from a wrong password, or an account from none. The lock holds for the right
/// password too: telling its owner apart from the attacker would need a per-device token,
/// which Joinery does not have, so a lock can keep the owner out for its 90 s as well.
/// Successes are not counted and do not reset the count.
///
/// # Errors
/// [`AppError::Internal`] on a database failure; [`AppError::TooManyRequests`] when the
/// password threads are saturated.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<User>, AppError> {
    let email = EmailAddress::parse(email).ok();
    let password = Password::attempt(password);
    let failures = &state.limits.login_failures;
    let locked = email
        .as_ref()
        .is_some_and(|e| failures.refused(e).is_some());
    let credentials = match email.clone() {
        Some(email) => {
            state
                .db
                .run(move |c| db::users::find_credentials(c, &email))
                .await?
        }
        None => None,
    }
    .filter(|_| !locked);
    let hash = credentials
        .as_ref()
        .map_or(DUMMY_HASH, |c| c.password_hash.as_str())
        .to_owned();
    let ok = state.verify_password(password, hash).await?;
    let user = credentials.filter(|_| ok).map(|c| c.user);
    if user.is_none()
        && let Some(email) = &email
    {
        failures.spend(email);
    }
    Ok(user)
}

/// POST /login — signs in with a new session key, then goes to `next` (local paths only).
pub async fn login(
    state: web::Data<AppState>,
    session: Session,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(form.next.as_deref());
    match authenticate(&state, &form.email, &form.password).await? {
        Some(user) => {
            session.sign_in(user.id)?;
            Ok(see_other(&next))
        }
        None => render_with_status(
            &LoginPage {
                layout: Layout::new(&state, &session, "Log in", None)?,
                email: form.email.chars().take(254).collect(),
                next,
                error: Some(LOGIN_FAILED),
            },
            Rejection::WrongPassword.status(),
        ),
    }
}

/// POST /logout — ends the session (its row is deleted, the cookie removed) and goes to `next`
/// or the log-in page, with a message that travels in its own cookie.
pub async fn logout(session: Session, CsrfForm(form): CsrfForm<TokenOnly>) -> HttpResponse {
    session.sign_out();
    let next = form.next.filter(|n| is_local_path(n));
    flash::info(&session, "You are logged out.");
    see_other(next.as_deref().unwrap_or(paths::LOGIN.pattern()))
}
