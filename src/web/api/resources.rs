//! The resources of `/api/v1/orgs/{org}` (issue 15 §1): the organization, its members, its
//! invitations and its audit trail. Each handler parses, calls one service operation — the
//! same one the pages call — and answers JSON.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiRequest, ListQuery, encode_cursor};
use crate::db::api_listing::After;
use crate::domain::email::{ListedAddress, parse_address_list};
use crate::domain::invitation::{AddressOutcome, Invitation, InviteEntry, ResendPlan};
use crate::domain::text::PersonalMessage;
use crate::domain::{InvitationId, InvitationStatus, MemberListing, Role, UserId};
use crate::service::members::ChangeRole;
use crate::service::{audit, invitations, members, organizations, seats, team};

/// The most addresses one `POST …/invitations` may name (as the invite form).
pub const MAX_ADDRESSES: usize = 1_000;

/// An organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrganizationBody {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `trial`, `starter`, `professional` or `enterprise`.
    pub plan: String,
    /// How many members it has.
    pub member_count: i64,
    /// Its seats.
    pub seats: SeatsBody,
}

/// An organization's seats: members, live pending invitations and unused live invite links.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeatsBody {
    /// Seats in use.
    pub used: i64,
    /// The limit (`null`: unlimited).
    pub limit: Option<u32>,
}

/// A member.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberBody {
    /// Their account's id (the `{user}` of `…/members/{user}`).
    pub user_id: String,
    /// Their name.
    pub name: String,
    /// Their address.
    pub email: String,
    /// `owner`, `admin`, `editor`, `writer` or `viewer`.
    pub role: String,
    /// When they joined (RFC 3339).
    pub joined_at: String,
    /// Who invited them, by name, if anyone.
    pub invited_by: Option<String>,
}

impl From<MemberListing> for MemberBody {
    fn from(m: MemberListing) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            name: m.name,
            email: m.email,
            role: m.role.as_str().to_owned(),
            joined_at: m.joined_at.to_rfc3339(),
            invited_by: m.invited_by,
        }
    }
}

/// A page of members, by address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MembersPage {
    /// The members.
    pub data: Vec<MemberBody>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// An invitation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationBody {
    /// Its id.
    pub id: String,
    /// The invited address.
    pub email: String,
    /// The role it offers.
    pub role: String,
    /// `pending`, `accepted`, `revoked`, `declined` or `expired` (a pending one past its time
    /// is `expired`).
    pub state: String,
    /// The inviter's account id.
    pub invited_by: String,
    /// When it was sent (RFC 3339).
    pub created_at: String,
    /// When its link stops working (RFC 3339).
    pub expires_at: String,
    /// The inviter's message, if any.
    pub message: Option<String>,
}

impl InvitationBody {
    fn new(i: Invitation, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            id: i.id.to_string(),
            email: i.email.to_string(),
            role: i.role.as_str().to_owned(),
            state: i.facts.effective_status(now).as_str().to_owned(),
            invited_by: i.invited_by.to_string(),
            created_at: i.created_at.to_rfc3339(),
            expires_at: i.facts.expires_at.to_rfc3339(),
            message: i.message,
        }
    }
}

/// A page of invitations, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationsPage {
    /// The invitations.
    pub data: Vec<InvitationBody>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// An audit event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEventBody {
    /// Its id.
    pub id: String,
    /// What happened, e.g. `invitation.sent`.
    pub action: String,
    /// Who: "Name <email>", "API token {name}" or "system".
    pub actor: String,
    /// Whether they acted as platform staff.
    pub actor_is_staff: bool,
    /// What it was done to.
    pub target: Option<String>,
    /// Details.
    pub details: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// When (RFC 3339).
    pub created_at: String,
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The events.
    pub data: Vec<AuditEventBody>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `PATCH …/members/{user}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    /// The new role: `owner`, `admin`, `editor`, `writer` or `viewer`.
    pub role: String,
}

/// `POST …/invitations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InviteRequest {
    /// The addresses to invite (at most 1,000).
    pub emails: Vec<String>,
    /// The role offered to each.
    pub role: String,
    /// An optional personal message (at most 1,000 characters).
    #[serde(default)]
    pub message: Option<String>,
    /// Whether Joinery emails each invitation (default `true`). With `false`, nothing is
    /// emailed and each sent or resent outcome carries its `link` for the product to deliver.
    #[serde(default)]
    pub send_email: Option<bool>,
}

/// What happened to one address of `POST …/invitations`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteOutcomeBody {
    /// The address, normalized (or as sent, when it is not one).
    pub email: String,
    /// `sent`, `resent`, `skipped` or `invalid`.
    pub outcome: &'static str,
    /// Why it was skipped or invalid.
    pub reason: Option<String>,
    /// With `"send_email": false`, the invitation's link for the product to deliver (sent or
    /// resent addresses only). Give it only to its address: it still proves the address when
    /// followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// The answer of `POST …/invitations`: one outcome per address, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteResponse {
    /// The outcomes.
    pub outcomes: Vec<InviteOutcomeBody>,
}

