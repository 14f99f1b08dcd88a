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
use super::links::{hourly_window, link_lookups, row_lock};
use super::models::{InvitationRow, NewInvitation};
use super::organizations;
use super::outbox::{self, EmailKind};
use super::schema::{invitations, users};
use super::{Conn, DbError, from_db, parse_stored, to_db};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{InvitationFacts, LivePending};
use crate::domain::token::{LinkToken, TokenKey, TokenNonce};
use crate::domain::webhook::EventType;
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
            bounced_at: row.bounced_at.map(from_db),
        })
    }
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
            let (target, action) = (Some(email.as_str()), AuditAction::InvitationExpired);
            let details = Some(format!("role {role}"));
            audit::record(
                conn,
                &system,
                Some(org),
                action,
                target,
                details.as_deref(),
                now,
            )?;
            let id: InvitationId = parse_stored(&id, "invitation id")?;
            super::webhooks::emit_invitation(conn, id, EventType::InvitationExpired, now)?;
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

/// The state change itself, without its webhook event ([`end`] adds it).
mod ending {
    use chrono::{DateTime, Utc};
    use diesel::prelude::*;

    use super::super::links::{invitation_ending, pending_unexpired};
    use super::super::schema::invitations;
    use super::super::{Conn, DbError, to_db};
    use crate::domain::{InvitationId, InvitationStatus};

    invitation_ending!(invitations);
}

/// Moves a pending, unexpired invitation to `ending`'s state and, when this request won,
/// writes its webhook event (`invitation.accepted`, `.declined` or `.revoked`) in the same
/// transaction. Returns whether this request won.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn end(
    conn: &mut Conn,
    id: InvitationId,
    ending: super::links::Ending<'_>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let event = match ending.status() {
        InvitationStatus::Accepted => EventType::InvitationAccepted,
        InvitationStatus::Declined => EventType::InvitationDeclined,
        _ => EventType::InvitationRevoked,
    };
    let won = ending::end(conn, id, ending, now)?;
    if won {
        super::webhooks::emit_invitation(conn, id, event, now)?;
    }
    Ok(won)
}
row_lock!(invitations, InvitationId);
hourly_window!(invitations, reopens_only);

/// The start of the minute `t` falls in.
fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike as _;
    t.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .unwrap_or(t)
}

/// How many invitations `org` created in the hour before `now`, for the hourly limit
/// (`invitations_per_hour`), counted by the minute: the minute an hour ago counts whole, so
/// the window is an hour and up to a minute. Sums at most 61 rows of `invitation_counts`,
/// which a trigger keeps in the same transaction as every invitation created (migration
/// `000130_invitation_counts`; issue 16), however many invitations the hour holds.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn created_in_last_hour(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    use super::schema::invitation_counts as counts;
    let minutes: Vec<i64> = counts::table
        .filter(counts::organization_id.eq(org.to_string()))
        .filter(counts::minute.ge(to_db(minute_of(now - Duration::hours(1)))))
        .select(counts::created)
        .load(conn)?;
    Ok(minutes.into_iter().sum())
}

/// Deletes the per-minute invitation counts no hourly limit reads any more (over an hour
/// before `now`); returns how many.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn prune_counts(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    use super::schema::invitation_counts as counts;
    Ok(diesel::delete(
        counts::table.filter(counts::minute.lt(to_db(minute_of(now - Duration::hours(1))))),
    )
    .execute(conn)?)
}
link_lookups!(
    invitations,
    InvitationRow => Invitation,
    InvitationDetails,
    InvitationId,
    &str
);

fn details(conn: &mut Conn, invitation: Invitation) -> Result<InvitationDetails, DbError> {
    let organization = organizations::find(conn, invitation.organization_id)?
        .ok_or_else(|| DbError::Corrupt("invitation without organization".into()))?;
    let (inviter_name, inviter_email): (String, String) =
        crate::db::on_backend!(conn, |c| users::table
            .find(invitation.invited_by.to_string())
            .select((users::name, users::email))
            .first(c))?;
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
        let id: InvitationId = parse_stored(id, "invitation id")?;
        super::webhooks::emit_invitation(conn, id, EventType::InvitationRevoked, now)?;
    }
    Ok(revoked)
}

/// Queues the reminder emails due at `now` (`domain::invitation::reminders`): for each pending,
/// unexpired invitation that Joinery emailed, of an organization with reminders on, whose next
/// reminder is due, one
/// `invitation_reminder` outbox row, and `reminders_sent` raised with a conditional update (so
/// two sweeps at once queue it once). One transaction; returns how many were queued.
///
/// # Errors
/// [`DbError`] on a failed query (nothing is written).
pub fn queue_due_reminders(conn: &mut Conn, now: DateTime<Utc>) -> Result<usize, DbError> {
    use super::schema::{organizations, outbox_emails};
    use crate::domain::invitation::reminders::{REMINDER_FRACTIONS, reminders_due};
    let most = i32::try_from(REMINDER_FRACTIONS.len()).unwrap_or(i32::MAX);
    super::write_transaction(conn, |conn| {
        let candidates: Vec<(
            String,
            String,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            i32,
        )> = invitations::table
            .inner_join(organizations::table)
            .filter(organizations::invitation_reminders.eq(true))
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::expires_at.gt(to_db(now)))
            .filter(invitations::reminders_sent.lt(most))
            // Only invitations Joinery emailed: one a product delivers itself (the API's
            // `"send_email": false`) gets no email from Joinery, reminders included.
            .filter(diesel::dsl::exists(
                outbox_emails::table
                    .filter(outbox_emails::invitation_id.eq(invitations::id.nullable()))
                    .filter(outbox_emails::kind.eq(EmailKind::Invitation.as_str())),
            ))
            .select((
                invitations::id,
                invitations::email,
                invitations::created_at,
                invitations::expires_at,
                invitations::reminders_sent,
            ))
            .load(conn)?;
        let mut queued = 0;
        for (id, email, created_at, expires_at, sent) in candidates {
            let Some(total) = reminders_due(from_db(created_at), from_db(expires_at), sent, now)
            else {
                continue;
            };
            let won = diesel::update(
                invitations::table
                    .find(id.clone())
                    .filter(invitations::reminders_sent.eq(sent)),
            )
            .set(invitations::reminders_sent.eq(total))
            .execute(conn)?;
            if won == 1 {
                let invitation: InvitationId = parse_stored(&id, "invitation id")?;
                let to = EmailAddress::from_trusted(email);
                outbox::enqueue(
                    conn,
                    EmailKind::InvitationReminder,
                    Some(invitation),
                    &to,
                    "{}",
                    now,
                )?;
                queued += 1;
            }
        }
        Ok(queued)
    })
}

/// Records that the email of invitation `id` bounced at `now` (a permanent SMTP failure): its
/// first bounce is kept. Returns whether this call recorded it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_bounced(
    conn: &mut Conn,
    id: InvitationId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = diesel::update(
        invitations::table
            .find(id.to_string())
            .filter(invitations::bounced_at.is_null()),
    )
    .set(invitations::bounced_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(n == 1)
}

/// The address of invitation `id`'s inviter, if the invitation and the account exist.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn inviter_email(conn: &mut Conn, id: InvitationId) -> Result<Option<EmailAddress>, DbError> {
    Ok(invitations::table
        .inner_join(users::table.on(users::id.eq(invitations::invited_by)))
        .filter(invitations::id.eq(id.to_string()))
        .select(users::email)
        .first::<String>(conn)
        .optional()?
        .map(EmailAddress::from_trusted))
}
