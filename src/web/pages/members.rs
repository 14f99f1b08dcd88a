//! Member governance on the Team page: change a member's role, remove a member (with
//! confirmation), and leave an organization from the dashboard. The rules are the service's
//! (`service::members`); these handlers parse, call it once and render.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other};
use crate::domain::{MembershipId, OrganizationId, Permission, Role};
use crate::paths;
use crate::service::members::{self as service, ChangeRole};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::OrgMember;
use crate::web::request_meta::Meta;
use crate::web::session::Session;
use crate::web::{AppError, AppState, Layout, flash};

/// A membership in an organization, from the path `/orgs/{org}/members/{id}/…` (a malformed
/// id is a 404).
type MemberPath = web::Path<(OrganizationId, MembershipId)>;

fn back_to_team(org: OrganizationId) -> impl FnOnce(AppError) -> AppError {
    move |e| e.back_to(paths::team(org), "Back to Team Management")
}

/// The role form.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role: String,
}

impl HasCsrfToken for RoleForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/members/{id}/role — change a member's role; back to the Team page with
/// what changed, or a 403 page naming the rule that refused it.
pub async fn change_role(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: MemberPath,
    Meta(meta): Meta,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let (org, membership) = path.into_inner();
    let to = form.role.parse::<Role>().map_err(|_| {
        back_to_team(org)(AppError::BadRequest(
            "Choose one of the roles listed.".into(),
        ))
    })?;
    let (actor, now) = (member.actor(meta), state.clock.now());
    let changed = state
        .call(move |svc| service::change_role(svc, &actor, org, ChangeRole { membership, to }, now))
        .await
        .map_err(|e| back_to_team(org)(e.into()))?;
    if changed.from == changed.to {
        flash::info(
            &session,
            format!("Nothing changed: the role was already {}.", to.label()),
        );
    } else {
        flash::success(
            &session,
            format!(
                "Role changed from {} to {}.",
                changed.from.label(),
                to.label()
            ),
        );
    }
    Ok(see_other(&paths::team(org)))
}

#[derive(Template)]
#[template(path = "remove_member.html")]
struct RemovePage {
    layout: Layout,
    name: String,
    email: String,
    role: Role,
    action: String,
    team_path: String,
}

/// GET /orgs/{org}/members/{id}/remove — asks for confirmation.
pub async fn remove_confirm(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: MemberPath,
    Meta(meta): Meta,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let (org, membership) = path.into_inner();
    let actor = member.actor(meta);
    let listing = state
        .call(move |svc| service::find(svc, &actor, org, membership))
        .await?;
    render(&RemovePage {
        layout: Layout::new(&state, &session, "Remove member", Some(&member.user))?.in_org(&member),
        name: listing.name,
        email: listing.email,
        role: listing.role,
        action: paths::remove_member(org, membership),
        team_path: paths::team(org),
    })
}

/// POST /orgs/{org}/members/{id}/remove — removes the member; their invitations are revoked.
pub async fn remove(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: MemberPath,
    Meta(meta): Meta,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let (org, membership) = path.into_inner();
    let (actor, now) = (member.actor(meta), state.clock.now());
    let label = state
        .call(move |svc| service::remove(svc, &actor, org, membership, now))
        .await
        .map_err(|e| back_to_team(org)(e.into()))?;
    flash::success(
        &session,
        format!("{label} was removed from {}.", member.org.name),
    );
    Ok(see_other(&paths::team(org)))
}

#[derive(Template)]
#[template(path = "leave.html")]
struct LeavePage {
    layout: Layout,
    org_name: String,
    role: Role,
    refusal: Option<String>,
    action: String,
    dashboard_path: String,
}

/// GET /orgs/{org}/leave — asks for confirmation, or explains why the last Owner cannot leave.
pub async fn leave_confirm(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
) -> Result<HttpResponse, AppError> {
    let (org, actor) = (member.org.id, member.actor(meta));
    let (role, may_leave) = state
        .call(move |svc| service::leave_standing(svc, &actor, org))
        .await?;
    render(&LeavePage {
        layout: Layout::new(&state, &session, "Leave organization", Some(&member.user))?
            .in_org(&member),
        org_name: member.org.name.clone(),
        role,
        refusal: may_leave.err().map(|e| e.to_string()),
        action: paths::leave(org),
        dashboard_path: paths::dashboard(org),
    })
}

/// POST /orgs/{org}/leave — the person leaves (never the last Owner).
pub async fn leave(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    Meta(meta): Meta,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let (org, actor, now) = (member.org.id, member.actor(meta), state.clock.now());
    state
        .call(move |svc| service::leave(svc, &actor, org, now))
        .await
        .map_err(|e| AppError::from(e).back_to(paths::dashboard(org), "Back to the dashboard"))?;
    flash::success(&session, format!("You left {}.", member.org.name));
    Ok(see_other(&paths::home()))
}
