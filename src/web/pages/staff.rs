//! The staff console `/staff` (DESIGN.md, "Staff console"): organizations with plan and member
//! count (search, paging), set plan, send tenant-owner invitations, and the list of
//! tenant-owner invitations with resend and revoke. Staff only; 404 for everyone else. The
//! rules are the service's (`service::staff`, `service::tenants`); these handlers parse, call
//! it once and render.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::team::TimeView;
use super::{render, render_with_status, see_other};
use crate::domain::invitation::ResendPlan;
use crate::domain::seats::parse_custom_limit;
use crate::domain::tenant::TenantInvitation;
use crate::domain::text::{MAX_MESSAGE_CHARS, PersonalMessage};
use crate::domain::{
    EmailAddress, InvitationId, InvitationStatus, Organization, OrganizationId, Plan,
};
use crate::paths;
use crate::service::staff::{self as service, ConsoleQuery as Query};
use crate::service::tenants::{self, TenantOfferCmd, TenantRefusal};
use crate::service::{Actor, ServiceError, Services};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::{StaffUser, from_parts};
use crate::web::request_meta::Meta;
use crate::web::session::Session;
use crate::web::{AppError, AppState, Layout, flash};

/// The longest search accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// A row of the organizations table.
pub struct OrgRow {
    /// The organization.
    pub org: Organization,
    /// Its member count.
    pub members: i64,
    /// Its Team page.
    pub team_path: String,
    /// Where the plan form posts.
    pub plan_path: String,
    /// Where the seat limit form posts.
    pub seats_path: String,
    /// The seat limit override as the field shows it (blank: the plan's default).
    pub seat_limit: String,
    /// The plan's default seat limit, shown as the field's placeholder.
    pub plan_seats: String,
}

/// A row of the tenant-owner invitations table.
pub struct TenantRow {
    /// The invitation.
    pub inv: TenantInvitation,
    /// Its state now (Pending past expiry reads Expired).
    pub status: String,
    /// When it was sent.
    pub sent: TimeView,
    /// When it expires.
    pub expires: TimeView,
    /// Resend (pending or expired only).
    pub resend_path: Option<String>,
    /// Revoke confirmation (pending only).
    pub revoke_path: Option<String>,
    /// The organization it created.
    pub org_path: Option<String>,
}

/// The "Send tenant owner invitation" form as shown.
#[derive(Default)]
pub struct TenantForm {
    /// Typed email.
    pub email: String,
    /// Chosen plan.
    pub plan: String,
    /// Typed message.
    pub message: String,
    /// Error beside the email.
    pub email_error: Option<String>,
    /// Error beside the plan.
    pub plan_error: Option<String>,
    /// Error beside the message.
    pub message_error: Option<String>,
    /// Error about the whole form.
    pub form_error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff.html")]
struct StaffPage {
    layout: Layout,
    query: String,
    orgs: Vec<OrgRow>,
    total: i64,
    page: i64,
    pages: i64,
    prev_page: Option<String>,
    next_page: Option<String>,
    plans: Vec<Plan>,
    invitations: Vec<TenantRow>,
    form: TenantForm,
    max_message: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "staff_revoke.html")]
struct RevokePage {
    layout: Layout,
    email: String,
    plan: Plan,
    action: String,
}

/// `?q=&page=` on the console.
#[derive(Debug, Deserialize, Default)]
pub struct ConsoleQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<String>,
}

fn page_link(q: &str, page: i64) -> String {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!("{}?q={q}&page={page}", paths::staff())
}

fn back_to_console(e: impl Into<AppError>) -> AppError {
    e.into()
        .back_to(paths::staff(), "Back to the staff console")
}

fn org_row(org: Organization, members: i64, custom_seats: Option<u32>) -> OrgRow {
    OrgRow {
        team_path: paths::team(org.id),
        plan_path: paths::staff_plan(org.id),
        seats_path: paths::staff_seats(org.id),
        seat_limit: custom_seats.map(|n| n.to_string()).unwrap_or_default(),
        plan_seats: org.plan.default_seats().to_string(),
        org,
        members,
    }
}

fn tenant_row(inv: TenantInvitation, now: chrono::DateTime<chrono::Utc>) -> TenantRow {
    let status = inv.facts.effective_status(now);
    let id = inv.id;
    TenantRow {
        status: status.label().to_owned(),
        sent: TimeView::new(inv.created_at, now),
        expires: TimeView::new(inv.facts.expires_at, now),
        resend_path: matches!(
            status,
            InvitationStatus::Pending | InvitationStatus::Expired
        )
        .then(|| paths::tenant_resend(id)),
        revoke_path: (status == InvitationStatus::Pending).then(|| paths::tenant_revoke(id)),
        org_path: inv.organization_id.map(paths::dashboard),
        inv,
    }
}

