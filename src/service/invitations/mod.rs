//! Sending invitations: invite one or many addresses, resend, revoke, and the read behind the
//! revoke confirmation (DESIGN.md, rules 1–3, "Invitations → Behaviour", "Resend", "Revoke").
//!
//! Every operation locks the organization and reads the actor's role there
//! ([`super::acting_in`]), so a role or plan that changed while the request waited is the one
//! that counts, and two submissions are serialized. Then it reads what exists for its addresses,
//! asks `domain::invitation` what to do with each ([`plan_batch`], the re-invite rules), checks
//! the hourly limit on new invitations against what it is about to create, and writes the
//! invitations, their outbox email and their audit events in the same transaction. Acting on an
//! invitation that exists (resend, revoke, replace by inviting again) obeys the ceiling of its
//! role ([`check_acting_on`]; DESIGN.md, "Security rules").

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Acting, Actor, NoStanding, ServiceError, Services, acting_in, refuse, standing_in};
use crate::db::audit::{self, AuditContext};
use crate::db::invitations::{Creation, InviteBatch};
use crate::db::links::Ending;
use crate::db::{self, Conn, DbError};
use crate::domain::audit::AuditAction;
use crate::domain::invitation::{
    ActOnDenied, AddressOutcome, Existing, Invitation, InviteDenied, InviteEntry, InvitePlan,
    Inviter, NotPending, OverHourlyLimit, RESEND_INTERVAL, ResendError, ResendPlan, SkipReason,
    all_above_your_role, all_outside_verified_domains, authorize_invitation, check_acting_on,
    check_hourly_limit, check_sending_anew, creations, plan_batch,
};
use crate::domain::seats::{NoFreeSeats, seats_added};
use crate::domain::{EmailAddress, InvitationId, OrganizationId, Role};
use crate::service::seats::ensure_free;

mod sending;

pub(crate) use sending::Sending;
use sending::batch;

/// Which action on an existing invitation was refused by the ceiling of its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActOn {
    /// Resend it.
    Resend,
    /// Revoke it (or open the confirmation).
    Revoke,
}

impl ActOn {
    /// Completes "You cannot … Owner".
    fn doing(self) -> &'static str {
        match self {
            ActOn::Resend => "resend an invitation as",
            ActOn::Revoke => "revoke an invitation as",
        }
    }
}

