//! The acceptance page `/invitations/{token}` and its four POSTs (DESIGN.md, "The acceptance
//! page"). Opening the link never changes anything — mail scanners open links — and a visit by
//! the wrong account never uses the invitation up.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{LOGIN_FAILED, authenticate};
use super::team::TimeView;
use super::{paths, see_other};
use crate::db::invitations::{Accepted, InvitationDetails};
use crate::db::users::User;
use crate::db::{self};
use crate::domain::Role;
use crate::domain::invitation::{AcceptError, AcceptancePage, Unusable, Visitor, acceptance_page};
use crate::domain::password::{Password, hash_password};
use crate::domain::text::PersonName;
use crate::domain::token::InvitationToken;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{MaybeUser, sign_in};
use crate::web::headers::invitation_page;
use crate::web::{AppError, AppState, Layout, flash};

#[derive(Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    layout: Layout,
    /// `new_user`, `login`, `confirm`, `wrong_account`, `unusable` or `declined`.
    branch: &'static str,
    org_name: String,
    inviter_name: String,
    email: String,
    role: Role,
    message: Option<String>,
    expires: Option<TimeView>,
    base_path: String,
    signed_in_email: String,
    name: String,
    name_error: Option<String>,
    password_error: Option<String>,
    unusable_title: String,
    unusable_advice: String,
}

/// What the page needs besides the branch; errors and kept input start empty.
struct View<'a> {
    state: &'a AppState,
    session: &'a Session,
    details: &'a InvitationDetails,
    token: &'a str,
    user: Option<&'a User>,
}

impl View<'_> {
    fn page(&self, branch: &'static str) -> Result<AcceptPage, AppError> {
        let inv = &self.details.invitation;
        let now = self.state.clock.now();
        let title = format!("Invitation to {}", self.details.organization.name);
        Ok(AcceptPage {
            layout: Layout::new(self.state, self.session, title, self.user)?,
            branch,
            org_name: self.details.organization.name.clone(),
            inviter_name: self.details.inviter_name.clone(),
            email: inv.email.to_string(),
            role: inv.role,
            message: inv.message.clone(),
            expires: Some(TimeView::new(inv.facts.expires_at, now)),
            base_path: format!("/invitations/{}", self.token),
            signed_in_email: self.user.map(|u| u.email.to_string()).unwrap_or_default(),
            name: String::new(),
            name_error: None,
            password_error: None,
            unusable_title: String::new(),
            unusable_advice: String::new(),
        })
    }

    fn unusable(&self, why: Unusable) -> Result<AcceptPage, AppError> {
        let mut page = self.page("unusable")?;
        page.unusable_title = why.to_string();
        page.unusable_advice = why.advice().to_owned();
        page.message = None;
        page.expires = None;
        Ok(page)
    }
}

