//! The acceptance page for tenant-owner invitations (DESIGN.md, "The acceptance page":
//! "Tenant-owner invitations add a Company name field"). The same `/invitations/{token}` URL
//! serves both kinds: [`show`] answers tenant-owner tokens and hands every other token to the
//! member invitation page. Accepting creates the organization on the plan staff chose, with
//! the invitee as Owner — exactly one, however often the form is submitted.

use crate::web::error::Rejection;
use crate::web::session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{LOGIN_FAILED, authenticate};
use super::team::TimeView;
use super::{acceptance, see_other};
use crate::db::audit::AuditContext;
use crate::db::tenant_invitations::TenantRefused;
use crate::db::{self};
use crate::domain::Organization;
use crate::domain::Plan;
use crate::domain::User;
use crate::domain::invitation::{AcceptError, AcceptancePage, Unusable, Visitor, acceptance_page};
use crate::domain::password::Password;
use crate::domain::tenant::TenantInvitation;
use crate::domain::text::{OrganizationName, PersonName};
use crate::domain::token::LinkToken;
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{MaybeUser, actor_of};
use crate::web::headers::invitation_page;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

#[derive(Template)]
#[template(path = "tenant_accept.html")]
struct TenantPage {
    layout: Layout,
    /// `new_user`, `login`, `confirm`, `wrong_account`, `unusable` or `declined`.
    branch: &'static str,
    email: String,
    inviter_name: String,
    plan: Plan,
    message: Option<String>,
    expires: Option<TimeView>,
    base_path: String,
    signed_in_email: String,
    name: String,
    company: String,
    name_error: Option<String>,
    password_error: Option<String>,
    company_error: Option<String>,
    unusable_title: String,
    unusable_advice: String,
}

struct View<'a> {
    state: &'a AppState,
    session: &'a Session,
    inv: &'a TenantInvitation,
    token: &'a str,
    user: Option<&'a User>,
}

impl View<'_> {
    fn page(&self, branch: &'static str) -> Result<TenantPage, AppError> {
        let now = self.state.clock.now();
        Ok(TenantPage {
            layout: Layout::new(
                self.state,
                self.session,
                "Set up your organization",
                self.user,
            )?,
            branch,
            email: self.inv.email.to_string(),
            inviter_name: self.inv.inviter_name.clone(),
            plan: self.inv.plan,
            message: self.inv.message.clone(),
            expires: Some(TimeView::new(self.inv.facts.expires_at, now)),
            base_path: paths::invitation(self.token),
            signed_in_email: self.user.map(|u| u.email.to_string()).unwrap_or_default(),
            name: String::new(),
            company: String::new(),
            name_error: None,
            password_error: None,
            company_error: None,
            unusable_title: String::new(),
            unusable_advice: String::new(),
        })
    }

    fn unusable(&self, why: Unusable) -> Result<TenantPage, AppError> {
        let mut page = self.page("unusable")?;
        page.unusable_title = why.to_string();
        page.unusable_advice = why.advice().to_owned();
        page.message = None;
        page.expires = None;
        Ok(page)
    }
}

