//! Acting on one invitation from the Team page: resend it, or revoke it (after confirmation).
//! The rules are the service's (`service::invitations`): the ceiling of its role, the plan,
//! once a minute, final states. Every refusal's page links back to the Team page.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};

use super::{TimeView, back_to_team, on_team};
use crate::domain::invitation::{ActOnDenied, ResendError, ResendPlan};
use crate::domain::{InvitationId, OrganizationId, Permission, Role};
use crate::paths;
use crate::service::ServiceError;
use crate::service::invitations::{self as service, InvitationRefusal, acting_on_text};
use crate::web::csrf::{CsrfForm, TokenOnly};
use crate::web::extractors::OrgRequest;
use crate::web::pages::{render, seconds_until, see_other};
use crate::web::{AppError, Layout, flash};

/// An invitation of an organization, from the path `/orgs/{org}/invitations/{id}/…` (a
/// malformed id is a 404).
type InvitationPath = web::Path<(OrganizationId, InvitationId)>;

/// A refusal to act on an invitation or invite link (resend, revoke) by the role ceiling of
/// its role: a 403 page with a link back to the Team page. `doing` completes "You cannot
/// {doing} Owner", e.g. "revoke an invite link for".
pub fn act_on_refused(denied: ActOnDenied, doing: &str, org: OrganizationId) -> AppError {
    back_to_team(org)(AppError::Forbidden(acting_on_text(denied, doing).into()))
}

/// The answer to a refused resend of the invitation to `email` (member and tenant-owner
/// invitations alike): sent again less than a minute ago → 429 with the seconds left; final
/// or superseded → 409 (DESIGN.md, "Resend"; the status policy).
pub fn resend_refused(refused: ResendError, email: &str, now: DateTime<Utc>) -> AppError {
    let retry_after = match refused {
        ResendError::OverHourlyLimit(over) => return AppError::too_many(over.to_string(), 60),
        ResendError::TooSoon { available_at } => seconds_until(available_at, now),
        ResendError::Final(_) | ResendError::Superseded => 0,
    };
    let email = email.to_owned();
    ServiceError::Refused(InvitationRefusal::Resend {
        email,
        refused,
        retry_after,
    })
    .into()
}

/// POST /orgs/{org}/invitations/{id}/resend — the original link again (at most once a minute),
/// or a new invitation when it has expired.
pub async fn resend(
    req: OrgRequest,
    path: InvitationPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let resent = on_team(&req, Permission::UsersInvite, path, service::resend).await?;
    let email = resent.email;
    flash::success(
        &req.session,
        match resent.how {
            ResendPlan::SameLink => format!("Invitation sent again to {email} with the same link."),
            ResendPlan::NewInvitation => format!(
                "The invitation to {email} had expired; a new one was sent with a fresh link."
            ),
        },
    );
    Ok(see_other(&paths::team(req.org())))
}

#[derive(Template, WebTemplate)]
#[template(path = "revoke_confirm.html")]
struct RevokeConfirmPage {
    layout: Layout,
    email: String,
    role: Role,
    action: String,
    team_path: String,
}

/// GET /orgs/{org}/invitations/{id}/revoke — asks for confirmation.
pub async fn revoke_confirm(
    req: OrgRequest,
    path: InvitationPath,
) -> Result<HttpResponse, AppError> {
    let to_revoke = |svc: &_, actor: &_, org, id, _| service::to_revoke(svc, actor, org, id);
    let inv = on_team(&req, Permission::UsersInvite, path, to_revoke).await?;
    let org = req.org();
    render(&RevokeConfirmPage {
        layout: req.layout("Revoke invitation")?,
        email: inv.email.to_string(),
        role: inv.role,
        action: paths::revoke(org, inv.id),
        team_path: paths::team(org),
    })
}

/// POST /orgs/{org}/invitations/{id}/revoke — the link stops working at once.
pub async fn revoke(
    req: OrgRequest,
    path: InvitationPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let email = on_team(&req, Permission::UsersInvite, path, service::revoke).await?;
    flash::success(
        &req.session,
        format!("The invitation to {email} was revoked; its link no longer works."),
    );
    Ok(see_other(&paths::team(req.org())))
}

/// POST /orgs/{org}/invitations/{id}/fix — "Fix address" on an invitation whose email bounced
/// (issue 15 §3): revokes it and opens the invite form with its address, role and message, to
/// correct the address and send again. Refused as Revoke is (above the viewer's role: 403; no
/// longer pending: 409).
pub async fn fix_address(
    req: OrgRequest,
    path: InvitationPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let fix = |svc: &_, actor: &_, org, id, now| {
        let invitation = service::to_revoke(svc, actor, org, id)?;
        service::revoke(svc, actor, org, id, now)?;
        Ok(invitation)
    };
    let invitation = on_team(&req, Permission::UsersInvite, path, fix).await?;
    flash::info(
        &req.session,
        format!(
            "The invitation to {} bounced and was revoked. Correct the address and send it again.",
            invitation.email
        ),
    );
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", invitation.email.as_str())
        .append_pair("role", invitation.role.as_str())
        .append_pair("message", invitation.message.as_deref().unwrap_or(""))
        .finish();
    Ok(see_other(&format!("{}?{query}", paths::invite(req.org()))))
}

/// One step of the timeline as the page shows it.
struct StepView {
    label: &'static str,
    at: TimeView,
    detail: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "invitation_history.html")]
struct HistoryPage {
    layout: Layout,
    email: String,
    role: Role,
    inviter: String,
    state: String,
    steps: Vec<StepView>,
    team_path: String,
}

/// GET /orgs/{org}/invitations/{id}/history — an invitation and its delivery timeline (issue
/// 15 §3): queued, sent, failed or bounced, reminded, and how it ended. `members:manage` only;
/// another organization's invitation or an unknown one is a 404.
pub async fn invitation_history(
    req: OrgRequest,
    path: InvitationPath,
) -> Result<HttpResponse, AppError> {
    let now = req.state.clock.now();
    let history = on_team(
        &req,
        Permission::MembersManage,
        path,
        crate::service::team::invitation_history,
    )
    .await?;
    let inv = &history.details.invitation;
    render(&HistoryPage {
        layout: req.layout(format!("Invitation to {}", inv.email))?,
        email: inv.email.to_string(),
        role: inv.role,
        inviter: history.details.inviter_name.clone(),
        state: inv.facts.effective_status(now).as_str().to_owned(),
        steps: history
            .timeline
            .iter()
            .map(|e| StepView {
                label: e.step.label(),
                at: TimeView::new(e.at, now),
                detail: e.detail.clone(),
            })
            .collect(),
        team_path: paths::team(req.org()),
    })
}
