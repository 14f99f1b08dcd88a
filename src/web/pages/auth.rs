//! Log in and log out. Checking the password is `service::accounts::authenticate`'s; these
//! handlers parse the form, ask once, and sign in or show the form again.

use std::convert::Infallible;

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::{render, render_with_status, see_other};
use crate::domain::User;
use crate::domain::password::Password;
use crate::paths;
use crate::service::accounts;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::MaybeUser;
use crate::web::session::Session;
use crate::web::{AppError, AppState, Layout, flash, is_local_path};

/// The one message for an unknown email and a wrong password alike.
pub const LOGIN_FAILED: &str = "That email and password do not match an account.";

#[derive(Template, WebTemplate)]
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

/// Checks an email and password in one hand-off to the service layer
/// (`service::accounts::authenticate`, which keeps the rules: the same answer in the same time
/// for an unknown email, a wrong password and a locked account; failures counted per
/// account). For the log-in page and every other page that signs someone in with a password.
///
/// # Errors
/// [`AppError::Internal`] on a database failure; [`AppError::TooManyRequests`] when the
/// password threads are saturated.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<User>, AppError> {
    let (email, password) = (email.to_owned(), Password::attempt(password));
    let user = state
        .call(move |svc| accounts::authenticate::<Infallible>(svc, &email, password))
        .await?;
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