/// The console for `query` with the tenant-owner form as `form`, answered with `status`.
async fn console(
    req: &StaffRequest,
    query: &ConsoleQuery,
    form: TenantForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let q: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let page = query.page.as_deref().and_then(|p| p.parse::<i64>().ok());
    let cmd = Query {
        search: q.clone(),
        page: page.unwrap_or(1),
    };
    let found = req
        .call(move |svc, actor, _| service::console(svc, actor, &cmd))
        .await?;
    let now = req.state.clock.now();
    let (page, pages) = (found.page, found.pages);
    let page_view = StaffPage {
        layout: req.layout("Staff console")?,
        prev_page: (page > 1).then(|| page_link(&q, page - 1)),
        next_page: (page < pages).then(|| page_link(&q, page + 1)),
        query: q,
        orgs: found
            .organizations
            .into_iter()
            .map(|(o, n)| {
                let custom = found.custom_seats.get(&o.id).copied();
                org_row(o, n, custom)
            })
            .collect(),
        total: found.total,
        page,
        pages,
        plans: Plan::ALL.to_vec(),
        invitations: found
            .invitations
            .into_iter()
            .map(|i| tenant_row(i, now))
            .collect(),
        form: TenantForm {
            plan: if form.plan.is_empty() {
                Plan::Starter.as_str().into()
            } else {
                form.plan.clone()
            },
            ..form
        },
        max_message: MAX_MESSAGE_CHARS,
    };
    render_with_status(&page_view, status)
}

/// `staff` acting from the request in `meta`.
/// One request to the staff console: the app, the session, and the staff member asking as the
/// service's actor (with the request's origin). Anyone else gets the console's 404
/// ([`StaffUser`]).
pub struct StaffRequest {
    state: web::Data<AppState>,
    session: Session,
    actor: Actor,
}

from_parts!(StaffRequest: (web::Data<AppState>, Session, StaffUser, Meta) =>
|(state, session, StaffUser(user), Meta(origin))| {
    StaffRequest { state, session, actor: Actor::new(user, origin) }
});

impl StaffRequest {
    fn layout(&self, title: &str) -> Result<Layout, AppError> {
        Layout::new(&self.state, &self.session, title, Some(&self.actor.user))
    }

    /// Runs `op` as this staff member, now, in the request's one blocking hand-off.
    async fn call<T: Send + 'static, R: Send + 'static>(
        &self,
        op: impl FnOnce(&Services, &Actor, DateTime<Utc>) -> Result<T, ServiceError<R>> + Send + 'static,
    ) -> Result<T, ServiceError<R>> {
        let (actor, now) = (self.actor.clone(), self.state.clock.now());
        self.state.call(move |svc| op(svc, &actor, now)).await
    }
}

/// GET /staff — the console.
pub async fn console_page(
    req: StaffRequest,
    query: web::Query<ConsoleQuery>,
) -> Result<HttpResponse, AppError> {
    console(&req, &query, TenantForm::default(), StatusCode::OK).await
}

/// The plan form.
#[derive(Debug, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    plan: String,
}

impl HasCsrfToken for PlanForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /staff/orgs/{org}/plan — sets an organization's plan.
pub async fn set_plan(
    req: StaffRequest,
    path: web::Path<OrganizationId>,
    CsrfForm(form): CsrfForm<PlanForm>,
) -> Result<HttpResponse, AppError> {
    let org = path.into_inner();
    let Ok(plan) = form.plan.parse::<Plan>() else {
        return Err(back_to_console(AppError::BadRequest(
            "Choose one of the plans listed.".into(),
        )));
    };
    let change = req
        .call(move |svc, actor, now| service::set_plan(svc, actor, org, plan, now))
        .await?;
    if change.from == change.to {
        flash::info(
            &req.session,
            format!("Nothing changed: the plan was already {}.", plan.label()),
        );
    } else {
        flash::success(
            &req.session,
            format!(
                "Plan changed from {} to {}.",
                change.from.label(),
                plan.label()
            ),
        );
    }
    Ok(see_other(&paths::staff()))
}

/// The seat limit form.
#[derive(Debug, Deserialize)]
pub struct SeatsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    seats: String,
}

