//! Self-serve sign-up (DESIGN.md, "Pages → Account"): `/signup` emails a link that proves the
//! address, and `/signup/{token}` creates the account and its Trial organization when the link
//! is followed. The rules are the service's (`service::signup`); these handlers parse, call it
//! once and render.
//!
//! The form answers the same "Check your email" page whatever the address — new, registered
//! or over the per-address limit — so it never tells whether an account exists. Pages under
//! `/signup/{token}` carry the token in their URL, so they send the link pages' headers
//! (`web::links::respond`). A link asked for on an invite link's page (a join link) lives at
//! the same address; its page is the invite link's (`invite_links::join::JoinPages`).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::invite_links::join::{JoinPages, Kept};
use super::{render, render_with_status, see_other};
use crate::domain::EmailAddress;
use crate::domain::link::LinkPage;
use crate::domain::signup::MAX_EMAILS_PER_WINDOW;
use crate::domain::text::MAX_NAME_CHARS;
use crate::paths;
use crate::service::ServiceError;
use crate::service::signup::{
    self as service, Completed, LinkForm, LinkScreen, SignupProblem, SignupRefusal, SignupScreen,
};
use crate::web::csrf::{CsrfForm, HasCsrfToken};
use crate::web::error::Rejection;
use crate::web::extractors::PageVisit;
use crate::web::links::{LinkVisit, respond};
use crate::web::refusals::shown;
use crate::web::{AppError, Layout, flash};

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
struct SignupPage {
    layout: Layout,
    email: String,
    email_error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "signup_sent.html")]
struct SentPage {
    layout: Layout,
    email: String,
    max_per_hour: i64,
}

/// GET /signup — the form: one field, Email.
pub async fn signup_page(visit: PageVisit) -> Result<HttpResponse, AppError> {
    render(&SignupPage {
        layout: visit.layout("Sign up")?,
        email: String::new(),
        email_error: None,
    })
}

/// What the forms of sign-up and of link pages send, each the fields it has: Email (sign-up,
/// "Email me a link to join"), Email and Password ("Log in & join"), Name, Password and
/// Company name (a sign-up link), Name and Password or Password (a join link).
#[derive(Debug, Deserialize)]
pub struct LinkInput {
    #[serde(default)]
    csrf_token: String,
    /// The address typed.
    #[serde(default)]
    pub(crate) email: String,
    /// The name typed.
    #[serde(default)]
    pub(crate) name: String,
    /// The password typed.
    #[serde(default)]
    pub(crate) password: String,
    /// The company name typed.
    #[serde(default)]
    pub(crate) organization: String,
}

impl HasCsrfToken for LinkInput {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /signup — queues a sign-up link (new address), a "you already have an account" email
/// (registered address) or nothing (over the limit), and answers the same page for all three.
/// A malformed address re-shows the form (422).
pub async fn request_link(
    visit: PageVisit,
    CsrfForm(form): CsrfForm<LinkInput>,
) -> Result<HttpResponse, AppError> {
    let (state, layout) = (&visit.state, visit.layout("Sign up")?);
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let page = SignupPage {
                layout,
                email: form.email.chars().take(254).collect(),
                email_error: Some(format!("Email: {e}.")),
            };
            return render_with_status(&page, Rejection::Invalid.status());
        }
    };
    let (for_svc, now) = (email.clone(), state.clock.now());
    state
        .call(move |svc| service::request_link(svc, &for_svc, now))
        .await?;
    render(&SentPage {
        layout: Layout {
            title: "Check your email".into(),
            ..layout
        },
        email: email.to_string(),
        max_per_hour: MAX_EMAILS_PER_WINDOW,
    })
}

/// A sign-up link's page, showing one [`LinkPage`]: the form, why the link cannot be used, or
/// that the address has an account by now.
#[derive(Template, WebTemplate)]
#[template(path = "signup_link.html")]
struct LinkView {
    layout: Layout,
    page: LinkPage,
    action: String,
    email: String,
    name: String,
    organization: String,
    name_error: Option<String>,
    password_error: Option<String>,
    organization_error: Option<String>,
}