fn respond(page: &TenantPage, status: StatusCode) -> Result<HttpResponse, AppError> {
    Ok(invitation_page(&mut HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

async fn lookup(
    state: &AppState,
    raw: &str,
) -> Result<Option<(LinkToken, TenantInvitation)>, AppError> {
    let Ok(token) = LinkToken::parse(raw) else {
        return Ok(None);
    };
    let lookup = token.clone();
    let inv = state
        .db
        .run(move |c| db::tenant_invitations::find_by_token(c, &lookup))
        .await?;
    Ok(inv.map(|inv| (token, inv)))
}

/// GET /invitations/{token} — the tenant-owner page for tenant-owner tokens; any other token
/// goes to the member invitation page (which answers 404 for unknown ones).
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let Some((token, inv)) = lookup(&state, &path).await? else {
        return acceptance::show(state, session, user, path).await;
    };
    let view = View {
        state: &state,
        session: &session,
        inv: &inv,
        token: token.expose(),
        user: user.0.as_ref(),
    };
    let visitor = match &user.0 {
        Some(u) => Visitor::SignedIn { email: &u.email },
        None => {
            let email = inv.email.clone();
            let exists = state
                .db
                .run(move |c| db::users::email_exists(c, &email))
                .await?;
            Visitor::SignedOut {
                account_exists: exists,
            }
        }
    };
    // Staff may always offer a tenant: no inviter policy to re-check.
    match acceptance_page(&inv.facts, &inv.email, Ok(()), visitor, state.clock.now()) {
        AcceptancePage::NewUser => respond(&view.page("new_user")?, StatusCode::OK),
        AcceptancePage::LogInToAccept => respond(&view.page("login")?, StatusCode::OK),
        AcceptancePage::Confirm => respond(&view.page("confirm")?, StatusCode::OK),
        AcceptancePage::WrongAccount => respond(&view.page("wrong_account")?, StatusCode::OK),
        AcceptancePage::Unusable(why) => {
            respond(&view.unusable(why)?, Rejection::LinkUnusable.status())
        }
    }
}

/// The "Create organization" form; which fields matter depends on who submits it.
#[derive(Debug, Deserialize)]
pub struct OrganizationForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    company: String,
}

impl HasCsrfToken for OrganizationForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

fn welcome(session: &Session, user: &User, org: &Organization) -> Result<HttpResponse, AppError> {
    session.sign_in(user.id)?;
    flash::success(
        session,
        format!(
            "Welcome! {} is ready on the {} plan, and you are its Owner.",
            org.name,
            org.plan.label()
        ),
    );
    Ok(see_other(&paths::dashboard(org.id)))
}

fn refused(view: &View<'_>, e: TenantRefused) -> Result<HttpResponse, AppError> {
    match e {
        TenantRefused::Refused(AcceptError::Unusable(why)) => {
            respond(&view.unusable(why)?, Rejection::LinkUnusable.status())
        }
        TenantRefused::Refused(AcceptError::WrongAccount) => {
            respond(&view.page("wrong_account")?, Rejection::Forbidden.status())
        }
        TenantRefused::AccountExists => {
            flash::info(
                view.session,
                "An account with this email already exists. Log in to continue.",
            );
            Ok(see_other(&paths::invitation(view.token)))
        }
    }
}

/// POST /invitations/{token}/organization — creates the organization: for a new user with
/// Name and Password, for an existing signed-out user with Password, for the signed-in invitee
/// with just the Company name. The link's state, the account's existence and the input are
/// checked before a password is verified or hashed, and the route sits behind the per-client
/// password budget (`web::routes`).
pub async fn create_organization(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
    Meta(meta): Meta,
    CsrfForm(form): CsrfForm<OrganizationForm>,
) -> Result<HttpResponse, AppError> {
    let (token, inv) = lookup(&state, &path).await?.ok_or(AppError::NotFound)?;
    let view = View {
        state: &state,
        session: &session,
        inv: &inv,
        token: token.expose(),
        user: user.0.as_ref(),
    };
    let now = state.clock.now();
    if let Err(why) = inv.facts.check_usable(now) {
        return respond(&view.unusable(why)?, Rejection::LinkUnusable.status());
    }
    let company = OrganizationName::parse(&form.company);
    let keep = |page: &mut TenantPage| {
        page.name = form.name.chars().take(200).collect();
        page.company = form.company.chars().take(200).collect();
    };
    match &user.0 {
        Some(signed_in) => {
            if signed_in.email != inv.email {
                return respond(&view.page("wrong_account")?, Rejection::Forbidden.status());
            }
            let company = match company {
                Ok(c) => c,
                Err(e) => {
                    let mut page = view.page("confirm")?;
                    keep(&mut page);
                    page.company_error = Some(format!("Company name: {e}."));
                    return respond(&page, Rejection::Invalid.status());
                }
            };
            let ctx = AuditContext {
                actor: actor_of(signed_in, false),
                meta,
            };
            let acceptor = signed_in.clone();
            let tenant = inv.clone();
            match state
                .db
                .run(move |c| {
                    db::tenant_invitations::accept(c, &ctx, &tenant, &acceptor, &company, now)
                })
                .await?
            {
                Ok(org) => welcome(&session, signed_in, &org),
                Err(e) => refused(&view, e),
            }
        }
        None => {
            let email = inv.email.clone();
            let exists = state
                .db
                .run(move |c| db::users::email_exists(c, &email))
                .await?;
            if exists {
                let company = match company {
                    Ok(c) => c,
                    Err(e) => {
                        let mut page = view.page("login")?;
                        keep(&mut page);
                        page.company_error = Some(format!("Company name: {e}."));
                        return respond(&page, Rejection::Invalid.status());
                    }
                };
                let Some(acceptor) =
                    authenticate(&state, inv.email.as_str(), &form.password).await?
                else {
                    let mut page = view.page("login")?;
                    keep(&mut page);
                    page.password_error = Some(LOGIN_FAILED.into());
                    return respond(&page, Rejection::WrongPassword.status());
                };
                let ctx = AuditContext {
                    actor: actor_of(&acceptor, false),
                    meta,
                };
                let (tenant, who) = (inv.clone(), acceptor.clone());
                match state
                    .db
                    .run(move |c| {
                        db::tenant_invitations::accept(c, &ctx, &tenant, &who, &company, now)
                    })
                    .await?
                {
                    Ok(org) => welcome(&session, &acceptor, &org),
                    Err(e) => refused(&view, e),
                }
            } else {
                let name = PersonName::parse(&form.name);
                let password = Password::new_account(&form.password);
                let (name, password, company) = match (name, password, company) {
                    (Ok(n), Ok(p), Ok(c)) => (n, p, c),
                    (name, password, company) => {
                        let mut page = view.page("new_user")?;
                        keep(&mut page);
                        page.name_error = name.err().map(|e| format!("Name: {e}."));
                        page.password_error = password.err().map(|e| format!("Password: {e}."));
                        page.company_error = company.err().map(|e| format!("Company name: {e}."));
                        return respond(&page, Rejection::Invalid.status());
                    }
                };
                let hash = state.hash_password(password).await?;
                let tenant = inv.clone();
                let result = state
                    .db
                    .run(move |c| {
                        db::tenant_invitations::register_and_accept(
                            c, &meta, &tenant, &name, &hash, &company, now,
                        )
                    })
                    .await?;
                match result {
                    Ok((user, org)) => welcome(&session, &user, &org),
                    Err(e) => refused(&view, e),
                }
            }
        }
    }
}

/// POST /invitations/{token}/decline-organization — the invitee declines (signed out, or
/// signed in as the invitee; never another account).
pub async fn decline(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let (token, inv) = lookup(&state, &path).await?.ok_or(AppError::NotFound)?;
    let view = View {
        state: &state,
        session: &session,
        inv: &inv,
        token: token.expose(),
        user: user.0.as_ref(),
    };
    if user.0.as_ref().is_some_and(|u| u.email != inv.email) {
        return respond(&view.page("wrong_account")?, Rejection::Forbidden.status());
    }
    let now = state.clock.now();
    if let Err(why) = inv.facts.check_usable(now) {
        return respond(&view.unusable(why)?, Rejection::LinkUnusable.status());
    }
    let tenant = inv.clone();
    if state
        .db
        .run(move |c| db::tenant_invitations::decline(c, &tenant, now))
        .await?
    {
        respond(&view.page("declined")?, StatusCode::OK)
    } else {
        respond(
            &view.unusable(Unusable::AlreadyUsed)?,
            Rejection::LinkUnusable.status(),
        )
    }
}