/// Renders an acceptance page with the invitation-page headers (no referrer, no caching).
fn respond(page: &AcceptPage, status: StatusCode) -> Result<HttpResponse, AppError> {
    Ok(invitation_page(&mut HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

fn unusable_status(why: Unusable) -> StatusCode {
    match why {
        Unusable::Expired | Unusable::Revoked | Unusable::AlreadyUsed | Unusable::Declined => {
            StatusCode::GONE
        }
    }
}

async fn load(
    state: &AppState,
    raw_token: &str,
) -> Result<(InvitationToken, InvitationDetails), AppError> {
    let token = InvitationToken::parse(raw_token).map_err(|_| AppError::NotFound)?;
    let lookup = token.clone();
    let details = state
        .db
        .run(move |c| db::invitations::find_by_token(c, &lookup))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((token, details))
}

/// GET /invitations/{token} — exactly one of the four branches, or why the link is unusable.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let view = View {
        state: &state,
        session: &session,
        details: &details,
        token: token.expose(),
        user: user.0.as_ref(),
    };
    let now = state.clock.now();
    let visitor = match &user.0 {
        Some(u) => Visitor::SignedIn { email: &u.email },
        None => {
            let email = details.invitation.email.clone();
            let exists = state
                .db
                .run(move |c| db::users::email_exists(c, &email))
                .await?;
            Visitor::SignedOut {
                account_exists: exists,
            }
        }
    };
    match acceptance_page(
        &details.invitation.facts,
        &details.invitation.email,
        visitor,
        now,
    ) {
        AcceptancePage::NewUser => respond(&view.page("new_user")?, StatusCode::OK),
        AcceptancePage::LogInToAccept => respond(&view.page("login")?, StatusCode::OK),
        AcceptancePage::Confirm => respond(&view.page("confirm")?, StatusCode::OK),
        AcceptancePage::WrongAccount => respond(&view.page("wrong_account")?, StatusCode::OK),
        AcceptancePage::Unusable(why) => respond(&view.unusable(why)?, unusable_status(why)),
    }
}

/// After a successful acceptance: a new session key, the message, the dashboard.
fn joined(
    session: &Session,
    user: &User,
    details: &InvitationDetails,
    accepted: Accepted,
) -> Result<HttpResponse, AppError> {
    sign_in(session, user.id)?;
    let org = &details.organization;
    match accepted {
        Accepted::Joined(role) => flash::success(
            session,
            format!("You joined {} as {}", org.name, role.label()),
        ),
        Accepted::AlreadyMember(role) => flash::info(
            session,
            format!(
                "You are already a member of {} as {}; your role is unchanged.",
                org.name,
                role.label()
            ),
        ),
    }
    Ok(see_other(&paths::dashboard(org.id)))
}

fn refused(view: &View<'_>, e: AcceptError) -> Result<HttpResponse, AppError> {
    match e {
        AcceptError::Unusable(why) => respond(&view.unusable(why)?, unusable_status(why)),
        AcceptError::WrongAccount => respond(&view.page("wrong_account")?, StatusCode::FORBIDDEN),
    }
}

/// The "Create account & join" form.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

impl HasCsrfToken for RegisterForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /invitations/{token}/register — branch 1: the invitation proves the email, so the
/// account is created and the invitation accepted in one transaction.
pub async fn register(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let view = View {
        state: &state,
        session: &session,
        details: &details,
        token: token.expose(),
        user: user.0.as_ref(),
    };
    if user.0.is_some() {
        // Signed in already: the page shows the branch that fits them.
        return Ok(see_other(&view.page("confirm")?.base_path));
    }
    let name = PersonName::parse(&form.name);
    let password = Password::new_account(&form.password);
    let (name, password) = match (name, password) {
        (Ok(n), Ok(p)) => (n, p),
        (name, password) => {
            let mut page = view.page("new_user")?;
            page.name = form.name.chars().take(200).collect();
            page.name_error = name.err().map(|e| format!("Name: {e}."));
            page.password_error = password.err().map(|e| format!("Password: {e}."));
            return respond(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    let now = state.clock.now();
    let for_db = details.clone();
    let result = state
        .db
        .run(move |c| db::invitations::register_and_accept(c, &for_db, &name, &hash, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(Some((user, accepted))) => joined(&session, &user, &details, accepted),
        Ok(None) => {
            flash::info(
                &session,
                "An account with this email already exists. Log in to accept.",
            );
            Ok(see_other(&view.page("login")?.base_path))
        }
        Err(e) => refused(&view, e),
    }
}

/// The "Log in & accept" form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    password: String,
}

impl HasCsrfToken for PasswordForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /invitations/{token}/login — branch 2: log in as the invited email and accept.
pub async fn log_in_and_accept(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let view = View {
        state: &state,
        session: &session,
        details: &details,
        token: token.expose(),
        user: None,
    };
    if let Err(why) = details.invitation.facts.check_usable(state.clock.now()) {
        return respond(&view.unusable(why)?, unusable_status(why));
    }
    let Some(user) =
        authenticate(&state, details.invitation.email.as_str(), &form.password).await?
    else {
        let mut page = view.page("login")?;
        page.password_error = Some(LOGIN_FAILED.into());
        return respond(&page, StatusCode::UNAUTHORIZED);
    };
    accept_as(&state, &session, &view, user).await
}

async fn accept_as(
    state: &AppState,
    session: &Session,
    view: &View<'_>,
    user: User,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let details = view.details.clone();
    let acceptor = user.clone();
    let result = state
        .db
        .run(move |c| db::invitations::accept(c, &details, &acceptor, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(accepted) => joined(session, &user, view.details, accepted),
        Err(e) => refused(view, e),
    }
}

/// POST /invitations/{token}/accept — branch 3: the signed-in invitee accepts.
pub async fn accept(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let Some(user) = user.0 else {
        return Ok(see_other(&format!("/invitations/{}", token.expose())));
    };
    let view = View {
        state: &state,
        session: &session,
        details: &details,
        token: token.expose(),
        user: Some(&user),
    };
    accept_as(&state, &session, &view, user.clone()).await
}

/// POST /invitations/{token}/decline — the invitee declines. Anyone holding the link may
/// decline while signed out; a different signed-in account may not (it never uses the
/// invitation up).
pub async fn decline(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let view = View {
        state: &state,
        session: &session,
        details: &details,
        token: token.expose(),
        user: user.0.as_ref(),
    };
    let now = state.clock.now();
    if let Some(u) = &user.0 {
        if u.email != details.invitation.email {
            return respond(&view.page("wrong_account")?, StatusCode::FORBIDDEN);
        }
    }
    if let Err(why) = details.invitation.facts.check_usable(now) {
        return respond(&view.unusable(why)?, unusable_status(why));
    }
    let id = details.invitation.id;
    let declined = state
        .db
        .run(move |c| db::invitations::decline(c, id, now))
        .await?;
    if !declined {
        let why = state
            .db
            .run(move |c| db::invitations::find_details(c, &id.to_string()))
            .await?
            .and_then(|d| d.invitation.facts.check_usable(now).err())
            .unwrap_or(Unusable::AlreadyUsed);
        return respond(&view.unusable(why)?, unusable_status(why));
    }
    respond(&view.page("declined")?, StatusCode::OK)
}
