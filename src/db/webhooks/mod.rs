//! Webhooks (issue 15 §2): endpoints, and the webhook outbox — `webhook_deliveries`, one row
//! per event and subscribed endpoint, written by [`emit`] in the caller's transaction (so an
//! event exists if and only if its change committed), claimed with a lease and delivered by
//! `webhooks::worker`. The rules are `service::webhooks`' and `domain::webhook`'s; this
//! module loads and stores.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::models::row_structs;
use super::schema::{invitations, users, webhook_deliveries, webhook_endpoints};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::webhook::{EventType, SigningSecret};
use crate::domain::{InvitationId, OrganizationId, UserId, WebhookEndpointId};

mod delivery;

pub use delivery::*;

row_structs! {
    /// A new `webhook_endpoints` row.
    EndpointRow, NewEndpoint for webhook_endpoints {
        organization_id: String => String,
        url: String => &'a str,
        events: String => String,
        secret: String => &'a str,
        created_by: String => String,
        created_at: NaiveDateTime => NaiveDateTime,
        failing_since: Option<NaiveDateTime>,
        disabled_at: Option<NaiveDateTime>,
    }
    /// A new `webhook_deliveries` row (queued).
    DeliveryRow + QueryableByName, NewDelivery for webhook_deliveries {
        endpoint_id: String => String,
        event_type: String => &'a str,
        payload: String => &'a str,
        status: String,
        attempts: i32,
        next_attempt_at: NaiveDateTime => NaiveDateTime,
        locked_until: Option<NaiveDateTime>,
        last_status: Option<i32>,
        last_error: Option<String>,
        created_at: NaiveDateTime => NaiveDateTime,
        delivered_at: Option<NaiveDateTime>,
    }
}

/// An endpoint (never its secret).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// Its organization.
    pub organization_id: OrganizationId,
    /// Where events are POSTed.
    pub url: String,
    /// The events it receives.
    pub events: Vec<EventType>,
    /// Who added it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Since when its deliveries have been failing, if they are.
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was disabled (failing for 3 days), if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = DbError;

    fn try_from(row: EndpointRow) -> Result<Self, DbError> {
        Ok(Endpoint {
            id: parse_stored(&row.id, "webhook endpoint id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            url: row.url,
            events: row
                .events
                .split_whitespace()
                .filter_map(|e| e.parse().ok())
                .collect(),
            created_by: parse_stored(&row.created_by, "user id")?,
            created_at: from_db(row.created_at),
            failing_since: row.failing_since.map(from_db),
            disabled_at: row.disabled_at.map(from_db),
        })
    }
}

/// Stores a new endpoint of `org` for `url` and `events`, signed with `secret`.
///
/// # Errors
/// [`DbError`] on a failed query.
#[allow(clippy::too_many_arguments)]
pub fn insert_endpoint(
    conn: &mut Conn,
    id: WebhookEndpointId,
    org: OrganizationId,
    url: &str,
    events: &[EventType],
    secret: &SigningSecret,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    diesel::insert_into(webhook_endpoints::table)
        .values(NewEndpoint {
            id: id.to_string(),
            organization_id: org.to_string(),
            url,
            events: events.join(" "),
            secret: secret.expose(),
            created_by: by.to_string(),
            created_at: to_db(now),
        })
        .execute(conn)?;
    Ok(())
}

/// `org`'s endpoints, oldest first.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn endpoints(conn: &mut Conn, org: OrganizationId) -> Result<Vec<Endpoint>, DbError> {
    webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(org.to_string()))
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc(),
        ))
        .select(EndpointRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Endpoint::try_from)
        .collect()
}

/// The endpoint `id` of `org`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn endpoint(
    conn: &mut Conn,
    org: OrganizationId,
    id: WebhookEndpointId,
) -> Result<Option<Endpoint>, DbError> {
    webhook_endpoints::table
        .find(id.to_string())
        .filter(webhook_endpoints::organization_id.eq(org.to_string()))
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?
        .map(Endpoint::try_from)
        .transpose()
}

