//! What acceptance reads and writes: who the inviter is now, the invitation as stored now,
//! and "Request a new invitation"'s once-a-day stamp
//! and email. The rules that decide between them are `service::acceptance`'s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{find_in_org, live_pending};
use crate::db::outbox::{self, EmailKind};
use crate::db::schema::invitations;
use crate::db::{Conn, DbError, to_db};
use crate::domain::invitation::{Invitation, InvitationDetails, Inviter};
use crate::domain::{EmailAddress, InvitationId};

/// Who `inv`'s inviter is in its organization *now*: staff (who may assign any role), a member
/// with their current role, or `None` when they are no longer a member.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn current_inviter(conn: &mut Conn, inv: &Invitation) -> Result<Option<Inviter>, DbError> {
    crate::db::links::inviter_now(conn, inv.organization_id, inv.invited_by)
}

/// `inv` as stored now (the caller's copy may be stale).
///
/// # Errors
/// [`DbError::Corrupt`] if it vanished (invitations are never deleted); [`DbError`] on a
/// failed query.
pub fn current(conn: &mut Conn, inv: &Invitation) -> Result<Invitation, DbError> {
    find_in_org(conn, inv.organization_id, inv.id)?
        .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))
}

/// The pending invitation (expired or not) of `org` for `email`, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn pending_for(
    conn: &mut Conn,
    org: crate::domain::OrganizationId,
    email: &EmailAddress,
) -> Result<Option<Invitation>, DbError> {
    live_pending(conn, org, email)
}

/// Stamps "a new invitation was requested" on invitation `id` at `now` unless it was stamped
/// within the last `RENEWAL_REQUEST_INTERVAL` (DESIGN.md, "Request a new invitation": once a
/// day): one conditional update, so of two racing requests one wins. Whether this request
/// stamped it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn stamp_renewal_request(
    conn: &mut Conn,
    id: InvitationId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let not_since = now - crate::domain::invitation::RENEWAL_REQUEST_INTERVAL;
    let n = diesel::update(
        invitations::table.find(id.to_string()).filter(
            invitations::renewal_requested_at
                .is_null()
                .or(invitations::renewal_requested_at.le(to_db(not_since))),
        ),
    )
    .set(invitations::renewal_requested_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Queues the email that asks `details`' inviter for a new invitation, on behalf of
/// `requested_by` (an audit label).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn queue_renewal_request(
    conn: &mut Conn,
    details: &InvitationDetails,
    requested_by: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let inv = &details.invitation;
    let payload = serde_json::json!({
        "organization": details.organization.name,
        "organization_id": details.organization.id.to_string(),
        "requested_by": requested_by,
        "invitee_email": inv.email.as_str(),
        "role": inv.role.as_str(),
        "inviter_name": details.inviter_name,
        "expired_at": inv.facts.expires_at.to_rfc3339(),
    })
    .to_string();
    let inviter_email = EmailAddress::from_trusted(details.inviter_email.clone());
    outbox::enqueue(
        conn,
        EmailKind::RenewalRequest,
        None,
        &inviter_email,
        &payload,
        now,
    )
}