/// One step of an invitation's timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineStepBody {
    /// `queued`, `resent`, `sent`, `failed`, `bounced`, `reminded`, `accepted`, `declined`,
    /// `revoked` or `expired`.
    pub step: &'static str,
    /// When (RFC 3339).
    pub at: String,
    /// More: a delivery error, or why it was revoked.
    pub detail: Option<String>,
}

/// An invitation with its delivery timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationWithTimeline {
    /// The invitation.
    #[serde(flatten)]
    pub invitation: InvitationBody,
    /// What happened to it, oldest first.
    pub timeline: Vec<TimelineStepBody>,
}

/// The answer of `POST …/invitations/{id}/resend`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResendResponse {
    /// The invited address.
    pub email: String,
    /// `same_link` (pending: its link again) or `new_invitation` (it had expired).
    pub how: &'static str,
}

/// The `?state=` of `GET …/invitations`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationQuery {
    /// Only invitations in this state: `pending`, `accepted`, `revoked`, `declined` or
    /// `expired`.
    pub state: Option<String>,
}

fn role_of(input: &str) -> Result<Role, ApiError> {
    input.parse::<Role>().map_err(|_| {
        ApiError::bad_request(format!(
            "role must be one of owner, admin, editor, writer, viewer; it was {:?}.",
            input.chars().take(40).collect::<String>()
        ))
    })
}

/// A keyset position `created_at|id` of a newest-first list.
fn after_of(cursor: Option<String>) -> Result<Option<After>, ApiError> {
    let Some(c) = cursor else { return Ok(None) };
    let bad = || ApiError::bad_request("cursor is not one this API gave out.");
    let (micros, id) = c.split_once('|').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = chrono::DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok(Some(After {
        created_at: at.naive_utc(),
        id: id.to_owned(),
    }))
}

fn cursor_at(created_at: chrono::NaiveDateTime, id: &str) -> String {
    encode_cursor(&format!("{}|{id}", created_at.and_utc().timestamp_micros()))
}

/// The organization: its name, plan, member count and seats.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 200, body = OrganizationBody),
        (status = 401, body = super::Problem, description = "No valid token"),
        (status = 404, body = super::Problem, description = "Another organization"),
    ),
    security(("bearer" = [])),
    tag = "Organization"
)]
pub async fn organization(req: ApiRequest) -> Result<HttpResponse, ApiError> {
    let (facts, usage) = req
        .call(|svc, actor, org, now| {
            let facts = organizations::dashboard(svc, actor, org)?;
            let usage = seats::seats(svc, actor, org, now)
                .map_err(|e| e.map_refusal(organizations::OrgRefusal::from))?;
            Ok((facts, usage))
        })
        .await?;
    let org = facts.acting.org;
    Ok(HttpResponse::Ok().json(OrganizationBody {
        id: org.id.to_string(),
        name: org.name,
        plan: org.plan.as_str().to_owned(),
        member_count: facts.member_count,
        seats: SeatsBody {
            used: usage.taken(),
            limit: usage.limit.seats(),
        },
    }))
}

/// The members, by address (`members:manage`: Owner and Admin tokens).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/members",
    params(("org" = String, Path, description = "The organization's id"), ListQuery),
    responses(
        (status = 200, body = MembersPage),
        (status = 400, body = super::Problem, description = "A bad limit or cursor"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "The token's role may not manage members"),
    ),
    security(("bearer" = [])),
    tag = "Members"
)]
pub async fn members(
    req: ApiRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, after) = (query.limit()?, query.cursor()?);
    let rows = req
        .call(move |svc, actor, org, _| {
            team::members_after(svc, actor, org, after.as_deref(), limit + 1)
        })
        .await?;
    let (data, next) = page(rows, limit, |m: &MemberListing| encode_cursor(&m.email));
    Ok(HttpResponse::Ok().json(MembersPage {
        data: data.into_iter().map(MemberBody::from).collect(),
        next_cursor: next,
    }))
}

/// The first `limit` of `rows` (which holds one more when another page follows) and the
/// cursor of the last one shown, if another page follows.
fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(cursor) } else { None };
    (rows, next)
}

