//! `/` and the organization dashboard.

use crate::web::session::Session;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{render, see_other};
use crate::db;
use crate::domain::{Permission, Plan, Role};
use crate::paths;
use crate::web::extractors::{MaybeUser, OrgMember};
use crate::web::{AppError, AppState, Layout};

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    org_name: String,
    role: Role,
    plan: Plan,
    member_count: i64,
    permissions: Vec<Permission>,
    team_path: Option<String>,
    audit_path: Option<String>,
    notifications_path: String,
    invite_path: Option<String>,
    trial_message: Option<&'static str>,
    billing_path: Option<String>,
    leave_path: Option<String>,
}

#[derive(Template)]
#[template(path = "no_organization.html")]
struct NoOrganizationPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "choose_organization.html")]
struct ChooserPage {
    layout: Layout,
    organizations: Vec<(String, String, Role, Plan)>,
}

/// GET / — your organization's dashboard, or the log-in page.
pub async fn home(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(see_other(&paths::login()));
    };
    let user_id = user.id;
    let orgs = state
        .db
        .run(move |c| db::organizations::for_user(c, user_id))
        .await?;
    match orgs.as_slice() {
        [] => render(&NoOrganizationPage {
            layout: Layout::new(&state, &session, "No organization yet", Some(&user))?,
        }),
        [(org, _)] => Ok(see_other(&paths::dashboard(org.id))),
        many => render(&ChooserPage {
            layout: Layout::new(&state, &session, "Choose an organization", Some(&user))?,
            organizations: many
                .iter()
                .map(|(o, role)| (paths::dashboard(o.id), o.name.clone(), *role, o.plan))
                .collect(),
        }),
    }
}

/// GET /orgs/{org} — organization, your role, plan, member count, what you may do.
pub async fn dashboard(
    state: web::Data<AppState>,
    session: Session,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    let org_id = member.org.id;
    let member_count = state
        .db
        .run(move |c| db::organizations::member_count(c, org_id))
        .await?;
    let role = member.role;
    render(&DashboardPage {
        layout: Layout::new(&state, &session, "Dashboard", Some(&member.user))?.in_org(&member),
        org_name: member.org.name.clone(),
        role,
        plan: member.org.plan,
        member_count,
        permissions: role.permissions(),
        team_path: role
            .has(Permission::MembersManage)
            .then(|| paths::team(org_id)),
        audit_path: role
            .has(Permission::MembersManage)
            .then(|| paths::audit(org_id)),
        notifications_path: paths::notifications(org_id),
        invite_path: (role.has(Permission::UsersInvite) && member.org.plan.allows_invitations())
            .then(|| paths::invite(org_id)),
        trial_message: (role.has(Permission::UsersInvite) && !member.org.plan.allows_invitations())
            .then_some(Plan::TRIAL_MESSAGE),
        billing_path: role
            .has(Permission::Billing)
            .then(|| paths::billing(org_id)),
        leave_path: member.membership.is_some().then(|| paths::leave(org_id)),
    })
}
