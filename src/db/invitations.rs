//! Invitations: creation with their outbox email, the conditional updates that move them
//! between states, and the listings of the Team page.
//!
//! The domain decides (`domain::invitation`); this module stores the decision. Each transition
//! is a single `UPDATE … WHERE status = 'pending' AND expires_at > now` whose row count tells
//! whether this request won. Multi-step flows run inside one immediate transaction, so nothing
//! half-written survives an error.
//!
//! Every transition also appends its audit event (`db::audit::record`) inside the same
//! transaction, so no change happens unrecorded: sent, resent, revoked (by a person, as
//! replaced, or because the inviter may no longer grant it), declined, accepted (with
//! member.joined), expired (by the system) and renewal requested.

use crate::domain::invitation::{Invitation, InvitationDetails};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use super::audit::{self, AuditContext};
use super::models::{InvitationRow, NewInvitation};
use super::organizations;
use super::outbox::{self, EmailKind};
use super::schema::{invitations, users};
use super::{Conn, DbError, TxError, from_db, parse_stored, to_db};
use crate::domain::User;
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{
    AcceptError, InvitationFacts, InvitePlan, Inviter, InviterLapsed, LivePending, NotPending,
    OverHourlyLimit, RENEWAL_REQUEST_INTERVAL, RenewalRefused, ResendError, ResendPlan, SkipReason,
    Unusable, check_accept, check_hourly_limit, check_inviter_may_still_assign,
    check_renewal_request, plan_invitation,
};
use crate::domain::text::{Department, PersonalMessage};
use crate::domain::token::{InvitationToken, TokenKey, TokenNonce};
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

/// What one address of an invite submission came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressOutcome {
    /// A new invitation was created and its email queued.
    Sent,
    /// A live invitation with the same role got its original link queued again.
    Resent,
    /// Nothing was sent, for this reason.
    Skipped(SkipReason),
}

/// One address of an invite submission with what it is offered. The invite dialog gives every
/// address the same role and message; a CSV import gives each row its own, and a department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteEntry {
    /// The address, normalized. Entries of one submission are distinct.
    pub email: EmailAddress,
    /// The role offered (already authorized by `domain::invitation::authorize_invitation`).
    pub role: Role,
    /// The optional personal message.
    pub message: Option<PersonalMessage>,
    /// The optional department, carried onto the membership on acceptance.
    pub department: Option<Department>,
}

/// What every entry of one invite submission shares.
#[derive(Debug, Clone, Copy)]
pub struct InviteBatch {
    /// The organization.
    pub organization: OrganizationId,
    /// Who sends it.
    pub inviter: UserId,
    /// How long new invitations stay usable.
    pub ttl: Duration,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// How many addresses one look-up query names (well under SQLite's and PostgreSQL's limits on
/// bound parameters).
const LOOKUP_CHUNK: usize = 500;

/// What the database knows about the addresses of a submission: which belong to members, and
/// the pending invitation (live or overdue) of each, keyed by address.
struct Standing {
    members: std::collections::HashSet<String>,
    pending: std::collections::HashMap<String, Invitation>,
}

/// Reads the [`Standing`] of `emails` in `org` with two queries per 500 addresses.
fn standing(conn: &mut Conn, org: OrganizationId, emails: &[&str]) -> Result<Standing, DbError> {
    let org_id = org.to_string();
    let mut members = std::collections::HashSet::new();
    let mut pending = std::collections::HashMap::new();
    for chunk in emails.chunks(LOOKUP_CHUNK) {
        let found: Vec<String> = super::schema::memberships::table
            .inner_join(users::table.on(users::id.eq(super::schema::memberships::user_id)))
            .filter(super::schema::memberships::organization_id.eq(&org_id))
            .filter(users::email.eq_any(chunk))
            .select(users::email)
            .load(conn)?;
        members.extend(found);
        let rows: Vec<InvitationRow> = invitations::table
            .filter(invitations::organization_id.eq(&org_id))
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::email.eq_any(chunk))
            .select(InvitationRow::as_select())
            .load(conn)?;
        for row in rows {
            let inv = Invitation::try_from(row)?;
            pending.insert(inv.email.to_string(), inv);
        }
    }
    Ok(Standing { members, pending })
}

impl Standing {
    /// The plan for one address (DESIGN.md, "Inviting an address that already has a live
    /// pending invitation"), and its live pending invitation if it has one.
    fn plan(
        &self,
        email: &EmailAddress,
        role: Role,
        inviter: Inviter,
        now: DateTime<Utc>,
    ) -> InvitePlan {
        let live = self.pending.get(email.as_str()).map(|inv| LivePending {
            id: inv.id,
            role: inv.role,
            facts: inv.facts,
        });
        plan_invitation(
            self.members.contains(email.as_str()),
            live,
            role,
            inviter,
            now,
        )
    }
}

