//! Self-serve sign-up (DESIGN.md, "Pages → Account"; issue 4, item 5): `/signup` emails a
//! link that proves the address, and `/signup/{token}` creates the account and its Trial
//! organization when the link is followed.
//!
//! The form answers the same "Check your email" page whatever the address — new, registered
//! or over the per-address limit — so it never tells whether an account exists. Pages under
//! `/signup/{token}` carry the token in their URL, so they send the invitation pages'
//! `no-referrer` and `no-store` headers.
//!
//! A link asked for on an invite link's page (`/join/{token}`) is the same kind of link and
//! lives at the same address; its page joins that invite link's organization instead
//! (`invite_links::show_mailed` and `complete_mailed`).

use crate::web::error::Rejection;
use crate::web::session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{render, render_with_status, see_other};
use crate::db::signups::NewAccount;
use crate::db::{self};
use crate::domain::EmailAddress;
use crate::domain::password::Password;
use crate::domain::signup::SignupRequest;
use crate::domain::signup::{CompleteError, LinkPage, LinkUnusable, link_page};
use crate::domain::text::{MAX_NAME_CHARS, OrganizationName, PersonName};
use crate::domain::token::LinkToken;
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken};
use crate::web::extractors::MaybeUser;
use crate::web::headers::invitation_page;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

/// The page of one sign-up link.
fn link_path(token: &LinkToken) -> String {
    paths::signup_link(token.expose())
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    email: String,
    email_error: Option<String>,
}

#[derive(Template)]
#[template(path = "signup_sent.html")]
struct SentPage {
    layout: Layout,
    email: String,
    max_per_hour: i64,
}

/// GET /signup — the form: one field, Email.
pub async fn signup_page(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    render(&SignupPage {
        layout: Layout::new(&state, &session, "Sign up", user.0.as_ref())?,
        email: String::new(),
        email_error: None,
    })
}

/// The sign-up form.
#[derive(Debug, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
}

impl HasCsrfToken for SignupForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /signup — queues a sign-up link (new address), a "you already have an account" email
/// (registered address) or nothing (over the limit), and answers the same page for all three.
pub async fn request_link(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    CsrfForm(form): CsrfForm<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::new(&state, &session, "Sign up", user.0.as_ref())?;
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            return render_with_status(
                &SignupPage {
                    layout,
                    email: form.email.chars().take(254).collect(),
                    email_error: Some(format!("Email: {e}.")),
                },
                Rejection::Invalid.status(),
            );
        }
    };
    let now = state.clock.now();
    let key = state.settings.token_key.clone();
    let for_db = email.clone();
    // The decision is deliberately dropped: the page must not depend on it.
    let _sent = state
        .db
        .run(move |c| db::signups::request(c, &for_db, &key, now))
        .await?;
    state.outbox.wake();
    render(&SentPage {
        layout: Layout {
            title: "Check your email".into(),
            ..layout
        },
        email: email.to_string(),
        max_per_hour: crate::domain::signup::MAX_EMAILS_PER_WINDOW,
    })
}

#[derive(Template)]
#[template(path = "signup_link.html")]
struct LinkPageView {
    layout: Layout,
    /// `form`, `unusable` or `account_exists`.
    branch: &'static str,
    action: String,
    email: String,
    name: String,
    organization: String,
    name_error: Option<String>,
    password_error: Option<String>,
    organization_error: Option<String>,
    unusable_title: String,
    unusable_advice: String,
}

impl LinkPageView {
    fn new(
        state: &AppState,
        session: &Session,
        user: &MaybeUser,
        token: &LinkToken,
        request: &SignupRequest,
        branch: &'static str,
    ) -> Result<Self, AppError> {
        Ok(Self {
            layout: Layout::new(state, session, "Finish signing up", user.0.as_ref())?,
            branch,
            action: link_path(token),
            email: request.email.to_string(),
            name: String::new(),
            organization: String::new(),
            name_error: None,
            password_error: None,
            organization_error: None,
            unusable_title: String::new(),
            unusable_advice: String::new(),
        })
    }

    fn unusable(mut self, why: LinkUnusable) -> Self {
        self.branch = "unusable";
        self.unusable_title = why.to_string();
        self.unusable_advice = why.advice().to_owned();
        self
    }

    /// Renders with the invitation-page headers (no referrer, no caching).
    fn respond(&self, status: StatusCode) -> Result<HttpResponse, AppError> {
        Ok(invitation_page(&mut HttpResponse::build(status))
            .content_type("text/html; charset=utf-8")
            .body(self.render()?))
    }
}

