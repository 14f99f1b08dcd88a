//! `/` (the person's organization, a chooser, or the no-organization page) and the
//! organization dashboard. The facts are `service::organizations`'; these handlers ask once and
//! render.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;

use super::{render, see_other};
use crate::domain::{Permission, Plan, Role};
use crate::paths;
use crate::service::Actor;
use crate::service::organizations::{self as service, Dashboard};
use crate::web::extractors::{MaybeUser, OrgRequest};
use crate::web::request_meta::Meta;
use crate::web::session::Session;
use crate::web::{AppError, AppState, Layout};

#[derive(Template, WebTemplate)]
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

impl DashboardPage {
    /// The dashboard of `facts`: what the role may do, as links.
    fn new(layout: Layout, facts: Dashboard) -> Self {
        let Dashboard {
            acting,
            member_count,
        } = facts;
        let (org, role, plan) = (acting.org.id, acting.role, acting.org.plan);
        let may = |p: Permission| role.has(p);
        Self {
            layout,
            org_name: acting.org.name,
            role,
            plan,
            member_count,
            permissions: role.permissions(),
            team_path: may(Permission::MembersManage).then(|| paths::team(org)),
            audit_path: may(Permission::MembersManage).then(|| paths::audit(org)),
            notifications_path: paths::notifications(org),
            invite_path: (may(Permission::UsersInvite) && plan.allows_invitations())
                .then(|| paths::invite(org)),
            trial_message: (may(Permission::UsersInvite) && !plan.allows_invitations())
                .then_some(Plan::TRIAL_MESSAGE),
            billing_path: may(Permission::Billing).then(|| paths::billing(org)),
            leave_path: acting.membership.is_some().then(|| paths::leave(org)),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "no_organization.html")]
struct NoOrganizationPage {
    layout: Layout,
}

#[derive(Template, WebTemplate)]
#[template(path = "choose_organization.html")]
struct ChooserPage {
    layout: Layout,
    organizations: Vec<(String, String, Role, Plan)>,
}

/// GET / — your organization's dashboard, a chooser of your organizations, the page for
/// someone in none, or the log-in page.
pub async fn home(
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
    Meta(origin): Meta,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        return Ok(see_other(&paths::login()));
    };
    let actor = Actor {
        user: user.clone(),
        origin,
    };
    let orgs = state
        .call(move |svc| service::organizations_of(svc, &actor))
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
pub async fn dashboard(req: OrgRequest) -> Result<HttpResponse, AppError> {
    let facts = req
        .call(|svc, actor, org, _| service::dashboard(svc, actor, org))
        .await?;
    render(&DashboardPage::new(req.layout("Dashboard")?, facts))
}