/// Why an invitation was not sent, resent or revoked. `Display` is what the person is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationRefusal {
    /// The actor has no standing in the organization.
    #[error(transparent)]
    NoStanding(#[from] NoStanding),
    /// No such invitation in this organization (a foreign id is the same: never say which).
    #[error("No such invitation")]
    NotFound,
    /// Rules 1–3 refuse the role, or the plan, or the actor may not invite.
    #[error("{0}")]
    Denied(#[from] InviteDenied),
    /// The invitation's role is above the actor's own (or they may not manage invitations).
    #[error("{}", acting_on_text(*.1, .0.doing()))]
    ActOn(ActOn, ActOnDenied),
    /// Every address is outside the organization's verified domains, which it restricts
    /// invitations to: nothing was sent.
    #[error("Nothing was sent: this organization invites only addresses at its verified domains, and {} {} outside them.", .0, if *.0 == 1 { "address is" } else { "addresses are" })]
    AllOutsideVerifiedDomains(usize),
    /// Every address has a live invitation whose role is above the actor's own: nothing was
    /// sent.
    #[error("{}", nothing_sent(.0))]
    AllAboveYourRole(Vec<(EmailAddress, Role)>),
    /// The submission would take the organization past its hourly limit on new invitations;
    /// the window has room again in `retry_after` seconds.
    #[error("{over}")]
    OverHourlyLimit {
        /// The limit and the counts.
        over: OverHourlyLimit,
        /// Seconds until the window has room.
        retry_after: u64,
    },
    /// A resend of the invitation to `email` was refused.
    #[error("{}", resend_text(.email, .refused, *.retry_after))]
    Resend {
        /// The invited address.
        email: String,
        /// Why.
        refused: ResendError,
        /// For a rate limit: seconds until it may succeed.
        retry_after: u64,
    },
    /// The invitation had reached a final state (or expired): nothing to revoke.
    #[error("{0}")]
    NotPending(NotPending),
    /// The new invitations do not all fit in the organization's free seats: nothing was sent
    /// (DESIGN.md, "Access, integration": Seats).
    #[error("{0}")]
    NoFreeSeats(#[from] NoFreeSeats),
}

/// What a page says when the ceiling of an invitation's or link's role refuses `doing` (e.g.
/// "revoke an invite link for"): which role, and why.
pub fn acting_on_text(denied: ActOnDenied, doing: &str) -> String {
    match denied {
        ActOnDenied::AboveCeiling(role) => format!(
            "You cannot {doing} {role}: it is above your own role. You may act only on invitations and links at or below your role."
        ),
        ActOnDenied::NotPermitted => format!("{denied}."),
    }
}

/// "Nothing was sent: a@x (pending invitation as Owner, above your role), … and N more. …",
/// naming the first 20 addresses.
fn nothing_sent(refused: &[(EmailAddress, Role)]) -> String {
    const SHOWN: usize = 20;
    let named: Vec<String> = refused
        .iter()
        .take(SHOWN)
        .map(|(email, role)| format!("{email} ({})", SkipReason::AboveYourRole(*role)))
        .collect();
    let mut text = format!("Nothing was sent: {}", named.join(", "));
    let more = refused.len().saturating_sub(SHOWN);
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text.push_str(
        ". You may replace or resend only invitations at or below your own role; ask an Owner.",
    );
    text
}

fn resend_text(email: &str, refused: &ResendError, retry_after: u64) -> String {
    match refused {
        ResendError::TooSoon { .. } => format!(
            "The invitation to {email} was sent again less than a minute ago. You can resend it in {retry_after} seconds."
        ),
        ResendError::OverHourlyLimit(over) => format!(
            "The invitation to {email} had expired, and a new one would exceed this organization's limit of {} an hour ({} sent in the last hour). Nothing was sent; try again later.",
            over.per_hour, over.sent_last_hour
        ),
        other => other.to_string(),
    }
}

type Result<T> = std::result::Result<T, ServiceError<InvitationRefusal>>;

/// The policy's view of someone acting in an organization: staff, or a member with a role.
pub(crate) fn inviter(acting: &Acting) -> Inviter {
    if acting.as_staff {
        Inviter::Staff
    } else {
        Inviter::Member(acting.role)
    }
}

/// Seconds from `now` until `at`, at least 1 (for `Retry-After`).
pub(crate) fn seconds_until(at: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}

/// Whether creating `creating` new invitations in `org` at `now` would exceed the hourly
/// limit (`invitations_per_hour`): the refusal, with the seconds until the window has room.
/// Counted inside the transaction that writes, after the organization's lock, so concurrent
/// submissions cannot together pass it.
///
/// # Errors
/// [`DbError`] on a failed query.
pub(crate) fn over_limit(
    c: &mut Conn,
    svc: &Services,
    org: OrganizationId,
    creating: i64,
    now: DateTime<Utc>,
) -> std::result::Result<Option<(OverHourlyLimit, u64)>, DbError> {
    if creating == 0 {
        return Ok(None);
    }
    let sent_last_hour = db::invitations::created_in_last_hour(c, org, now)?;
    let per_hour = svc.settings.invitations_per_hour;
    match check_hourly_limit(sent_last_hour, creating, per_hour) {
        Ok(()) => Ok(None),
        Err(over) => Ok(Some((over, retry_after(c, org, now)?))),
    }
}

/// Seconds until `org`'s hourly window has room again (a minute when it is empty).
///
/// # Errors
/// [`DbError`] on a failed query.
pub(crate) fn retry_after(
    c: &mut Conn,
    org: OrganizationId,
    now: DateTime<Utc>,
) -> std::result::Result<u64, DbError> {
    let reopens = db::invitations::hourly_window_reopens(c, org, now)?;
    Ok(reopens.map_or(60, |at| seconds_until(at, now)))
}

/// Invites every one of `entries` (distinct addresses) into `org` as `actor` at `now`: returns
/// one outcome per entry, in order. Each entry's role is checked against rules 1–3 with the
/// actor's role now; each address follows the re-invite rules ([`plan_batch`]); the whole
/// submission is refused (nothing written) when it would exceed the hourly limit, or when
/// every address has a live invitation above the actor's role.
///
/// # Errors
/// [`InvitationRefusal`]: no standing, [`InvitationRefusal::Denied`],
/// [`InvitationRefusal::AllAboveYourRole`], [`InvitationRefusal::OverHourlyLimit`].
pub fn invite(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    entries: &[InviteEntry],
    now: DateTime<Utc>,
) -> Result<Vec<AddressOutcome>> {
    let (outcomes, _) = invite_with(svc, actor, org, entries, true, now)?;
    svc.email_queued();
    Ok(outcomes)
}

/// As [`invite`], but nothing is emailed: the caller delivers each link itself (the JSON
/// API's `"send_email": false`; the link still proves the address when followed). Returns
/// each entry's outcome with, for those sent or sent again, its invitation's link token.
///
/// # Errors
/// As [`invite`].
pub fn invite_without_email(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    entries: &[InviteEntry],
    now: DateTime<Utc>,
) -> Result<Vec<(AddressOutcome, Option<crate::domain::token::LinkToken>)>> {
    let (outcomes, nonces) = invite_with(svc, actor, org, entries, false, now)?;
    let key = &svc.settings.token_key;
    Ok(entries
        .iter()
        .zip(outcomes)
        .map(|(entry, outcome)| {
            let token = matches!(outcome, AddressOutcome::Sent | AddressOutcome::Resent)
                .then(|| nonces.get(&entry.email))
                .flatten()
                .map(|nonce| crate::domain::token::LinkToken::derive(key, nonce));
            (outcome, token)
        })
        .collect())
}

type Nonces = std::collections::HashMap<EmailAddress, crate::domain::token::TokenNonce>;

/// [`invite`]'s transaction, emailing the invitations or not; with `send_email` false, also
/// the token nonces of the entries' pending invitations afterwards.
fn invite_with(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    entries: &[InviteEntry],
    send_email: bool,
    now: DateTime<Utc>,
) -> Result<(Vec<AddressOutcome>, Nonces)> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let inviter = inviter(&acting);
        for entry in entries {
            authorize_invitation(inviter, acting.org.plan, entry.role).or_else(refuse)?;
        }
        let emails: Vec<&EmailAddress> = entries.iter().map(|e| &e.email).collect();
        let existing = existing(c, org, &emails)?;
        let requested = entries.iter().map(|e| (&e.email, e.role));
        let plans = plan_batch(&existing, requested, inviter, now);
        if all_outside_verified_domains(&plans) {
            return refuse(InvitationRefusal::AllOutsideVerifiedDomains(plans.len()));
        }
        if all_above_your_role(&plans) {
            let refused = entries.iter().zip(&plans).filter_map(|(e, p)| match p {
                InvitePlan::Skip(SkipReason::AboveYourRole(role)) => Some((e.email.clone(), *role)),
                _ => None,
            });
            return refuse(InvitationRefusal::AllAboveYourRole(refused.collect()));
        }
        // Seats: all or nothing, counted under the organization's lock.
        let adding = seats_added(&plans);
        if adding > 0 {
            ensure_free(c, &acting.org, adding, now)?;
        }
        if let Some((over, retry_after)) = over_limit(c, svc, org, creations(&plans), now)? {
            return refuse(InvitationRefusal::OverHourlyLimit { over, retry_after });
        }
        let sending = Sending::new(svc, actor, &acting, now).emailing(send_email);
        let outcomes = sending.carry_out(c, entries, &existing, &plans)?;
        let nonces = if send_email {
            Nonces::new()
        } else {
            db::invitations::pending_nonces(c, org, &emails, now)?
        };
        Ok((outcomes, nonces))
    })
}