/// A malformed token and an unknown one are both a 404, and a malformed one never reaches
/// the database.
async fn load(state: &AppState, raw_token: &str) -> Result<(LinkToken, SignupRequest), AppError> {
    let token = LinkToken::parse(raw_token).map_err(|_| AppError::NotFound)?;
    let lookup = token.clone();
    let request = state
        .db
        .run(move |c| db::signups::find_by_token(c, &lookup))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((token, request))
}

/// GET /signup/{token} — the form (name, password, company name; the email locked), or why
/// the link cannot be used. Opening it changes nothing.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, request) = load(&state, &path).await?;
    if let Some(link) = request.invite_link_id {
        let mailed = super::invite_links::MailedLink {
            base_path: link_path(&token),
            request: &request,
            invite_link: link,
        };
        return super::invite_links::show_mailed(&state, &session, user.0.as_ref(), mailed).await;
    }
    let email = request.email.clone();
    let exists = state
        .db
        .run(move |c| db::users::email_exists(c, &email))
        .await?;
    let view = LinkPageView::new(&state, &session, &user, &token, &request, "form")?;
    match link_page(&request.facts, exists, state.clock.now()) {
        LinkPage::Form => view.respond(StatusCode::OK),
        LinkPage::Unusable(why) => view.unusable(why).respond(Rejection::LinkUnusable.status()),
        LinkPage::AccountExists => LinkPageView {
            branch: "account_exists",
            ..view
        }
        .respond(StatusCode::OK),
    }
}

/// The form on a sign-up link's page.
#[derive(Debug, Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    organization: String,
}

impl HasCsrfToken for CompleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /signup/{token} — creates the account and its Trial organization (the person as
/// Owner) in one transaction, signs in with a new session key and opens the organization.
/// An unusable link, an address with an account and invalid input are refused before the
/// password is hashed; the route sits behind the per-client password budget (`web::routes`).
pub async fn complete(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(meta): Meta,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<CompleteForm>,
) -> Result<HttpResponse, AppError> {
    let (token, request) = load(&state, &path).await?;
    if let Some(link) = request.invite_link_id {
        let submitted = super::invite_links::MailedSubmission {
            name: &form.name,
            password: &form.password,
        };
        let mailed = super::invite_links::MailedLink {
            base_path: link_path(&token),
            request: &request,
            invite_link: link,
        };
        return super::invite_links::complete_mailed(
            &state, &session, user.0, meta, mailed, submitted,
        )
        .await;
    }
    let view = LinkPageView::new(&state, &session, &user, &token, &request, "form")?;
    // Everything that can refuse without the password's hash, before it is computed.
    if let Err(why) = request.facts.check_usable(state.clock.now()) {
        return view.unusable(why).respond(Rejection::LinkUnusable.status());
    }
    let email = request.email.clone();
    if state
        .db
        .run(move |c| db::users::email_exists(c, &email))
        .await?
    {
        return account_exists(view);
    }
    let name = PersonName::parse(&form.name);
    let password = Password::new_account(&form.password);
    let organization = OrganizationName::parse(&form.organization);
    let (name, password, organization) = match (name, password, organization) {
        (Ok(n), Ok(p), Ok(o)) => (n, p, o),
        (name, password, organization) => {
            return LinkPageView {
                name: form.name.chars().take(MAX_NAME_CHARS * 2).collect(),
                organization: form.organization.chars().take(MAX_NAME_CHARS * 2).collect(),
                name_error: name.err().map(|e| format!("Name: {e}.")),
                password_error: password.err().map(|e| format!("Password: {e}.")),
                organization_error: organization.err().map(|e| format!("Company name: {e}.")),
                ..view
            }
            .respond(Rejection::Invalid.status());
        }
    };
    let password_hash = state.hash_password(password).await?;
    let account = NewAccount {
        name,
        organization,
        password_hash,
    };
    let now = state.clock.now();
    let for_db = request.clone();
    let result = state
        .db
        .run(move |c| db::signups::complete(c, &for_db, &account, &meta, now))
        .await?;
    match result {
        Ok(done) => {
            session.sign_in(done.user_id)?;
            flash::success(
                &session,
                format!(
                    "Welcome to Joinery — {} is on the {} plan.",
                    done.organization.name,
                    done.organization.plan.label()
                ),
            );
            Ok(see_other(&paths::dashboard(done.organization.id)))
        }
        Err(CompleteError::Unusable(why)) => {
            view.unusable(why).respond(Rejection::LinkUnusable.status())
        }
        Err(CompleteError::AccountExists) => account_exists(view),
    }
}

/// The address of a sign-up link has an account by now: the page says so (409).
fn account_exists(view: LinkPageView) -> Result<HttpResponse, AppError> {
    LinkPageView {
        branch: "account_exists",
        ..view
    }
    .respond(Rejection::FinalState.status())
}
