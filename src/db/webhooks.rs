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

/// A delivery to attempt: the row, and its endpoint's URL, secret and whether it is live.
#[derive(Debug, Clone)]
pub struct Job {
    /// The delivery (its id is the `webhook-id`).
    pub delivery: DeliveryRow,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Its organization.
    pub organization_id: OrganizationId,
    /// Where to POST.
    pub url: String,
    /// Its signing secret.
    pub secret: SigningSecret,
    /// Since when it has been failing, if it has.
    pub failing_since: Option<DateTime<Utc>>,
}

const CLAIM_COLUMNS: &str = "id, endpoint_id, event_type, payload, status, attempts, \
     next_attempt_at, locked_until, last_status, last_error, created_at, delivered_at";

/// Claims up to `limit` deliveries due at `now` for `lease` (queued and due, or leased by a
/// worker whose lease ran out), of live endpoints, with what sending them needs.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn claim(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
    lease: chrono::Duration,
) -> Result<Vec<Job>, DbError> {
    use diesel::sql_types::{BigInt, Timestamp};
    let (now, until) = (to_db(now), to_db(now + lease));
    let due = "((status = 'queued' AND next_attempt_at <= {now}) \
                OR (status = 'sending' AND locked_until <= {now})) \
               AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL)";
    let rows: Vec<DeliveryRow> = match conn {
        Conn::Postgresql(pg) => diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET status = 'sending', locked_until = $1 WHERE id IN ( \
               SELECT id FROM webhook_deliveries WHERE {} \
               ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {CLAIM_COLUMNS}",
            due.replace("{now}", "$2")
        ))
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(pg)?,
        Conn::Sqlite(lite) => diesel::sql_query(format!(
            "UPDATE webhook_deliveries SET status = 'sending', locked_until = ?1 WHERE id IN ( \
               SELECT id FROM webhook_deliveries WHERE {} \
               ORDER BY next_attempt_at LIMIT ?3) \
             RETURNING {CLAIM_COLUMNS}",
            due.replace("{now}", "?2")
        ))
        .bind::<Timestamp, _>(until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load(lite)?,
    };
    let mut jobs = Vec::with_capacity(rows.len());
    for delivery in rows {
        let endpoint: EndpointRow = webhook_endpoints::table
            .find(&delivery.endpoint_id)
            .select(EndpointRow::as_select())
            .first(conn)?;
        jobs.push(Job {
            endpoint_id: parse_stored(&endpoint.id, "webhook endpoint id")?,
            organization_id: parse_stored(&endpoint.organization_id, "organization id")?,
            url: endpoint.url,
            secret: SigningSecret::from_stored(endpoint.secret),
            failing_since: endpoint.failing_since.map(from_db),
            delivery,
        });
    }
    Ok(jobs)
}

/// Records a 2xx for delivery `id` of `endpoint` at `now`: delivered, never sent again; the
/// endpoint is no longer failing.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_delivered(
    conn: &mut Conn,
    id: &str,
    endpoint: WebhookEndpointId,
    status: u16,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    super::write_transaction(conn, |c| {
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq("delivered"),
                webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::last_status.eq(Some(i32::from(status))),
                webhook_deliveries::last_error.eq(None::<String>),
                webhook_deliveries::delivered_at.eq(Some(to_db(now))),
            ))
            .execute(c)?;
        diesel::update(webhook_endpoints::table.find(endpoint.to_string()))
            .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
            .execute(c)?;
        Ok(())
    })
}

/// Records a failed attempt of delivery `id` of `endpoint` at `now` (`status`, if the
/// endpoint answered, and `error`): queued again at `retry_at`; the endpoint is failing since
/// `now` unless it already was.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_failed(
    conn: &mut Conn,
    id: &str,
    endpoint: WebhookEndpointId,
    status: Option<u16>,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let error: String = error.chars().take(500).collect();
    super::write_transaction(conn, |c| {
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq("queued"),
                webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::last_status.eq(status.map(i32::from)),
                webhook_deliveries::last_error.eq(Some(error.as_str())),
                webhook_deliveries::next_attempt_at.eq(to_db(retry_at)),
            ))
            .execute(c)?;
        diesel::update(
            webhook_endpoints::table
                .find(endpoint.to_string())
                .filter(webhook_endpoints::failing_since.is_null()),
        )
        .set(webhook_endpoints::failing_since.eq(Some(to_db(now))))
        .execute(c)?;
        Ok(())
    })
}

/// Disables `endpoint` at `now` (failing for 3 days) unless it is already: its queued
/// deliveries stay, for a Redeliver after it is fixed. Returns whether this call disabled it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn disable(
    conn: &mut Conn,
    endpoint: WebhookEndpointId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        webhook_endpoints::table
            .find(endpoint.to_string())
            .filter(webhook_endpoints::disabled_at.is_null()),
    )
    .set(webhook_endpoints::disabled_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Disables `endpoint` of `org` at `now` and, when this call disabled it, emails the
/// organization's Owners through the outbox (one transaction). Returns whether it did.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn disable_and_notify(
    conn: &mut Conn,
    org: OrganizationId,
    endpoint: WebhookEndpointId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    use super::schema::{memberships, organizations};
    super::write_transaction(conn, |c| {
        if !disable(c, endpoint, now)? {
            return Ok(false);
        }
        let url: String = webhook_endpoints::table
            .find(endpoint.to_string())
            .select(webhook_endpoints::url)
            .first(c)?;
        let name: String = organizations::table
            .find(org.to_string())
            .select(organizations::name)
            .first(c)?;
        let owners: Vec<String> = memberships::table
            .inner_join(users::table.on(users::id.eq(memberships::user_id)))
            .filter(memberships::organization_id.eq(org.to_string()))
            .filter(memberships::role.eq(crate::domain::Role::Owner.as_str()))
            .select(users::email)
            .load(c)?;
        let payload = serde_json::json!({
            "organization": name,
            "organization_id": org.to_string(),
            "url": url,
        })
        .to_string();
        for owner in owners {
            let to = crate::domain::EmailAddress::from_trusted(owner);
            super::outbox::enqueue(
                c,
                super::outbox::EmailKind::WebhookDisabled,
                None,
                &to,
                &payload,
                now,
            )?;
        }
        Ok(true)
    })
}

/// Turns `endpoint` of `org` back on (after a fix): not failing, not disabled.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn enable(
    conn: &mut Conn,
    org: OrganizationId,
    endpoint: WebhookEndpointId,
) -> Result<bool, DbError> {
    let n = diesel::update(
        webhook_endpoints::table
            .find(endpoint.to_string())
            .filter(webhook_endpoints::organization_id.eq(org.to_string())),
    )
    .set((
        webhook_endpoints::disabled_at.eq(None::<NaiveDateTime>),
        webhook_endpoints::failing_since.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The newest `limit` deliveries of `endpoint`: its delivery log.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn log(
    conn: &mut Conn,
    endpoint: WebhookEndpointId,
    limit: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint.to_string()))
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

/// Queues delivery `id` of `endpoint` again at `now` (Redeliver), with the same `webhook-id`
/// and body. Returns whether there was such a delivery.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn redeliver(
    conn: &mut Conn,
    endpoint: WebhookEndpointId,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint.to_string()))
            .filter(webhook_deliveries::status.ne("sending")),
    )
    .set((
        webhook_deliveries::status.eq("queued"),
        webhook_deliveries::next_attempt_at.eq(to_db(now)),
        webhook_deliveries::locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}