impl LinkView {
    fn new(pages: &JoinPages, screen: &SignupScreen) -> Result<Self, AppError> {
        Ok(Self {
            layout: pages.layout("Finish signing up")?,
            page: screen.page,
            action: paths::signup_link(pages.token.expose()),
            email: screen.email.to_string(),
            name: String::new(),
            organization: String::new(),
            name_error: None,
            password_error: None,
            organization_error: None,
        })
    }
}

/// GET /signup/{token} — the form (name, password, company name; the email locked), why the
/// link cannot be used (410), or that the address has an account by now; a join link's page
/// for a link asked for on an invite link's page. Opening it changes nothing.
pub async fn show(visit: LinkVisit) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, true);
    match pages.call(service::open).await? {
        LinkScreen::SignUp(screen) => {
            let status = match screen.page {
                LinkPage::Unusable { .. } => Rejection::LinkUnusable.status(),
                _ => StatusCode::OK,
            };
            respond(&LinkView::new(&pages, &screen)?, status)
        }
        LinkScreen::Join(screen) => pages.show(&screen),
    }
}

/// What a refused sign-up form keeps of its input (never the password).
struct KeptInput {
    name: String,
    organization: String,
}

/// POST /signup/{token} — creates the account and its Trial organization (the person as
/// Owner) in one transaction, signs in with a new session key and opens the organization; a
/// join link's form joins instead. An unusable link (410), an address with an account (409)
/// and invalid input (422, the input kept) are refused before the password is hashed; the
/// route sits behind the per-client password budget (`web::routes`).
pub async fn complete(
    visit: LinkVisit,
    CsrfForm(form): CsrfForm<LinkInput>,
) -> Result<HttpResponse, AppError> {
    let pages = JoinPages::new(visit, true);
    let kept = KeptInput {
        name: form.name.chars().take(MAX_NAME_CHARS * 2).collect(),
        organization: form.organization.chars().take(MAX_NAME_CHARS * 2).collect(),
    };
    let cmd = LinkForm {
        name: form.name,
        password: form.password,
        organization: form.organization,
    };
    let done = pages
        .call(move |svc, v, t, now| service::complete(svc, v, t, &cmd, now))
        .await;
    match done {
        Ok(Completed::SignedUp { user, organization }) => {
            pages.session.sign_in(user.id)?;
            let plan = organization.plan.label();
            let text = format!(
                "Welcome to Joinery — {} is on the {plan} plan.",
                organization.name
            );
            flash::success(&pages.session, text);
            Ok(see_other(&paths::dashboard(organization.id)))
        }
        Ok(Completed::Joined(outcome)) => pages.outcome(outcome),
        Err(ServiceError::Refused(SignupRefusal::Join(refusal))) => {
            pages.refused(ServiceError::Refused(refusal), Kept::name(kept.name))
        }
        Err(e) => refused(&pages, e, kept),
    }
}

/// The sign-up link's page shown again for a refused form, at the refusal's status, with the
/// errors beside their fields and the input kept.
fn refused(
    pages: &JoinPages,
    e: ServiceError<SignupRefusal>,
    kept: KeptInput,
) -> Result<HttpResponse, AppError> {
    let (refusal, status) = shown(e)?;
    let SignupRefusal::SignUp { screen, problem } = refusal else {
        return Err(AppError::NotFound);
    };
    let mut view = LinkView::new(pages, &screen)?;
    if let SignupProblem::Invalid {
        name,
        password,
        organization,
    } = problem
    {
        view.name = kept.name;
        view.organization = kept.organization;
        view.name_error = name;
        view.password_error = password;
        view.organization_error = organization;
    }
    respond(&view, status)
}
