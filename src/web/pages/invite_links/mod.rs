//! Invite links on the Team side (DESIGN.md, "Invite link"): the "Create invite link" form,
//! the page that shows a new link once, and revocation with a confirmation page. The rules
//! are the service's (`service::invite_links`); these handlers parse, call it once and render.
//! Following a link is [`join`]'s.
//!
//! Links are built from the configured base URL, never the request's Host header, and the
//! page that shows one carries the token: it sends the link pages' headers
//! (`web::links::respond`).

pub mod join;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::team::{TimeView, on_team};
use super::{render, render_refused, see_other};
use crate::domain::invitation::InviteDenied;
use crate::domain::invite_link::LinkExpiry;
use crate::domain::link::LinkKind;
use crate::domain::{InviteLinkId, OrganizationId, Permission, Plan, Role};
use crate::paths;
use crate::service::ServiceError;
use crate::service::invite_links::{self as service, CreateLink, InviteLinkRefusal};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::{OrgRequest, on};
use crate::web::links::respond;
use crate::web::refusals::{Refusal, shown};
use crate::web::{AppError, Layout, flash};

/// A link of an organization, from `/orgs/{org}/invite-links/{id}/…` (a malformed id is a
/// 404).
type LinkIdPath = web::Path<(OrganizationId, InviteLinkId)>;

/// The "Create invite link" form as shown.
struct LinkForm {
    action: String,
    roles: Vec<Role>,
    role: String,
    expiries: Vec<LinkExpiry>,
    expiry: String,
    /// "Admins approve who joins" ticked.
    approval: bool,
    role_error: Option<String>,
    expiry_error: Option<String>,
    form_error: Option<String>,
}

