//! Invite links (DESIGN.md, "Invite link"; issue 5, item 3): the "Create invite link" form and
//! the page that shows a new link once, revocation with a confirmation page, and `/join/{token}`
//! where someone follows a link.
//!
//! Creating and revoking need `users:invite` (Owner, Admin, staff acting in the organization)
//! and, like every invitation, a paid plan; the role must be within the creator's ceiling.
//! Links are built from the configured base URL, never the request's Host header. Opening
//! `/join/{token}` never changes anything; joining is a POST. Pages that carry a token send
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-store`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::auth::{LOGIN_FAILED, authenticate};
use super::team::{TimeView, act_on_refused};
use super::{paths, render, see_other};
use crate::db::invite_links::{InviteLinkDetails, Joined, Joiner};
use crate::db::users::User;
use crate::db::{self};
use crate::domain::invitation::check_acting_on;
use crate::domain::invite_link::{
    JoinError, JoinPage, LinkExpiry, LinkToken, LinkUnusable, LinkVisitor, join_page,
};
use crate::domain::password::Password;
use crate::domain::text::PersonName;
use crate::domain::{EmailAddress, InviteLinkId, Permission, Plan, Role};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{MaybeUser, OrgMember, sign_in};
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
    let form_page = |form| -> Result<HttpResponse, AppError> {
        let layout = Layout::new(&state, &session, "Create invite link", Some(&member.user))?
            .in_org(&member);
        super::render_with_status(
            &NewLinkPage {
                layout,
                team_path: paths::team(org),
                trial_message: trial_message(member.org.plan),
                form,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let (Some(role), Some(expiry), false) = (role, expiry, form.has_errors()) else {
        return form_page(form);
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
            return form_page(form);
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
        Err(why) => flash::error(&session, format!("{why}: nothing to revoke.")),
    }
    Ok(see_other(&paths::team(member.org.id)))
}

// ---------------------------------------------------------------------------------------------
// Following a link: /join/{token}
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "join.html")]
struct JoinView {
    layout: Layout,
    /// `signed_out`, `confirm`, `member` or `unusable`.
    branch: &'static str,
    org_name: String,
    creator_name: String,
    role: Role,
    expires: TimeView,
    base_path: String,
    signed_in_email: String,
    /// The role of someone already a member.
    member_role: Option<Role>,
    dashboard_path: String,
    /// "Create account & join": kept input and errors.
    email: String,
    name: String,
    email_error: Option<String>,
    name_error: Option<String>,
    password_error: Option<String>,
    /// "Log in & join": kept input and error.
    login_email: String,
    login_error: Option<String>,
    unusable_title: String,
    unusable_advice: String,
}

/// What every join page needs.
struct Visit<'a> {
    state: &'a AppState,
    session: &'a Session,
    details: &'a InviteLinkDetails,
    token: &'a LinkToken,
    user: Option<&'a User>,
}

impl Visit<'_> {
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
            base_path: paths::join(self.token.expose()),
            signed_in_email: self.user.map(|u| u.email.to_string()).unwrap_or_default(),
            member_role: None,
            dashboard_path: paths::dashboard(org.id),
            email: String::new(),
            name: String::new(),
            email_error: None,
            name_error: None,
            password_error: None,
            login_email: String::new(),
            login_error: None,
            unusable_title: String::new(),
            unusable_advice: String::new(),
        })
    }

    fn unusable(&self, why: LinkUnusable) -> Result<HttpResponse, AppError> {
        let mut page = self.page("unusable")?;
        page.unusable_title = why.to_string();
        page.unusable_advice = why.advice(&self.details.organization.name);
        respond(&page, StatusCode::GONE)
    }

    fn already_member(&self, role: Role, status: StatusCode) -> Result<HttpResponse, AppError> {
        let mut page = self.page("member")?;
        page.member_role = Some(role);
        respond(&page, status)
    }

    /// After joining: a new session key, the message, the organization's dashboard.
    fn joined(&self, joined: &Joined) -> Result<HttpResponse, AppError> {
        sign_in(self.session, joined.user.id)?;
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

/// GET /join/{token} — signed out: create an account (email, name, password) or log in, to
/// join; signed in: "Join {organization} as {role}"; already a member: says so (the link stays
/// unused); expired, used or revoked: a page asking for a new link; unknown token: 404.
/// Reads only.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let visit = Visit {
        state: &state,
        session: &session,
        details: &details,
        token: &token,
        user: user.0.as_ref(),
    };
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
        JoinError::AlreadyMember(role) => visit.already_member(role, StatusCode::CONFLICT),
        JoinError::EmailTaken => {
            let mut page = visit.page("signed_out")?;
            page.email_error = Some(e.to_string());
            respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// The "Create account & join" form.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
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

/// POST /join/{token}/register — a new account (email, name, password) joins through the
/// link. The account, the used link and the membership are written in one transaction, so a
/// lost race or a refusal leaves no account behind. An email that already has an account is
/// told to log in, and nothing is written. Bad input re-shows the form (422) with the input
/// kept and the message beside the field.
pub async fn register(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(meta): Meta,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<HttpResponse, AppError> {
    let (token, details) = load(&state, &path).await?;
    let visit = Visit {
        state: &state,
        session: &session,
        details: &details,
        token: &token,
        user: user.0.as_ref(),
    };
    if user.0.is_some() {
        // Signed in already: the page shows the branch that fits them.
        return Ok(see_other(&paths::join(token.expose())));
    }
    if let Err(why) = details.link.facts.check_usable(state.clock.now()) {
        return visit.unusable(why);
    }
    let email = EmailAddress::parse(&form.email);
    let name = PersonName::parse(&form.name);
    let password = Password::new_account(&form.password);
    let taken = match &email {
        Ok(e) => {
            let e = e.clone();
            state
                .db
                .run(move |c| db::users::email_exists(c, &e))
                .await?
        }
        Err(_) => false,
    };
    let (email, name, password) = match (email, name, password, taken) {
        (Ok(e), Ok(n), Ok(p), false) => (e, n, p),
        (email, name, password, taken) => {
            let mut page = visit.page("signed_out")?;
            page.email = form.email.chars().take(254).collect();
            page.name = form.name.chars().take(200).collect();
            page.email_error = match email {
                Err(e) => Some(format!("Email: {e}.")),
                Ok(_) if taken => Some(JoinError::EmailTaken.to_string()),
                Ok(_) => None,
            };
            if taken {
                page.login_email = page.email.clone();
            }
            page.name_error = name.err().map(|e| format!("Name: {e}."));
            page.password_error = password.err().map(|e| format!("Password: {e}."));
            return respond(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let password_hash = state.hash_password(password).await?;
    let now = state.clock.now();
    let for_db = details.clone();
    let joiner = Joiner::New {
        email: email.clone(),
        name,
        password_hash,
    };
    let result = state
        .db
        .run(move |c| db::invite_links::use_link(c, &meta, &for_db, joiner, now))
        .await?;
    state.outbox.wake();
    match result {
        Ok(joined) => visit.joined(&joined),
        Err(JoinError::EmailTaken) => {
            let mut page = visit.page("signed_out")?;
            page.email = email.to_string();
            page.name = form.name.chars().take(200).collect();
            page.email_error = Some(JoinError::EmailTaken.to_string());
            page.login_email = email.to_string();
            respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => refused(&visit, e),
    }
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
    let visit = Visit {
        state: &state,
        session: &session,
        details: &details,
        token: &token,
        user: None,
    };
    if let Err(why) = details.link.facts.check_usable(state.clock.now()) {
        return visit.unusable(why);
    }
    let Some(user) = authenticate(&state, &form.email, &form.password).await? else {
        let mut page = visit.page("signed_out")?;
        page.login_email = form.email.chars().take(254).collect();
        page.login_error = Some(LOGIN_FAILED.into());
        return respond(&page, StatusCode::UNAUTHORIZED);
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
    let visit = Visit {
        state: &state,
        session: &session,
        details: &details,
        token: &token,
        user: Some(&user),
    };
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
            sign_in(visit.session, user.id)?;
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
