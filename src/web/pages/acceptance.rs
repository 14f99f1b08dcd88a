//! The acceptance page `/invitations/{token}` and its POSTs (DESIGN.md, "The acceptance
//! page"). Opening the link never changes anything — mail scanners open links — and a visit by
//! the wrong account never uses the invitation up.
//!
//! Invitations follow current policy: when the inviter may no longer grant the invited role
//! (left, lost `users:invite`, or now below it), the page says the invitation was revoked, and
//! the next accept or decline POST writes that state. An expired link offers "Request a new
//! invitation", which emails the inviter at most once a day.

use crate::web::error::Rejection;
use crate::web::session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{LOGIN_FAILED, authenticate};
use super::see_other;
use super::team::TimeView;
use crate::db::audit::{AuditContext, RequestMeta};
use crate::db::invitations::{Accepted, RegistrationBlocked, RenewalRequested, invitee_actor};
use crate::db::{self};
use crate::domain::Role;
use crate::domain::User;
use crate::domain::invitation::InvitationDetails;
use crate::domain::invitation::{
    AcceptError, AcceptancePage, RenewalRefused, Unusable, Visitor, acceptance_page,
};
use crate::domain::password::Password;
use crate::domain::text::PersonName;
use crate::domain::token::LinkToken;
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::MaybeUser;
use crate::web::headers::invitation_page;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

