//! The audit trail: one row per event, written inside the same transaction as the change it
//! records, and never updated or deleted (triggers on both backends refuse it).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::audit_events;
use super::{Conn, DbError, from_db, to_db};
use crate::domain::audit::AuditAction;
use crate::domain::{OrganizationId, UserId};

/// Who did something, as the trail records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Their account, or `None` for the system (e.g. the expiry sweep).
    pub user_id: Option<UserId>,
    /// "Name <email>" at the time, or "system".
    pub label: String,
    /// Whether they acted as platform staff.
    pub is_staff: bool,
}

impl Actor {
    /// The system itself (sweeps, scheduled work).
    pub fn system() -> Self {
        Self {
            user_id: None,
            label: "system".into(),
            is_staff: false,
        }
    }
}

/// Where a request came from: the client IP (the peer, or a forwarded address only from a
/// trusted proxy) and its user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// Client IP address.
    pub ip: Option<String>,
    /// `User-Agent`, cut to 300 characters.
    pub user_agent: Option<String>,
}

/// The actor and request behind a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// Who.
    pub actor: Actor,
    /// From where.
    pub meta: RequestMeta,
}

impl AuditContext {
    /// The system, with no request.
    pub fn system() -> Self {
        Self {
            actor: Actor::system(),
            meta: RequestMeta::default(),
        }
    }
}

/// Appends one event.
///
/// # Errors
/// [`DbError`] on a failed insert (the surrounding transaction then rolls back, so no change
/// happens unrecorded).
pub fn record(
    conn: &mut Conn,
    ctx: &AuditContext,
    organization: Option<OrganizationId>,
    action: AuditAction,
    target: Option<&str>,
    details: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(uuid::Uuid::new_v4().to_string()),
            audit_events::organization_id.eq(organization.map(|o| o.to_string())),
            audit_events::action.eq(action.as_str()),
            audit_events::actor_id.eq(ctx.actor.user_id.map(|u| u.to_string())),
            audit_events::actor_label.eq(&ctx.actor.label),
            audit_events::actor_is_staff.eq(ctx.actor.is_staff),
            audit_events::target.eq(target),
            audit_events::details.eq(details),
            audit_events::ip.eq(ctx.meta.ip.as_deref()),
            audit_events::user_agent.eq(ctx.meta.user_agent.as_deref()),
            audit_events::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A new `audit_events` row.
#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewAuditEvent<'a> {
    id: String,
    organization_id: Option<&'a str>,
    action: &'a str,
    actor_id: Option<&'a str>,
    actor_label: &'a str,
    actor_is_staff: bool,
    target: Option<&'a str>,
    details: Option<&'a str>,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    created_at: chrono::NaiveDateTime,
}

/// Appends many events by `ctx` to `organization`'s trail — each an (action, target,
/// details) — with multi-row INSERTs, in order (a bulk invite's events).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn record_many(
    conn: &mut Conn,
    ctx: &AuditContext,
    organization: Option<OrganizationId>,
    events: &[(AuditAction, &str, String)],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let organization = organization.map(|o| o.to_string());
    let actor_id = ctx.actor.user_id.map(|u| u.to_string());
    let rows: Vec<NewAuditEvent<'_>> = events
        .iter()
        .map(|(action, target, details)| NewAuditEvent {
            id: uuid::Uuid::new_v4().to_string(),
            organization_id: organization.as_deref(),
            action: action.as_str(),
            actor_id: actor_id.as_deref(),
            actor_label: &ctx.actor.label,
            actor_is_staff: ctx.actor.is_staff,
            target: Some(target),
            details: Some(details),
            ip: ctx.meta.ip.as_deref(),
            user_agent: ctx.meta.user_agent.as_deref(),
            created_at: to_db(now),
        })
        .collect();
    for chunk in rows.chunks(250) {
        super::on_backend!(&mut *conn, |c| diesel::insert_into(audit_events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// One event as read back.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub id: String,
    pub organization_id: Option<String>,
    pub action: String,
    pub actor_id: Option<String>,
    pub actor_label: String,
    pub actor_is_staff: bool,
    pub target: Option<String>,
    pub details: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

impl AuditRow {
    /// When it happened, UTC.
    pub fn at(&self) -> DateTime<Utc> {
        from_db(self.created_at)
    }
}

/// An organization's events, newest first, optionally only of one action and/or one actor.
/// Returns the page of at most `limit` rows after skipping `offset`, and the total count.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list(
    conn: &mut Conn,
    org: OrganizationId,
    action: Option<AuditAction>,
    actor: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditRow>, i64), DbError> {
    let org = org.to_string();
    let filtered = || {
        let mut q = audit_events::table
            .filter(audit_events::organization_id.eq(org.clone()))
            .into_boxed();
        if let Some(a) = action {
            q = q.filter(audit_events::action.eq(a.as_str()));
        }
        if let Some(actor) = actor {
            q = q.filter(audit_events::actor_id.eq(actor.to_owned()));
        }
        q
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// The distinct actors of an organization's trail: (actor id, label), by label.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn actors(conn: &mut Conn, org: OrganizationId) -> Result<Vec<(String, String)>, DbError> {
    let mut rows: Vec<(Option<String>, String)> = audit_events::table
        .filter(audit_events::organization_id.eq(org.to_string()))
        .select((audit_events::actor_id, audit_events::actor_label))
        .distinct()
        .load(conn)?;
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|(id, label)| id.map(|id| (id, label)))
        .filter(|(id, _)| seen.insert(id.clone()))
        .collect())
}
