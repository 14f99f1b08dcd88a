//! The staff console `/staff` (DESIGN.md, "Staff console"; issue 4, item 6): organizations with
//! plan and member count (search, paging), set plan, send tenant-owner invitations, and the
//! list of tenant-owner invitations with resend and revoke. Staff only; 404 for everyone else.

use crate::paths;
use crate::web::error::Rejection;
use crate::web::session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::team::TimeView;
use super::{render, render_with_status, see_other};
use crate::db::audit::AuditContext;
use crate::db::tenant_invitations::TenantOffer;
use crate::db::{self};
use crate::domain::Organization;
use crate::domain::invitation::ResendPlan;
use crate::domain::tenant::TenantInvitation;
use crate::domain::text::{MAX_MESSAGE_CHARS, PersonalMessage};
use crate::domain::{EmailAddress, OrganizationId, Plan};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::extractors::{StaffUser, actor_of};
use crate::web::request_meta::Meta;
use crate::web::{AppError, AppState, Layout, flash};

/// Organizations per page.
pub const PAGE_SIZE: i64 = 25;
/// Tenant-owner invitations listed.
pub const INVITATIONS_LISTED: i64 = 100;
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

#[derive(Template)]
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

#[derive(Template)]
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

async fn console(
    state: &AppState,
    session: &Session,
    staff: &StaffUser,
    query: &ConsoleQuery,
    form: TenantForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let q: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let (search, offset) = (q.clone(), (page - 1) * PAGE_SIZE);
    let ((orgs, total), invitations) = state
        .db
        .run(move |c| {
            Ok((
                db::organizations::search(c, &search, PAGE_SIZE, offset)?,
                db::tenant_invitations::recent(c, INVITATIONS_LISTED)?,
            ))
        })
        .await?;
    let now = state.clock.now();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let orgs = orgs
        .into_iter()
        .map(|(org, members)| OrgRow {
            team_path: crate::paths::team(org.id),
            plan_path: paths::staff_plan(org.id),
            org,
            members,
        })
        .collect();
    let invitations = invitations
        .into_iter()
        .map(|inv| {
            let status = inv.facts.effective_status(now);
            let id = inv.id;
            TenantRow {
                status: status.label().to_owned(),
                sent: TimeView::new(inv.created_at, now),
                expires: TimeView::new(inv.facts.expires_at, now),
                resend_path: matches!(
                    status,
                    crate::domain::InvitationStatus::Pending
                        | crate::domain::InvitationStatus::Expired
                )
                .then(|| paths::tenant_resend(id)),
                revoke_path: (status == crate::domain::InvitationStatus::Pending)
                    .then(|| paths::tenant_revoke(id)),
                org_path: inv.organization_id.map(crate::paths::dashboard),
                inv,
            }
        })
        .collect();
    let page_view = StaffPage {
        layout: Layout::new(state, session, "Staff console", Some(&staff.0))?,
        prev_page: (page > 1).then(|| page_link(&q, page - 1)),
        next_page: (page < pages).then(|| page_link(&q, page + 1)),
        query: q,
        orgs,
        total,
        page,
        pages,
        plans: Plan::ALL.to_vec(),
        invitations,
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

/// GET /staff — the console.
pub async fn console_page(
    state: web::Data<AppState>,
    session: Session,
    staff: StaffUser,
    query: web::Query<ConsoleQuery>,
) -> Result<HttpResponse, AppError> {
    console(
        &state,
        &session,
        &staff,
        &query,
        TenantForm::default(),
        StatusCode::OK,
    )
    .await
}

fn staff_audit(staff: &StaffUser, meta: crate::db::audit::RequestMeta) -> AuditContext {
    AuditContext {
        actor: actor_of(&staff.0, true),
        meta,
    }
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
    state: web::Data<AppState>,
    session: Session,
    staff: StaffUser,
    path: web::Path<String>,
    Meta(meta): Meta,
    CsrfForm(form): CsrfForm<PlanForm>,
) -> Result<HttpResponse, AppError> {
    let org: OrganizationId = path.parse().map_err(|_| AppError::NotFound)?;
    let Ok(plan) = form.plan.parse::<Plan>() else {
        return Err(
            AppError::BadRequest("Choose one of the plans listed.".into())
                .back_to(paths::staff(), "Back to the staff console"),
        );
    };
    let audit = staff_audit(&staff, meta);
    let now = state.clock.now();
    let before = state
        .db
        .run(move |c| db::organizations::set_plan(c, &audit, org, plan, now))
        .await?
        .ok_or(AppError::NotFound)?;
    if before == plan {
        flash::info(
            &session,
            format!("Nothing changed: the plan was already {}.", plan.label()),
        );
    } else {
        flash::success(
            &session,
            format!("Plan changed from {} to {}.", before.label(), plan.label()),
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

/// POST /staff/tenant-invitations — sends a tenant-owner invitation. Errors re-show the
/// console with the input kept and nothing written.
pub async fn send(
    state: web::Data<AppState>,
    session: Session,
    staff: StaffUser,
    Meta(meta): Meta,
    CsrfForm(input): CsrfForm<TenantSubmission>,
) -> Result<HttpResponse, AppError> {
    let mut form = TenantForm {
        email: input.email.chars().take(300).collect(),
        plan: input.plan.chars().take(20).collect(),
        message: input.message.chars().take(MAX_MESSAGE_CHARS * 2).collect(),
        ..TenantForm::default()
    };
    let email = EmailAddress::parse(&input.email)
        .map_err(|e| form.email_error = Some(format!("Email: {e}.")))
        .ok();
    let plan = input
        .plan
        .parse::<Plan>()
        .map_err(|_| form.plan_error = Some("Choose one of the plans listed.".into()))
        .ok();
    let message = PersonalMessage::parse(&input.message)
        .map_err(|e| form.message_error = Some(format!("The message {e}.")))
        .ok();
    let (Some(email), Some(plan), Some(message)) = (email, plan, message) else {
        return console(
            &state,
            &session,
            &staff,
            &ConsoleQuery::default(),
            form,
            Rejection::Invalid.status(),
        )
        .await;
    };
    let audit = staff_audit(&staff, meta);
    let (sender, ttl, now, key) = (
        staff.0.id,
        state.settings.invitation_ttl,
        state.clock.now(),
        state.settings.token_key.clone(),
    );
    let to = email.clone();
    let result = state
        .db
        .run(move |c| {
            db::tenant_invitations::send(
                c,
                &audit,
                &TenantOffer {
                    email: &to,
                    plan,
                    message: message.as_ref().map(PersonalMessage::as_str),
                    staff: sender,
                    ttl,
                    now,
                },
                &key,
            )
        })
        .await?;
    match result {
        Ok(_) => {
            state.outbox.wake();
            flash::success(
                &session,
                format!(
                    "Tenant-owner invitation sent to {email} ({} plan).",
                    plan.label()
                ),
            );
            Ok(see_other(&paths::staff()))
        }
        Err(refused) => {
            form.email_error = Some(refused.to_string());
            console(
                &state,
                &session,
                &staff,
                &ConsoleQuery::default(),
                form,
                Rejection::Invalid.status(),
            )
            .await
        }
    }
}

async fn load(state: &AppState, raw: &str) -> Result<TenantInvitation, AppError> {
    let id: crate::domain::InvitationId = raw.parse().map_err(|_| AppError::NotFound)?;
    state
        .db
        .run(move |c| db::tenant_invitations::find(c, &id.to_string()))
        .await?
        .ok_or(AppError::NotFound)
}

/// POST /staff/tenant-invitations/{id}/resend.
pub async fn resend(
    state: web::Data<AppState>,
    session: Session,
    staff: StaffUser,
    path: web::Path<String>,
    Meta(meta): Meta,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let inv = load(&state, &path).await?;
    let audit = staff_audit(&staff, meta);
    let (sender, ttl, now, key) = (
        staff.0.id,
        state.settings.invitation_ttl,
        state.clock.now(),
        state.settings.token_key.clone(),
    );
    let email = inv.email.to_string();
    let result = state
        .db
        .run(move |c| db::tenant_invitations::resend(c, &audit, &inv, sender, ttl, now, &key))
        .await?;
    match result {
        Ok(ResendPlan::SameLink) => {
            state.outbox.wake();
            flash::success(
                &session,
                format!("Tenant-owner invitation sent again to {email} with the same link."),
            );
        }
        Ok(ResendPlan::NewInvitation) => {
            state.outbox.wake();
            flash::success(
                &session,
                format!("The invitation to {email} had expired; a new one was sent."),
            );
        }
        Err(refused) => {
            return Err(super::team::resend_refused(refused, &email, now)
                .back_to(paths::staff(), "Back to the staff console"));
        }
    }
    Ok(see_other(&paths::staff()))
}

/// GET /staff/tenant-invitations/{id}/revoke — asks for confirmation.
pub async fn revoke_confirm(
    state: web::Data<AppState>,
    session: Session,
    staff: StaffUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let inv = load(&state, &path).await?;
    render(&RevokePage {
        layout: Layout::new(
            &state,
            &session,
            "Revoke tenant-owner invitation",
            Some(&staff.0),
        )?,
        email: inv.email.to_string(),
        plan: inv.plan,
        action: paths::tenant_revoke(inv.id),
    })
}

/// POST /staff/tenant-invitations/{id}/revoke.
pub async fn revoke(
    state: web::Data<AppState>,
    session: Session,
    staff: StaffUser,
    path: web::Path<String>,
    Meta(meta): Meta,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let inv = load(&state, &path).await?;
    let audit = staff_audit(&staff, meta);
    let now = state.clock.now();
    let email = inv.email.to_string();
    match state
        .db
        .run(move |c| db::tenant_invitations::revoke(c, &audit, &inv, now))
        .await?
    {
        Ok(()) => flash::success(
            &session,
            format!(
                "The tenant-owner invitation to {email} was revoked; its link no longer works."
            ),
        ),
        Err(e) => {
            return Err(AppError::Conflict(e.to_string().into())
                .back_to(paths::staff(), "Back to the staff console"));
        }
    }
    Ok(see_other(&paths::staff()))
}
