//! Invite links (DESIGN.md, "Invite link"; issue 5, item 3): the "Create invite link" form and
//! the page that shows a new link once, revocation with a confirmation page, `/join/{token}`
//! where someone follows a link, and the page of the link mailed from there.
//!
//! Creating and revoking need `users:invite` (Owner, Admin, staff acting in the organization)
//! and, like every invitation, a paid plan; the role must be within the creator's ceiling.
//! Links are built from the configured base URL, never the request's Host header. Opening
//! `/join/{token}` never changes anything; joining is a POST. Pages that carry a token send
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.
//!
//! A link is bound to no email, so a signed-out person proves theirs before any account is
//! bound to it (DESIGN.md, Security rules): "Email me a link" sends a sign-up link that
//! carries the invite link, with the same answer for every address, and the mailed link's page
//! (at `/signup/{token}`, dispatched here) creates the account or takes the account holder's
//! password, then joins. Someone with an account can also log in and join on `/join/{token}`
//! directly (their password proves the account), or join with one click when signed in.

use crate::web::session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{LOGIN_FAILED, authenticate};
use super::team::{TimeView, act_on_refused};
use super::{render, see_other};
use crate::db::invite_links::{Joined, Joiner};
use crate::db::{self};
use crate::domain::User;
use crate::domain::invitation::check_acting_on;
use crate::domain::invite_link::InviteLinkDetails;
use crate::domain::invite_link::{
    JoinError, JoinPage, LinkExpiry, LinkUnusable, LinkVisitor, MailedJoinPage, MailedVisitor,
    join_page, mailed_join_page,
};
use crate::domain::password::Password;
use crate::domain::signup::SignupRequest;
use crate::domain::signup::{LinkUnusable as MailedLinkUnusable, MAX_EMAILS_PER_WINDOW};
use crate::domain::text::{MAX_NAME_CHARS, PersonName};
use crate::domain::token::LinkToken;
use crate::domain::{EmailAddress, InviteLinkId, Permission, Plan, Role};
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::{MaybeUser, OrgMember};
use crate::web::headers::invitation_page;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

