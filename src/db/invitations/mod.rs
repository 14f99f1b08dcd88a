//! Invitations: creation with their outbox email, the conditional updates that move them
//! between states, and the rows the Team page lists.
//!
//! The domain decides (`domain::invitation`) and the service layer runs the transaction
//! (`service::invitations`); this module loads and stores. Each transition
//! is a single `UPDATE … WHERE status = 'pending' AND expires_at > now` whose row count tells
//! whether this request won. Multi-step flows run inside one immediate transaction, so nothing
//! half-written survives an error.
//!
//! Every transition's audit event (`db::audit`) is written inside the same transaction, so no
//! change happens unrecorded: sent, resent, revoked (by a person, as replaced, or because the
//! inviter may no longer grant it), declined, accepted (with member.joined), expired (by the
//! system) and renewal requested.

mod acceptance;
mod sending;

pub use acceptance::*;
pub use sending::*;

use crate::domain::invitation::{Invitation, InvitationDetails};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditContext};
use super::models::{InvitationRow, NewInvitation};
use super::organizations;
use super::outbox::{self, EmailKind};
use super::schema::{invitations, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{InvitationFacts, LivePending};
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::{EmailAddress, InvitationId, InvitationStatus, OrganizationId, Role, UserId};

impl TryFrom<InvitationRow> for Invitation {
    type Error = DbError;

    fn try_from(row: InvitationRow) -> Result<Self, DbError> {
        Ok(Invitation {
            id: parse_stored(&row.id, "invitation id")?,
            organization_id: parse_stored(&row.organization_id, "organization id")?,
            email: EmailAddress::from_trusted(row.email),
            role: parse_stored(&row.role, "role")?,
            message: row.message,
            invited_by: parse_stored(&row.invited_by, "user id")?,
            nonce: TokenNonce(row.token_nonce),
            facts: InvitationFacts {
                status: parse_stored(&row.status, "invitation status")?,
                expires_at: from_db(row.expires_at),
                last_resent_at: row.last_resent_at.map(from_db),
            },
            status_reason: row.status_reason,
            created_at: from_db(row.created_at),
            decided_at: row.decided_at.map(from_db),
            renewal_requested_at: row.renewal_requested_at.map(from_db),
            department: row.department,
        })
    }
}

/// Appends an invitation event about `email` to `org`'s audit trail.
fn record(
    conn: &mut Conn,
    ctx: &AuditContext,
    org: OrganizationId,
    action: AuditAction,
    email: &EmailAddress,
    details: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    audit::record(
        conn,
        ctx,
        Some(org),
        action,
        Some(email.as_str()),
        Some(details),
        now,
    )
}

/// (id, organization id, email, role) of a pending invitation past its time.
type OverdueRow = (String, String, String, String);

/// Writes Expired onto each of `overdue` (pending invitations past their time) that is still
/// pending, recording an `invitation.expired` event by the system for each one this call
/// changed — so two sweeps racing record each expiry once. Returns how many it changed.
fn expire_rows(
    conn: &mut Conn,
    overdue: Vec<OverdueRow>,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let system = AuditContext::system();
    let mut changed = 0;
    for (id, org, email, role) in overdue {
        let n = diesel::update(
            invitations::table
                .find(&id)
                .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
                .filter(invitations::expires_at.le(to_db(now))),
        )
        .set((
            invitations::status.eq(InvitationStatus::Expired.as_str()),
            invitations::decided_at.eq(invitations::expires_at.nullable()),
        ))
        .execute(conn)?;
        if n == 1 {
            let org: OrganizationId = parse_stored(&org, "organization id")?;
            let role: Role = parse_stored(&role, "role")?;
            let email = EmailAddress::from_trusted(email);
            let details = format!("role {role}");
            record(
                conn,
                &system,
                org,
                AuditAction::InvitationExpired,
                &email,
                &details,
                now,
            )?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The pending invitations past their time at `now` — only `org`'s to `email` when `only`
/// names them.
fn load_overdue(
    conn: &mut Conn,
    only: Option<(OrganizationId, &EmailAddress)>,
    now: DateTime<Utc>,
) -> Result<Vec<OverdueRow>, DbError> {
    let mut query = invitations::table
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitations::expires_at.le(to_db(now)))
        .select((
            invitations::id,
            invitations::organization_id,
            invitations::email,
            invitations::role,
        ))
        .into_boxed();
    if let Some((org, email)) = only {
        query = query
            .filter(invitations::organization_id.eq(org.to_string()))
            .filter(invitations::email.eq(email.as_str().to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Writes Expired onto `org`'s pending invitation for `email` if its time has passed, which
/// frees the one-pending-per-address index for a fresh invitation. Audited as the system's.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn expire_if_overdue(
    conn: &mut Conn,
    org: OrganizationId,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let overdue = load_overdue(conn, Some((org, email)), now)?;
    expire_rows(conn, overdue, now)?;
    Ok(())
}

/// Writes Expired onto every pending invitation past its time (the sweep), each with its
/// `invitation.expired` audit event by the system, in one transaction; returns how many.
///
/// # Errors
/// [`DbError`] on a failed query (nothing is written).
pub fn expire_all_overdue(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    super::write_transaction(conn, |conn| {
        let overdue = load_overdue(conn, None, now)?;
        expire_rows(conn, overdue, now)
    })
}

/// Moves a pending, unexpired invitation to a final state. Returns whether this request won.
fn finish(
    conn: &mut Conn,
    id: InvitationId,
    to: InvitationStatus,
    reason: Option<&str>,
    accepted_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        invitations::table
            .find(id.to_string())
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::expires_at.gt(to_db(now))),
    )
    .set((
        invitations::status.eq(to.as_str()),
        invitations::status_reason.eq(reason),
        invitations::decided_at.eq(Some(to_db(now))),
        invitations::accepted_by.eq(accepted_by.map(|u| u.to_string())),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// How many invitations `org` created since `since` (for the per-organization rate limit).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn created_since(
    conn: &mut Conn,
    org: OrganizationId,
    since: DateTime<Utc>,
) -> Result<i64, DbError> {
    Ok(invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::created_at.gt(to_db(since)))
        .count()
        .get_result(conn)?)
}

/// When the hourly limit's window next has room: an hour after the oldest invitation `org`
/// created since `now` minus an hour (`None` when it created none). For `Retry-After`.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn hourly_window_reopens(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbError> {
    let oldest: Option<chrono::NaiveDateTime> = invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::created_at.gt(to_db(now - chrono::Duration::hours(1))))
        .select(diesel::dsl::min(invitations::created_at))
        .first(conn)?;
    Ok(oldest.map(|t| super::from_db(t) + chrono::Duration::hours(1)))
}

/// The invitation `id` of organization `org`, or `None` — also when it belongs to another
/// organization, so a foreign id is indistinguishable from a missing one (a 404).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_in_org(
    conn: &mut Conn,
    org: OrganizationId,
    id: InvitationId,
) -> Result<Option<Invitation>, DbError> {
    invitations::table
        .find(id.to_string())
        .filter(invitations::organization_id.eq(org.to_string()))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(Invitation::try_from)
        .transpose()
}

/// The invitation whose token hashes to `token_hash`, with its organization and inviter.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_by_token(
    conn: &mut Conn,
    token: &LinkToken,
) -> Result<Option<InvitationDetails>, DbError> {
    let row: Option<InvitationRow> = invitations::table
        .filter(invitations::token_hash.eq(token.lookup_hash()))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| details(conn, Invitation::try_from(row)?))
        .transpose()
}

