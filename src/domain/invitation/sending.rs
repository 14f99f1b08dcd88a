//! Who may send which invitation, and what inviting an address does given what it already
//! has (DESIGN.md, rules 1-3 and "Invitations → Behaviour").

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::*;
use crate::domain::plan::Plan;
use crate::domain::role::{Permission, Role};
use crate::domain::text::{Department, PersonalMessage};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inviter {
    /// A member of the organization with this role.
    Member(Role),
    /// Platform staff, who act as an Owner would (rule 6).
    Staff,
}

impl Inviter {
    /// The role they act with: their own, or Owner for staff.
    pub fn role(self) -> Role {
        match self {
            Inviter::Member(role) => role,
            Inviter::Staff => Role::Owner,
        }
    }
}

/// Why someone may not send an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteDenied {
    /// Rule 2: the inviter lacks `users:invite`.
    #[error("You do not have permission to invite people to this organization")]
    NotPermitted,
    /// Rule 3: the organization is on the Trial plan.
    #[error("Team invitations are available on paid plans")]
    TrialPlan,
    /// Rule 1: the role is above the inviter's ceiling.
    #[error("You cannot invite someone as {0}: you may only assign roles at or below your own")]
    AboveCeiling(Role),
}

/// Rules 1–3 for one invitation: `inviter` may invite into an organization on `plan` with
/// `role`. The same check runs for resends and the invite dialog's role list.
///
/// # Errors
/// [`InviteDenied`] naming the rule that refused it, checked in the order 2, 3, 1.
pub fn authorize_invitation(inviter: Inviter, plan: Plan, role: Role) -> Result<(), InviteDenied> {
    let inviter_role = inviter.role();
    if !inviter_role.has(Permission::UsersInvite) {
        return Err(InviteDenied::NotPermitted);
    }
    if !plan.allows_invitations() {
        return Err(InviteDenied::TrialPlan);
    }
    if !inviter_role.may_assign(role) {
        return Err(InviteDenied::AboveCeiling(role));
    }
    Ok(())
}

/// Why someone may not act on an existing invitation or invite link (resend, revoke, replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ActOnDenied {
    /// Rule 2: the actor lacks `users:invite`.
    #[error("You do not have permission to manage invitations in this organization")]
    NotPermitted,
    /// Rule 1: its role is above the actor's own.
    #[error(
        "It is for the {0} role, above your own role: you may act only on invitations and links at or below your role"
    )]
    AboveCeiling(Role),
}

/// Rule 1 for what exists already: `actor` may resend, revoke or replace (by inviting the
/// address again) an invitation, or revoke an invite link, whose role is `role` only if they
/// hold `users:invite` and could have given that role themselves (DESIGN.md, "Security
/// rules": "Acting on an invitation or link (resend, revoke, re-invite) obeys the role ceiling
/// of its role"). An Admin may not touch an Owner's invitation; staff and Owners may act on
/// any.
///
/// # Errors
/// [`ActOnDenied`] naming the rule.
pub fn check_acting_on(actor: Inviter, role: Role) -> Result<(), ActOnDenied> {
    let own = actor.role();
    if !own.has(Permission::UsersInvite) {
        return Err(ActOnDenied::NotPermitted);
    }
    if !own.may_assign(role) {
        return Err(ActOnDenied::AboveCeiling(role));
    }
    Ok(())
}

/// A live (pending, unexpired) invitation already addressed to someone being invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePending {
    /// Its id.
    pub id: InvitationId,
    /// Its role.
    pub role: Role,
    /// Its status, expiry and last resend.
    pub facts: InvitationFacts,
}

/// Why an address in an invite submission was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// The address belongs to a member already.
    #[error("already a member")]
    AlreadyMember,
    /// Pending with the same role and resent less than a minute ago.
    #[error("invitation sent again less than a minute ago")]
    ResentRecently,
    /// Its live invitation has a role above the inviter's own, so they may neither replace
    /// nor resend it ([`check_acting_on`]).
    #[error("pending invitation as {0}, above your role")]
    AboveYourRole(Role),
    /// The organization invites only addresses at its verified domains, and this one is not
    /// (DESIGN.md, "Verified domains").
    #[error("outside this organization's verified domains")]
    OutsideVerifiedDomains,
}