#[derive(Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    layout: Layout,
    /// `new_user`, `login`, `confirm`, `wrong_account`, `unusable`, `declined` or
    /// `renewal_requested`.
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
    /// On an expired link: offer "Request a new invitation".
    renewal_form: bool,
    /// On an expired link: when a new invitation was already requested (within the day).
    renewal_requested: Option<TimeView>,
    /// After "Request a new invitation": whether it had already been asked (nothing sent).
    renewal_repeat: bool,
    /// On an expired link: a newer invitation went out, or the address is a member already.
    renewal_superseded: bool,
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
            base_path: paths::invitation(self.token),
            signed_in_email: self.user.map(|u| u.email.to_string()).unwrap_or_default(),
            name: String::new(),
            name_error: None,
            password_error: None,
            unusable_title: String::new(),
            unusable_advice: String::new(),
            renewal_form: false,
            renewal_requested: None,
            renewal_repeat: false,
            renewal_superseded: false,
        })
    }

    /// The audit trail's view of whoever uses the link: the signed-in account, or the invited
    /// address marked as not signed in.
    fn audit(&self, meta: RequestMeta) -> AuditContext {
        AuditContext {
            actor: invitee_actor(self.user, &self.details.invitation.email),
            meta,
        }
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

/// The page for a link that cannot be used. An expired one also says whether a new invitation
/// can be requested (reading the inviter's standing and the last request; writing nothing).
async fn unusable(view: &View<'_>, why: Unusable) -> Result<HttpResponse, AppError> {
    let mut page = view.unusable(why)?;
    if why == Unusable::Expired {
        let inv = view.details.invitation.clone();
        let now = view.state.clock.now();
        let standing = view
            .state
            .db
            .run(move |c| db::invitations::renewal_standing(c, &inv, now))
            .await?;
        match standing {
            Ok(()) => page.renewal_form = true,
            Err(RenewalRefused::AlreadyRequested { at }) => {
                page.renewal_requested = Some(TimeView::new(at, now));
            }
            Err(RenewalRefused::Superseded) => page.renewal_superseded = true,
            Err(_) => {}
        }
    }
    respond(&page, unusable_status(why))
}

fn unusable_status(why: Unusable) -> StatusCode {
    match why {
        Unusable::Expired | Unusable::Revoked | Unusable::AlreadyUsed | Unusable::Declined => {
            Rejection::LinkUnusable.status()
        }
    }
}

async fn load(
    state: &AppState,
    raw_token: &str,
) -> Result<(LinkToken, InvitationDetails), AppError> {
    let token = LinkToken::parse(raw_token).map_err(|_| AppError::NotFound)?;
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
    let inv = details.invitation.clone();
    let signed_out = user.0.is_none();
    // Reads only: a lapsed inviter shows "revoked" here; a POST writes it.
    let (account_exists, policy) = state
        .db
        .run(move |c| {
            let exists = signed_out && db::users::email_exists(c, &inv.email)?;
            Ok((exists, db::invitations::inviter_policy(c, &inv)?))
        })
        .await?;
    let visitor = match &user.0 {
        Some(u) => Visitor::SignedIn { email: &u.email },
        None => Visitor::SignedOut { account_exists },
    };
    match acceptance_page(
        &details.invitation.facts,
        &details.invitation.email,
        policy,
        visitor,
        now,
    ) {
        AcceptancePage::NewUser => respond(&view.page("new_user")?, StatusCode::OK),
        AcceptancePage::LogInToAccept => respond(&view.page("login")?, StatusCode::OK),
        AcceptancePage::Confirm => respond(&view.page("confirm")?, StatusCode::OK),
        AcceptancePage::WrongAccount => respond(&view.page("wrong_account")?, StatusCode::OK),
        AcceptancePage::Unusable(why) => unusable(&view, why).await,
    }
}

/// After a successful acceptance: a new session key, the message, the dashboard.
fn joined(
    session: &Session,
    user: &User,
    details: &InvitationDetails,
    accepted: Accepted,
) -> Result<HttpResponse, AppError> {
    session.sign_in(user.id)?;
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

async fn refused(view: &View<'_>, e: AcceptError) -> Result<HttpResponse, AppError> {
    match e {
        AcceptError::Unusable(why) => unusable(view, why).await,
        AcceptError::WrongAccount => {
            respond(&view.page("wrong_account")?, Rejection::Forbidden.status())
        }
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
/// account is created and the invitation accepted in one transaction. Whatever can refuse
/// without the password's hash (an unusable link, a lapsed inviter, an existing account,
/// invalid input) is checked before it is computed; the route sits behind the per-client
/// password budget (`web::routes`).
pub async fn register(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(meta): Meta,
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
    // Everything that can refuse without a password hash, before one is computed.
    let now = state.clock.now();
    let for_db = details.clone();
    let check_meta = meta.clone();
    let blocked = state
        .db
        .run(move |c| db::invitations::registration_blocked(c, &check_meta, &for_db, now))
        .await?;
    match blocked {
        None => {}
        Some(RegistrationBlocked::Unusable(why)) => return unusable(&view, why).await,
        Some(RegistrationBlocked::AccountExists) => return log_in_instead(&view),
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
            return respond(&page, Rejection::Invalid.status());
        }
    };
    let hash = state.hash_password(password).await?;
    let now = state.clock.now();
    let for_db = details.clone();
    let result = state
        .db
        .run(move |c| db::invitations::register_and_accept(c, &meta, &for_db, &name, &hash, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(Some((user, accepted))) => joined(&session, &user, &details, accepted),
        Ok(None) => log_in_instead(&view),
        Err(e) => refused(&view, e).await,
    }
}

/// Registration found an account with the invited address: back to the page, which now asks
/// its owner to log in.
fn log_in_instead(view: &View<'_>) -> Result<HttpResponse, AppError> {
    flash::info(
        view.session,
        "An account with this email already exists. Log in to accept.",
    );
    Ok(see_other(&view.page("login")?.base_path))
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
    Meta(meta): Meta,
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
        return unusable(&view, why).await;
    }
    let Some(user) =
        authenticate(&state, details.invitation.email.as_str(), &form.password).await?
    else {
        let mut page = view.page("login")?;
        page.password_error = Some(LOGIN_FAILED.into());
        return respond(&page, Rejection::WrongPassword.status());
    };
    accept_as(&state, &session, &view, user, meta).await
}

async fn accept_as(
    state: &AppState,
    session: &Session,
    view: &View<'_>,
    user: User,
    meta: RequestMeta,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let details = view.details.clone();
    let acceptor = user.clone();
    let ctx = AuditContext {
        actor: invitee_actor(Some(&user), &details.invitation.email),
        meta,
    };
    let result = state
        .db
        .run(move |c| db::invitations::accept(c, &ctx, &details, &acceptor, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(accepted) => joined(session, &user, view.details, accepted),
        Err(e) => refused(view, e).await,
    }
}

/// POST /invitations/{token}/accept — branch 3: the signed-in invitee accepts.
pub async fn accept(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(meta): Meta,
    path: web::Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let Some(user) = user.0 else {
        return Ok(see_other(&paths::invitation(token.expose())));
    };
    let view = View {
        state: &state,
        session: &session,
        details: &details,
        token: token.expose(),
        user: Some(&user),
    };
    accept_as(&state, &session, &view, user.clone(), meta).await
}

/// POST /invitations/{token}/decline — the invitee declines. Anyone holding the link may
/// decline while signed out; a different signed-in account may not (it never uses the
/// invitation up).
pub async fn decline(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(meta): Meta,
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
    if let Some(u) = &user.0
        && u.email != details.invitation.email
    {
        return respond(&view.page("wrong_account")?, Rejection::Forbidden.status());
    }
    if let Err(why) = details.invitation.facts.check_usable(now) {
        return unusable(&view, why).await;
    }
    let ctx = view.audit(meta);
    let inv = details.invitation.clone();
    let declined = state
        .db
        .run(move |c| db::invitations::decline(c, &ctx, &inv, now))
        .await?;
    match declined {
        Ok(()) => respond(&view.page("declined")?, StatusCode::OK),
        Err(why) => unusable(&view, why).await,
    }
}

/// POST /invitations/{token}/request-new — from an expired link's page: asks the inviter by
/// email for a new invitation, at most once a day per invitation; the page says which.
pub async fn request_new(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(meta): Meta,
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
    let ctx = view.audit(meta);
    let for_db = details.clone();
    let result = state
        .db
        .run(move |c| db::invitations::request_renewal(c, &ctx, &for_db, now))
        .await?;
    let at = match result {
        Ok(RenewalRequested::Sent) => {
            state.outbox.wake();
            None
        }
        Ok(RenewalRequested::AlreadyRequested(at)) => Some(at),
        Err(RenewalRefused::StillUsable) => {
            return Ok(see_other(&view.page("confirm")?.base_path));
        }
        Err(RenewalRefused::NotExpired(why)) => return unusable(&view, why).await,
        Err(
            RenewalRefused::InviterLapsed(_)
            | RenewalRefused::Superseded
            | RenewalRefused::AlreadyRequested { .. },
        ) => return unusable(&view, Unusable::Expired).await,
    };
    let mut page = view.page("renewal_requested")?;
    page.message = None;
    page.expires = None;
    page.renewal_repeat = at.is_some();
    page.renewal_requested = Some(TimeView::new(at.unwrap_or(now), now));
    respond(&page, StatusCode::OK)
}