/// What `org` holds about `emails` (members, pending invitations) and which of them its domain
/// policy refuses (`service::domains::policy`), read inside the caller's transaction.
///
/// # Errors
/// [`DbError`] on a failed query.
pub(crate) fn existing(
    c: &mut Conn,
    org: OrganizationId,
    emails: &[&EmailAddress],
) -> std::result::Result<Existing, DbError> {
    let mut existing = db::invitations::existing(c, org, emails)?;
    let policy = super::domains::policy(c, org)?;
    if policy.restricted_to.is_some() {
        existing.outside = emails
            .iter()
            .filter(|e| policy.check(e).is_err())
            .map(|e| (*e).clone())
            .collect();
    }
    Ok(existing)
}

/// `org`'s invitation `id`, for `acting`, refused unless its role is within their ceiling.
fn find_to_act_on(
    c: &mut Conn,
    acting: &Acting,
    id: InvitationId,
    act: ActOn,
) -> Result<Invitation> {
    let Some(inv) = db::invitations::find_in_org(c, acting.org.id, id)? else {
        return refuse(InvitationRefusal::NotFound);
    };
    check_acting_on(inviter(acting), inv.role)
        .or_else(|denied| refuse(InvitationRefusal::ActOn(act, denied)))?;
    Ok(inv)
}