/// What inviting each of `entries` into `org` by `inviter` would do at `now`, in order,
/// without writing anything: the CSV import's preview. The same rules as [`invite_many`],
/// which checks again when the submission is confirmed.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn preview_many(
    conn: &mut Conn,
    org: OrganizationId,
    entries: &[(EmailAddress, Role)],
    inviter: Inviter,
    now: DateTime<Utc>,
) -> Result<Vec<InvitePlan>, DbError> {
    let emails: Vec<&str> = entries.iter().map(|(e, _)| e.as_str()).collect();
    let standing = standing(conn, org, &emails)?;
    Ok(entries
        .iter()
        .map(|(email, role)| standing.plan(email, *role, inviter, now))
        .collect())
}

fn live_pending(
    conn: &mut Conn,
    org: OrganizationId,
    email: &EmailAddress,
) -> Result<Option<Invitation>, DbError> {
    invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::email.eq(email.as_str()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .map(Invitation::try_from)
        .transpose()
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

/// Writes Expired onto `org`'s pending invitation for `email` if its time has passed, which
/// frees the one-pending-per-address index for a fresh invitation. Audited as the system's.
fn expire_if_overdue(
    conn: &mut Conn,
    org: OrganizationId,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let overdue: Vec<OverdueRow> = invitations::table
        .filter(invitations::organization_id.eq(org.to_string()))
        .filter(invitations::email.eq(email.as_str()))
        .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
        .filter(invitations::expires_at.le(to_db(now)))
        .select((
            invitations::id,
            invitations::organization_id,
            invitations::email,
            invitations::role,
        ))
        .load(conn)?;
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
        let overdue: Vec<OverdueRow> = invitations::table
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::expires_at.le(to_db(now)))
            .select((
                invitations::id,
                invitations::organization_id,
                invitations::email,
                invitations::role,
            ))
            .load(conn)?;
        expire_rows(conn, overdue, now)
    })
}

/// An invitation about to be created: the address and what it is offered.
struct Creation<'a> {
    email: &'a EmailAddress,
    role: Role,
    message: Option<&'a str>,
    department: Option<&'a str>,
}

/// How many rows one multi-row INSERT holds (an invitation row binds 13 parameters).
const INSERT_CHUNK: usize = 250;