/// What inviting one address will do (DESIGN.md, "Inviting an address that already has a live
/// pending invitation").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitePlan {
    /// No live invitation: create one.
    New,
    /// A live invitation with the same role: send its original link again.
    ResendExisting(InvitationId),
    /// A live invitation with another role: revoke it (reason: replaced) and create a new one.
    ReplaceExisting(InvitationId),
    /// Nothing to send.
    Skip(SkipReason),
}

/// Plans the invitation of one address with `role` at `now` by `inviter`, given whether it
/// belongs to a member and its live pending invitation, if any. A live invitation whose role
/// is above the inviter's own is neither replaced nor resent ([`check_acting_on`]).
pub fn plan_invitation(
    is_member: bool,
    live: Option<LivePending>,
    role: Role,
    inviter: Inviter,
    now: DateTime<Utc>,
) -> InvitePlan {
    if is_member {
        return InvitePlan::Skip(SkipReason::AlreadyMember);
    }
    match live {
        Some(p) if p.facts.effective_status(now) == InvitationStatus::Pending => {
            if check_acting_on(inviter, p.role).is_err() {
                InvitePlan::Skip(SkipReason::AboveYourRole(p.role))
            } else if p.role != role {
                InvitePlan::ReplaceExisting(p.id)
            } else if p.facts.resend_available_at(now).is_some() {
                InvitePlan::Skip(SkipReason::ResentRecently)
            } else {
                InvitePlan::ResendExisting(p.id)
            }
        }
        _ => InvitePlan::New,
    }
}

/// A submission would take an organization past its hourly limit on new invitations. `Display`
/// is the message the form shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct OverHourlyLimit {
    /// The limit: new invitations per organization per hour.
    pub per_hour: i64,
    /// New invitations the organization created in the last hour.
    pub sent_last_hour: i64,
    /// New invitations the submission would create.
    pub creating: i64,
}

impl std::fmt::Display for OverHourlyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let invitations = |n: i64| if n == 1 { "invitation" } else { "invitations" };
        write!(
            f,
            "Sending this would create {} new {}, but this organization may send at most {} {} an hour and has sent {} in the last hour. Try again later, or send fewer.",
            self.creating,
            invitations(self.creating),
            self.per_hour,
            invitations(self.per_hour),
            self.sent_last_hour
        )
    }
}

/// Checks the per-organization limit on new invitations (DESIGN.md, security rules: "rate
/// limits on … invitations sent per organization"): an organization that created
/// `sent_last_hour` invitations in the last hour may create `creating` more if the sum stays
/// within `per_hour`. Only new invitations count — an address that is skipped or gets its
/// original link again creates nothing — so a submission that creates none always passes.
///
/// # Errors
/// [`OverHourlyLimit`] when the sum would exceed `per_hour`.
pub fn check_hourly_limit(
    sent_last_hour: i64,
    creating: i64,
    per_hour: i64,
) -> Result<(), OverHourlyLimit> {
    if creating > 0 && sent_last_hour.saturating_add(creating) > per_hour {
        return Err(OverHourlyLimit {
            per_hour,
            sent_last_hour,
            creating,
        });
    }
    Ok(())
}

impl InvitePlan {
    /// Whether carrying out this plan creates a new invitation (what the hourly limit counts).
    pub fn creates(self) -> bool {
        matches!(self, InvitePlan::New | InvitePlan::ReplaceExisting(_))
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
    /// The role offered (authorized by [`authorize_invitation`]).
    pub role: Role,
    /// The optional personal message.
    pub message: Option<PersonalMessage>,
    /// The optional department, carried onto the membership on acceptance.
    pub department: Option<Department>,
}

/// What the database holds about the addresses of a submission: which belong to members, and
/// the pending invitation of each (live, or past its time but not yet written Expired).
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// Addresses that belong to members of the organization.
    pub members: HashSet<EmailAddress>,
    /// The pending invitation of each address that has one.
    pub pending: HashMap<EmailAddress, LivePending>,
    /// Addresses the organization may not invite: it invites only addresses at its verified
    /// domains, and these are elsewhere (`domain::verified_domain::DomainPolicy`).
    pub outside: HashSet<EmailAddress>,
}