/// Renders `page` with the invitation-page headers: the token in the URL or the body must not
/// leak through a `Referer` header or a shared cache.
fn respond(page: &impl Template, status: StatusCode) -> Result<HttpResponse, AppError> {
    Ok(invitation_page(&mut HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

// ---------------------------------------------------------------------------------------------
// Creating a link
// ---------------------------------------------------------------------------------------------

/// The "Create invite link" form as shown.
struct LinkForm {
    action: String,
    roles: Vec<Role>,
    role: String,
    expiries: Vec<LinkExpiry>,
    expiry: String,
    role_error: Option<String>,
    expiry_error: Option<String>,
    form_error: Option<String>,
}

impl LinkForm {
    fn empty(member: &OrgMember) -> Self {
        Self {
            action: paths::create_invite_link(member.org.id),
            roles: member.role.assignable_roles(),
            role: Role::Viewer.as_str().into(),
            expiries: LinkExpiry::ALL.to_vec(),
            expiry: LinkExpiry::DEFAULT.as_str().into(),
            role_error: None,
            expiry_error: None,
            form_error: None,
        }
    }

    fn has_errors(&self) -> bool {
        self.role_error.is_some() || self.expiry_error.is_some() || self.form_error.is_some()
    }
}

#[derive(Template)]
#[template(path = "invite_link_new.html")]
struct NewLinkPage {
    layout: Layout,
    team_path: String,
    trial_message: Option<&'static str>,
    form: LinkForm,
}

#[derive(Template)]
#[template(path = "invite_link_created.html")]
struct CreatedPage {
    layout: Layout,
    team_path: String,
    url: String,
    role: Role,
    expiry: LinkExpiry,
    expires: TimeView,
}

fn trial_message(plan: Plan) -> Option<&'static str> {
    (!plan.allows_invitations()).then_some(Plan::TRIAL_MESSAGE)
}

/// GET /orgs/{org}/invite-links/new — the form (role within the ceiling, expiry), or on a
/// Trial plan the message saying invitations need a paid plan. `users:invite` only (else 403).
pub async fn new_page(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let layout =
        Layout::new(&state, &session, "Create invite link", Some(&member.user))?.in_org(&member);
    render(&NewLinkPage {
        layout,
        team_path: paths::team(member.org.id),
        trial_message: trial_message(member.org.plan),
        form: LinkForm::empty(&member),
    })
}

/// The "Create invite link" form as submitted.
#[derive(Debug, Deserialize)]
pub struct CreateSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    expiry: String,
}

impl HasCsrfToken for CreateSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/invite-links — creates a link and shows it once, with a Copy button.
/// A role above the creator's ceiling, an unknown expiry, a Trial plan or the hourly limit
/// re-show the form with the input kept (422) and nothing written.
pub async fn create(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    CsrfForm(input): CsrfForm<CreateSubmission>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let mut form = LinkForm::empty(&member);
    form.role = input.role.chars().take(20).collect();
    form.expiry = input.expiry.chars().take(20).collect();
    let offered = super::team::OfferedRole::check(&member, &input.role, "create a link for");
    let mut rejection = offered.form_rejection();
    let role = offered.role;
    form.role_error = offered.role_error;
    form.form_error = offered.form_error;
    let expiry = match input.expiry.parse::<LinkExpiry>() {
        Ok(e) => Some(e),
        Err(e) => {
            form.expiry_error = Some(format!("Expires after: {e}."));
            None
        }
    };
    let now = state.clock.now();
    let org = member.org.id;
    if expiry.is_none() && offered.rejection.is_none() {
        // An expiry that the form's list does not offer.
        rejection = Rejection::Malformed;
    }
    let form_page = |form, rejection, retry_after| -> Result<HttpResponse, AppError> {
        let layout = Layout::new(&state, &session, "Create invite link", Some(&member.user))?
            .in_org(&member);
        super::render_refused(
            &NewLinkPage {
                layout,
                team_path: paths::team(org),
                trial_message: trial_message(member.org.plan),
                form,
            },
            rejection,
            retry_after,
        )
    };
    let (Some(role), Some(expiry), false) = (role, expiry, form.has_errors()) else {
        return form_page(form, rejection, None);
    };
    let ctx = member.audit(meta);
    let creator = member.user.id;
    let per_hour = state.settings.invitations_per_hour;
    let created = state
        .db
        .run(move |c| db::invite_links::create(c, &ctx, org, creator, role, expiry, per_hour, now))
        .await?;
    let (link, token) = match created {
        Ok(created) => created,
        Err(over) => {
            form.form_error = Some(over.to_string());
            let reopens = state
                .db
                .run(move |c| db::invite_links::hourly_window_reopens(c, org, now))
                .await?;
            let wait = reopens.map_or(60, |at| super::seconds_until(at, now));
            return form_page(form, Rejection::RateLimited, Some(wait));
        }
    };
    let layout =
        Layout::new(&state, &session, "Invite link created", Some(&member.user))?.in_org(&member);
    respond(
        &CreatedPage {
            layout,
            team_path: paths::team(org),
            url: format!("{}{}", state.base_url, paths::join(token.expose())),
            role,
            expiry,
            expires: TimeView::new(link.facts.expires_at, now),
        },
        StatusCode::OK,
    )
}

// ---------------------------------------------------------------------------------------------
// Revoking a link
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "invite_link_revoke.html")]
struct RevokePage {
    layout: Layout,
    role: Role,
    creator_name: String,
    created: TimeView,
    expires: TimeView,
    /// Why it can no longer be revoked (used, revoked, expired), if so.
    unusable: Option<String>,
    action: String,
    team_path: String,
}

async fn load_in_org(
    state: &AppState,
    member: &OrgMember,
    raw_id: &str,
) -> Result<InviteLinkDetails, AppError> {
    let id: InviteLinkId = raw_id.parse().map_err(|_| AppError::NotFound)?;
    let org = member.org.id;
    state
        .db
        .run(move |c| db::invite_links::find_details_in_org(c, org, id))
        .await?
        .ok_or(AppError::NotFound)
}

