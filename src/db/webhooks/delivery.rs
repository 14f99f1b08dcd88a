//! The webhook worker's side of the webhook outbox: claiming due deliveries with a lease,
//! recording each attempt, disabling an endpoint failing for 3 days (emailing its Owners),
//! and the log and Redeliver of Settings → Webhooks.

#[allow(clippy::wildcard_imports)]
use super::*;

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
    crate::db::write_transaction(conn, |c| {
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
    crate::db::write_transaction(conn, |c| {
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
    use crate::db::schema::{memberships, organizations};
    crate::db::write_transaction(conn, |c| {
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
            crate::db::outbox::enqueue(
                c,
                crate::db::outbox::EmailKind::WebhookDisabled,
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