/// Deletes the endpoint `id` of `org` and its deliveries. Returns whether there was one.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn delete_endpoint(
    conn: &mut Conn,
    org: OrganizationId,
    id: WebhookEndpointId,
) -> Result<bool, DbError> {
    diesel::delete(
        webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id.to_string())),
    )
    .execute(conn)?;
    let n = diesel::delete(
        webhook_endpoints::table
            .find(id.to_string())
            .filter(webhook_endpoints::organization_id.eq(org.to_string())),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Writes each of `events` of `org` (its type and `data`) to the webhook outbox at `now`: one
/// queued delivery per live endpoint of `org` subscribed to its type, in the caller's
/// transaction. The body is Standard Webhooks' `{"type", "timestamp", "data"}`. One query when
/// the organization has no endpoint (the usual case). Returns how many deliveries it wrote.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn emit(
    conn: &mut Conn,
    org: OrganizationId,
    events: &[(EventType, serde_json::Value)],
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    if events.is_empty() {
        return Ok(0);
    }
    let live = live_endpoints(conn, org)?;
    emit_to(conn, &live, events, now)
}

/// The live endpoints of `org`: (id, subscribed event names).
type Live = Vec<(String, String)>;

fn live_endpoints(conn: &mut Conn, org: OrganizationId) -> Result<Live, DbError> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(org.to_string()))
        .filter(webhook_endpoints::disabled_at.is_null())
        .select((webhook_endpoints::id, webhook_endpoints::events))
        .load(conn)?)
}

/// [`emit`] to the endpoints `live` already read.
fn emit_to(
    conn: &mut Conn,
    live: &Live,
    events: &[(EventType, serde_json::Value)],
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    if live.is_empty() {
        return Ok(0);
    }
    let mut rows = Vec::new();
    for (kind, data) in events {
        let body = serde_json::json!({
            "type": kind.as_str(),
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string();
        for (endpoint, subscribed) in live {
            if subscribed.split_whitespace().any(|e| e == kind.as_str()) {
                rows.push((endpoint.clone(), *kind, body.clone()));
            }
        }
    }
    let new: Vec<NewDelivery<'_>> = rows
        .iter()
        .map(|(endpoint, kind, body)| NewDelivery {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            endpoint_id: endpoint.clone(),
            event_type: kind.as_str(),
            payload: body,
            next_attempt_at: to_db(now),
            created_at: to_db(now),
        })
        .collect();
    for chunk in new.chunks(200) {
        super::on_backend!(&mut *conn, |c| diesel::insert_into(
            webhook_deliveries::table
        )
        .values(chunk)
        .execute(c))?;
    }
    Ok(new.len())
}

/// Writes `event` about invitation `id` (its organization, address, role, inviter, and who
/// accepted it, if anyone) to the webhook outbox at `now` (see [`emit`]).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn emit_invitation(
    conn: &mut Conn,
    id: InvitationId,
    event: EventType,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let row: Option<(String, String, String, String, Option<String>)> = invitations::table
        .find(id.to_string())
        .select((
            invitations::organization_id,
            invitations::email,
            invitations::role,
            invitations::invited_by,
            invitations::accepted_by,
        ))
        .first(conn)
        .optional()?;
    let Some((org, email, role, invited_by, accepted_by)) = row else {
        return Ok(0);
    };
    let org: OrganizationId = parse_stored(&org, "organization id")?;
    let data = serde_json::json!({
        "organization_id": org.to_string(),
        "invitation_id": id.to_string(),
        "email": email,
        "role": role,
        "invited_by": invited_by,
        "user_id": accepted_by,
    });
    emit(conn, org, &[(event, data)], now)
}

/// Writes `event` about member `user` of `org` (with their address and `role`, and the role
/// before for a change) to the webhook outbox at `now` (see [`emit`]).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn emit_member(
    conn: &mut Conn,
    org: OrganizationId,
    user: UserId,
    event: EventType,
    role: crate::domain::Role,
    previous_role: Option<crate::domain::Role>,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    // The usual case, no endpoint: one query, and no look-up of the member.
    let live = live_endpoints(conn, org)?;
    if live.is_empty() {
        return Ok(0);
    }
    let email: Option<String> = users::table
        .find(user.to_string())
        .select(users::email)
        .first(conn)
        .optional()?;
    let mut data = serde_json::json!({
        "organization_id": org.to_string(),
        "user_id": user.to_string(),
        "email": email,
        "role": role.as_str(),
    });
    if let Some(previous) = previous_role {
        data["previous_role"] = previous.as_str().into();
    }
    emit_to(conn, &live, &[(event, data)], now)
}
