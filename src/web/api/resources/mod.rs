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

mod invitation_api;
mod member_api;

pub use invitation_api::*;
pub use member_api::*;

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
        (status = 401, body = crate::web::api::Problem, description = "No valid token"),
        (status = 404, body = crate::web::api::Problem, description = "Another organization"),
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

/// The audit trail, newest first (`members:manage`).
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/audit",
    params(("org" = String, Path, description = "The organization's id"), ListQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = crate::web::api::Problem),
        (status = 401, body = crate::web::api::Problem),
        (status = 403, body = crate::web::api::Problem),
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
