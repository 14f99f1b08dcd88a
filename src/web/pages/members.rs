//! Member governance on the Team page: change a member's role, remove a member (with
//! confirmation), and leave an organization from the dashboard (DESIGN.md, rules 1, 4, 5, 6).

use crate::web::session::Session;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other};
use crate::db::members::MemberError;
use crate::db::{self};
use crate::domain::membership::{MemberDenied, check_leave};
use crate::domain::{MembershipId, OrganizationId, Permission, Role};
use crate::paths;
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::OrgMember;
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

fn membership_id(raw: &str) -> Result<MembershipId, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

/// A role change or removal that a rule refused: a 403 page saying which rule, with a link
/// back to the Team page (DESIGN.md, "Security rules": refused by permission or role ceiling).
fn refused(why: MemberDenied, org: OrganizationId) -> AppError {
    AppError::Forbidden(format!("{why}.").into())
        .back_to(paths::team(org), "Back to Team Management")
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

/// POST /orgs/{org}/members/{id}/role — change a member's role.
pub async fn change_role(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
    Meta(meta): Meta,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let id = membership_id(&path.1)?;
    let team = paths::team(member.org.id);
    let Ok(to) = form.role.parse::<Role>() else {
        return Err(
            AppError::BadRequest("Choose one of the roles listed.".into())
                .back_to(team, "Back to Team Management"),
        );
    };
    let (org, by, now) = (member.org.id, member.user.id, state.clock.now());
    let audit = member.audit(meta);
    let result = state
        .db
        .run(move |c| db::members::change_role(c, &audit, org, by, id, to, now))
        .await?;
    match result {
        Ok(from) if from == to => flash::info(
            &session,
            format!("Nothing changed: the role was already {}.", to.label()),
        ),
        Ok(from) => flash::success(
            &session,
            format!("Role changed from {} to {}.", from.label(), to.label()),
        ),
        Err(MemberError::NotFound) => return Err(AppError::NotFound),
        Err(MemberError::Denied(why)) => return Err(refused(why, org)),
    }
    Ok(see_other(&team))
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
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let id = membership_id(&path.1)?;
    let org = member.org.id;
    let listing = state
        .db
        .run(move |c| db::organizations::list_members(c, org))
        .await?
        .into_iter()
        .find(|m| m.membership_id == id)
        .ok_or(AppError::NotFound)?;
    render(&RemovePage {
        layout: Layout::new(&state, &session, "Remove member", Some(&member.user))?.in_org(&member),
        name: listing.name,
        email: listing.email,
        role: listing.role,
        action: paths::remove_member(org, id),
        team_path: paths::team(org),
    })
}

/// POST /orgs/{org}/members/{id}/remove — removes the member; their invitations are revoked.
pub async fn remove(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
    path: web::Path<(String, String)>,
    Meta(meta): Meta,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require(Permission::MembersManage)?;
    let id = membership_id(&path.1)?;
    let (org, by, now) = (member.org.id, member.user.id, state.clock.now());
    let audit = member.audit(meta);
    let result = state
        .db
        .run(move |c| db::members::remove(c, &audit, org, by, id, now))
        .await?;
    match result {
        Ok(label) => flash::success(
            &session,
            format!("{label} was removed from {}.", member.org.name),
        ),
        Err(MemberError::NotFound) => return Err(AppError::NotFound),
        Err(MemberError::Denied(why)) => return Err(refused(why, org)),
    }
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
) -> Result<HttpResponse, AppError> {
    let Some(membership) = member.membership.as_ref() else {
        return Err(AppError::Forbidden(
            "You are not a member of this organization.".into(),
        ));
    };
    let org = member.org.id;
    let owners = state.db.run(move |c| db::members::owners(c, org)).await?;
    render(&LeavePage {
        layout: Layout::new(&state, &session, "Leave organization", Some(&member.user))?
            .in_org(&member),
        org_name: member.org.name.clone(),
        role: membership.role,
        refusal: check_leave(membership.role, owners)
            .err()
            .map(|e| e.to_string()),
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
    if member.membership.is_none() {
        return Err(AppError::Forbidden(
            "You are not a member of this organization.".into(),
        ));
    }
    let (org, user, now) = (member.org.id, member.user.id, state.clock.now());
    let audit = crate::db::audit::AuditContext {
        actor: crate::web::extractors::actor_of(&member.user, false),
        meta,
    };
    let result = state
        .db
        .run(move |c| db::members::leave(c, &audit, org, user, now))
        .await?;
    match result {
        Ok(()) => {
            flash::success(&session, format!("You left {}.", member.org.name));
            Ok(see_other("/"))
        }
        Err(MemberError::NotFound) => Err(AppError::NotFound),
        Err(MemberError::Denied(why)) => Err(AppError::Forbidden(why.to_string().into())
            .back_to(paths::dashboard(org), "Back to the dashboard")),
    }
}
