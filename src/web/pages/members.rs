//! Member governance on the Team page: change a member's role, remove a member (with
//! confirmation), and leave an organization from the dashboard. The rules are the service's
//! (`service::members`); these handlers parse, call it once and render.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::team::{back_to_team, on_team};
use super::{render, see_other};
use crate::domain::{MembershipId, OrganizationId, Permission, Role};
use crate::paths;
use crate::service::members::{self as service, ChangeRole};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{OrgRequest, on};
use crate::web::{AppError, Layout, flash};

/// A membership in an organization, from the path `/orgs/{org}/members/{id}/…` (a malformed
/// id is a 404).
type MemberPath = web::Path<(OrganizationId, MembershipId)>;

/// The role form. The Team page's members table is one form: each member's selector is named
/// `role-{membership id}`, and the clicked button's action names the member. A form for one
/// member (and the tests' posts) sends `role`.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role: String,
    /// Every other field: the `role-{membership id}` of each member on the page.
    #[serde(flatten)]
    per_member: HashMap<String, String>,
}

impl RoleForm {
    /// The role chosen for `membership` (unparsed; empty when none was sent).
    fn role_of(&self, membership: MembershipId) -> &str {
        self.per_member
            .get(&format!("role-{membership}"))
            .unwrap_or(&self.role)
    }
}

impl HasCsrfToken for RoleForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/members/{id}/role — change a member's role; back to the Team page with
/// what changed, or a 403 page naming the rule that refused it.
pub async fn change_role(
    req: OrgRequest,
    path: MemberPath,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    req.require(Permission::MembersManage)?;
    let (org, membership) = path.into_inner();
    let to = form.role_of(membership).parse::<Role>().map_err(|_| {
        back_to_team(org)(AppError::BadRequest(
            "Choose one of the roles listed.".into(),
        ))
    })?;
    let changed = req
        .call(on(ChangeRole { membership, to }, service::change_role))
        .await
        .map_err(back_to_team(org))?;
    if changed.from == changed.to {
        flash::info(
            &req.session,
            format!("Nothing changed: the role was already {}.", to.label()),
        );
    } else {
        flash::success(
            &req.session,
            format!(
                "Role changed from {} to {}.",
                changed.from.label(),
                to.label()
            ),
        );
    }
    Ok(see_other(&paths::team(org)))
}

#[derive(Template, WebTemplate)]
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
pub async fn remove_confirm(req: OrgRequest, path: MemberPath) -> Result<HttpResponse, AppError> {
    req.require(Permission::MembersManage)?;
    let (org, membership) = path.into_inner();
    let listing = req
        .call(move |svc, actor, org, _| service::find(svc, actor, org, membership))
        .await?;
    render(&RemovePage {
        layout: req.layout("Remove member")?,
        name: listing.name,
        email: listing.email,
        role: listing.role,
        action: paths::remove_member(org, membership),
        team_path: paths::team(org),
    })
}

/// POST /orgs/{org}/members/{id}/remove — removes the member; their invitations are revoked.
pub async fn remove(
    req: OrgRequest,
    path: MemberPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let label = on_team(&req, Permission::MembersManage, path, service::remove).await?;
    flash::success(
        &req.session,
        format!("{label} was removed from {}.", req.member.org.name),
    );
    Ok(see_other(&paths::team(req.org())))
}

#[derive(Template, WebTemplate)]
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
pub async fn leave_confirm(req: OrgRequest) -> Result<HttpResponse, AppError> {
    let (role, may_leave) = req
        .call(|svc, actor, org, _| service::leave_standing(svc, actor, org))
        .await?;
    let org = req.org();
    render(&LeavePage {
        layout: req.layout("Leave organization")?,
        org_name: req.member.org.name.clone(),
        role,
        refusal: may_leave.err().map(|e| e.to_string()),
        action: paths::leave(org),
        dashboard_path: paths::dashboard(org),
    })
}

/// POST /orgs/{org}/leave — the person leaves (never the last Owner).
pub async fn leave(
    req: OrgRequest,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let org = req.org();
    req.call(service::leave)
        .await
        .map_err(|e| AppError::from(e).back_to(paths::dashboard(org), "Back to the dashboard"))?;
    flash::success(&req.session, format!("You left {}.", req.member.org.name));
    Ok(see_other(&paths::home()))
}
