//! Acceptance: accept (as a signed-in or new account), decline, the inviter-policy check that
//! revokes a lapsed invitation, and "Request a new invitation".

#![allow(clippy::wildcard_imports)]
use super::*;

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
    crate::db::write_transaction(conn, |conn| {
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
        let revoked = crate::db::write_transaction(conn, |conn| {
            revoke_if_inviter_lapsed(conn, &signed_out, inv, now)
        })?;
        if let Some(why) = revoked {
            return Ok(Some(RegistrationBlocked::Unusable(why)));
        }
    }
    if crate::db::users::email_exists(conn, &inv.email)? {
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
    let result = crate::db::write_transaction(conn, |conn| -> Result<_, TxError<AcceptError>> {
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
        if crate::db::users::email_exists(conn, &inv.email)? {
            return Ok(Ok(None));
        }
        let id = crate::db::users::insert(conn, &inv.email, name, password_hash, false, now)?;
        let user = crate::db::users::find(conn, id)?
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
    crate::db::write_transaction(conn, |conn| {
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
    crate::db::write_transaction(conn, |conn| {
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