/// GET /orgs/{org}/invite-links/{id}/revoke — asks for confirmation (or says the link is
/// already unusable). Another organization's link is a 404.
pub async fn revoke_confirm(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let details = load_in_org(&state, &member, &path.1).await?;
    check_acting_on(member.inviter(), details.link.role)
        .map_err(|denied| act_on_refused(denied, "revoke an invite link for", member.org.id))?;
    let now = state.clock.now();
    let link = &details.link;
    render(&RevokePage {
        layout: Layout::new(&state, &session, "Revoke invite link", Some(&member.user))?
            .in_org(&member),
        role: link.role,
        creator_name: details.creator_name.clone(),
        created: TimeView::new(link.created_at, now),
        expires: TimeView::new(link.facts.expires_at, now),
        unusable: link.facts.check_revoke(now).err().map(|e| e.to_string()),
        action: paths::revoke_invite_link(member.org.id, link.id),
        team_path: paths::team(member.org.id),
    })
}

/// POST /orgs/{org}/invite-links/{id}/revoke — the link stops working at once; back to the
/// Team page with a message.
pub async fn revoke(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    path: web::Path<(String, String)>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::UsersInvite)?;
    let details = load_in_org(&state, &member, &path.1).await?;
    check_acting_on(member.inviter(), details.link.role)
        .map_err(|denied| act_on_refused(denied, "revoke an invite link for", member.org.id))?;
    let now = state.clock.now();
    let ctx = member.audit(meta);
    let link = details.link.clone();
    let role = link.role;
    let result = state
        .db
        .run(move |c| db::invite_links::revoke(c, &ctx, &link, now))
        .await?;
    match result {
        Ok(()) => flash::success(
            &session,
            format!(
                "The invite link for {} was revoked; it no longer works.",
                role.label()
            ),
        ),
        Err(why) => {
            return Err(
                AppError::Conflict(format!("{why}: nothing to revoke.").into())
                    .back_to(paths::team(member.org.id), "Back to Team Management"),
            );
        }
    }
    Ok(see_other(&paths::team(member.org.id)))
}

// ---------------------------------------------------------------------------------------------
// Following a link: /join/{token}, and the link mailed to prove an address
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "join.html")]
struct JoinView {
    layout: Layout,
    /// On `/join/{token}`: `signed_out`, `sent`, `confirm`, `member` or `unusable`; on a mailed
    /// link also `create_account`, `log_in` or `wrong_account`.
    branch: &'static str,
    org_name: String,
    creator_name: String,
    role: Role,
    expires: TimeView,
    /// The page's own path: its forms post there (or under it), and "Log out" comes back.
    base_path: String,
    /// Where the signed-in one-click "Join" posts.
    accept_action: String,
    signed_in_email: String,
    /// The role of someone already a member.
    member_role: Option<Role>,
    dashboard_path: String,
    /// The address: as typed into "Email me a link" (kept on errors), or proved by the mailed
    /// link.
    email: String,
    email_error: Option<String>,
    /// "Create account & join" on a mailed link: kept input and errors.
    name: String,
    name_error: Option<String>,
    password_error: Option<String>,
    /// "Log in & join": kept input and error.
    login_email: String,
    login_error: Option<String>,
    unusable_title: String,
    unusable_advice: String,
    /// The per-address limit that "Check your email" mentions.
    max_per_hour: i64,
}

/// What every join page needs.
struct Visit<'a> {
    state: &'a AppState,
    session: &'a Session,
    details: &'a InviteLinkDetails,
    /// The page's own path (`/join/{token}`, or the mailed link's `/signup/{token}`).
    base_path: String,
    /// Where the one-click "Join" posts.
    accept_action: String,
    /// The address a mailed link proved (empty on `/join/{token}`).
    email: String,
    user: Option<&'a User>,
}

impl<'a> Visit<'a> {
    /// A visit to `/join/{token}`.
    fn link(
        state: &'a AppState,
        session: &'a Session,
        details: &'a InviteLinkDetails,
        token: &LinkToken,
        user: Option<&'a User>,
    ) -> Self {
        let base_path = paths::join(token.expose());
        Self {
            state,
            session,
            details,
            accept_action: format!("{base_path}/accept"),
            base_path,
            email: String::new(),
            user,
        }
    }