/// The invitation `id` with its organization and inviter, if it exists.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn find_details(conn: &mut Conn, id: &str) -> Result<Option<InvitationDetails>, DbError> {
    let row: Option<InvitationRow> = invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|row| details(conn, Invitation::try_from(row)?))
        .transpose()
}

fn details(conn: &mut Conn, invitation: Invitation) -> Result<InvitationDetails, DbError> {
    let organization = organizations::find(conn, invitation.organization_id)?
        .ok_or_else(|| DbError::Corrupt("invitation without organization".into()))?;
    let (inviter_name, inviter_email): (String, String) = users::table
        .find(invitation.invited_by.to_string())
        .select((users::name, users::email))
        .first(conn)?;
    Ok(InvitationDetails {
        invitation,
        organization,
        inviter_name,
        inviter_email,
    })
}

/// A row of the Team page's Pending invitations or Invitation history.
#[derive(Debug, Clone)]
pub struct InvitationListing {
    /// The invitation.
    pub invitation: Invitation,
    /// The inviter's name.
    pub inviter_name: String,
    /// The newest email's delivery state.
    pub delivery: Option<outbox::DeliveryState>,
}

/// Locks an invitation's row until the transaction ends (PostgreSQL; a no-op on SQLite,
/// where the write transaction already excludes other writers).
fn lock_invitation(conn: &mut Conn, id: InvitationId) -> Result<(), DbError> {
    if let Conn::Postgresql(pg) = conn {
        invitations::table
            .find(id.to_string())
            .select(invitations::id)
            .for_update()
            .first::<String>(pg)
            .optional()?;
    }
    Ok(())
}

/// Revokes every pending invitation `inviter` sent for `org`, recording `reason` on each and in
/// the audit trail (DESIGN.md, "Invitations follow current policy": a member who is removed or
/// loses `users:invite` leaves no live invitations behind). Returns how many were revoked.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn revoke_all_by_inviter(
    conn: &mut Conn,
    ctx: &super::audit::AuditContext,
    org: OrganizationId,
    inviter: UserId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    let pending: Vec<(String, String)> = invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::invited_by.eq(inviter.to_string()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitations::expires_at.gt(to_db(now)))
        .select((invitations::id, invitations::email))
        .load(conn)?;
    let mut revoked = 0;
    for (id, email) in &pending {
        let changed = diesel::update(
            invitations::table
                .find(id)
                .filter(invitations::status.eq(InvitationStatus::Pending.as_str())),
        )
        .set((
            invitations::status.eq(InvitationStatus::Revoked.as_str()),
            invitations::status_reason.eq(Some(reason)),
            invitations::decided_at.eq(Some(to_db(now))),
        ))
        .execute(conn)?;
        if changed == 0 {
            // Accepted or declined a moment ago: nothing was revoked, nothing to record.
            continue;
        }
        revoked += 1;
        super::audit::record(
            conn,
            ctx,
            Some(org),
            crate::domain::audit::AuditAction::InvitationRevoked,
            Some(email),
            Some(reason),
            now,
        )?;
    }
    Ok(revoked)
}