impl LinkForm {
    fn empty(org: OrganizationId, roles: Vec<Role>) -> Self {
        Self {
            action: paths::create_invite_link(org),
            roles,
            role: Role::Viewer.as_str().into(),
            expiries: LinkExpiry::ALL.to_vec(),
            expiry: LinkExpiry::DEFAULT.as_str().into(),
            approval: false,
            role_error: None,
            expiry_error: None,
            form_error: None,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invite_link_new.html")]
struct NewLinkPage {
    layout: Layout,
    team_path: String,
    trial_message: Option<&'static str>,
    form: LinkForm,
}

impl NewLinkPage {
    fn new(req: &OrgRequest, plan: Plan, form: LinkForm) -> Result<Self, AppError> {
        Ok(Self {
            layout: req.layout("Create invite link")?,
            team_path: paths::team(req.org()),
            trial_message: (!plan.allows_invitations()).then_some(Plan::TRIAL_MESSAGE),
            form,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invite_link_created.html")]
struct CreatedPage {
    layout: Layout,
    team_path: String,
    url: String,
    role: Role,
    expiry: LinkExpiry,
    expires: TimeView,
    approval: bool,
}

/// GET /orgs/{org}/invite-links/new — the form (role within the ceiling, expiry), or on a
/// Trial plan the message saying invitations need a paid plan. `users:invite` only (else 403).
pub async fn new_page(req: OrgRequest) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let offered = req
        .call(|svc, actor, org, _| service::link_form(svc, actor, org))
        .await?;
    let form = LinkForm::empty(req.org(), offered.roles);
    render(&NewLinkPage::new(&req, offered.plan, form)?)
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
    /// The "Admins approve who joins" checkbox: present (`on`) when ticked.
    #[serde(default)]
    approval: Option<String>,
}

impl HasCsrfToken for CreateSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/invite-links — creates a link (with "Admins approve who joins" ticked, a
/// "request access" link: issue 14 §3) and shows it once, with a Copy button. A
/// role or expiry no form offers (400), a role above the creator's ceiling or a Trial plan
/// (403), or the hourly limit (429) re-show the form with the input kept and nothing written.
pub async fn create(
    req: OrgRequest,
    CsrfForm(input): CsrfForm<CreateSubmission>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::UsersInvite)?;
    let (org, plan) = (req.org(), req.member.org.plan);
    let mut form = LinkForm::empty(org, req.member.role.assignable_roles());
    form.role = input.role.chars().take(20).collect();
    form.expiry = input.expiry.chars().take(20).collect();
    form.approval = input.approval.is_some();
    let approval_required = form.approval;
    let (role, expiry) = match (
        input.role.parse::<Role>(),
        input.expiry.parse::<LinkExpiry>(),
    ) {
        (Ok(role), Ok(expiry)) => (role, expiry),
        (role, expiry) => {
            form.role_error = role.err().map(|_| "Choose one of the roles listed.".into());
            form.expiry_error = expiry.err().map(|e| format!("Expires after: {e}."));
            let page = NewLinkPage::new(&req, plan, form)?;
            return render_refused(&page, Rejection::Malformed, None);
        }
    };
    let created = match req
        .call(on(
            CreateLink {
                role,
                expiry,
                approval_required,
            },
            service::create,
        ))
        .await
    {
        Ok(created) => created,
        Err(e) => return refused(&req, form, e),
    };
    let page = CreatedPage {
        layout: req.layout("Invite link created")?,
        team_path: paths::team(org),
        url: format!(
            "{}{}",
            req.state.base_url,
            paths::join(created.token.expose())
        ),
        role,
        expiry,
        expires: TimeView::new(created.link.facts.expires_at, req.state.clock.now()),
        approval: approval_required,
    };
    respond(&page, StatusCode::OK)
}

/// The form shown again for a refused link, with why beside the role or above the form and
/// the input kept, at the refusal's status (a rate limit with `Retry-After`); a refusal no
/// form shows is its error page.
fn refused(
    req: &OrgRequest,
    mut form: LinkForm,
    e: ServiceError<InviteLinkRefusal>,
) -> Result<HttpResponse, AppError> {
    let (refusal, _) = shown(e)?;
    match refusal {
        InviteLinkRefusal::Denied(InviteDenied::AboveCeiling(role)) => {
            form.role_error = Some(format!(
                "You cannot create a link for {}: you may only assign roles at or below your own.",
                role.label()
            ));
        }
        InviteLinkRefusal::Denied(_) | InviteLinkRefusal::OverLimit { .. } => {
            form.form_error = Some(refusal.to_string());
        }
        other => return Err(ServiceError::Refused(other).into()),
    }
    let page = NewLinkPage::new(req, req.member.org.plan, form)?;
    render_refused(&page, refusal.rejection(), refusal.retry_after())
}

#[derive(Template, WebTemplate)]
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

/// GET /orgs/{org}/invite-links/{id}/revoke — asks for confirmation (or says the link is
/// already unusable). Another organization's link is a 404; a link whose role is above the
/// actor's own is a 403.
pub async fn revoke_confirm(req: OrgRequest, path: LinkIdPath) -> Result<HttpResponse, AppError> {
    let (org, now) = (req.org(), req.state.clock.now());
    let view_at =
        move |svc: &_, actor: &_, org, id, _| service::revoke_view(svc, actor, org, id, now);
    let view = on_team(&req, Permission::UsersInvite, path, view_at).await?;
    let link = &view.link.link;
    render(&RevokePage {
        layout: req.layout("Revoke invite link")?,
        role: link.role,
        creator_name: view.link.creator_name.clone(),
        created: TimeView::new(link.created_at, now),
        expires: TimeView::new(link.facts.expires_at, now),
        unusable: view.unusable.map(|why| why.title(LinkKind::InviteLink)),
        action: paths::revoke_invite_link(org, link.id),
        team_path: paths::team(org),
    })
}

/// POST /orgs/{org}/invite-links/{id}/revoke — the link stops working at once; back to the
/// Team page with a message. A link already used, revoked or expired is a 409.
pub async fn revoke(
    req: OrgRequest,
    path: LinkIdPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let role = on_team(&req, Permission::UsersInvite, path, service::revoke).await?;
    flash::success(
        &req.session,
        format!(
            "The invite link for {} was revoked; it no longer works.",
            role.label()
        ),
    );
    Ok(see_other(&paths::team(req.org())))
}