/// A resend that happened: to whom, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resent {
    /// The invited address.
    pub email: EmailAddress,
    /// The original link again, or a new invitation (it had expired).
    pub how: ResendPlan,
}

/// Resends invitation `id` of `org` as `actor` at `now` (DESIGN.md, "Resend"): the original link
/// again while it is pending, at most once a minute; a new invitation with a fresh window once
/// it has expired (the actor becomes its inviter), unless the address has joined or has a newer
/// invitation, and within the hourly limit.
///
/// # Errors
/// [`InvitationRefusal`]: no standing, not found, the ceiling of its role
/// ([`ActOn::Resend`]), a Trial plan, or [`InvitationRefusal::Resend`] (too soon, final,
/// superseded, over the hourly limit).
pub fn resend(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: InvitationId,
    now: DateTime<Utc>,
) -> Result<Resent> {
    let mut conn = svc.conn()?;
    let resent = db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let inv = find_to_act_on(c, &acting, id, ActOn::Resend)?;
        if !acting.org.plan.allows_invitations() {
            return refuse(InviteDenied::TrialPlan);
        }
        let how = inv
            .facts
            .check_resend(now)
            .or_else(|refused| refuse_resend(c, &inv, refused, now))?;
        let ctx = acting.audit(actor);
        let details = match how {
            ResendPlan::SameLink => {
                if !db::invitations::mark_resent(c, inv.id, &inv.email, true, now)? {
                    // Resent, accepted or revoked by a racing request since it was read.
                    let after = db::invitations::find_in_org(c, org, inv.id)?
                        .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
                    let available_at = now + RESEND_INTERVAL;
                    let refused = match after.facts.check_resend(now) {
                        Err(refused) => refused,
                        Ok(_) => ResendError::TooSoon { available_at },
                    };
                    return refuse_resend(c, &inv, refused, now);
                }
                format!("role {}; the same link again", inv.role)
            }
            ResendPlan::NewInvitation => {
                send_anew(c, svc, &acting, actor, &inv, now)?;
                format!(
                    "role {}; a new invitation with a fresh link (the previous one expired)",
                    inv.role
                )
            }
        };
        let action = AuditAction::InvitationResent;
        let target = Some(inv.email.as_str());
        audit::record(c, &ctx, Some(org), action, target, Some(&details), now)?;
        Ok(Resent {
            email: inv.email,
            how,
        })
    })?;
    svc.email_queued();
    Ok(resent)
}

/// A new invitation in place of the expired `inv`, if its address has not joined or been
/// invited again, and within the hourly limit.
fn send_anew(
    c: &mut Conn,
    svc: &Services,
    acting: &Acting,
    actor: &Actor,
    inv: &Invitation,
    now: DateTime<Utc>,
) -> Result<()> {
    let org = acting.org.id;
    db::invitations::expire_if_overdue(c, org, &inv.email, now)?;
    let joined = db::organizations::is_member_by_email(c, org, &inv.email)?;
    let newer = db::invitations::live_pending(c, org, &inv.email)?.is_some();
    let sent_last_hour = db::invitations::created_in_last_hour(c, org, now)?;
    let per_hour = svc.settings.invitations_per_hour;
    check_sending_anew(joined, newer, sent_last_hour, per_hour)
        .or_else(|refused| refuse_resend(c, inv, refused, now))?;
    // The expired invitation freed its seat; the new one needs one.
    ensure_free(c, &acting.org, 1, now)?;
    let batch = batch(svc, actor, org, now);
    let key = &svc.settings.token_key;
    db::invitations::create_all(c, &batch, &[Creation::from(inv)], key)?;
    Ok(())
}