impl HasCsrfToken for SeatsForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /staff/orgs/{org}/seats — sets (a whole number) or clears (blank: the plan's default)
/// an organization's seat limit (DESIGN.md, "Seats": staff override), audited as staff.
pub async fn set_seats(
    req: StaffRequest,
    path: web::Path<OrganizationId>,
    CsrfForm(form): CsrfForm<SeatsForm>,
) -> Result<HttpResponse, AppError> {
    let org = path.into_inner();
    let limit = match parse_custom_limit(&form.seats) {
        Ok(limit) => limit,
        Err(e) => {
            let refused = AppError::rejected(Rejection::Invalid, e.to_string(), None);
            return Err(back_to_console(refused));
        }
    };
    let change = req
        .call(move |svc, actor, now| crate::service::seats::set_limit(svc, actor, org, limit, now))
        .await?;
    if change.from == change.to && limit.is_some() {
        flash::info(
            &req.session,
            format!("Nothing changed: the seat limit was already {}.", change.to),
        );
    } else {
        flash::success(
            &req.session,
            format!("Seat limit changed from {} to {}.", change.from, change.to),
        );
    }
    Ok(see_other(&paths::staff()))
}

/// The "Send tenant owner invitation" form.
#[derive(Debug, Deserialize)]
pub struct TenantSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    message: String,
}

impl HasCsrfToken for TenantSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl TenantSubmission {
    /// The input as the form shows it again (bounded).
    fn kept(&self) -> TenantForm {
        TenantForm {
            email: self.email.chars().take(300).collect(),
            plan: self.plan.chars().take(20).collect(),
            message: self.message.chars().take(MAX_MESSAGE_CHARS * 2).collect(),
            ..TenantForm::default()
        }
    }

    /// The submission as a command, or the form as shown again with the reasons beside its
    /// fields.
    fn parse(&self) -> Result<TenantOfferCmd, Box<TenantForm>> {
        let mut form = self.kept();
        let email = EmailAddress::parse(&self.email)
            .map_err(|e| form.email_error = Some(format!("Email: {e}.")))
            .ok();
        let plan = self
            .plan
            .parse::<Plan>()
            .map_err(|_| form.plan_error = Some("Choose one of the plans listed.".into()))
            .ok();
        let message = PersonalMessage::parse(&self.message)
            .map_err(|e| form.message_error = Some(format!("The message {e}.")))
            .ok();
        match (email, plan, message) {
            (Some(email), Some(plan), Some(message)) => Ok(TenantOfferCmd {
                email,
                plan,
                message,
            }),
            _ => Err(Box::new(form)),
        }
    }
}

/// POST /staff/tenant-invitations — sends a tenant-owner invitation. Errors re-show the
/// console with the input kept and nothing written.
pub async fn send(
    req: StaffRequest,
    CsrfForm(input): CsrfForm<TenantSubmission>,
) -> Result<HttpResponse, AppError> {
    let (invalid, top) = (Rejection::Invalid.status(), ConsoleQuery::default());
    let cmd = match input.parse() {
        Ok(cmd) => cmd,
        Err(form) => return console(&req, &top, *form, invalid).await,
    };
    let offer = cmd.clone();
    match req
        .call(move |svc, sender, now| tenants::send(svc, sender, &offer, now))
        .await
    {
        Ok(_) => {
            let (email, plan) = (cmd.email, cmd.plan.label());
            let sent = format!("Tenant-owner invitation sent to {email} ({plan} plan).");
            flash::success(&req.session, sent);
            Ok(see_other(&paths::staff()))
        }
        Err(ServiceError::Refused(refused @ TenantRefusal::NotSent(_))) => {
            let mut form = input.kept();
            form.email_error = Some(refused.to_string());
            console(&req, &top, form, invalid).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /staff/tenant-invitations/{id}/resend.
pub async fn resend(
    req: StaffRequest,
    path: web::Path<InvitationId>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let resent = req
        .call(move |svc, actor, now| tenants::resend(svc, actor, id, now))
        .await
        .map_err(back_to_console)?;
    let email = resent.email;
    let said = match resent.plan {
        ResendPlan::SameLink => {
            format!("Tenant-owner invitation sent again to {email} with the same link.")
        }
        ResendPlan::NewInvitation => {
            format!("The invitation to {email} had expired; a new one was sent.")
        }
    };
    flash::success(&req.session, said);
    Ok(see_other(&paths::staff()))
}

/// GET /staff/tenant-invitations/{id}/revoke — asks for confirmation.
pub async fn revoke_confirm(
    req: StaffRequest,
    path: web::Path<InvitationId>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let inv = req
        .call(move |svc, actor, _| tenants::find_for_staff(svc, actor, id))
        .await?;
    render(&RevokePage {
        layout: req.layout("Revoke tenant-owner invitation")?,
        email: inv.email.to_string(),
        plan: inv.plan,
        action: paths::tenant_revoke(inv.id),
    })
}

/// POST /staff/tenant-invitations/{id}/revoke.
pub async fn revoke(
    req: StaffRequest,
    path: web::Path<InvitationId>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let email = req
        .call(move |svc, actor, now| tenants::revoke(svc, actor, id, now))
        .await
        .map_err(back_to_console)?;
    flash::success(
        &req.session,
        format!("The tenant-owner invitation to {email} was revoked; its link no longer works."),
    );
    Ok(see_other(&paths::staff()))
}
