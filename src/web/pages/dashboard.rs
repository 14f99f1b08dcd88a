//! `/` (the person's organization, a chooser, or the no-organization page) and the
//! organization dashboard. The facts are `service::organizations`'; these handlers ask once and
//! render.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};

use super::team::TimeView;
use super::{render, see_other};
use crate::domain::verified_domain::EnrollmentMode;
use crate::domain::{Permission, Plan, Role};
use crate::paths;
use crate::service::Actor;
use crate::service::domains::{self, Joinable};
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
    domains_path: Option<String>,
    api_tokens_path: Option<String>,
    webhooks_path: Option<String>,
    leave_path: Option<String>,
    joinable: Vec<JoinableView>,
    layout_email: String,
}

/// An organization the person can join through their address's domain, as
/// "Organizations you can join" shows it.
pub struct JoinableView {
    /// Its name.
    pub name: String,
    /// The verified domain matching the person's address.
    pub domain: String,
    /// Whether they join at once (*Automatic*) rather than ask (*Suggest*).
    pub automatic: bool,
    /// The role they join with at once.
    pub role: Role,
    /// Where the Join (or Request) form posts.
    pub action: String,
    /// When they asked, if a request of theirs is open.
    pub requested: Option<TimeView>,
}

impl JoinableView {
    /// The views of `joinable` at `now`, in order: *Automatic* ones join, *Suggest* ones ask
    /// (or say when the person asked).
    fn all(joinable: Vec<Joinable>, now: DateTime<Utc>) -> Vec<Self> {
        joinable
            .into_iter()
            .map(|j| {
                let automatic = j.mode == EnrollmentMode::Automatic;
                JoinableView {
                    name: j.organization.name,
                    domain: j.domain.to_string(),
                    automatic,
                    role: j.role,
                    action: if automatic {
                        paths::domain_join(j.organization.id)
                    } else {
                        paths::domain_request(j.organization.id)
                    },
                    requested: j.requested.map(|at| TimeView::new(at, now)),
                }
            })
            .collect()
    }
}

impl DashboardPage {
    /// The dashboard of `facts`: what the role may do, as links; and the organizations the
    /// person can join through their address's domain.
    fn new(
        layout: Layout,
        facts: Dashboard,
        joinable: Vec<Joinable>,
        email: String,
        now: DateTime<Utc>,
    ) -> Self {
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
            domains_path: may(Permission::Billing).then(|| paths::domains(org)),
            api_tokens_path: may(Permission::Billing).then(|| paths::api_tokens(org)),
            webhooks_path: may(Permission::Billing).then(|| paths::webhooks(org)),
            joinable: JoinableView::all(joinable, now),
            layout_email: email,
            leave_path: acting.membership.is_some().then(|| paths::leave(org)),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "no_organization.html")]
struct NoOrganizationPage {
    layout: Layout,
    joinable: Vec<JoinableView>,
    layout_email: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "choose_organization.html")]
struct ChooserPage {
    layout: Layout,
    organizations: Vec<(String, String, Role, Plan)>,
    joinable: Vec<JoinableView>,
    layout_email: String,
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
    let actor = Actor::new(user.clone(), origin);
    let now = state.clock.now();
    let (orgs, joinable) = state
        .call(move |svc| {
            let orgs = service::organizations_of(svc, &actor)?;
            Ok((orgs, domains::joinable(svc, &actor, now)?))
        })
        .await?;
    let email = user.email.to_string();
    match orgs.as_slice() {
        [] => render(&NoOrganizationPage {
            layout: Layout::new(&state, &session, "No organization yet", Some(&user))?,
            joinable: JoinableView::all(joinable, now),
            layout_email: email,
        }),
        [(org, _)] => Ok(see_other(&paths::dashboard(org.id))),
        many => render(&ChooserPage {
            layout: Layout::new(&state, &session, "Choose an organization", Some(&user))?,
            organizations: many
                .iter()
                .map(|(o, role)| (paths::dashboard(o.id), o.name.clone(), *role, o.plan))
                .collect(),
            joinable: JoinableView::all(joinable, now),
            layout_email: email,
        }),
    }
}

/// GET /orgs/{org} — organization, your role, plan, member count, what you may do.
pub async fn dashboard(req: OrgRequest) -> Result<HttpResponse, AppError> {
    let (facts, joinable) = req
        .call(|svc, actor, org, now| {
            let facts = service::dashboard(svc, actor, org)?;
            let joinable =
                domains::joinable(svc, actor, now).map_err(|e| e.map_refusal(|n| match n {}))?;
            Ok((facts, joinable))
        })
        .await?;
    let email = req.member.user.email.to_string();
    render(&DashboardPage::new(
        req.layout("Dashboard")?,
        facts,
        joinable,
        email,
        req.state.clock.now(),
    ))
}
