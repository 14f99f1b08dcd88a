//! What takes an organization's seats, and its staff override (DESIGN.md, "Access,
//! integration": Seats). Counting only; the rule is `domain::seats`'s.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{invitations, invite_links, memberships, organizations};
use super::{Conn, DbError, to_db};
use crate::domain::InvitationStatus;
use crate::domain::OrganizationId;
use crate::domain::invite_link::LinkStatus;
use crate::domain::seats::SeatsUsed;

/// What takes `org`'s seats at `now`: members, pending invitations whose `expires_at` is
/// after `now`, and active invite links whose `expires_at` is after `now` (expiry is a fact
/// of time, not of a sweep) — except "request access" links, which are never used up, and
/// whose join requests take a seat only when approved (issue 14 §3).
///
/// One statement, so the three counts come from one snapshot: an acceptance (which turns a
/// pending invitation into a membership without the organization's lock) is counted once,
/// never zero times.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn used(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<SeatsUsed, DbError> {
    let id = org.to_string();
    let at = to_db(now);
    let members = memberships::table
        .filter(memberships::organization_id.eq(id.clone()))
        .count()
        .single_value();
    let pending = invitations::table
        .filter(invitations::organization_id.eq(id.clone()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitations::expires_at.gt(at))
        .count()
        .single_value();
    let links = invite_links::table
        .filter(invite_links::organization_id.eq(id))
        .filter(invite_links::status.eq(LinkStatus::Active.as_str()))
        .filter(invite_links::expires_at.gt(at))
        .filter(invite_links::approval_required.eq(false))
        .count()
        .single_value();
    let (members, pending, links): (Option<i64>, Option<i64>, Option<i64>) =
        diesel::select((members, pending, links)).get_result(conn)?;
    Ok(SeatsUsed {
        members: members.unwrap_or(0),
        pending_invitations: pending.unwrap_or(0),
        open_links: links.unwrap_or(0),
    })
}

/// `org`'s staff override of its plan's seat limit (`None`: the plan's default).
///
/// # Errors
/// [`DbError`] on a failed query, or a stored negative limit.
pub fn custom_limit(conn: &mut Conn, org: OrganizationId) -> Result<Option<u32>, DbError> {
    let stored: Option<i32> = organizations::table
        .find(org.to_string())
        .select(organizations::seat_limit)
        .first::<Option<i32>>(conn)
        .optional()?
        .flatten();
    stored.map(to_seats).transpose()
}

/// The staff overrides of the organizations `orgs` that have one (for the staff console's
/// page of organizations).
///
/// # Errors
/// [`DbError`] on a failed query, or a stored negative limit.
pub fn custom_limits(
    conn: &mut Conn,
    orgs: &[OrganizationId],
) -> Result<HashMap<OrganizationId, u32>, DbError> {
    let ids: Vec<String> = orgs.iter().map(ToString::to_string).collect();
    let rows: Vec<(String, Option<i32>)> = organizations::table
        .filter(organizations::id.eq_any(&ids))
        .filter(organizations::seat_limit.is_not_null())
        .select((organizations::id, organizations::seat_limit))
        .load(conn)?;
    rows.into_iter()
        .filter_map(|(id, n)| n.map(|n| (id, n)))
        .map(|(id, n)| Ok((super::parse_stored(&id, "organization id")?, to_seats(n)?)))
        .collect()
}

/// Sets (or, with `None`, clears) `org`'s override of its plan's seat limit.
///
/// # Errors
/// [`DbError`] on a failed query, or a limit beyond the column's range.
pub fn set_custom_limit(
    conn: &mut Conn,
    org: OrganizationId,
    limit: Option<u32>,
) -> Result<(), DbError> {
    let stored = limit
        .map(i32::try_from)
        .transpose()
        .map_err(|_| DbError::Corrupt("seat limit out of range".into()))?;
    diesel::update(organizations::table.find(org.to_string()))
        .set(organizations::seat_limit.eq(stored))
        .execute(conn)?;
    Ok(())
}

fn to_seats(n: i32) -> Result<u32, DbError> {
    u32::try_from(n).map_err(|_| DbError::Corrupt(format!("negative seat limit {n}")))
}