impl Existing {
    /// The pending invitations past their time at `now`, with their addresses: they are to be
    /// written Expired before new invitations to the same addresses are created (only one
    /// pending invitation per address is stored).
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<(&EmailAddress, &LivePending)> {
        self.pending
            .iter()
            .filter(|(_, p)| p.facts.expires_at <= now)
            .collect()
    }

    /// The plan for inviting `email` with `role` ([`plan_invitation`]).
    pub fn plan(
        &self,
        email: &EmailAddress,
        role: Role,
        inviter: Inviter,
        now: DateTime<Utc>,
    ) -> InvitePlan {
        let is_member = self.members.contains(email);
        if !is_member && self.outside.contains(email) {
            return InvitePlan::Skip(SkipReason::OutsideVerifiedDomains);
        }
        plan_invitation(
            is_member,
            self.pending.get(email).copied(),
            role,
            inviter,
            now,
        )
    }
}

/// Plans a whole submission (DESIGN.md, "Inviting an address that already has a live pending
/// invitation"): for each `(address, role)` of `requested`, in order, what inviting it by
/// `inviter` at `now` does given what `existing` holds. The addresses are distinct.
pub fn plan_batch<'a>(
    existing: &Existing,
    requested: impl IntoIterator<Item = (&'a EmailAddress, Role)>,
    inviter: Inviter,
    now: DateTime<Utc>,
) -> Vec<InvitePlan> {
    requested
        .into_iter()
        .map(|(email, role)| existing.plan(email, role, inviter, now))
        .collect()
}

/// Whether a submission must be refused as a whole because every address is outside the
/// organization's verified domains, which it restricts invitations to: nothing would be sent
/// (issue "Who may get in" §2: "a submission whose every address is outside is refused").
pub fn all_outside_verified_domains(plans: &[InvitePlan]) -> bool {
    !plans.is_empty()
        && plans
            .iter()
            .all(|p| matches!(p, InvitePlan::Skip(SkipReason::OutsideVerifiedDomains)))
}

/// How many new invitations carrying out `plans` creates (what the hourly limit counts).
pub fn creations(plans: &[InvitePlan]) -> i64 {
    plans.iter().filter(|p| p.creates()).count() as i64
}

/// Whether a submission must be refused as a whole by the role ceiling: every address was
/// skipped because its live invitation's role is above the inviter's own, so nothing would be
/// sent (DESIGN.md, "Security rules": re-inviting obeys the ceiling of the invitation's role).
pub fn all_above_your_role(plans: &[InvitePlan]) -> bool {
    !plans.is_empty()
        && plans
            .iter()
            .all(|p| matches!(p, InvitePlan::Skip(SkipReason::AboveYourRole(_))))
}

impl InvitePlan {
    /// What the address came to when carrying out this plan found its invitation no longer
    /// pending: accepted (acceptance does not take the organization's lock), resent or
    /// revoked by a racing request since it was read. `is_member` says whether the address
    /// belongs to a member now. A lost resend sends nothing; a lost replacement still sends the
    /// new invitation unless the address has joined.
    pub fn outcome_when_lost(self, is_member: bool) -> AddressOutcome {
        match self {
            _ if is_member => AddressOutcome::Skipped(SkipReason::AlreadyMember),
            InvitePlan::ResendExisting(_) => AddressOutcome::Skipped(SkipReason::ResentRecently),
            InvitePlan::New | InvitePlan::ReplaceExisting(_) => AddressOutcome::Sent,
            InvitePlan::Skip(reason) => AddressOutcome::Skipped(reason),
        }
    }
}