    /// A visit to a mailed link.
    fn mailed(
        state: &'a AppState,
        session: &'a Session,
        details: &'a InviteLinkDetails,
        mailed: &MailedLink<'_>,
        user: Option<&'a User>,
    ) -> Self {
        Self {
            state,
            session,
            details,
            accept_action: mailed.base_path.clone(),
            base_path: mailed.base_path.clone(),
            email: mailed.request.email.to_string(),
            user,
        }
    }

    fn page(&self, branch: &'static str) -> Result<JoinView, AppError> {
        let org = &self.details.organization;
        let now = self.state.clock.now();
        Ok(JoinView {
            layout: Layout::new(
                self.state,
                self.session,
                format!("Join {}", org.name),
                self.user,
            )?,
            branch,
            org_name: org.name.clone(),
            creator_name: self.details.creator_name.clone(),
            role: self.details.link.role,
            expires: TimeView::new(self.details.link.facts.expires_at, now),
            base_path: self.base_path.clone(),
            accept_action: self.accept_action.clone(),
            signed_in_email: self.user.map(|u| u.email.to_string()).unwrap_or_default(),
            member_role: None,
            dashboard_path: paths::dashboard(org.id),
            email: self.email.clone(),
            email_error: None,
            name: String::new(),
            name_error: None,
            password_error: None,
            login_email: String::new(),
            login_error: None,
            unusable_title: String::new(),
            unusable_advice: String::new(),
            max_per_hour: MAX_EMAILS_PER_WINDOW,
        })
    }

    fn unusable(&self, why: LinkUnusable) -> Result<HttpResponse, AppError> {
        let mut page = self.page("unusable")?;
        page.unusable_title = why.to_string();
        page.unusable_advice = why.advice(&self.details.organization.name);
        respond(&page, Rejection::LinkUnusable.status())
    }

    /// The mailed link itself expired (or was used).
    fn mailed_unusable(&self, why: MailedLinkUnusable) -> Result<HttpResponse, AppError> {
        let mut page = self.page("unusable")?;
        page.unusable_title = why.to_string();
        page.unusable_advice = why.advice_for_joining().to_owned();
        respond(&page, Rejection::LinkUnusable.status())
    }

    fn already_member(&self, role: Role, status: StatusCode) -> Result<HttpResponse, AppError> {
        let mut page = self.page("member")?;
        page.member_role = Some(role);
        respond(&page, status)
    }

    /// After joining: a new session key, the message, the organization's dashboard.
    fn joined(&self, joined: &Joined) -> Result<HttpResponse, AppError> {
        self.session.sign_in(joined.user.id)?;
        let org = &self.details.organization;
        flash::success(
            self.session,
            format!("You joined {} as {}", org.name, joined.role.label()),
        );
        Ok(see_other(&paths::dashboard(org.id)))
    }
}

/// Parses the token (a malformed one is a 404 without a query) and loads its link.
async fn load(state: &AppState, raw: &str) -> Result<(LinkToken, InviteLinkDetails), AppError> {
    let token = LinkToken::parse(raw).map_err(|_| AppError::NotFound)?;
    let lookup = token.clone();
    let details = state
        .db
        .run(move |c| db::invite_links::find_by_token(c, &lookup))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((token, details))
}

/// GET /join/{token} — signed out: "Email me a link" (to join as a new person, or as an
/// account holder once the address is proved) or log in, to join; signed in: "Join
/// {organization} as {role}"; already a member: says so (the link stays unused); expired,
/// used or revoked: a page asking for a new link; unknown token: 404. Reads only.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let visit = Visit::link(&state, &session, &details, &token, user.0.as_ref());
    let link = details.link.clone();
    let user_id = user.0.as_ref().map(|u| u.id);
    let (policy, membership) = state
        .db
        .run(move |c| {
            let policy = db::invite_links::creator_policy(c, &link)?;
            let membership = match user_id {
                Some(u) => db::organizations::membership(c, link.organization_id, u)?,
                None => None,
            };
            Ok((policy, membership))
        })
        .await?;
    let visitor = match &user.0 {
        None => LinkVisitor::SignedOut,
        Some(_) => LinkVisitor::SignedIn {
            membership: membership.map(|m| m.role),
        },
    };
    match join_page(&details.link.facts, policy, visitor, state.clock.now()) {
        JoinPage::SignedOut => respond(&visit.page("signed_out")?, StatusCode::OK),
        JoinPage::Confirm => respond(&visit.page("confirm")?, StatusCode::OK),
        JoinPage::AlreadyMember(role) => visit.already_member(role, StatusCode::OK),
        JoinPage::Unusable(why) => visit.unusable(why),
    }
}

