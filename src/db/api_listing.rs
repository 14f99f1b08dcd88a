//! The JSON API's lists (issue 15 §1), paged by keyset rather than offset, so that a cursor
//! keeps its place while the organization changes: members by email, invitations and audit
//! events newest first by (created_at, id). Each function reads at most `limit` rows after
//! the given position.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::audit::AuditRow;
use super::models::{InvitationRow, MembershipRow};
use super::schema::{audit_events, invitations, memberships, users};
use super::{Conn, DbError, to_db};
use crate::domain::invitation::Invitation;
use crate::domain::{InvitationStatus, MemberListing, OrganizationId};

/// Where a newest-first list stopped: the last row's `created_at` and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The last row's time.
    pub created_at: NaiveDateTime,
    /// The last row's id.
    pub id: String,
}

/// Up to `limit` members of `org` whose address sorts after `after_email` (all from the
/// start for `None`), by address.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn members(
    conn: &mut Conn,
    org: OrganizationId,
    after_email: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberListing>, DbError> {
    let mut q = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(org.to_string()))
        .into_boxed();
    if let Some(after) = after_email {
        q = q.filter(users::email.gt(after.to_owned()));
    }
    let rows: Vec<(MembershipRow, String, String)> = q
        .order(users::email.asc())
        .limit(limit)
        .select((MembershipRow::as_select(), users::name, users::email))
        .load(conn)?;
    super::organizations::member_listings(conn, rows)
}

/// Up to `limit` invitations of `org` in `state` as of `now` (any for `None`; Expired
/// includes pending ones past their time, and Pending excludes them), newest first, after
/// `after`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn invitations(
    conn: &mut Conn,
    org: OrganizationId,
    state: Option<InvitationStatus>,
    after: Option<&After>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>, DbError> {
    let at = to_db(now);
    let pending = InvitationStatus::Pending.as_str();
    let mut q = invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .into_boxed();
    q = match state {
        None => q,
        Some(InvitationStatus::Pending) => q
            .filter(invitations::status.eq(pending))
            .filter(invitations::expires_at.gt(at)),
        Some(InvitationStatus::Expired) => q.filter(
            invitations::status
                .eq(InvitationStatus::Expired.as_str())
                .or(invitations::status
                    .eq(pending)
                    .and(invitations::expires_at.le(at))),
        ),
        Some(other) => q.filter(invitations::status.eq(other.as_str())),
    };
    if let Some(after) = after {
        q = q.filter(
            invitations::created_at
                .lt(after.created_at)
                .or(invitations::created_at
                    .eq(after.created_at)
                    .and(invitations::id.lt(after.id.clone()))),
        );
    }
    let rows: Vec<InvitationRow> = q
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .limit(limit)
        .select(InvitationRow::as_select())
        .load(conn)?;
    rows.into_iter().map(Invitation::try_from).collect()
}

/// Up to `limit` audit events of `org`, newest first, after `after`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn audit(
    conn: &mut Conn,
    org: OrganizationId,
    after: Option<&After>,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    let mut q = audit_events::table
        .filter(audit_events::organization_id.eq(org.to_string()))
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(
            audit_events::created_at
                .lt(after.created_at)
                .or(audit_events::created_at
                    .eq(after.created_at)
                    .and(audit_events::id.lt(after.id.clone()))),
        );
    }
    Ok(
        q.order((audit_events::created_at.desc(), audit_events::id.desc()))
            .limit(limit)
            .select(AuditRow::as_select())
            .load(conn)?,
    )
}