/// Inserts a Pending invitation for each of `new` and queues its email, a few multi-row
/// INSERTs in all; returns their ids, in order.
fn create_all(
    conn: &mut Conn,
    batch: &InviteBatch,
    new: &[Creation<'_>],
    token_key: &TokenKey,
) -> Result<Vec<InvitationId>, DbError> {
    let org = batch.organization.to_string();
    let inviter = batch.inviter.to_string();
    let prepared: Vec<(InvitationId, TokenNonce, String)> = new
        .iter()
        .map(|_| {
            let nonce = TokenNonce::generate();
            let hash = InvitationToken::derive(token_key, &nonce).lookup_hash();
            (InvitationId::new(), nonce, hash)
        })
        .collect();
    let rows: Vec<NewInvitation<'_>> = new
        .iter()
        .zip(&prepared)
        .map(|(c, (id, nonce, hash))| NewInvitation {
            id: id.to_string(),
            organization_id: &org,
            email: c.email.as_str(),
            role: c.role.as_str(),
            message: c.message,
            invited_by: &inviter,
            token_nonce: &nonce.0,
            token_hash: hash,
            status: InvitationStatus::Pending.as_str(),
            created_at: to_db(batch.now),
            expires_at: to_db(batch.now + batch.ttl),
            department: c.department,
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        super::on_backend!(&mut *conn, |c| diesel::insert_into(invitations::table)
            .values(chunk)
            .execute(c))?;
    }
    let ids: Vec<InvitationId> = prepared.into_iter().map(|(id, _, _)| id).collect();
    let emails: Vec<(InvitationId, &EmailAddress)> = ids
        .iter()
        .copied()
        .zip(new.iter().map(|c| c.email))
        .collect();
    outbox::enqueue_invitations(conn, &emails, batch.now)?;
    Ok(ids)
}

/// Records a resend if the invitation is still pending, unexpired and outside the 60-second
/// window, and queues the original link again. Returns whether this request won.
fn mark_resent(conn: &mut Conn, inv: &Invitation, now: DateTime<Utc>) -> Result<bool, DbError> {
    let window_start = to_db(now - crate::domain::invitation::RESEND_INTERVAL);
    let n = diesel::update(
        invitations::table
            .find(inv.id.to_string())
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::expires_at.gt(to_db(now)))
            .filter(
                invitations::last_resent_at
                    .is_null()
                    .or(invitations::last_resent_at.le(window_start)),
            ),
    )
    .set((
        invitations::last_resent_at.eq(Some(to_db(now))),
        invitations::resend_count.eq(invitations::resend_count + 1),
    ))
    .execute(conn)?;
    if n == 1 {
        outbox::enqueue(
            conn,
            EmailKind::Invitation,
            Some(inv.id),
            &inv.email,
            "{}",
            now,
        )?;
    }
    Ok(n == 1)
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

/// Invites every entry in one transaction, following DESIGN.md's re-invite rules per address
/// (a member is skipped; a live invitation with the same role gets its original link again,
/// at most once a minute; one with another role is replaced; one whose role is above what
/// `inviter` may give is left alone and skipped), and records each outcome in the audit
/// trail as `ctx`'s. Returns one outcome per entry, in order.
///
/// The hourly limit ([`check_hourly_limit`]) is checked in the same transaction, after locking
/// the organization, counting only the invitations this submission creates; so two submissions
/// at once cannot together pass it, and a refused one writes nothing.
///
/// The work is batched — two look-up queries per 500 addresses and multi-row INSERTs for the
/// new invitations, their emails and their audit events — so 1,000 addresses cost a few dozen
/// statements, not thousands.
///
/// # Errors
/// `Ok(Err(OverHourlyLimit))` when the submission would exceed `per_hour` new invitations an
/// hour (the `invitations_per_hour` setting); [`DbError`] on a failed query. Either way the
/// whole submission is rolled back.
pub fn invite_many(
    conn: &mut Conn,
    ctx: &AuditContext,
    batch: &InviteBatch,
    inviter: Inviter,
    entries: &[InviteEntry],
    per_hour: i64,
    token_key: &TokenKey,
) -> Result<Result<Vec<AddressOutcome>, OverHourlyLimit>, DbError> {
    let org = batch.organization;
    let now = batch.now;
    let result = super::write_transaction(conn, |conn| -> Result<_, TxError<OverHourlyLimit>> {
        organizations::lock(conn, org)?;
        let emails: Vec<&str> = entries.iter().map(|e| e.email.as_str()).collect();
        let mut standing = standing(conn, org, &emails)?;
        let creating = entries
            .iter()
            .filter(|e| standing.plan(&e.email, e.role, inviter, now).creates())
            .count();
        if creating > 0 {
            let sent_last_hour = created_since(conn, org, now - Duration::hours(1))?;
            check_hourly_limit(sent_last_hour, creating as i64, per_hour)
                .map_err(TxError::Refused)?;
        }
        // Pending invitations past their time are written Expired first, which frees the
        // one-pending-per-address index for the new ones.
        let overdue: Vec<OverdueRow> = standing
            .pending
            .values()
            .filter(|inv| inv.facts.expires_at <= now)
            .map(|inv| {
                (
                    inv.id.to_string(),
                    org.to_string(),
                    inv.email.to_string(),
                    inv.role.as_str().to_owned(),
                )
            })
            .collect();
        if !overdue.is_empty() {
            for (_, _, email, _) in &overdue {
                standing.pending.remove(email);
            }
            expire_rows(conn, overdue, now)?;
        }

        let mut outcomes = Vec::with_capacity(entries.len());
        let mut creations = Vec::new();
        let mut events: Vec<(AuditAction, &str, String)> = Vec::new();
        for entry in entries {
            let email = &entry.email;
            let role = entry.role;
            let live = standing.pending.get(email.as_str());
            let outcome = match standing.plan(email, role, inviter, now) {
                InvitePlan::New => AddressOutcome::Sent,
                InvitePlan::ResendExisting(_) => match live {
                    Some(inv) if mark_resent(conn, inv, now)? => {
                        let details = format!("role {role}; the same link again (invited again)");
                        events.push((AuditAction::InvitationResent, email.as_str(), details));
                        AddressOutcome::Resent
                    }
                    // Not pending any more: accepted meanwhile (PostgreSQL; acceptance does not
                    // take the organization lock), or resent by a racing request.
                    _ if organizations::is_member_by_email(conn, org, email)? => {
                        AddressOutcome::Skipped(SkipReason::AlreadyMember)
                    }
                    _ => AddressOutcome::Skipped(SkipReason::ResentRecently),
                },
                InvitePlan::ReplaceExisting(old) => {
                    if finish(
                        conn,
                        old,
                        InvitationStatus::Revoked,
                        Some("replaced"),
                        None,
                        now,
                    )? {
                        let was = live.map_or("another role", |inv| inv.role.label());
                        let details = format!("replaced: role {was} → {role}");
                        events.push((AuditAction::InvitationRevoked, email.as_str(), details));
                        AddressOutcome::Sent
                    } else if organizations::is_member_by_email(conn, org, email)? {
                        // Accepted meanwhile, as above.
                        AddressOutcome::Skipped(SkipReason::AlreadyMember)
                    } else {
                        // Revoked or declined meanwhile: the new invitation still goes out.
                        AddressOutcome::Sent
                    }
                }
                InvitePlan::Skip(reason) => AddressOutcome::Skipped(reason),
            };
            if outcome == AddressOutcome::Sent {
                creations.push(Creation {
                    email,
                    role,
                    message: entry.message.as_ref().map(PersonalMessage::as_str),
                    department: entry.department.as_ref().map(Department::as_str),
                });
                events.push((
                    AuditAction::InvitationSent,
                    email.as_str(),
                    format!("role {role}"),
                ));
            }
            outcomes.push(outcome);
        }
        create_all(conn, batch, &creations, token_key)?;
        audit::record_many(conn, ctx, Some(org), &events, now)?;
        Ok(outcomes)
    });
    TxError::settle(result)
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
    token: &InvitationToken,
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

/// What an acceptance came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A membership was created with this role.
    Joined(Role),
    /// The person was already a member and keeps this role; the invitation is used up.
    AlreadyMember(Role),
}

/// Who `inv`'s inviter is in its organization *now*, as the policy sees them: staff (who may
/// assign any role), a member with their current role, or `None` when they are no longer a
/// member.
fn current_inviter(conn: &mut Conn, inv: &Invitation) -> Result<Option<Inviter>, DbError> {
    let is_staff: Option<bool> = users::table
        .find(inv.invited_by.to_string())
        .select(users::is_staff)
        .first(conn)
        .optional()?;
    match is_staff {
        None => Ok(None),
        Some(true) => Ok(Some(Inviter::Staff)),
        Some(false) => Ok(
            organizations::membership(conn, inv.organization_id, inv.invited_by)?
                .map(|m| Inviter::Member(m.role)),
        ),
    }
}

/// Whether `inv`'s inviter may still grant it (DESIGN.md, "Invitations follow current
/// policy"). Reads only: the acceptance page decides with it, and only a POST writes Revoked.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`InviterLapsed`] saying what the inviter lost.
pub fn inviter_policy(
    conn: &mut Conn,
    inv: &Invitation,
) -> Result<Result<(), InviterLapsed>, DbError> {
    Ok(check_inviter_may_still_assign(
        current_inviter(conn, inv)?,
        inv.role,
    ))
}

/// The state a conditional update lost to, as a reason the link is unusable.
fn unusable_after_race(
    conn: &mut Conn,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> Result<Unusable, DbError> {
    let after = find_in_org(conn, inv.organization_id, inv.id)?
        .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
    Ok(after
        .facts
        .check_usable(now)
        .err()
        .unwrap_or(Unusable::AlreadyUsed))
}

/// If `current`'s inviter may no longer grant it, marks it Revoked with the reason (e.g.
/// "inviter may no longer assign Admin") and records that, by the system on behalf of the
/// request in `ctx`. Returns `Some(why the link is unusable)` when it refused.
fn revoke_if_inviter_lapsed(
    conn: &mut Conn,
    ctx: &AuditContext,
    current: &Invitation,
    now: DateTime<Utc>,
) -> Result<Option<Unusable>, DbError> {
    let Err(lapsed) = inviter_policy(conn, current)? else {
        return Ok(None);
    };
    let reason = lapsed.to_string();
    if !finish(
        conn,
        current.id,
        InvitationStatus::Revoked,
        Some(&reason),
        None,
        now,
    )? {
        return Ok(Some(unusable_after_race(conn, current, now)?));
    }
    let system = AuditContext {
        actor: audit::Actor::system(),
        meta: ctx.meta.clone(),
    };
    let details = format!("{reason} (checked when the invitee tried to use the link)");
    record(
        conn,
        &system,
        current.organization_id,
        AuditAction::InvitationRevoked,
        &current.email,
        &details,
        now,
    )?;
    Ok(Some(Unusable::Revoked))
}

/// Accepts invitation `details` for `user` at `now` in one transaction: checks the domain rules
/// (the link is usable, the inviter may still grant the role, the emails match), marks it
/// Accepted with a conditional update (so of two racing acceptances exactly one wins), creates
/// the membership, queues "joined" emails to Owners who want them, and records
/// `invitation.accepted` and `member.joined` as `ctx`'s.
///
/// An inviter who may no longer grant the invitation makes it Revoked here, and that is kept
/// (committed) while the acceptance is refused.
///
/// # Errors
/// Outer [`DbError`] on a failed query (rolled back); inner [`AcceptError`] when the rules
/// refuse — a wrong account uses nothing up.
pub fn accept(
    conn: &mut Conn,
    ctx: &AuditContext,
    details: &InvitationDetails,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Result<Accepted, AcceptError>, DbError> {
    super::write_transaction(conn, |conn| {
        accept_in_transaction(conn, ctx, details, user, now)
    })
}

/// The body of [`accept`], for callers already inside a write transaction.
///
/// # Errors
/// As [`accept`]. When the inner result is `Err(Unusable(Revoked))` because the inviter lapsed,
/// the revocation has been written: commit it.
pub fn accept_in_transaction(
    conn: &mut Conn,
    ctx: &AuditContext,
    details: &InvitationDetails,
    user: &User,
    now: DateTime<Utc>,
) -> Result<Result<Accepted, AcceptError>, DbError> {
    let inv = &details.invitation;
    // Re-read inside the transaction: the caller's copy may be stale.
    let current = match find_in_org(conn, inv.organization_id, inv.id)? {
        Some(current) => current,
        None => return Err(DbError::Corrupt("invitation vanished".into())),
    };
    if let Err(why) = current.facts.check_usable(now) {
        return Ok(Err(AcceptError::Unusable(why)));
    }
    if let Some(why) = revoke_if_inviter_lapsed(conn, ctx, &current, now)? {
        return Ok(Err(AcceptError::Unusable(why)));
    }
    if let Err(e) = check_accept(&current.facts, &current.email, &user.email, now) {
        return Ok(Err(e));
    }
    if !finish(
        conn,
        inv.id,
        InvitationStatus::Accepted,
        None,
        Some(user.id),
        now,
    )? {
        // Lost a race: report the state the winner left.
        return Ok(Err(AcceptError::Unusable(unusable_after_race(
            conn, &current, now,
        )?)));
    }
    let org = inv.organization_id;
    if let Some(existing) = organizations::membership(conn, org, user.id)? {
        let details = format!(
            "role {}; already a member as {}, role unchanged",
            current.role, existing.role
        );
        record(
            conn,
            ctx,
            org,
            AuditAction::InvitationAccepted,
            &current.email,
            &details,
            now,
        )?;
        return Ok(Ok(Accepted::AlreadyMember(existing.role)));
    }
    organizations::add_member(
        conn,
        org,
        user.id,
        current.role,
        Some(current.invited_by),
        current.department.as_deref(),
        now,
    )?;
    let role_details = format!("role {}", current.role);
    record(
        conn,
        ctx,
        org,
        AuditAction::InvitationAccepted,
        &current.email,
        &role_details,
        now,
    )?;
    let joined_details = format!("role {}; invited by {}", current.role, details.inviter_name);
    record(
        conn,
        ctx,
        org,
        AuditAction::MemberJoined,
        &user.email,
        &joined_details,
        now,
    )?;
    outbox::enqueue_member_joined(
        conn,
        &outbox::JoinedMember {
            organization: &details.organization,
            name: &user.name,
            email: &user.email,
            role: current.role,
            invited_by: &details.inviter_name,
        },
        now,
    )?;
    Ok(Ok(Accepted::Joined(current.role)))
}

/// Why an account cannot be registered through an invitation right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationBlocked {
    /// The link cannot be used: expired, in a final state, or revoked just now because the
    /// inviter may no longer grant it.
    Unusable(Unusable),
    /// An account has the invited address: its owner logs in to accept instead.
    AccountExists,
}

/// The checks of [`register_and_accept`] that need no password hash, made before one is
/// computed (DESIGN.md, "Security rules": a route that hashes a password checks its cheap
/// preconditions first, so posts at an old link cost no hashing). Reads `details` as loaded;
/// an inviter who may no longer grant the invitation makes it Revoked here (recorded, as
/// acceptance does). [`register_and_accept`] checks all of it again in its transaction.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn registration_blocked(
    conn: &mut Conn,
    meta: &audit::RequestMeta,
    details: &InvitationDetails,
    now: DateTime<Utc>,
) -> Result<Option<RegistrationBlocked>, DbError> {
    let inv = &details.invitation;
    if let Err(why) = inv.facts.check_usable(now) {
        return Ok(Some(RegistrationBlocked::Unusable(why)));
    }
    if inviter_policy(conn, inv)?.is_err() {
        let signed_out = AuditContext {
            actor: invitee_actor(None, &inv.email),
            meta: meta.clone(),
        };
        let revoked = super::write_transaction(conn, |conn| {
            revoke_if_inviter_lapsed(conn, &signed_out, inv, now)
        })?;
        if let Some(why) = revoked {
            return Ok(Some(RegistrationBlocked::Unusable(why)));
        }
    }
    if super::users::email_exists(conn, &inv.email)? {
        return Ok(Some(RegistrationBlocked::AccountExists));
    }
    Ok(None)
}

/// Creates an account for the invited email and accepts in the same transaction (acceptance
/// branch 1); the audit trail records the new account as the actor, from the request in
/// `meta`. Returns `Ok(Ok(None))` if an account with the email appeared meanwhile.
///
/// # Errors
/// As [`accept`]; on a refusal the new account is rolled back with everything else (a
/// revocation because the inviter lapsed is checked first, and kept).
pub fn register_and_accept(
    conn: &mut Conn,
    meta: &audit::RequestMeta,
    details: &InvitationDetails,
    name: &crate::domain::text::PersonName,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<Result<Option<(User, Accepted)>, AcceptError>, DbError> {
    let result = super::write_transaction(conn, |conn| -> Result<_, TxError<AcceptError>> {
        let inv = &details.invitation;
        // Serialize registrations through this invitation: on PostgreSQL two concurrent
        // submissions would otherwise both find no account and race on the unique email
        // index. The second waits here, then reads the invitation as used. (SQLite's
        // BEGIN IMMEDIATE already admits one writer.)
        lock_invitation(conn, inv.id)?;
        let current = find_in_org(conn, inv.organization_id, inv.id)?
            .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
        if let Err(why) = current.facts.check_usable(now) {
            return Ok(Err(AcceptError::Unusable(why)));
        }
        let signed_out = AuditContext {
            actor: invitee_actor(None, &inv.email),
            meta: meta.clone(),
        };
        // Before the account exists, so that the revocation commits and no account is made.
        if let Some(why) = revoke_if_inviter_lapsed(conn, &signed_out, &current, now)? {
            return Ok(Err(AcceptError::Unusable(why)));
        }
        if super::users::email_exists(conn, &inv.email)? {
            return Ok(Ok(None));
        }
        let id = super::users::insert(conn, &inv.email, name, password_hash, false, now)?;
        let user = super::users::find(conn, id)?
            .ok_or_else(|| DbError::Corrupt("new user vanished".into()))?;
        let ctx = AuditContext {
            actor: invitee_actor(Some(&user), &inv.email),
            meta: meta.clone(),
        };
        let accepted =
            accept_in_transaction(conn, &ctx, details, &user, now)?.map_err(TxError::Refused)?;
        Ok(Ok(Some((user, accepted))))
    });
    Ok(TxError::settle(result)?.and_then(|inner| inner))
}

/// The audit trail's name for someone using an invitation link: their account when signed in
/// ("Name <email>"), else the invited address, marked as not signed in — whoever holds the
/// link, unproven.
pub fn invitee_actor(user: Option<&User>, invited: &EmailAddress) -> audit::Actor {
    match user {
        Some(u) => audit::Actor {
            user_id: Some(u.id),
            label: format!("{} <{}>", u.name, u.email),
            is_staff: false,
        },
        None => audit::Actor {
            user_id: None,
            label: format!("{invited} (not signed in)"),
            is_staff: false,
        },
    }
}

/// Marks a pending invitation Declined (from the acceptance page) and records it as `ctx`'s,
/// in one transaction. An inviter who may no longer grant it makes it Revoked instead.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`Unusable`] when the link could not be used
/// (already final, expired, lost a race, or revoked now because the inviter lapsed).
pub fn decline(
    conn: &mut Conn,
    ctx: &AuditContext,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> Result<Result<(), Unusable>, DbError> {
    super::write_transaction(conn, |conn| {
        let current = find_in_org(conn, inv.organization_id, inv.id)?
            .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
        if let Err(why) = current.facts.check_usable(now) {
            return Ok(Err(why));
        }
        if let Some(why) = revoke_if_inviter_lapsed(conn, ctx, &current, now)? {
            return Ok(Err(why));
        }
        if !finish(conn, inv.id, InvitationStatus::Declined, None, None, now)? {
            return Ok(Err(unusable_after_race(conn, &current, now)?));
        }
        let details = format!("role {}", current.role);
        record(
            conn,
            ctx,
            current.organization_id,
            AuditAction::InvitationDeclined,
            &current.email,
            &details,
            now,
        )?;
        Ok(Ok(()))
    })
}

/// Revokes a pending invitation of `org` and records it (with `reason`) as `ctx`'s.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`NotPending`] if it had already reached a final
/// state (or expired).
pub fn revoke(
    conn: &mut Conn,
    ctx: &AuditContext,
    inv: &Invitation,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Result<(), NotPending>, DbError> {
    if let Err(e) = inv.facts.check_revoke(now) {
        return Ok(Err(e));
    }
    super::write_transaction(conn, |conn| {
        if finish(
            conn,
            inv.id,
            InvitationStatus::Revoked,
            Some(reason),
            None,
            now,
        )? {
            let details = format!("role {}; {reason}", inv.role);
            record(
                conn,
                ctx,
                inv.organization_id,
                AuditAction::InvitationRevoked,
                &inv.email,
                &details,
                now,
            )?;
            Ok(Ok(()))
        } else {
            let after = find_in_org(conn, inv.organization_id, inv.id)?
                .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
            Ok(Err(NotPending(after.facts.effective_status(now))))
        }
    })
}

/// Resends `inv` at `now` (DESIGN.md, "Resend"): the original link again when pending, or a
/// new invitation with a fresh window when expired, recorded as `ctx`'s. `resender` becomes
/// the new invitation's inviter. A new invitation counts against the organization's hourly
/// limit of `per_hour` ([`check_hourly_limit`]); the same link again does not.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`ResendError`] when refused.
#[allow(clippy::too_many_arguments)]
pub fn resend(
    conn: &mut Conn,
    ctx: &AuditContext,
    inv: &Invitation,
    resender: UserId,
    ttl: Duration,
    per_hour: i64,
    now: DateTime<Utc>,
    token_key: &TokenKey,
) -> Result<Result<ResendPlan, ResendError>, DbError> {
    super::write_transaction(conn, |conn| {
        let plan = match inv.facts.check_resend(now) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        match plan {
            ResendPlan::SameLink => {
                if !mark_resent(conn, inv, now)? {
                    let after = find_in_org(conn, inv.organization_id, inv.id)?
                        .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
                    return Ok(after.facts.check_resend(now).and(Err(ResendError::TooSoon {
                        available_at: now + crate::domain::invitation::RESEND_INTERVAL,
                    })));
                }
                let details = format!("role {}; the same link again", inv.role);
                record(
                    conn,
                    ctx,
                    inv.organization_id,
                    AuditAction::InvitationResent,
                    &inv.email,
                    &details,
                    now,
                )?;
            }
            ResendPlan::NewInvitation => {
                // First, as in `invite_many`: the same lock order, and the checks below see
                // what a concurrent submission for this address committed.
                organizations::lock(conn, inv.organization_id)?;
                expire_if_overdue(conn, inv.organization_id, &inv.email, now)?;
                if organizations::is_member_by_email(conn, inv.organization_id, &inv.email)? {
                    return Ok(Err(ResendError::Superseded));
                }
                if live_pending(conn, inv.organization_id, &inv.email)?.is_some() {
                    return Ok(Err(ResendError::Superseded));
                }
                let sent_last_hour =
                    created_since(conn, inv.organization_id, now - Duration::hours(1))?;
                if let Err(over) = check_hourly_limit(sent_last_hour, 1, per_hour) {
                    return Ok(Err(ResendError::OverHourlyLimit(over)));
                }
                let batch = InviteBatch {
                    organization: inv.organization_id,
                    inviter: resender,
                    ttl,
                    now,
                };
                let creation = Creation {
                    email: &inv.email,
                    role: inv.role,
                    message: inv.message.as_deref(),
                    department: inv.department.as_deref(),
                };
                create_all(conn, &batch, &[creation], token_key)?;
                let details = format!(
                    "role {}; a new invitation with a fresh link (the previous one expired)",
                    inv.role
                );
                record(
                    conn,
                    ctx,
                    inv.organization_id,
                    AuditAction::InvitationResent,
                    &inv.email,
                    &details,
                    now,
                )?;
            }
        }
        Ok(Ok(plan))
    })
}

/// Whether the holder of `inv`'s link may ask for a new invitation at `now`: it has expired,
/// its inviter may still send it, no newer invitation is pending for the address (nor is it a
/// member's), and nobody asked within the last day. Reads only.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`RenewalRefused`] saying why not.
pub fn renewal_standing(
    conn: &mut Conn,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> Result<Result<(), RenewalRefused>, DbError> {
    let policy = inviter_policy(conn, inv)?;
    let newer = live_pending(conn, inv.organization_id, &inv.email)?.is_some_and(|p| {
        p.id != inv.id && p.facts.effective_status(now) == InvitationStatus::Pending
    });
    let superseded =
        newer || organizations::is_member_by_email(conn, inv.organization_id, &inv.email)?;
    Ok(check_renewal_request(
        &inv.facts,
        policy,
        superseded,
        inv.renewal_requested_at,
        now,
    ))
}

/// What "Request a new invitation" came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalRequested {
    /// The inviter was emailed now.
    Sent,
    /// Already asked within the last day, at this time; nothing was sent.
    AlreadyRequested(DateTime<Utc>),
}

/// The holder of an expired link asks its inviter for a new invitation (DESIGN.md, "Request a
/// new invitation"): at most once a day per invitation — one conditional update on
/// `renewal_requested_at` decides, so two racing requests send one email — then the email to
/// the inviter is queued and `invitation.renewal_requested` recorded as `ctx`'s, all in one
/// transaction.
///
/// # Errors
/// Outer [`DbError`] on a failed query; inner [`RenewalRefused`] when the link is not expired
/// (or its inviter may no longer send it). A repeat within the day is
/// [`RenewalRequested::AlreadyRequested`], not an error.
pub fn request_renewal(
    conn: &mut Conn,
    ctx: &AuditContext,
    details: &InvitationDetails,
    now: DateTime<Utc>,
) -> Result<Result<RenewalRequested, RenewalRefused>, DbError> {
    let inv = &details.invitation;
    super::write_transaction(conn, |conn| {
        let current = find_in_org(conn, inv.organization_id, inv.id)?
            .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
        match renewal_standing(conn, &current, now)? {
            Ok(()) => {}
            Err(RenewalRefused::AlreadyRequested { at }) => {
                return Ok(Ok(RenewalRequested::AlreadyRequested(at)));
            }
            Err(refused) => return Ok(Err(refused)),
        }
        // The once-a-day rule as one conditional update: of two racing requests, one wins.
        let window_start = to_db(now - RENEWAL_REQUEST_INTERVAL);
        let n = diesel::update(
            invitations::table.find(inv.id.to_string()).filter(
                invitations::renewal_requested_at
                    .is_null()
                    .or(invitations::renewal_requested_at.le(window_start)),
            ),
        )
        .set(invitations::renewal_requested_at.eq(Some(to_db(now))))
        .execute(conn)?;
        if n == 0 {
            let at = find_in_org(conn, inv.organization_id, inv.id)?
                .and_then(|i| i.renewal_requested_at)
                .unwrap_or(now);
            return Ok(Ok(RenewalRequested::AlreadyRequested(at)));
        }
        let inviter_email = EmailAddress::from_trusted(details.inviter_email.clone());
        let payload = serde_json::json!({
            "organization": details.organization.name,
            "organization_id": details.organization.id.to_string(),
            "requested_by": ctx.actor.label,
            "invitee_email": current.email.as_str(),
            "role": current.role.as_str(),
            "inviter_name": details.inviter_name,
            "expired_at": current.facts.expires_at.to_rfc3339(),
        })
        .to_string();
        outbox::enqueue(
            conn,
            EmailKind::RenewalRequest,
            None,
            &inviter_email,
            &payload,
            now,
        )?;
        let details = format!(
            "role {}; asked {} <{}> for a new invitation",
            current.role, details.inviter_name, details.inviter_email
        );
        record(
            conn,
            ctx,
            current.organization_id,
            AuditAction::InvitationRenewalRequested,
            &current.email,
            &details,
            now,
        )?;
        Ok(Ok(RenewalRequested::Sent))
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

/// `org`'s invitations split into (pending and unexpired, history), newest first. Pending
/// invitations past their expiry are listed in history as Expired, agreeing with what
/// acceptance enforces.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn list_for_team(
    conn: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
    history_limit: i64,
) -> Result<(Vec<InvitationListing>, Vec<InvitationListing>), DbError> {
    let rows: Vec<(InvitationRow, String)> = invitations::table
        .inner_join(users::table.on(users::id.eq(invitations::invited_by)))
        .filter(invitations::organization_id.eq(org.to_string()))
        .order(invitations::created_at.desc())
        .select((InvitationRow::as_select(), users::name))
        .load(conn)?;
    let pending_ids: Vec<String> = rows
        .iter()
        .filter(|(r, _)| r.status == "pending")
        .map(|(r, _)| r.id.clone())
        .collect();
    let mut delivery = outbox::latest_for_invitations(conn, &pending_ids)?;
    let mut pending = Vec::new();
    let mut history = Vec::new();
    for (row, inviter_name) in rows {
        let id = row.id.clone();
        let invitation = Invitation::try_from(row)?;
        if invitation.facts.effective_status(now) == InvitationStatus::Pending {
            pending.push(InvitationListing {
                invitation,
                inviter_name,
                delivery: delivery.remove(&id),
            });
        } else if (history.len() as i64) < history_limit {
            history.push(InvitationListing {
                invitation,
                inviter_name,
                delivery: None,
            });
        }
    }
    Ok((pending, history))
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