/// The answer to a refused join.
fn refused(visit: &Visit<'_>, e: JoinError) -> Result<HttpResponse, AppError> {
    match e {
        JoinError::Unusable(why) => visit.unusable(why),
        JoinError::MailedLinkUnusable(why) => visit.mailed_unusable(why),
        JoinError::AlreadyMember(role) => {
            visit.already_member(role, Rejection::FinalState.status())
        }
        JoinError::EmailTaken => {
            // An account was made with the address meanwhile: its password joins (as
            // sign-up's "account exists" answers, 409).
            let mut page = visit.page("log_in")?;
            page.login_error = Some(e.to_string());
            respond(&page, Rejection::FinalState.status())
        }
    }
}

/// The "Email me a link" form.
#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
}

impl HasCsrfToken for EmailForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /join/{token}/register — "Email me a link": mails the address a link that proves it
/// (DESIGN.md, Security rules: every way in proves the person's email before an account is
/// bound to it) and answers "Check your email" — the same page and status whether or not the
/// address has an account, or has had its hourly emails. Nothing else is created, and the
/// invite link is not used: that happens when the mailed link's form is completed. An
/// unusable link says so (410); a malformed address re-shows the form (422).
pub async fn request_link(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    if user.0.is_some() {
        // Signed in already: the page shows the branch that fits them.
        return Ok(see_other(&paths::join(token.expose())));
    }
    let visit = Visit::link(&state, &session, &details, &token, None);
    let link = details.link.clone();
    let policy = state
        .db
        .run(move |c| db::invite_links::creator_policy(c, &link))
        .await?;
    let now = state.clock.now();
    if let JoinPage::Unusable(why) =
        join_page(&details.link.facts, policy, LinkVisitor::SignedOut, now)
    {
        return visit.unusable(why);
    }
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let mut page = visit.page("signed_out")?;
            page.email = form.email.chars().take(254).collect();
            page.email_error = Some(format!("Email: {e}."));
            return respond(&page, Rejection::Invalid.status());
        }
    };
    let key = state.settings.token_key.clone();
    let (for_db, link) = (email.clone(), details.link.clone());
    // The decision is deliberately dropped: the page must not depend on it.
    let _sent = state
        .db
        .run(move |c| db::signups::request_to_join(c, &for_db, &link, &key, now))
        .await?;
    state.outbox.wake();
    let mut page = visit.page("sent")?;
    page.layout.title = "Check your email".into();
    page.email = email.to_string();
    respond(&page, StatusCode::OK)
}

/// The "Log in & join" form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

impl HasCsrfToken for LoginForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /join/{token}/login — someone with an account logs in (same answer and timing for an
/// unknown email and a wrong password, as `/login`) and joins. A member already is signed in
/// and told so; the link stays unused.
pub async fn log_in_and_join(
    state: web::Data<AppState>,
    session: Session,
    Meta(meta): Meta,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let visit = Visit::link(&state, &session, &details, &token, None);
    if let Err(why) = details.link.facts.check_usable(state.clock.now()) {
        return visit.unusable(why);
    }
    let Some(user) = authenticate(&state, &form.email, &form.password).await? else {
        let mut page = visit.page("signed_out")?;
        page.login_email = form.email.chars().take(254).collect();
        page.login_error = Some(LOGIN_FAILED.into());
        return respond(&page, Rejection::WrongPassword.status());
    };
    join_as(&state, &visit, user, meta).await
}

/// POST /join/{token}/accept — the signed-in person joins with one click.
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
        return Ok(see_other(&paths::join(token.expose())));
    };
    let visit = Visit::link(&state, &session, &details, &token, Some(&user));
    join_as(&state, &visit, user.clone(), meta).await
}