/// Refuses a resend of `inv` for `refused`, with the seconds a rate limit asks to wait.
fn refuse_resend<T>(
    c: &mut Conn,
    inv: &Invitation,
    refused: ResendError,
    now: DateTime<Utc>,
) -> Result<T> {
    let retry_after = match refused {
        ResendError::TooSoon { available_at } => seconds_until(available_at, now),
        ResendError::OverHourlyLimit(_) => retry_after(c, inv.organization_id, now)?,
        ResendError::Final(_) | ResendError::Superseded => 0,
    };
    refuse(InvitationRefusal::Resend {
        email: inv.email.to_string(),
        refused,
        retry_after,
    })
}

/// Invitation `id` of `org` as the revoke confirmation shows it, if `actor` may revoke it.
/// Reads only.
///
/// # Errors
/// [`InvitationRefusal`]: no standing, not found, or the ceiling of its role.
pub fn to_revoke(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: InvitationId,
) -> Result<Invitation> {
    let mut conn = svc.conn()?;
    let standing = standing_in(&mut conn, org, actor)?;
    find_to_act_on(&mut conn, &standing, id, ActOn::Revoke)
}

/// Revokes invitation `id` of `org` as `actor` at `now` (DESIGN.md, "Revoke": its link stops
/// working at once); returns its address. The history records "revoked by {name}".
///
/// # Errors
/// [`InvitationRefusal`]: no standing, not found, the ceiling of its role, or
/// [`InvitationRefusal::NotPending`] when it had already reached a final state or expired.
pub fn revoke(
    svc: &Services,
    actor: &Actor,
    org: OrganizationId,
    id: InvitationId,
    now: DateTime<Utc>,
) -> Result<EmailAddress> {
    let mut conn = svc.conn()?;
    db::write_transaction(&mut conn, |c| {
        let acting = acting_in(c, org, actor)?;
        let inv = find_to_act_on(c, &acting, id, ActOn::Revoke)?;
        inv.facts
            .check_revoke(now)
            .or_else(|e| refuse(InvitationRefusal::NotPending(e)))?;
        let reason = format!("revoked by {}", actor.user.name);
        if !db::invitations::end(c, inv.id, Ending::Revoked(&reason), now)? {
            // Accepted or declined by a racing request since it was read.
            let after = db::invitations::find_in_org(c, org, inv.id)?
                .ok_or_else(|| DbError::Corrupt("invitation vanished".into()))?;
            let now_status = after.facts.effective_status(now);
            return refuse(InvitationRefusal::NotPending(NotPending(now_status)));
        }
        let details = format!("role {}; {reason}", inv.role);
        let (action, target) = (AuditAction::InvitationRevoked, Some(inv.email.as_str()));
        audit::record(
            c,
            &acting.audit(actor),
            Some(org),
            action,
            target,
            Some(&details),
            now,
        )?;
        Ok(inv.email)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::invitations;
    use crate::domain::{InvitationStatus, Plan};
    use crate::service::testing::{Fixture, actor};
    use chrono::Duration;
    use diesel::prelude::*;

    fn refusal<T: std::fmt::Debug>(r: Result<T>) -> InvitationRefusal {
        match r {
            Err(ServiceError::Refused(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn entry(email: &str, role: Role) -> InviteEntry {
        InviteEntry {
            email: EmailAddress::parse(email).unwrap(),
            role,
            message: None,
            department: None,
        }
    }

    fn invite_as(
        f: &Fixture,
        who: &Actor,
        org: OrganizationId,
        at: DateTime<Utc>,
        wanted: &[(&str, Role)],
    ) -> Result<Vec<AddressOutcome>> {
        let entries: Vec<InviteEntry> = wanted.iter().map(|(e, r)| entry(e, *r)).collect();
        invite(&f.svc, who, org, &entries, at)
    }

    /// (email, role, status) of every invitation of `org`, oldest first.
    fn stored(f: &Fixture, org: OrganizationId) -> Vec<(String, String, String)> {
        f.with(|c| {
            Ok(invitations::table
                .filter(invitations::organization_id.eq(org.to_string()))
                .order((invitations::created_at.asc(), invitations::email.asc()))
                .select((invitations::email, invitations::role, invitations::status))
                .load(c)?)
        })
    }

    fn id_of(f: &Fixture, org: OrganizationId, email: &str) -> InvitationId {
        let id: String = f.with(|c| {
            Ok(invitations::table
                .filter(invitations::organization_id.eq(org.to_string()))
                .filter(invitations::email.eq(email))
                .order(invitations::created_at.desc())
                .select(invitations::id)
                .first(c)?)
        });
        id.parse().unwrap()
    }

    /// A fixture with Acme (Starter) and its Owner.
    fn acme() -> (Fixture, OrganizationId, Actor) {
        let f = Fixture::new();
        let (org, owner) = f.org_with_owner("Acme", Plan::Starter);
        (f, org, owner)
    }

    #[test]
    fn a_member_is_skipped_and_a_new_address_is_sent_with_its_email() {
        let (f, org, owner) = acme();
        f.member(org, "pat@acme.test", Role::Viewer);
        let both = [
            ("pat@acme.test", Role::Editor),
            ("new@example.com", Role::Editor),
        ];
        let outcomes = invite_as(&f, &owner, org, f.now, &both).unwrap();
        assert_eq!(
            outcomes,
            [
                AddressOutcome::Skipped(SkipReason::AlreadyMember),
                AddressOutcome::Sent
            ]
        );
        assert_eq!(
            stored(&f, org),
            [("new@example.com".into(), "editor".into(), "pending".into())]
        );
        assert_eq!(f.audit_actions(org), ["invitation.sent"]);
        let queued: i64 = f.with(|c| {
            use crate::db::schema::outbox_emails;
            Ok(outbox_emails::table.count().get_result(c)?)
        });
        assert_eq!(
            queued, 1,
            "the invitation and its email are written together"
        );
    }

    #[test]
    fn the_same_role_sends_the_same_link_again_and_another_role_replaces_it() {
        let (f, org, owner) = acme();
        let ann = [("ann@example.com", Role::Editor)];
        invite_as(&f, &owner, org, f.now, &ann).unwrap();
        let later = f.now + Duration::minutes(2);
        assert_eq!(
            invite_as(&f, &owner, org, later, &ann).unwrap(),
            [AddressOutcome::Resent]
        );
        // Within the minute: skipped, nothing queued again.
        assert_eq!(
            invite_as(&f, &owner, org, later + Duration::seconds(30), &ann).unwrap(),
            [AddressOutcome::Skipped(SkipReason::ResentRecently)]
        );
        assert_eq!(
            stored(&f, org).len(),
            1,
            "the same invitation, its link again"
        );
        let (as_viewer, after) = ([("ann@example.com", Role::Viewer)], later + RESEND_INTERVAL);
        let replaced = invite_as(&f, &owner, org, after, &as_viewer);
        assert_eq!(replaced.unwrap(), [AddressOutcome::Sent]);
        assert_eq!(
            stored(&f, org),
            [
                ("ann@example.com".into(), "editor".into(), "revoked".into()),
                ("ann@example.com".into(), "viewer".into(), "pending".into()),
            ]
        );
        assert_eq!(
            f.audit_actions(org),
            [
                "invitation.sent",
                "invitation.resent",
                "invitation.revoked",
                "invitation.sent"
            ]
        );
    }

    #[test]
    fn rule_1_the_role_ceiling_holds_with_the_role_read_under_the_lock() {
        let (f, org, _) = acme();
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        let as_owner = [("x@example.com", Role::Owner)];
        let above = refusal(invite_as(&f, &admin, org, f.now, &as_owner));
        assert_eq!(
            above,
            InvitationRefusal::Denied(InviteDenied::AboveCeiling(Role::Owner))
        );
        // Demoted by another request after the form was shown.
        f.set_role(org, &admin, Role::Viewer);
        let as_viewer = [("x@example.com", Role::Viewer)];
        let demoted = refusal(invite_as(&f, &admin, org, f.now, &as_viewer));
        assert_eq!(
            demoted,
            InvitationRefusal::Denied(InviteDenied::NotPermitted)
        );
        assert!(stored(&f, org).is_empty());
    }

    #[test]
    fn acting_on_an_invitation_obeys_the_ceiling_of_its_role() {
        let (f, org, owner) = acme();
        let admin = f.member(org, "admin@acme.test", Role::Admin);
        invite_as(&f, &owner, org, f.now, &[("boss@example.com", Role::Owner)]).unwrap();
        let id = id_of(&f, org, "boss@example.com");
        let above = ActOnDenied::AboveCeiling(Role::Owner);
        assert_eq!(
            refusal(resend(&f.svc, &admin, org, id, f.now)),
            InvitationRefusal::ActOn(ActOn::Resend, above)
        );
        assert_eq!(
            refusal(to_revoke(&f.svc, &admin, org, id)),
            InvitationRefusal::ActOn(ActOn::Revoke, above)
        );
        assert_eq!(
            refusal(revoke(&f.svc, &admin, org, id, f.now)),
            InvitationRefusal::ActOn(ActOn::Revoke, above)
        );
        // Inviting the address again would replace it: refused as a whole when it is all
        // there is, skipped beside others.
        let again = [("boss@example.com", Role::Viewer)];
        let all_above = refusal(invite_as(&f, &admin, org, f.now, &again));
        assert_eq!(
            all_above,
            InvitationRefusal::AllAboveYourRole(vec![(
                EmailAddress::parse("boss@example.com").unwrap(),
                Role::Owner
            )])
        );
        assert!(all_above.to_string().starts_with(
            "Nothing was sent: boss@example.com (pending invitation as Owner, above your role)."
        ));
        let both = [
            ("boss@example.com", Role::Viewer),
            ("new@example.com", Role::Viewer),
        ];
        let mixed = invite_as(&f, &admin, org, f.now, &both);
        assert_eq!(
            mixed.unwrap(),
            [
                AddressOutcome::Skipped(SkipReason::AboveYourRole(Role::Owner)),
                AddressOutcome::Sent
            ]
        );
        assert_eq!(
            stored(&f, org)[0].2,
            "pending",
            "the Owner invitation is untouched"
        );
        // Staff act as Owners.
        let staff = actor(f.user("staff@joinery.test", "Sam", true));
        assert_eq!(to_revoke(&f.svc, &staff, org, id).unwrap().id, id);
    }

    #[test]
    fn rule_3_a_trial_organization_cannot_invite_or_resend() {
        let (f, org, owner) = acme();
        invite_as(&f, &owner, org, f.now, &[("ann@example.com", Role::Viewer)]).unwrap();
        f.with(|c| db::organizations::set_plan(c, org, Plan::Trial));
        let bo = [("bo@example.com", Role::Viewer)];
        let trial = refusal(invite_as(&f, &owner, org, f.now, &bo));
        assert_eq!(trial, InvitationRefusal::Denied(InviteDenied::TrialPlan));
        let id = id_of(&f, org, "ann@example.com");
        let resending = refusal(resend(&f.svc, &owner, org, id, f.now));
        assert_eq!(resending, trial);
        assert_eq!(resending.to_string(), Plan::TRIAL_MESSAGE);
    }

    #[test]
    fn the_hourly_limit_counts_new_invitations_and_serializes_two_submissions() {
        let (mut f, org, owner) = acme();
        let mut settings = (*f.svc.settings).clone();
        settings.invitations_per_hour = 3;
        f.svc.settings = std::sync::Arc::new(settings);
        let other_owner = f.member(org, "other@acme.test", Role::Owner);
        // Two submissions of two at the same moment: the organization's lock makes the second
        // wait for the first, and it then counts the first's invitations.
        let first = [
            ("a@example.com", Role::Viewer),
            ("b@example.com", Role::Viewer),
        ];
        let second = [
            ("c@example.com", Role::Viewer),
            ("d@example.com", Role::Viewer),
        ];
        invite_as(&f, &owner, org, f.now, &first).unwrap();
        let over = refusal(invite_as(&f, &other_owner, org, f.now, &second));
        let InvitationRefusal::OverHourlyLimit { over, retry_after } = over else {
            panic!("expected the hourly limit, got {over:?}");
        };
        assert_eq!(
            (over.per_hour, over.sent_last_hour, over.creating),
            (3, 2, 2)
        );
        assert_eq!(
            retry_after, 3_600,
            "the window has room when the first turns an hour old"
        );
        assert_eq!(
            stored(&f, org).len(),
            2,
            "a refused submission writes nothing"
        );
        // The same link again creates nothing and always passes.
        let later = f.now + Duration::minutes(2);
        assert_eq!(
            invite_as(&f, &owner, org, later, &first).unwrap(),
            [AddressOutcome::Resent, AddressOutcome::Resent]
        );
        invite_as(&f, &owner, org, later, &second[..1]).unwrap();
        assert_eq!(stored(&f, org).len(), 3);
    }

    #[test]
    fn resend_sends_the_same_link_at_most_once_a_minute() {
        let (f, org, owner) = acme();
        invite_as(&f, &owner, org, f.now, &[("ann@example.com", Role::Viewer)]).unwrap();
        let id = id_of(&f, org, "ann@example.com");
        let resent = resend(&f.svc, &owner, org, id, f.now).unwrap();
        assert_eq!(resent.how, ResendPlan::SameLink);
        let soon = f.now + Duration::seconds(20);
        let too_soon = refusal(resend(&f.svc, &owner, org, id, soon));
        assert!(
            matches!(
                too_soon,
                InvitationRefusal::Resend {
                    refused: ResendError::TooSoon { .. },
                    retry_after: 40,
                    ..
                }
            ),
            "{too_soon:?}"
        );
        assert_eq!(
            too_soon.to_string(),
            "The invitation to ann@example.com was sent again less than a minute ago. You can resend it in 40 seconds."
        );
        let minute = f.now + RESEND_INTERVAL;
        assert_eq!(
            resend(&f.svc, &owner, org, id, minute).unwrap().how,
            ResendPlan::SameLink
        );
        assert_eq!(stored(&f, org).len(), 1);
    }

    #[test]
    fn an_expired_invitation_is_resent_as_a_new_one_unless_superseded() {
        let (f, org, owner) = acme();
        let ann = [("ann@example.com", Role::Viewer)];
        invite_as(&f, &owner, org, f.now, &ann).unwrap();
        let id = id_of(&f, org, "ann@example.com");
        let expired = f.now + f.svc.settings.invitation_ttl;
        assert_eq!(
            resend(&f.svc, &owner, org, id, expired).unwrap().how,
            ResendPlan::NewInvitation
        );
        assert_eq!(
            stored(&f, org),
            [
                ("ann@example.com".into(), "viewer".into(), "expired".into()),
                ("ann@example.com".into(), "viewer".into(), "pending".into()),
            ]
        );
        // The old one again: the address has a newer invitation now.
        assert!(matches!(
            refusal(resend(&f.svc, &owner, org, id, expired)),
            InvitationRefusal::Resend {
                refused: ResendError::Superseded,
                ..
            }
        ));
    }

    #[test]
    fn final_states_refuse_resend_and_revoke_and_foreign_ids_are_not_found() {
        let (f, org, owner) = acme();
        invite_as(&f, &owner, org, f.now, &[("ann@example.com", Role::Viewer)]).unwrap();
        let id = id_of(&f, org, "ann@example.com");
        let email = revoke(&f.svc, &owner, org, id, f.now).unwrap();
        assert_eq!(email.as_str(), "ann@example.com");
        let again = refusal(revoke(&f.svc, &owner, org, id, f.now));
        assert_eq!(
            again,
            InvitationRefusal::NotPending(NotPending(InvitationStatus::Revoked))
        );
        assert!(matches!(
            refusal(resend(&f.svc, &owner, org, id, f.now)),
            InvitationRefusal::Resend {
                refused: ResendError::Final(InvitationStatus::Revoked),
                ..
            }
        ));
        assert_eq!(
            f.audit_actions(org),
            ["invitation.sent", "invitation.revoked"]
        );
        let (globex, stranger) = {
            let org = f.org("Globex", Plan::Starter);
            (org, f.member(org, "owner@globex.test", Role::Owner))
        };
        assert_eq!(
            refusal(resend(&f.svc, &stranger, globex, id, f.now)),
            InvitationRefusal::NotFound
        );
        assert_eq!(
            refusal(revoke(&f.svc, &stranger, org, id, f.now)),
            InvitationRefusal::NoStanding(NoStanding::NotAMember)
        );
    }
}