/// Changes a member's role, with the rules of the Team page (the token's role is the ceiling;
/// the last Owner stays).
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{org}/members/{user}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("user" = String, Path, description = "The member's account id"),
    ),
    request_body = RoleChange,
    responses(
        (status = 200, body = MemberBody),
        (status = 400, body = super::Problem, description = "An unknown role"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "A rule refuses it (ceiling, last Owner)"),
        (status = 404, body = super::Problem, description = "Not a member"),
    ),
    security(("bearer" = [])),
    tag = "Members"
)]
pub async fn change_role(
    req: ApiRequest,
    path: web::Path<(String, String)>,
    body: web::Json<RoleChange>,
) -> Result<HttpResponse, ApiError> {
    let user = user_of(&path.1)?;
    let to = role_of(&body.role)?;
    let member = req
        .call(move |svc, actor, org, now| {
            let membership = members::membership_of(svc, actor, org, user)?;
            members::change_role(svc, actor, org, ChangeRole { membership, to }, now)?;
            members::find(svc, actor, org, membership)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MemberBody::from(member)))
}

fn user_of(input: &str) -> Result<UserId, ApiError> {
    input
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No such member"))
}

/// Removes a member, with the rules of the Team page; their pending invitations, links and
/// API tokens are revoked.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/members/{user}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("user" = String, Path, description = "The member's account id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "A rule refuses it"),
        (status = 404, body = super::Problem, description = "Not a member"),
    ),
    security(("bearer" = [])),
    tag = "Members"
)]
pub async fn remove_member(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let user = user_of(&path.1)?;
    req.call(move |svc, actor, org, now| {
        let membership = members::membership_of(svc, actor, org, user)?;
        members::remove(svc, actor, org, membership, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The invitations, newest first, optionally in one state (`members:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/invitations",
    params(("org" = String, Path, description = "The organization's id"), InvitationQuery, ListQuery),
    responses(
        (status = 200, body = InvitationsPage),
        (status = 400, body = super::Problem, description = "A bad state, limit or cursor"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn invitations(
    req: ApiRequest,
    state: web::Query<InvitationQuery>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = state
        .state
        .as_deref()
        .map(|s| {
            s.parse::<InvitationStatus>().map_err(|_| {
                ApiError::bad_request(
                    "state must be one of pending, accepted, revoked, declined, expired.",
                )
            })
        })
        .transpose()?;
    let (limit, after) = (query.limit()?, after_of(query.cursor()?)?);
    let now = req.state.clock.now();
    let rows = req
        .call(move |svc, actor, org, now| {
            team::invitations_after(svc, actor, org, state, after.as_ref(), limit + 1, now)
        })
        .await?;
    let (data, next) = page(rows, limit, |i: &Invitation| {
        cursor_at(crate::db::to_db(i.created_at), &i.id.to_string())
    });
    Ok(HttpResponse::Ok().json(InvitationsPage {
        data: data
            .into_iter()
            .map(|i| InvitationBody::new(i, now))
            .collect(),
        next_cursor: next,
    }))
}

/// Invites addresses with one role and message, as the invite dialog does: all or nothing
/// for the rules (ceiling, plan, seats, hourly limit), and one outcome per address. With
/// `"send_email": false` nothing is emailed and each sent or resent outcome has its `link`.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/invitations",
    params(("org" = String, Path, description = "The organization's id")),
    request_body = InviteRequest,
    responses(
        (status = 201, body = InviteResponse),
        (status = 400, body = super::Problem, description = "An unknown role"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "Ceiling, plan, seats or domain restriction"),
        (status = 422, body = super::Problem, description = "No valid address, too many, or a bad message"),
        (status = 429, body = super::Problem, description = "The hourly limit; see Retry-After"),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn invite(
    req: ApiRequest,
    body: web::Json<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let role = role_of(&body.role)?;
    let send_email = body.send_email.unwrap_or(true);
    let invalid = |detail: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
    if body.emails.len() > MAX_ADDRESSES {
        return Err(invalid(format!(
            "{} addresses; send at most {MAX_ADDRESSES} at a time.",
            body.emails.len()
        )));
    }
    let message = PersonalMessage::parse(body.message.as_deref().unwrap_or(""))
        .map_err(|e| invalid(format!("message: {e}.")))?;
    // Each array item is one address: separators inside one are not split.
    let one_per_line: Vec<String> = body
        .emails
        .iter()
        .map(|e| e.replace(['\n', '\r', ',', ';'], " "))
        .collect();
    let listed = parse_address_list(&one_per_line.join("\n"));
    let entries: Vec<InviteEntry> = listed
        .iter()
        .filter_map(|l| match l {
            ListedAddress::Valid(email) => Some(InviteEntry {
                email: email.clone(),
                role,
                message: message.clone(),
                department: None,
            }),
            _ => None,
        })
        .collect();
    if entries.is_empty() {
        return Err(invalid(
            "No valid address: name at least one in emails.".into(),
        ));
    }
    let outcomes: Vec<(AddressOutcome, Option<String>)> = if send_email {
        req.call(move |svc, actor, org, now| invitations::invite(svc, actor, org, &entries, now))
            .await?
            .into_iter()
            .map(|o| (o, None))
            .collect()
    } else {
        let base = req.state.base_url.clone();
        req.call(move |svc, actor, org, now| {
            invitations::invite_without_email(svc, actor, org, &entries, now)
        })
        .await?
        .into_iter()
        .map(|(o, token)| {
            let link = token.map(|t| format!("{base}{}", crate::paths::invitation(t.expose())));
            (o, link)
        })
        .collect()
    };
    let mut outcomes = outcomes.into_iter();
    let bodies = listed
        .into_iter()
        .map(|l| match l {
            ListedAddress::Valid(email) => {
                let (outcome, reason, link) = match outcomes.next() {
                    Some((AddressOutcome::Sent, link)) => ("sent", None, link),
                    Some((AddressOutcome::Resent, link)) => ("resent", None, link),
                    Some((AddressOutcome::Skipped(why), _)) => {
                        ("skipped", Some(why.to_string()), None)
                    }
                    None => ("skipped", Some("not processed".to_owned()), None),
                };
                InviteOutcomeBody {
                    email: email.to_string(),
                    outcome,
                    reason,
                    link,
                }
            }
            ListedAddress::Invalid { input, error } => InviteOutcomeBody {
                email: input,
                outcome: "invalid",
                reason: Some(error.to_string()),
                link: None,
            },
            ListedAddress::Duplicate { input } => InviteOutcomeBody {
                email: input,
                outcome: "skipped",
                reason: Some("listed twice".to_owned()),
                link: None,
            },
        })
        .collect();
    Ok(HttpResponse::Created().json(InviteResponse { outcomes: bodies }))
}

fn invitation_of(input: &str) -> Result<InvitationId, ApiError> {
    input
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "No such invitation"))
}

/// Resends an invitation, as the Team page's Resend: its link again while pending (at most
/// once a minute), a new invitation once expired.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/invitations/{id}/resend",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 200, body = ResendResponse),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "Above the token's role"),
        (status = 404, body = super::Problem),
        (status = 409, body = super::Problem, description = "Accepted, revoked or declined"),
        (status = 429, body = super::Problem, description = "Resent less than a minute ago"),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn resend(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_of(&path.1)?;
    let resent = req
        .call(move |svc, actor, org, now| invitations::resend(svc, actor, org, id, now))
        .await?;
    Ok(HttpResponse::Ok().json(ResendResponse {
        email: resent.email.to_string(),
        how: match resent.how {
            ResendPlan::SameLink => "same_link",
            ResendPlan::NewInvitation => "new_invitation",
        },
    }))
}

/// One invitation with its delivery timeline: queued → sent / failed / bounced → reminded →
/// accepted / declined / revoked / expired (`members:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/invitations/{id}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 200, body = InvitationWithTimeline),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
        (status = 404, body = super::Problem),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn invitation(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_of(&path.1)?;
    let now = req.state.clock.now();
    let history = req
        .call(move |svc, actor, org, now| team::invitation_history(svc, actor, org, id, now))
        .await?;
    let timeline = history
        .timeline
        .iter()
        .map(|e| TimelineStepBody {
            step: e.step.as_str(),
            at: e.at.to_rfc3339(),
            detail: e.detail.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(InvitationWithTimeline {
        invitation: InvitationBody::new(history.details.invitation, now),
        timeline,
    }))
}

/// Revokes a pending invitation: its link stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/invitations/{id}",
    params(
        ("org" = String, Path, description = "The organization's id"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem, description = "Above the token's role"),
        (status = 404, body = super::Problem),
        (status = 409, body = super::Problem, description = "Not pending any more"),
    ),
    security(("bearer" = [])),
    tag = "Invitations"
)]
pub async fn revoke(
    req: ApiRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_of(&path.1)?;
    req.call(move |svc, actor, org, now| invitations::revoke(svc, actor, org, id, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit trail, newest first (`members:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/audit",
    params(("org" = String, Path, description = "The organization's id"), ListQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = super::Problem),
        (status = 401, body = super::Problem),
        (status = 403, body = super::Problem),
    ),
    security(("bearer" = [])),
    tag = "Audit"
)]
pub async fn audit(
    req: ApiRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, after) = (query.limit()?, after_of(query.cursor()?)?);
    let rows = req
        .call(move |svc, actor, org, _| {
            audit::events_after(svc, actor, org, after.as_ref(), limit + 1)
        })
        .await?;
    let (data, next) = page(rows, limit, |e| cursor_at(e.created_at, &e.id));
    Ok(HttpResponse::Ok().json(AuditPage {
        data: data
            .into_iter()
            .map(|e| AuditEventBody {
                created_at: e.at().to_rfc3339(),
                id: e.id,
                action: e.action,
                actor: e.actor_label,
                actor_is_staff: e.actor_is_staff,
                target: e.target,
                details: e.details,
                ip: e.ip,
            })
            .collect(),
        next_cursor: next,
    }))
}
