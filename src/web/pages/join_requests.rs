//! Join requests (issue 14 §3) on the web: "Request to join {org}" from "Organizations you
//! can join", and the Team page's Approve and Reject (with a confirmation page). The rules are
//! the service's (`service::join_requests`); these handlers parse, call it once, and render.
//! A "request access" invite link's "Request to join" is `invite_links::join`'s.

use actix_web::{HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use super::team::{TimeView, on_team};
use super::{render, see_other};
use crate::domain::{JoinRequestId, OrganizationId, Permission, Role};
use crate::paths;
use crate::service::Actor;
use crate::service::join_requests::{self as service, Submitted};
use crate::web::csrf::{CsrfForm, HasCsrfToken, TokenOnly};
use crate::web::error::Rejection;
use crate::web::extractors::{OrgRequest, PageVisit};
use crate::web::request_meta::Meta;
use crate::web::{AppError, Layout, flash};

/// A request of an organization, from `/orgs/{org}/join-requests/{id}/…` (a malformed id is a
/// 404).
type RequestIdPath = web::Path<(OrganizationId, JoinRequestId)>;

/// "Request to join {org}" as submitted.
#[derive(Debug, Deserialize)]
pub struct NoteSubmission {
    #[serde(default)]
    csrf_token: String,
    /// The optional note to the admins.
    #[serde(default)]
    pub note: String,
}

impl HasCsrfToken for NoteSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/domain-request — "Request to join {org}" for a signed-in person whose
/// address is at a verified domain of the organization in *Suggest* mode, with an optional
/// note. Back to `/` with what happened. Signed out: to the log-in page. Refusals: not
/// offered (404, never saying why), a member already (409), outside the organization's
/// verified-domain restriction (403), a note too long (422).
pub async fn request_by_domain(
    visit: PageVisit,
    Meta(origin): Meta,
    path: web::Path<OrganizationId>,
    CsrfForm(input): CsrfForm<NoteSubmission>,
) -> Result<HttpResponse, AppError> {
    let Some(user) = visit.user.clone() else {
        return Ok(see_other(&paths::login()));
    };
    let org = path.into_inner();
    let actor = Actor::new(user, origin);
    let now = visit.state.clock.now();
    let (organization, submitted) = visit
        .state
        .call(move |svc| service::request_by_domain(svc, &actor, org, &input.note, now))
        .await
        .map_err(|e| AppError::from(e).back_to(paths::home(), "Back to your organizations"))?;
    match submitted {
        Submitted::Sent(_) => flash::success(
            &visit.session,
            format!(
                "Your request to join {} was sent. Its admins will answer by email.",
                organization.name
            ),
        ),
        Submitted::AlreadyOpen(_) => flash::info(
            &visit.session,
            format!(
                "You have already asked to join {}; its admins will answer by email.",
                organization.name
            ),
        ),
    }
    Ok(see_other(&paths::home()))
}

/// The Approve form as submitted: the role chosen.
#[derive(Debug, Deserialize)]
pub struct ApproveSubmission {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role: String,
}

impl HasCsrfToken for ApproveSubmission {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// POST /orgs/{org}/join-requests/{id}/approve — approves the request with the role chosen:
/// the person joins at once. Back to the Team page with what happened. `members:manage` only
/// (403). Refusals, each on a page linking back to the Team page: a role no form offers (400),
/// a role above the approver's own, a Trial plan, no free seat, the domain restriction or the
/// domain it came through (403), answered or expired already, or a member already (409).
pub async fn approve(
    req: OrgRequest,
    path: RequestIdPath,
    CsrfForm(input): CsrfForm<ApproveSubmission>,
) -> Result<HttpResponse, AppError> {
    let Ok(role) = input.role.parse::<Role>() else {
        return Err(AppError::rejected(
            Rejection::Malformed,
            "Choose one of the roles listed.".to_owned(),
            None,
        )
        .back_to(paths::team(req.org()), "Back to Team Management"));
    };
    let approve =
        move |svc: &_, actor: &_, org, id, now| service::approve(svc, actor, org, id, role, now);
    let approved = on_team(&req, Permission::MembersManage, path, approve).await?;
    flash::success(
        &req.session,
        format!(
            "{} joined as {}. They were told by email.",
            approved.request.name,
            approved.role.label()
        ),
    );
    Ok(see_other(&paths::team(req.org())))
}

#[derive(Template, WebTemplate)]
#[template(path = "join_request_reject.html")]
struct RejectPage {
    layout: Layout,
    name: String,
    email: String,
    via: String,
    note: String,
    sent: TimeView,
    action: String,
    team_path: String,
}

/// GET /orgs/{org}/join-requests/{id}/reject — asks "Reject {name}'s request?". Answered or
/// expired requests are a 409; another organization's or an unknown one a 404.
pub async fn reject_confirm(
    req: OrgRequest,
    path: RequestIdPath,
) -> Result<HttpResponse, AppError> {
    let org = req.org();
    let request = on_team(&req, Permission::MembersManage, path, service::find).await?;
    let now = req.state.clock.now();
    render(&RejectPage {
        layout: req.layout("Reject join request")?,
        name: request.name,
        email: request.email.to_string(),
        via: request.via.label(),
        note: request.note,
        sent: TimeView::new(request.created_at, now),
        action: paths::reject_join_request(org, request.id),
        team_path: paths::team(org),
    })
}

/// POST /orgs/{org}/join-requests/{id}/reject — rejects the request; the person is told by
/// email and may ask again. Back to the Team page with what happened.
pub async fn reject(
    req: OrgRequest,
    path: RequestIdPath,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let request = on_team(&req, Permission::MembersManage, path, service::reject).await?;
    flash::success(
        &req.session,
        format!(
            "{}'s request to join was rejected. They were told by email.",
            request.name
        ),
    );
    Ok(see_other(&paths::team(req.org())))
}