async fn join_as(
    state: &AppState,
    visit: &Visit<'_>,
    user: User,
    meta: crate::db::audit::RequestMeta,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let for_db = visit.details.clone();
    let joiner = Joiner::Existing(user.clone());
    let result = state
        .db
        .run(move |c| db::invite_links::use_link(c, &meta, &for_db, joiner, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(joined) => visit.joined(&joined),
        Err(JoinError::AlreadyMember(role)) => {
            // They proved who they are: sign them in, and say the link was left unused.
            visit.session.sign_in(user.id)?;
            let org = &visit.details.organization;
            flash::info(
                visit.session,
                format!(
                    "You are already a member of {} as {}; the invite link was not used.",
                    org.name,
                    role.label()
                ),
            );
            Ok(see_other(&paths::dashboard(org.id)))
        }
        Err(e) => refused(visit, e),
    }
}

/// A followed link that was mailed to prove an address for joining through an invite link.
#[derive(Debug)]
pub(super) struct MailedLink<'a> {
    /// Its page's path (`/signup/{token}`).
    pub base_path: String,
    /// The sign-up request it carries.
    pub request: &'a SignupRequest,
    /// The invite link it joins through (the request's).
    pub invite_link: InviteLinkId,
}

/// Loads the invite link that `mailed` carries and decides its page for `user` at `now`
/// (`mailed_join_page`). Reads only, and only cheap queries: a POST decides with it before
/// any password is hashed or verified.
async fn decide_mailed(
    state: &AppState,
    mailed: &MailedLink<'_>,
    user: Option<&User>,
) -> Result<(InviteLinkDetails, MailedJoinPage), AppError> {
    let (request, link_id) = (mailed.request, mailed.invite_link);
    let email = request.email.clone();
    // Only the account with the proved address may use it; only its membership matters.
    let same_account = user.filter(|u| u.email == request.email).map(|u| u.id);
    let (details, policy, account_exists, membership) = state
        .db
        .run(move |c| {
            let Some(details) = db::invite_links::find_details(c, link_id)? else {
                return Ok(None);
            };
            let policy = db::invite_links::creator_policy(c, &details.link)?;
            let account_exists = db::users::email_exists(c, &email)?;
            let membership = match same_account {
                Some(id) => db::organizations::membership(c, details.link.organization_id, id)?,
                None => None,
            };
            Ok(Some((details, policy, account_exists, membership)))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    let visitor = match (user, same_account) {
        (None, _) => MailedVisitor::SignedOut { account_exists },
        (Some(_), Some(_)) => MailedVisitor::SignedInAsAddress {
            membership: membership.map(|m| m.role),
        },
        (Some(_), None) => MailedVisitor::SignedInAsOther,
    };
    let page = mailed_join_page(
        &details.link.facts,
        policy,
        &request.facts,
        visitor,
        state.clock.now(),
    );
    Ok((details, page))
}

/// GET /signup/{token} for a mailed link that carries an invite link: a new person gets Name, Password → "Create account & join"; an
/// account holder "Log in as {email} to join", Password → "Log in & join"; signed in as the
/// address, "Join"; signed in as another account, "Log out"; an invite link that expired, was
/// used or revoked says so (410), as does the mailed link once expired. Reads only.
pub(super) async fn show_mailed(
    state: &AppState,
    session: &Session,
    user: Option<&User>,
    mailed: MailedLink<'_>,
) -> Result<HttpResponse, AppError> {
    let (details, decision) = decide_mailed(state, &mailed, user).await?;
    let visit = Visit::mailed(state, session, &details, &mailed, user);
    match decision {
        MailedJoinPage::CreateAccount => respond(&visit.page("create_account")?, StatusCode::OK),
        MailedJoinPage::LogIn => respond(&visit.page("log_in")?, StatusCode::OK),
        MailedJoinPage::Confirm => respond(&visit.page("confirm")?, StatusCode::OK),
        MailedJoinPage::AlreadyMember(role) => visit.already_member(role, StatusCode::OK),
        MailedJoinPage::WrongAccount => respond(&visit.page("wrong_account")?, StatusCode::OK),
        MailedJoinPage::Unusable(why) => visit.unusable(why),
        MailedJoinPage::MailedLinkUnusable(why) => visit.mailed_unusable(why),
    }
}

/// What the mailed link's forms send.
#[derive(Debug)]
pub(super) struct MailedSubmission<'a> {
    /// "Create account & join": the name.
    pub name: &'a str,
    /// The new password, or the account's password.
    pub password: &'a str,
}

/// POST /signup/{token} for a mailed link that carries an invite link. Decides as the
/// page does, before any password is touched (an unusable link is a 410, another account a
/// 403, a member a 409); then a new person's name and password create the account and join
/// (bad input re-shows the form with 422), an account holder's password logs in and joins
/// (a wrong one is a 401), or the signed-in account joins. Creating the account, using up the
/// mailed link and the invite link, and the membership are one transaction
/// (`db::invite_links::use_link`), which checks the invite link and its creator again.
pub(super) async fn complete_mailed(
    state: &AppState,
    session: &Session,
    user: Option<User>,
    meta: crate::db::audit::RequestMeta,
    mailed: MailedLink<'_>,
    form: MailedSubmission<'_>,
) -> Result<HttpResponse, AppError> {
    let (details, decision) = decide_mailed(state, &mailed, user.as_ref()).await?;
    let visit = Visit::mailed(state, session, &details, &mailed, user.as_ref());
    let request = mailed.request;
    match (decision, user.as_ref()) {
        (MailedJoinPage::Unusable(why), _) => visit.unusable(why),
        (MailedJoinPage::MailedLinkUnusable(why), _) => visit.mailed_unusable(why),
        (MailedJoinPage::WrongAccount, _) => {
            respond(&visit.page("wrong_account")?, Rejection::Forbidden.status())
        }
        (MailedJoinPage::AlreadyMember(role), _) => {
            visit.already_member(role, Rejection::FinalState.status())
        }
        (MailedJoinPage::Confirm, Some(user)) => join_as(state, &visit, user.clone(), meta).await,
        (MailedJoinPage::LogIn, _) => {
            let Some(account) = authenticate(state, request.email.as_str(), form.password).await?
            else {
                let mut page = visit.page("log_in")?;
                page.login_error = Some(LOGIN_FAILED.into());
                return respond(&page, Rejection::WrongPassword.status());
            };
            join_as(state, &visit, account, meta).await
        }
        (MailedJoinPage::CreateAccount, _) => {
            create_account_and_join(state, &visit, meta, request, &details, form).await
        }
        // Confirm is only decided for a signed-in visitor.
        (MailedJoinPage::Confirm, None) => Ok(see_other(&visit.base_path)),
    }
}

/// "Create account & join" on a mailed link: checks the name and password (422 with the name
/// kept), hashes the password off the async workers, then joins as [`Joiner::New`].
async fn create_account_and_join(
    state: &AppState,
    visit: &Visit<'_>,
    meta: crate::db::audit::RequestMeta,
    request: &SignupRequest,
    details: &InviteLinkDetails,
    form: MailedSubmission<'_>,
) -> Result<HttpResponse, AppError> {
    let (name, password) = match (
        PersonName::parse(form.name),
        Password::new_account(form.password),
    ) {
        (Ok(name), Ok(password)) => (name, password),
        (name, password) => {
            let mut page = visit.page("create_account")?;
            page.name = form.name.chars().take(MAX_NAME_CHARS * 2).collect();
            page.name_error = name.err().map(|e| format!("Name: {e}."));
            page.password_error = password.err().map(|e| format!("Password: {e}."));
            return respond(&page, Rejection::Invalid.status());
        }
    };
    let password_hash = state.hash_password(password).await?;
    let now = state.clock.now();
    let joiner = Joiner::New {
        proof: request.clone(),
        name,
        password_hash,
    };
    let for_db = details.clone();
    let result = state
        .db
        .run(move |c| db::invite_links::use_link(c, &meta, &for_db, joiner, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(joined) => visit.joined(&joined),
        Err(e) => refused(visit, e),
    }
}