/// Whether an expired invitation may be sent anew (DESIGN.md, "Resend": a new invitation with
/// a fresh window): not when its address has joined or has a newer live invitation, nor when
/// one more invitation would take the organization past its hourly limit
/// ([`check_hourly_limit`]).
///
/// # Errors
/// [`ResendError::Superseded`] or [`ResendError::OverHourlyLimit`].
pub fn check_sending_anew(
    is_member: bool,
    has_live_invitation: bool,
    sent_last_hour: i64,
    per_hour: i64,
) -> Result<(), ResendError> {
    if is_member || has_live_invitation {
        return Err(ResendError::Superseded);
    }
    check_hourly_limit(sent_last_hour, 1, per_hour).map_err(ResendError::OverHourlyLimit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn live(role: Role, expires_in: Duration) -> LivePending {
        LivePending {
            id: InvitationId::new(),
            role,
            facts: InvitationFacts {
                status: InvitationStatus::Pending,
                expires_at: now() + expires_in,
                last_resent_at: None,
            },
        }
    }

    #[test]
    fn a_batch_is_planned_address_by_address_from_what_exists() {
        let (member, same, other, overdue, fresh) = (
            email("member@example.com"),
            email("same@example.com"),
            email("other@example.com"),
            email("overdue@example.com"),
            email("fresh@example.com"),
        );
        let (same_inv, other_inv, overdue_inv) = (
            live(Role::Editor, Duration::days(1)),
            live(Role::Editor, Duration::days(1)),
            live(Role::Editor, Duration::zero()),
        );
        let existing = Existing {
            members: HashSet::from([member.clone()]),
            pending: HashMap::from([
                (same.clone(), same_inv),
                (other.clone(), other_inv),
                (overdue.clone(), overdue_inv),
            ]),
            outside: HashSet::new(),
        };
        let requested = [
            (&member, Role::Editor),
            (&same, Role::Editor),
            (&other, Role::Admin),
            (&overdue, Role::Editor),
            (&fresh, Role::Viewer),
        ];
        let plans = plan_batch(&existing, requested, Inviter::Member(Role::Owner), now());
        assert_eq!(
            plans,
            [
                InvitePlan::Skip(SkipReason::AlreadyMember),
                InvitePlan::ResendExisting(same_inv.id),
                InvitePlan::ReplaceExisting(other_inv.id),
                InvitePlan::New,
                InvitePlan::New,
            ]
        );
        assert_eq!(creations(&plans), 3);
        let overdue_now: Vec<_> = existing
            .overdue(now())
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        assert_eq!(overdue_now, [&overdue]);
    }

    #[test]
    fn a_batch_of_only_invitations_above_the_inviters_role_is_refused_as_a_whole() {
        let above = InvitePlan::Skip(SkipReason::AboveYourRole(Role::Owner));
        assert!(all_above_your_role(&[above, above]));
        assert!(!all_above_your_role(&[above, InvitePlan::New]));
        assert!(!all_above_your_role(&[
            above,
            InvitePlan::Skip(SkipReason::AlreadyMember)
        ]));
        assert!(!all_above_your_role(&[]));
    }

    #[test]
    fn a_plan_that_lost_its_invitation_to_a_racing_request() {
        let id = InvitationId::new();
        let member = AddressOutcome::Skipped(SkipReason::AlreadyMember);
        assert_eq!(
            InvitePlan::ResendExisting(id).outcome_when_lost(true),
            member
        );
        assert_eq!(
            InvitePlan::ResendExisting(id).outcome_when_lost(false),
            AddressOutcome::Skipped(SkipReason::ResentRecently)
        );
        assert_eq!(
            InvitePlan::ReplaceExisting(id).outcome_when_lost(true),
            member
        );
        assert_eq!(
            InvitePlan::ReplaceExisting(id).outcome_when_lost(false),
            AddressOutcome::Sent
        );
    }

    #[test]
    fn an_expired_invitation_is_sent_anew_unless_superseded_or_over_the_limit() {
        assert_eq!(check_sending_anew(false, false, 9, 10), Ok(()));
        assert_eq!(
            check_sending_anew(true, false, 0, 10),
            Err(ResendError::Superseded)
        );
        assert_eq!(
            check_sending_anew(false, true, 0, 10),
            Err(ResendError::Superseded)
        );
        assert_eq!(
            check_sending_anew(false, false, 10, 10),
            Err(ResendError::OverHourlyLimit(OverHourlyLimit {
                per_hour: 10,
                sent_last_hour: 10,
                creating: 1
            }))
        );
    }
}
