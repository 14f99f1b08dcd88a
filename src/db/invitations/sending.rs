//! Sending: invite one or many addresses (with the re-invite rules), resend and revoke.

#![allow(clippy::wildcard_imports)]
use super::*;

use crate::domain::invitation::Existing;
pub use crate::domain::invitation::{AddressOutcome, InviteEntry};
use crate::domain::text::{Department, PersonalMessage};

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

/// What `org`'s database holds about `emails` (distinct addresses): which belong to members,
/// and the pending invitation of each (live or past its time), with two queries per 500
/// addresses.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn existing(
    conn: &mut Conn,
    org: OrganizationId,
    emails: &[&EmailAddress],
) -> Result<Existing, DbError> {
    let org_id = org.to_string();
    let mut existing = Existing::default();
    for chunk in emails.chunks(LOOKUP_CHUNK) {
        let chunk: Vec<&str> = chunk.iter().map(|e| e.as_str()).collect();
        let found: Vec<String> = crate::db::schema::memberships::table
            .inner_join(users::table.on(users::id.eq(crate::db::schema::memberships::user_id)))
            .filter(crate::db::schema::memberships::organization_id.eq(&org_id))
            .filter(users::email.eq_any(&chunk))
            .select(users::email)
            .load(conn)?;
        existing
            .members
            .extend(found.into_iter().map(EmailAddress::from_trusted));
        let rows: Vec<InvitationRow> = invitations::table
            .filter(invitations::organization_id.eq(&org_id))
            .filter(invitations::status.eq(InvitationStatus::Pending.as_str()))
            .filter(invitations::email.eq_any(&chunk))
            .select(InvitationRow::as_select())
            .load(conn)?;
        for row in rows {
            let inv = Invitation::try_from(row)?;
            let live = LivePending {
                id: inv.id,
                role: inv.role,
                facts: inv.facts,
            };
            existing.pending.insert(inv.email, live);
        }
    }
    Ok(existing)
}

/// `org`'s pending invitation to `email`, live or past its time, if any.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn live_pending(
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

/// An invitation about to be created: the address and what it is offered.
#[derive(Debug, Clone, Copy)]
pub struct Creation<'a> {
    /// The address.
    pub email: &'a EmailAddress,
    /// The role offered.
    pub role: Role,
    /// The personal message.
    pub message: Option<&'a str>,
    /// The department, carried onto the membership.
    pub department: Option<&'a str>,
}

impl<'a> From<&'a InviteEntry> for Creation<'a> {
    fn from(entry: &'a InviteEntry) -> Self {
        Creation {
            email: &entry.email,
            role: entry.role,
            message: entry.message.as_ref().map(PersonalMessage::as_str),
            department: entry.department.as_ref().map(Department::as_str),
        }
    }
}

impl<'a> From<&'a Invitation> for Creation<'a> {
    /// The same address, role, message and department again.
    fn from(inv: &'a Invitation) -> Self {
        Creation {
            email: &inv.email,
            role: inv.role,
            message: inv.message.as_deref(),
            department: inv.department.as_deref(),
        }
    }
}

/// How many rows one multi-row INSERT holds (an invitation row binds 13 parameters).
const INSERT_CHUNK: usize = 250;

/// Inserts a Pending invitation for each of `new` and queues its email, a few multi-row
/// INSERTs in all; returns their ids, in order.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn create_all(
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
        crate::db::on_backend!(&mut *conn, |c| diesel::insert_into(invitations::table)
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
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn mark_resent(
    conn: &mut Conn,
    id: InvitationId,
    email: &EmailAddress,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let window_start = to_db(now - crate::domain::invitation::RESEND_INTERVAL);
    let n = diesel::update(
        invitations::table
            .find(id.to_string())
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
        outbox::enqueue(conn, EmailKind::Invitation, Some(id), email, "{}", now)?;
    }
    Ok(n == 1)
}

/// Writes Expired onto each of `overdue` (pending invitations of `org` past their time, with
/// their addresses) that is still pending, each with its `invitation.expired` event by the
/// system; frees the one-pending-per-address index for new invitations.
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn expire_overdue(
    conn: &mut Conn,
    org: OrganizationId,
    overdue: &[(&EmailAddress, &LivePending)],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let rows: Vec<OverdueRow> = overdue
        .iter()
        .map(|(email, inv)| {
            let role = inv.role.as_str().to_owned();
            (inv.id.to_string(), org.to_string(), email.to_string(), role)
        })
        .collect();
    expire_rows(conn, rows, now)?;
    Ok(())
}

/// Moves a pending, unexpired invitation to Revoked with `reason`. Returns whether this
/// request won (false: it had reached a final state or expired meanwhile).
///
/// # Errors
/// [`DbError`] on a failed query.
pub fn revoke_pending(
    conn: &mut Conn,
    id: InvitationId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    finish(conn, id, InvitationStatus::Revoked, Some(reason), None, now)
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
    let result =
        crate::db::write_transaction(conn, |conn| -> Result<_, TxError<OverHourlyLimit>> {
            organizations::lock(conn, org)?;
            let emails: Vec<&EmailAddress> = entries.iter().map(|e| &e.email).collect();
            let mut standing = existing(conn, org, &emails)?;
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
                .overdue(now)
                .into_iter()
                .map(|(email, inv)| {
                    (
                        inv.id.to_string(),
                        org.to_string(),
                        email.to_string(),
                        inv.role.as_str().to_owned(),
                    )
                })
                .collect();
            if !overdue.is_empty() {
                for (_, _, email, _) in &overdue {
                    standing
                        .pending
                        .remove(&EmailAddress::from_trusted(email.clone()));
                }
                expire_rows(conn, overdue, now)?;
            }

            let mut outcomes = Vec::with_capacity(entries.len());
            let mut creations = Vec::new();
            let mut events: Vec<(AuditAction, &str, String)> = Vec::new();
            for entry in entries {
                let email = &entry.email;
                let role = entry.role;
                let live = standing.pending.get(email);
                let outcome = match standing.plan(email, role, inviter, now) {
                    InvitePlan::New => AddressOutcome::Sent,
                    InvitePlan::ResendExisting(_) => match live {
                        Some(inv) if mark_resent(conn, inv.id, email, now)? => {
                            let details =
                                format!("role {role}; the same link again (invited again)");
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
    crate::db::write_transaction(conn, |conn| {
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
    crate::db::write_transaction(conn, |conn| {
        let plan = match inv.facts.check_resend(now) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        match plan {
            ResendPlan::SameLink => {
                if !mark_resent(conn, inv.id, &inv.email, now)? {
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
